//! Filesystem steps that make WAL and metadata durable.
//!
//! The rule the whole WAL path (put-wal, archive-wal, identity.json) follows: a file only
//! becomes visible under its final name after its bytes are on disk, and success is only
//! reported after the directory entry is on disk too. A temporary file that has not been
//! handed over is removed, whatever path the code leaves by.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Fsyncs a directory so that entries created, renamed or removed in it survive a crash.
/// `EINVAL` is ignored: some filesystems cannot sync directories, as Barman also tolerates.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(err) if err.raw_os_error() == Some(nix::libc::EINVAL) => Ok(()),
        other => other,
    }
}

/// Replaces the file at `path` with `contents` so that readers see the old or the new content,
/// never a mix: written to `<path>.tmp`, fsynced, renamed, directory fsynced.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(".tmp");
    let temp = TempFile::new(PathBuf::from(temp_name));
    let mut file = File::create(temp.path())?;
    io::Write::write_all(&mut file, contents)?;
    file.sync_all()?;
    fs::rename(temp.path(), path)?;
    temp.release();
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// A temporary file owned by the code that created it: removed on drop unless
/// [`TempFile::release`] says it has been moved away.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Takes ownership of `path`, which may not exist yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        TempFile { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Gives up ownership once the file has been renamed or deliberately removed.
    pub(crate) fn release(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Nothing useful can be done about a failed clean-up while unwinding from another error.
        let _ = fs::remove_file(&self.path);
    }
}

/// Gives the file at `temp` the name `target` unless `target` already exists. Fails with
/// [`io::ErrorKind::AlreadyExists`] when it does, so a file that appeared concurrently is never
/// overwritten. The temporary name may survive (as a second link); the caller's [`TempFile`]
/// guard removes it.
///
/// A hard link makes the check and the naming one atomic step. Filesystems without hard links
/// fall back to a rename after an existence check, which is what Barman always does.
pub(crate) fn rename_no_replace(temp: &Path, target: &Path) -> io::Result<()> {
    match fs::hard_link(temp, target) {
        Err(err) if links_unsupported(&err) => {
            if target.try_exists()? {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists));
            }
            fs::rename(temp, target)
        }
        other => other,
    }
}

fn links_unsupported(err: &io::Error) -> bool {
    use nix::libc::{ENOSYS, EOPNOTSUPP, EPERM};
    matches!(err.raw_os_error(), Some(EPERM | EOPNOTSUPP | ENOSYS))
}

/// Moves `temp` to `target`, replacing any file there, and makes the move durable in the
/// target directory. Crosses filesystems by copying and syncing when rename cannot.
pub(crate) fn move_replacing(temp: TempFile, target: &Path) -> io::Result<()> {
    move_file(temp.path(), target)?;
    temp.release();
    Ok(())
}

/// Moves `source` to `target` (replacing any file there) and makes the move durable in the
/// target directory; across filesystems the copy is synced before the source is removed. On
/// failure the source is left where it was.
pub(crate) fn move_file(source: &Path, target: &Path) -> io::Result<()> {
    match fs::rename(source, target) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(nix::libc::EXDEV) => {
            fs::copy(source, target)?;
            File::open(target)?.sync_all()?;
            fs::remove_file(source)?;
        }
        Err(err) => return Err(err),
    }
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_is_removed_unless_released() {
        let dir = tempfile::tempdir().unwrap();
        let dropped = dir.path().join(".1-dropped");
        fs::write(&dropped, b"x").unwrap();
        drop(TempFile::new(dropped.clone()));
        assert!(!dropped.exists());

        let kept = dir.path().join(".1-kept");
        fs::write(&kept, b"x").unwrap();
        TempFile::new(kept.clone()).release();
        assert!(kept.exists());

        // Dropping a guard whose file never got created is harmless.
        drop(TempFile::new(dir.path().join(".1-never")));
    }

    #[test]
    fn rename_no_replace_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".1-a");
        let target = dir.path().join("a");
        fs::write(&temp, b"new").unwrap();
        fs::write(&target, b"old").unwrap();
        let err = rename_no_replace(&temp, &target).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(
            fs::read(&temp).unwrap(),
            b"new",
            "the temporary file stays for the caller"
        );

        fs::remove_file(&target).unwrap();
        let guard = TempFile::new(temp.clone());
        rename_no_replace(&temp, &target).unwrap();
        drop(guard);
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!temp.exists());
    }

    #[test]
    fn move_replacing_overwrites_and_creates() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(".1-a");
        let target = dir.path().join("a.duplicate");
        fs::write(&target, b"old").unwrap();
        fs::write(&temp, b"new").unwrap();
        move_replacing(TempFile::new(temp.clone()), &target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!temp.exists());
    }

    #[test]
    fn write_atomically_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn syncs_directories() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        assert!(sync_dir(&dir.path().join("missing")).is_err());
    }
}
