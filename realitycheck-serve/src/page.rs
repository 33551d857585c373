//! The status page (`GET /`) and a run's page (`GET /runs/{id}`): server-rendered HTML that
//! needs no JavaScript. One section per target: its health, its last and next run, the last
//! runs as a history strip, a cell per check (green, red, amber for flaky, grey for skipped)
//! where a red cell opens its diagnosis in one click (`<details>`), and the certificates'
//! expiry. Everything shown comes from run records, which never hold a token; every text is
//! HTML-escaped.

use std::fmt::Write;

use crate::record::{CheckRecord, CheckStatus, RunRecord, RunResult};
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

/// Whether `target` works, as far as its runs tell.
pub fn target_health(target: &TargetState) -> TargetHealth {
    let Some(last) = target.last_run() else { return TargetHealth::Unknown };
    let failing = target.checks.values().any(|c| c.health == Some(Health::Failing))
        || matches!(last.result, RunResult::Error | RunResult::PreflightFailed);
    if failing { TargetHealth::Failing } else { TargetHealth::Passing }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
";

fn head(out: &mut String, title: &str, refresh: bool) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    if refresh {
        out.push_str("<meta http-equiv=\"refresh\" content=\"30\">\n");
    }
    let _ = writeln!(out, "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>", escape(title));
}

/// The status page of `targets` at `now` (Unix milliseconds).
pub fn status(targets: &[TargetState], version: &str, now: u64) -> String {
    let failing = targets.iter().filter(|t| target_health(t) == TargetHealth::Failing).count();
    let title = match failing {
        0 => format!("realitycheck: {} target{} passing", targets.len(), plural(targets.len())),
        n => format!("realitycheck: {n} of {} target{} failing", targets.len(), plural(targets.len())),
    };
    let mut out = String::new();
    head(&mut out, &title, true);
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p>realitycheck {} · {} · refreshes every 30s · <a href=\"/api/v1/status\">status JSON</a> · <a href=\"/metrics\">metrics</a></p></header>\n<main>",
        escape(&title),
        escape(version),
        readable(now)
    );
    for target in targets {
        target_section(&mut out, target, now);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn target_section(out: &mut String, target: &TargetState, now: u64) {
    let health = target_health(target).as_str();
    let _ = writeln!(
        out,
        "<section class=\"target {health}\" id=\"target-{name}\">\n<h2><span class=\"badge {health}\">{}</span> {name} <small>{} · profile {} · every {}</small></h2>",
        health.to_uppercase(),
        escape(&target.host),
        escape(&target.profile),
        span(u64::try_from(target.interval.as_millis()).unwrap_or(u64::MAX)),
        name = escape(&target.name),
    );
    let mut when = Vec::new();
    match target.last_run() {
        Some(last) => when.push(format!(
            "last run <a href=\"/runs/{id}\">#{id}</a> {} {} (took {}{})",
            last.result.as_str(),
            relative(last.finished_at_ms(), now),
            span(last.duration_ms),
            if last.overran { ", longer than the interval" } else { "" },
            id = last.id
        )),
        None => when.push("no run has ended yet".to_string()),
    }
    if let Some(running) = target.running {
        when.push(format!("run #{} going on since {}", running.id, relative(running.started_at_ms, now)));
    }
    if let Some(next) = target.next_run_ms {
        when.push(format!("next run {} ({})", relative(next, now), readable(next)));
    }
    let _ = writeln!(out, "<p class=\"when\">{}</p>", when.join(" · "));
    if let Some(reason) = target.last_run().filter(|r| r.checks.is_empty()).and_then(|r| r.stopped_because.as_ref()) {
        let _ = writeln!(out, "<p class=\"when\"><b>The run could not start:</b> {}</p>", escape(reason));
    }
    history_strip(out, target);
    check_cells(out, target, now);
    certificates(out, target, now);
    out.push_str("</section>\n");
}

fn history_strip(out: &mut String, target: &TargetState) {
    if target.history.is_empty() {
        return;
    }
    out.push_str("<div class=\"strip\" aria-label=\"last runs, oldest first\">");
    for record in target.history.iter().rev().take(50).collect::<Vec<_>>().into_iter().rev() {
        let counts = record.counts();
        let _ = write!(
            out,
            "<a class=\"{result}\" href=\"/runs/{id}\" title=\"#{id} {result} at {when}: {failed} failed, {passed} passed\"></a>",
            result = record.result.as_str(),
            id = record.id,
            when = readable(record.started_at_ms),
            failed = counts.failed,
            passed = counts.passed + counts.flaky,
        );
    }
    out.push_str("</div>\n");
}

/// The checks in the order of the last run that listed them (report order).
fn ordered_checks(target: &TargetState) -> Vec<&CheckState> {
    let mut ordered: Vec<&CheckState> = Vec::new();
    if let Some(last) = target.last_run() {
        ordered.extend(last.checks.iter().filter_map(|c| target.checks.get(&c.id)));
    }
    for check in target.checks.values() {
        if !ordered.iter().any(|c| c.id == check.id) {
            ordered.push(check);
        }
    }
    ordered
}

fn check_cells(out: &mut String, target: &TargetState, now: u64) {
    let checks = ordered_checks(target);
    if checks.is_empty() {
        return;
    }
    out.push_str("<div class=\"checks\">\n");
    for state in checks {
        let record = target.run(state.run_id).and_then(|run| run.checks.iter().find(|c| c.id == state.id));
        let class = state.status.as_str();
        match (state.status, record) {
            (CheckStatus::Failed, Some(record)) => {
                let _ = writeln!(
                    out,
                    "<details class=\"check failed\"><summary>{} — {}</summary>",
                    escape(&state.id),
                    escape(record.diagnosis.as_ref().map_or("failed", |d| d.summary.as_str()))
                );
                diagnosis(out, record, state, now);
                out.push_str("</details>\n");
            }
            _ => {
                let title = record.map(cell_title).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "<div class=\"check {class}\" title=\"{}\">{}</div>",
                    escape(&title),
                    escape(&state.id)
                );
            }
        }
    }
    out.push_str("</div>\n");
}

