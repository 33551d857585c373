//! The runner: a `Plan` (checks and preflights) run against a shared context, concurrently
//! on tokio, with per-kind timeouts, retries, a global deadline and cancellation. A plan is
//! a value: it can run many times, for several targets, in one process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::check::{Check, CheckKind, CheckSpec, Diagnosis, SkipReason, Tag, Verdict};
use crate::event::{CheckResult, Event, EventSink, Outcome, RunInfo, RunStatus, RunSummary};
use crate::selection::{Disposition, Selection};

/// Time allowed to one attempt of a check, by kind, before `scale` multiplies it.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    pub cluster: Duration,
    pub api: Duration,
    pub pipeline: Duration,
    /// Multiplies every timeout and the deadline (slow installations, slow CI machines).
    pub scale: f64,
}

impl Timeouts {
    pub fn for_kind(&self, kind: CheckKind) -> Duration {
        let base = match kind {
            CheckKind::Cluster => self.cluster,
            CheckKind::Api => self.api,
            CheckKind::Pipeline => self.pipeline,
        };
        base.mul_f64(self.scale)
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub info: RunInfo,
    pub selection: Selection,
    pub timeouts: Timeouts,
    /// The whole run stops here (already scaled by the caller or not: it is taken as is).
    pub deadline: Option<Duration>,
    /// How many times a failed check runs again; a pass after a failure is flaky.
    pub retries: u32,
    /// Pause before a retry.
    pub retry_delay: Duration,
    /// At most this many checks run at once.
    pub concurrency: usize,
}

/// A check of the installation's reachability that must pass before any check carrying
/// `needed_by` runs. Its `Ok` is a note ("Kubernetes v1.32.4"); its `Err` ends the run.
pub struct Preflight<C> {
    pub name: &'static str,
    pub needed_by: Tag,
    pub kind: CheckKind,
    #[allow(clippy::type_complexity)]
    pub run: Arc<dyn Fn(Arc<C>) -> BoxFuture<'static, Result<String, String>> + Send + Sync>,
}

impl<C> Clone for Preflight<C> {
    fn clone(&self) -> Self {
        Preflight { name: self.name, needed_by: self.needed_by, kind: self.kind, run: Arc::clone(&self.run) }
    }
}

impl<C: Send + Sync + 'static> Preflight<C> {
    pub fn new<F, Fut>(name: &'static str, needed_by: Tag, kind: CheckKind, run: F) -> Self
    where
        F: Fn(Arc<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Preflight { name, needed_by, kind, run: Arc::new(move |ctx| Box::pin(run(ctx))) }
    }
}

/// The checks and preflights of a product, ready to be selected and run.
pub struct Plan<C> {
    pub checks: Vec<Check<C>>,
    pub preflights: Vec<Preflight<C>>,
}

impl<C> Clone for Plan<C> {
    fn clone(&self) -> Self {
        Plan { checks: self.checks.clone(), preflights: self.preflights.clone() }
    }
}

/// Aborts a spawned task when dropped, so that an interrupted run leaves nothing behind.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<C: Send + Sync + 'static> Plan<C> {
    /// The checks the selection keeps, in plan order, with what to do with each.
    pub fn select(&self, ctx: &C, selection: &Selection) -> Vec<(Check<C>, Disposition)> {
        self.checks
            .iter()
            .filter_map(|check| {
                let applicability = (check.applicability)(ctx);
                selection
                    .decide(&check.spec.id, &check.spec.tags, &applicability)
                    .map(|disposition| (check.clone(), disposition))
            })
            .collect()
    }

    /// Runs the selected checks. Always ends with a `RunFinished` event carrying the summary,
    /// whatever happened (preflight failure, interruption, panicking check).
    pub async fn run(
        &self,
        ctx: Arc<C>,
        options: &RunOptions,
        events: &EventSink,
        cancel: CancellationToken,
    ) -> RunSummary {
        let started = Instant::now();
        let selected = self.select(&ctx, &options.selection);
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
        let check_starts: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; selected.len()]));
        let interrupted = |mut results: Vec<Option<CheckResult>>, reason: String| {
            let starts = check_starts.lock().map(|s| s.clone()).unwrap_or_default();
            for (index, (slot, (check, _))) in results.iter_mut().zip(&selected).enumerate() {
                if slot.is_none() {
                    let mut result = skipped(&check.spec, SkipReason::Interrupted(reason.clone()));
                    result.duration = starts.get(index).copied().flatten().map_or(Duration::ZERO, |s| s.elapsed());
                    events.emit(Event::CheckFinished(result.clone()));
                    *slot = Some(result);
                }
            }
            finish(results, RunStatus::Interrupted, Some(reason))
        };

        let preflights = tokio::select! {
            outcome = self.run_preflights(&ctx, &selected, options, events) => outcome,
            reason = &mut stop => return interrupted(results, reason),
        };
        if let Err((preflight, message)) = preflights {
            for (slot, (check, _)) in results.iter_mut().zip(&selected) {
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
                starts: Arc::clone(&check_starts),
                check: check.clone(),
                ctx: Arc::clone(&ctx),
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
        ctx: &Arc<C>,
        selected: &[(Check<C>, Disposition)],
        options: &RunOptions,
        events: &EventSink,
    ) -> Result<(), (String, String)> {
        let needed = |tag: Tag| {
            selected.iter().any(|(check, disposition)| *disposition == Disposition::Run && check.spec.has_tag(tag))
        };
        for preflight in self.preflights.iter().filter(|p| needed(p.needed_by)) {
            let timeout = options.timeouts.for_kind(preflight.kind);
            let outcome = match tokio::time::timeout(timeout, (preflight.run)(Arc::clone(ctx))).await {
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

fn skipped(spec: &CheckSpec, reason: SkipReason) -> CheckResult {
    CheckResult { spec: spec.clone(), outcome: Outcome::Skipped { reason }, duration: Duration::ZERO, attempts: 0 }
}

/// Formats a duration the way reports and messages print it: `30s`, `1.5s`, `2m`, `1m30s`.
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    if secs < 60 {
        let tenths = (millis % 1000) / 100;
        return if tenths == 0 { format!("{secs}s") } else { format!("{secs}.{tenths}s") };
    }
    let (minutes, rest) = (secs / 60, secs % 60);
    if rest == 0 { format!("{minutes}m") } else { format!("{minutes}m{rest}s") }
}

/// The attempts of one check: timeout per attempt, a slow notice, retries, panic capture.
struct Attempts<C> {
    /// Position in the plan, where the start instant is recorded for interrupted checks.
    index: usize,
    starts: Arc<Mutex<Vec<Option<Instant>>>>,
    check: Check<C>,
    ctx: Arc<C>,
    timeout: Duration,
    retries: u32,
    retry_delay: Duration,
    events: EventSink,
}

impl<C: Send + Sync + 'static> Attempts<C> {
    async fn run(self) -> CheckResult {
        let id = self.check.spec.id.clone();
        self.events.emit(Event::CheckStarted { id: id.clone() });
        let started = Instant::now();
        if let Some(slot) = self.starts.lock().ok().as_mut().and_then(|s| s.get_mut(self.index)) {
            *slot = Some(started);
        }
        let mut failures = Vec::new();
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            match self.attempt().await {
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
        CheckResult { spec: self.check.spec.clone(), outcome, duration: started.elapsed(), attempts: attempt }
    }

    async fn attempt(&self) -> Verdict {
        let body = AbortOnDrop(tokio::spawn((self.check.body)(Arc::clone(&self.ctx))));
        let started = Instant::now();
        let slow_at = started + self.timeout / 2;
        let timeout_at = started + self.timeout;
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
