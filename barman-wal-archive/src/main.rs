//! `barman-wal-archive`: not available yet in this release.
fn main() {
    eprintln!("ERROR: barman-wal-archive is not implemented yet in this release");
    std::process::exit(2);
}
