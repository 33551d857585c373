//! Velero in the cluster (namespace [`VELERO_NAMESPACE`]): the Backups its daily schedule made
//! of the release's namespace, as the `velero.io/v1` API serves them (the CRD's JSON; times
//! relative to the simulation's start).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::{NAMESPACE, ids};

/// The namespace Velero runs in and keeps its Backups in.
pub const VELERO_NAMESPACE: &str = "velero";
/// The API group and version of Velero's resources.
pub const VELERO_API_VERSION: &str = "velero.io/v1";
/// The Schedule whose Backups the installation has (`velero schedule create
/// circleci-server-daily --include-namespaces circleci-server`).
pub const BACKUP_SCHEDULE: &str = "circleci-server-daily";
/// The BackupStorageLocation the backups are stored in.
pub const STORAGE_LOCATION: &str = "default";
/// How long a backup is kept (`spec.ttl`, Velero's default), as Go prints the duration.
pub const BACKUP_TTL: &str = "720h0m0s";
const TTL: SignedDuration = SignedDuration::from_hours(720);
/// How long a backup of the namespace runs.
const BACKUP_RUN_TIME: SignedDuration = SignedDuration::from_secs(3 * 60 + 41);
/// What Velero says of a backup that was running when its server restarted.
const RESTARTED_DURING_BACKUP: &str =
    "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\"";

/// How a backup ended (`status.phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackupPhase {
    Completed,
    /// Ran to completion with errors backing up some items.
    PartiallyFailed,
    /// Did not complete.
    Failed,
}

impl BackupPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupPhase::Completed => "Completed",
            BackupPhase::PartiallyFailed => "PartiallyFailed",
            BackupPhase::Failed => "Failed",
        }
    }
}

/// One Backup the schedule made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VeleroBackup {
    pub phase: BackupPhase,
    /// How long before the simulation started it ended (`status.completionTimestamp`).
    pub completed_before_start: SignedDuration,
}

impl VeleroBackup {
    /// When it started (`status.startTimestamp`, and its creation), whole seconds.
    pub fn started(&self, sim_started_at: Timestamp) -> Timestamp {
        whole_seconds(self.completed(sim_started_at) - BACKUP_RUN_TIME)
    }

    /// When it ended (`status.completionTimestamp`), whole seconds.
    pub fn completed(&self, sim_started_at: Timestamp) -> Timestamp {
        whole_seconds(sim_started_at - self.completed_before_start)
    }

    /// Its name, the schedule's and the time it started (`circleci-server-daily-20250301095619`).
    pub fn name(&self, sim_started_at: Timestamp) -> String {
        let started = self.started(sim_started_at).to_string();
        let digits: String = started.chars().filter(char::is_ascii_digit).collect();
        format!("{BACKUP_SCHEDULE}-{digits}")
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&'static str> {
        match key {
            "velero.io/schedule-name" => Some(BACKUP_SCHEDULE),
            "velero.io/storage-location" => Some(STORAGE_LOCATION),
            _ => None,
        }
    }

    /// The Backup as the API serves it.
    pub fn to_json(&self, sim_started_at: Timestamp, resource_version: u64) -> Value {
        let name = self.name(sim_started_at);
        let started = self.started(sim_started_at);
        let time = |at: Timestamp| serde_json::to_value(Time(at)).unwrap_or(Value::Null);
        let total_items = 418;
        let mut status = json!({
            "version": 1,
            "formatVersion": "1.1.0",
            "phase": self.phase.as_str(),
            "startTimestamp": time(started),
            "completionTimestamp": time(self.completed(sim_started_at)),
            "expiration": time(started + TTL),
        });
        match self.phase {
            BackupPhase::Completed => {
                status["progress"] = json!({"totalItems": total_items, "itemsBackedUp": total_items});
            }
            BackupPhase::PartiallyFailed => {
                status["progress"] = json!({"totalItems": total_items, "itemsBackedUp": total_items});
                status["errors"] = json!(2);
                status["warnings"] = json!(3);
            }
            BackupPhase::Failed => {
                status["progress"] = json!({"totalItems": total_items, "itemsBackedUp": 157});
                status["failureReason"] = json!(RESTARTED_DURING_BACKUP);
            }
        }
        json!({
            "apiVersion": VELERO_API_VERSION,
            "kind": "Backup",
            "metadata": {
                "name": name,
                "namespace": VELERO_NAMESPACE,
                "uid": ids::uuid(&format!("backup/{name}")),
                "resourceVersion": resource_version.to_string(),
                "generation": 6,
                "creationTimestamp": time(started),
                "labels": {
                    "velero.io/schedule-name": BACKUP_SCHEDULE,
                    "velero.io/storage-location": STORAGE_LOCATION,
                },
            },
            "spec": {
                "includedNamespaces": [NAMESPACE],
                "storageLocation": STORAGE_LOCATION,
                "ttl": BACKUP_TTL,
            },
            "status": status,
        })
    }
}

