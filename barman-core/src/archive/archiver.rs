//! `barman archive-wal`: move the WAL waiting in `streaming/` and `incoming/` into `wals/`,
//! compressing it as configured and cataloguing it in `xlog.db`.
//!
//! Barman's rules are kept: one run per server at a time (`.<server>-archive-wal.lock`); the
//! streaming directory first, then incoming; each directory listed once, sorted, cut to its
//! batch size; names that are not WAL names, and entries that are not regular files, moved to
//! `errors/<name>.<stamp>.unknown`; in `streaming/` the newest `.partial` (or, without one, the
//! newest segment) stays for pg_receivewal; files the client already compressed are stored as
//! sent; a name already in the archive is compared by decompressed content: identical → the
//! new copy is dropped, different → `errors/<name>.<stamp>.duplicate`.
//!
//! Durability, in this order for every file: its bytes are synced before it takes its name in
//! `wals/` (a hard link or a rename that never replaces an existing file), then the destination
//! directories, the source directory and the catalogue are synced. Those syncs are shared by
//! the files of a commit group (at most [`GROUP_MAX_FILES`] files or [`GROUP_MAX_AGE`] of
//! work), which is what lets one run move thousands of segments per second; a file is never
//! catalogued before it is durable in `wals/`, nor removed from its source before that. A
//! crash in between leaves the file in both places (the next run drops the source copy as an
//! identical duplicate) and possibly out of `xlog.db`, as with Barman: `rebuild-xlogdb` adds
//! it back.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, FileTimes};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::content::{content_digest, StoredFile};
use super::rebuild::{rebuild_xlogdb, RebuildError};
use super::ArchiveLayout;
use crate::compression::{compress, CompressionError, CompressionKind, CompressionLevel};
use crate::config::value::Value;
use crate::config::ServerConfig;
use crate::durable::{move_file, rename_no_replace, sync_dir, TempFile};
use crate::file_error::FileError;
use crate::locks::{LockError, LockFile, LockName};
use crate::wal::{WalFileKind, WalFileName};
use crate::xlogdb::{mtime_seconds, XlogDbEntry, XlogDbError};

/// Most files whose directory and catalogue syncs are shared.
pub const GROUP_MAX_FILES: usize = 256;
/// Longest time files wait for their shared syncs.
pub const GROUP_MAX_AGE: Duration = Duration::from_millis(500);

/// The options of a server that drive archiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// `compression`: how plain files are stored.
    pub compression: Option<CompressionKind>,
    /// `compression_level`.
    pub compression_level: CompressionLevel,
    /// `archiver`: process `incoming/`.
    pub file_archiver: bool,
    /// `streaming_archiver`: process `streaming/`.
    pub streaming_archiver: bool,
    /// `archiver_batch_size` (0: everything).
    pub archiver_batch_size: usize,
    /// `streaming_archiver_batch_size` (0: everything).
    pub streaming_archiver_batch_size: usize,
}

impl ArchiveSettings {
    /// The settings of `server`.
    pub fn for_server(server: &ServerConfig) -> Result<Self, ArchiveWalError> {
        let compression = server
            .text("compression")
            .map(|name| name.parse::<CompressionKind>())
            .transpose()
            .map_err(|err| ArchiveWalError::Settings(err.to_string()))?;
        if let Some(kind) = compression.filter(|kind| !kind.is_in_process()) {
            return Err(ArchiveWalError::Settings(format!(
                "compression '{kind}' (external filters) is not supported by this implementation"
            )));
        }
        let compression_level = match server.get("compression_level") {
            Some(Value::CompressionLevel(level)) => *level,
            _ => CompressionLevel::default(),
        };
        let batch = |option| server.int(option).map_or(0, |size| usize::try_from(size).unwrap_or(0));
        Ok(ArchiveSettings {
            compression,
            compression_level,
            file_archiver: server.archiver(),
            streaming_archiver: server.streaming_archiver(),
            archiver_batch_size: batch("archiver_batch_size"),
            streaming_archiver_batch_size: batch("streaming_archiver_batch_size"),
        })
    }
}

