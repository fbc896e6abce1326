//! Typed configuration values: how a raw string from a configuration file becomes a boolean, a
//! size, an interval, a retention policy or a list of options, and how it is shown again.
//!
//! Parsing follows Barman's rules exactly (accepted spellings, case rules, units), because a
//! `barman.conf` written for Barman must mean the same thing here. Rendering follows Barman's
//! console output where users and scripts read it (`True`/`False`/`None`, `REDUNDANCY 2`).

use std::fmt;

use crate::compression::{CompressionKind, CompressionLevel};

/// The type of a configuration option, which decides how its raw text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (paths, commands, connection strings): kept as written.
    Text,
    /// An absolute path (`staging_path` and friends).
    AbsolutePath,
    /// `true|t|yes|1|on` / `false|f|no|0|off`, case-insensitive.
    Bool,
    /// A signed integer.
    Int,
    /// A byte count with an optional SI (`k`, `M`, `G`, `T`) or IEC (`Ki`, `Mi`, `Gi`, `Ti`) suffix.
    Size,
    /// `N day|week|month|hour[s]` (a month is 31 days).
    Interval,
    /// `REDUNDANCY n` or `RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS`.
    RetentionPolicy,
    /// The WAL retention policy: only `main` exists.
    WalRetentionPolicy,
    /// A comma-separated subset of the listed words; the pairs are mutually exclusive.
    Csv {
        /// The words that may appear.
        allowed: &'static [&'static str],
        /// Pairs of words that exclude each other.
        conflicts: &'static [(&'static str, &'static str)],
    },
    /// One of the listed words, case-insensitive, stored lower-cased.
    Choice(&'static [&'static str]),
    /// Like [`Kind::Choice`] but the word `none` means unset.
    ChoiceOrNone(&'static [&'static str]),
    /// A WAL compression name, or unset when empty.
    Compression,
    /// `low`, `medium`, `high` or an integer.
    CompressionLevel,
    /// A physical replication slot name: `[0-9a-z_]+` after lower-casing.
    SlotName,
    /// A comma-separated list of non-empty names.
    NameList,
}

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Text, kept as written.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Bytes.
    Size(u64),
    /// A time interval.
    Interval(Interval),
    /// A backup retention policy.
    RetentionPolicy(RetentionPolicy),
    /// The only WAL retention policy Barman knows.
    WalRetentionMain,
    /// Sorted, de-duplicated words.
    Csv(Vec<String>),
    /// A WAL compression level.
    CompressionLevel(CompressionLevel),
    /// A list of names, in the order written.
    List(Vec<String>),
}

/// A time interval as Barman's configuration expresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    seconds: u64,
}

impl Interval {
    /// An interval of `seconds` seconds.
    pub fn from_seconds(seconds: u64) -> Self {
        Interval { seconds }
    }

    /// The length in seconds.
    pub fn as_seconds(&self) -> u64 {
        self.seconds
    }
}

impl fmt::Display for Interval {
    /// Renders as Barman does: `7 days`, `1 day, 2 hours`, `30 minutes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            (self.seconds / 86_400, "day"),
            (self.seconds % 86_400 / 3600, "hour"),
            (self.seconds % 3600 / 60, "minute"),
            (self.seconds % 60, "second"),
        ];
        let parts: Vec<String> = units
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
            .collect();
        if parts.is_empty() {
            f.write_str("less than one second")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A backup retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPolicy {
    /// Keep the newest `n` backups.
    Redundancy(u32),
    /// Keep what is needed to recover to any point in the last `n` units.
    RecoveryWindow(u32, WindowUnit),
}

/// The unit of a recovery window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowUnit {
    /// `DAYS`.
    Days,
    /// `WEEKS`.
    Weeks,
    /// `MONTHS` (31 days each).
    Months,
}

impl fmt::Display for RetentionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetentionPolicy::Redundancy(n) => write!(f, "REDUNDANCY {n}"),
            RetentionPolicy::RecoveryWindow(n, unit) => {
                let unit = match unit {
                    WindowUnit::Days => "DAYS",
                    WindowUnit::Weeks => "WEEKS",
                    WindowUnit::Months => "MONTHS",
                };
                write!(f, "RECOVERY WINDOW OF {n} {unit}")
            }
        }
    }
}

