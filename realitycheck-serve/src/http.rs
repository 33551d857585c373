//! The HTTP interface of `serve` (axum): `/metrics`, the JSON API under `/api/v1/`, the
//! status page, and `/healthz` and `/readyz` for probes, served by an accept loop (hyper) that
//! caps connections under the fd limit and closes idle ones. Only `POST /api/v1/runs` changes
//! anything; with an API token set it requires it as a bearer token, and off loopback without
//! one it is refused.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use harness::Counts;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::canary::CanaryState;
use crate::record::{CheckStatus, RunRecord};
use crate::service::{RequestError, Service};
use crate::state::{CheckState, TargetState};
use crate::time::rfc3339;
use crate::{metrics, page};

/// The value of the status document's `schema_version` field.
pub const STATUS_SCHEMA_VERSION: &str = "realitycheck.status/v1";

/// How long a connection may take to send a request's header, counted from its first byte
/// (or, between requests, from the end of the last answer): idle and half-sent connections are
/// closed after it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The connections `serve` holds at most when the fd limit cannot be read.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// The file descriptors left, under the soft limit, to the runs' own sockets, the state dir,
/// the webhook and the runtime.
pub const FD_HEADROOM: u64 = 128;

/// The fewest connections the cap allows, however low the fd limit.
const MIN_CONNECTIONS: usize = 8;

/// How long the accept loop pauses after an error accepting (such as "Too many open files").
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// What bounds the HTTP interface's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections held at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
}

impl Limits {
    /// The cap below this process's soft limit of open files (`/proc/self/limits` on Linux),
    /// [`FD_HEADROOM`] under it, and [`HEADER_READ_TIMEOUT`].
    pub fn of_process() -> Limits {
        let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|text| soft_nofile(&text));
        Limits { max_connections: max_connections(soft), header_read_timeout: HEADER_READ_TIMEOUT }
    }
}

