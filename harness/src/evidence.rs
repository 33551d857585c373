//! Evidence: what a suite gathers about its red checks before anything is cancelled or
//! cleaned up ([`crate::Suite::collect`]), for an engineer to read later. Files, each saying
//! what it is and which checks it supports, and notes on what could not be gathered. The
//! engine knows nothing of what is in them; the binary bundles them with its reports.

/// One file of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    /// Where it goes in the bundle: a relative path with `/` separators (`nomad/node-status.json`).
    pub path: String,
    /// What it is, for the engineer who opens the bundle.
    pub what: String,
    /// The IDs of the red checks it supports.
    pub supports: Vec<String>,
    /// Its content.
    pub content: Vec<u8>,
    /// Set when the content was cut while it was gathered (the last lines of a log): how.
    pub truncated: Option<String>,
}

impl EvidenceFile {
    /// A file at `path` holding `content`, described by `what`, supporting `supports`.
    pub fn new(path: impl Into<String>, what: impl Into<String>, supports: Vec<String>, content: Vec<u8>) -> Self {
        EvidenceFile { path: path.into(), what: what.into(), supports, content, truncated: None }
    }

    /// The same file, noting how its content was cut while it was gathered.
    pub fn truncated(mut self, how: impl Into<String>) -> Self {
        self.truncated = Some(how.into());
        self
    }
}

/// What a suite gathered about a run's red checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The files, in the order they were gathered.
    pub files: Vec<EvidenceFile>,
    /// What could not be gathered, and why, one line each.
    pub notes: Vec<String>,
}

impl Evidence {
    /// Nothing gathered, and why.
    pub fn nothing(why: impl Into<String>) -> Evidence {
        Evidence { files: Vec::new(), notes: vec![why.into()] }
    }

    /// Adds `file`.
    pub fn add(&mut self, file: EvidenceFile) {
        self.files.push(file);
    }

    /// Notes what could not be gathered.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Appends what `other` gathered.
    pub fn extend(&mut self, other: Evidence) {
        self.files.extend(other.files);
        self.notes.extend(other.notes);
    }
}
