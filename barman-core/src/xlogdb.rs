//! The WAL catalogue, `<xlogdb_directory>/<server>-xlog.db`: one line per archived file.
//!
//! Barman's format, read and written compatibly: `name\tsize\ttime\tcompression\tencryption\n`
//! where `size` is the stored (possibly compressed) size, `time` the file's modification time
//! as Python prints a float, and a missing compression or encryption the literal `None`.
//! Readers split on whitespace and accept 3, 4 or 5 columns (older Barman versions).
//!
//! Every access holds the flock `.<server>-xlogdb.lock`. Appends are flushed and fsynced before
//! the lock is released; a rewrite goes through a temporary file renamed over the catalogue.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::durable::{sync_dir, TempFile};
use crate::file_error::FileError;
use crate::locks::{LockError, LockFile, LockName};

/// One catalogue line.
#[derive(Debug, Clone, PartialEq)]
pub struct XlogDbEntry {
    /// The WAL file name.
    pub name: String,
    /// Stored size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub time: f64,
    /// The compression the file is stored with (`gzip`, ...).
    pub compression: Option<String>,
    /// The encryption the file is stored with (`gpg`).
    pub encryption: Option<String>,
}

/// Why the catalogue cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum XlogDbError {
    /// Taking the catalogue lock failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Reading or writing the catalogue failed.
    #[error(transparent)]
    Io(#[from] FileError),
    /// A line is not in any of Barman's formats.
    #[error("cannot parse line {line_number} of WAL catalogue '{}': {line:?}", path.display())]
    Parse {
        /// The catalogue.
        path: PathBuf,
        /// 1-based line number.
        line_number: usize,
        /// The line.
        line: String,
    },
}

impl XlogDbEntry {
    /// The catalogue line, newline included.
    pub fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\n",
            self.name,
            self.size,
            python_float_repr(self.time),
            self.compression.as_deref().unwrap_or("None"),
            self.encryption.as_deref().unwrap_or("None"),
        )
    }

    /// Parses a line in any of Barman's formats (3 to 5 whitespace-separated columns).
    pub fn parse_line(line: &str) -> Option<Self> {
        let columns: Vec<&str> = line.split_whitespace().collect();
        if !(3..=5).contains(&columns.len()) {
            return None;
        }
        let optional = |index: usize| {
            columns
                .get(index)
                .filter(|value| **value != "None")
                .map(|value| (*value).to_owned())
        };
        Some(XlogDbEntry {
            name: columns[0].to_owned(),
            size: columns[1].parse().ok()?,
            time: columns[2].parse().ok()?,
            compression: optional(3),
            encryption: optional(4),
        })
    }
}

/// A file's modification time as Python's `os.stat().st_mtime` computes it (seconds plus
/// nanoseconds scaled, in double precision), so catalogues written by either implementation
/// agree to the last digit.
pub fn mtime_seconds(metadata: &fs::Metadata) -> f64 {
    metadata.mtime() as f64 + metadata.mtime_nsec() as f64 * 1e-9
}

