//! The status page (`GET /`) and a run's page (`GET /runs/{id}`): server-rendered HTML that
//! needs no JavaScript. One section per target: its health, its last and next run, the last
//! runs as a history strip, a cell per check (green, red, amber for flaky, grey for skipped)
//! where a red cell opens its diagnosis in one click (`<details>`), the certificates' expiry,
//! and the target's canary apart: its last and next canary, its own strip and cells, and how
//! long each executor's job last waited and ran (red when it waited longer than the target
//! allows). Everything shown comes from run records, which never hold a token. The pages are
//! maud templates, which HTML-escape every text they insert; only the constant style sheet
//! goes in as it is. The line breaks after block elements keep the page's source readable.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::canary::CanaryState;
use crate::record::{CheckRecord, CheckStatus, RunRecord, RunResult, Trigger};
use crate::state::{CheckState, Health, TargetState};
use crate::time::{readable, relative, span};

/// The health of a target as the page's badge says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    /// No check's last verdict is a failure, and its last run was not an error.
    Passing,
    /// A check's last verdict is a failure, or the last run could not run its checks.
    Failing,
    /// No run has ended yet.
    Unknown,
}

impl TargetHealth {
    /// `passing`, `failing` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Passing => "passing",
            TargetHealth::Failing => "failing",
            TargetHealth::Unknown => "unknown",
        }
    }
}

