//! The scheduler: one loop per target, each starting its target's run at its turn (targets
//! staggered over the first minute, a small jitter on every turn) or when the API asks, and
//! its canary, if it has one, at the canary's turns (the first right after the first run),
//! never two runs of one target at once: a canary whose turn comes during a run starts when
//! that run ends, and the other way round. A run that takes longer than its interval is
//! recorded as an overrun and the next one starts when it ends, never alongside. One target's
//! slowness or failure never delays another's: each loop is its own task. On shutdown each
//! loop cancels its run (the engine finishes it: interrupted checks reported, workflows the
//! run started cancelled), records it, and ends. Each target's webhook notifications are
//! queued in its outbox by the time its run's record is seen, and one task per target delivers
//! them in order; on shutdown the outboxes are emptied (10 s at most).

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use harness::{CancellationToken, EventSink, Run, Secret, Suite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::canary::CanarySchedule;
use crate::record::{RunMeta, RunRecord, Trigger, unix_millis};
use crate::state::{Running, TargetState};
use crate::store::Store;
use crate::webhook::{OUTBOX_CAPACITY, Outbox, Outcome, Webhook};

/// How `serve` runs its targets.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time between the starts of two runs of one target.
    pub every: Duration,
    /// Runs kept per target.
    pub history: usize,
    /// The largest random delay added to each turn (0: none).
    pub jitter: Duration,
    /// The first runs of the targets are spread evenly over this span.
    pub stagger: Duration,
}

impl Schedule {
    /// `every`, with the jitter (a twentieth of it, at most 30 s) and stagger (at most a
    /// minute) `serve` uses.
    pub fn every(every: Duration, history: usize) -> Schedule {
        Schedule {
            every,
            history,
            jitter: (every / 20).min(Duration::from_secs(30)),
            stagger: every.min(Duration::from_secs(60)),
        }
    }
}

/// Why `POST /api/v1/runs` could not start a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// No target has this name.
    UnknownTarget(String),
    /// The target has a run going on, or one asked for already.
    Busy {
        /// The run going on or asked for.
        id: u64,
    },
    /// `serve` is shutting down.
    ShuttingDown,
}

/// The state every loop writes and the HTTP layer reads.
pub struct Service {
    version: String,
    schedule: Schedule,
    targets: Mutex<BTreeMap<String, TargetState>>,
    requests: BTreeMap<String, mpsc::Sender<u64>>,
    /// Runs asked for and not started yet, by target.
    pending: Mutex<BTreeMap<String, u64>>,
    next_id: AtomicU64,
    store: Option<Mutex<Store>>,
    /// Each target's notifications not delivered yet; none without a webhook.
    outboxes: BTreeMap<String, Arc<Outbox>>,
    deliveries: TaskTracker,
    stopping: AtomicBool,
    api_token: Option<Secret>,
    /// The monotonic and the wall clock at start: every time a record holds is read from the
    /// monotonic clock through it, so that its times and durations agree.
    anchor: (Instant, SystemTime),
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("version", &self.version)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

/// What a service is made of, besides its targets. Its Debug never shows the API token.
#[derive(Default)]
pub struct ServiceParts {
    /// The state dir, open, with the records it kept.
    pub store: Option<(Store, Vec<RunRecord>)>,
    /// Where notifications go.
    pub webhook: Option<Webhook>,
    /// The bearer token `POST /api/v1/runs` requires.
    pub api_token: Option<Secret>,
}

impl std::fmt::Debug for ServiceParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceParts")
            .field("store", &self.store.as_ref().map(|(store, records)| (store.path(), records.len())))
            .field("webhook", &self.webhook)
            .field("api_token", &self.api_token)
            .finish()
    }
}

/// What `serve` runs for one target: the run of the scheduled profile (named by its
/// `RunInfo`), and its canary if it has one.
pub struct Watch<S: Suite> {
    /// The run of the target's scheduled profile, every `Schedule::every`; also what
    /// `POST /api/v1/runs` starts.
    pub run: Run<S>,
    /// The target's canary.
    pub canary: Option<Canary<S>>,
}

impl<S: Suite> From<Run<S>> for Watch<S> {
    /// A target without canary.
    fn from(run: Run<S>) -> Watch<S> {
        Watch { run, canary: None }
    }
}