/// Python's `repr()` of a float in the range of time stamps: the shortest digits that read
/// back as the same value, with `.0` for whole numbers. (Python switches to exponent notation
/// below 1e-4 and from 1e16, which no modification time reaches.)
fn python_float_repr(value: f64) -> String {
    let text = value.to_string();
    if text.contains(['.', 'e', 'N', 'i']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// A server's catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlogDb {
    path: PathBuf,
    lock_directory: PathBuf,
    server: String,
}

impl XlogDb {
    /// The file name of `server`'s catalogue.
    pub fn file_name(server: &str) -> String {
        format!("{server}-xlog.db")
    }

    /// The catalogue of `server` in `xlogdb_directory`, locked in `lock_directory`.
    pub fn new(xlogdb_directory: &Path, lock_directory: &Path, server: &str) -> Self {
        XlogDb {
            path: xlogdb_directory.join(Self::file_name(server)),
            lock_directory: lock_directory.to_owned(),
            server: server.to_owned(),
        }
    }

    /// The catalogue file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the catalogue file exists (Barman rebuilds it from `wals/` when it does not).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Whether the catalogue is missing or empty: nothing has been archived yet.
    pub fn is_empty(&self) -> bool {
        fs::metadata(&self.path).map_or(true, |metadata| metadata.len() == 0)
    }

    /// Takes the catalogue lock (waiting for any holder); every access goes through it.
    pub fn lock(&self) -> Result<LockedXlogDb<'_>, XlogDbError> {
        let lock = LockFile::acquire(&self.lock_directory, LockName::XlogDb(&self.server))?;
        Ok(LockedXlogDb { db: self, _lock: lock })
    }

    fn directory(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn io_error(&self, action: &'static str, source: io::Error) -> XlogDbError {
        FileError::at(action, &self.path)(source).into()
    }
}

/// The catalogue while this process holds its lock; released on drop.
#[derive(Debug)]
pub struct LockedXlogDb<'a> {
    db: &'a XlogDb,
    _lock: LockFile,
}

