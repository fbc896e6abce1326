//! PostgreSQL major versions and the WAL page magic each one writes.
//!
//! Every WAL page starts with `xlp_magic` (`XLOG_PAGE_MAGIC` in PostgreSQL's
//! `src/include/access/xlog_internal.h`), bumped whenever the WAL format changes, in practice
//! once per major release. Reading it tells which major version wrote a segment, which lets
//! put-wal refuse WAL from the wrong server before it reaches the archive.

use std::fmt;
use std::str::FromStr;

/// A PostgreSQL major version: `9.6`, `10`, `11`, ... as Barman writes it in `identity.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PgMajorVersion {
    /// `server_version_num` of the major's first release: 90600, 100000, 150000, ...
    version_num: u32,
}

/// `XLOG_PAGE_MAGIC` of every supported major version, oldest first.
const PAGE_MAGICS: [(u16, PgMajorVersion); 10] = [
    (0xD093, PgMajorVersion::new_unchecked(90600)),
    (0xD097, PgMajorVersion::new_unchecked(100000)),
    (0xD098, PgMajorVersion::new_unchecked(110000)),
    (0xD101, PgMajorVersion::new_unchecked(120000)),
    (0xD106, PgMajorVersion::new_unchecked(130000)),
    (0xD10D, PgMajorVersion::new_unchecked(140000)),
    (0xD110, PgMajorVersion::new_unchecked(150000)),
    (0xD113, PgMajorVersion::new_unchecked(160000)),
    (0xD116, PgMajorVersion::new_unchecked(170000)),
    (0xD118, PgMajorVersion::new_unchecked(180000)),
];

impl PgMajorVersion {
    const fn new_unchecked(version_num: u32) -> Self {
        PgMajorVersion { version_num }
    }

    /// The major version of a `server_version_num` (`SHOW server_version_num`, backup.info
    /// `version`): 90624 → 9.6, 150018 → 15.
    pub fn from_server_version_num(version_num: u32) -> Self {
        let major_num = if version_num >= 100000 {
            version_num / 10000 * 10000
        } else {
            version_num / 100 * 100
        };
        PgMajorVersion::new_unchecked(major_num)
    }

    /// `server_version_num` of the first release of this major (e.g. 150000).
    pub fn version_num(self) -> u32 {
        self.version_num
    }

    /// The WAL page magic this major version writes, if it is one this crate knows.
    pub fn wal_page_magic(self) -> Option<u16> {
        PAGE_MAGICS
            .iter()
            .find(|(_, version)| *version == self)
            .map(|(magic, _)| *magic)
    }

    /// The major version that writes `magic`, if known.
    pub fn from_wal_page_magic(magic: u16) -> Option<Self> {
        PAGE_MAGICS
            .iter()
            .find(|(known, _)| *known == magic)
            .map(|(_, version)| *version)
    }

    /// The newest major version whose WAL page magic is known.
    pub fn newest_known() -> Self {
        PAGE_MAGICS[PAGE_MAGICS.len() - 1].1
    }

    /// All `(magic, version)` pairs this crate knows, oldest first.
    pub fn known_wal_page_magics() -> &'static [(u16, PgMajorVersion)] {
        &PAGE_MAGICS
    }
}

impl fmt::Display for PgMajorVersion {
    /// `9.6` before version 10, the bare major number from 10 on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let major = self.version_num / 10000;
        if major >= 10 {
            write!(f, "{major}")
        } else {
            write!(f, "{major}.{}", self.version_num / 100 % 100)
        }
    }
}

/// Error for text that is not a PostgreSQL major version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PostgreSQL major version '{text}': expected e.g. '9.6' or '15'")]
pub struct PgMajorVersionParseError {
    /// The rejected text.
    pub text: String,
}

impl FromStr for PgMajorVersion {
    type Err = PgMajorVersionParseError;

    /// Accepts the `identity.json` spelling (`9.6`, `15`) and full version strings whose extra
    /// parts are the minor release (`9.6.24`, `15.4`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || PgMajorVersionParseError { text: text.to_owned() };
        let mut parts = text.split('.').map(|part| {
            (!part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u32>().ok())
                .flatten()
        });
        let major = parts.next().flatten().ok_or_else(error)?;
        let second = parts.next();
        let third = parts.next();
        if parts.next().is_some() {
            return Err(error());
        }
        match (major, second, third) {
            (10.., None | Some(Some(_)), None) => Ok(Self::new_unchecked(major * 10000)),
            (1..=9, Some(Some(minor @ 0..=99)), None | Some(Some(_))) => {
                Ok(Self::new_unchecked(major * 10000 + minor * 100))
            }
            _ => Err(error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> PgMajorVersion {
        text.parse().unwrap()
    }

    #[test]
    fn maps_every_supported_version_to_its_magic() {
        let expected = [
            ("9.6", 0xD093),
            ("10", 0xD097),
            ("11", 0xD098),
            ("12", 0xD101),
            ("13", 0xD106),
            ("14", 0xD10D),
            ("15", 0xD110),
            ("16", 0xD113),
            ("17", 0xD116),
            ("18", 0xD118),
        ];
        for (version, magic) in expected {
            assert_eq!(v(version).wal_page_magic(), Some(magic), "{version}");
            assert_eq!(PgMajorVersion::from_wal_page_magic(magic), Some(v(version)));
        }
        assert_eq!(v("9.5").wal_page_magic(), None);
        assert_eq!(v("19").wal_page_magic(), None);
        assert_eq!(PgMajorVersion::from_wal_page_magic(0xD087), None);
        assert_eq!(PgMajorVersion::newest_known(), v("18"));
        assert_eq!(PgMajorVersion::known_wal_page_magics().len(), expected.len());
    }

    #[test]
    fn derives_major_from_server_version_num() {
        assert_eq!(PgMajorVersion::from_server_version_num(90624), v("9.6"));
        assert_eq!(PgMajorVersion::from_server_version_num(100023), v("10"));
        assert_eq!(PgMajorVersion::from_server_version_num(150018), v("15"));
        assert_eq!(PgMajorVersion::from_server_version_num(180000).version_num(), 180000);
    }

    #[test]
    fn displays_identity_json_spelling() {
        assert_eq!(v("9.6").to_string(), "9.6");
        assert_eq!(v("15").to_string(), "15");
        assert_eq!(v("15.4").to_string(), "15");
        assert_eq!(v("9.6.24").to_string(), "9.6");
    }

    #[test]
    fn rejects_malformed_versions() {
        for bad in ["", "9", "abc", "15.", ".15", "9.6.1.2", "15.x", "-1", "9.100", "0.9"] {
            assert_eq!(bad.parse::<PgMajorVersion>().unwrap_err().text, bad, "{bad}");
        }
    }

    #[test]
    fn orders_by_release() {
        assert!(v("9.6") < v("10"));
        assert!(v("17") < v("18"));
    }
}