/// Where WAL waits to be archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalSource {
    /// `streaming/`, written by pg_receivewal.
    Streaming,
    /// `incoming/`, written by put-wal or `archive_command`.
    FileArchival,
}

impl fmt::Display for WalSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WalSource::Streaming => "streaming",
            WalSource::FileArchival => "file archival",
        })
    }
}

/// Something archive-wal reports while it works, displayed as Barman's console lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveEvent {
    /// A directory is about to be processed.
    Processing {
        /// Which one.
        source: WalSource,
        /// The server.
        server: String,
        /// Files archived in this run, when fewer than the directory holds.
        batch_size: Option<usize>,
    },
    /// A file is being archived.
    Archiving {
        /// Its name.
        name: String,
    },
    /// The archive already holds a different file under this name; the new one went to
    /// `errors/`.
    Duplicate {
        /// The WAL name.
        name: String,
        /// The server.
        server: String,
        /// Where the new file now is.
        moved_to: PathBuf,
    },
    /// The directory held nothing to archive.
    NoFileFound,
    /// Entries that are not WAL files were moved to `errors/`.
    UnknownObjects {
        /// The server.
        server: String,
        /// Their names.
        names: Vec<String>,
    },
}

impl fmt::Display for ArchiveEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveEvent::Processing {
                source,
                server,
                batch_size,
            } => {
                write!(f, "Processing xlog segments from {source} for {server}")?;
                match batch_size {
                    Some(size) => write!(f, " (batch size: {size})"),
                    None => Ok(()),
                }
            }
            ArchiveEvent::Archiving { name } => write!(f, "\t{name}"),
            ArchiveEvent::Duplicate { name, server, .. } => write!(
                f,
                "\tError: {name} is already present in server {server}. File moved to errors directory."
            ),
            ArchiveEvent::NoFileFound => f.write_str("\tno file found"),
            ArchiveEvent::UnknownObjects { server, names } => {
                write!(
                    f,
                    "Some unknown objects have been found while processing xlog segments for {server}. Objects \
                     moved to errors directory:"
                )?;
                names.iter().try_for_each(|name| write!(f, "\n\t{name}"))
            }
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Files now in `wals/` and catalogued.
    pub archived: usize,
    /// Files dropped because the archive held an identical copy.
    pub already_archived: usize,
    /// Files moved to `errors/` as duplicates.
    pub duplicates: usize,
    /// Entries moved to `errors/` as unknown.
    pub unknown: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveOutcome {
    /// The run happened.
    Done(ArchiveSummary),
    /// Another archive-wal holds the server's lock; nothing was done.
    AlreadyRunning,
}

/// Why archiving stopped. Files archived before the failure stay archived and catalogued.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveWalError {
    /// The server's options cannot be used.
    #[error("{0}")]
    Settings(String),
    /// A lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] FileError),
    /// Compressing a file failed.
    #[error("cannot compress '{}': {source}", path.display())]
    Compress {
        /// The source file.
        path: PathBuf,
        /// The codec error.
        #[source]
        source: CompressionError,
    },
    /// The catalogue could not be updated.
    #[error(transparent)]
    XlogDb(#[from] XlogDbError),
    /// The missing catalogue could not be rebuilt.
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
}

/// Runs archive-wal for the server laid out as `layout`, reporting progress through `report`.
pub fn archive_wal(
    layout: &ArchiveLayout,
    settings: &ArchiveSettings,
    report: &mut dyn FnMut(ArchiveEvent),
) -> Result<ArchiveOutcome, ArchiveWalError> {
    let Some(_lock) = LockFile::try_acquire(&layout.lock_directory, LockName::ArchiveWal(&layout.server))? else {
        return Ok(ArchiveOutcome::AlreadyRunning);
    };
    let mut run = ArchiveRun {
        layout,
        settings,
        summary: ArchiveSummary::default(),
        created_dirs: HashSet::new(),
        catalogue_checked: false,
    };
    if settings.streaming_archiver {
        run.process(WalSource::Streaming, report)?;
    }
    if settings.file_archiver {
        run.process(WalSource::FileArchival, report)?;
    }
    Ok(ArchiveOutcome::Done(run.summary))
}

