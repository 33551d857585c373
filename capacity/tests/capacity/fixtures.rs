//! Measurements to judge and render: a small simulation of an installation (containers queued
//! at the trigger, each started once a client has a free slot, the clients growing as the
//! autoscaler adds them), sampled as the measuring code samples it, and hand-made ones for
//! the edges.

use std::time::Duration;

use capacity::{AutoscalerView, ClientSample, Container, Ending, Fit, Measurement, Thresholds, Workload};

/// The thresholds of the fixtures: `capacity.max_wait_p95` of 3 minutes, the default.
pub const THRESHOLDS: Thresholds = Thresholds { max_wait_p95: Duration::from_secs(180) };

/// Seconds to the millisecond.
pub fn secs(seconds: f64) -> Duration {
    Duration::from_millis((seconds * 1000.0).round() as u64)
}

/// An installation running a docker workload.
#[derive(Debug, Clone)]
pub struct Installation {
    /// Containers of the workload.
    pub containers: u32,
    /// How long each holds its executor.
    pub hold: f64,
    /// Clients ready from each moment on: (seconds since the trigger, count), in time order.
    pub clients: Vec<(f64, u32)>,
    /// Containers of the class one client runs at once.
    pub slots_per_client: u32,
    /// The autoscaler's max clients.
    pub max: Option<u32>,
    /// When the measurement was stopped, if before every container ended.
    pub deadline: Option<f64>,
}

impl Installation {
    fn ready_at(&self, at: f64) -> u32 {
        self.clients.iter().take_while(|(from, _)| *from <= at).last().map_or(0, |(_, count)| *count)
    }

    /// The measurement of the workload on this installation, sampled every 5 seconds.
    pub fn measure(&self) -> Measurement {
        let mut runs: Vec<(f64, Option<(f64, f64)>)> = Vec::new();
        for index in 0..self.containers {
            let queued = 1.8 + f64::from(index) * 0.04;
            let placement = 1.2 + f64::from(index * 13 % 7) * 0.1;
            let run_time = self.hold + 6.0 + f64::from(index * 37 % 10) * 0.3;
            let previous = runs.iter().filter_map(|(_, run)| run.map(|(start, _)| start)).fold(0.0, f64::max);
            let candidates = runs
                .iter()
                .filter_map(|(_, run)| run.map(|(_, stop)| stop + placement))
                .chain(self.clients.iter().map(|(from, _)| from + placement))
                .chain([queued + placement, previous])
                .filter(|at| *at >= queued + placement && *at >= previous);
            let mut candidates: Vec<f64> = candidates.collect();
            candidates.sort_by(f64::total_cmp);
            let start = candidates.into_iter().find(|at| {
                let running = runs.iter().filter(|(_, run)| run.is_some_and(|(s, e)| s <= *at && *at < e)).count();
                running < (self.ready_at(*at) * self.slots_per_client) as usize
            });
            runs.push((queued, start.map(|start| (start, start + run_time))));
        }
        let last_stop = runs.iter().filter_map(|(_, run)| run.map(|(_, stop)| stop)).fold(0.0, f64::max);
        let end = self.deadline.unwrap_or(last_stop);
        let containers: Vec<Container> = runs
            .iter()
            .zip(0..)
            .map(|((queued, run), index)| {
                let started = run.map(|(start, _)| start).filter(|start| *start <= end);
                let stopped = run.map(|(_, stop)| stop).filter(|stop| *stop <= end);
                let status = match (started, stopped) {
                    (_, Some(_)) => "success",
                    (Some(_), None) => "running",
                    (None, _) => "queued",
                };
                container(index, Some(*queued), started, stopped, status)
            })
            .collect();
        let clients = (0..)
            .map(|tick| f64::from(tick) * 5.0)
            .take_while(|at| *at <= end + 5.0)
            .map(|at| ClientSample {
                at: secs(at),
                ready: self.ready_at(at),
                pending_allocations: Some(
                    u32::try_from(containers.iter().filter(|c| c.waiting_at(secs(at))).count()).unwrap(),
                ),
            })
            .collect();
        let ending = match self.deadline {
            Some(_) if containers.iter().any(|c| c.stopped.is_none()) => {
                Ending::Interrupted { by: "the deadline (capacity.deadline)".to_owned() }
            }
            _ => Ending::AllRan,
        };
        Measurement {
            containers,
            clients,
            ending,
            autoscaler: Some(autoscaler(self.max)),
            ..docker(self.containers, self.hold)
        }
    }
}

/// The autoscaler of the release, with `max` clients.
pub fn autoscaler(max: Option<u32>) -> AutoscalerView {
    AutoscalerView {
        enabled: true,
        max,
        max_source: "nomad.auto_scaler.scaling.max of the release".to_owned(),
        reaction: Duration::from_secs(240),
        log_errors: Vec::new(),
    }
}