impl fmt::Display for Value {
    /// The console rendering used by `show-servers`: Python-style booleans, plain numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Size(n) => write!(f, "{n}"),
            Value::Interval(i) => write!(f, "{i}"),
            Value::RetentionPolicy(p) => write!(f, "{p}"),
            Value::WalRetentionMain => f.write_str("MAIN"),
            Value::Csv(words) | Value::List(words) => f.write_str(&words.join(",")),
            Value::CompressionLevel(level) => write!(f, "{level}"),
        }
    }
}

impl Value {
    /// The JSON rendering used by `-f json` and `diagnose`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Size(n) => serde_json::Value::from(*n),
            Value::List(words) => serde_json::Value::from(words.clone()),
            Value::CompressionLevel(CompressionLevel::Number(n)) => serde_json::Value::from(*n),
            other => serde_json::Value::String(other.to_string()),
        }
    }
}

/// Parses `raw` as a value of `kind`. `Ok(None)` means the text stands for "unset".
/// The error is the reason shown to the user after the offending value.
pub fn parse(kind: Kind, raw: &str) -> Result<Option<Value>, String> {
    match kind {
        Kind::Text => Ok(Some(Value::Text(raw.to_string()))),
        Kind::AbsolutePath => {
            if raw.starts_with('/') {
                Ok(Some(Value::Text(raw.to_string())))
            } else {
                Err(format!("'{raw}' is not an absolute path"))
            }
        }
        Kind::Bool => parse_bool(raw).map(|b| Some(Value::Bool(b))),
        Kind::Int => raw
            .trim()
            .parse::<i64>()
            .map(|n| Some(Value::Int(n)))
            .map_err(|_| format!("'{raw}' is not an integer")),
        Kind::Size => parse_size(raw).map(|s| s.map(Value::Size)),
        Kind::Interval => parse_interval(raw).map(|i| i.map(Value::Interval)),
        Kind::RetentionPolicy => parse_retention_policy(raw).map(|p| Some(Value::RetentionPolicy(p))),
        Kind::WalRetentionPolicy => {
            if raw.trim().eq_ignore_ascii_case("main") {
                Ok(Some(Value::WalRetentionMain))
            } else {
                Err(format!("'{raw}' is not a WAL retention policy (only 'main' exists)"))
            }
        }
        Kind::Csv { allowed, conflicts } => parse_csv(raw, allowed, conflicts).map(|w| Some(Value::Csv(w))),
        Kind::Choice(allowed) => parse_choice(raw, allowed).map(|c| Some(Value::Text(c))),
        Kind::ChoiceOrNone(allowed) => {
            if raw.eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                parse_choice(raw, allowed).map(|c| Some(Value::Text(c)))
            }
        }
        Kind::Compression => {
            if raw.is_empty() {
                Ok(None)
            } else {
                let lower = raw.to_ascii_lowercase();
                lower
                    .parse::<CompressionKind>()
                    .map(|kind| Some(Value::Text(kind.name().to_string())))
                    .map_err(|_| {
                        let names: Vec<&str> = CompressionKind::ALL.iter().map(|k| k.name()).collect();
                        format!("'{raw}' is not one of: {}", names.join(", "))
                    })
            }
        }
        Kind::CompressionLevel => parse_compression_level(raw).map(|l| l.map(Value::CompressionLevel)),
        Kind::SlotName => parse_slot_name(raw).map(|s| Some(Value::Text(s))),
        Kind::NameList => parse_name_list(raw).map(|l| Some(Value::List(l))),
    }
}

/// Barman's boolean spellings.
pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "1" | "on" => Ok(true),
        "false" | "f" | "no" | "0" | "off" => Ok(false),
        _ => Err("Invalid boolean representation (must be one in: true|t|yes|1|on | false|f|no|0|off)".into()),
    }
}

fn parse_size(raw: &str) -> Result<Option<u64>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = || format!("'{raw}' is not a size (a number with an optional k, Ki, M, Mi, G, Gi, T or Ti suffix)");
    let text = raw.trim_end();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    let multiplier: u64 = match suffix.trim_start() {
        "" => 1,
        "k" => 1000,
        "Ki" => 1 << 10,
        "M" => 1_000_000,
        "Mi" => 1 << 20,
        "G" => 1_000_000_000,
        "Gi" => 1 << 30,
        "T" => 1_000_000_000_000,
        "Ti" => 1 << 40,
        _ => return Err(invalid()),
    };
    number.checked_mul(multiplier).map(Some).ok_or_else(invalid)
}