fn cell_title(record: &CheckRecord) -> String {
    match record.status {
        CheckStatus::Skipped => format!("skipped: {}", record.skip_reason.as_deref().unwrap_or("")),
        CheckStatus::Flaky => format!("flaky: {}", record.note.as_deref().unwrap_or("")),
        _ => record.note.clone().unwrap_or_default(),
    }
}

fn diagnosis(out: &mut String, record: &CheckRecord, state: &CheckState, now: u64) {
    out.push_str("<div class=\"diagnosis\">");
    if let Some(diagnosis) = &record.diagnosis {
        let _ = write!(out, "<p><b>{}</b></p>", escape(&diagnosis.summary));
        if !diagnosis.observed.is_empty() {
            out.push_str("<ul>");
            for line in &diagnosis.observed {
                let _ = write!(out, "<li>{}</li>", escape(line));
            }
            out.push_str("</ul>");
        }
        if !diagnosis.cause.is_empty() {
            let _ = write!(out, "<p><b>Likely cause:</b> {}</p>", escape(&diagnosis.cause));
        }
        if !diagnosis.remediation.is_empty() {
            let _ = write!(out, "<p><b>What to do:</b> {}</p>", escape(&diagnosis.remediation));
        }
        if let Some(phase) = &diagnosis.phase {
            let _ = write!(out, "<p><b>Installation phase:</b> {}</p>", escape(phase));
        }
    }
    let since = state.since_ms.map(|since| format!("failing since {}", relative(since, now))).unwrap_or_default();
    let _ = writeln!(
        out,
        "<p>{since}, {} run{} in a row · <a href=\"/runs/{id}\">run #{id}</a></p></div>",
        state.consecutive_failures,
        plural(usize::try_from(state.consecutive_failures).unwrap_or(usize::MAX)),
        id = state.run_id
    );
}

fn certificates(out: &mut String, target: &TargetState, now: u64) {
    let expiries = target.certificate_expiries();
    if expiries.is_empty() {
        return;
    }
    out.push_str("<table><tr><th>certificate</th><th>read by</th><th>expires</th></tr>\n");
    for expiry in expiries {
        let at = u64::try_from(expiry.expires_at.max(0)).unwrap_or(0).saturating_mul(1000);
        let soon = at < now.saturating_add(30 * 86_400_000);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td{}>{} ({})</td></tr>",
            escape(&expiry.certificate),
            escape(&expiry.check),
            if soon { " class=\"soon\"" } else { "" },
            readable(at),
            relative(at, now)
        );
    }
    out.push_str("</table>\n");
}

