//! The spool of `barman-wal-restore --parallel`: WAL files fetched ahead of PostgreSQL's
//! requests, so that the next `restore_command` only renames a file.
//!
//! Layout, compatible with Barman's (`--spool-dir`, default `/var/tmp/walrestore`): a
//! complete file is `<spool>/<WAL name>`. Unlike Barman, a file being fetched is written as
//! `<spool>/.<WAL name>.part`, locked (`flock`) by its writer, fsynced, and renamed only
//! once complete, so a spooled file is never partial:
//!
//! * [`Spool::take`] delivers a spooled file; when the same file is still being fetched it
//!   waits for that fetch instead of starting another, and it checks a segment's first page
//!   and size before handing it over;
//! * [`Spool::prefetch`] asks `get-wal --peek` which files follow, and fetches those not
//!   spooled and not being fetched by someone else, one exec channel each on the caller's
//!   connection. Each `restore_command` call starts one (in the background), so the spool is
//!   topped up while PostgreSQL replays instead of being refilled batch after batch.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use crate::durable::{move_replacing, sync_dir, TempFile};
use crate::ssh::SshConnection;
use crate::wal::{validate_segment_header, WalExpectations, WalFileName, LONG_PAGE_HEADER_LEN};

use super::command::RemoteWord;
use super::restore::{fetch_into, peek, remove_if_exists, temporary_path_for, Fetched, GetWalRequest, RestoreError};

/// How long [`Spool::take`] waits for a fetch in progress before fetching itself.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(120);
/// How often the lock of a fetch in progress is polled.
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// The spool at `dir` (created by [`Spool::ensure_exists`]).
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        Spool { dir: dir.into() }
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the spool directory if missing.
    pub fn ensure_exists(&self) -> Result<(), RestoreError> {
        fs::create_dir_all(&self.dir).map_err(|source| self.error(source))
    }

    /// Moves the spooled `wal` to `dest` if there is a complete copy (waiting for a fetch in
    /// progress). Returns whether it was delivered; an invalid copy is discarded.
    pub fn take(&self, wal: &str, dest: &Path) -> Result<bool, RestoreError> {
        let spooled = self.dir.join(wal);
        if !spooled.exists() {
            self.wait_for_fetch_in_progress(wal)?;
        }
        if !spooled.exists() {
            return Ok(false);
        }
        if !is_complete(&spooled, wal) {
            remove_if_exists(&spooled).map_err(|source| self.error(source))?;
            return Ok(false);
        }
        deliver(&spooled, dest)?;
        Ok(true)
    }

    /// Fetches up to `count` files following `wal` into the spool, skipping those already
    /// there or being fetched; stops at the first the server cannot send. Returns the names
    /// fetched. Spooled segments of `wal`'s timeline older than `wal` are removed: PostgreSQL
    /// has gone past them.
    pub fn prefetch(
        &self,
        connection: &SshConnection,
        request: &GetWalRequest<'_>,
        wal: &RemoteWord,
        count: u32,
    ) -> Result<Vec<String>, RestoreError> {
        self.remove_older_than(wal.as_str())?;
        let following = peek(connection, request, wal, count.saturating_add(1))?;
        let mut fetched = Vec::new();
        for name in following.iter().filter(|name| name.as_str() != wal.as_str()) {
            let spooled = self.dir.join(name.as_str());
            if spooled.exists() {
                continue;
            }
            let Some(mut part) = self.claim(name.as_str())? else {
                continue;
            };
            let part_path = self.part_path(name.as_str());
            if spooled.exists() {
                // Completed by another process between the check and the claim.
                remove_if_exists(&part_path).map_err(|source| self.error(source))?;
                continue;
            }
            part.set_len(0).map_err(|source| self.error(source))?;
            match fetch_into(connection, request, name, &mut part, &part_path)? {
                Fetched::Delivered => {
                    fs::rename(&part_path, &spooled).map_err(|source| self.error(source))?;
                    sync_dir(&self.dir).map_err(|source| self.error(source))?;
                    fetched.push(name.as_str().to_owned());
                }
                Fetched::RemoteFailed(_) => {
                    remove_if_exists(&part_path).map_err(|source| self.error(source))?;
                    break;
                }
            }
        }
        Ok(fetched)
    }

    fn part_path(&self, wal: &str) -> PathBuf {
        temporary_path_for(&self.dir.join(wal), "part")
    }

    /// Locks the `.part` file of `wal` for writing; `None` when another process holds it.
    fn claim(&self, wal: &str) -> Result<Option<Flock<File>>, RestoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.part_path(wal))
            .map_err(|source| self.error(source))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => Ok(Some(locked)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => Err(self.error(io::Error::from(errno))),
        }
    }

    /// Waits while another process holds the `.part` lock of `wal`; a `.part` nobody holds
    /// is left over from an interrupted fetch and is removed.
    fn wait_for_fetch_in_progress(&self, wal: &str) -> Result<(), RestoreError> {
        let part_path = self.part_path(wal);
        let mut file = match File::open(&part_path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(self.error(source)),
        };
        let deadline = Instant::now() + IN_PROGRESS_WAIT;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(_released_at_drop) => {
                    if !self.dir.join(wal).exists() {
                        remove_if_exists(&part_path).map_err(|source| self.error(source))?;
                    }
                    return Ok(());
                }
                Err((returned, nix::errno::Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = returned;
                    sleep(LOCK_POLL_INTERVAL);
                }
                // Still busy after the deadline: fetch directly rather than wait forever.
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(()),
                Err((_, errno)) => return Err(self.error(io::Error::from(errno))),
            }
        }
    }

    /// Removes spooled segments of `wal`'s timeline that come before it.
    fn remove_older_than(&self, wal: &str) -> Result<(), RestoreError> {
        let Some(current) = WalFileName::parse(wal).ok().and_then(|name| name.segment()) else {
            return Ok(());
        };
        let entries = fs::read_dir(&self.dir).map_err(|source| self.error(source))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let older = WalFileName::parse(&name)
                .ok()
                .and_then(|parsed| parsed.segment())
                .is_some_and(|segment| segment.timeline == current.timeline && name.as_str() < wal);
            if older {
                remove_if_exists(&entry.path()).map_err(|source| self.error(source))?;
            }
        }
        Ok(())
    }

    fn error(&self, source: io::Error) -> RestoreError {
        RestoreError::Spool {
            path: self.dir.clone(),
            source,
        }
    }
}

