//! Notifications: a POST to the webhook URL on every change of a check's health (passing to
//! failing, failing to passing, and a check first seen failing), of the scheduled runs' checks
//! and, apart, of the canary's, as realitycheck's own JSON or as a Slack-compatible
//! `{"text": …}` body. A delivery is retried with backoff; one that
//! fails in the end is logged and counted, and never changes a verdict.

use std::time::Duration;

use serde::Serialize;
use url::Url;

use crate::state::{Health, Transition};
use crate::time::rfc3339;

/// The value of the JSON body's `schema_version` field.
pub const WEBHOOK_SCHEMA_VERSION: &str = "realitycheck.webhook/v1";

/// The body of the POSTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// realitycheck's own JSON document (`realitycheck.webhook/v1`).
    Json,
    /// `{"text": "…"}`: what Slack's (and Mattermost's) incoming webhooks take.
    Slack,
}

impl Format {
    /// Every format, as `serve.webhook_format` lists them.
    pub const ALL: [Format; 2] = [Format::Json, Format::Slack];

    /// The format of a lowercase name (`json`, `slack`).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|format| format.as_str() == name)
    }

    /// The lowercase name the configuration and `--webhook-format` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }
}

/// Where and how notifications go. Its Debug shows only [`Webhook::display_url`].
#[derive(Clone)]
pub struct Webhook {
    url: Url,
    format: Format,
    client: reqwest::Client,
    /// How long one POST may take.
    timeout: Duration,
    /// Pauses before the retries: as many retries as pauses.
    backoff: Vec<Duration>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.display_url())
            .field("format", &self.format)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver answered with an error status every time.
    #[error("the webhook at {url} answered {status} to each of {}", count(*attempts))]
    Status {
        /// The webhook (without its query, which may hold a key).
        url: String,
        /// The last status.
        status: reqwest::StatusCode,
        /// Attempts made so far.
        attempts: usize,
    },
    /// The receiver could not be reached, or did not answer in time.
    #[error("the webhook at {url} could not be reached in {}: {message}", count(*attempts))]
    Unreachable {
        /// The webhook (without its query).
        url: String,
        /// The last error.
        message: String,
        /// Attempts made so far.
        attempts: usize,
    },
}

/// `1 attempt`, `3 attempts`.
fn count(attempts: usize) -> String {
    if attempts == 1 { "1 attempt".into() } else { format!("{attempts} attempts") }
}

#[derive(Serialize)]
struct JsonBody<'a> {
    schema_version: &'static str,
    target: &'a str,
    host: &'a str,
    check: &'a str,
    from: Option<&'static str>,
    to: &'static str,
    run_id: u64,
    at: String,
    /// The check is the canary's (its state is apart from the scheduled runs').
    canary: bool,
    #[serde(flatten)]
    transition: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnosis: Option<&'a crate::record::DiagnosisRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

impl Webhook {
    /// Notifications to `url` in `format`, each POST allowed `timeout`, retried after each
    /// pause of `backoff`.
    pub fn new(url: Url, format: Format, timeout: Duration, backoff: Vec<Duration>) -> Result<Webhook, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("realitycheck/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Webhook { url, format, client, timeout, backoff })
    }

    /// The URL as logs and errors show it: without its query or credentials (a Slack URL's
    /// path is its secret too, so only scheme, host and port are shown).
    pub fn display_url(&self) -> String {
        let port = self.url.port().map(|port| format!(":{port}")).unwrap_or_default();
        format!("{}://{}{port}/…", self.url.scheme(), self.url.host_str().unwrap_or("?"))
    }

    /// The body of the notification of `transition` on the target at `host`.
    pub fn body(&self, transition: &Transition, host: &str) -> serde_json::Value {
        match self.format {
            Format::Json => serde_json::to_value(JsonBody {
                schema_version: WEBHOOK_SCHEMA_VERSION,
                target: &transition.target,
                host,
                check: &transition.check,
                from: transition.from.map(Health::as_str),
                to: transition.to.as_str(),
                run_id: transition.run_id,
                at: rfc3339(transition.at_ms),
                canary: transition.canary,
                transition: Detail { diagnosis: transition.diagnosis.as_ref(), note: transition.note.as_deref() },
            })
            .unwrap_or_default(),
            Format::Slack => serde_json::json!({ "text": slack_text(transition, host) }),
        }
    }

    /// Posts the notification of `transition`, retrying after each pause of the backoff.
    pub async fn deliver(&self, transition: &Transition, host: &str) -> Result<(), DeliveryError> {
        let body = self.body(transition, host);
        let mut pauses = self.backoff.iter();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let failure = match self.client.post(self.url.clone()).json(&body).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => DeliveryError::Status { url: self.display_url(), status: response.status(), attempts },
                Err(error) if error.is_timeout() => DeliveryError::Unreachable {
                    url: self.display_url(),
                    message: format!("timed out: no answer within {}", harness::humanize(self.timeout)),
                    attempts,
                },
                Err(error) => DeliveryError::Unreachable {
                    url: self.display_url(),
                    message: error.without_url().to_string(),
                    attempts,
                },
            };
            match pauses.next() {
                Some(pause) => {
                    tracing::debug!(%failure, ?pause, "webhook delivery failed; retrying");
                    tokio::time::sleep(*pause).await;
                }
                None => return Err(failure),
            }
        }
    }
}

