//! The HTTP side of the client: one `reqwest` client per target (custom CA bundle or an
//! explicit insecure mode), the `Circle-Token` header, retries with backoff for 429 and 5xx
//! that honour `Retry-After` (reads within a time budget and the deadline of the check that
//! awaits them, writes a fixed number of times), pagination, and decoding.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use realitycheck_config::Secret;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use super::error::{ApiClientError, ApiError, html_title, is_html, server_message};
use super::journal::{Answer, Journal};
use super::limits::{BodyError, MAX_JSON_BYTES, error_text, read_body};
use super::model::{Context, ContextVariable, FollowedProject, Items, Page, Project, Runner, UnclaimedTasks, User};
use crate::clients::causes::{causes, rustls_error};

/// How long a read, and how many times a write, waits and tries again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// How long a read (GET) may keep failing for a passing reason: it is tried again as long
    /// as the next attempt would start within this time of the first, and before the deadline
    /// of the check that awaits it ([`calls_until`]). Zero: a read is sent once.
    pub read_budget: Duration,
    /// Retries of a write (POST, PUT, DELETE) after its first attempt: a fixed number, since
    /// a write tried again may act twice.
    pub write_retries: u32,
    /// Backoff before retry n is `base_delay * 2^(n-1)`, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails, saying so.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            read_budget: Duration::from_secs(60),
            write_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Every request is sent once (an interactive session, a trigger that retries on its own).
    pub fn none() -> Self {
        RetryPolicy { read_budget: Duration::ZERO, write_retries: 0, ..RetryPolicy::default() }
    }
}

tokio::task_local! {
    /// When the reads of the current check must have given up: its deadline, less the time it
    /// keeps to report.
    static CALLS_UNTIL: Instant;
}

/// Runs `future` (a check's body) with its reads retried until `until` at the latest, whatever
/// the read budget says: a call never retries past the deadline of the check that awaits it.
pub async fn calls_until<F: Future>(until: Instant, future: F) -> F::Output {
    CALLS_UNTIL.scope(until, future).await
}

/// Everything the client needs to reach one installation.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Base URL of the installation (normalised: no trailing `/`, no `app.` prefix).
    pub host: Url,
    pub token: Secret,
    /// Bounds every call, connection included.
    pub timeout: Duration,
    /// PEM file with the CA certificates that sign the installation's certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Accept any certificate (self-signed installs); the caller warns loudly.
    pub insecure: bool,
    pub retry: RetryPolicy,
    /// Pages of one list read at most (the target's `max_pages`).
    pub max_pages: u32,
}

/// A call that was tried again, and why: reports show these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub call: String,
    /// The attempt that failed (1 = the first).
    pub attempt: u32,
    /// `503: upstream unavailable`, `429 Retry-After 1s: Rate limited.`
    pub reason: String,
    pub wait: Duration,
}

/// A client for one installation. Clones share the connection pool; `scoped` gives a
/// clone with its own record of retries, so that a check can report the retries its calls
/// needed.
#[derive(Clone)]
pub struct ApiClient {
    pub(super) http: reqwest::Client,
    /// For URLs outside the API (presigned, object storage): never sends the token.
    pub(super) plain: reqwest::Client,
    /// Verifies the installation's certificate (even when `insecure`) and keeps what it was
    /// shown; never sends the token.
    tls_probe: reqwest::Client,
    host: Url,
    pub(super) token: Secret,
    /// The `Circle-Token` header value, marked sensitive so that no HTTP log shows it.
    pub(super) token_header: HeaderValue,
    timeout: Duration,
    retry: RetryPolicy,
    max_pages: u32,
    retries: Arc<Mutex<Vec<Retry>>>,
    /// The latest answers of the API, shared by every clone.
    journal: Arc<Journal>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient").field("host", &self.host.as_str()).field("token", &self.token).finish()
    }
}

