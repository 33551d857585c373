//! `realitycheck serve`'s settings: the `[serve]` table of the built-in reference, then of the
//! user's file, then the flags of `serve`, merged and validated into a [`ServeSettings`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::Config;
use crate::error::{ConfigError, Origin};
use crate::layer::{Merge, ServeLayer, WebhookFormat};

/// The shortest time between the starts of two runs of one target.
const MIN_EVERY: Duration = Duration::from_secs(10);
/// The longest time between the starts of two runs of one target.
const MAX_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// The most runs kept per target.
const MAX_HISTORY: usize = 10_000;

/// The defaults, as the built-in reference says them; used only if it ever says nothing.
const DEFAULT_PROFILE: &str = "health";
const DEFAULT_EVERY: Duration = Duration::from_secs(15 * 60);
const DEFAULT_LISTEN: &str = "127.0.0.1:9797";
const DEFAULT_HISTORY: usize = 100;

/// The flag of `serve` that sets each `[serve]` key, for error messages.
const SERVE_FLAGS: &[(&str, &str)] = &[
    ("profile", "--profile"),
    ("every", "--every"),
    ("listen", "--listen"),
    ("history", "--history"),
    ("state_dir", "--state-dir"),
    ("webhook", "--webhook"),
    ("webhook_format", "--webhook-format"),
    ("api_token_file", "--api-token-file"),
];

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
    /// Address of the HTTP server (default 127.0.0.1:9797).
    pub listen: SocketAddr,
    /// Runs kept per target in memory and in the state dir (default 100, 1..=10000).
    pub history: usize,
    /// Directory keeping the history across restarts (JSON lines); `None`: memory only.
    pub state_dir: Option<PathBuf>,
    /// URL to POST to on every change of a check's state; http or https only.
    pub webhook: Option<Url>,
    /// Body of those POSTs (default `json`).
    pub webhook_format: WebhookFormat,
    /// File holding the bearer token that `POST /api/v1/runs` requires; `None`: that
    /// endpoint asks for no token, on the listen address (loopback by default).
    pub api_token_file: Option<PathBuf>,
}

impl fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSettings")
            .field("profile", &self.profile)
            .field("every", &self.every)
            .field("listen", &self.listen)
            .field("history", &self.history)
            .field("state_dir", &self.state_dir)
            .field("webhook", &self.webhook.as_ref().map(redacted_url))
            .field("webhook_format", &self.webhook_format)
            .field("api_token_file", &self.api_token_file)
            .finish()
    }
}

/// A URL with only its scheme, host and port: what may be printed of a webhook.
pub fn redacted_url(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{}{port}/[redacted]", url.scheme(), url.host_str().unwrap_or_default())
}

