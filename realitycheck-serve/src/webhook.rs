//! Notifications: a POST to the webhook URL on every change of a check's health (passing to
//! failing, failing to passing, and a check first seen failing), of the scheduled runs' checks
//! and, apart, of the canary's, as realitycheck's own JSON or as a Slack-compatible
//! `{"text": …}` body, each saying the run that saw the change and when it ended. Each
//! target's notifications go through its [`Outbox`], delivered one at a time in the order their
//! runs ended: a delivery retried with backoff holds the ones behind it. A notification that a
//! newer one of the same check supersedes before it is delivered is dropped (its retries
//! stopped), and so is the oldest waiting one when the outbox is full; a delivery that fails in
//! the end is logged. Each is counted, and none ever changes a verdict.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::state::{Health, Transition};
use crate::time::{readable, rfc3339};

/// How many notifications of one target may wait behind the one being delivered. An outbox
/// holds at most one per check (a newer one supersedes it), so only a suite of more checks
/// than this fills it.
pub const OUTBOX_CAPACITY: usize = 256;

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
    /// A newer notification of the same check was queued while this one was retried: its
    /// retries were stopped.
    #[error("the delivery to the webhook at {url} was stopped after {}: a newer notification of the check superseded it", count(*attempts))]
    Superseded {
        /// The webhook (without its query).
        url: String,
        /// Attempts made.
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

    /// Posts the notification of `transition`, retrying after each pause of the backoff until
    /// `stop` is cancelled (an attempt under way is let finish).
    pub async fn deliver(
        &self,
        transition: &Transition,
        host: &str,
        stop: &CancellationToken,
    ) -> Result<(), DeliveryError> {
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
            let Some(pause) = pauses.next() else { return Err(failure) };
            tracing::debug!(%failure, ?pause, "webhook delivery failed; retrying");
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    return Err(DeliveryError::Superseded { url: self.display_url(), attempts });
                }
                () = tokio::time::sleep(*pause) => {}
            }
        }
    }
}

/// What became of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// A newer notification of the same check was queued before it was delivered.
    Superseded,
    /// The outbox was full: the oldest waiting notification was dropped to make room.
    QueueFull,
}

/// One target's notifications not delivered yet, in the order their runs ended, worked by one
/// task ([`Outbox::work`]): the one being delivered, and those waiting behind it.
#[derive(Debug)]
pub struct Outbox {
    target: String,
    capacity: usize,
    pending: Mutex<Pending>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: VecDeque<Transition>,
    delivering: Option<Delivering>,
    closed: bool,
}

/// The notification being delivered.
#[derive(Debug)]
struct Delivering {
    canary: bool,
    check: String,
    /// Cancelled when a newer notification of its check is queued: stops its retries.
    stop: CancellationToken,
    /// The run of that newer notification.
    superseded_by: Option<u64>,
}

/// Whether `a` and `b` are of the same check (a canary's check is apart from the scheduled
/// runs' check of the same ID).
fn same_check(a: &Transition, b: &Transition) -> bool {
    a.canary == b.canary && a.check == b.check
}