/// A directory entry waiting to be archived.
struct Queued {
    name: WalFileName,
    path: PathBuf,
}

/// One directory's work for this run.
struct Batch {
    files: Vec<Queued>,
    unknown: Vec<(String, PathBuf)>,
    /// Entries the directory listed (hidden ones aside), before the batch cut.
    listed: usize,
}

/// What became of one file.
enum Stored {
    Archived(XlogDbEntry),
    AlreadyArchived,
    Duplicate(PathBuf),
}

/// How giving a file its archive name went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The archive name now links to the file.
    Placed,
    /// The archive already holds a file under that name.
    NameTaken,
    /// The archive is on another filesystem: the file must be copied.
    OtherFilesystem,
}

/// Gives the file at `from` the name `destination` too, never replacing a file there.
fn place(from: &Path, destination: &Path) -> Result<Placement, ArchiveWalError> {
    match rename_no_replace(from, destination) {
        Ok(()) => Ok(Placement::Placed),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(Placement::NameTaken),
        Err(err) if err.raw_os_error() == Some(nix::libc::EXDEV) => Ok(Placement::OtherFilesystem),
        Err(source) => Err(FileError::at("archive", from)(source).into()),
    }
}

/// Archived files whose syncs, source removal and cataloguing are still pending.
struct CommitGroup {
    entries: Vec<XlogDbEntry>,
    directories: HashSet<PathBuf>,
    /// The files' original names, removed once their archive names are durable.
    sources: Vec<PathBuf>,
    started: Instant,
}

impl CommitGroup {
    fn new() -> Self {
        CommitGroup {
            entries: Vec::new(),
            directories: HashSet::new(),
            sources: Vec::new(),
            started: Instant::now(),
        }
    }

    fn is_due(&self) -> bool {
        self.entries.len() >= GROUP_MAX_FILES || self.started.elapsed() >= GROUP_MAX_AGE
    }
}

struct ArchiveRun<'a> {
    layout: &'a ArchiveLayout,
    settings: &'a ArchiveSettings,
    summary: ArchiveSummary,
    /// Hash directories known to exist, so each is created (and checked) once per run.
    created_dirs: HashSet<PathBuf>,
    /// Whether the catalogue is known to exist (a missing one is rebuilt before the first file
    /// is archived, so that it does not miss what is already in `wals/`).
    catalogue_checked: bool,
}

