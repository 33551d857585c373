//! `realitycheck serve`'s settings: the `[serve]` table of the built-in reference, then of the
//! user's file, then the flags of `serve`, merged and checked into a [`ServeSettings`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{Config, Resolved, SecretFile, resolve};
use crate::defs;
use crate::error::ConfigError;
use crate::layer::Layer;
use crate::registry::Scope;
use crate::value::Value;
use harness::Secret;

/// How `realitycheck serve` runs: the `[serve]` table, then the flags.
///
/// Debug shows the webhook's scheme and host only: a webhook URL's path is often its secret
/// (Slack's are).
#[derive(Clone, PartialEq)]
pub struct ServeSettings {
    /// Profile of the scheduled runs (default `health`: nothing that mutates).
    pub profile: String,
    /// Time between the starts of two runs of one target (default 15m; at least 10s, at most
    /// a day).
    pub every: Duration,
    /// Time between the starts of two canaries of one target (the `canary` profile, which
    /// triggers pipelines; default 1h, 10s to a day); `None`: no canary (`off`).
    pub canary_every: Option<Duration>,
    /// Address of the HTTP server (default 127.0.0.1:9797).
    pub listen: SocketAddr,
    /// Runs kept per target in memory and in the state dir (default 100, 1..=10000).
    pub history: usize,
    /// Directory keeping the history across restarts (JSON lines); `None`: memory only.
    pub state_dir: Option<PathBuf>,
    /// URL to POST to on every change of a check's state; http or https only.
    pub webhook: Option<Url>,
    /// Body of those POSTs: one of `serve.webhook_format`'s choices (default `json`).
    pub webhook_format: String,
    /// File holding the bearer token that `POST /api/v1/runs` requires; `None`: that
    /// endpoint asks for no token, on the listen address (loopback by default).
    pub api_token_file: Option<PathBuf>,
    /// The bearer token that file holds, read when the settings are.
    pub api_token: Option<Secret>,
}

impl fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSettings")
            .field("profile", &self.profile)
            .field("every", &self.every)
            .field("canary_every", &self.canary_every)
            .field("listen", &self.listen)
            .field("history", &self.history)
            .field("state_dir", &self.state_dir)
            .field("webhook", &self.webhook.as_ref().map(redacted_url))
            .field("webhook_format", &self.webhook_format)
            .field("api_token_file", &self.api_token_file)
            .field("api_token", &self.api_token)
            .finish()
    }
}

/// A URL with only its scheme, host and port: what may be printed of a webhook.
pub fn redacted_url(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}/[redacted]", url.scheme(), url.host_str().unwrap_or_default())
}

impl Config {
    /// How `realitycheck serve` runs: the registry's defaults, the built-in `[serve]` table,
    /// then the file's, then the flags of `serve`, merged and checked; relative paths start
    /// at the configuration file's directory when the file gives them, at the working
    /// directory when a flag does. No environment variable takes part.
    pub fn serve(&self) -> Result<ServeSettings, ConfigError> {
        let values = self.serve_values()?;
        let profile = values.must(&defs::SERVE_PROFILE, Value::as_text);
        if !self.merged.profiles.contains_key(&profile) {
            let origin = values.origin(&defs::SERVE_PROFILE);
            return Err(self.no_such_profile(origin, &defs::SERVE_PROFILE.name(), &profile));
        }
        Ok(ServeSettings {
            profile,
            every: values.must(&defs::EVERY, Value::as_duration),
            canary_every: values.must(&defs::CANARY_EVERY, |value| match value {
                Value::Text(off) if off == "off" => Some(None),
                other => other.as_duration().map(Some),
            }),
            listen: values.must(&defs::LISTEN, Value::as_address),
            history: values.must(&defs::HISTORY, Value::as_u32) as usize,
            state_dir: values.read(&defs::STATE_DIR, Value::as_path),
            webhook: values.read(&defs::WEBHOOK, Value::as_url),
            webhook_format: values.must(&defs::WEBHOOK_FORMAT, Value::as_text),
            api_token_file: values.read(&defs::API_TOKEN_FILE, Value::as_path),
            api_token: self.api_token(&values)?,
        })
    }

    /// The bearer token in the file `serve.api_token_file` names, if it names one.
    fn api_token(&self, values: &Resolved) -> Result<Option<Secret>, ConfigError> {
        let Some(resolved) = values.read(&defs::API_TOKEN_FILE, Value::as_path) else { return Ok(None) };
        let layer = self.serve_layer();
        let entry = layer.get(&defs::API_TOKEN_FILE).expect("a path without default was given");
        let file = SecretFile {
            what: "API token file",
            holds: "the bearer token",
            fix: "make the file readable by this user, or point api_token_file at the file that holds the token".into(),
        };
        let written = entry.value.as_path().unwrap_or_default();
        file.read(&resolved, &written, entry).map(Some)
    }

    /// The values of `[serve]`, each with where it came from.
    pub fn serve_values(&self) -> Result<Resolved, ConfigError> {
        resolve(Scope::Serve, &self.serve_layer(), &self.cwd)
    }

    /// What the files and the flags of `serve` say of `[serve]`.
    fn serve_layer(&self) -> Layer {
        self.merged.serve.clone().merge(&self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_webhook_s_host_only() {
        let url = Url::parse("https://user:pw@hooks.example.com:8443/services/T0/B0/s3cr3t?token=t0k3n").unwrap();
        assert_eq!(redacted_url(&url), "https://hooks.example.com:8443/[redacted]");
    }
}