/// A target's canary: a run of another profile on its own interval, whose jobs' waits are
/// judged against `max_wait`.
pub struct Canary<S: Suite> {
    /// The canary's run (its profile named by its `RunInfo`).
    pub run: Run<S>,
    /// Time between the starts of two canaries.
    pub every: Duration,
    /// A job that waits longer than this in the queue waits too long.
    pub max_wait: Duration,
}

/// A target's runs and the receiver of the runs asked for it.
struct Watched<S: Suite> {
    watch: Watch<S>,
    requests: mpsc::Receiver<u64>,
    offset: Duration,
}

/// The turns of one of a target's runs: every `every` from the first, each with its own
/// jitter, which never carries over to the next.
struct Turns {
    every: Duration,
    turn: u64,
    at: Instant,
    /// When the next run starts: its turn and its jitter.
    next: Instant,
}

impl Turns {
    fn new(first: Instant, every: Duration) -> Turns {
        Turns { every, turn: 0, at: first, next: first }
    }

    /// The next turn, after a run of this kind that the schedule started at `started`. Turns
    /// that came while the run waited for the target's other run to end are skipped, and
    /// turns missed while it went on are not made up: the next starts now, and the turns go
    /// on from there.
    fn advance(&mut self, started: Instant, jitter_max: Duration, target: &str) {
        self.turn += 1;
        self.at += self.every;
        while self.at <= started {
            self.turn += 1;
            self.at += self.every;
        }
        let now = Instant::now();
        if self.at < now {
            self.at = now;
        }
        self.next = self.at + jitter(jitter_max, target, self.turn);
    }
}

impl Service {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, TargetState>> {
        self.targets.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The build serving.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A copy of every target's state, in name order.
    pub fn snapshot(&self) -> Vec<TargetState> {
        self.lock().values().cloned().collect()
    }

    /// A kept run, by ID.
    pub fn run(&self, id: u64) -> Option<Arc<RunRecord>> {
        self.lock().values().find_map(|target| target.run(id).cloned())
    }

    /// Whether `id` is a run going on or asked for, and of which target.
    pub fn unfinished(&self, id: u64) -> Option<(String, Option<Running>)> {
        let pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((target, _)) = pending.iter().find(|(_, pending)| **pending == id) {
            return Some((target.clone(), None));
        }
        drop(pending);
        self.lock().values().find_map(|target| {
            target.running.filter(|running| running.id == id).map(|running| (target.name.clone(), Some(running)))
        })
    }

    /// The bearer token `POST /api/v1/runs` requires, if one was given.
    pub fn api_token(&self) -> Option<&Secret> {
        self.api_token.as_ref()
    }

    /// Whether the service is ready: false once shutting down.
    pub fn ready(&self) -> bool {
        !self.stopping.load(Ordering::SeqCst)
    }

    /// The target names.
    pub fn target_names(&self) -> Vec<String> {
        self.requests.keys().cloned().collect()
    }

    /// Asks for a run of `target` now; the ID its record will have.
    pub fn request_run(&self, target: &str) -> Result<u64, RequestError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(RequestError::ShuttingDown);
        }
        let sender = self.requests.get(target).ok_or_else(|| RequestError::UnknownTarget(target.to_string()))?;
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(id) = pending.get(target) {
            return Err(RequestError::Busy { id: *id });
        }
        if let Some(running) = self.lock().get(target).and_then(|state| state.running) {
            return Err(RequestError::Busy { id: running.id });
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        sender.try_send(id).map_err(|_| RequestError::ShuttingDown)?;
        pending.insert(target.to_string(), id);
        Ok(id)
    }

    fn set_next(&self, target: &str, at: SystemTime, canary: Option<SystemTime>) {
        if let Some(state) = self.lock().get_mut(target) {
            state.next_run_ms = Some(unix_millis(at));
            state.canary.next_run_ms = canary.map(unix_millis);
        }
    }

    /// The wall-clock time of the monotonic `at`.
    fn wall(&self, at: Instant) -> SystemTime {
        let (instant, wall) = self.anchor;
        if at >= instant { wall + (at - instant) } else { wall - (instant - at) }
    }

    fn start(&self, target: &str, trigger: Trigger, requested: Option<u64>, canary: bool, at: Instant) -> Running {
        let id = requested.unwrap_or_else(|| self.next_id.fetch_add(1, Ordering::SeqCst));
        let running = Running { id, trigger, canary, started_at_ms: unix_millis(self.wall(at)) };
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = self.lock().get_mut(target) {
            state.running = Some(running);
        }
        if requested.is_some() {
            pending.remove(target);
        }
        running
    }

