//! The clients layer: how realitycheck talks to an installation, knowing nothing of checks.
//! The CircleCI API client ([`circleci`]), Kubernetes access with native exec ([`cluster`]),
//! certificates and keys ([`certs`]), pod states and components ([`pods`]), Helm's release records ([`helm`]), Velero's backups ([`velero`]), Nomad through
//! the nomad CLI's output and its HTTP API ([`nomad`]), and error texts with their causes ([`causes`]).

pub mod causes;
pub mod certs;
pub mod circleci;
pub mod cluster;
pub mod helm;
pub mod nomad;
pub mod pods;
pub mod velero;
