//! The verdict on each measure that has a threshold: whether the class fits a client, whether
//! every container ran, the 95th percentile wait against `capacity.max_wait_p95`, and whether
//! the autoscaler kept up (scaled out in time, and was not at its max while containers
//! waited). A measure that does not apply or could not be measured has no verdict and says
//! why.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::measurement::{Ending, Measurement, rounded};
use crate::summary::{Summary, nearest_rank};

/// The thresholds of a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `capacity.max_wait_p95`: the 95th percentile wait must not exceed it.
    pub max_wait_p95: Duration,
}

/// A measure with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MeasureId {
    /// The resource class fits some Nomad client.
    #[serde(rename = "capacity.fits")]
    Fits,
    /// Every container started and ended.
    #[serde(rename = "capacity.all_ran")]
    AllRan,
    /// The 95th percentile wait is within `capacity.max_wait_p95`.
    #[serde(rename = "capacity.max_wait_p95")]
    MaxWaitP95,
    /// The autoscaler added clients in time and was not at its max while containers waited.
    #[serde(rename = "capacity.autoscaler")]
    Autoscaler,
}

/// Every measure, in report order.
pub const MEASURES: [MeasureId; 4] = [MeasureId::Fits, MeasureId::AllRan, MeasureId::MaxWaitP95, MeasureId::Autoscaler];

impl MeasureId {
    /// Its ID in reports (`capacity.max_wait_p95`).
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureId::Fits => "capacity.fits",
            MeasureId::AllRan => "capacity.all_ran",
            MeasureId::MaxWaitP95 => "capacity.max_wait_p95",
            MeasureId::Autoscaler => "capacity.autoscaler",
        }
    }

    /// What its value and threshold count, if it has them.
    pub fn unit(self) -> Option<&'static str> {
        match self {
            MeasureId::Fits => None,
            MeasureId::AllRan => Some("containers"),
            MeasureId::MaxWaitP95 => Some("seconds"),
            MeasureId::Autoscaler => Some("clients"),
        }
    }

    /// What it measures, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            MeasureId::Fits => "the resource class fits a Nomad client",
            MeasureId::AllRan => "every container ran",
            MeasureId::MaxWaitP95 => "95th percentile wait from queued to started",
            MeasureId::Autoscaler => "the autoscaler kept up",
        }
    }
}

impl fmt::Display for MeasureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// Which.
    pub id: MeasureId,
    /// `Some(true)` green, `Some(false)` red, `None` not applicable or not measured.
    pub passed: Option<bool>,
    /// The value measured, in [`MeasureId::unit`]s: containers that started (`capacity.all_ran`),
    /// the 95th percentile wait in seconds (`capacity.max_wait_p95`, a bound of it when some
    /// containers never started), the most clients ready (`capacity.autoscaler`).
    pub value: Option<f64>,
    /// The threshold it is held to: the containers of the workload, `capacity.max_wait_p95` in
    /// seconds, the autoscaler's max clients.
    pub threshold: Option<f64>,
    /// What was found, and on red what to do.
    pub message: String,
}

impl Measure {
    fn new(id: MeasureId, passed: Option<bool>, message: impl Into<String>) -> Measure {
        Measure { id, passed, value: None, threshold: None, message: message.into() }
    }

    fn valued(mut self, value: f64, threshold: f64) -> Measure {
        self.value = Some(value);
        self.threshold = Some(threshold);
        self
    }

    fn valued_if(self, figures: Option<(f64, f64)>) -> Measure {
        match figures {
            Some((value, threshold)) => self.valued(value, threshold),
            None => self,
        }
    }
}

/// The verdict on every measure of `measurement`, in [`MEASURES`] order.
pub fn judge(measurement: &Measurement, summary: &Summary, thresholds: &Thresholds) -> Vec<Measure> {
    vec![
        fits(measurement),
        all_ran(measurement, summary),
        max_wait_p95(measurement, summary, thresholds),
        autoscaler(measurement, summary),
    ]
}

fn fits(measurement: &Measurement) -> Measure {
    let id = MeasureId::Fits;
    let class = &measurement.workload.resource_class;
    let Some(fit) = &measurement.fit else {
        let why = if measurement.workload.executor == "docker" {
            "not judged: the Nomad clients' size could not be read"
        } else {
            "not applicable: machine jobs run on VMs the machine provisioner starts, not on Nomad clients"
        };
        return Measure::new(id, None, why);
    };
    let class_size = format!("{class} ({} vCPU, {} MiB)", fit.class_cpus, fit.class_memory_mib);
    match fit.largest_client {
        None => Measure::new(id, None, format!("not judged: no Nomad client is ready to hold {class_size}")),
        Some((cpus, memory)) if fit.fits() => {
            Measure::new(id, Some(true), format!("{class_size} fits the largest client ({cpus} vCPU, {memory} MiB)"))
        }
        Some((cpus, memory)) => Measure::new(
            id,
            Some(false),
            format!(
                "no Nomad client can hold {class_size}: the largest has {cpus} vCPU and {memory} MiB to give; jobs \
                 of this class stay queued forever. Use a smaller resource class, or give the Nomad clients a larger \
                 instance type (the client module's instance type in server-terraform)"
            ),
        ),
    }
}

