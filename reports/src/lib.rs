//! Reporters: each one consumes the harness's typed event stream and renders one output
//! format — the terminal report for people, JUnit XML and JSON files for CI — and the evidence
//! bundle of a red run ([`bundle`]). Each report can compare the run with a [`baseline`], the
//! JSON report of an earlier run. The runner knows
//! nothing about them; the binary feeds every event to every reporter it was asked for.

#![warn(missing_docs)]

pub mod baseline;
pub mod bundle;
mod causes;
mod diagnosis;
mod file;
pub mod json;
pub mod junit;
mod printable;
mod run;
mod tally;
pub mod terminal;

use std::io;
use std::path::PathBuf;

pub use baseline::{Baseline, BaselineError, Comparison, Mark};
pub use bundle::{Bundle, BundleLimits, write_bundle};
pub use file::write_atomically;
pub use json::JsonReporter;
pub use junit::JunitReporter;
pub use printable::printable;
pub use terminal::{TerminalOptions, TerminalReporter};

/// Consumes the events of one run, in the order the runner emitted them.
pub trait Reporter {
    /// Takes one event into account; file reporters write their file when `RunFinished`
    /// arrives. Any sequence of events is accepted (an event the reporter cannot place, such
    /// as a `CheckFinished` for an unknown check, is rendered with what it carries).
    fn handle(&mut self, event: &harness::Event) -> Result<(), ReportError>;
}

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report file could not be written where it was asked for.
    #[error("cannot write the {format} report to {}: {source}; {}", path.display(), remedy(source))]
    WriteFile {
        /// `JUnit` or `JSON`.
        format: &'static str,
        /// The report file's path, as the reporter was given it (`--junit` or `--json` in the binary).
        path: PathBuf,
        /// What failed: creating the directory, writing the temporary file or renaming it.
        #[source]
        source: io::Error,
    },
    /// The terminal (stdout) could not be written to, e.g. a closed pipe.
    #[error("cannot write the report to the terminal: {0}")]
    Terminal(#[source] io::Error),
    /// The JUnit document could not be rendered.
    #[error("cannot render the JUnit report: {0}")]
    JunitXml(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The evidence bundle could not be written into its directory.
    #[error("cannot write the evidence bundle into {}: {source}; {}", dir.display(), remedy(source))]
    Bundle {
        /// The directory asked for (`--collect DIR`, or the profile's `collect_dir`).
        dir: PathBuf,
        /// What failed: creating the directory, writing or renaming the archive.
        #[source]
        source: io::Error,
    },
    /// The JSON document could not be rendered.
    #[error("cannot render the JSON report: {0}")]
    Json(#[from] serde_json::Error),
}

/// What the operator can do about a report file that cannot be written.
fn remedy(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            "make the directory writable by this user, or choose a report path in a writable directory"
        }
        io::ErrorKind::IsADirectory | io::ErrorKind::InvalidInput => {
            "give the path of a file (not a directory) for the report"
        }
        io::ErrorKind::NotADirectory => "a part of the path is a file, not a directory: choose another report path",
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
            "free some disk space, or choose a report path on another volume"
        }
        _ => "check that the report path names a file in a directory this user can create and write",
    }
}