impl ArchiveRun<'_> {
    fn process(&mut self, source: WalSource, report: &mut dyn FnMut(ArchiveEvent)) -> Result<(), ArchiveWalError> {
        let source_dir = match source {
            WalSource::Streaming => &self.layout.streaming,
            WalSource::FileArchival => &self.layout.incoming,
        };
        let batch = list_batch(source, source_dir, self.batch_size(source))?;
        let run_size = batch.files.len();
        report(ArchiveEvent::Processing {
            source,
            server: self.layout.server.clone(),
            batch_size: (run_size > 0 && batch.listed > run_size).then_some(run_size),
        });
        if run_size > 0 && !self.catalogue_checked {
            if !self.layout.xlogdb().exists() {
                rebuild_xlogdb(self.layout)?;
            }
            self.catalogue_checked = true;
        }
        let mut group = CommitGroup::new();
        for file in &batch.files {
            report(ArchiveEvent::Archiving {
                name: file.name.to_string(),
            });
            match self.store(file, source)? {
                Stored::Archived(entry) => {
                    group.entries.push(entry);
                    group.directories.insert(self.destination_dir(&file.name));
                    group.sources.push(file.path.clone());
                    self.summary.archived += 1;
                }
                Stored::AlreadyArchived => self.summary.already_archived += 1,
                Stored::Duplicate(moved_to) => {
                    self.summary.duplicates += 1;
                    report(ArchiveEvent::Duplicate {
                        name: file.name.to_string(),
                        server: self.layout.server.clone(),
                        moved_to,
                    });
                }
            }
            if group.is_due() {
                self.commit(std::mem::replace(&mut group, CommitGroup::new()), source_dir)?;
            }
        }
        self.commit(group, source_dir)?;
        if run_size == 0 {
            report(ArchiveEvent::NoFileFound);
        }
        if !batch.unknown.is_empty() {
            report(ArchiveEvent::UnknownObjects {
                server: self.layout.server.clone(),
                names: batch.unknown.iter().map(|(name, _)| name.clone()).collect(),
            });
            for (name, path) in &batch.unknown {
                self.move_to_errors(path, name, "unknown")?;
                self.summary.unknown += 1;
            }
        }
        Ok(())
    }

    fn batch_size(&self, source: WalSource) -> usize {
        match source {
            WalSource::Streaming => self.settings.streaming_archiver_batch_size,
            WalSource::FileArchival => self.settings.archiver_batch_size,
        }
    }

    fn destination_dir(&self, name: &WalFileName) -> PathBuf {
        let destination = self.layout.archived_path(name);
        destination.parent().unwrap_or(&self.layout.wals).to_owned()
    }

    /// Puts one file in the archive, or settles it as a duplicate.
    fn store(&mut self, file: &Queued, source: WalSource) -> Result<Stored, ArchiveWalError> {
        let destination = self.layout.archived_path(&file.name);
        let destination_dir = self.destination_dir(&file.name);
        if !self.created_dirs.contains(&destination_dir) {
            fs::create_dir_all(&destination_dir).map_err(FileError::at("create directory", &destination_dir))?;
            self.created_dirs.insert(destination_dir);
        }
        let metadata = fs::metadata(&file.path).map_err(FileError::at("read", &file.path))?;
        // Streamed files are plain by construction; only delivered ones are sniffed.
        let sent_compression = match source {
            WalSource::Streaming => None,
            WalSource::FileArchival => {
                StoredFile::open(&file.path)
                    .map_err(FileError::at("read", &file.path))?
                    .compression
            }
        };
        // Files the client compressed are kept as sent; plain ones get the configured compression.
        let recompression = self.settings.compression.filter(|_| sent_compression.is_none());
        let placement = match recompression {
            None => match self.link_as_is(file, &destination)? {
                Placement::OtherFilesystem => self.write_copy(file, &destination, None, &metadata)?,
                placement => placement,
            },
            Some(_) if destination.exists() => Placement::NameTaken,
            Some(kind) => self.write_copy(file, &destination, Some(kind), &metadata)?,
        };
        if placement == Placement::NameTaken {
            return self.settle_duplicate(file, &destination);
        }
        let stored_size = match recompression {
            None => metadata.len(),
            Some(_) => fs::metadata(&destination)
                .map_err(FileError::at("read", &destination))?
                .len(),
        };
        Ok(Stored::Archived(XlogDbEntry {
            name: file.name.to_string(),
            size: stored_size,
            time: mtime_seconds(&metadata),
            compression: sent_compression.or(recompression).map(|kind| kind.name().to_owned()),
            encryption: None,
        }))
    }

    /// Gives the source file its archive name as well, without copying.
    fn link_as_is(&self, file: &Queued, destination: &Path) -> Result<Placement, ArchiveWalError> {
        // A file written by put-wal is already on disk: syncing it costs nothing. A file
        // copied by another archive_command may not be.
        File::open(&file.path)
            .and_then(|opened| opened.sync_data())
            .map_err(FileError::at("sync", &file.path))?;
        place(&file.path, destination)
    }

    /// Writes the source (compressed with `compression`, or as is when the archive is on
    /// another filesystem) to `<destination>.tmp`, syncs it, gives it the source's times and
    /// mode, then its archive name.
    fn write_copy(
        &self,
        file: &Queued,
        destination: &Path,
        compression: Option<CompressionKind>,
        metadata: &fs::Metadata,
    ) -> Result<Placement, ArchiveWalError> {
        let mut temp_name = destination.as_os_str().to_owned();
        temp_name.push(".tmp");
        // Removed whatever happens: once placed, the archive name is a second link to it.
        let temp = TempFile::new(PathBuf::from(temp_name));
        let input = File::open(&file.path).map_err(FileError::at("read", &file.path))?;
        let mut output = File::create(temp.path()).map_err(FileError::at("write", temp.path()))?;
        match compression {
            Some(kind) => {
                compress(kind, self.settings.compression_level, input, &mut output).map_err(|source| {
                    ArchiveWalError::Compress {
                        path: file.path.clone(),
                        source,
                    }
                })?;
            }
            None => {
                io::copy(&mut &input, &mut output).map_err(FileError::at("copy", &file.path))?;
            }
        }
        let times = FileTimes::new()
            .set_accessed(metadata.accessed().map_err(FileError::at("read", &file.path))?)
            .set_modified(metadata.modified().map_err(FileError::at("read", &file.path))?);
        output
            .set_times(times)
            .and_then(|()| output.set_permissions(metadata.permissions()))
            .and_then(|()| output.sync_all())
            .map_err(FileError::at("write", temp.path()))?;
        place(temp.path(), destination)
    }

    /// The archive holds `destination` already: drop the source if it holds the same WAL,
    /// else move it to `errors/`.
    fn settle_duplicate(&self, file: &Queued, destination: &Path) -> Result<Stored, ArchiveWalError> {
        let source_content = content_digest(&file.path).map_err(FileError::at("read", &file.path))?;
        let archived_content = content_digest(destination).map_err(FileError::at("read", destination))?;
        if source_content == archived_content {
            remove_if_present(&file.path)?;
            return Ok(Stored::AlreadyArchived);
        }
        let moved_to = self.move_to_errors(&file.path, file.name.as_str(), "duplicate")?;
        Ok(Stored::Duplicate(moved_to))
    }

    fn move_to_errors(&self, path: &Path, name: &str, reason: &str) -> Result<PathBuf, ArchiveWalError> {
        fs::create_dir_all(&self.layout.errors).map_err(FileError::at("create directory", &self.layout.errors))?;
        let target = self.layout.error_path(name, reason);
        move_file(path, &target).map_err(FileError::at("move to the errors directory", path))?;
        Ok(target)
    }

    /// Makes a group's files durable in the archive, then removes their sources and catalogues
    /// them. A crash before the removal leaves a file in both places, which the next run
    /// settles as a duplicate with identical content.
    fn commit(&self, group: CommitGroup, source_dir: &Path) -> Result<(), ArchiveWalError> {
        if group.entries.is_empty() {
            return Ok(());
        }
        for directory in &group.directories {
            sync_dir(directory).map_err(FileError::at("sync", directory))?;
        }
        for source in &group.sources {
            remove_if_present(source)?;
        }
        sync_dir(source_dir).map_err(FileError::at("sync", source_dir))?;
        self.layout.xlogdb().lock()?.append(&group.entries)?;
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> Result<(), ArchiveWalError> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(FileError::at("remove", path)(err).into()),
        _ => Ok(()),
    }
}