/// Velero's state: the Backups in its namespace, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Velero {
    pub backups: Vec<VeleroBackup>,
}

impl Velero {
    /// A week of the daily schedule: the newest Completed 2 hours before the start, five more
    /// Completed a day apart before it, and the oldest PartiallyFailed.
    pub fn healthy() -> Self {
        let mut backups: Vec<(i64, BackupPhase)> = (0..6).map(|day| (2 + 24 * day, BackupPhase::Completed)).collect();
        backups.push((2 + 24 * 6, BackupPhase::PartiallyFailed));
        Self::of(&backups)
    }

    /// Nothing Completed in the last 3 days: the schedule's backup of a day ago Failed (its
    /// server restarted during it), none ran the day before, the newest Completed is 3 days old.
    pub fn without_recent_backup() -> Self {
        let mut backups = vec![(24, BackupPhase::Failed)];
        backups.extend((3..7).map(|day| (24 * day, BackupPhase::Completed)));
        backups.push((24 * 7, BackupPhase::PartiallyFailed));
        Self::of(&backups)
    }

    /// Backups that ended these many hours before the start, in these phases.
    fn of(backups: &[(i64, BackupPhase)]) -> Self {
        let backups = backups
            .iter()
            .map(|&(hours, phase)| VeleroBackup { phase, completed_before_start: SignedDuration::from_hours(hours) })
            .collect();
        Self { backups }
    }

    /// The resourceVersion of the `index`th backup (the newest has the highest).
    pub fn resource_version(&self, index: usize) -> u64 {
        61_000 + 53 * (self.backups.len() - index) as u64
    }

    /// The Backup called `name`, with its index.
    pub fn backup(&self, name: &str, sim_started_at: Timestamp) -> Option<(usize, &VeleroBackup)> {
        self.backups.iter().enumerate().find(|(_, backup)| backup.name(sim_started_at) == name)
    }
}

fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started_at() -> Timestamp {
        "2025-03-01T12:00:00.417Z".parse().unwrap()
    }

    #[test]
    fn backups_are_named_and_timed_as_the_schedule_makes_them() {
        let velero = Velero::healthy();
        let newest = velero.backups[0];
        assert_eq!(newest.name(started_at()), "circleci-server-daily-20250301095619");
        let backup = newest.to_json(started_at(), velero.resource_version(0));
        assert_eq!((backup["apiVersion"].as_str(), backup["kind"].as_str()), (Some("velero.io/v1"), Some("Backup")));
        assert_eq!(backup["metadata"]["namespace"], "velero");
        assert_eq!(backup["metadata"]["creationTimestamp"], "2025-03-01T09:56:19Z");
        assert_eq!(backup["metadata"]["labels"]["velero.io/schedule-name"], BACKUP_SCHEDULE);
        assert_eq!(
            backup["spec"],
            json!({"includedNamespaces": ["circleci-server"], "storageLocation": "default", "ttl": "720h0m0s"})
        );
        let status = &backup["status"];
        assert_eq!(status["phase"], "Completed");
        assert_eq!(status["startTimestamp"], "2025-03-01T09:56:19Z");
        assert_eq!(status["completionTimestamp"], "2025-03-01T10:00:00Z");
        assert_eq!(status["expiration"], "2025-03-31T09:56:19Z");
        assert!(status.get("failureReason").is_none());
        assert_eq!(velero.backup(&newest.name(started_at()), started_at()), Some((0, &newest)));
        assert_eq!(velero.backup("circleci-server-daily-1", started_at()), None);
        assert!(velero.resource_version(0) > velero.resource_version(1));
    }

    #[test]
    fn a_healthy_schedule_keeps_a_week_the_newest_completed_2_hours_ago() {
        let phases_and_ages = |velero: &Velero| {
            velero
                .backups
                .iter()
                .map(|backup| (backup.phase, backup.completed_before_start.as_hours()))
                .collect::<Vec<_>>()
        };
        use BackupPhase::{Completed, Failed, PartiallyFailed};
        assert_eq!(
            phases_and_ages(&Velero::healthy()),
            [
                (Completed, 2),
                (Completed, 26),
                (Completed, 50),
                (Completed, 74),
                (Completed, 98),
                (Completed, 122),
                (PartiallyFailed, 146)
            ]
        );
        assert_eq!(
            phases_and_ages(&Velero::without_recent_backup()),
            [
                (Failed, 24),
                (Completed, 72),
                (Completed, 96),
                (Completed, 120),
                (Completed, 144),
                (PartiallyFailed, 168)
            ]
        );
        let failed = Velero::without_recent_backup().backups[0].to_json(started_at(), 1);
        assert_eq!(failed["status"]["phase"], "Failed");
        assert!(failed["status"]["failureReason"].as_str().unwrap().contains("during the server starting"));
        let partial = Velero::healthy().backups[6].to_json(started_at(), 1);
        assert_eq!(
            (partial["status"]["phase"].as_str(), partial["status"]["errors"].as_u64()),
            (Some("PartiallyFailed"), Some(2))
        );
    }
}
