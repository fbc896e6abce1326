//! The values of a server's live status, and the three ways Barman writes them.
//!
//! Barman keeps the status as a Python dictionary of whatever its queries returned (strings,
//! booleans, integers, `Decimal`s, time-zone aware datetimes, lists, a named tuple for the
//! replication slot) and renders it differently per output:
//!
//! - console `show-servers` and `status`: Python's `str()` (`True`, `None`, `0E-20`,
//!   `2024-05-01 10:11:12.123456+00:00`, `['']`, `Record(slot_name='barman', ...)`);
//! - `show-servers -f json`: integers, strings, booleans, lists and `null` as they are,
//!   anything else as its `str()`;
//! - `diagnose`: decimals as floats, datetimes in ISO 8601, the slot record as an array.

use serde_json::Value as Json;

use crate::postgres::server::{ReplicationSlot, Timestamp};

/// One value of the live status.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusValue {
    /// Unknown: the server was not reachable, or did not tell.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text, such as a setting as `SHOW` writes it.
    Text(String),
    /// A PostgreSQL `numeric`, exactly as the server wrote it (`0.00000000000000000000`).
    Decimal(String),
    /// A timestamp, in the session's time zone.
    Timestamp(Timestamp),
    /// A list of text.
    List(Vec<String>),
    /// The configured physical replication slot.
    Slot {
        /// The slot name.
        name: String,
        /// Its state.
        slot: ReplicationSlot,
    },
}

impl StatusValue {
    /// `Text`, or `None` when absent.
    pub fn text(value: Option<String>) -> Self {
        value.map_or(StatusValue::None, StatusValue::Text)
    }

    /// `Bool`, or `None` when absent.
    pub fn bool(value: Option<bool>) -> Self {
        value.map_or(StatusValue::None, StatusValue::Bool)
    }

    /// `Int`, or `None` when absent.
    pub fn int(value: Option<i64>) -> Self {
        value.map_or(StatusValue::None, StatusValue::Int)
    }

    /// `Timestamp`, or `None` when absent.
    pub fn timestamp(value: Option<Timestamp>) -> Self {
        value.map_or(StatusValue::None, StatusValue::Timestamp)
    }

    /// Whether the value is unknown.
    pub fn is_none(&self) -> bool {
        matches!(self, StatusValue::None)
    }

    /// The text of a `Text` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            StatusValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The value of a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            StatusValue::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The value of an `Int`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StatusValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The number a `Decimal` or `Int` holds.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            StatusValue::Decimal(text) => text.parse().ok(),
            StatusValue::Int(value) => Some(*value as f64),
            _ => None,
        }
    }

    /// The value of a `Timestamp`.
    pub fn as_timestamp(&self) -> Option<&Timestamp> {
        match self {
            StatusValue::Timestamp(stamp) => Some(stamp),
            _ => None,
        }
    }

    /// Python's `str()` of the value, as the console writer prints it.
    pub fn console(&self) -> String {
        match self {
            StatusValue::None => "None".into(),
            StatusValue::Bool(value) => python_bool(*value).into(),
            StatusValue::Int(value) => value.to_string(),
            StatusValue::Text(text) => text.clone(),
            StatusValue::Decimal(text) => python_decimal(text),
            StatusValue::Timestamp(stamp) => python_datetime(stamp, ' '),
            StatusValue::List(items) => {
                let items: Vec<String> = items.iter().map(|item| python_repr(item)).collect();
                format!("[{}]", items.join(", "))
            }
            StatusValue::Slot { name, slot } => format!(
                "Record(slot_name={}, active={}, restart_lsn={})",
                python_repr(name),
                python_bool(slot.active),
                slot.restart_lsn.as_deref().map_or("None".into(), python_repr)
            ),
        }
    }

    /// The value in `show-servers -f json`.
    pub fn show_json(&self) -> Json {
        match self {
            StatusValue::None => Json::Null,
            StatusValue::Bool(value) => Json::Bool(*value),
            StatusValue::Int(value) => Json::from(*value),
            StatusValue::Text(text) => Json::String(text.clone()),
            StatusValue::List(items) => Json::from(items.clone()),
            StatusValue::Decimal(_) | StatusValue::Timestamp(_) | StatusValue::Slot { .. } => {
                Json::String(self.console())
            }
        }
    }

    /// The value in `diagnose`.
    pub fn diagnose_json(&self) -> Json {
        match self {
            StatusValue::Decimal(text) => text.parse::<f64>().ok().map_or(Json::Null, Json::from),
            StatusValue::Timestamp(stamp) => Json::String(python_datetime(stamp, 'T')),
            StatusValue::Slot { name, slot } => serde_json::json!([name, slot.active, slot.restart_lsn]),
            other => other.show_json(),
        }
    }
}

