//! Password redaction for everything barman prints or logs.
//!
//! Connection strings end up in messages (`conninfo`, connection errors), so every line that
//! leaves the process passes through [`redact_passwords`], as in Barman.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// `password=secret`, `password='se cret'` in key/value connection strings.
static KEY_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"password=('(\\'|[^'])+'|[^ '"]*)"#).expect("valid regex"));
/// `postgresql://user:secret@host` in connection URLs.
static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"postgresql://([^ :@]+:)([^ :@]+)?@").expect("valid regex"));

/// Replaces every password in `text` with `*REDACTED*`.
pub fn redact_passwords(text: &str) -> Cow<'_, str> {
    if !text.contains("password=") && !text.contains("postgresql://") {
        return Cow::Borrowed(text);
    }
    let text = KEY_VALUE.replace_all(text, "password=*REDACTED*");
    Cow::Owned(URL.replace_all(&text, "postgresql://${1}*REDACTED*@").into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_and_url_passwords_are_redacted() {
        assert_eq!(
            redact_passwords("host=pg user=barman password=s3cr3t dbname=postgres"),
            "host=pg user=barman password=*REDACTED* dbname=postgres"
        );
        assert_eq!(redact_passwords("password='with space' x=1"), "password=*REDACTED* x=1");
        assert_eq!(
            redact_passwords("postgresql://barman:pw@pg:5432/postgres"),
            "postgresql://barman:*REDACTED*@pg:5432/postgres"
        );
        assert_eq!(redact_passwords("nothing to hide"), "nothing to hide");
    }
}
