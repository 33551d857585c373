//! The realitycheck engine: checks as values that declare what they need, libtest-style
//! selection, the suite lifecycle (prepare resources for the selected checks, run, gather
//! evidence of the red ones, finish), a
//! concurrent runner with one timeout model, retries, a deadline and cancellation, lazily
//! started shared fixtures, the numbers checks measure besides their verdicts (observations),
//! secrets that never print, and the typed event stream that reporters consume. It knows nothing about CircleCI, Nomad or
//! output formats.

#![warn(missing_docs)]

pub mod check;
pub mod event;
pub mod evidence;
pub mod fixture;
pub mod format;
pub mod observation;
pub mod preflight;
pub mod runner;
pub mod secret;
pub mod selection;
pub mod suite;
pub mod timeouts;

pub use check::{
    Applicability, Check, CheckKind, CheckSpec, Diagnosis, Phase, Scope, SharedCause, SkipReason, Tag, Verdict,
};
pub use event::{CheckResult, CheckStatus, Counts, Event, EventSink, Outcome, RunInfo, RunStatus, RunSummary};
pub use evidence::{Evidence, EvidenceFile};
pub use fixture::Fixture;
pub use format::humanize;
pub use observation::{Observation, Observations};
pub use preflight::Preflight;
pub use runner::{Run, RunOptions, RunReport};
pub use secret::Secret;
pub use selection::{Disposition, IgnoredMode, Selection};
pub use suite::Suite;
pub use timeouts::Timeouts;
pub use tokio_util::sync::CancellationToken;
