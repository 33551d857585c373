//! The verdict on each measure that has a threshold: whether the class fits a client, whether
//! every container ran, the 95th percentile wait against `capacity.max_wait_p95`, and whether
//! the autoscaler kept up (scaled out in time, and was not at its max while containers
//! waited). A measure that does not apply or could not be measured has no verdict and says
//! why.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::measurement::{Ending, Measurement, rounded};
use crate::summary::Summary;

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
    /// The value measured (seconds for times, a count otherwise).
    pub value: Option<f64>,
    /// The threshold it is held to.
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
}

/// The verdict on every measure of `measurement`, in [`MEASURES`] order.
pub fn judge(measurement: &Measurement, summary: &Summary, thresholds: &Thresholds) -> Vec<Measure> {
    vec![
        fits(measurement),
        all_ran(measurement, summary),
        max_wait_p95(summary, thresholds),
        autoscaler(measurement, summary),
    ]
}

fn fits(measurement: &Measurement) -> Measure {
    let id = MeasureId::Fits;
    let class = &measurement.workload.resource_class;
    let Some(fit) = &measurement.fit else {
        let why = if measurement.workload.executor == "docker" {
            "the Nomad clients' size could not be read"
        } else {
            "machine jobs run on VMs the machine provisioner starts, not on Nomad clients"
        };
        return Measure::new(id, None, format!("not judged: {why}"));
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

fn max_wait_p95(summary: &Summary, thresholds: &Thresholds) -> Measure {
    let id = MeasureId::MaxWaitP95;
    let threshold = rounded(thresholds.max_wait_p95);
    let Some(p95) = summary.wait_p95 else {
        return Measure::new(id, None, "not measured: no container started");
    };
    let p95_seconds = rounded(p95);
    let figures = format!(
        "p95 {p95_seconds:.1}s (p50 {:.1}s, max {:.1}s) over {} containers",
        summary.wait_p50.map_or(0.0, rounded),
        summary.wait_max.map_or(0.0, rounded),
        summary.started
    );
    if p95 <= thresholds.max_wait_p95 {
        Measure::new(id, Some(true), format!("{figures}, within {threshold:.1}s")).valued(p95_seconds, threshold)
    } else {
        Measure::new(
            id,
            Some(false),
            format!(
                "{figures}, over capacity.max_wait_p95 ({threshold:.1}s): jobs wait longer than the installation \
                 should make them; see capacity.autoscaler for whether the clients kept up"
            ),
        )
        .valued(p95_seconds, threshold)
    }
}

fn autoscaler(measurement: &Measurement, summary: &Summary) -> Measure {
    let id = MeasureId::Autoscaler;
    if measurement.workload.executor != "docker" {
        return Measure::new(id, None, "not applicable: machine jobs do not run on Nomad clients");
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
    let needed_more = measurement.containers.iter().any(|c| c.wait().is_some_and(|wait| wait > view.reaction))
        || (summary.started < summary.containers && !matches!(measurement.ending, Ending::AllRan));
    let room = max.is_none_or(|max| before < max);
    if summary.first_scale_out.is_none() && needed_more && room {
        let logs = if view.log_errors.is_empty() {
            "its logs hold no error line".to_owned()
        } else {
            format!("its logs say: {}", view.log_errors.join(" | "))
        };
        return Measure::new(
            id,
            Some(false),
            format!(
                "no client was added while containers waited longer than the autoscaler's reaction time ({:.1}s), \
                 with {before} of {max_text} clients: {logs}. Read the nomad-autoscaler pod's logs (kubectl logs \
                 deploy/nomad-autoscaler) and check its credentials and the group's maximum size",
                rounded(view.reaction)
            ),
        );
    }
    let scaled = match summary.first_scale_out {
        Some(at) => format!("first client added {:.1}s after the trigger, ", rounded(at)),
        None => "no client needed adding, ".to_owned(),
    };
    Measure::new(id, Some(true), format!("{scaled}{before} → {peak} clients of max {max_text} ({})", view.max_source))
}
