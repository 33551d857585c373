//! What one capacity measurement observed. Every time is an offset from the moment the
//! workload was triggered, so that the API's times (from the pipeline's creation) and the
//! Nomad samples (from the harness's clock) share one axis.

use std::time::Duration;

use serde::Serialize;

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// `docker` or `machine`.
    pub executor: String,
    /// How many containers run at once.
    pub containers: u32,
    /// The resource class each asks for.
    pub resource_class: String,
    /// How long each holds its executor.
    #[serde(serialize_with = "seconds")]
    pub hold: Duration,
}

/// One container of the workload (one parallel run of the capacity job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Its parallel index, from 0.
    pub index: u32,
    /// When the job was queued (the API's `queued_at`).
    #[serde(serialize_with = "optional_seconds")]
    pub queued: Option<Duration>,
    /// When the container started (its first step's start).
    #[serde(serialize_with = "optional_seconds")]
    pub started: Option<Duration>,
    /// When it ended (its last step's end).
    #[serde(serialize_with = "optional_seconds")]
    pub stopped: Option<Duration>,
    /// Its status as the API last gave it (`queued`, `running`, `success`, `failed`, …).
    pub status: String,
}

impl Container {
    /// From queued to started, once it started.
    pub fn wait(&self) -> Option<Duration> {
        Some(self.started?.saturating_sub(self.queued?))
    }

    /// How long it had waited by `until`: its wait once it started, else from queued to `until`
    /// (a lower bound of a wait that had not ended); `None` until it was queued.
    pub fn waited_by(&self, until: Duration) -> Option<Duration> {
        self.wait().or_else(|| Some(until.saturating_sub(self.queued?)))
    }

    /// From started to stopped, once it ended.
    pub fn run_time(&self) -> Option<Duration> {
        Some(self.stopped?.saturating_sub(self.started?))
    }

    /// Whether it was queued and not started at `at`.
    pub fn waiting_at(&self, at: Duration) -> bool {
        self.queued.is_some_and(|queued| queued <= at) && self.started.is_none_or(|started| at < started)
    }

    /// Whether it was running at `at`.
    pub fn running_at(&self, at: Duration) -> bool {
        self.started.is_some_and(|started| started <= at) && self.stopped.is_none_or(|stopped| at < stopped)
    }
}

/// The Nomad clients at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientSample {
    /// When it was read.
    #[serde(serialize_with = "seconds")]
    pub at: Duration,
    /// Clients ready, eligible and not draining.
    pub ready: u32,
    /// Allocations Nomad could not place yet (its jobs' queued count), when it could be read.
    pub pending_allocations: Option<u32>,
}

/// The Nomad autoscaler as the measurement saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoscalerView {
    /// Whether the release runs one.
    pub enabled: bool,
    /// The most clients it may run.
    pub max: Option<u32>,
    /// Where `max` comes from (`nomad.auto_scaler.scaling.max of the release`, or the default).
    pub max_source: String,
    /// How soon it should add a client once jobs queue (evaluation, cooldown, a client's boot).
    #[serde(serialize_with = "seconds")]
    pub reaction: Duration,
    /// Error lines of its recent logs.
    pub log_errors: Vec<String>,
}

/// Whether the resource class fits a Nomad client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fit {
    /// The class's vCPUs and memory (MiB).
    pub class_cpus: u32,
    /// The class's memory, in MiB.
    pub class_memory_mib: u64,
    /// The largest client's vCPUs and schedulable memory (MiB), if any client could be read
    /// (serialised as `{"cpus": …, "memory_mib": …}`).
    #[serde(serialize_with = "client_size")]
    pub largest_client: Option<(u32, u64)>,
}

impl Fit {
    /// Whether some client can hold one container of the class.
    pub fn fits(&self) -> bool {
        self.largest_client.is_some_and(|(cpus, memory)| self.class_cpus <= cpus && self.class_memory_mib <= memory)
    }
}

/// How the measurement ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// Every container ran and ended.
    AllRan,
    /// Stopped before every container ran; the workflow was cancelled.
    Interrupted {
        /// What stopped it (Ctrl-C, the deadline).
        by: String,
    },
    /// Nothing was triggered.
    NotStarted {
        /// Why.
        reason: String,
    },
}

/// Everything one capacity measurement observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measurement {
    /// The target measured.
    pub target: String,
    /// What was asked for.
    pub workload: Workload,
    /// Unix milliseconds of the trigger, the origin of every offset.
    pub triggered_unix_ms: u64,
    /// The pipeline's web address or id, when one was created.
    pub pipeline: Option<String>,
    /// Each container, by index.
    pub containers: Vec<Container>,
    /// The Nomad clients before, during and after (docker only).
    pub clients: Vec<ClientSample>,
    /// The autoscaler (docker only, when Nomad could be read).
    pub autoscaler: Option<AutoscalerView>,
    /// Whether the class fits a client (docker only, when the clients could be read).
    pub fit: Option<Fit>,
    /// How often the API and Nomad were read.
    #[serde(serialize_with = "seconds")]
    pub sample_interval: Duration,
    /// How it ended.
    pub ending: Ending,
    /// What could not be read, and other remarks.
    pub notes: Vec<String>,
}

/// A client's size as an object whose fields say what they are.
fn client_size<S: serde::Serializer>(size: &Option<(u32, u64)>, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct ClientSize {
        cpus: u32,
        memory_mib: u64,
    }
    size.map(|(cpus, memory_mib)| ClientSize { cpus, memory_mib }).serialize(serializer)
}

pub(crate) fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(rounded(*duration))
}

pub(crate) fn optional_seconds<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_f64(rounded(*duration)),
        None => serializer.serialize_none(),
    }
}

/// Seconds to the millisecond.
pub(crate) fn rounded(duration: Duration) -> f64 {
    (duration.as_millis() as f64) / 1000.0
}