/// The page of one run: every check with its note, diagnosis or skip reason.
pub fn run(record: &RunRecord, version: &str, now: u64) -> String {
    let title = format!("realitycheck: run #{} of {}: {}", record.id, record.target, record.result.as_str());
    let mut out = String::new();
    head(&mut out, &title, false);
    let _ = writeln!(
        out,
        "<header><h1>{}</h1><p>realitycheck {} · <a href=\"/\">all targets</a> · <a href=\"/api/v1/runs/{}\">JSON</a></p></header>\n<main>",
        escape(&title),
        escape(version),
        record.id
    );
    let _ = writeln!(
        out,
        "<p class=\"when\">started {} ({}) by {}, took {}{}</p>",
        readable(record.started_at_ms),
        relative(record.started_at_ms, now),
        match record.trigger {
            crate::record::Trigger::Schedule => "the schedule",
            crate::record::Trigger::Request => "a request",
        },
        span(record.duration_ms),
        if record.overran { ", longer than the interval" } else { "" }
    );
    if let Some(reason) = &record.stopped_because {
        let _ = writeln!(out, "<p class=\"when\"><b>Stopped early:</b> {}</p>", escape(reason));
    }
    for note in &record.finish_notes {
        let _ = writeln!(out, "<p class=\"when\">{}</p>", escape(note));
    }
    out.push_str("<table><tr><th>check</th><th>result</th><th>took</th><th>what was seen</th></tr>\n");
    for check in &record.checks {
        let detail = match (&check.diagnosis, check.status) {
            (Some(d), CheckStatus::Failed) => {
                let mut text = format!("<b>{}</b>", escape(&d.summary));
                for line in &d.observed {
                    let _ = write!(text, "<br><code>{}</code>", escape(line));
                }
                if !d.cause.is_empty() {
                    let _ = write!(text, "<br><b>Likely cause:</b> {}", escape(&d.cause));
                }
                if !d.remediation.is_empty() {
                    let _ = write!(text, "<br><b>What to do:</b> {}", escape(&d.remediation));
                }
                text
            }
            _ => escape(&cell_title(check)),
        };
        let _ = writeln!(
            out,
            "<tr id=\"{id}\"><td><code>{id}</code></td><td><span class=\"badge {class}\">{class}</span></td><td>{}</td><td>{detail}</td></tr>",
            span(check.duration_ms),
            id = escape(&check.id),
            class = check.status.as_str(),
        );
    }
    out.push_str("</table>\n</main>\n</body>\n</html>\n");
    out
}

/// The page for a run that is not kept.
pub fn not_found(id: &str) -> String {
    let mut out = String::new();
    head(&mut out, "realitycheck: no such run", false);
    let _ = writeln!(
        out,
        "<main><p>No run <code>{}</code> is kept: the history keeps the last runs of each target. <a href=\"/\">All targets</a></p></main>\n</body>\n</html>",
        escape(id)
    );
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::record::{CERTIFICATE_EXPIRY, DiagnosisRecord, ObservationRecord, RUN_SCHEMA_VERSION, Trigger};
    use crate::state::Running;

    /// 2026-11-30 12:00:00 UTC.
    const NOON: u64 = 1_796_040_000_000;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

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
        bad.running = Some(Running { id: 7, trigger: Trigger::Schedule, started_at_ms: NOON - 5_000 });
        bad.next_run_ms = Some(NOON + 61_000);
        vec![good, bad]
    }

    #[test]
    fn the_status_page_of_a_green_and_a_red_target() {
        let page = status(&targets(), "0.1.0", NOON);
        assert!(!page.contains("<script"), "no JavaScript");
        insta::assert_snapshot!("status_page", page);
    }

    #[test]
    fn the_page_of_a_failed_run() {
        let targets = targets();
        let run = targets[1].run(6).unwrap();
        insta::assert_snapshot!("run_page", super::run(run, "0.1.0", NOON));
        assert!(not_found("<x>").contains("No run <code>&lt;x&gt;</code> is kept"));
    }
}