impl ApiClient {
    /// Builds the client; the error says what is wrong (the CA bundle, the token).
    pub fn new(settings: &ApiSettings) -> Result<ApiClient, ApiClientError> {
        // The token goes only where it was meant to: API calls do not follow redirects (a
        // redirect to another host would carry the `Circle-Token` header along), and what
        // lives elsewhere (presigned step output, artifacts in object storage) is fetched by a
        // second client that never sends the token.
        // The TLS probe verifies the installation's certificate whatever `insecure` says, and
        // keeps the certificate it was shown (`api::tls_certificate`).
        let roots = match &settings.ca_bundle {
            Some(path) => ca_bundle(path)?,
            None => Vec::new(),
        };
        let builder = || {
            roots.iter().fold(
                reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                    .user_agent(concat!("realitycheck/", env!("CARGO_PKG_VERSION"))),
                |builder, root| builder.add_root_certificate(root.clone()),
            )
        };
        let build = |builder: reqwest::ClientBuilder| builder.build().map_err(|e| ApiClientError::Http(causes(&e)));
        let http = build(
            builder().redirect(reqwest::redirect::Policy::none()).danger_accept_invalid_certs(settings.insecure),
        )?;
        let plain = build(builder().danger_accept_invalid_certs(settings.insecure))?;
        let tls_probe = build(builder().redirect(reqwest::redirect::Policy::none()).tls_info(true))?;
        let mut token_header =
            HeaderValue::from_str(settings.token.expose()).map_err(|_| ApiClientError::TokenNotAHeader)?;
        token_header.set_sensitive(true);
        Ok(ApiClient {
            http,
            plain,
            tls_probe,
            host: settings.host.clone(),
            token: settings.token.clone(),
            token_header,
            timeout: settings.timeout,
            retry: settings.retry.clone(),
            max_pages: settings.max_pages,
            retries: Arc::default(),
            journal: Arc::default(),
        })
    }

    pub fn host(&self) -> &Url {
        &self.host
    }

    /// The certificate (DER) the host serves, over a connection that verifies it against the
    /// CA bundle and the system's roots, `insecure` or not. Any HTTP answer to `GET /` will do:
    /// the handshake is what counts. No token is sent.
    pub async fn served_certificate(&self) -> Result<Vec<u8>, ApiError> {
        let call = "TLS handshake";
        let response = self
            .tls_probe
            .get(self.host.clone())
            .send()
            .await
            .map_err(|e| self.transport_error(call, &self.host, &e))?;
        response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(<[u8]>::to_vec)
            .ok_or_else(|| ApiError::Tls {
                call: call.to_string(),
                url: self.host.to_string(),
                message: "the connection carried no certificate".to_string(),
            })
    }

    /// The latest answers of the API to this client and its clones, oldest first, without the
    /// token and the signatures of presigned URLs.
    pub fn answers(&self) -> Vec<Answer> {
        self.journal.answers()
    }

    /// A clone sharing the connection pool, with an empty record of retries.
    pub fn scoped(&self) -> ApiClient {
        ApiClient { retries: Arc::default(), ..self.clone() }
    }

    /// The retries this client (or scope) needed so far.
    pub fn retries(&self) -> Vec<Retry> {
        self.retries.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// A clone (sharing the record of retries) that sends each request once: for calls that
    /// must never be repeated blindly, such as a pipeline trigger.
    pub fn without_retries(&self) -> ApiClient {
        ApiClient { retry: RetryPolicy::none(), ..self.clone() }
    }

    /// The retry policy: how long and how often calls wait and try again.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Notes a retry made above the client (a poll done again), for the pass notes.
    pub fn record_retry(&self, retry: Retry) {
        if let Ok(mut retries) = self.retries.lock() {
            retries.push(retry);
        }
    }

    /// `{host}/api/v2/<segments>`, each segment percent-encoded.
    pub(super) fn v2(&self, segments: &[&str]) -> Url {
        self.api(&["api", "v2"], segments)
    }

    /// `{host}/api/v1.1/<segments>`.
    pub(super) fn v1_1(&self, segments: &[&str]) -> Url {
        self.api(&["api", "v1.1"], segments)
    }

    /// `{host}/api/v3/<segments>`: the self-hosted runner API, which server serves on its own host.
    pub(super) fn v3(&self, segments: &[&str]) -> Url {
        self.api(&["api", "v3"], segments)
    }

    fn api(&self, prefix: &[&str], segments: &[&str]) -> Url {
        let mut url = self.host.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(prefix).extend(segments);
        }
        url
    }

    /// The segments of a project slug (`gh/org/repo`), in path form.
    pub(super) fn project_segments(slug: &str) -> Vec<&str> {
        slug.split('/').collect()
    }