impl Config {
    /// How `realitycheck serve` runs: the built-in `[serve]` table, then the file's, then the
    /// flags of `serve` (`Overrides::serve_layer`), merged and validated; relative paths start
    /// at the configuration file's directory when the file gives them, at the working
    /// directory when a flag does. No environment variable takes part.
    pub fn serve(&self) -> Result<ServeSettings, ConfigError> {
        let layer = self.merged.serve.clone().merge(self.flags.serve_layer.clone());
        let invalid = |key: &str, message: String, fix: &str| {
            ConfigError::invalid(self.serve_origin(key), format!("serve.{key}"), message, fix)
        };
        let ServeLayer { profile, every, listen, history, state_dir, webhook, webhook_format, api_token_file } = layer;

        let profile = profile.unwrap_or_else(|| DEFAULT_PROFILE.to_string());
        if !self.merged.profiles.contains_key(&profile) {
            return Err(self.no_such_profile(self.serve_origin("profile"), "serve.profile", &profile));
        }

        let every = every.unwrap_or(DEFAULT_EVERY);
        let every_fix = "write a duration from \"10s\" to \"24h\", like \"15m\" or \"1h 30m\"";
        if every < MIN_EVERY {
            let message =
                format!("`{}` is shorter than 10s, the least time between two runs", humantime::format_duration(every));
            return Err(invalid("every", message, every_fix));
        }
        if every > MAX_EVERY {
            let message =
                format!("`{}` is longer than a day, the most time between two runs", humantime::format_duration(every));
            return Err(invalid("every", message, every_fix));
        }

        let listen_text = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text.trim().parse().map_err(|_| {
            invalid(
                "listen",
                format!("`{}` is not an IP address and port", listen_text.trim()),
                "give an IP address and a port, like 127.0.0.1:9797 (this machine only) or 0.0.0.0:9797 (every interface: set api_token_file then); host names such as localhost are not accepted",
            )
        })?;

        let history = history.unwrap_or(DEFAULT_HISTORY);
        let history_fix = "use a whole number from 1 to 10000, like 100";
        if history == 0 {
            return Err(invalid("history", "0 runs would keep no history at all".into(), history_fix));
        }
        if history > MAX_HISTORY {
            return Err(invalid("history", format!("{history} runs per target is more than 10000"), history_fix));
        }

        let state_dir = state_dir.map(|dir| self.serve_path("state_dir", dir)).transpose()?;
        if let Some(dir) = &state_dir
            && dir.exists()
            && !dir.is_dir()
        {
            return Err(invalid(
                "state_dir",
                format!("{} is not a directory", dir.display()),
                "give a directory (realitycheck creates it if it is missing), or remove the key to keep the history in memory only",
            ));
        }

        let webhook = webhook.map(|text| validate_webhook(&text)).transpose().map_err(|message| {
            invalid(
                "webhook",
                message,
                "give the full URL to POST to, with http:// or https://, like https://hooks.slack.com/services/…",
            )
        })?;

        let api_token_file = api_token_file.map(|file| self.serve_path("api_token_file", file)).transpose()?;

        Ok(ServeSettings {
            profile,
            every,
            listen,
            history,
            state_dir,
            webhook,
            webhook_format: webhook_format.unwrap_or_default(),
            api_token_file,
        })
    }

    /// Where the value of a `[serve]` key came from: a flag of `serve`, the file, or the
    /// built-in reference.
    fn serve_origin(&self, key: &str) -> Origin {
        let flags = &self.flags.serve_layer;
        let from_flag = match key {
            "profile" => flags.profile.is_some(),
            "every" => flags.every.is_some(),
            "listen" => flags.listen.is_some(),
            "history" => flags.history.is_some(),
            "state_dir" => flags.state_dir.is_some(),
            "webhook" => flags.webhook.is_some(),
            "webhook_format" => flags.webhook_format.is_some(),
            "api_token_file" => flags.api_token_file.is_some(),
            _ => false,
        };
        match SERVE_FLAGS.iter().find(|(k, _)| *k == key) {
            Some((_, flag)) if from_flag => Origin::Flag((*flag).into()),
            _ => self.user_origin(&format!("serve.{key}")).unwrap_or(Origin::BuiltIn),
        }
    }

    /// A path of `[serve]`, not empty, resolved where it was written.
    fn serve_path(&self, key: &str, path: PathBuf) -> Result<PathBuf, ConfigError> {
        let origin = self.serve_origin(key);
        if path.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                origin,
                format!("serve.{key}"),
                "the path is empty",
                "give a path, or remove the key",
            ));
        }
        Ok(self.relative_to_origin(&origin, path))
    }
}

/// The webhook URL, checked; the message never quotes the URL, whose path may be its secret.
fn validate_webhook(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("the value is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the URL's scheme is `{}`; webhooks are posted over http or https only", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_http_or_https_with_a_host_and_never_quoted() {
        assert!(validate_webhook("https://hooks.example.com/services/T0/B0/s3cr3t").is_ok());
        assert!(validate_webhook(" http://10.0.0.1:8080/hook ").is_ok());
        for bad in [
            "ftp://example.com/s3cr3t",
            "hooks.example.com/s3cr3t",
            "file:///s3cr3t",
            "mailto:s3cr3t@example.com",
            "https://:443/s3cr3t",
        ] {
            let message = validate_webhook(bad).expect_err(bad);
            assert!(!message.contains("s3cr3t"), "{bad}: {message}");
        }
    }

    #[test]
    fn debug_shows_the_webhook_s_host_only() {
        let url = Url::parse("https://user:pw@hooks.example.com:8443/services/T0/B0/s3cr3t?token=t0k3n").unwrap();
        assert_eq!(redacted_url(&url), "https://hooks.example.com:8443/[redacted]");
    }
}
