//! Configuration errors: each names where the bad value came from (file and line,
//! environment variable, flag), the field, what is wrong, and the fix.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A place in a configuration file.
    File {
        /// The file, as it was named.
        path: PathBuf,
        /// 1-based line of the key or of the error.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
    /// An environment variable, by name (`CIRCLE_HOSTNAME`).
    Env(String),
    /// A command-line flag, by name (`--host`).
    Flag(String),
    /// The built-in defaults: no file, variable or flag set the value.
    BuiltIn,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => write!(f, "{}, line {line}, column {column}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::BuiltIn => f.write_str("built-in defaults"),
        }
    }
}

/// Why the configuration could not be loaded; the message says where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file (named by `--config`, REALITYCHECK_CONFIG or found in the
    /// working directory) cannot be read.
    #[error("cannot read the configuration file {}: {source}\n  fix: {fix}", path.display())]
    Read {
        /// The file, as it was named.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
        /// What the operator can do about it.
        fix: String,
    },
    /// The configuration says something realitycheck cannot use: invalid TOML, an unknown
    /// key, a bad value, an unknown target or profile, an unreadable token file.
    #[error("invalid configuration in {origin}{}: {message}\n  fix: {fix}", field.as_ref().map(|f| format!(", field `{f}`")).unwrap_or_default())]
    Invalid {
        /// Where the bad value came from.
        origin: Origin,
        /// The key concerned (`targets.prod.host`, `profiles.ci.deadline`, `nomad.min_clients`);
        /// `None` when the error concerns no key, such as invalid TOML.
        field: Option<String>,
        /// What is wrong with the value.
        message: String,
        /// What the operator can do about it.
        fix: String,
    },
}

impl ConfigError {
    /// An `Invalid` error: the value of `field` from `origin` is wrong as `message` says, and
    /// `fix` says what to do.
    pub fn invalid(
        origin: Origin,
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid { origin, field: Some(field.into()), message: message.into(), fix: fix.into() }
    }
}
