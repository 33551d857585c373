//! A secret (the API token, the bearer token of `serve`'s API) as a type that cannot be
//! printed by accident: Debug and Display show `[redacted]`; only `expose` gives the value,
//! for the one header or comparison that needs it. The one redactor: every text or file that
//! may echo a secret (error bodies, the evidence bundle) goes through `redact`.

use std::fmt;

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

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

    /// Whether `given` is the secret, compared in constant time (a bearer token).
    pub fn matches(&self, given: &str) -> bool {
        let (given, expected) = (given.as_bytes(), self.0.as_bytes());
        given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// Replaces every occurrence of the secret in `text`; for error bodies and logs that
    /// may echo the request.
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_string() } else { text.replace(&self.0, REDACTED) }
    }

    /// Replaces every occurrence of the secret in `bytes`, which need not be text (a file of
    /// the evidence bundle).
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let secret = self.0.as_bytes();
        if secret.is_empty() {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = bytes;
        while let Some(at) = rest.windows(secret.len()).position(|window| window == secret) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(REDACTED.as_bytes());
            rest = &rest[at + secret.len()..];
        }
        out.extend_from_slice(rest);
        out
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
        assert_eq!(token.redact_bytes(b"\xffCCIPAT_s3cr3t\x00CCIPAT_s3cr3t"), b"\xff[redacted]\x00[redacted]");
        assert_eq!(Secret::new("").redact_bytes(b"as it is"), b"as it is");
        assert!(token.matches("CCIPAT_s3cr3t") && !token.matches("CCIPAT_s3cr3") && !token.matches(""));
    }
}
