//! `%(name)s` interpolation, as ConfigParser's basic interpolation and Python's `%` operator do it.
//!
//! A value may reference other options with `%(option)s`; `%%` is a literal `%`. The caller
//! decides where a name is looked up (already-resolved server values first, then the section,
//! then `[DEFAULT]`), so this module only knows the syntax and the recursion limit.

/// ConfigParser gives up after this many nested references; so do we, which also stops cycles.
pub const MAX_DEPTH: usize = 10;

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    #[error("'%({0})s' refers to an option that is not set (write '%%' for a literal '%')")]
    /// A referenced name is not set anywhere.
    Missing(String),
    #[error("'%' must be followed by '%' or '(name)s' in '{0}' (write '%%' for a literal '%')")]
    /// A `%` that starts neither `%%` nor `%(name)s`.
    BadSyntax(String),
    #[error("references nest deeper than {MAX_DEPTH} levels (is there a cycle through '%({0})s'?)")]
    /// References nest too deeply (usually a cycle).
    TooDeep(String),
}

/// Replaces every `%(name)s` in `raw` with `resolve(name)`, and `%%` with `%`.
/// Names are lower-cased before lookup, as ConfigParser does.
pub fn interpolate(
    raw: &str,
    resolve: &mut dyn FnMut(&str) -> Result<String, InterpolationError>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            let close = tail
                .find(")s")
                .ok_or_else(|| InterpolationError::BadSyntax(raw.to_string()))?;
            let name = tail[..close].to_ascii_lowercase();
            out.push_str(&resolve(&name)?);
            rest = &tail[close + 2..];
        } else {
            return Err(InterpolationError::BadSyntax(raw.to_string()));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(raw: &str) -> Result<String, InterpolationError> {
        interpolate(raw, &mut |name| match name {
            "barman_home" => Ok("/var/lib/barman".into()),
            "name" => Ok("pg".into()),
            other => Err(InterpolationError::Missing(other.into())),
        })
    }

    #[test]
    fn references_and_literal_percent() {
        assert_eq!(expand("%(barman_home)s/%(NAME)s").unwrap(), "/var/lib/barman/pg");
        assert_eq!(expand("100%% sure").unwrap(), "100% sure");
        assert_eq!(expand("plain").unwrap(), "plain");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            expand("%(nope)s").unwrap_err(),
            InterpolationError::Missing("nope".into())
        );
        assert!(matches!(expand("50% off"), Err(InterpolationError::BadSyntax(_))));
        assert!(matches!(
            expand("%(unterminated"),
            Err(InterpolationError::BadSyntax(_))
        ));
    }
}
