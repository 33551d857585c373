//! The runner: a [`Run`] of a [`Suite`]: selection, the suite's resources prepared for the
//! selected checks, preflights, the checks concurrently on tokio with per-kind timeouts,
//! retries, a global deadline and cancellation, then the suite's evidence of the red checks
//! (when asked for) and its finish. A run is a value: it
//! can start many times, for several targets, in one process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::check::{Check, CheckSpec, Diagnosis, Scope, SkipReason, Tag, Verdict};
use crate::event::{CheckResult, Event, EventSink, Outcome, RunInfo, RunStatus, RunSummary};
use crate::evidence::Evidence;
use crate::format::humanize;
use crate::observation::Observations;
use crate::preflight::Preflight;
use crate::selection::{Disposition, Selection};
use crate::suite::Suite;
use crate::timeouts::Timeouts;

/// The longest a suite may gather evidence of a run's red checks (`Suite::collect`).
pub const COLLECT_BUDGET: Duration = Duration::from_secs(120);

/// How a run goes: what it says of itself, which checks, time limits, retries, concurrency.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The target and profile, for the reports.
    pub info: RunInfo,
    /// Which checks run.
    pub selection: Selection,
    /// Time allowed to each check, by kind.
    pub timeouts: Timeouts,
    /// The whole run stops this long after it starts.
    pub deadline: Option<Duration>,
    /// How many times a failed check runs again; a pass after a failure is flaky.
    pub retries: u32,
    /// Pause before a retry.
    pub retry_delay: Duration,
    /// At most this many checks run at once.
    pub concurrency: usize,
    /// Whether the suite gathers evidence ([`Suite::collect`]) when a check failed.
    pub collect: bool,
}

/// One run of a suite against one installation: the suite's checks and preflights, and how
/// to run them. A run is a value: [`Run::execute`] can start it again and again (`serve`
/// does), and several runs, for several targets, can go on in one process.
pub struct Run<S: Suite> {
    suite: Arc<S>,
    checks: Vec<Arc<Check<S>>>,
    preflights: Vec<Preflight<S>>,
    options: RunOptions,
}

/// What a finished run leaves: its summary (also sent as the last event), the evidence the
/// suite gathered about its red checks, and what the suite's finish did (workflows
/// cancelled), one line each.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The outcome of every selected check.
    pub summary: RunSummary,
    /// What the suite gathered about the red checks: `Some` when the options asked for it and
    /// a check failed.
    pub evidence: Option<Evidence>,
    /// What the suite did when the run ended, for the operator.
    pub finish_notes: Vec<String>,
}