    /// Whether the host answers like the CircleCI API, without the token: `GET /api/v2/me`
    /// answers 401 (or 200) with the API's JSON. The error says what answered instead (no
    /// connection, a TLS failure, a web page, a redirect, another status).
    pub async fn probe(&self) -> Result<(), ApiError> {
        let url = self.v2(&["me"]);
        let call = call_name(&Method::GET, &url);
        let response = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(&call, &url, &e.without_url()))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            let location = location.unwrap_or("no Location").to_string();
            return Err(ApiError::Redirect { call, url: url.to_string(), status: status.as_u16(), location });
        }
        let text = error_text(response).await;
        if is_html(&text) {
            return Err(ApiError::NotTheApi { call, url: url.to_string(), title: html_title(&text) });
        }
        let json = serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|value| value.is_object());
        match status.as_u16() {
            200 | 401 | 403 if json => Ok(()),
            200 | 401 | 403 => Err(ApiError::Decode {
                call,
                url: url.to_string(),
                message: format!("answered {} without the API's JSON: {}", status.as_u16(), server_message(&text)),
            }),
            other => {
                Err(ApiError::Status { call, url: url.to_string(), status: other, message: server_message(&text) })
            }
        }
    }

    pub async fn me(&self) -> Result<User, ApiError> {
        self.call(Method::GET, self.v2(&["me"]), None).await
    }

    pub async fn project(&self, slug: &str) -> Result<Project, ApiError> {
        let mut segments = vec!["project"];
        segments.extend(Self::project_segments(slug));
        self.call(Method::GET, self.v2(&segments), None).await
    }

    /// The projects the user behind the token follows (v1.1: v2 has no equivalent).
    pub async fn followed_projects(&self) -> Result<Vec<FollowedProject>, ApiError> {
        self.call(Method::GET, self.v1_1(&["projects"]), None).await
    }

    /// The runners that connected for `resource_class` (`namespace/name`).
    pub async fn runners(&self, resource_class: &str) -> Result<Vec<Runner>, ApiError> {
        let mut url = self.v3(&["runner"]);
        url.query_pairs_mut().append_pair("resource-class", resource_class);
        self.call::<Items<Runner>>(Method::GET, url, None).await.map(|list| list.items)
    }

    /// How many jobs of `resource_class` wait for a runner to claim them.
    pub async fn unclaimed_runner_tasks(&self, resource_class: &str) -> Result<u64, ApiError> {
        let mut url = self.v3(&["runner", "tasks"]);
        url.query_pairs_mut().append_pair("resource-class", resource_class);
        self.call::<UnclaimedTasks>(Method::GET, url, None).await.map(|tasks| tasks.unclaimed_task_count)
    }

    /// Every context an organization owns, all pages.
    pub async fn contexts(&self, owner_id: &str) -> Result<Vec<Context>, ApiError> {
        let mut url = self.v2(&["context"]);
        url.query_pairs_mut().append_pair("owner-id", owner_id).append_pair("owner-type", "organization");
        self.all_pages(url).await
    }

    pub async fn create_context(&self, name: &str, owner_id: &str) -> Result<Context, ApiError> {
        let body = json!({"name": name, "owner": {"id": owner_id, "type": "organization"}});
        self.call(Method::POST, self.v2(&["context"]), Some(body)).await
    }

    pub async fn delete_context(&self, context_id: &str) -> Result<(), ApiError> {
        self.call::<serde_json::Value>(Method::DELETE, self.v2(&["context", context_id]), None).await.map(drop)
    }

    /// The variables of a context (names only: the API never returns values), all pages.
    pub async fn context_variables(&self, context_id: &str) -> Result<Vec<ContextVariable>, ApiError> {
        self.all_pages(self.v2(&["context", context_id, "environment-variable"])).await
    }

    pub async fn put_context_variable(
        &self,
        context_id: &str,
        name: &str,
        value: &Secret,
    ) -> Result<ContextVariable, ApiError> {
        let url = self.v2(&["context", context_id, "environment-variable", name]);
        self.call(Method::PUT, url, Some(json!({"value": value.expose()}))).await
    }

    pub async fn delete_context_variable(&self, context_id: &str, name: &str) -> Result<(), ApiError> {
        let url = self.v2(&["context", context_id, "environment-variable", name]);
        self.call::<serde_json::Value>(Method::DELETE, url, None).await.map(drop)
    }

    /// Follows `next_page_token` to the end (null or empty). A token seen twice ends the
    /// walk with an error instead of a loop.
    pub(super) async fn all_pages<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>, ApiError> {
        let mut items = Vec::new();
        let mut seen_tokens = Vec::new();
        let mut url = first.clone();
        for pages in 1.. {
            let page: Page<T> = self.call(Method::GET, url.clone(), None).await?;
            items.extend(page.items);
            let Some(token) = page.next_page_token.filter(|t| !t.is_empty()) else {
                return Ok(items);
            };
            if pages >= self.max_pages {
                return Err(ApiError::TooManyPages {
                    call: call_name(&Method::GET, &first),
                    url: first.to_string(),
                    pages,
                });
            }
            if seen_tokens.contains(&token) {
                return Err(ApiError::Decode {
                    call: call_name(&Method::GET, &first),
                    url: first.to_string(),
                    message: "the server repeated a next_page_token; the list never ends".into(),
                });
            }
            url = first.clone();
            url.query_pairs_mut().append_pair("page-token", &token);
            seen_tokens.push(token);
        }
        unreachable!("the loop over pages ends by returning")
    }

    /// One call with its retries, its answer decoded from JSON.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<T, ApiError> {
        let call = call_name(&method, &url);
        let build = || {
            let request = self
                .http
                .request(method.clone(), url.clone())
                .header("Circle-Token", self.token_header.clone())
                .header(ACCEPT, "application/json");
            match &body {
                Some(body) => request.json(body),
                None => request,
            }
        };
        let response = self.retrying(&call, &method, &url, build).await?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            let location = location.map_or_else(|| "no Location".to_string(), |l| self.token.redact(l));
            self.journal.record(&call, url.as_str(), status.as_u16(), &format!("redirect to {location}"), &self.token);
            return Err(ApiError::Redirect { call, url: url.to_string(), status: status.as_u16(), location });
        }
        if !status.is_success() {
            let message = self.token.redact(&server_message(&error_text(response).await));
            return Err(ApiError::Status { call, url: url.to_string(), status: status.as_u16(), message });
        }
        let body = read_body(response, MAX_JSON_BYTES).await.map_err(|error| match error {
            BodyError::Transport(e) => self.transport_error(&call, &url, &e),
            BodyError::TooLarge => ApiError::TooLarge {
                call: call.clone(),
                url: url.to_string(),
                what: "an API answer",
                limit: MAX_JSON_BYTES,
            },
        })?;
        let text = String::from_utf8_lossy(&body);
        self.journal.record(&call, url.as_str(), status.as_u16(), &text, &self.token);
        if is_html(&text) {
            let title = html_title(&text).map(|title| self.token.redact(&title));
            return Err(ApiError::NotTheApi { call, url: url.to_string(), title });
        }
        let text = if text.trim().is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| ApiError::Decode {
            call: call.clone(),
            url: url.to_string(),
            message: self.token.redact(&e.to_string()),
        })
    }

    /// Sends the request `build` makes, again after a retryable answer: 429 and 502/503/504
    /// for every method (the request did not reach the service), 500 only for GET (a write may
    /// have happened), and a failed connection (refused, reset, closed before the answer) for
    /// idempotent methods; a timeout is not tried again (each would cost the whole timeout).
    /// A read is tried again while the next attempt would start within the read budget and
    /// before the check's deadline ([`calls_until`]), then ends with its last failure, saying
    /// how long it kept failing; a write at most `write_retries` times. Returns the first
    /// answer that is a success or a redirect; `shown` is the URL errors may print.
    pub(super) async fn retrying(
        &self,
        call: &str,
        method: &Method,
        shown: &Url,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (failure, reason, retry_after) = match build().send().await {
                Ok(response) if response.status().is_success() || response.status().is_redirection() => {
                    return Ok(response);
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let message = self.token.redact(&server_message(&error_text(response).await));
                    self.journal.record(call, shown.as_str(), status.as_u16(), &message, &self.token);
                    let (call, url) = (call.to_string(), shown.to_string());
                    if !retryable(method, status) {
                        return Err(ApiError::Status { call, url, status: status.as_u16(), message });
                    }
                    let longest = self.retry.max_retry_after.min(self.timeout);
                    if let Some(wait) = retry_after.filter(|wait| *wait > longest) {
                        // Waiting longer than a call may take would outlast the check that made it.
                        let message = format!(
                            "{message} (Retry-After {}: longer than realitycheck waits, {})",
                            harness::humanize(wait),
                            harness::humanize(longest)
                        );
                        return Err(ApiError::Status { call, url, status: status.as_u16(), message });
                    }
                    let reason = match (status, retry_after) {
                        (StatusCode::TOO_MANY_REQUESTS, Some(wait)) => {
                            format!("429 Retry-After {}: {message}", harness::humanize(wait))
                        }
                        _ => format!("{}: {message}", status.as_u16()),
                    };
                    (ApiError::Status { call, url, status: status.as_u16(), message }, reason, retry_after)
                }
                Err(error) => {
                    let failure = self.transport_error(call, shown, &error.without_url());
                    let ApiError::Unreachable { message, .. } = &failure else { return Err(failure) };
                    if !idempotent(method) {
                        return Err(failure);
                    }
                    let reason = format!("connection failed: {message}");
                    (failure, reason, None)
                }
            };
            let wait = retry_after.unwrap_or_else(|| backoff(&self.retry, attempt));
            if let Some(stop) = self.stop(method, attempt, started, wait) {
                let gave_up = GaveUp { attempts: attempt, failing_for: started.elapsed(), stop };
                return Err(gave_up.applied_to(failure));
            }
            tracing::info!(%call, attempt, %reason, "retrying");
            self.record_retry(Retry { call: call.to_string(), attempt, reason, wait });
            tokio::time::sleep(wait).await;
        }
    }

    /// Whether a write that is safe to send again (one that looks for what it made before
    /// resending, as the pipeline trigger does), first sent at `started`, may be sent again
    /// after `wait`: as a read may, within the read budget and the check's deadline.
    pub(crate) fn may_resend_within_read_budget(&self, attempt: u32, started: Instant, wait: Duration) -> bool {
        self.stop(&Method::GET, attempt, started, wait).is_none()
    }

    /// Why a call that failed on its `attempt`th attempt, and would wait `wait` before the
    /// next, is not tried again; `None` when it is.
    fn stop(&self, method: &Method, attempt: u32, started: Instant, wait: Duration) -> Option<Stop> {
        if !is_read(method) {
            return (attempt > self.retry.write_retries).then_some(Stop::Once);
        }
        if self.retry.read_budget.is_zero() {
            return Some(Stop::Once);
        }
        let next = Instant::now() + wait;
        if next > started + self.retry.read_budget {
            return Some(Stop::Budget(self.retry.read_budget));
        }
        let until = CALLS_UNTIL.try_with(|until| *until).ok();
        until.filter(|until| next > *until).map(|_| Stop::CheckDeadline)
    }

    pub(super) fn transport_error(&self, call: &str, url: &Url, error: &reqwest::Error) -> ApiError {
        let message = self.token.redact(&causes(error));
        let (call, url) = (call.to_string(), url.to_string());
        if error.is_timeout() {
            return ApiError::Timeout { call, url, after: self.timeout };
        }
        if is_tls_failure(error) {
            return ApiError::Tls { call, url, message };
        }
        if error.is_decode() {
            return ApiError::Decode { call, url, message };
        }
        ApiError::Unreachable { call, url, message }
    }
}

