//! The Nomad side of a capacity measurement: the clients ready (and the allocations waiting for
//! room) at each sample, whether a docker resource class fits the largest ready client, and the
//! autoscaler as the release and its pod show it (enabled, its max, the error lines of its
//! logs). Every read that fails becomes a note: a measurement goes on without Nomad.

use std::time::Duration;

use capacity::{AutoscalerView, ClientSample, Fit};
use realitycheck_project::docker_class_size;

use crate::checks::nomad::nomad_failure;
use crate::checks::provisioner::{LOG_LINES, quoted};
use crate::clients::nomad::nodes::Node;
use crate::clients::pods::{self, component::AUTOSCALER};
use crate::resources::cluster::ClusterAccess;
use crate::resources::nomad::NomadError;

/// At most this many ready clients have their size read (clients of one group share a size).
const SIZED_CLIENTS: usize = 5;
/// The autoscaler's last error line is quoted (it repeats at each evaluation).
const QUOTED_ERRORS: usize = 1;
/// The chart's default `nomad.auto_scaler.scaling.max`.
const DEFAULT_MAX: u32 = 5;

/// The clients that take work: ready, eligible, not draining.
fn ready(nodes: &[Node]) -> Vec<&Node> {
    nodes.iter().filter(|n| n.status == "ready" && n.eligibility == "eligible" && !n.drain).collect()
}

/// Reads Nomad for one measurement, remembering what could not be read.
pub(crate) struct NomadSide<'a> {
    access: &'a ClusterAccess,
    /// `false` once the jobs list could not be read: it is not asked again.
    queued_readable: bool,
    /// `false` once the clients could not be read.
    clients_readable: bool,
    pub notes: Vec<String>,
}

impl<'a> NomadSide<'a> {
    pub fn new(access: &'a ClusterAccess) -> Self {
        NomadSide { access, queued_readable: true, clients_readable: true, notes: Vec::new() }
    }

    /// What a failed Nomad read comes to, in a sentence.
    fn said(&self, error: &NomadError) -> String {
        nomad_failure(self.access.namespace(), error).summary
    }

    /// The clients ready now, and the allocations waiting; `None` when the clients cannot be
    /// read (noted once).
    pub async fn sample(&mut self, at: Duration) -> Option<ClientSample> {
        if !self.clients_readable {
            return None;
        }
        let nomad = match self.access.nomad().await {
            Ok(nomad) => nomad,
            Err(error) => {
                self.clients_readable = false;
                self.notes.push(format!("the Nomad clients were not sampled: {}", self.said(&error)));
                return None;
            }
        };
        let nodes = match nomad.nodes().await {
            Ok(nodes) => nodes,
            Err(error) => {
                self.clients_readable = false;
                self.notes.push(format!("the Nomad clients were not sampled: {}", self.said(&error)));
                return None;
            }
        };
        let pending_allocations = if self.queued_readable {
            match nomad.queued_allocations().await {
                Ok(queued) => Some(queued),
                Err(error) => {
                    self.queued_readable = false;
                    self.notes.push(format!("Nomad's pending allocations were not read: {}", self.said(&error)));
                    None
                }
            }
        } else {
            None
        };
        let ready = u32::try_from(ready(&nodes).len()).unwrap_or(u32::MAX);
        Some(ClientSample { at, ready, pending_allocations })
    }

    /// Whether `class` fits the largest ready client; `None` (noted) when the class's size or
    /// the clients' cannot be known.
    pub async fn fit(&mut self, class: &str) -> Option<Fit> {
        let Some((class_cpus, class_memory_mib)) = docker_class_size(class) else {
            self.notes.push(format!(
                "resource class {class} is not one CircleCI defines: its size is unknown, so whether it fits a client is not judged"
            ));
            return None;
        };
        let nomad = self.access.nomad().await.ok()?;
        let nodes = nomad.nodes().await.ok()?;
        let mut largest: Option<(u32, u64)> = None;
        for node in ready(&nodes).into_iter().take(SIZED_CLIENTS) {
            match nomad.node(&node.id).await {
                Ok(detail) => match detail.schedulable() {
                    Some(size) => largest = Some(largest.map_or(size, |l| if size > l { size } else { l })),
                    None => self.notes.push(format!("client {} does not say its vCPUs and memory", node.name)),
                },
                Err(error) => {
                    let said = self.said(&error);
                    self.notes.push(format!("client {} could not be sized: {said}", node.name));
                }
            }
        }
        if largest.is_none() && !ready(&nodes).is_empty() {
            return None;
        }
        Some(Fit { class_cpus, class_memory_mib, largest_client: largest })
    }

    /// The autoscaler: whether the release runs one, its max and where that comes from;
    /// `None` (noted) when the cluster cannot be read.
    pub async fn autoscaler(&mut self, reaction: Duration) -> Option<AutoscalerView> {
        let cluster = match self.access.client().await {
            Ok(cluster) => cluster,
            Err(error) => {
                self.notes.push(format!("the autoscaler was not read: {error}"));
                return None;
            }
        };
        let all = match cluster.pods(None).await {
            Ok(pods) => pods,
            Err(error) => {
                self.notes.push(format!("the autoscaler was not read: {error}"));
                return None;
            }
        };
        let enabled = !pods::of_component(&all, AUTOSCALER).is_empty();
        let bounds = match self.access.release().await {
            Ok(release) => release.record().and_then(|record| record.autoscaler_scaling),
            Err(_) => None,
        };
        let (max, max_source) = match bounds {
            Some(bounds) => (
                Some(u32::try_from(bounds.max).unwrap_or(u32::MAX)),
                "nomad.auto_scaler.scaling.max of the release".to_owned(),
            ),
            None => (Some(DEFAULT_MAX), "the chart's default: the release does not say".to_owned()),
        };
        Some(AutoscalerView { enabled, max, max_source, reaction, log_errors: Vec::new() })
    }

    /// The last error lines of the autoscaler's pods (`level=error`, `[ERROR]`).
    pub async fn autoscaler_errors(&mut self) -> Vec<String> {
        let Ok(cluster) = self.access.client().await else { return Vec::new() };
        let Ok(all) = cluster.pods(None).await else { return Vec::new() };
        let mut errors = Vec::new();
        for pod in pods::of_component(&all, AUTOSCALER) {
            let name = pod.metadata.name.clone().unwrap_or_default();
            match cluster.logs(&name, LOG_LINES).await {
                Ok(log) => errors.extend(
                    log.lines()
                        .filter(|line| line.contains("level=error") || line.contains("[ERROR]"))
                        .map(|line| format!("{name}: {}", quoted(line))),
                ),
                Err(error) => self.notes.push(format!("the logs of {name} were not read: {error}")),
            }
        }
        let skip = errors.len().saturating_sub(QUOTED_ERRORS);
        errors.split_off(skip)
    }
}
