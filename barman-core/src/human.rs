//! Sizes and durations written for people, exactly as Barman writes them in `check`, `status`
//! and `list-backups`: `0 B`, `16.0 MiB`; `1 day, 2 hours, 3 minutes`, `less than one second`.

use crate::config::value::Interval;

/// A byte count with binary units: `512 B`, then one decimal (`1.5 KiB`, `16.0 MiB`, ... up to
/// `YiB`), as Barman's `pretty_size`.
pub fn pretty_size(bytes: u64) -> String {
    const UNITS: [&str; 8] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    for unit in &UNITS[..UNITS.len() - 1] {
        if size < 1024.0 {
            return format!("{size:.1} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.1} {}", UNITS[UNITS.len() - 1])
}

/// A signed duration in whole seconds (`-90` is a minute and a half in the future):
/// `1 minute, 30 seconds ago` for negative values, as Barman's `human_readable_timedelta`.
pub fn human_duration(seconds: i64) -> String {
    let text = Interval::from_seconds(seconds.unsigned_abs()).to_string();
    if seconds < 0 {
        format!("{text} ago")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_barman() {
        assert_eq!(pretty_size(0), "0 B");
        assert_eq!(pretty_size(1023), "1023 B");
        assert_eq!(pretty_size(1024), "1.0 KiB");
        assert_eq!(pretty_size(1536), "1.5 KiB");
        assert_eq!(pretty_size(16 * 1024 * 1024), "16.0 MiB");
        assert_eq!(pretty_size(23_129_640), "22.1 MiB");
        assert_eq!(pretty_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations_match_barman() {
        assert_eq!(human_duration(0), "less than one second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(93_784), "1 day, 2 hours, 3 minutes, 4 seconds");
        assert_eq!(human_duration(-90), "1 minute, 30 seconds ago");
    }
}
