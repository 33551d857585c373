//! realitycheck's scheduled mode (`realitycheck serve`): the engine's runs of one or more
//! targets on a schedule, never overlapping per target; what they found kept as run
//! records (bounded history, optionally a state dir); and an HTTP interface over it:
//! Prometheus metrics, a JSON API, a status page, probes; notifications of checks that
//! change state to a webhook. Besides the scheduled runs, a target may have a canary: runs of
//! another profile on their own interval (a job of each executor), whose state is kept apart
//! and whose jobs' waits become metrics. It is generic over the engine's [`harness::Suite`]:
//! it knows nothing of CircleCI beyond what run records carry.

#![warn(missing_docs)]

pub mod canary;
pub mod http;
pub mod metrics;
pub mod page;
pub mod record;
pub mod service;
pub mod state;
pub mod store;
pub mod time;
pub mod webhook;

pub use record::{CheckStatus, RunRecord, RunResult, Trigger};
pub use service::{Canary, RequestError, Schedule, Service, ServiceParts, Watch, start};
pub use store::{Store, StoreError};
pub use webhook::{Format as WebhookFormat, Webhook};
