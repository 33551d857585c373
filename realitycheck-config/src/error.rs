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

/// The fix to suggest for a bad value, from the field it is in and what was wrong.
pub(crate) fn fix_for(field: &str, message: &str) -> String {
    let leaf = field.rsplit('.').next().unwrap_or(field).split('[').next().unwrap_or(field);
    if message.contains("unknown field `token`") {
        return "the token is never read from the configuration file: export CIRCLE_TOKEN (or the variable token_env names), or set token_file to a file that holds it".into();
    }
    if message.contains("unknown field") {
        return "remove the key or correct its spelling; `realitycheck init` writes the commented reference of every key".into();
    }
    match leaf {
        "cloud_provider" => "set it to aws, gcp or other".into(),
        "host" => "give the base URL with its protocol, like https://circleci.example.com".into(),
        "project" => "give the project slug as vcs/org/repo, like gh/example-org/realitycheck".into(),
        "deadline" | "cluster" | "api" | "pipeline" => "write a duration like \"30s\", \"15m\" or \"1h 30m\"".into(),
        "exclude_tags" => "list tags among mutates, needs-cluster and needs-api".into(),
        "timeout_scale" => "use a number from 0.1 to 100, like 1.0 (2.0 doubles every timeout)".into(),
        "concurrency" => "use a whole number of at least 1".into(),
        "namespace" => "give the namespace of the CircleCI server release, like circleci-server (`kubectl get namespaces` lists them)".into(),
        "min_clients" => "set it to the number of Nomad clients that must be ready, at least 1".into(),
        "runner_resource_class" => {
            "give the runner resource class as namespace/name, like example-org/linux-runner, or leave it unset".into()
        }
        "docker_resource_classes" => format!("list classes among {}", crate::DOCKER_RESOURCE_CLASSES.join(", ")),
        "image_registry" => "give a registry prefix ending in `/`, like \"registry.example.com:5000/\"".into(),
        "branch" => "give the name of a branch of the realitycheck project's repository, like main".into(),
        "token_env" => {
            "give the name of the environment variable that holds the target's API token, like \"PROD_CIRCLE_TOKEN\"".into()
        }
        "every" => "write a duration from \"10s\" to \"24h\", like \"15m\" or \"1h 30m\"".into(),
        "listen" => "give an IP address and a port as a string, like \"127.0.0.1:9797\"".into(),
        "history" => "use a whole number from 1 to 10000, like 100".into(),
        "webhook" => "give the full URL to POST to as a string, with http:// or https://".into(),
        "webhook_format" => "set it to json or slack".into(),
        "collect" => "set it to true or false".into(),
        "collect_dir" => {
            "give a directory as a string, like \"./realitycheck-evidence\"; relative paths start at the working directory".into()
        }
        "state_dir" | "api_token_file" => "give a path as a string; relative paths start at this file's directory".into(),
        _ => "see the commented reference configuration that `realitycheck init` writes".into(),
    }
}