/// One line, then the diagnosis: what a person reads in a chat channel.
fn slack_text(transition: &Transition, host: &str) -> String {
    let target = match transition.canary {
        true => format!("{}'s canary", transition.target),
        false => transition.target.clone(),
    };
    let check = &transition.check;
    match (transition.to, &transition.diagnosis) {
        (Health::Failing, diagnosis) => {
            let mut text = format!(":red_circle: realitycheck: `{check}` is failing on {target} ({host})");
            if let Some(diagnosis) = diagnosis {
                text.push_str(&format!("\n*{}*", diagnosis.summary));
                if !diagnosis.cause.is_empty() {
                    text.push_str(&format!("\nCause: {}", diagnosis.cause));
                }
                if !diagnosis.remediation.is_empty() {
                    text.push_str(&format!("\nWhat to do: {}", diagnosis.remediation));
                }
            }
            text
        }
        (Health::Passing, _) => {
            format!(":large_green_circle: realitycheck: `{check}` passes again on {target} ({host})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DiagnosisRecord;

    fn transition(to: Health) -> Transition {
        Transition {
            target: "prod".into(),
            check: "nomad::clients_ready".into(),
            from: Some(if to == Health::Failing { Health::Passing } else { Health::Failing }),
            to,
            run_id: 7,
            at_ms: 1_700_000_000_000,
            diagnosis: (to == Health::Failing).then(|| DiagnosisRecord {
                summary: "0 of 1 Nomad clients ready".into(),
                observed: vec!["no node".into()],
                cause: "no client registered".into(),
                remediation: "start a client".into(),
                phase: Some("Nomad clients".into()),
            }),
            note: (to == Health::Passing).then(|| "2 of 2 clients ready".into()),
            canary: false,
        }
    }

    fn webhook(format: Format) -> Webhook {
        let url = Url::parse("https://hooks.example.com:8443/services/T000/B000/SECRET?key=k").unwrap();
        Webhook::new(url, format, Duration::from_secs(1), vec![]).unwrap()
    }

    #[test]
    fn bodies_in_both_formats() {
        insta::assert_json_snapshot!(
            "webhook_json_failing",
            webhook(Format::Json).body(&transition(Health::Failing), "https://circleci.example.com")
        );
        insta::assert_json_snapshot!(
            "webhook_slack_failing",
            webhook(Format::Slack).body(&transition(Health::Failing), "https://circleci.example.com")
        );
        insta::assert_json_snapshot!(
            "webhook_slack_passing",
            webhook(Format::Slack).body(&transition(Health::Passing), "https://circleci.example.com")
        );
    }

    #[test]
    fn a_canary_s_check_is_said_to_be_the_canary_s() {
        let canary = Transition { check: "executors::docker".into(), canary: true, ..transition(Health::Failing) };
        let json = webhook(Format::Json).body(&canary, "https://circleci.example.com");
        assert_eq!((&json["check"], &json["canary"]), (&"executors::docker".into(), &true.into()));
        assert_eq!(webhook(Format::Json).body(&transition(Health::Failing), "h")["canary"], false);
        let slack = webhook(Format::Slack).body(&canary, "https://circleci.example.com");
        assert!(
            slack["text"].as_str().unwrap().starts_with(
                ":red_circle: realitycheck: `executors::docker` is failing on prod's canary (https://circleci.example.com)"
            ),
            "{slack}"
        );
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out_and_each_attempt_is_counted() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/hook", silent.local_addr().unwrap())).unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((connection, _)) = silent.accept().await {
                open.push(connection);
            }
        });
        let webhook =
            Webhook::new(url, Format::Json, Duration::from_millis(200), vec![Duration::from_millis(1)]).unwrap();
        let error = webhook.deliver(&transition(Health::Failing), "https://circleci.example.com").await.unwrap_err();
        held.abort();
        assert!(matches!(error, DeliveryError::Unreachable { attempts: 2, .. }), "{error:?}");
        assert!(
            error.to_string().ends_with("could not be reached in 2 attempts: timed out: no answer within 200ms"),
            "{error}"
        );
        assert_eq!(count(1), "1 attempt");
    }

    #[test]
    fn the_url_shown_hides_the_path_and_query() {
        assert_eq!(webhook(Format::Json).display_url(), "https://hooks.example.com:8443/…");
        let debug = format!("{:?}", webhook(Format::Slack));
        assert!(!debug.contains("SECRET") && !debug.contains("key=k"), "{debug}");
    }
}