/// The soft limit of open files in the text of `/proc/self/limits`; `None` when unlimited or
/// absent.
pub fn soft_nofile(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

/// The connection cap under a soft limit of `soft` open files.
pub fn max_connections(soft: Option<u64>) -> usize {
    match soft {
        Some(soft) => {
            usize::try_from(soft.saturating_sub(FD_HEADROOM)).unwrap_or(usize::MAX).clamp(MIN_CONNECTIONS, 4096)
        }
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Serves the router of `service` on `listener` until `shutdown` is cancelled; requests in
/// flight then finish. At most `limits.max_connections` connections are held at once (the
/// others wait in the listen backlog), and a connection that sends no complete header within
/// `limits.header_read_timeout` is closed, so that idle clients cannot use up the process's
/// file descriptors and `/healthz` keeps answering. Off loopback without an API token,
/// `POST /api/v1/runs` is refused (see [`router`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: harness::CancellationToken,
    limits: Limits,
) -> std::io::Result<()> {
    let app = router(service, listener.local_addr()?.ip());
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("serve could not accept a connection: {error}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection's error (a reset, a header too slow) ends that connection only.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Whether `POST /api/v1/runs` may go without a token: only on a loopback listen address.
#[derive(Clone, Copy, Debug)]
struct Exposure {
    listen: IpAddr,
}

/// The router of `service`, listening on `listen`: off loopback (anything but 127.0.0.0/8 and
/// ::1) without an API token, `POST /api/v1/runs` is refused with 403.
pub fn router(service: Arc<Service>, listen: IpAddr) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/runs/{id}", get(run_page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/runs", get(runs).post(request_run))
        .route("/api/v1/runs/{id}", get(run))
        .layer(Extension(Exposure { listen }))
        .with_state(service)
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    let body = metrics::render(&service.snapshot(), service.version());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}

async fn readyz(State(service): State<Arc<Service>>) -> Response {
    if service.ready() {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn status_page(State(service): State<Arc<Service>>) -> Response {
    page_response(page::status(&service.snapshot(), service.version(), now_ms()))
}

async fn run_page(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    match id.parse().ok().and_then(|id| service.run(id)) {
        Some(record) => page_response(page::run(&record, service.version(), now_ms())),
        None => (StatusCode::NOT_FOUND, Html(page::not_found(&id))).into_response(),
    }
}

fn page_response(html: String) -> Response {
    let mut response = Html(html).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn now_ms() -> u64 {
    crate::record::unix_millis(std::time::SystemTime::now())
}

/// An API error: a status and `{"error": "…"}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

#[derive(Serialize)]
struct Status {
    schema_version: &'static str,
    version: String,
    generated_at: String,
    targets: Vec<TargetStatus>,
}

#[derive(Serialize)]
struct TargetStatus {
    name: String,
    host: String,
    profile: String,
    interval_seconds: u64,
    /// `passing`, `failing` or `unknown`: whether any check's last verdict was a failure.
    health: &'static str,
    running: Option<RunningStatus>,
    next_run_at: Option<String>,
    last_run: Option<RunListing>,
    last_passed_run_at: Option<String>,
    checks: Vec<CheckStatusDoc>,
    certificates: Vec<CertificateDoc>,
    /// The target's canary, apart from the scheduled runs; `None` when it has none.
    canary: Option<CanaryStatus>,
}

#[derive(Serialize)]
struct RunningStatus {
    id: u64,
    trigger: crate::record::Trigger,
    canary: bool,
    started_at: String,
}

#[derive(Serialize)]
struct CanaryStatus {
    /// The canary's profile, interval and the longest a job may wait: `None` when the target
    /// has no canary any more and only its kept canaries are shown.
    profile: Option<String>,
    interval_seconds: Option<u64>,
    max_wait_seconds: Option<u64>,
    /// `passing`, `failing` or `unknown`.
    health: &'static str,
    next_run_at: Option<String>,
    last_run: Option<RunListing>,
    checks: Vec<CheckStatusDoc>,
    jobs: Vec<JobDoc>,
}

#[derive(Serialize)]
struct JobDoc {
    executor: String,
    check: String,
    wait_seconds: Option<i64>,
    run_seconds: Option<i64>,
    measured_at: String,
    run_id: u64,
    consecutive_over_threshold: u32,
}

#[derive(Serialize)]
struct CheckStatusDoc {
    id: String,
    status: CheckStatus,
    health: Option<&'static str>,
    since: Option<String>,
    consecutive_failures: u32,
    last_run_at: String,
    last_success_at: Option<String>,
    duration_ms: u64,
    run_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnosis: Option<String>,
}

#[derive(Serialize)]
struct CertificateDoc {
    check: String,
    certificate: String,
    expires_at: String,
}

/// One run, as lists show it.
#[derive(Serialize)]
struct RunListing {
    id: u64,
    target: String,
    trigger: crate::record::Trigger,
    profile: String,
    canary: bool,
    started_at: String,
    duration_ms: u64,
    result: &'static str,
    overran: bool,
    counts: Counts,
    url: String,
}

impl RunListing {
    fn of(record: &RunRecord) -> RunListing {
        RunListing {
            id: record.id,
            target: record.target.clone(),
            trigger: record.trigger,
            profile: record.profile.clone(),
            canary: record.canary,
            started_at: rfc3339(record.started_at_ms),
            duration_ms: record.duration_ms,
            result: record.result.as_str(),
            overran: record.overran,
            counts: record.counts(),
            url: format!("/api/v1/runs/{}", record.id),
        }
    }
}

impl TargetStatus {
    fn of(target: &TargetState) -> TargetStatus {
        let last_run = target.last_run();
        TargetStatus {
            name: target.name.clone(),
            host: target.host.clone(),
            profile: target.profile.clone(),
            interval_seconds: target.interval.as_secs(),
            health: page::target_health(target).as_str(),
            running: target.running.map(|running| RunningStatus {
                id: running.id,
                trigger: running.trigger,
                canary: running.canary,
                started_at: rfc3339(running.started_at_ms),
            }),
            next_run_at: target.next_run_ms.map(rfc3339),
            last_run: last_run.map(|record| RunListing::of(record)),
            last_passed_run_at: target.last_passed_ms.map(rfc3339),
            checks: check_docs(&target.checks, target),
            certificates: target
                .certificate_expiries()
                .into_iter()
                .map(|c| CertificateDoc {
                    check: c.check,
                    certificate: c.certificate,
                    expires_at: rfc3339(u64::try_from(c.expires_at.max(0)).unwrap_or(0) * 1000),
                })
                .collect(),
            canary: target.canary.shown().then(|| CanaryStatus::of(&target.canary, target)),
        }
    }
}

impl CanaryStatus {
    fn of(canary: &CanaryState, target: &TargetState) -> CanaryStatus {
        let schedule = canary.schedule.as_ref();
        CanaryStatus {
            profile: schedule.map(|schedule| schedule.profile.clone()),
            interval_seconds: schedule.map(|schedule| schedule.interval.as_secs()),
            max_wait_seconds: schedule.map(|schedule| schedule.max_wait.as_secs()),
            health: canary.health().as_str(),
            next_run_at: canary.next_run_ms.map(rfc3339),
            last_run: canary.last_run().map(|record| RunListing::of(record)),
            checks: check_docs(&canary.checks, target),
            jobs: canary
                .jobs
                .values()
                .map(|job| JobDoc {
                    executor: job.executor.clone(),
                    check: job.check.clone(),
                    wait_seconds: job.wait_seconds,
                    run_seconds: job.run_seconds,
                    measured_at: rfc3339(job.measured_ms),
                    run_id: job.run_id,
                    consecutive_over_threshold: job.waits_over,
                })
                .collect(),
        }
    }
}

/// The documents of `checks`, with the diagnosis summary of a failed one from its run kept by
/// `target`.
fn check_docs(checks: &BTreeMap<String, CheckState>, target: &TargetState) -> Vec<CheckStatusDoc> {
    checks
        .values()
        .map(|check| CheckStatusDoc {
            id: check.id.clone(),
            status: check.status,
            health: check.health.map(|h| h.as_str()),
            since: check.since_ms.map(rfc3339),
            consecutive_failures: check.consecutive_failures,
            last_run_at: rfc3339(check.last_run_ms),
            last_success_at: check.last_success_ms.map(rfc3339),
            duration_ms: check.duration_ms,
            run_id: check.run_id,
            diagnosis: target
                .run(check.run_id)
                .and_then(|run| run.checks.iter().find(|c| c.id == check.id))
                .and_then(|c| c.diagnosis.as_ref())
                .filter(|_| check.status == CheckStatus::Failed)
                .map(|d| d.summary.clone()),
        })
        .collect()
}

async fn status(State(service): State<Arc<Service>>) -> Json<Status> {
    Json(Status {
        schema_version: STATUS_SCHEMA_VERSION,
        version: service.version().to_string(),
        generated_at: rfc3339(now_ms()),
        targets: service.snapshot().iter().map(TargetStatus::of).collect(),
    })
}

#[derive(Deserialize)]
struct RunsQuery {
    target: Option<String>,
    limit: Option<usize>,
}

/// The kept runs (canaries too), newest first, of every target or of `?target=`; at most
/// `?limit=` (100).
async fn runs(State(service): State<Arc<Service>>, Query(query): Query<RunsQuery>) -> Response {
    let targets = service.snapshot();
    if let Some(name) = &query.target
        && !targets.iter().any(|t| &t.name == name)
    {
        return error(StatusCode::NOT_FOUND, format!("there is no target `{name}`"));
    }
    let mut records: Vec<&Arc<RunRecord>> = targets
        .iter()
        .filter(|t| query.target.as_ref().is_none_or(|name| &t.name == name))
        .flat_map(|t| t.history.iter().chain(&t.canary.history))
        .collect();
    records.sort_by_key(|record| std::cmp::Reverse(record.id));
    let runs: Vec<RunListing> =
        records.into_iter().take(query.limit.unwrap_or(100)).map(|r| RunListing::of(r)).collect();
    Json(json!({ "runs": runs })).into_response()
}

async fn run(State(service): State<Arc<Service>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("`{id}` is not a run ID (a number)"));
    };
    if let Some(record) = service.run(id) {
        return Json(&*record).into_response();
    }
    match service.unfinished(id) {
        Some((target, running)) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "id": id,
                "target": target,
                "state": if running.is_some() { "running" } else { "queued" },
                "started_at": running.map(|r| rfc3339(r.started_at_ms)),
            })),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no run {id} is kept (the history keeps the last runs of each target)"),
        ),
    }
}