fn all_ran(measurement: &Measurement, summary: &Summary) -> Measure {
    let id = MeasureId::AllRan;
    let total = summary.containers;
    match &measurement.ending {
        Ending::NotStarted { reason } => Measure::new(id, None, format!("nothing was triggered: {reason}")),
        Ending::AllRan if summary.started >= total => {
            let after =
                summary.all_ran_after.map(|after| format!(", the last {:.1}s after the trigger", rounded(after)));
            Measure::new(
                id,
                Some(true),
                format!("{} of {total} containers ran{}", summary.started, after.unwrap_or_default()),
            )
            .valued(f64::from(summary.started), f64::from(total))
        }
        Ending::AllRan => Measure::new(
            id,
            Some(false),
            format!("{} of {total} containers started before the workflow ended", summary.started),
        )
        .valued(f64::from(summary.started), f64::from(total)),
        Ending::Interrupted { by } => Measure::new(
            id,
            Some(false),
            format!(
                "{} of {total} containers started before {by} stopped the measurement; the workflow was cancelled",
                summary.started
            ),
        )
        .valued(f64::from(summary.started), f64::from(total)),
    }
}

fn max_wait_p95(measurement: &Measurement, summary: &Summary, thresholds: &Thresholds) -> Measure {
    let id = MeasureId::MaxWaitP95;
    let limit = thresholds.max_wait_p95;
    let threshold = rounded(limit);
    let over = "jobs wait longer than the installation should make them; see capacity.autoscaler for whether \
                the clients kept up";
    let unfinished = UnfinishedWaits::of(measurement, summary);
    if let Some(UnfinishedWaits { count, total, at_least, .. }) = unfinished
        && at_least > limit
    {
        return Measure::new(
            id,
            Some(false),
            format!(
                "{count} of {total} containers never started in the {:.1}s measured: counting them as waiting \
                 until then, the 95th percentile wait is at least {:.1}s, over capacity.max_wait_p95 \
                 ({threshold:.1}s): {over}",
                rounded(summary.observed_until),
                rounded(at_least)
            ),
        )
        .valued(rounded(at_least), threshold);
    }
    let Some(p95) = summary.wait_p95 else {
        return Measure::new(id, None, "not measured: no container started");
    };
    let figures = format!(
        "p95 {:.1}s (p50 {:.1}s, max {:.1}s) over {} containers",
        rounded(p95),
        summary.wait_p50.map_or(0.0, rounded),
        summary.wait_max.map_or(0.0, rounded),
        summary.started
    );
    match unfinished {
        None if p95 <= limit => {
            Measure::new(id, Some(true), format!("{figures}, within {threshold:.1}s")).valued(rounded(p95), threshold)
        }
        None => {
            Measure::new(id, Some(false), format!("{figures}, over capacity.max_wait_p95 ({threshold:.1}s): {over}"))
                .valued(rounded(p95), threshold)
        }
        Some(UnfinishedWaits { count, total, at_most: Some(at_most), .. }) if at_most <= limit => Measure::new(
            id,
            Some(true),
            format!(
                "{figures}; {count} of {total} never started, yet however long they wait the 95th percentile is at \
                 most {:.1}s, within {threshold:.1}s",
                rounded(at_most)
            ),
        )
        .valued(rounded(at_most), threshold),
        Some(UnfinishedWaits { count, total, at_least, .. }) => Measure::new(
            id,
            None,
            format!(
                "not judged: {count} of {total} containers never started in the {:.1}s measured, so the 95th \
                 percentile wait is not known: at least {:.1}s ({figures})",
                rounded(summary.observed_until),
                rounded(at_least)
            ),
        ),
    }
}

/// The waits of a workload some of whose containers never started: the 95th percentile of all
/// of them lies between `at_least` (each counted as waiting until the measurement's end) and
/// `at_most` (each counted as waiting forever; `None` when that puts the percentile among them).
struct UnfinishedWaits {
    /// Containers of the workload without a wait (never started, or their queued time unknown).
    count: u32,
    /// Containers of the workload.
    total: u32,
    at_least: Duration,
    at_most: Option<Duration>,
}

