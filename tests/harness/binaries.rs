//! Finds the workspace's built binaries (`barman`, `barman-wal-archive`,
//! `barman-wal-restore`). Cargo only exposes `CARGO_BIN_EXE_*` for a package's own
//! binaries, and these belong to other packages, so they are looked up in the target
//! directory the test executable itself was built into.

use std::path::PathBuf;

/// The directory cargo put this profile's binaries in (`target/<profile>`).
pub fn binaries_dir() -> PathBuf {
    let test_executable = std::env::current_exe().expect("the path of the test executable");
    // Test executables live in `target/<profile>/deps/`.
    test_executable
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable to be inside target/<profile>/deps")
        .to_path_buf()
}

/// The path of the built binary `name`; panics with the command to run if it is missing.
pub fn built_binary(name: &str) -> PathBuf {
    let path = binaries_dir().join(name);
    assert!(
        path.is_file(),
        "the `{name}` binary was not found at {}: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}