    /// Records a finished run: the state, the notifications (queued before the targets' state
    /// is unlocked: whoever sees the run's record finds them queued), the state dir.
    fn finish(&self, record: RunRecord) {
        let record = Arc::new(record);
        let kept = {
            let mut targets = self.lock();
            let Some(state) = targets.get_mut(&record.target) else { return };
            state.running = None;
            let transitions = state.apply(Arc::clone(&record));
            if let Some(outbox) = self.outboxes.get(&record.target) {
                for transition in transitions {
                    for outcome in outbox.push(transition) {
                        state.webhooks.count(outcome);
                    }
                }
            }
            let kept: Vec<Arc<RunRecord>> = match self.store {
                Some(_) => targets.values().flat_map(|t| t.history.iter().chain(&t.canary.history).cloned()).collect(),
                None => Vec::new(),
            };
            kept
        };
        // The file is written with the targets' state unlocked: the HTTP handlers and the
        // other targets' loops never wait for the disk.
        if let Some(store) = &self.store {
            let kept: Vec<&RunRecord> = kept.iter().map(|r| &**r).collect();
            let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Err(error) = store.append(&record, &kept) {
                tracing::error!(%error, "the run could not be kept in the state dir");
            }
        }
        tracing::info!(target_name = %record.target, run = record.id, profile = %record.profile, canary = record.canary, result = record.result.as_str(), duration_ms = record.duration_ms, "run finished");
    }

    /// Counts the outcome of one of `target`'s notifications.
    fn count(&self, target: &str, outcome: Outcome) {
        if let Some(state) = self.lock().get_mut(target) {
            state.webhooks.count(outcome);
        }
    }
}

/// A small random delay below `max`, different for each turn.
fn jitter(max: Duration, target: &str, turn: u64) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new().hash_one((target, turn));
    let max_millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(random % max_millis)
}

/// Starts `serve`'s loops: one per target of `targets` (each with the run of one target,
/// named by its `RunInfo`, and its canary), until `shutdown` is cancelled. Returns the service
/// (for the HTTP layer) and a handle that resolves when every loop has ended and the
/// notifications queued are delivered or dropped (or 10 s have passed).
pub fn start<S: Suite>(
    targets: Vec<Watch<S>>,
    schedule: Schedule,
    version: &str,
    parts: ServiceParts,
    shutdown: CancellationToken,
) -> (Arc<Service>, tokio::task::JoinHandle<()>) {
    let count = u32::try_from(targets.len()).unwrap_or(u32::MAX).max(1);
    let mut states = BTreeMap::new();
    let mut requests = BTreeMap::new();
    let mut watched = Vec::new();
    let mut outboxes = BTreeMap::new();
    let mut hosts = Vec::new();
    for (index, watch) in targets.into_iter().enumerate() {
        let info = watch.run.options().info.clone();
        let (sender, receiver) = mpsc::channel(1);
        requests.insert(info.target.clone(), sender);
        let mut state = TargetState::new(&info.target, &info.host, &info.profile, schedule.every, schedule.history);
        state.canary.schedule = watch.canary.as_ref().map(|canary| CanarySchedule {
            profile: canary.run.options().info.profile.clone(),
            interval: canary.every,
            max_wait: canary.max_wait,
        });
        states.insert(info.target.clone(), state);
        if parts.webhook.is_some() {
            outboxes.insert(info.target.clone(), Arc::new(Outbox::new(&info.target, OUTBOX_CAPACITY)));
            hosts.push((info.target.clone(), info.host.clone()));
        }
        let offset = schedule.stagger * u32::try_from(index).unwrap_or(u32::MAX) / count;
        watched.push(Watched { watch, requests: receiver, offset });
    }
    let (store, restored) = match parts.store {
        Some((store, records)) => (Some(Mutex::new(store)), records),
        None => (None, Vec::new()),
    };
    let mut last_id = 0;
    for record in restored {
        last_id = last_id.max(record.id);
        if let Some(state) = states.get_mut(&record.target) {
            state.apply(Arc::new(record));
        }
    }
    let service = Arc::new(Service {
        version: version.to_string(),
        schedule: schedule.clone(),
        targets: Mutex::new(states),
        requests,
        pending: Mutex::new(BTreeMap::new()),
        next_id: AtomicU64::new(last_id + 1),
        store,
        outboxes,
        deliveries: TaskTracker::new(),
        stopping: AtomicBool::new(false),
        api_token: parts.api_token,
        anchor: (Instant::now(), SystemTime::now()),
    });
    if let Some(webhook) = parts.webhook {
        for (target, host) in hosts {
            let (service, webhook) = (Arc::clone(&service), webhook.clone());
            service.deliveries.clone().spawn(async move {
                let outbox = Arc::clone(&service.outboxes[&target]);
                outbox.work(&webhook, &host, |outcome| service.count(&target, outcome)).await;
            });
        }
    }
    let loops: Vec<_> = watched
        .into_iter()
        .map(|watched| tokio::spawn(watch(Arc::clone(&service), watched, shutdown.clone())))
        .collect();
    let done = {
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            shutdown.cancelled().await;
            service.stopping.store(true, Ordering::SeqCst);
            for handle in loops {
                if let Err(error) = handle.await {
                    tracing::error!(%error, "a target's loop ended abnormally");
                }
            }
            for outbox in service.outboxes.values() {
                outbox.close();
            }
            service.deliveries.close();
            if tokio::time::timeout(Duration::from_secs(10), service.deliveries.wait()).await.is_err() {
                tracing::warn!("notifications still in flight at shutdown were abandoned after 10s");
            }
        })
    };
    (service, done)
}

