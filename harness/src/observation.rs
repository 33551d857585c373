//! What a check measured besides its verdict: named numbers (a certificate's expiry) that a
//! check body records through its [`crate::Scope`], whatever its verdict, and that its
//! [`crate::CheckResult`] carries for metrics and reports.

use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// A number a check measured besides its verdict (a certificate's expiry), for metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// What was measured, a metric-like snake_case name: `certificate_expiry_timestamp_seconds`.
    pub name: String,
    /// What it was measured of, a short bounded label value (`nomad-mtls cert.pem`, `https://circleci.example.com`).
    pub subject: String,
    /// The value (integers: timestamps in Unix seconds, counts).
    pub value: i64,
}

impl Observation {
    /// The observation that `name` of `subject` is `value`.
    pub fn new(name: impl Into<String>, subject: impl Into<String>, value: i64) -> Self {
        Observation { name: name.into(), subject: subject.into(), value }
    }
}

/// Where one attempt of a check records its observations. Cheap to clone: every clone records
/// into the same list, so a body may hand it to the tasks it spawns. The runner gives each
/// attempt a fresh one and keeps what the check's last attempt recorded, whatever its verdict.
#[derive(Debug, Clone, Default)]
pub struct Observations(Arc<Mutex<Vec<Observation>>>);

impl Observations {
    /// An empty recorder.
    pub fn new() -> Self {
        Observations::default()
    }

    /// Records `observation` after those recorded before (nothing is replaced or merged).
    pub fn record(&self, observation: Observation) {
        // A body that panicked while recording leaves the list as it was: keep using it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(observation);
    }

    /// What was recorded so far, in the order it was recorded.
    pub fn recorded(&self) -> Vec<Observation> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_record_into_one_list_in_order() {
        let observations = Observations::new();
        let handed = observations.clone();
        observations.record(Observation::new("certificate_expiry_timestamp_seconds", "a", 1));
        handed.record(Observation::new("certificate_expiry_timestamp_seconds", "b", 2));
        let subjects: Vec<_> = observations.recorded().into_iter().map(|o| o.subject).collect();
        assert_eq!(subjects, ["a", "b"]);
        assert!(Observations::new().recorded().is_empty(), "a fresh recorder shares nothing");
    }

    #[test]
    fn a_poisoned_lock_does_not_panic() {
        let observations = Observations::new();
        observations.record(Observation::new("count", "before", 1));
        let poisoner = observations.clone();
        let panicked = std::thread::spawn(move || {
            let _guard = poisoner.0.lock().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(observations.0.is_poisoned());
        observations.record(Observation::new("count", "after", 2));
        assert_eq!(
            observations.recorded(),
            [Observation::new("count", "before", 1), Observation::new("count", "after", 2)]
        );
    }
}