/// Whether `target` works, as far as its scheduled runs tell (its canary has its own badge).
pub fn target_health(target: &TargetState) -> TargetHealth {
    let Some(last) = target.last_run() else { return TargetHealth::Unknown };
    let failing = target.checks.values().any(|c| c.health == Some(Health::Failing))
        || matches!(last.result, RunResult::Error | RunResult::PreflightFailed);
    if failing { TargetHealth::Failing } else { TargetHealth::Passing }
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#1c2330}\
header{background:#1c2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}\
header p{margin:4px 0 0;color:#c6ccd6;font-size:13px}header a{color:#9cc3ff}\
main{padding:16px 24px;max-width:1200px}\
section.target{background:#fff;border:1px solid #dde1e7;border-left:6px solid #9aa3b0;border-radius:6px;margin:0 0 16px;padding:12px 16px}\
section.passing{border-left-color:#1f9d55}section.failing{border-left-color:#d64545}\
h2{margin:0 0 4px;font-size:18px}h2 small{font-weight:normal;color:#5b6677;font-size:13px}\
.badge{display:inline-block;font-size:12px;padding:2px 8px;border-radius:10px;color:#fff;background:#9aa3b0;vertical-align:middle}\
.badge.passing{background:#1f9d55}.badge.failing{background:#d64545}\
p.when{margin:4px 0 8px;color:#3b4554;font-size:14px}\
.strip{display:flex;gap:3px;margin:6px 0 10px;flex-wrap:wrap}\
.strip a{display:block;width:14px;height:22px;border-radius:2px;background:#9aa3b0}\
.passed{background:#1f9d55}.failed{background:#d64545}.flaky{background:#e0a526}.skipped{background:#c3c9d2}\
.strip a.passed{background:#1f9d55}.strip a.failed,.strip a.preflight-failed,.strip a.error{background:#d64545}.strip a.interrupted{background:#e0a526}\
.checks{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:6px}\
.check{border-radius:4px;padding:6px 8px;color:#fff;font-size:13px;font-family:ui-monospace,Menlo,monospace;overflow-wrap:anywhere}\
.check.skipped{color:#3b4554}details.check{grid-column:1/-1}\
details.check summary{cursor:pointer}.diagnosis{background:#fff;color:#1c2330;border-radius:4px;padding:8px 12px;margin-top:6px;font-family:system-ui,sans-serif;font-size:14px}\
.diagnosis ul{margin:4px 0;padding-left:20px}.diagnosis li{font-family:ui-monospace,Menlo,monospace;font-size:12px}\
table{border-collapse:collapse;margin-top:10px;font-size:13px}td,th{border-bottom:1px solid #e4e7ec;padding:4px 10px 4px 0;text-align:left}\
.soon{color:#d64545;font-weight:bold}\
div.canary{border-top:1px solid #e4e7ec;margin-top:12px;padding-top:8px}h3{margin:0 0 4px;font-size:15px}h3 small{font-weight:normal;color:#5b6677;font-size:13px}\
";

/// A whole page: the head (`title`, the style sheet, a refresh every 30 s if `refresh`) and `body`.
fn page(title: &str, refresh: bool, body: Markup) -> String {
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8";
                "\n"
                meta name="viewport" content="width=device-width, initial-scale=1";
                "\n"
                @if refresh {
                    meta http-equiv="refresh" content="30";
                    "\n"
                }
                title { (title) } "\n"
                style { (PreEscaped(STYLE)) } "\n"
            }
            "\n"
            body { "\n" (body) }
            "\n"
        }
        "\n"
    }
    .into_string()
}

/// The status page of `targets` at `now` (Unix milliseconds).
pub fn status(targets: &[TargetState], version: &str, now: u64) -> String {
    let failing = targets.iter().filter(|t| target_health(t) == TargetHealth::Failing).count();
    let title = match failing {
        0 => format!("realitycheck: {} target{} passing", targets.len(), plural(targets.len())),
        n => format!("realitycheck: {n} of {} target{} failing", targets.len(), plural(targets.len())),
    };
    let body = html! {
        header {
            h1 { (title) }
            p {
                "realitycheck " (version) " · " (readable(now)) " · refreshes every 30s · "
                a href="/api/v1/status" { "status JSON" } " · " a href="/metrics" { "metrics" }
            }
        }
        "\n"
        main {
            "\n"
            @for target in targets { (target_section(target, now)) }
        }
        "\n"
    };
    page(&title, true, body)
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn target_section(target: &TargetState, now: u64) -> Markup {
    let health = target_health(target).as_str();
    let could_not_start = target.last_run().filter(|r| r.checks.is_empty()).and_then(|r| r.stopped_because.as_ref());
    html! {
        section.target.(health) id={ "target-" (target.name) } {
            "\n"
            h2 {
                span.badge.(health) { (health.to_uppercase()) } " " (target.name) " "
                small {
                    (target.host) " · profile " (target.profile) " · every "
                    (span(u64::try_from(target.interval.as_millis()).unwrap_or(u64::MAX)))
                }
            }
            "\n"
            p.when {
                @match target.last_run() {
                    Some(last) => {
                        "last run " a href={ "/runs/" (last.id) } { "#" (last.id) } " " (last.result.as_str()) " "
                        (relative(last.finished_at_ms(), now)) " (took " (span(last.duration_ms))
                        @if last.overran { ", longer than the interval" } ")"
                    }
                    None => "no run has ended yet",
                }
                @if let Some(running) = target.running.filter(|running| !running.canary) {
                    " · run #" (running.id) " going on since " (relative(running.started_at_ms, now))
                }
                @if let Some(next) = target.next_run_ms {
                    " · next run " (relative(next, now)) " (" (readable(next)) ")"
                }
            }
            "\n"
            @if let Some(reason) = could_not_start {
                p.when { b { "The run could not start:" } " " (reason) }
                "\n"
            }
            (history_strip(&target.history, "last runs, oldest first"))
            (check_cells(&target.checks, target.last_run(), target, now))
            (certificates(target, now))
            (canary_section(target, now))
        }
        "\n"
    }
}

fn history_strip(history: &VecDeque<Arc<RunRecord>>, label: &str) -> Markup {
    let last = history.iter().skip(history.len().saturating_sub(50));
    html! {
        @if !history.is_empty() {
            div.strip aria-label=(label) {
                @for record in last {
                    @let result = record.result.as_str();
                    @let counts = record.counts();
                    @let failed = counts.failed;
                    @let passed = counts.passed + counts.flaky;
                    a.(result) href={ "/runs/" (record.id) }
                        title={ "#" (record.id) " " (result) " at " (readable(record.started_at_ms)) ": "
                            (failed) " failed, " (passed) " passed" } {}
                }
            }
            "\n"
        }
    }
}

/// The checks in the order of `last`, the last run that listed them (report order).
fn ordered_checks<'a>(checks: &'a BTreeMap<String, CheckState>, last: Option<&Arc<RunRecord>>) -> Vec<&'a CheckState> {
    let mut ordered: Vec<&CheckState> = Vec::new();
    if let Some(last) = last {
        ordered.extend(last.checks.iter().filter_map(|c| checks.get(&c.id)));
    }
    for check in checks.values() {
        if !ordered.iter().any(|c| c.id == check.id) {
            ordered.push(check);
        }
    }
    ordered
}

/// A cell per check of `checks` (the scheduled runs' or the canary's), whose results are in
/// the runs `target` keeps.
fn check_cells(
    checks: &BTreeMap<String, CheckState>,
    last: Option<&Arc<RunRecord>>,
    target: &TargetState,
    now: u64,
) -> Markup {
    let checks = ordered_checks(checks, last);
    html! {
        @if !checks.is_empty() {
            div.checks {
                "\n"
                @for state in checks {
                    @let record = target.run(state.run_id).and_then(|run| run.checks.iter().find(|c| c.id == state.id));
                    @match (state.status, record) {
                        (CheckStatus::Failed, Some(record)) => {
                            details.check.failed {
                                summary {
                                    (state.id) " — "
                                    (record.diagnosis.as_ref().map_or("failed", |d| d.summary.as_str()))
                                }
                                "\n"
                                (diagnosis(record, state, now))
                            }
                        }
                        _ => {
                            div.check.(state.status.as_str()) title=(record.map(cell_title).unwrap_or_default()) {
                                (state.id)
                            }
                        }
                    }
                    "\n"
                }
            }
            "\n"
        }
    }
}

fn cell_title(record: &CheckRecord) -> String {
    match record.status {
        CheckStatus::Skipped => format!("skipped: {}", record.skip_reason.as_deref().unwrap_or("")),
        CheckStatus::Flaky => format!("flaky: {}", record.note.as_deref().unwrap_or("")),
        _ => record.note.clone().unwrap_or_default(),
    }
}

fn diagnosis(record: &CheckRecord, state: &CheckState, now: u64) -> Markup {
    let since = state.since_ms.map(|since| format!("failing since {}", relative(since, now))).unwrap_or_default();
    let failures = state.consecutive_failures;
    html! {
        div.diagnosis {
            @if let Some(diagnosis) = &record.diagnosis {
                p { b { (diagnosis.summary) } }
                @if !diagnosis.observed.is_empty() {
                    ul { @for line in &diagnosis.observed { li { (line) } } }
                }
                @if !diagnosis.cause.is_empty() {
                    p { b { "Likely cause:" } " " (diagnosis.cause) }
                }
                @if !diagnosis.remediation.is_empty() {
                    p { b { "What to do:" } " " (diagnosis.remediation) }
                }
                @if let Some(phase) = &diagnosis.phase {
                    p { b { "Installation phase:" } " " (phase) }
                }
            }
            p {
                (since) ", " (failures) " run" (plural(usize::try_from(failures).unwrap_or(usize::MAX))) " in a row · "
                a href={ "/runs/" (state.run_id) } { "run #" (state.run_id) }
            }
        }
        "\n"
    }
}

fn certificates(target: &TargetState, now: u64) -> Markup {
    let expiries = target.certificate_expiries();
    html! {
        @if !expiries.is_empty() {
            table {
                tr { th { "certificate" } th { "read by" } th { "expires" } }
                "\n"
                @for expiry in expiries {
                    @let at = u64::try_from(expiry.expires_at.max(0)).unwrap_or(0).saturating_mul(1000);
                    @let soon = at < now.saturating_add(30 * 86_400_000);
                    tr {
                        td { (expiry.certificate) }
                        td { (expiry.check) }
                        td class=[soon.then_some("soon")] { (readable(at)) " (" (relative(at, now)) ")" }
                    }
                    "\n"
                }
            }
            "\n"
        }
    }
}

/// The target's canary: its health, last and next canary, its strip and cells, and the last
/// wait and run time of each executor's job.
fn canary_section(target: &TargetState, now: u64) -> Markup {
    let canary = &target.canary;
    let health = canary.health().as_str();
    html! {
        @if canary.shown() {
            div.canary {
                "\n"
                h3 {
                    span.badge.(health) { "CANARY " (health.to_uppercase()) } " canary "
                    small {
                        @match &canary.schedule {
                            Some(schedule) => {
                                "profile " (schedule.profile) " · every "
                                (span(u64::try_from(schedule.interval.as_millis()).unwrap_or(u64::MAX)))
                                " · triggers a pipeline · a job may wait "
                                (span(u64::try_from(schedule.max_wait.as_millis()).unwrap_or(u64::MAX)))
                            }
                            None => "off: the canaries kept from before",
                        }
                    }
                }
                "\n"
                p.when {
                    @match canary.last_run() {
                        Some(last) => {
                            "last canary " a href={ "/runs/" (last.id) } { "#" (last.id) } " " (last.result.as_str()) " "
                            (relative(last.finished_at_ms(), now)) " (took " (span(last.duration_ms)) ")"
                        }
                        None => "no canary has ended yet",
                    }
                    @if let Some(running) = target.running.filter(|running| running.canary) {
                        " · canary #" (running.id) " going on since " (relative(running.started_at_ms, now))
                    }
                    @if let Some(next) = canary.next_run_ms {
                        " · next canary " (relative(next, now)) " (" (readable(next)) ")"
                    }
                }
                "\n"
                (history_strip(&canary.history, "last canaries, oldest first"))
                (check_cells(&canary.checks, canary.last_run(), target, now))
                (job_times(canary, now))
            }
            "\n"
        }
    }
}

/// How long each executor's job waited and ran in the last canary that measured it.
fn job_times(canary: &CanaryState, now: u64) -> Markup {
    let max_wait = canary.max_wait_seconds();
    let seconds = |value: Option<i64>| match value.map(|value| u64::try_from(value).unwrap_or(0)) {
        None => "—".to_string(),
        Some(0) => "0s".to_string(),
        Some(value) => span(value.saturating_mul(1000)),
    };
    html! {
        @if !canary.jobs.is_empty() {
            table {
                tr { th { "executor" } th { "waited in the queue" } th { "ran" } th { "measured" } }
                "\n"
                @for job in canary.jobs.values() {
                    @let over = matches!((job.wait_seconds, max_wait), (Some(wait), Some(max)) if wait > max);
                    tr {
                        td { (job.executor) }
                        td class=[over.then_some("soon")] {
                            (seconds(job.wait_seconds))
                            @if over {
                                " (longer than " (seconds(max_wait)) "; " (job.waits_over) " canar"
                                (if job.waits_over == 1 { "y" } else { "ies" }) " in a row)"
                            }
                        }
                        td { (seconds(job.run_seconds)) }
                        td {
                            (readable(job.measured_ms)) " (" (relative(job.measured_ms, now)) ") by "
                            a href={ "/runs/" (job.run_id) "#" (job.check) } { (job.check) }
                        }
                    }
                    "\n"
                }
            }
            "\n"
        }
    }
}

/// The page of one run: every check with its note, diagnosis or skip reason.
pub fn run(record: &RunRecord, version: &str, now: u64) -> String {
    let title = format!("realitycheck: run #{} of {}: {}", record.id, record.target, record.result.as_str());
    let trigger = match (record.trigger, record.canary) {
        (Trigger::Schedule, true) => "the canary's schedule",
        (Trigger::Schedule, false) => "the schedule",
        (Trigger::Request, _) => "a request",
    };
    let body = html! {
        header {
            h1 { (title) }
            p {
                "realitycheck " (version) " · " a href="/" { "all targets" } " · "
                a href={ "/api/v1/runs/" (record.id) } { "JSON" }
            }
        }
        "\n"
        main {
            "\n"
            p.when {
                "started " (readable(record.started_at_ms)) " (" (relative(record.started_at_ms, now)) ") by "
                (trigger) ", took " (span(record.duration_ms))
                @if record.overran { ", longer than the interval" }
                @if !record.profile.is_empty() { " · profile " (record.profile) }
            }
            "\n"
            @if let Some(reason) = &record.stopped_because {
                p.when { b { "Stopped early:" } " " (reason) }
                "\n"
            }
            @for note in &record.finish_notes {
                p.when { (note) }
                "\n"
            }
            table {
                tr { th { "check" } th { "result" } th { "took" } th { "what was seen" } }
                "\n"
                @for check in &record.checks {
                    @let class = check.status.as_str();
                    tr id=(check.id) {
                        td { code { (check.id) } }
                        td { span.badge.(class) { (class) } }
                        td { (span(check.duration_ms)) }
                        td { (run_detail(check)) }
                    }
                    "\n"
                }
            }
            "\n"
        }
        "\n"
    };
    page(&title, false, body)
}

/// What the run's page shows of `check`: its diagnosis if it failed, else its note or skip reason.
fn run_detail(check: &CheckRecord) -> Markup {
    html! {
        @match (&check.diagnosis, check.status) {
            (Some(d), CheckStatus::Failed) => {
                b { (d.summary) }
                @for line in &d.observed { br; code { (line) } }
                @if !d.cause.is_empty() { br; b { "Likely cause:" } " " (d.cause) }
                @if !d.remediation.is_empty() { br; b { "What to do:" } " " (d.remediation) }
            }
            _ => (cell_title(check)),
        }
    }
}

/// The page for a run that is not kept.
pub fn not_found(id: &str) -> String {
    let body = html! {
        main {
            p {
                "No run " code { (id) } " is kept: the history keeps the last runs of each target. "
                a href="/" { "All targets" }
            }
        }
        "\n"
    };
    page("realitycheck: no such run", false, body)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::canary::CanarySchedule;
    use crate::record::{
        CERTIFICATE_EXPIRY, DiagnosisRecord, JOB_RUN, JOB_WAIT, ObservationRecord, RUN_SCHEMA_VERSION,
    };
    use crate::state::Running;

    /// 2026-11-30 12:00:00 UTC.
    const NOON: u64 = 1_796_040_000_000;

    fn check(id: &str, status: CheckStatus) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            summary: format!("{id} works"),
            status,
            duration_ms: 120,
            attempts: 1,
            note: matches!(status, CheckStatus::Passed | CheckStatus::Flaky).then(|| format!("{id}: all good")),
            diagnosis: (status == CheckStatus::Failed).then(|| DiagnosisRecord {
                summary: "0 of 1 Nomad clients ready <none registered>".into(),
                observed: vec!["nomad node status: no node".into()],
                cause: "no Nomad client has joined the servers".into(),
                remediation: "start the Nomad clients and check their mTLS & gossip settings".into(),
                phase: Some("Nomad clients".into()),
            }),
            skip_reason: (status == CheckStatus::Skipped).then(|| "not applicable: cloud_provider is other".into()),
            observations: if id == "nomad::mtls" {
                vec![ObservationRecord {
                    name: CERTIFICATE_EXPIRY.into(),
                    subject: "nomad-mtls cert.pem".into(),
                    value: 1_797_500_000,
                }]
            } else {
                vec![]
            },
        }
    }

    fn record(id: u64, target: &str, minutes_ago: u64, result: RunResult, checks: Vec<CheckRecord>) -> Arc<RunRecord> {
        Arc::new(RunRecord {
            schema_version: RUN_SCHEMA_VERSION.into(),
            id,
            target: target.into(),
            trigger: if id == 6 { Trigger::Request } else { Trigger::Schedule },
            profile: "health".into(),
            canary: false,
            started_at_ms: NOON - minutes_ago * 60_000,
            duration_ms: 2_400,
            result,
            overran: false,
            stopped_because: None,
            finish_notes: vec![],
            checks,
        })
    }

    fn targets() -> Vec<TargetState> {
        let mut good = TargetState::new("prod", "https://circleci.example.com", "health", Duration::from_secs(900), 10);
        let mut bad =
            TargetState::new("staging", "https://circleci.staging.example.com", "health", Duration::from_secs(900), 10);
        for (id, minutes_ago) in [(1, 45), (3, 30), (5, 15)] {
            good.apply(record(
                id,
                "prod",
                minutes_ago,
                RunResult::Passed,
                vec![
                    check("nomad::clients_ready", CheckStatus::Passed),
                    check("nomad::mtls", CheckStatus::Passed),
                    check("executors::machine", CheckStatus::Skipped),
                ],
            ));
        }
        for (id, minutes_ago, clients) in
            [(2, 44, CheckStatus::Passed), (4, 29, CheckStatus::Failed), (6, 14, CheckStatus::Failed)]
        {
            let result = if clients == CheckStatus::Failed { RunResult::Failed } else { RunResult::Passed };
            bad.apply(record(
                id,
                "staging",
                minutes_ago,
                result,
                vec![check("nomad::clients_ready", clients), check("api::authenticated", CheckStatus::Flaky)],
            ));
        }
        good.next_run_ms = Some(NOON + 60_000);
        bad.running = Some(Running { id: 7, trigger: Trigger::Schedule, canary: false, started_at_ms: NOON - 5_000 });
        bad.next_run_ms = Some(NOON + 61_000);
        vec![good, bad]
    }

    #[test]
    fn the_status_page_of_a_green_and_a_red_target() {
        let page = status(&targets(), "0.1.0", NOON);
        assert!(!page.contains("<script"), "no JavaScript");
        insta::assert_snapshot!("status_page", page);
    }

    /// A canary of `target` that ended `minutes_ago`, whose jobs waited and ran as `jobs` say
    /// (executor, seconds waited, seconds run); a job that waited 0 s failed (stuck).
    fn canary(id: u64, target: &str, minutes_ago: u64, jobs: &[(&str, i64, i64)]) -> Arc<RunRecord> {
        let checks: Vec<CheckRecord> = jobs
            .iter()
            .map(|(executor, wait, ran)| {
                let id = format!("executors::{executor}");
                if *wait == 0 {
                    let mut stuck = check(&id, CheckStatus::Failed);
                    stuck.diagnosis.as_mut().unwrap().summary = format!("job {executor} is still queued");
                    return stuck;
                }
                let mut passed = check(&id, CheckStatus::Passed);
                passed.observations = vec![
                    ObservationRecord { name: JOB_WAIT.into(), subject: (*executor).into(), value: *wait },
                    ObservationRecord { name: JOB_RUN.into(), subject: (*executor).into(), value: *ran },
                ];
                passed
            })
            .collect();
        let result =
            if checks.iter().any(|c| c.status == CheckStatus::Failed) { RunResult::Failed } else { RunResult::Passed };
        let mut record = Arc::unwrap_or_clone(record(id, target, minutes_ago, result, checks));
        (record.profile, record.canary, record.duration_ms) = ("canary".into(), true, 95_000);
        Arc::new(record)
    }

    #[test]
    fn the_status_page_shows_the_canary_s_waits_apart_from_the_health_checks() {
        let mut targets = targets();
        let schedule = CanarySchedule {
            profile: "canary".into(),
            interval: Duration::from_secs(3600),
            max_wait: Duration::from_secs(180),
        };
        let (good, bad) = targets.split_at_mut(1);
        good[0].canary.schedule = Some(schedule.clone());
        for (id, minutes_ago, waits) in [
            (11, 130, [("docker", 40, 35), ("machine", 95, 61)]),
            (12, 70, [("docker", 200, 34), ("machine", 80, 60)]),
            (13, 10, [("docker", 245, 36), ("machine", 70, 58)]),
        ] {
            good[0].apply(canary(id, "prod", minutes_ago, &waits));
        }
        good[0].canary.next_run_ms = Some(NOON + 50 * 60_000);
        bad[0].canary.schedule = Some(schedule);
        bad[0].apply(canary(14, "staging", 20, &[("docker", 0, 0)]));
        bad[0].running =
            Some(Running { id: 15, trigger: Trigger::Schedule, canary: true, started_at_ms: NOON - 60_000 });

        let page = status(&targets, "0.1.0", NOON);
        insta::assert_snapshot!("status_page_with_canaries", page);
        assert!(
            page.contains("<section class=\"target passing\" id=\"target-prod\">"),
            "waits are the canary's: {page}"
        );
        assert!(page.contains("4m 5s (longer than 3m; 2 canaries in a row)"), "{page}");
        assert!(page.contains("<span class=\"badge failing\">CANARY FAILING</span>"), "{page}");
        assert!(!page.contains("run #15 going on") && page.contains("canary #15 going on"), "{page}");
    }

    #[test]
    fn the_page_of_a_failed_run() {
        let targets = targets();
        let run = targets[1].run(6).unwrap();
        insta::assert_snapshot!("run_page", super::run(run, "0.1.0", NOON));
        assert!(not_found("<x>").contains("No run <code>&lt;x&gt;</code> is kept"));
    }

    #[test]
    fn every_text_is_escaped_on_both_pages() {
        const HOSTILE: &str = "<script>alert(\"x\")</script>";
        const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";
        let mut failed = check(HOSTILE, CheckStatus::Failed);
        failed.diagnosis = Some(DiagnosisRecord {
            summary: HOSTILE.into(),
            observed: vec![HOSTILE.into()],
            cause: HOSTILE.into(),
            remediation: HOSTILE.into(),
            phase: Some(HOSTILE.into()),
        });
        let mut skipped = check("executors::machine", CheckStatus::Skipped);
        skipped.skip_reason = Some(HOSTILE.into());
        let mut ran = Arc::unwrap_or_clone(record(1, HOSTILE, 20, RunResult::Failed, vec![failed, skipped]));
        ran.stopped_because = Some(HOSTILE.into());
        ran.finish_notes = vec![HOSTILE.into()];
        let ran = Arc::new(ran);
        let mut target = TargetState::new(HOSTILE, HOSTILE, HOSTILE, Duration::from_secs(900), 10);
        target.apply(Arc::clone(&ran));
        target.set_certificates(HOSTILE, vec![(HOSTILE.into(), 1_797_500_000)]);
        let mut not_started = TargetState::new(HOSTILE, HOSTILE, HOSTILE, Duration::from_secs(900), 10);
        let mut stopped = Arc::unwrap_or_clone(record(2, HOSTILE, 10, RunResult::Error, vec![]));
        stopped.stopped_because = Some(HOSTILE.into());
        not_started.apply(Arc::new(stopped));

        let status_page = status(&[target, not_started], HOSTILE, NOON);
        let run_page = super::run(&ran, HOSTILE, NOON);
        for page in [&status_page, &run_page, &not_found(HOSTILE)] {
            assert!(!page.contains("<script") && !page.contains("\"x\""), "{page}");
            assert!(page.contains(ESCAPED), "{page}");
        }
        let status_has = [
            format!("<section class=\"target failing\" id=\"target-{ESCAPED}\">"),
            format!("<summary>{ESCAPED} — {ESCAPED}</summary>"),
            format!("<li>{ESCAPED}</li>"),
            format!("<b>Installation phase:</b> {ESCAPED}</p>"),
            format!("title=\"skipped: {ESCAPED}\""),
            format!("<b>The run could not start:</b> {ESCAPED}</p>"),
            format!("<tr><td>{ESCAPED}</td><td>{ESCAPED}</td>"),
            format!("<p>realitycheck {ESCAPED} · "),
        ];
        let run_has = [
            format!("<title>realitycheck: run #1 of {ESCAPED}: failed</title>"),
            format!("<tr id=\"{ESCAPED}\"><td><code>{ESCAPED}</code></td>"),
            format!("<br><code>{ESCAPED}</code><br><b>Likely cause:</b> {ESCAPED}"),
            format!("<b>Stopped early:</b> {ESCAPED}</p>"),
            format!("<p class=\"when\">{ESCAPED}</p>"),
        ];
        for (page, has) in [(&status_page, &status_has[..]), (&run_page, &run_has[..])] {
            for escaped in has {
                assert!(page.contains(escaped), "no `{escaped}` in\n{page}");
            }
        }
    }
}