/// One target's loop: wait for the turn of its run or its canary, or a request; run, record,
/// again. When both turns have come, the scheduled run goes first.
async fn watch<S: Suite>(service: Arc<Service>, mut watched: Watched<S>, shutdown: CancellationToken) {
    let info = watched.watch.run.options().info.clone();
    let jitter = service.schedule.jitter;
    let first = Instant::now() + watched.offset;
    let mut turns = Turns::new(first, service.schedule.every);
    let mut canary_turns = watched.watch.canary.as_ref().map(|canary| Turns::new(first, canary.every));
    loop {
        let canary_next = canary_turns.as_ref().map(|turns| turns.next);
        service.set_next(&info.target, service.wall(turns.next), canary_next.map(|at| service.wall(at)));
        let (trigger, requested, canary) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(id) = watched.requests.recv() => (Trigger::Request, Some(id), false),
            () = tokio::time::sleep_until(turns.next) => (Trigger::Schedule, None, false),
            () = sleep_until_some(canary_next) => (Trigger::Schedule, None, true),
        };
        let (run, interval) = match (&watched.watch.canary, canary) {
            (Some(canary), true) => (&canary.run, canary.every),
            _ => (&watched.watch.run, turns.every),
        };
        let started = Instant::now();
        let running = service.start(&info.target, trigger, requested, canary, started);
        // Nobody reads the events: the record is made from the report.
        let (sink, events) = EventSink::channel();
        drop(events);
        let outcome = run.execute(&sink, shutdown.child_token()).await;
        let meta = RunMeta {
            id: running.id,
            target: info.target.clone(),
            trigger,
            profile: run.options().info.profile.clone(),
            canary,
            started_at: service.wall(started),
            duration: started.elapsed(),
            interval,
        };
        let record = RunRecord::new(meta, outcome.as_ref().map_err(ToString::to_string));
        if record.overran {
            tracing::warn!(target_name = %info.target, profile = %record.profile, duration_ms = record.duration_ms, every = ?interval, "the run took longer than its interval; the next one starts now, not alongside");
        }
        service.finish(record);
        match (trigger, canary_turns.as_mut().filter(|_| canary)) {
            (Trigger::Schedule, Some(canary_turns)) => canary_turns.advance(started, jitter, &info.target),
            (Trigger::Schedule, None) => turns.advance(started, jitter, &info.target),
            (Trigger::Request, _) => {}
        }
    }
    if let Some(state) = service.lock().get_mut(&info.target) {
        state.next_run_ms = None;
        state.canary.next_run_ms = None;
    }
}

/// Sleeps until `at`, or for ever when there is none.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_below_its_bound() {
        for turn in 0..200 {
            assert!(jitter(Duration::from_millis(50), "prod", turn) < Duration::from_millis(50));
        }
        assert_eq!(jitter(Duration::ZERO, "prod", 1), Duration::ZERO);
        let schedule = Schedule::every(Duration::from_secs(15 * 60), 100);
        assert_eq!((schedule.jitter, schedule.stagger), (Duration::from_secs(30), Duration::from_secs(60)));
        let short = Schedule::every(Duration::from_secs(20), 100);
        assert_eq!((short.jitter, short.stagger), (Duration::from_secs(1), Duration::from_secs(20)));
    }
}