/// Splits `N word` (with at least one space between) into the number and the lower-cased word.
fn split_count_and_unit(text: &str) -> Option<(u32, String)> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, rest) = text.split_at(digits_end);
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some((digits.parse().ok()?, rest.trim().to_ascii_lowercase()))
}

/// Strips an optional plural `s` and checks the unit is one of `units`.
fn singular_unit<'a>(word: &str, units: &[&'a str]) -> Option<&'a str> {
    let singular = word.strip_suffix('s').unwrap_or(word);
    units.iter().copied().find(|unit| *unit == singular)
}

fn parse_interval(raw: &str) -> Result<Option<Interval>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = || format!("'{raw}' is not a time interval (N day|week|month|hour[s])");
    let (count, word) = split_count_and_unit(raw).ok_or_else(invalid)?;
    let unit_seconds = match singular_unit(&word, &["day", "week", "month", "hour"]).ok_or_else(invalid)? {
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 31 * 86_400,
        _ => 3600,
    };
    Ok(Some(Interval::from_seconds(u64::from(count) * unit_seconds)))
}

/// Parses `REDUNDANCY n` or `RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS`, case-insensitive.
pub fn parse_retention_policy(raw: &str) -> Result<RetentionPolicy, String> {
    let invalid =
        || format!("'{raw}' is not a retention policy (REDUNDANCY n, or RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS)");
    let lower = raw.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    match words.as_slice() {
        ["redundancy", n] => n.parse().map(RetentionPolicy::Redundancy).map_err(|_| invalid()),
        ["recovery", "window", "of", n, unit] => {
            let n = n.parse().map_err(|_| invalid())?;
            let unit = match singular_unit(unit, &["day", "week", "month"]).ok_or_else(invalid)? {
                "day" => WindowUnit::Days,
                "week" => WindowUnit::Weeks,
                _ => WindowUnit::Months,
            };
            Ok(RetentionPolicy::RecoveryWindow(n, unit))
        }
        _ => Err(invalid()),
    }
}

fn parse_csv(raw: &str, allowed: &[&str], conflicts: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let mut words: Vec<String> = Vec::new();
    for word in raw
        .split(',')
        .map(|w| w.trim().to_ascii_lowercase())
        .filter(|w| !w.is_empty())
    {
        if !allowed.contains(&word.as_str()) {
            return Err(format!("unknown option '{word}' (allowed: {})", allowed.join(", ")));
        }
        let conflicting = conflicts.iter().find_map(|(a, b)| {
            if *a == word {
                Some(*b)
            } else if *b == word {
                Some(*a)
            } else {
                None
            }
        });
        if let Some(other) = conflicting.filter(|other| words.iter().any(|w| w == other)) {
            return Err(format!("cannot contain both '{word}' and '{other}'"));
        }
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words.sort();
    Ok(words)
}

fn parse_choice(raw: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = raw.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("'{raw}' is not one of: {}", allowed.join(", ")))
    }
}

fn parse_compression_level(raw: &str) -> Result<Option<CompressionLevel>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.to_ascii_lowercase()
        .parse()
        .map(Some)
        .map_err(|_| format!("'{raw}' is not a compression level (low, medium, high or an integer)"))
}

fn parse_slot_name(raw: &str) -> Result<String, String> {
    let lower = raw.to_ascii_lowercase();
    if !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_')
    {
        Ok(lower)
    } else {
        Err("Replication slot names may only contain lower case letters, numbers, and the underscore character.".into())
    }
}