/// Aborts a spawned task when dropped, so that an interrupted run leaves nothing behind.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<S: Suite> Run<S> {
    /// A run of `suite`'s checks with `options`.
    pub fn new(suite: S, options: RunOptions) -> Self {
        let checks = suite.checks().into_iter().map(Arc::new).collect();
        let preflights = suite.preflights();
        Run { suite: Arc::new(suite), checks, preflights, options }
    }

    /// How the run goes.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The suite the run drives.
    pub fn suite(&self) -> Arc<S> {
        Arc::clone(&self.suite)
    }

    /// The checks the selection keeps, in the suite's order, with what to do with each.
    pub fn select(&self) -> Vec<(&Check<S>, Disposition)> {
        self.selected().into_iter().map(|(check, disposition)| (&**check, disposition)).collect()
    }

    /// The IDs the selection's `only` names that are no check of the suite (a typo in a
    /// profile's `checks`), in the order it names them.
    pub fn unknown_checks(&self) -> Vec<&str> {
        let only = &self.options.selection.only;
        only.iter().filter(|id| !self.checks.iter().any(|check| &check.spec.id == *id)).map(String::as_str).collect()
    }

    fn selected(&self) -> Vec<(&Arc<Check<S>>, Disposition)> {
        self.checks
            .iter()
            .filter_map(|check| {
                let applicability = self.suite.applicability(&check.declaration);
                self.options
                    .selection
                    .decide(&check.spec.id, &check.spec.tags, &applicability)
                    .map(|disposition| (check, disposition))
            })
            .collect()
    }

    /// Starts the run: selects the checks, has the suite prepare what they need, runs them,
    /// has the suite gather evidence of the red ones (when the options ask for it, before
    /// anything is cleaned up) and finish what the run left. Always ends with a `RunFinished` event
    /// carrying the summary, whatever happened (preflight failure, interruption, panicking
    /// check), except when the resources cannot be prepared: then nothing runs, no event is
    /// sent, and the error says why.
    pub async fn execute(&self, events: &EventSink, cancel: CancellationToken) -> Result<RunReport, S::Error> {
        let selected = self.selected();
        let declarations: Vec<&S::Declaration> =
            selected.iter().filter(|(_, d)| *d == Disposition::Run).map(|(check, _)| &check.declaration).collect();
        let resources = Arc::new(self.suite.prepare(&declarations, &self.options.timeouts)?);
        let summary = self.run_checks(&selected, Arc::clone(&resources), events, cancel.clone()).await;
        let red = red(&selected, &summary);
        let evidence = match self.options.collect && !red.is_empty() {
            true => Some(self.collect(&resources, &red, &cancel).await),
            false => None,
        };
        let finish_notes = self.suite.finish(&resources).await;
        Ok(RunReport { summary, evidence, finish_notes })
    }

    /// The suite's evidence of the `red` checks, gathered within [`COLLECT_BUDGET`] and never
    /// after a cancellation: what the run started waits for `finish` meanwhile.
    async fn collect(
        &self,
        resources: &S::Resources,
        red: &[(&CheckResult, &S::Declaration)],
        cancel: &CancellationToken,
    ) -> Evidence {
        if cancel.is_cancelled() {
            return Evidence::nothing("the run was cancelled: no evidence was gathered");
        }
        tokio::select! {
            evidence = tokio::time::timeout(COLLECT_BUDGET, self.suite.collect(resources, red)) => {
                evidence.unwrap_or_else(|_| Evidence::nothing(format!(
                    "gathering evidence took longer than {}: it was stopped, nothing gathered",
                    humanize(COLLECT_BUDGET)
                )))
            }
            () = cancel.cancelled() => Evidence::nothing("the run was cancelled while evidence was gathered: nothing gathered"),
        }
    }

    async fn run_checks(
        &self,
        selected: &[(&Arc<Check<S>>, Disposition)],
        resources: Arc<S::Resources>,
        events: &EventSink,
        cancel: CancellationToken,
    ) -> RunSummary {
        let options = &self.options;
        let started = Instant::now();
        events.emit(Event::RunStarted {
            info: options.info.clone(),
            checks: selected.iter().map(|(check, _)| check.spec.clone()).collect(),
        });
        let mut results: Vec<Option<CheckResult>> = vec![None; selected.len()];
        let finish = |results: Vec<Option<CheckResult>>, status, stopped_because| {
            let summary = RunSummary {
                status,
                results: results.into_iter().flatten().collect(),
                duration: started.elapsed(),
                stopped_because,
            };
            events.emit(Event::RunFinished(summary.clone()));
            summary
        };
        if selected.is_empty() {
            return finish(results, RunStatus::NothingSelected, None);
        }

        // What stops the run early, raced against the preflights and then the checks.
        let deadline = options.deadline;
        let stop = async {
            let deadline_reached = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(started + deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => "the run was cancelled (signal)".to_string(),
                _ = deadline_reached => format!(
                    "the global deadline of {} was reached",
                    humanize(deadline.unwrap_or_default())
                ),
            }
        };
        tokio::pin!(stop);
        let check_progress: Arc<Mutex<Vec<Option<Progress>>>> = Arc::new(Mutex::new(vec![None; selected.len()]));
        let interrupted = |mut results: Vec<Option<CheckResult>>, reason: String| {
            let progress = check_progress.lock().map(|p| p.clone()).unwrap_or_default();
            for (index, (slot, (check, _))) in results.iter_mut().zip(selected).enumerate() {
                if slot.is_none() {
                    let progress = progress.get(index).cloned().flatten();
                    let said = progress.as_ref().map_or_else(|| reason.clone(), |p| p.interrupted(&reason));
                    let mut result = skipped(&check.spec, SkipReason::Interrupted(said));
                    if let Some(progress) = progress {
                        result.duration = progress.started.elapsed();
                        result.attempts = progress.attempt;
                        result.observations = progress.observations.recorded();
                    }
                    events.emit(Event::CheckFinished(result.clone()));
                    *slot = Some(result);
                }
            }
            finish(results, RunStatus::Interrupted, Some(reason))
        };

        let preflights = tokio::select! {
            outcome = self.run_preflights(&resources, selected, events) => outcome,
            reason = &mut stop => return interrupted(results, reason),
        };
        if let Err((preflight, message)) = preflights {
            for (slot, (check, _)) in results.iter_mut().zip(selected) {
                let reason = SkipReason::PreflightFailed { preflight: preflight.clone(), message: message.clone() };
                let result = skipped(&check.spec, reason);
                events.emit(Event::CheckFinished(result.clone()));
                *slot = Some(result);
            }
            return finish(results, RunStatus::PreflightFailed, Some(message));
        }

        let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let mut running = JoinSet::new();
        for (index, (check, disposition)) in selected.iter().enumerate() {
            if let Disposition::Skip(reason) = disposition {
                let result = skipped(&check.spec, reason.clone());
                events.emit(Event::CheckFinished(result.clone()));
                results[index] = Some(result);
                continue;
            }
            let attempt = Attempts {
                index,
                progress: Arc::clone(&check_progress),
                check: Arc::clone(check),
                resources: Arc::clone(&resources),
                cancel: cancel.clone(),
                timeout: options.timeouts.for_kind(check.spec.kind),
                retries: options.retries,
                retry_delay: options.retry_delay,
                events: events.clone(),
            };
            let semaphore = Arc::clone(&semaphore);
            running.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                (index, attempt.run().await)
            });
        }

        let interruption = loop {
            tokio::select! {
                joined = running.join_next() => match joined {
                    Some(Ok((index, result))) => {
                        events.emit(Event::CheckFinished(result.clone()));
                        results[index] = Some(result);
                    }
                    Some(Err(join_error)) => {
                        // Attempts::run never panics (bodies run in their own task); an
                        // abort can only come from shutdown. Keep going with what is left.
                        tracing::warn!(%join_error, "a check task ended abnormally");
                    }
                    None => break None,
                },
                reason = &mut stop => break Some(reason),
            }
        };
        // Aborts what still runs and waits for it: nothing outlives the run.
        running.shutdown().await;

        let Some(reason) = interruption else {
            let status = if results.iter().flatten().any(|r| r.outcome.is_failure()) {
                RunStatus::Failed
            } else {
                RunStatus::Passed
            };
            return finish(results, status, None);
        };
        interrupted(results, reason)
    }

    async fn run_preflights(
        &self,
        resources: &Arc<S::Resources>,
        selected: &[(&Arc<Check<S>>, Disposition)],
        events: &EventSink,
    ) -> Result<(), (String, String)> {
        let options = &self.options;
        let needed = |tag: Tag| {
            selected.iter().any(|(check, disposition)| *disposition == Disposition::Run && check.spec.has_tag(tag))
        };
        for preflight in self.preflights.iter().filter(|p| needed(p.needed_by)) {
            let timeout = options.timeouts.for_kind(preflight.kind);
            let outcome = match tokio::time::timeout(timeout, (preflight.run)(Arc::clone(resources))).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("{} did not answer within {}", preflight.name, humanize(timeout))),
            };
            match outcome {
                Ok(note) => events.emit(Event::PreflightPassed { name: preflight.name.to_string(), note }),
                Err(message) => {
                    events.emit(Event::PreflightFailed { name: preflight.name.to_string(), message: message.clone() });
                    return Err((preflight.name.to_string(), message));
                }
            }
        }
        Ok(())
    }
}

