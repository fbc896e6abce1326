//! The client side of ssh for a test context.
//!
//! OpenSSH's `ssh` finds `~/.ssh` through the passwd entry and ignores `$HOME`, so an
//! isolated `HOME` alone would still use the real user's keys and known hosts. The
//! context's `bin` directory (first on its `PATH`, also for the PostgreSQL server) gets
//! an `ssh` wrapper that runs the system ssh with `-F <HOME>/.ssh/config`, a config naming
//! the context's own keys and `known_hosts`. Whatever runs `ssh` from `PATH`
//! (barman-wal-archive in an `archive_command`, rsync, a test) uses them.
//!
//! Each local user gets its own key pair, selected with `Match localuser`: the test user's
//! is `<HOME>/.ssh/id_ed25519`; when PostgreSQL runs as another OS user, that user's is
//! `<HOME>/.ssh/<user>/id_ed25519`, which only it can read, as ssh demands.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::context::TestContext;
use crate::files::{append_file, create_dir, read_lossy, write_file};
use crate::os_user::{current_user, ServerUser};
use crate::process::run_checked;
use crate::LOOPBACK;

const SYSTEM_SSH: &str = "/usr/bin/ssh";

/// The key pair one local user connects with.
struct Identity {
    local_user: String,
    private_key: PathBuf,
    /// The PostgreSQL server user, not the test user, owns the key.
    for_server_user: bool,
}

/// Creates the context's key pairs, ssh config and `ssh` wrapper unless they exist, and
/// returns the `authorized_keys` lines accepting all of its keys.
pub(crate) fn ensure_client(ctx: &TestContext) -> String {
    let ssh_dir = ctx.home().join(".ssh");
    let identities = identities(&ssh_dir);
    if !ssh_dir.exists() {
        // Not 0700: the PostgreSQL server user reads the config and known_hosts too.
        create_dir(&ssh_dir, 0o755);
        generate_keys(&identities);
        write_file(&ssh_dir.join("config"), &client_config(&ssh_dir, &identities), 0o644);
        write_file(
            &ctx.bin_dir().join("ssh"),
            &wrapper_script(&ssh_dir.join("config")),
            0o755,
        );
    }
    identities
        .iter()
        .map(|identity| read_lossy(&identity.private_key.with_extension("pub")))
        .collect()
}

/// Gives the PostgreSQL server user's `HOME` (that of its `archive_command`) a `.ssh/config`
/// naming that user's key and the context's `known_hosts`. Clients that read `~/.ssh`
/// through `$HOME` (libssh2-based ones, not OpenSSH) then find them as on a real pghost.
pub(crate) fn configure_server_home(ctx: &TestContext, server_home: &Path) {
    ensure_client(ctx);
    let ssh_dir = ctx.home().join(".ssh");
    let identity = identities(&ssh_dir)
        .into_iter()
        .find(|identity| identity.local_user == ServerUser::get().name())
        .expect("a key pair for the server user");
    let server_user = ServerUser::get();
    server_user.create_dir(&server_home.join(".ssh"));
    server_user.write_file(
        &server_home.join(".ssh/config"),
        &format!(
            "# Written by the test harness: the server user's keys and known hosts live in the context.\n\
             Host *\n\
             \x20   IdentityFile {}\n\
             \x20   UserKnownHostsFile {}\n",
            identity.private_key.display(),
            ssh_dir.join("known_hosts").display()
        ),
    );
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

fn identities(ssh_dir: &Path) -> Vec<Identity> {
    let mut identities = vec![Identity {
        local_user: current_user().name,
        private_key: ssh_dir.join("id_ed25519"),
        for_server_user: false,
    }];
    let server_user = ServerUser::get();
    if server_user.is_other_user() {
        identities.push(Identity {
            local_user: server_user.name().to_owned(),
            private_key: ssh_dir.join(server_user.name()).join("id_ed25519"),
            for_server_user: true,
        });
    }
    identities
}

fn generate_keys(identities: &[Identity]) {
    let server_user = ServerUser::get();
    for identity in identities {
        let comment = format!("barman test client ({})", identity.local_user);
        if identity.for_server_user {
            let key_dir = identity.private_key.parent().expect("key inside a directory");
            server_user.create_dir(key_dir);
            generate_key(&identity.private_key, &comment);
            server_user.give(&identity.private_key);
            server_user.give(&identity.private_key.with_extension("pub"));
        } else {
            generate_key(&identity.private_key, &comment);
        }
    }
}

fn client_config(ssh_dir: &Path, identities: &[Identity]) -> String {
    let ssh_dir = ssh_dir.display();
    // BatchMode: a test must fail, not wait for a passphrase or host-key prompt.
    let mut config = format!(
        "# Written by the test harness; the `ssh` wrapper on the test PATH passes it.\n\
         Host *\n\
         \x20   IdentitiesOnly yes\n\
         \x20   UserKnownHostsFile {ssh_dir}/known_hosts\n\
         \x20   StrictHostKeyChecking yes\n\
         \x20   BatchMode yes\n"
    );
    for identity in identities {
        config.push_str(&format!(
            "Match localuser {}\n\
             \x20   IdentityFile {}\n",
            identity.local_user,
            identity.private_key.display()
        ));
    }
    config
}

fn wrapper_script(config: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by the test harness: OpenSSH takes ~/.ssh from the passwd entry, not $HOME.\n\
         exec {SYSTEM_SSH} -F '{}' \"$@\"\n",
        config.display()
    )
}
