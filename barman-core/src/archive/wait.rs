//! Waiting for a WAL file to reach the archive, as `switch-wal --archive` does: archive-wal
//! runs every 0.1 s until the awaited file is in `wals/` (or, when no particular file is
//! awaited, until the newest archived WAL of some timeline changes), or the time is up.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::{archive_wal, ArchiveEvent, ArchiveLayout, ArchiveSettings, ArchiveWalError};
use crate::wal::{WalFileKind, WalFileName};

/// How often archive-wal runs while waiting.
pub const WAIT_INTERVAL: Duration = Duration::from_millis(100);

/// What to wait for.
#[derive(Debug, Clone, Copy)]
pub enum AwaitedWal<'a> {
    /// This file.
    File(&'a WalFileName),
    /// Any file archived after the wait begins, on any timeline.
    AnyNew,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The awaited WAL is archived.
    Archived,
    /// The time ran out first.
    TimedOut,
}

/// Runs archive-wal every [`WAIT_INTERVAL`] until `awaited` is archived or `timeout` (`None`:
/// no limit) has passed. archive-wal's events go to `report`; a run that finds another
/// archive-wal at work is simply retried.
pub fn wait_for_archived_wal(
    layout: &ArchiveLayout,
    settings: &ArchiveSettings,
    awaited: AwaitedWal<'_>,
    timeout: Option<Duration>,
    report: &mut dyn FnMut(ArchiveEvent),
) -> Result<WaitOutcome, ArchiveWalError> {
    let initial = match awaited {
        AwaitedWal::AnyNew => latest_archived_per_timeline(&layout.wals),
        AwaitedWal::File(_) => BTreeMap::new(),
    };
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    while deadline.is_none_or(|deadline| Instant::now() < deadline) {
        archive_wal(layout, settings, report)?;
        let arrived = match awaited {
            AwaitedWal::File(name) => layout.archived_path(name).exists(),
            AwaitedWal::AnyNew => latest_archived_per_timeline(&layout.wals) != initial,
        };
        if arrived {
            return Ok(WaitOutcome::Archived);
        }
        thread::sleep(WAIT_INTERVAL);
    }
    Ok(WaitOutcome::TimedOut)
}

/// The newest WAL segment of each timeline in the archive `wals`, keyed by timeline (the
/// first 8 hexadecimal digits), as Barman finds them: the last segment of the last hash
/// directory of each timeline.
pub fn latest_archived_per_timeline(wals: &Path) -> BTreeMap<String, String> {
    let mut latest = BTreeMap::new();
    let mut directories = sorted_names(wals);
    directories.reverse();
    for directory in directories {
        let Some(timeline) = directory.get(..8).filter(|t| u32::from_str_radix(t, 16).is_ok()) else {
            continue;
        };
        if latest.contains_key(timeline) || !wals.join(&directory).is_dir() {
            continue;
        }
        let newest = sorted_names(&wals.join(&directory))
            .into_iter()
            .rev()
            .find(|name| is_segment(name) && !wals.join(&directory).join(name).is_dir());
        if let Some(newest) = newest {
            latest.insert(timeline.to_owned(), newest);
        }
    }
    latest
}

fn is_segment(name: &str) -> bool {
    WalFileName::parse(name).is_ok_and(|name| name.kind() == WalFileKind::Segment)
}

fn sorted_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_segment_of_each_timeline_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let wals = dir.path();
        for path in [
            "0000000100000000/000000010000000000000001",
            "0000000100000000/000000010000000000000002",
            "0000000100000001/000000010000000100000000",
            "0000000100000001/000000010000000100000000.partial",
            "0000000200000001/000000020000000100000003",
            "0000000200000001/000000020000000100000004.00000028.backup",
        ] {
            let path = wals.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, b"").unwrap();
        }
        fs::write(wals.join("00000002.history"), b"").unwrap();
        let latest = latest_archived_per_timeline(wals);
        assert_eq!(
            latest.into_iter().collect::<Vec<_>>(),
            vec![
                ("00000001".to_owned(), "000000010000000100000000".to_owned()),
                ("00000002".to_owned(), "000000020000000100000003".to_owned()),
            ]
        );
        assert!(latest_archived_per_timeline(&wals.join("missing")).is_empty());
    }
}