/// The failed results of `summary`, each with the declaration of its check (among `selected`,
/// by ID).
fn red<'a, S: Suite>(
    selected: &[(&'a Arc<Check<S>>, Disposition)],
    summary: &'a RunSummary,
) -> Vec<(&'a CheckResult, &'a S::Declaration)> {
    summary
        .results
        .iter()
        .filter(|result| result.outcome.is_failure())
        .filter_map(|result| {
            let (check, _) = selected.iter().find(|(check, _)| check.spec.id == result.spec.id)?;
            Some((result, &check.declaration))
        })
        .collect()
}

fn skipped(spec: &CheckSpec, reason: SkipReason) -> CheckResult {
    CheckResult {
        spec: spec.clone(),
        outcome: Outcome::Skipped { reason },
        duration: Duration::ZERO,
        attempts: 0,
        observations: Vec::new(),
    }
}

/// How far a running check got, for the report of an interrupted run.
#[derive(Debug, Clone)]
struct Progress {
    started: Instant,
    /// The attempt under way (from 1).
    attempt: u32,
    /// The summaries of the attempts that failed before it.
    failed: Vec<String>,
    /// Where the attempt under way records its observations.
    observations: Observations,
}

impl Progress {
    /// The reason of the interruption, with the attempt it stopped and the earlier failures.
    fn interrupted(&self, reason: &str) -> String {
        let mut said = format!("{reason}, during attempt {}", self.attempt);
        for (attempt, summary) in (1..).zip(&self.failed) {
            said.push_str(&format!("; attempt {attempt} failed: {summary}"));
        }
        said
    }
}

/// The attempts of one check: timeout per attempt, a slow notice, retries, panic capture.
struct Attempts<S: Suite> {
    /// Position in the selection, where the check's progress is recorded for interrupted checks.
    index: usize,
    progress: Arc<Mutex<Vec<Option<Progress>>>>,
    check: Arc<Check<S>>,
    resources: Arc<S::Resources>,
    cancel: CancellationToken,
    timeout: Duration,
    retries: u32,
    retry_delay: Duration,
    events: EventSink,
}

impl<S: Suite> Attempts<S> {
    async fn run(self) -> CheckResult {
        let id = self.check.spec.id.clone();
        self.events.emit(Event::CheckStarted { id: id.clone() });
        let started = Instant::now();
        let record = |attempt: u32, failures: &[Diagnosis], observations: &Observations| {
            if let Some(slot) = self.progress.lock().ok().as_mut().and_then(|p| p.get_mut(self.index)) {
                let failed = failures.iter().map(|d| d.summary.clone()).collect();
                *slot = Some(Progress { started, attempt, failed, observations: observations.clone() });
            }
        };
        let mut failures = Vec::new();
        let mut attempt = 0;
        // Each attempt records afresh: a retry's observations replace the earlier attempt's.
        let mut observations;
        let outcome = loop {
            attempt += 1;
            observations = Observations::new();
            record(attempt, &failures, &observations);
            match self.attempt(observations.clone()).await {
                Verdict::Pass(note) if failures.is_empty() => break Outcome::Passed { note },
                Verdict::Pass(note) => break Outcome::Flaky { note, failures },
                Verdict::Skip(reason) => break Outcome::Skipped { reason },
                Verdict::Fail(diagnosis) if attempt > self.retries => {
                    break Outcome::Failed { diagnosis };
                }
                Verdict::Fail(diagnosis) => {
                    self.events.emit(Event::CheckRetrying {
                        id: id.clone(),
                        next_attempt: attempt + 1,
                        failure: diagnosis.clone(),
                    });
                    failures.push(diagnosis);
                    tokio::time::sleep(self.retry_delay).await;
                }
            }
        };
        CheckResult {
            spec: self.check.spec.clone(),
            outcome,
            duration: started.elapsed(),
            attempts: attempt,
            observations: observations.recorded(),
        }
    }

    /// One attempt, recording into `observations`; what it recorded stays there whatever the
    /// verdict, also when it timed out or crashed.
    async fn attempt(&self, observations: Observations) -> Verdict {
        let started = Instant::now();
        let slow_at = started + self.timeout / 2;
        let timeout_at = started + self.timeout;
        let scope = Scope { timeout: self.timeout, deadline: timeout_at, cancel: self.cancel.clone(), observations };
        let body = AbortOnDrop(tokio::spawn((self.check.body)(Arc::clone(&self.resources), scope)));
        let mut joined = body;
        let mut slow_reported = false;
        loop {
            tokio::select! {
                verdict = &mut joined.0 => {
                    return verdict.unwrap_or_else(|join_error| Verdict::Fail(
                        Diagnosis::new(format!("the check crashed: {join_error}"))
                            .cause("a bug in realitycheck, triggered by what the installation answered")
                            .remediation("run again with RUST_LOG=debug and report the output (it is redacted)"),
                    ));
                }
                _ = tokio::time::sleep_until(slow_at), if !slow_reported => {
                    slow_reported = true;
                    self.events.emit(Event::CheckSlow {
                        id: self.check.spec.id.clone(),
                        elapsed: started.elapsed(),
                        timeout: self.timeout,
                    });
                }
                _ = tokio::time::sleep_until(timeout_at) => {
                    let kind = self.check.spec.kind.as_str();
                    return Verdict::Fail(
                        Diagnosis::new(format!("no answer within the {kind} timeout of {}", humanize(self.timeout)))
                            .cause("the installation is too slow to answer, or a call hangs (network, load balancer, API server)")
                            .remediation(format!(
                                "check that the target is reachable; if it is merely slow, raise `timeouts.{kind}` or `timeout_scale` in the profile"
                            )),
                    );
                }
            }
        }
    }
}
