//! Log sequence numbers: the 64-bit byte positions PostgreSQL uses to address its write-ahead log.
//!
//! Barman stores them in `backup.info` (`begin_xlog`, `end_xlog`) in PostgreSQL's textual form
//! `X/Y`: the high and low 32 bits as upper-case hexadecimal without padding.

use std::fmt;
use std::str::FromStr;

/// A position in the write-ahead log (PostgreSQL `XLogRecPtr`, SQL type `pg_lsn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The high 32 bits, which are also the "log" part of a segment name.
    pub fn high(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The low 32 bits.
    pub fn low(self) -> u32 {
        self.0 as u32
    }

    /// Builds an LSN from its high and low halves.
    pub fn from_parts(high: u32, low: u32) -> Self {
        Lsn((u64::from(high) << 32) | u64::from(low))
    }
}

impl fmt::Display for Lsn {
    /// Formats as PostgreSQL does (`%X/%X`), e.g. `0/2000028`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.high(), self.low())
    }
}

/// Error returned when a string is not a valid `X/Y` log sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN '{text}': expected two hexadecimal numbers of at most 8 digits separated by '/'")]
pub struct LsnParseError {
    /// The rejected text.
    pub text: String,
}

impl FromStr for Lsn {
    type Err = LsnParseError;

    /// Parses `X/Y` with 1 to 8 hexadecimal digits on each side, either case, as `pg_lsn` does.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || LsnParseError { text: text.to_owned() };
        let (high, low) = text.split_once('/').ok_or_else(error)?;
        let high = parse_hex_u32(high).ok_or_else(error)?;
        let low = parse_hex_u32(low).ok_or_else(error)?;
        Ok(Lsn::from_parts(high, low))
    }
}

/// Parses 1 to 8 hexadecimal digits; unlike `u32::from_str_radix` it rejects signs and blanks.
pub(crate) fn parse_hex_u32(digits: &str) -> Option<u32> {
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_postgresql() {
        assert_eq!(Lsn(0x0200_0028).to_string(), "0/2000028");
        assert_eq!(Lsn::from_parts(0x1A, 0xB).to_string(), "1A/B");
        assert_eq!(Lsn(u64::MAX).to_string(), "FFFFFFFF/FFFFFFFF");
        assert_eq!(Lsn(0).to_string(), "0/0");
    }

    #[test]
    fn parses_either_case_and_round_trips() {
        assert_eq!("0/2000028".parse::<Lsn>().unwrap(), Lsn(0x0200_0028));
        assert_eq!("1a/fF".parse::<Lsn>().unwrap(), Lsn::from_parts(0x1A, 0xFF));
        let lsn = Lsn::from_parts(0xDEAD, 0xBEEF_0001);
        assert_eq!(lsn.to_string().parse::<Lsn>().unwrap(), lsn);
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "/",
            "0/",
            "/0",
            "0",
            "0/0/0",
            "g/0",
            "0/+1",
            "+0/1",
            " 0/1",
            "123456789/0",
            "0/123456789",
            "-1/0",
        ] {
            let err = bad.parse::<Lsn>().unwrap_err();
            assert_eq!(err.text, bad);
        }
    }

    #[test]
    fn orders_numerically() {
        assert!("0/FFFFFFFF".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
    }
}