impl UnfinishedWaits {
    /// `None` when every container of the workload has its wait.
    fn of(measurement: &Measurement, summary: &Summary) -> Option<UnfinishedWaits> {
        let total = summary.containers;
        let mut known: Vec<Duration> = measurement.containers.iter().filter_map(|c| c.wait()).collect();
        let missing = usize::try_from(total).unwrap_or(usize::MAX).saturating_sub(known.len());
        if missing == 0 {
            return None;
        }
        known.sort_unstable();
        let rank = nearest_rank(known.len() + missing, 95);
        let at_most = known.get(rank - 1).copied();
        // Those without a wait waited at least from their queued time to the end, and not at
        // all when not even queued or missing from the measurement: `zeros` of them.
        let mut unfinished: Vec<Duration> = measurement
            .containers
            .iter()
            .filter(|c| c.wait().is_none())
            .map(|c| c.waited_by(summary.observed_until).unwrap_or_default())
            .collect();
        unfinished.sort_unstable();
        unfinished.truncate(missing);
        let zeros = missing - unfinished.len();
        let at_least = match rank.checked_sub(zeros + 1) {
            Some(index) => {
                let mut bounds = [known.as_slice(), unfinished.as_slice()].concat();
                bounds.sort_unstable();
                bounds.get(index).copied().unwrap_or_default()
            }
            None => Duration::ZERO,
        };
        Some(UnfinishedWaits { count: u32::try_from(missing).unwrap_or(u32::MAX), total, at_least, at_most })
    }
}

fn autoscaler(measurement: &Measurement, summary: &Summary) -> Measure {
    let id = MeasureId::Autoscaler;
    if measurement.workload.executor != "docker" {
        return Measure::new(id, None, "not applicable: machine jobs do not run on Nomad clients");
    }
    if let Ending::NotStarted { .. } = measurement.ending {
        return Measure::new(id, None, "not judged: nothing was triggered");
    }
    let Some(view) = &measurement.autoscaler else {
        return Measure::new(id, None, "not judged: the autoscaler and the Nomad clients could not be read");
    };
    if !view.enabled {
        return Measure::new(id, None, "not applicable: the release runs no Nomad autoscaler");
    }
    let (Some(before), Some(peak)) = (summary.clients_before, summary.clients_peak) else {
        return Measure::new(id, None, "not judged: no sample of the Nomad clients");
    };
    let max = view.max;
    let max_text = max.map_or_else(|| "unknown".to_owned(), |max| max.to_string());
    if let Some(max) = max
        && !summary.waited_at_max.is_zero()
    {
        return Measure::new(
            id,
            Some(false),
            format!(
                "the autoscaler reached its max of {max} clients ({}) while containers still waited ({:.1}s in \
                 all): the installation cannot run {} containers of {} at once. Raise nomad.auto_scaler.scaling.max \
                 in the Helm values (and the Auto Scaling group's or instance group's maximum), or expect jobs to \
                 queue at this load",
                view.max_source,
                rounded(summary.waited_at_max),
                summary.containers,
                measurement.workload.resource_class
            ),
        )
        .valued(f64::from(peak), f64::from(max));
    }
    // A container still waiting at the end counts with how long it had waited by then.
    let needed_more = measurement
        .containers
        .iter()
        .any(|c| c.waited_by(summary.observed_until).is_some_and(|wait| wait > view.reaction));
    let room = max.is_none_or(|max| before < max);
    if summary.first_scale_out.is_none() && needed_more && room {
        let logs = if view.log_errors.is_empty() {
            "; its logs hold no error line".to_owned()
        } else {
            let lines: Vec<String> = view.log_errors.iter().map(|line| format!("\n  {line}")).collect();
            format!("; its logs say:{}", lines.concat())
        };
        return Measure::new(
            id,
            Some(false),
            format!(
                "no client was added while containers waited longer than the autoscaler's reaction time ({:.1}s), \
                 with {before} of {max_text} clients. Read the nomad-autoscaler pod's logs (kubectl logs \
                 deploy/nomad-autoscaler) and check its credentials and the group's maximum size{logs}",
                rounded(view.reaction)
            ),
        )
        .valued_if(max.map(|max| (f64::from(peak), f64::from(max))));
    }
    let scaled = match summary.first_scale_out {
        Some(at) => format!("a new client first seen {:.1}s after the trigger, ", rounded(at)),
        None => "no client needed adding, ".to_owned(),
    };
    Measure::new(id, Some(true), format!("{scaled}{before} → {peak} clients of max {max_text} ({})", view.max_source))
        .valued_if(max.map(|max| (f64::from(peak), f64::from(max))))
}