/// Lists `dir` once and sorts its entries into this run's work, as Barman does for `source`.
fn list_batch(source: WalSource, dir: &Path, batch_size: usize) -> Result<Batch, ArchiveWalError> {
    let mut entries: Vec<(String, fs::DirEntry)> = match fs::read_dir(dir) {
        Ok(read) => read
            .map(|entry| entry.map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry)))
            .collect::<io::Result<_>>()
            .map_err(FileError::at("list", dir))?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(FileError::at("list", dir)(err).into()),
    };
    // Hidden entries (put-wal's temporary files among them) are not Barman's business.
    entries.retain(|(name, _)| !name.starts_with('.'));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let listed = entries.len();
    if batch_size > 0 {
        entries.truncate(batch_size);
    }
    let mut files = Vec::new();
    let mut partials = Vec::new();
    let mut unknown = Vec::new();
    for (name, entry) in entries {
        if name.ends_with(".tmp") {
            continue;
        }
        let path = entry.path();
        let wal_name = WalFileName::parse(&name).ok();
        match wal_name {
            Some(wal_name) if is_regular_file(&entry) => {
                if source == WalSource::Streaming && wal_name.kind() == WalFileKind::Partial {
                    partials.push(Queued { name: wal_name, path });
                } else {
                    files.push(Queued { name: wal_name, path });
                }
            }
            _ => unknown.push((name, path)),
        }
    }
    if source == WalSource::Streaming {
        // pg_receivewal resumes from the newest file, so one always stays: the newest partial,
        // or the newest complete segment when there is no partial.
        if partials.pop().is_none() {
            files.pop();
        }
        files.extend(partials);
    }
    Ok(Batch { files, unknown, listed })
}

