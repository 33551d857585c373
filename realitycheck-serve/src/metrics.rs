//! `GET /metrics`: the targets' states in Prometheus's text exposition format (version
//! 0.0.4). Labels are bounded to the target, the suite, the check, the certificate of a
//! certificate expiry, the executor of a canary's job, and a fixed set of results and reasons:
//! no diagnosis text ever becomes a label value. The canary's families (`realitycheck_canary_*`, `realitycheck_job_*`) come
//! from its own state: a canary never changes the scheduled runs' families.

use std::fmt::Write;

use crate::record::RunResult;
use crate::state::{Health, TargetState};

/// The Content-Type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: its name, type and help, and its samples.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family { name, kind, help, samples: Vec::new() }
    }

    fn sample(&mut self, labels: Vec<(&'static str, String)>, value: impl ToString) {
        self.samples.push((labels, value.to_string()));
    }

    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (index, (name, value)) in labels.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Unix milliseconds as Prometheus's seconds.
fn seconds(millis: u64) -> String {
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// The exposition of `targets` by a `serve` of `version`.
pub fn render(targets: &[TargetState], version: &str) -> String {
    let mut build = Family::new("realitycheck_build_info", "gauge", "The realitycheck build serving these metrics.");
    build.sample(vec![("version", version.to_string())], 1);

    let mut success = Family::new(
        "realitycheck_check_success",
        "gauge",
        "1 when the check's last verdict was a pass, 0 when it was a failure; absent before its first verdict.",
    );
    let mut duration =
        Family::new("realitycheck_check_duration_seconds", "gauge", "How long the check took in its last run.");
    let mut last_run = Family::new(
        "realitycheck_check_last_run_timestamp_seconds",
        "gauge",
        "When the last run that gave the check a verdict ended.",
    );
    let mut last_success =
        Family::new("realitycheck_check_last_success_timestamp_seconds", "gauge", "When the check last passed.");
    let mut failures = Family::new(
        "realitycheck_check_consecutive_failures",
        "gauge",
        "Failures of the check in a row, up to its last verdict.",
    );
    let mut runs = Family::new("realitycheck_runs_total", "counter", "Runs of the target, by result.");
    let mut run_duration =
        Family::new("realitycheck_run_duration_seconds", "gauge", "How long the target's last run took.");
    let mut run_last =
        Family::new("realitycheck_last_run_timestamp_seconds", "gauge", "When the target's last run ended.");
    let mut run_passed = Family::new(
        "realitycheck_last_successful_run_timestamp_seconds",
        "gauge",
        "When the target's last run whose result was passed ended.",
    );
    let mut interval =
        Family::new("realitycheck_run_interval_seconds", "gauge", "Time between the starts of two runs of the target.");
    let mut in_progress = Family::new("realitycheck_run_in_progress", "gauge", "1 while a run of the target goes on.");
    let mut overruns = Family::new(
        "realitycheck_run_overruns_total",
        "counter",
        "Runs of the target that took longer than the interval (the next one started late, never alongside).",
    );
    let mut next_run =
        Family::new("realitycheck_next_run_timestamp_seconds", "gauge", "When the target's next scheduled run starts.");
    let mut certificates = Family::new(
        "realitycheck_certificate_expiry_timestamp_seconds",
        "gauge",
        "The notAfter of a certificate a check read (Nomad mTLS, the installation's TLS).",
    );
    let mut webhooks = Family::new(
        "realitycheck_webhook_deliveries_total",
        "counter",
        "Webhook notifications about the target, by whether they were delivered (after retries).",
    );
    let mut dropped = Family::new(
        "realitycheck_webhook_transitions_dropped_total",
        "counter",
        "Webhook notifications about the target dropped undelivered: superseded by a newer one of the same check, or the oldest waiting when the outbox was full.",
    );
    let mut canary = CanaryFamilies::new();

    for target in targets {
        let name = || ("target", target.name.clone());
        for check in target.checks.values() {
            let Some(health) = check.health else { continue };
            let suite = check.id.split_once("::").map_or(check.id.as_str(), |(suite, _)| suite);
            let labels = || vec![name(), ("suite", suite.to_string()), ("check", check.id.clone())];
            success.sample(labels(), u8::from(health == Health::Passing));
            duration.sample(labels(), seconds(check.duration_ms));
            last_run.sample(labels(), seconds(check.last_run_ms));
            if let Some(at) = check.last_success_ms {
                last_success.sample(labels(), seconds(at));
            }
            failures.sample(labels(), check.consecutive_failures);
        }
        for result in RunResult::ALL {
            let count = target.runs_by_result.get(&result).copied().unwrap_or(0);
            runs.sample(vec![name(), ("result", result.as_str().to_string())], count);
        }
        if let Some(last) = target.last_run() {
            run_duration.sample(vec![name()], seconds(last.duration_ms));
            run_last.sample(vec![name()], seconds(last.finished_at_ms()));
        }
        if let Some(at) = target.last_passed_ms {
            run_passed.sample(vec![name()], seconds(at));
        }
        interval.sample(vec![name()], target.interval.as_secs_f64());
        in_progress.sample(vec![name()], u8::from(target.running.is_some()));
        overruns.sample(vec![name()], target.overruns);
        if let Some(at) = target.next_run_ms {
            next_run.sample(vec![name()], seconds(at));
        }
        for expiry in target.certificate_expiries() {
            certificates
                .sample(vec![name(), ("check", expiry.check), ("certificate", expiry.certificate)], expiry.expires_at);
        }
        let counts = target.webhooks;
        webhooks.sample(vec![name(), ("result", "delivered".into())], counts.delivered);
        webhooks.sample(vec![name(), ("result", "failed".into())], counts.failed);
        dropped.sample(vec![name(), ("reason", "superseded".into())], counts.superseded);
        dropped.sample(vec![name(), ("reason", "queue-full".into())], counts.queue_full);
        canary.samples(target);
    }

    let mut families = vec![
        build,
        success,
        duration,
        last_run,
        last_success,
        failures,
        runs,
        run_duration,
        run_last,
        run_passed,
        interval,
        in_progress,
        overruns,
        next_run,
        certificates,
        webhooks,
        dropped,
    ];
    families.extend(canary.families());
    let mut out = String::new();
    for family in &families {
        family.write(&mut out);
    }
    out
}

/// The families of the targets' canaries.
struct CanaryFamilies {
    success: Family,
    failures: Family,
    runs: Family,
    last_run: Family,
    interval: Family,
    wait: Family,
    run: Family,
    measured: Family,
    threshold: Family,
    over: Family,
}

impl CanaryFamilies {
    fn new() -> CanaryFamilies {
        CanaryFamilies {
            success: Family::new(
                "realitycheck_canary_check_success",
                "gauge",
                "1 when the canary's check's last verdict was a pass, 0 when it was a failure; absent before its first.",
            ),
            failures: Family::new(
                "realitycheck_canary_check_consecutive_failures",
                "gauge",
                "Failures of the canary's check in a row, up to its last verdict.",
            ),
            runs: Family::new("realitycheck_canary_runs_total", "counter", "Canaries of the target, by result."),
            last_run: Family::new(
                "realitycheck_canary_last_run_timestamp_seconds",
                "gauge",
                "When the target's last canary ended.",
            ),
            interval: Family::new(
                "realitycheck_canary_interval_seconds",
                "gauge",
                "Time between the starts of two canaries of the target.",
            ),
            wait: Family::new(
                "realitycheck_job_wait_seconds",
                "gauge",
                "How long the last canary's job of the executor waited from queued to started.",
            ),
            run: Family::new(
                "realitycheck_job_run_seconds",
                "gauge",
                "How long the last canary's job of the executor ran from started to stopped.",
            ),
            measured: Family::new(
                "realitycheck_job_measured_timestamp_seconds",
                "gauge",
                "When the canary that measured the executor's job's wait and run time ended.",
            ),
            threshold: Family::new(
                "realitycheck_job_wait_threshold_seconds",
                "gauge",
                "The longest a canary's job may wait from queued to started (the target's capacity.max_wait_p95).",
            ),
            over: Family::new(
                "realitycheck_job_wait_consecutive_over_threshold",
                "gauge",
                "Canaries in a row whose job of the executor waited longer than the threshold.",
            ),
        }
    }

    /// The samples of `target`'s canary: none for a target without canary, even with canaries
    /// kept from before (their last waits would hold an alert for ever).
    fn samples(&mut self, target: &TargetState) {
        let state = &target.canary;
        let Some(schedule) = &state.schedule else { return };
        let name = || ("target", target.name.clone());
        for check in state.checks.values() {
            let Some(health) = check.health else { continue };
            let suite = check.id.split_once("::").map_or(check.id.as_str(), |(suite, _)| suite);
            let labels = || vec![name(), ("suite", suite.to_string()), ("check", check.id.clone())];
            self.success.sample(labels(), u8::from(health == Health::Passing));
            self.failures.sample(labels(), check.consecutive_failures);
        }
        for result in RunResult::ALL {
            let count = state.runs_by_result.get(&result).copied().unwrap_or(0);
            self.runs.sample(vec![name(), ("result", result.as_str().to_string())], count);
        }
        if let Some(last) = state.last_run() {
            self.last_run.sample(vec![name()], seconds(last.finished_at_ms()));
        }
        self.interval.sample(vec![name()], schedule.interval.as_secs_f64());
        self.threshold.sample(vec![name()], schedule.max_wait.as_secs_f64());
        for job in state.jobs.values() {
            let labels = || vec![name(), ("executor", job.executor.clone())];
            if let Some(wait) = job.wait_seconds {
                self.wait.sample(labels(), wait);
            }
            if let Some(run) = job.run_seconds {
                self.run.sample(labels(), run);
            }
            self.measured.sample(labels(), seconds(job.measured_ms));
            self.over.sample(labels(), job.waits_over);
        }
    }

    fn families(self) -> [Family; 10] {
        [
            self.success,
            self.failures,
            self.runs,
            self.last_run,
            self.interval,
            self.wait,
            self.run,
            self.measured,
            self.threshold,
            self.over,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(seconds(1_700_000_000_250), "1700000000.250");
        assert_eq!(seconds(5), "0.005");
    }
}