impl Outbox {
    /// The outbox of `target`, holding at most `capacity` waiting notifications (at least one).
    pub fn new(target: &str, capacity: usize) -> Outbox {
        Outbox {
            target: target.to_string(),
            capacity: capacity.max(1),
            pending: Mutex::new(Pending::default()),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `transition` behind the others, never waiting. An older notification of the
    /// same check still waiting is dropped; one being delivered has its retries stopped (its
    /// outcome comes from [`Outbox::work`]); when the outbox is full the oldest waiting one is
    /// dropped. Returns the outcomes of the notifications dropped, each logged.
    pub fn push(&self, transition: Transition) -> Vec<Outcome> {
        let mut pending = self.lock();
        let mut dropped = Vec::new();
        if let Some(index) = pending.waiting.iter().position(|waiting| same_check(waiting, &transition))
            && let Some(older) = pending.waiting.remove(index)
        {
            tracing::info!(target_name = %self.target, check = %older.check, canary = older.canary, run = older.run_id, superseded_by = transition.run_id, "a notification not delivered yet was dropped: a newer one of the check supersedes it");
            dropped.push(Outcome::Superseded);
        }
        if let Some(delivering) = pending.delivering.as_mut()
            && delivering.canary == transition.canary
            && delivering.check == transition.check
        {
            delivering.stop.cancel();
            delivering.superseded_by = Some(transition.run_id);
        }
        if pending.waiting.len() >= self.capacity
            && let Some(oldest) = pending.waiting.pop_front()
        {
            tracing::warn!(target_name = %self.target, check = %oldest.check, canary = oldest.canary, run = oldest.run_id, capacity = self.capacity, "the webhook's outbox is full; its oldest notification was dropped");
            dropped.push(Outcome::QueueFull);
        }
        pending.waiting.push_back(transition);
        drop(pending);
        self.ready.notify_one();
        dropped
    }

    /// Lets [`Outbox::work`] end once the notifications queued so far are delivered.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// The next notification to deliver and the token that stops its retries; `None` once
    /// closed with none waiting.
    async fn next(&self) -> Option<(Transition, CancellationToken)> {
        loop {
            {
                let mut pending = self.lock();
                if let Some(transition) = pending.waiting.pop_front() {
                    let stop = CancellationToken::new();
                    pending.delivering = Some(Delivering {
                        canary: transition.canary,
                        check: transition.check.clone(),
                        stop: stop.clone(),
                        superseded_by: None,
                    });
                    return Some((transition, stop));
                }
                if pending.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }

    /// Delivers the notifications to `webhook` one at a time, in order, until closed; tells
    /// `counted` the outcome of each (never with the outbox locked).
    pub async fn work(&self, webhook: &Webhook, host: &str, mut counted: impl FnMut(Outcome)) {
        while let Some((transition, stop)) = self.next().await {
            let result = webhook.deliver(&transition, host, &stop).await;
            let superseded_by = self.lock().delivering.take().and_then(|delivering| delivering.superseded_by);
            let outcome = match result {
                Ok(()) => Outcome::Delivered,
                Err(DeliveryError::Superseded { attempts, .. }) => {
                    tracing::info!(target_name = %self.target, check = %transition.check, canary = transition.canary, run = transition.run_id, ?superseded_by, attempts, "a notification being retried was dropped: a newer one of the check supersedes it");
                    Outcome::Superseded
                }
                Err(error) => {
                    tracing::warn!(%error, target_name = %self.target, check = %transition.check, run = transition.run_id, "a notification was not delivered");
                    Outcome::Failed
                }
            };
            counted(outcome);
        }
    }
}

/// One line, then the diagnosis, then the run and when it ended: what a person reads in a chat
/// channel.
fn slack_text(transition: &Transition, host: &str) -> String {
    let target = match transition.canary {
        true => format!("{}'s canary", transition.target),
        false => transition.target.clone(),
    };
    let check = &transition.check;
    let run = format!("\nRun {}, ended {}", transition.run_id, readable(transition.at_ms));
    let mut text = match (transition.to, &transition.diagnosis) {
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
    };
    text.push_str(&run);
    text
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
        let error = webhook
            .deliver(&transition(Health::Failing), "https://circleci.example.com", &CancellationToken::new())
            .await
            .unwrap_err();
        held.abort();
        assert!(matches!(error, DeliveryError::Unreachable { attempts: 2, .. }), "{error:?}");
        assert!(
            error.to_string().ends_with("could not be reached in 2 attempts: timed out: no answer within 200ms"),
            "{error}"
        );
        assert_eq!(count(1), "1 attempt");
    }

    #[tokio::test]
    async fn a_waiting_notification_is_superseded_by_a_newer_one_of_its_check_and_a_full_outbox_drops_its_oldest() {
        let outbox = Outbox::new("prod", 3);
        let of = |check: &str, run_id: u64, canary: bool| Transition {
            check: check.into(),
            run_id,
            canary,
            ..transition(Health::Failing)
        };
        assert_eq!(outbox.push(of("a", 1, false)), []);
        let (first, stop) = outbox.next().await.unwrap();
        assert_eq!(first.run_id, 1);
        assert_eq!(outbox.push(of("b", 2, false)), []);
        assert_eq!(outbox.push(of("a", 2, true)), [], "the canary's `a` is another check");
        assert!(!stop.is_cancelled());
        assert_eq!(outbox.push(of("a", 3, false)), [], "run 1's is being delivered: its outcome is told later");
        assert!(stop.is_cancelled(), "run 1's retries stop");
        assert_eq!(outbox.push(of("b", 4, false)), [Outcome::Superseded], "run 2's `b` had not left");
        assert_eq!(outbox.push(of("c", 5, false)), [Outcome::QueueFull], "the canary's `a` was the oldest waiting");
        outbox.close();
        let mut rest = Vec::new();
        while let Some((transition, _)) = outbox.next().await {
            rest.push((transition.check, transition.run_id));
        }
        assert_eq!(rest, [("a".to_string(), 3), ("b".to_string(), 4), ("c".to_string(), 5)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_delivery_makes_no_further_attempt() {
        let refusing = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/hook", refusing.local_addr().unwrap())).unwrap();
        drop(refusing);
        let webhook = Webhook::new(url, Format::Json, Duration::from_secs(1), vec![Duration::from_secs(3600)]).unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let error = webhook.deliver(&transition(Health::Failing), "h", &stop).await.unwrap_err();
        assert!(matches!(error, DeliveryError::Superseded { attempts: 1, .. }), "{error:?}");
        assert!(
            error.to_string().ends_with("stopped after 1 attempt: a newer notification of the check superseded it"),
            "{error}"
        );
    }

    #[test]
    fn the_url_shown_hides_the_path_and_query() {
        assert_eq!(webhook(Format::Json).display_url(), "https://hooks.example.com:8443/…");
        let debug = format!("{:?}", webhook(Format::Slack));
        assert!(!debug.contains("SECRET") && !debug.contains("key=k"), "{debug}");
    }
}
