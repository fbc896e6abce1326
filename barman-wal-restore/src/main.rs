//! `barman-wal-restore`: not available yet in this release.
fn main() {
    eprintln!("ERROR: barman-wal-restore is not implemented yet in this release");
    std::process::exit(2);
}
