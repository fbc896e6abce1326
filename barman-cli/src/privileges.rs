//! Running as `barman_user`, as Barman does.
//!
//! Started as root, barman switches to the configured user (its groups, then its gid and uid)
//! before reading any other file, so files it creates belong to that user. Started as that user,
//! nothing changes. Started as anyone else, it refuses to run: files written under another
//! identity would break later runs.

use std::ffi::CString;

use nix::unistd::{getgrouplist, getuid, setgid, setgroups, setuid, User};

/// Why barman cannot run as the configured user.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("the configured user '{0}' does not exists")]
    UnknownUser(String),
    #[error("please run barman as '{0}' user")]
    WrongUser(String),
}

impl PrivilegeError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            PrivilegeError::UnknownUser(user) => {
                format!("create the OS user '{user}' or set barman_user in the [barman] section")
            }
            PrivilegeError::WrongUser(user) => format!("run it as root or with 'sudo -u {user} barman ...'"),
        }
    }
}

/// Switches the process to `user` if needed (see the module documentation).
pub fn drop_to(user: &str) -> Result<(), PrivilegeError> {
    let account = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| PrivilegeError::UnknownUser(user.to_string()))?;
    if account.uid == getuid() {
        return Ok(());
    }
    let wrong_user = |_| PrivilegeError::WrongUser(user.to_string());
    let name = CString::new(user).map_err(|_| PrivilegeError::UnknownUser(user.to_string()))?;
    let groups = getgrouplist(&name, account.gid).map_err(wrong_user)?;
    setgroups(&groups).map_err(wrong_user)?;
    setgid(account.gid).map_err(wrong_user)?;
    setuid(account.uid).map_err(wrong_user)?;
    std::env::set_var("HOME", &account.dir);
    Ok(())
}
