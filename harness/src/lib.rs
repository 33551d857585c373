//! The realitycheck engine: checks as values, libtest-style selection, a concurrent runner
//! with timeouts, retries, a deadline and cancellation, lazily started shared fixtures, and
//! the typed event stream that reporters consume. It knows nothing about CircleCI, Nomad or
//! output formats.

pub mod check;
pub mod event;
pub mod fixture;
pub mod runner;
pub mod selection;

pub use check::{Applicability, Check, CheckKind, CheckSpec, Diagnosis, SkipReason, Tag, Verdict};
pub use event::{CheckResult, Event, EventSink, Outcome, RunInfo, RunStatus, RunSummary};
pub use fixture::Fixture;
pub use runner::{Plan, Preflight, RunOptions, Timeouts, humanize};
pub use selection::{Disposition, IgnoredMode, Selection};
pub use tokio_util::sync::CancellationToken;
