//! `realitycheck capacity`'s model, judgement and outputs: what one capacity measurement
//! observed ([`Measurement`]: the workload asked for, each container's queued/started/stopped
//! times, the Nomad clients sampled over time, the autoscaler's bounds), what it comes to
//! ([`Summary`]: wait percentiles, the time until all ran, clients over time, scale-out), the
//! verdict on each measure that has a threshold ([`judge`]), and the [`Report`] that bundles
//! them, rendered for a terminal ([`Report::terminal`]), as JSON ([`Report::json`], schema
//! `capacity/schema/capacity-v1.schema.json`), as JUnit XML ([`Report::junit`]) and as an SVG
//! picture ([`Report::svg`]). Pure data and functions but the `write_*` methods: the measuring
//! is in `suites`, the command in the binary.

#![warn(missing_docs)]

pub mod json;
mod judge;
pub mod junit;
mod measurement;
mod picture;
mod report;
mod summary;
mod terminal;
mod xml;

pub use judge::{MEASURES, Measure, MeasureId, Thresholds, judge};
pub use measurement::{AutoscalerView, ClientSample, Container, Ending, Fit, Measurement, Workload};
pub use report::{REALITYCHECK_VERSION, Report, Verdict};
pub use summary::{Summary, percentile};
pub use terminal::TerminalOptions;