/// The certificates of a CA bundle file; the error names the file and what is wrong with it.
fn ca_bundle(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, ApiClientError> {
    let pem = std::fs::read(path)
        .map_err(|source| ApiClientError::UnreadableCaBundle { path: path.to_path_buf(), source })?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ApiClientError::NotPem { path: path.to_path_buf(), message: e.to_string() })?;
    if certificates.is_empty() {
        return Err(ApiClientError::EmptyCaBundle { path: path.to_path_buf() });
    }
    Ok(certificates)
}

/// Whether a TLS error (rustls's own) is among `error`'s causes: recognised by its type,
/// whatever its text says.
fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    rustls_error(error).is_some()
}

/// `GET /api/v2/context`: method and path, without the query.
fn call_name(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// Why a call was not tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    /// A write after its retries, or a call of a policy without retries: the error as it was.
    Once,
    /// A read whose next attempt would start after the read budget.
    Budget(Duration),
    /// A read whose next attempt would start after the deadline of the check awaiting it.
    CheckDeadline,
}

/// A read that was given up: how long it had been failing, after how many attempts, and why
/// it was not tried again.
struct GaveUp {
    attempts: u32,
    failing_for: Duration,
    stop: Stop,
}

impl GaveUp {
    /// `failure` (the last one), its message saying that the read was given up, and what to
    /// look at.
    fn applied_to(&self, failure: ApiError) -> ApiError {
        let why = match self.stop {
            Stop::Once => return failure,
            Stop::Budget(budget) => format!("reads are retried for {} at most", harness::humanize(budget)),
            Stop::CheckDeadline => "the check's time was running out".to_string(),
        };
        let attempts = match self.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        let note = format!(
            "; still failing after {attempts} over {} ({why}): check the CircleCI API's pods and \
             any proxy or load balancer in front of it",
            harness::humanize(self.failing_for)
        );
        match failure {
            ApiError::Status { call, url, status, message } => {
                ApiError::Status { call, url, status, message: format!("{message}{note}") }
            }
            ApiError::Unreachable { call, url, message } => {
                ApiError::Unreachable { call, url, message: format!("{message}{note}") }
            }
            other => other,
        }
    }
}