impl LockedXlogDb<'_> {
    /// Appends `entries` and makes them durable.
    pub fn append(&self, entries: &[XlogDbEntry]) -> Result<(), XlogDbError> {
        if entries.is_empty() {
            return Ok(());
        }
        let text: String = entries.iter().map(XlogDbEntry::to_line).collect();
        let failed = |source| self.db.io_error("append to WAL catalogue", source);
        let created = !self.db.path.exists();
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.db.path)
            .map_err(failed)?;
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        if created {
            sync_dir(self.db.directory()).map_err(failed)?;
        }
        Ok(())
    }

    /// Every entry, in file order.
    pub fn read(&self) -> Result<Vec<XlogDbEntry>, XlogDbError> {
        let file = match File::open(&self.db.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.db.io_error("read WAL catalogue", source)),
        };
        let mut entries = Vec::new();
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| self.db.io_error("read WAL catalogue", source))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry = XlogDbEntry::parse_line(&line).ok_or_else(|| XlogDbError::Parse {
                path: self.db.path.clone(),
                line_number: index + 1,
                line: line.clone(),
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Calls `visit` with every non-empty line (without its newline), in file order, without
    /// building entries: passes over large catalogues parse only the lines they need.
    pub fn scan(&self, mut visit: impl FnMut(&str)) -> Result<(), XlogDbError> {
        let file = match File::open(&self.db.path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(self.db.io_error("read WAL catalogue", source)),
        };
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut line = Vec::with_capacity(128);
        for line_number in 1.. {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|source| self.db.io_error("read WAL catalogue", source))?;
            if read == 0 {
                break;
            }
            let text = std::str::from_utf8(&line).map_err(|_| XlogDbError::Parse {
                path: self.db.path.clone(),
                line_number,
                line: String::from_utf8_lossy(&line).into_owned(),
            })?;
            let text = text.trim_end_matches(['\n', '\r']);
            if !text.trim().is_empty() {
                visit(text);
            }
        }
        Ok(())
    }

    /// Replaces the whole catalogue with `entries`, atomically.
    pub fn replace(&self, entries: &[XlogDbEntry]) -> Result<(), XlogDbError> {
        let mut temp_name = self.db.path.as_os_str().to_owned();
        temp_name.push(".tmp");
        let temp = TempFile::new(PathBuf::from(temp_name));
        let failed = |source| self.db.io_error("rewrite WAL catalogue", source);
        let mut file = File::create(temp.path()).map_err(failed)?;
        let text: String = entries.iter().map(XlogDbEntry::to_line).collect();
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        fs::rename(temp.path(), &self.db.path).map_err(failed)?;
        temp.release();
        sync_dir(self.db.directory()).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, compression: Option<&str>) -> XlogDbEntry {
        XlogDbEntry {
            name: name.into(),
            size: 16515,
            time: 1795597737.6053946,
            compression: compression.map(Into::into),
            encryption: None,
        }
    }

    #[test]
    fn lines_match_barman() {
        assert_eq!(
            entry("000000010000000000000002", Some("gzip")).to_line(),
            "000000010000000000000002\t16515\t1795597737.6053946\tgzip\tNone\n"
        );
        let whole = XlogDbEntry {
            time: 1795597737.0,
            ..entry("00000002.history", None)
        };
        assert_eq!(whole.to_line(), "00000002.history\t16515\t1795597737.0\tNone\tNone\n");
    }

    #[test]
    fn parses_every_barman_format() {
        let five =
            XlogDbEntry::parse_line("000000010000000000000002\t16515\t1795597737.6053946\tgzip\tNone\n").unwrap();
        assert_eq!(five, entry("000000010000000000000002", Some("gzip")));
        let four = XlogDbEntry::parse_line("000000010000000000000002 16515 1795597737.6053946 None").unwrap();
        assert_eq!(four, entry("000000010000000000000002", None));
        let three = XlogDbEntry::parse_line("000000010000000000000002\t16515\t1795597737.6053946").unwrap();
        assert_eq!(three, entry("000000010000000000000002", None));
        let encrypted = XlogDbEntry::parse_line("a 1 2 None gpg").unwrap();
        assert_eq!(encrypted.encryption.as_deref(), Some("gpg"));
        for bad in ["", "a 1", "a 1 2 3 4 5", "a x 2", "a 1 y"] {
            assert_eq!(XlogDbEntry::parse_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_are_read_as_python_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let metadata = std::fs::metadata(&path).unwrap();
        let time = mtime_seconds(&metadata);
        assert_eq!(python_float_repr(time).parse::<f64>().unwrap(), time);
        assert_eq!(python_float_repr(1.5), "1.5");
        assert_eq!(python_float_repr(1700000000.0), "1700000000.0");
    }

    #[test]
    fn appends_reads_and_replaces_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = XlogDb::new(dir.path(), dir.path(), "pg");
        assert_eq!(db.path(), dir.path().join("pg-xlog.db"));
        assert!(!db.exists());
        assert_eq!(db.lock().unwrap().read().unwrap(), vec![]);
        assert!(db.is_empty());
        db.lock()
            .unwrap()
            .append(&[entry("000000010000000000000002", Some("gzip"))])
            .unwrap();
        db.lock()
            .unwrap()
            .append(&[entry("000000010000000000000003", None), entry("00000002.history", None)])
            .unwrap();
        assert!(!db.is_empty());
        let names: Vec<String> = db.lock().unwrap().read().unwrap().into_iter().map(|e| e.name).collect();
        let mut scanned = Vec::new();
        db.lock().unwrap().scan(|line| scanned.push(line.to_owned())).unwrap();
        assert_eq!(scanned.len(), 3);
        assert_eq!(scanned[2], "00000002.history\t16515\t1795597737.6053946\tNone\tNone");
        assert_eq!(
            names,
            [
                "000000010000000000000002",
                "000000010000000000000003",
                "00000002.history"
            ]
        );
        db.lock()
            .unwrap()
            .replace(&[entry("000000010000000000000009", None)])
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(db.path()).unwrap(),
            "000000010000000000000009\t16515\t1795597737.6053946\tNone\tNone\n"
        );
        assert!(dir.path().join(".pg-xlogdb.lock").exists());
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, [".pg-xlogdb.lock", "pg-xlog.db"]);
    }

    #[test]
    fn reports_unparsable_lines_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let db = XlogDb::new(dir.path(), dir.path(), "pg");
        std::fs::write(db.path(), "a 1 2\n\nbroken\n").unwrap();
        let err = db.lock().unwrap().read().unwrap_err();
        assert!(matches!(err, XlogDbError::Parse { line_number: 3, .. }), "{err}");
    }
}
