//! Filesystem failures, named with what was being done and to which path, so that every
//! message says `cannot <action> '<path>': <reason>` the same way.

use std::io;
use std::path::{Path, PathBuf};

/// A filesystem operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} '{}': {source}", path.display())]
pub struct FileError {
    /// What was being done (`read`, `write`, `sync`, ...).
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

impl FileError {
    /// An adapter for `map_err`: `fs::read(path).map_err(FileError::at("read", path))`.
    pub fn at<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FileError + 'a {
        move |source| FileError {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_action_and_the_path() {
        let error = FileError::at("read", Path::new("/x/y"))(io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(error.to_string(), "cannot read '/x/y': entity not found");
    }
}
