//! realitycheck's scheduled mode (`realitycheck serve`): the engine's runs of one or more
//! targets on a schedule, never overlapping per target; what they found kept as run
//! records (bounded history, optionally a state dir); and an HTTP interface over it:
//! Prometheus metrics, a JSON API, a status page, probes; notifications of checks that
//! change state to a webhook. It is generic over the engine's [`harness::Suite`]: it knows
//! nothing of CircleCI beyond what run records carry.

#![warn(missing_docs)]

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
pub use service::{RequestError, Schedule, Service, ServiceParts, start};
pub use store::{Store, StoreError};
pub use webhook::{Format as WebhookFormat, Webhook};