/// Whether a spooled file can be handed over: a segment must start with its own first page
/// and be exactly as long as that page says segments are; other files (history, backup
/// labels, partial segments) have no structure to check.
fn is_complete(path: &Path, wal: &str) -> bool {
    let Some(segment) = WalFileName::parse(wal).ok().and_then(|name| name.segment()) else {
        return true;
    };
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut first_bytes = [0u8; LONG_PAGE_HEADER_LEN];
    let (Ok(()), Ok(metadata)) = (file.read_exact(&mut first_bytes), file.metadata()) else {
        return false;
    };
    validate_segment_header(segment, &first_bytes, &WalExpectations::default())
        .is_ok_and(|header| u64::from(header.segment_size) == metadata.len())
}

/// Moves a spooled file to `dest` durably; across filesystems it is copied to a temporary
/// file beside `dest`, synced and renamed, so `dest` is never partial.
fn deliver(spooled: &Path, dest: &Path) -> Result<(), RestoreError> {
    let store_error = |source| RestoreError::Store {
        path: dest.to_owned(),
        source,
    };
    match fs::rename(spooled, dest) {
        Ok(()) => sync_dir(dest.parent().unwrap_or(Path::new("."))).map_err(store_error),
        Err(err) if err.raw_os_error() == Some(nix::libc::EXDEV) => {
            let temp = TempFile::new(temporary_path_for(
                dest,
                &format!("barman-wal-restore-{}", std::process::id()),
            ));
            fs::copy(spooled, temp.path()).map_err(store_error)?;
            File::open(temp.path())
                .and_then(|file| file.sync_all())
                .map_err(store_error)?;
            move_replacing(temp, dest).map_err(store_error)?;
            remove_if_exists(spooled).map_err(store_error)
        }
        Err(err) => Err(store_error(err)),
    }
}
