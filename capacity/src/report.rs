//! One capacity measurement made a report: what was observed, what it comes to, the verdict on
//! each measure, the thresholds it was held to and the version of realitycheck that judged it.
//! Every output (terminal, JSON, JUnit, SVG) renders a [`Report`], so that they agree.
//!
//! A report carries no time of its making: the trigger's time is in the measurement (every
//! offset counts from it, and the measurement's length is [`Summary::observed_until`]), and a
//! clock read here would make the same measurement give different reports.

use time::OffsetDateTime;

use crate::judge::{Measure, MeasureId, Thresholds, judge};
use crate::measurement::Measurement;
use crate::summary::Summary;

/// The version of realitycheck that made the report (the workspace shares one version).
pub const REALITYCHECK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A capacity measurement with its numbers and its verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was observed.
    pub measurement: Measurement,
    /// What it comes to.
    pub summary: Summary,
    /// The verdict on each measure, in [`crate::MEASURES`] order.
    pub measures: Vec<Measure>,
    /// What the measures were held to.
    pub thresholds: Thresholds,
    /// The version of realitycheck that judged it.
    pub realitycheck_version: &'static str,
}

/// The verdict on the whole measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No measure is red, and every container ran within `capacity.max_wait_p95`.
    Passed,
    /// Some measure is red.
    Failed,
    /// No measure is red, but whether every container ran in time was not measured (nothing
    /// was triggered, or the 95th percentile wait is not known).
    NotMeasured,
}

impl Verdict {
    /// Its name in reports: `passed`, `failed`, `not-measured`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::NotMeasured => "not-measured",
        }
    }
}

impl Report {
    /// Judges `measurement` against `thresholds`.
    pub fn new(measurement: Measurement, thresholds: Thresholds) -> Report {
        let summary = Summary::of(&measurement);
        let measures = judge(&measurement, &summary, &thresholds);
        Report { measurement, summary, measures, thresholds, realitycheck_version: REALITYCHECK_VERSION }
    }

    /// The verdict on the whole: red if any measure is, green if none is and both
    /// `capacity.all_ran` and `capacity.max_wait_p95` are green.
    pub fn verdict(&self) -> Verdict {
        if self.red().next().is_some() {
            Verdict::Failed
        } else if [MeasureId::AllRan, MeasureId::MaxWaitP95]
            .into_iter()
            .all(|id| self.measure(id).is_some_and(|measure| measure.passed == Some(true)))
        {
            Verdict::Passed
        } else {
            Verdict::NotMeasured
        }
    }

    /// Whether the verdict is [`Verdict::Passed`].
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Passed
    }

    /// The verdict on measure `id`.
    pub fn measure(&self, id: MeasureId) -> Option<&Measure> {
        self.measures.iter().find(|measure| measure.id == id)
    }

    /// The red measures, in report order.
    pub fn red(&self) -> impl Iterator<Item = &Measure> {
        self.measures.iter().filter(|measure| measure.passed == Some(false))
    }

    /// When the workload was triggered, in UTC (the Unix epoch if out of the years 0 to 9999,
    /// which RFC 3339 cannot write).
    pub fn triggered_at(&self) -> OffsetDateTime {
        i128::from(self.measurement.triggered_unix_ms)
            .checked_mul(1_000_000)
            .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
            .filter(|utc| (0..=9999).contains(&utc.year()))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `50 × medium on docker, hold 60s`: the workload in a few words (server text made printable).
    pub fn workload_line(&self) -> String {
        let workload = &self.measurement.workload;
        reports::printable(&format!(
            "{} × {} on {}, hold {}",
            workload.containers,
            workload.resource_class,
            workload.executor,
            seconds(workload.hold)
        ))
    }
}

/// `60s`, `2.5s`, `0.25s`: a duration in seconds to the millisecond, without trailing zeros.
pub(crate) fn seconds(duration: std::time::Duration) -> String {
    format!("{}s", decimal_seconds(duration))
}

/// `60`, `2.5`, `0.25`: [`seconds`] without the unit.
pub(crate) fn decimal_seconds(duration: std::time::Duration) -> String {
    let text = format!("{:.3}", crate::measurement::rounded(duration));
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `2026-03-02T09:30:00`: whole seconds, no zone (UTC).
pub(crate) fn utc_seconds(utc: OffsetDateTime) -> String {
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    let (hour, minute, second) = (utc.hour(), utc.minute(), utc.second());
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
}

/// `2026-03-02T09:30:00.250Z`: RFC 3339 in UTC with milliseconds.
pub(crate) fn rfc3339_millis(utc: OffsetDateTime) -> String {
    format!("{}.{:03}Z", utc_seconds(utc), utc.millisecond())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn seconds_drop_trailing_zeros() {
        assert_eq!(seconds(Duration::from_secs(60)), "60s");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25s");
        assert_eq!(seconds(Duration::ZERO), "0s");
        assert_eq!(seconds(Duration::from_secs(100)), "100s");
    }

    #[test]
    fn times_are_written_in_utc() {
        let utc = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_250_000_000).unwrap();
        assert_eq!(rfc3339_millis(utc), "2023-11-14T22:13:20.250Z");
        assert_eq!(utc_seconds(utc), "2023-11-14T22:13:20");
    }
}