/// A docker measurement of `containers` medium containers holding for `hold` seconds, with
/// nothing observed yet.
pub fn docker(containers: u32, hold: f64) -> Measurement {
    Measurement {
        target: "prod".to_owned(),
        workload: Workload {
            executor: "docker".to_owned(),
            containers,
            resource_class: "medium".to_owned(),
            hold: secs(hold),
        },
        triggered_unix_ms: 1_772_443_800_250,
        pipeline: Some("https://circleci.example.com/pipelines/circleci/acme/realitycheck/812".to_owned()),
        containers: Vec::new(),
        clients: Vec::new(),
        autoscaler: Some(autoscaler(Some(5))),
        fit: Some(Fit { class_cpus: 2, class_memory_mib: 4096, largest_client: Some((8, 30720)) }),
        sample_interval: Duration::from_secs(5),
        ending: Ending::AllRan,
        notes: Vec::new(),
    }
}

/// A container of the workload.
pub fn container(
    index: u32,
    queued: Option<f64>,
    started: Option<f64>,
    stopped: Option<f64>,
    status: &str,
) -> Container {
    Container {
        index,
        queued: queued.map(secs),
        started: started.map(secs),
        stopped: stopped.map(secs),
        status: status.to_owned(),
    }
}

/// 20 containers on 3 clients of 4 slots, the autoscaler adding 2 at 70 s: every container
/// runs, the longest wait about 40 s.
pub fn green() -> Measurement {
    Installation {
        containers: 20,
        hold: 30.0,
        clients: vec![(0.0, 3), (70.0, 5)],
        slots_per_client: 4,
        max: Some(10),
        deadline: None,
    }
    .measure()
}

/// 50 medium containers on 2 clients of 4 slots, the autoscaler adding clients up to its max
/// of 5 while containers still wait: the picture in the docs.
pub fn scaling_to_the_max() -> Measurement {
    Installation {
        containers: 50,
        hold: 60.0,
        clients: vec![(0.0, 2), (68.0, 3), (74.0, 4), (137.0, 5)],
        slots_per_client: 4,
        max: Some(5),
        deadline: None,
    }
    .measure()
}

/// 10 machine containers, each on its own VM started by the provisioner: no Nomad client, no
/// autoscaler, no fit.
pub fn machine() -> Measurement {
    let containers = (0..10)
        .map(|index| {
            let queued = 1.5 + f64::from(index) * 0.05;
            let started = queued + 48.0 + f64::from(index * 7 % 5) * 3.5;
            container(index, Some(queued), Some(started), Some(started + 66.0), "success")
        })
        .collect();
    let mut measurement = docker(10, 60.0);
    measurement.workload.executor = "machine".to_owned();
    measurement.workload.resource_class = "linux.medium".to_owned();
    Measurement { containers, autoscaler: None, fit: None, ..measurement }
}

/// Nothing triggered: the pipeline was refused.
pub fn not_started() -> Measurement {
    let mut measurement = docker(50, 60.0);
    measurement.pipeline = None;
    measurement.ending = Ending::NotStarted {
        reason: "the API refused the trigger: 403 Forbidden (the token cannot trigger pipelines)".to_owned(),
    };
    measurement.clients = vec![ClientSample { at: Duration::ZERO, ready: 2, pending_allocations: Some(0) }];
    measurement
}

/// One container, on an idle installation.
pub fn one() -> Measurement {
    Installation {
        containers: 1,
        hold: 60.0,
        clients: vec![(0.0, 2)],
        slots_per_client: 4,
        max: Some(5),
        deadline: None,
    }
    .measure()
}

/// 200 containers on 10 clients of 8 slots, the autoscaler adding clients up to 25.
pub fn two_hundred() -> Measurement {
    Installation {
        containers: 200,
        hold: 60.0,
        clients: vec![(0.0, 10), (65.0, 14), (95.0, 20), (125.0, 25)],
        slots_per_client: 8,
        max: Some(25),
        deadline: None,
    }
    .measure()
}

/// 50 containers on 2 clients the autoscaler never adds to (its max is 5): the waits grow past
/// its reaction time, and its logs say why.
pub fn stuck() -> Measurement {
    let mut measurement = Installation {
        containers: 50,
        hold: 60.0,
        clients: vec![(0.0, 2)],
        slots_per_client: 4,
        max: Some(5),
        deadline: None,
    }
    .measure();
    if let Some(autoscaler) = &mut measurement.autoscaler {
        autoscaler.log_errors = vec![
            "2026-03-02T09:31:02Z [ERROR] policy_eval.worker: failed to scale target: error=\"AccessDenied: \
             autoscaling:SetDesiredCapacity\""
                .to_owned(),
            "2026-03-02T09:32:02Z [ERROR] policy_eval.worker: failed to scale target: error=\"AccessDenied\""
                .to_owned(),
        ];
    }
    measurement
}

/// `scaling_to_the_max` stopped after `seconds` by `by`.
pub fn interrupted(seconds: f64) -> Measurement {
    Installation {
        containers: 50,
        hold: 60.0,
        clients: vec![(0.0, 2), (68.0, 3), (74.0, 4), (137.0, 5)],
        slots_per_client: 4,
        max: Some(5),
        deadline: Some(seconds),
    }
    .measure()
}
