//! `realitycheck capacity`'s model, judgement and outputs: what one capacity measurement
//! observed ([`Measurement`]: the workload asked for, each container's queued/started/stopped
//! times, the Nomad clients sampled over time, the autoscaler's bounds), what it comes to
//! ([`Summary`]: wait percentiles, the time until all ran, clients over time, scale-out), the
//! verdict on each measure that has a threshold ([`judge`]), and the [`Report`] that bundles
//! them, rendered for a terminal ([`terminal()`]), as JSON ([`json()`], schema
//! `capacity/schema/capacity-v1.schema.json`), as JUnit XML ([`junit()`]) and as an SVG
//! picture ([`svg()`]). Pure data and functions but the `write_*` functions: the measuring is
//! in `suites`, the command in the binary.

#![warn(missing_docs)]

pub mod json;
mod judge;
pub mod junit;
mod measurement;
pub mod picture;
mod report;
mod summary;
pub mod terminal;
mod xml;

pub use json::{json, write_json};
pub use judge::{MEASURES, Measure, MeasureId, Thresholds, judge};
pub use junit::{junit, write_junit};
pub use measurement::{AutoscalerView, ClientSample, Container, Ending, Fit, Measurement, Workload};
pub use picture::{svg, write_svg};
pub use report::{REALITYCHECK_VERSION, Report, Verdict};
pub use summary::{Summary, percentile};
pub use terminal::{TerminalOptions, terminal};