/// Methods that only read: tried again within the read budget.
fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Methods that may be sent twice with the effect of once.
fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
}

fn retryable(method: &Method, status: StatusCode) -> bool {
    match status.as_u16() {
        429 | 502 | 503 | 504 => true,
        500 => *method == Method::GET,
        _ => false,
    }
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    policy.base_delay.saturating_mul(factor).min(policy.max_delay)
}

/// `Retry-After` in seconds (an HTTP date is rare from CircleCI and read as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_recognised_by_type_not_by_text() {
        use std::io::{Error, ErrorKind};
        let handshake = Error::new(ErrorKind::InvalidData, rustls::Error::General("the peer said no".into()));
        assert!(is_tls_failure(&handshake), "rustls's error inside an I/O error");
        let wrapped = Error::other(handshake);
        assert!(is_tls_failure(&wrapped), "however deep");
        let lookalike = Error::new(ErrorKind::ConnectionReset, "tls certificate handshake: connection reset");
        assert!(!is_tls_failure(&lookalike), "words alone are not a TLS failure");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(backoff(&policy, 1), Duration::from_millis(500));
        assert_eq!(backoff(&policy, 2), Duration::from_secs(1));
        assert_eq!(backoff(&policy, 5), Duration::from_secs(8));
        assert_eq!(backoff(&policy, 40), Duration::from_secs(8));
    }

    #[test]
    fn only_safe_statuses_are_retried() {
        assert!(retryable(&Method::POST, StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(&Method::PUT, StatusCode::SERVICE_UNAVAILABLE));
        assert!(retryable(&Method::GET, StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!retryable(&Method::POST, StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!retryable(&Method::GET, StatusCode::UNAUTHORIZED));
        assert!(!retryable(&Method::GET, StatusCode::NOT_FOUND));
    }

    #[test]
    fn urls_encode_each_segment_and_keep_the_host_path() {
        let settings = ApiSettings {
            host: Url::parse("https://ci.example.com/circleci").unwrap(),
            token: Secret::new("t"),
            timeout: Duration::from_secs(5),
            ca_bundle: None,
            insecure: false,
            retry: RetryPolicy::default(),
            max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
        };
        let client = ApiClient::new(&settings).unwrap();
        assert_eq!(
            client.v2(&["project", "gh", "my org", "repo"]).as_str(),
            "https://ci.example.com/circleci/api/v2/project/gh/my%20org/repo"
        );
        let root =
            ApiClient::new(&ApiSettings { host: Url::parse("https://ci.example.com").unwrap(), ..settings }).unwrap();
        assert_eq!(root.v2(&["me"]).as_str(), "https://ci.example.com/api/v2/me");
        assert!(!format!("{root:?}").contains("\"t\""), "the token is redacted in Debug");
    }
}
