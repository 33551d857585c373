//! The API token as a type that cannot be printed by accident: Debug and Display show
//! `[redacted]`; only `expose` gives the value, for the one header that needs it.

use std::fmt;

/// A value that must never be printed, such as the API token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`, as given (not trimmed).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the request that needs it; never for a message or a log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text`; for error bodies and logs that
    /// may echo the request.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_string() } else { text.replace(&self.0, "[redacted]") }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let token = Secret::new("CCIPAT_s3cr3t");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(format!("{token:?}"), "Secret([redacted])");
        assert_eq!(token.redact("401 for CCIPAT_s3cr3t"), "401 for [redacted]");
        assert_eq!(token.expose(), "CCIPAT_s3cr3t");
    }
}
