//! `realitycheck capacity`'s model and judgement: what one capacity measurement observed
//! ([`Measurement`]: the workload asked for, each container's queued/started/stopped times, the
//! Nomad clients sampled over time, the autoscaler's bounds), what it comes to ([`Summary`]:
//! wait percentiles, the time until all ran, clients over time, scale-out), and the verdict on
//! each measure that has a threshold ([`judge`]). Pure data and functions: the measuring is in
//! `suites`, the command in the binary.

#![warn(missing_docs)]

mod judge;
mod measurement;
mod summary;

pub use judge::{MEASURES, Measure, MeasureId, Thresholds, judge};
pub use measurement::{AutoscalerView, ClientSample, Container, Ending, Fit, Measurement, Workload};
pub use summary::{Summary, percentile};