fn python_bool(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

/// Python's `repr()` of a string: single quotes unless the text holds a single quote and no
/// double quote, backslash escapes for the quote, backslashes and control characters.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str()` of the `Decimal` built from PostgreSQL's text of a `numeric`: plain
/// notation, unless the exponent is positive or the number is smaller than 1e-6, which get
/// scientific notation (`0.00000000000000000000` is `0E-20`).
fn python_decimal(text: &str) -> String {
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if integer.is_empty() && fraction.is_empty() || !integer.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
    {
        // NaN, Infinity: Python writes them as PostgreSQL does.
        return text.to_owned();
    }
    let all_digits = format!("{integer}{fraction}");
    let trimmed = all_digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let exponent = -(fraction.len() as i64);
    let left_digits = exponent + digits.len() as i64;
    let dot_place = if exponent <= 0 && left_digits > -6 {
        left_digits
    } else {
        1
    };
    let (int_part, frac_part) = if dot_place <= 0 {
        (
            "0".to_owned(),
            format!(".{}{digits}", "0".repeat((-dot_place) as usize)),
        )
    } else if dot_place as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(dot_place as usize - digits.len())),
            String::new(),
        )
    } else {
        let (head, tail) = digits.split_at(dot_place as usize);
        (head.to_owned(), format!(".{tail}"))
    };
    let exponent_part = if left_digits == dot_place {
        String::new()
    } else {
        format!("E{:+}", left_digits - dot_place)
    };
    format!("{sign}{int_part}{frac_part}{exponent_part}")
}

/// Python's `str()` (separator `' '`) or `isoformat()` (`'T'`) of an aware datetime:
/// microseconds only when not zero, the offset as `+HH:MM`.
fn python_datetime(stamp: &Timestamp, separator: char) -> String {
    let fraction = if stamp.timestamp_subsec_micros() == 0 {
        ""
    } else {
        ".%6f"
    };
    let format = format!("%Y-%m-%d{separator}%H:%M:%S{fraction}%:z");
    stamp.format(&format).to_string()
}

/// Python's `ctime()`: `Wed Nov 25 11:10:09 2026` (day of month padded with a space).
pub fn ctime(stamp: &Timestamp) -> String {
    stamp.format("%a %b %e %H:%M:%S %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(text: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(text).unwrap()
    }

    #[test]
    fn decimals_render_as_python_does() {
        assert_eq!(python_decimal("0.00000000000000000000"), "0E-20");
        assert_eq!(python_decimal("0.00012345678901234567"), "0.00012345678901234567");
        assert_eq!(python_decimal("23370285"), "23370285");
        assert_eq!(python_decimal("0"), "0");
        assert_eq!(python_decimal("12.5000"), "12.5000");
        assert_eq!(python_decimal("-0.0000001"), "-1E-7");
        assert_eq!(python_decimal("0.000001"), "0.000001");
        assert_eq!(python_decimal("NaN"), "NaN");
    }

    #[test]
    fn datetimes_render_as_python_does() {
        let with_micros = stamp("2026-11-25T11:10:09.735217+00:00");
        assert_eq!(python_datetime(&with_micros, ' '), "2026-11-25 11:10:09.735217+00:00");
        assert_eq!(python_datetime(&with_micros, 'T'), "2026-11-25T11:10:09.735217+00:00");
        let whole = stamp("2026-01-05T08:00:00-05:30");
        assert_eq!(python_datetime(&whole, ' '), "2026-01-05 08:00:00-05:30");
        assert_eq!(ctime(&whole), "Mon Jan  5 08:00:00 2026");
    }

    #[test]
    fn lists_and_slots_render_as_python_reprs() {
        assert_eq!(StatusValue::List(vec![String::new()]).console(), "['']");
        assert_eq!(
            StatusValue::List(vec!["a".into(), "it's".into()]).console(),
            "['a', \"it's\"]"
        );
        let slot = StatusValue::Slot {
            name: "barman".into(),
            slot: ReplicationSlot {
                active: true,
                restart_lsn: Some("0/3000060".into()),
            },
        };
        assert_eq!(
            slot.console(),
            "Record(slot_name='barman', active=True, restart_lsn='0/3000060')"
        );
        assert_eq!(slot.show_json(), Json::String(slot.console()));
        assert_eq!(slot.diagnose_json(), serde_json::json!(["barman", true, "0/3000060"]));
    }

    #[test]
    fn json_renderings_follow_the_writer() {
        let rate = StatusValue::Decimal("0.00000000000000000000".into());
        assert_eq!(rate.show_json(), Json::String("0E-20".into()));
        assert_eq!(rate.diagnose_json(), serde_json::json!(0.0));
        let size = StatusValue::Decimal("23370285".into());
        assert_eq!(serde_json::to_string(&size.diagnose_json()).unwrap(), "23370285.0");
        assert_eq!(StatusValue::None.show_json(), Json::Null);
    }
}