#[derive(Deserialize)]
struct RequestQuery {
    target: Option<String>,
}

/// Whether the request carries the bearer token, compared in constant time.
fn authorised(service: &Service, headers: &HeaderMap) -> bool {
    let Some(expected) = service.api_token() else { return true };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    expected.matches(given)
}

async fn request_run(
    State(service): State<Arc<Service>>,
    Extension(exposure): Extension<Exposure>,
    headers: HeaderMap,
    Query(query): Query<RequestQuery>,
) -> Response {
    if service.api_token().is_none() && !exposure.listen.is_loopback() {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "serve listens on {} (not loopback) without an API token, so it starts no run on request; set serve.api_token_file or --api-token-file to a file holding a token and send it as `Authorization: Bearer <token>`, or listen on 127.0.0.1",
                exposure.listen
            ),
        );
    }
    if !authorised(&service, &headers) {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs `Authorization: Bearer <token>` with the token of --api-token-file",
        );
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let names = service.target_names();
    let target = match (query.target, names.as_slice()) {
        (Some(target), _) => target,
        (None, [only]) => only.clone(),
        (None, _) => {
            return error(StatusCode::BAD_REQUEST, format!("say which target: ?target= one of {}", names.join(", ")));
        }
    };
    match service.request_run(&target) {
        Ok(id) => {
            (StatusCode::ACCEPTED, Json(json!({ "id": id, "target": target, "url": format!("/api/v1/runs/{id}") })))
                .into_response()
        }
        Err(RequestError::UnknownTarget(name)) => {
            error(StatusCode::NOT_FOUND, format!("there is no target `{name}`; targets: {}", names.join(", ")))
        }
        Err(RequestError::Busy { id }) => error(
            StatusCode::CONFLICT,
            format!("target `{target}` has run {id} going on or asked for; GET /api/v1/runs/{id} tells when it ends"),
        ),
        Err(RequestError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "serve is shutting down"),
    }
}