/// A regular file, following symbolic links as Barman's `os.path.isfile` does.
fn is_regular_file(entry: &fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(kind) if kind.is_symlink() => fs::metadata(entry.path()).is_ok_and(|m| m.is_file()),
        Ok(kind) => kind.is_file(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::decompress;

    const WAL: &[u8] = include_bytes!("../../tests/data/wal/pg15-16mib/000000010000000000000003");

    fn settings(compression: Option<CompressionKind>) -> ArchiveSettings {
        ArchiveSettings {
            compression,
            compression_level: CompressionLevel::Low,
            file_archiver: true,
            streaming_archiver: true,
            archiver_batch_size: 0,
            streaming_archiver_batch_size: 0,
        }
    }

    fn run(layout: &ArchiveLayout, settings: &ArchiveSettings) -> (ArchiveSummary, Vec<String>) {
        let mut lines = Vec::new();
        let outcome = archive_wal(layout, settings, &mut |event| lines.push(event.to_string())).unwrap();
        let ArchiveOutcome::Done(summary) = outcome else {
            panic!("lock busy")
        };
        (summary, lines)
    }

    fn put(dir: &Path, name: &str, content: &[u8]) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(name), content).unwrap();
    }

    fn catalogue(layout: &ArchiveLayout) -> Vec<(String, Option<String>)> {
        let entries = layout.xlogdb().lock().unwrap().read().unwrap();
        entries.into_iter().map(|e| (e.name, e.compression)).collect()
    }

    #[test]
    fn compresses_plain_files_and_keeps_client_compressed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        put(&layout.incoming, "000000010000000000000003", WAL);
        let mut client_compressed = Vec::new();
        compress(
            CompressionKind::Bzip2,
            CompressionLevel::Low,
            WAL,
            &mut client_compressed,
        )
        .unwrap();
        put(&layout.incoming, "000000010000000000000004", &client_compressed);
        let (summary, lines) = run(&layout, &settings(Some(CompressionKind::Gzip)));
        assert_eq!(summary.archived, 2);
        assert_eq!(
            lines,
            [
                "Processing xlog segments from streaming for pg",
                "\tno file found",
                "Processing xlog segments from file archival for pg",
                "\t000000010000000000000003",
                "\t000000010000000000000004",
            ]
        );
        let hash_dir = layout.wals.join("0000000100000000");
        let mut restored = Vec::new();
        decompress(
            CompressionKind::Gzip,
            File::open(hash_dir.join("000000010000000000000003")).unwrap(),
            &mut restored,
        )
        .unwrap();
        assert_eq!(restored, WAL);
        assert_eq!(
            fs::read(hash_dir.join("000000010000000000000004")).unwrap(),
            client_compressed
        );
        assert_eq!(
            catalogue(&layout),
            [
                ("000000010000000000000003".to_owned(), Some("gzip".to_owned())),
                ("000000010000000000000004".to_owned(), Some("bzip2".to_owned())),
            ]
        );
        assert_eq!(fs::read_dir(&layout.incoming).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&hash_dir).unwrap().count(), 2, "no temporary file left");
    }

    #[test]
    fn settles_duplicates_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        put(&layout.incoming, "000000010000000000000003", WAL);
        run(&layout, &settings(Some(CompressionKind::Zstd)));
        put(&layout.incoming, "000000010000000000000003", WAL);
        let (summary, _) = run(&layout, &settings(None));
        assert_eq!((summary.archived, summary.already_archived), (0, 1));
        put(&layout.incoming, "000000010000000000000003", b"something else");
        let (summary, lines) = run(&layout, &settings(None));
        assert_eq!(summary.duplicates, 1);
        assert_eq!(
            lines.last().unwrap(),
            "\tError: 000000010000000000000003 is already present in server pg. File moved to errors directory."
        );
        let errors: Vec<_> = fs::read_dir(&layout.errors)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(fs::read(&errors[0]).unwrap(), b"something else");
        assert_eq!(catalogue(&layout).len(), 1);
    }

    #[test]
    fn streaming_keeps_the_newest_file_for_pg_receivewal() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        for name in ["000000010000000000000002", "000000010000000000000003"] {
            put(&layout.streaming, name, b"wal");
        }
        let (_, lines) = run(&layout, &settings(None));
        assert_eq!(
            lines[..2],
            [
                "Processing xlog segments from streaming for pg (batch size: 1)",
                "\t000000010000000000000002"
            ]
        );
        assert!(layout.streaming.join("000000010000000000000003").exists());

        put(&layout.streaming, "000000010000000000000004.partial", b"x");
        put(&layout.streaming, "000000010000000000000005.partial", b"x");
        let (_, lines) = run(&layout, &settings(None));
        assert_eq!(
            lines[..3],
            [
                "Processing xlog segments from streaming for pg (batch size: 2)",
                "\t000000010000000000000003",
                "\t000000010000000000000004.partial",
            ]
        );
        assert_eq!(
            fs::read_dir(&layout.streaming).unwrap().count(),
            1,
            "only the newest partial stays"
        );
    }

    #[test]
    fn batch_sizes_cut_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        for seg in 1..=5 {
            put(&layout.incoming, &format!("00000001000000000000000{seg}"), b"wal");
        }
        let limited = ArchiveSettings {
            archiver_batch_size: 2,
            streaming_archiver: false,
            ..settings(None)
        };
        let (summary, lines) = run(&layout, &limited);
        assert_eq!(summary.archived, 2);
        assert_eq!(
            lines[0],
            "Processing xlog segments from file archival for pg (batch size: 2)"
        );
        assert_eq!(fs::read_dir(&layout.incoming).unwrap().count(), 3);
    }

    #[test]
    fn a_held_lock_skips_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        let _held = LockFile::try_acquire(&layout.lock_directory, LockName::ArchiveWal("pg"))
            .unwrap()
            .unwrap();
        let outcome = archive_wal(&layout, &settings(None), &mut |_| {}).unwrap();
        assert_eq!(outcome, ArchiveOutcome::AlreadyRunning);
    }

    #[test]
    fn a_missing_catalogue_is_rebuilt_before_archiving_and_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ArchiveLayout::for_tests(dir.path());
        run(&layout, &settings(None));
        assert!(!layout.xlogdb().exists(), "an empty run writes nothing");
        put(
            &layout.wals.join("0000000100000000"),
            "000000010000000000000002",
            b"old",
        );
        put(&layout.incoming, "000000010000000000000003", b"new");
        run(&layout, &settings(None));
        let names: Vec<String> = catalogue(&layout).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["000000010000000000000002", "000000010000000000000003"]);
    }
}
