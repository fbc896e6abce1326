//! Running helper programs (initdb, pg_ctl, psql, ssh-keygen, useradd) whose failure
//! means the test environment is broken: the panic shows what ran and what it said.

use std::process::{Command, Output};

pub(crate) fn run_checked(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