fn parse_name_list(raw: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = raw.split(',').map(str::to_string).collect();
    if names.iter().any(String::is_empty) {
        Err(format!("'{raw}' contains an empty name"))
    } else {
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: Kind, raw: &str) -> String {
        parse(kind, raw)
            .unwrap()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "None".into())
    }

    #[test]
    fn booleans_accept_barman_spellings_in_any_case() {
        for raw in ["true", "T", "Yes", "1", "ON"] {
            assert_eq!(ok(Kind::Bool, raw), "True", "{raw}");
        }
        for raw in ["false", "F", "NO", "0", "Off"] {
            assert_eq!(ok(Kind::Bool, raw), "False", "{raw}");
        }
        assert!(parse(Kind::Bool, "enabled").is_err());
        assert!(parse(Kind::Bool, "").is_err());
    }

    #[test]
    fn sizes_use_case_sensitive_si_and_iec_suffixes() {
        assert_eq!(ok(Kind::Size, "100"), "100");
        assert_eq!(ok(Kind::Size, "1k"), "1000");
        assert_eq!(ok(Kind::Size, "1Ki"), "1024");
        assert_eq!(ok(Kind::Size, "10 Mi"), "10485760");
        assert_eq!(ok(Kind::Size, "2G"), "2000000000");
        assert_eq!(ok(Kind::Size, "1Ti"), "1099511627776");
        assert_eq!(ok(Kind::Size, ""), "None");
        assert!(parse(Kind::Size, "1K").is_err());
        assert!(parse(Kind::Size, "1MB").is_err());
        assert!(parse(Kind::Size, "-1").is_err());
    }

    #[test]
    fn intervals_accept_singular_and_plural_units() {
        assert_eq!(ok(Kind::Interval, "1 day"), "1 day");
        assert_eq!(ok(Kind::Interval, "2 DAYS"), "2 days");
        assert_eq!(ok(Kind::Interval, "1 week"), "7 days");
        assert_eq!(ok(Kind::Interval, "1 month"), "31 days");
        assert_eq!(ok(Kind::Interval, " 3 hours "), "3 hours");
        assert!(parse(Kind::Interval, "3hours").is_err());
        assert!(parse(Kind::Interval, "3 minutes").is_err());
        assert!(parse(Kind::Interval, "day").is_err());
    }

    #[test]
    fn retention_policies_are_case_insensitive_and_normalised() {
        assert_eq!(ok(Kind::RetentionPolicy, "redundancy 2"), "REDUNDANCY 2");
        assert_eq!(
            ok(Kind::RetentionPolicy, "Recovery Window of 4 weeks"),
            "RECOVERY WINDOW OF 4 WEEKS"
        );
        assert_eq!(
            ok(Kind::RetentionPolicy, "RECOVERY WINDOW OF 1 DAY"),
            "RECOVERY WINDOW OF 1 DAYS"
        );
        assert!(parse(Kind::RetentionPolicy, "redundancy").is_err());
        assert!(parse(Kind::RetentionPolicy, "recovery window of 2 hours").is_err());
        assert_eq!(ok(Kind::WalRetentionPolicy, "Main"), "MAIN");
        assert!(parse(Kind::WalRetentionPolicy, "base").is_err());
    }

    #[test]
    fn csv_options_are_sorted_deduplicated_and_checked_for_conflicts() {
        let kind = Kind::Csv {
            allowed: &["concurrent_backup", "exclusive_backup", "external_configuration"],
            conflicts: &[("concurrent_backup", "exclusive_backup")],
        };
        assert_eq!(
            ok(kind, "external_configuration, Concurrent_Backup"),
            "concurrent_backup,external_configuration"
        );
        assert_eq!(ok(kind, ""), "");
        let err = parse(kind, "concurrent_backup,exclusive_backup").unwrap_err();
        assert_eq!(err, "cannot contain both 'exclusive_backup' and 'concurrent_backup'");
        assert!(parse(kind, "parallel")
            .unwrap_err()
            .contains("unknown option 'parallel'"));
    }

    #[test]
    fn slot_names_are_lower_cased_and_restricted() {
        assert_eq!(ok(Kind::SlotName, "Barman_Slot1"), "barman_slot1");
        assert!(parse(Kind::SlotName, "barman-slot").is_err());
    }

    #[test]
    fn compression_names_and_levels() {
        assert_eq!(ok(Kind::Compression, "GZIP"), "gzip");
        assert_eq!(ok(Kind::Compression, ""), "None");
        assert!(parse(Kind::Compression, "rar").unwrap_err().contains("is not one of"));
        assert_eq!(ok(Kind::CompressionLevel, "High"), "high");
        assert_eq!(ok(Kind::CompressionLevel, "-3"), "-3");
        assert!(parse(Kind::CompressionLevel, "max").is_err());
    }

    #[test]
    fn json_rendering_keeps_native_types() {
        assert_eq!(Value::Bool(true).to_json(), serde_json::json!(true));
        assert_eq!(Value::Size(1024).to_json(), serde_json::json!(1024));
        assert_eq!(
            Value::RetentionPolicy(RetentionPolicy::Redundancy(3)).to_json(),
            serde_json::json!("REDUNDANCY 3")
        );
    }
}
