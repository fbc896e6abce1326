//! The client side of ssh for a test context.
//!
//! OpenSSH's `ssh` finds `~/.ssh` through the passwd entry and ignores `$HOME`, so an
//! isolated `HOME` alone would still use the real user's keys and known hosts. The
//! context's `bin` directory (first on its `PATH`) therefore gets an `ssh` wrapper that
//! runs the system ssh with `-F <HOME>/.ssh/config`, a config naming the context's own key
//! pair and `known_hosts`. Whatever runs `ssh` from `PATH` (barman-wal-archive, rsync, a
//! test) connects with the context's identity.

use std::path::Path;
use std::process::Command;

use crate::context::TestContext;
use crate::files::{append_file, create_dir, read_lossy, write_file};
use crate::process::run_checked;
use crate::LOOPBACK;

const SYSTEM_SSH: &str = "/usr/bin/ssh";

/// Creates the context's key pair, ssh config and `ssh` wrapper unless they exist, and
/// returns the public key (an `authorized_keys` line).
pub(crate) fn ensure_client(ctx: &TestContext) -> String {
    let ssh_dir = ctx.home().join(".ssh");
    let identity = ssh_dir.join("id_ed25519");
    if !identity.exists() {
        create_dir(&ssh_dir, 0o700);
        generate_key(&identity, "barman test client");
        write_file(&ssh_dir.join("config"), &client_config(&ssh_dir), 0o644);
        write_file(
            &ctx.bin_dir().join("ssh"),
            &wrapper_script(&ssh_dir.join("config")),
            0o755,
        );
    }
    read_lossy(&identity.with_extension("pub"))
}

/// Records `host_public_key` as the key of the server on `port`, so connections are
/// verified without prompting.
pub(crate) fn trust_host(ctx: &TestContext, port: u16, host_public_key: &str) {
    let key = host_public_key.split_whitespace().take(2).collect::<Vec<_>>();
    append_file(
        &ctx.home().join(".ssh/known_hosts"),
        &format!("[{LOOPBACK}]:{port} {}\n", key.join(" ")),
        0o644,
    );
}

/// Generates an ed25519 key pair without passphrase at `path` and `path`.pub.
pub(crate) fn generate_key(path: &Path, comment: &str) {
    run_checked(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path),
    );
}

fn client_config(ssh_dir: &Path) -> String {
    let ssh_dir = ssh_dir.display();
    // BatchMode: a test must fail, not wait for a passphrase or host-key prompt.
    format!(
        "# Written by the test harness; the `ssh` wrapper on the test PATH passes it.\n\
         Host *\n\
         \x20   IdentityFile {ssh_dir}/id_ed25519\n\
         \x20   IdentitiesOnly yes\n\
         \x20   UserKnownHostsFile {ssh_dir}/known_hosts\n\
         \x20   StrictHostKeyChecking yes\n\
         \x20   BatchMode yes\n"
    )
}

fn wrapper_script(config: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by the test harness: OpenSSH takes ~/.ssh from the passwd entry, not $HOME.\n\
         exec {SYSTEM_SSH} -F '{}' \"$@\"\n",
        config.display()
    )
}
