//! What a measurement comes to: wait percentiles, the time until every container ran, the
//! clients over time, when the autoscaler first added one, how long containers waited
//! while every client the autoscaler may run was ready, and how long the measurement saw.
//! Any measurement has a summary: times out of order (a container started before it was
//! queued, samples unsorted) give zero spans, never a panic.

use std::time::Duration;

use serde::Serialize;

use crate::measurement::{Measurement, optional_seconds, seconds};

/// The numbers of one measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Containers asked for.
    pub containers: u32,
    /// Containers that started (whether or not their queued time is known).
    pub started: u32,
    /// Containers that ended in `success`.
    pub succeeded: u32,
    /// The median wait from queued to started, over the containers that started.
    #[serde(serialize_with = "optional_seconds")]
    pub wait_p50: Option<Duration>,
    /// The 95th percentile wait (nearest rank), over the containers that started.
    #[serde(serialize_with = "optional_seconds")]
    pub wait_p95: Option<Duration>,
    /// The longest wait.
    #[serde(serialize_with = "optional_seconds")]
    pub wait_max: Option<Duration>,
    /// The median run time.
    #[serde(serialize_with = "optional_seconds")]
    pub run_p50: Option<Duration>,
    /// When the last container started, once every one did.
    #[serde(serialize_with = "optional_seconds")]
    pub all_ran_after: Option<Duration>,
    /// The most containers waiting at once.
    pub waiting_peak: u32,
    /// Clients ready at the first sample.
    pub clients_before: Option<u32>,
    /// The most clients ready in a sample.
    pub clients_peak: Option<u32>,
    /// Clients ready at the last sample.
    pub clients_after: Option<u32>,
    /// The first sample with more clients than before: the autoscaler's first scale-out.
    #[serde(serialize_with = "optional_seconds")]
    pub first_scale_out: Option<Duration>,
    /// How long containers went on waiting, from one sample to the next, while the clients
    /// ready were at the autoscaler's max.
    #[serde(serialize_with = "seconds")]
    pub waited_at_max: Duration,
    /// The last moment the measurement saw anything (a sample, a container queued, started
    /// or stopped), from the trigger: how long it watched.
    #[serde(serialize_with = "seconds")]
    pub observed_until: Duration,
}

impl Summary {
    /// The numbers of `measurement`.
    pub fn of(measurement: &Measurement) -> Summary {
        let containers = &measurement.containers;
        let mut waits: Vec<Duration> = containers.iter().filter_map(|c| c.wait()).collect();
        waits.sort_unstable();
        let mut run_times: Vec<Duration> = containers.iter().filter_map(|c| c.run_time()).collect();
        run_times.sort_unstable();
        let started = count(containers.iter().filter(|c| c.started.is_some()));
        let total = measurement.workload.containers;
        let everyone_started = started >= total && containers.iter().all(|c| c.started.is_some());
        let all_ran_after = if everyone_started { containers.iter().filter_map(|c| c.started).max() } else { None };
        let samples = &measurement.clients;
        let clients_before = samples.first().map(|s| s.ready);
        let first_scale_out = clients_before
            .and_then(|before| samples.iter().find(|sample| sample.ready > before))
            .map(|sample| sample.at);
        let max = measurement.autoscaler.as_ref().filter(|a| a.enabled).and_then(|a| a.max);
        let waited_at_max = match max {
            Some(max) => samples
                .windows(2)
                .filter(|pair| pair[0].ready >= max)
                .filter(|pair| containers.iter().any(|c| c.waiting_at(pair[0].at) && c.waiting_at(pair[1].at)))
                .map(|pair| pair[1].at.saturating_sub(pair[0].at))
                .fold(Duration::ZERO, Duration::saturating_add),
            None => Duration::ZERO,
        };
        Summary {
            containers: total,
            started,
            succeeded: count(containers.iter().filter(|c| c.status == "success")),
            wait_p50: percentile(&waits, 50),
            wait_p95: percentile(&waits, 95),
            wait_max: waits.last().copied(),
            run_p50: percentile(&run_times, 50),
            all_ran_after,
            waiting_peak: waiting_peak(measurement),
            clients_before,
            clients_peak: samples.iter().map(|s| s.ready).max(),
            clients_after: samples.last().map(|s| s.ready),
            first_scale_out,
            waited_at_max,
            observed_until: observed_until(measurement),
        }
    }
}

/// How many items `items` yields, as a count of containers.
fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

/// The latest time of any sample or container event.
fn observed_until(measurement: &Measurement) -> Duration {
    let samples = measurement.clients.iter().map(|sample| sample.at);
    let containers = measurement.containers.iter().flat_map(|c| [c.queued, c.started, c.stopped]).flatten();
    samples.chain(containers).max().unwrap_or_default()
}

/// The most containers waiting at once: the count just after some container was queued.
fn waiting_peak(measurement: &Measurement) -> u32 {
    let containers = &measurement.containers;
    containers
        .iter()
        .filter_map(|c| c.queued)
        .map(|at| containers.iter().filter(|c| c.waiting_at(at)).count())
        .max()
        .map_or(0, |peak| u32::try_from(peak).unwrap_or(u32::MAX))
}

/// The 1-based rank of the `p`th percentile among `len` values by nearest rank (at least 1).
pub(crate) fn nearest_rank(len: usize, p: u32) -> usize {
    len.saturating_mul(p.min(100) as usize).div_ceil(100).max(1)
}

/// The `p`th percentile of `sorted` by nearest rank (the smallest value with at least `p`% of
/// the values at or below it); `None` when empty.
pub fn percentile(sorted: &[Duration], p: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    sorted.get(nearest_rank(sorted.len(), p) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&s| Duration::from_secs(s)).collect()
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let ten = secs(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&ten, 50), Some(Duration::from_secs(5)));
        assert_eq!(percentile(&ten, 95), Some(Duration::from_secs(10)));
        assert_eq!(percentile(&ten, 90), Some(Duration::from_secs(9)));
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        assert_eq!(percentile(&hundred, 95), Some(Duration::from_secs(95)));
        assert_eq!(percentile(&secs(&[7]), 95), Some(Duration::from_secs(7)));
        assert_eq!(percentile(&[], 50), None);
    }
}
