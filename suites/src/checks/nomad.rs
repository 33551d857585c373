//! `nomad::*`: the Nomad control plane, read the way the release says (`resources::nomad`):
//! the nomad CLI inside a Nomad server pod (`nomad server members -json`, `nomad node status
//! -json`, the table when JSON fails) or the HTTP API of servers outside the cluster; the
//! judgments of the servers' quorum, the clients and the gossip key, and the diagnoses of
//! failed reads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::{StreamExt, TryStreamExt};
use harness::{Check, Diagnosis, SkipReason, Verdict};

use super::cause::{Because, Cause, Stated, StatedBy, Values, causes};
use super::{cluster_check, cluster_failed, cluster_failure, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::cluster::ExecOutput;
use crate::clients::nomad::http::{NomadHttpError, TlsFailure};
use crate::clients::nomad::members::Member;
use crate::clients::nomad::nodes::{Driver, Node, NodeDetail};
use crate::clients::nomad::table::NotATable;
use crate::phase;
use crate::resources::cluster::{ClusterAccess, NomadPodError};
use crate::resources::nomad::{NomadAccessError, NomadError, NomadRoute, NomadServers};
use crate::resources::release::{InstalledRelease, ServersAt};

pub fn servers_alive() -> Check<RealityCheck> {
    let summary = "a quorum of the release's Nomad servers alive (all of them, or a note), exactly one leader";
    cluster_check(ids::SERVERS_ALIVE, summary, |access, _| async move {
        let servers = access.nomad().await.map_err(|e| Verdict::Fail(nomad_failure(access.namespace(), &e)))?;
        let members = servers.members().await.map_err(|e| Verdict::Fail(nomad_failure(access.namespace(), &e)))?;
        let release = access.release().await.map_err(cluster_failed)?;
        let expected = expected_servers(release, servers.raft_peers().await);
        Ok(match judge_members(&members, expected.as_ref()) {
            Verdict::Pass(note) => {
                Verdict::Pass(format!("{note}{}; {}", image_note(release, &members), read_through(servers.route)))
            }
            verdict => verdict,
        })
    })
}

pub fn clients_ready() -> Check<RealityCheck> {
    cluster_check(
        ids::CLIENTS_READY,
        "enough Nomad clients ready, eligible, not draining, with a healthy driver, a supported Docker and cgroups v1",
        |access, _| async move {
            let failed = |e: NomadError| Verdict::Fail(nomad_failure(access.namespace(), &e));
            let servers = access.nomad().await.map_err(failed)?;
            let nodes = servers.nodes().await.map_err(failed)?;
            let members = servers.members().await.map_err(failed)?;
            let min_clients = access.nomad_settings().min_clients;
            // The versions are read node by node: one that cannot be read is a note, not a red.
            match node_details(servers, &nodes).await {
                Ok(details) => Ok(judge_clients(&nodes, &details, min_clients, &members)),
                Err(error) => Ok(match judge_clients(&nodes, &[], min_clients, &members) {
                    Verdict::Pass(note) => Verdict::Pass(format!(
                        "{note}; Docker and cgroups versions not read: {}",
                        nomad_failure(access.namespace(), &error).summary
                    )),
                    verdict => verdict,
                }),
            }
        },
    )
}

/// The attributes of the nodes that can take work (ready, eligible), a few at a time.
pub(crate) async fn node_details(servers: NomadServers<'_>, nodes: &[Node]) -> Result<Vec<NodeDetail>, NomadError> {
    let usable: Vec<String> =
        nodes.iter().filter(|node| unusable_because(node).is_none()).map(|node| node.id.clone()).collect();
    futures::stream::iter(usable)
        .map(|id| async move { servers.node(&id).await })
        .buffered(NODE_READS_AT_ONCE)
        .try_collect()
        .await
}

/// Node reads under way at once (each is an exec into a server pod, or an API call).
const NODE_READS_AT_ONCE: usize = 4;

/// `; they run Nomad 1.10.0, not the 1.11.3 of server 4.10's chart` when in-cluster servers
/// run another Nomad than the image the version's chart defaults to (an overridden
/// `nomad.server.image`, or a StatefulSet an upgrade did not roll); else nothing.
fn image_note(release: &InstalledRelease, members: &[Member]) -> String {
    let (ServersAt::Inside { .. }, Some(row)) = (release.servers(), release.release()) else { return String::new() };
    let Some(expected) = row.nomad_server_image.and_then(|image| image.rsplit_once(':')).map(|(_, tag)| tag) else {
        return String::new();
    };
    let mut running: Vec<&str> = members.iter().map(|m| m.version.as_str()).filter(|v| !v.is_empty()).collect();
    running.sort_unstable();
    running.dedup();
    if running.is_empty() || running == [expected] {
        return String::new();
    }
    format!(
        "; they run Nomad {}, not the {expected} of server {}'s chart (nomad.server.image overridden, or the StatefulSet not rolled by the upgrade)",
        running.join(" and "),
        row.name()
    )
}

/// `read in pod nomad-server-0`, `read from https://nomad.example.internal:4646`, and for
/// plain HTTP (server 4.8's servers outside the cluster) that it is.
fn read_through(route: &NomadRoute) -> String {
    match route {
        NomadRoute::Pod(pod) => format!("read in pod {pod}"),
        NomadRoute::Http(http) if http.endpoint.url.scheme() == "http" => {
            format!(
                "read from {} over plain HTTP, as server 4.8's servers outside the cluster serve it",
                route.describe()
            )
        }
        NomadRoute::Http(_) => format!("read from {}", route.describe()),
    }
}

/// How many servers the release runs, and what says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedServers {
    pub count: u32,
    /// `the release's nomad.server.replicas`, `the default of server 4.10`.
    pub from: String,
}

/// The servers the release runs in the cluster; outside it, the Raft `peers` when they could
/// be read (else the servers Nomad lists are all there is to count); `None` when nothing says.
pub fn expected_servers(release: &InstalledRelease, peers: Option<usize>) -> Option<ExpectedServers> {
    let ServersAt::Inside { replicas: Some(count) } = release.servers() else {
        let count = u32::try_from(peers?).ok()?;
        return Some(ExpectedServers { count, from: "the Raft peers".into() });
    };
    let given = release.record().and_then(|record| record.nomad_server.replicas).is_some();
    let from = match (&release.version, given) {
        (_, true) | (None, _) => "the release's nomad.server.replicas".to_string(),
        (Some(version), false) => format!("the default of server {}", version.lookup.release.name()),
    };
    Some(ExpectedServers { count, from })
}

/// The gossip key Secret, and its key.
const GOSSIP_SECRET: &str = "nomad-gossip-encryption-key";
const GOSSIP_SECRET_KEY: &str = "gossip-key";

pub fn gossip_key() -> Check<RealityCheck> {
    let summary = "the gossip key Secret holds a usable key, and it is the key the Nomad servers use";
    cluster_check(ids::GOSSIP_KEY, summary, |access, _| async move {
        let release = access.release().await.map_err(cluster_failed)?;
        if let ServersAt::Outside { .. } = release.servers() {
            return Err(Verdict::Skip(SkipReason::NotApplicable(
                "the release runs its Nomad servers outside the cluster (nomad.server.internal: false): no gossip key Secret is part of it, and CircleCI's Terraform starts those servers without gossip encryption".into(),
            )));
        }
        let cluster = access.client().await.map_err(cluster_failed)?;
        let namespace = cluster.namespace();
        let secret = cluster
            .secret(GOSSIP_SECRET)
            .await
            .map_err(optional_read_failed)?
            .ok_or_else(|| Verdict::Fail(no_gossip_secret(namespace, false)))?;
        let value = secret
            .data
            .and_then(|mut data| data.remove(GOSSIP_SECRET_KEY))
            .ok_or_else(|| Verdict::Fail(no_gossip_secret(namespace, true)))?
            .0;
        let readings = GossipKeyReading::of(&value);
        if readings.is_empty() {
            return Err(Verdict::Fail(unusable_gossip_key(namespace, value.len())));
        }
        let failed = |e: NomadError| Verdict::Fail(nomad_failure(namespace, &e));
        let servers = access.nomad().await.map_err(failed)?;
        let NomadRoute::Pod(read_in) = servers.route else {
            return Err(Verdict::Skip(SkipReason::NotApplicable(format!(
                "no Nomad server pod runs in the cluster and the servers are read at {}: they run outside it, where no gossip key Secret is part of the release",
                servers.route.describe()
            ))));
        };
        let installed = servers.gossip_keys(read_in).await.map_err(failed)?;
        Ok(judge_gossip_key(namespace, read_in, &readings, &installed))
    })
}

/// How the Secret's value can be the key Nomad's `encrypt` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipKeyReading {
    /// What the value is, for the operator (never the value itself).
    pub described: String,
    /// The key as Nomad lists it (base64).
    pub key: String,
}

impl GossipKeyReading {
    /// The readings of `value`: a base64 key of 16, 24 or 32 bytes, as Nomad takes it; or 32
    /// raw characters, as the guide's placeholder asks, which the chart base64-encodes. A value
    /// may read both ways; the keyring decides which holds.
    pub fn of(value: &[u8]) -> Vec<GossipKeyReading> {
        let trimmed = value.trim_ascii();
        let mut readings = Vec::new();
        if let Ok(bytes) = STANDARD.decode(trimmed)
            && [16, 24, 32].contains(&bytes.len())
        {
            readings.push(GossipKeyReading {
                described: format!("a base64 key of {} bytes", bytes.len()),
                key: String::from_utf8_lossy(trimmed).into_owned(),
            });
        }
        if value.len() == 32 {
            readings.push(GossipKeyReading {
                described: "32 raw characters (base64-encoded into the servers' key)".into(),
                key: STANDARD.encode(value),
            });
        }
        readings
    }
}

/// How to store a new gossip key in the Secret (a macro, for `concat!`).
macro_rules! create_gossip_secret {
    () => {
        "`kubectl -n {namespace} create secret generic {secret} --from-literal={key}=$(openssl rand -base64 32) --dry-run=client -o yaml | kubectl apply -f -`"
    };
}

causes! {
    StatedBy::Checks(&[ids::GOSSIP_KEY]) => {
        SERVERS_WITHOUT_GOSSIP_KEY:
            "the servers started without the key (the Secret was created after them, or the chart did not pass it)",
            "restart the Nomad servers so that they read the Secret: `kubectl -n {namespace} rollout restart statefulset/{statefulset}`";
        GOSSIP_KEY_CHANGED:
            "the Secret was changed after the servers started, and they were not restarted: a server restarted later would not join the others",
            "roll the new key out: `kubectl -n {namespace} rollout restart statefulset/{statefulset}` (one server at a time keeps the quorum), then run this check again; or put the servers' key back in the Secret";
        NO_GOSSIP_SECRET:
            "the gossip encryption key of Phase 3 was not created (or under another name or key)",
            create_gossip_secret!();
        UNUSABLE_GOSSIP_KEY:
            "the Secret holds a placeholder or a truncated key; Nomad's servers refuse to start with it, or the chart cannot encode it",
            concat!(create_gossip_secret!(), ", then restart the Nomad servers");
    }
    StatedBy::Shared("Nomad commands in a server pod") => {
        NO_SERVER_POD:
            "no pod carries that label: the namespace or the selector is wrong",
            "check --namespace and nomad.server_selector; `kubectl -n {namespace} get pods -l {selector}` must list the Nomad servers";
        NO_READY_SERVER_POD:
            "the Nomad server pods exist but none is Running and Ready",
            "`kubectl -n {namespace} describe pods -l {selector}` and their logs say why; Nomad servers need their mTLS and gossip secrets";
        /// The CLI's error quotes `x509`, `tls:` or `certificate`.
        NOMAD_MTLS_MISMATCH:
            "the nomad CLI in the server pod cannot talk to Nomad over mTLS: the certificates do not match (CA, certificate or key)",
            "check nomad.server.rpc.mTLS (certificate, privateKey, CACertificate) in values.yaml and the nomad-mtls secret; the clients' certificates must come from the same CA";
        /// `connection refused`.
        NOMAD_NOT_LISTENING:
            "the Nomad agent in the pod is not listening",
            "read the pod's logs: `kubectl -n {namespace} logs {pod}`";
        /// Exit code 126 or 127.
        NO_NOMAD_CLI:
            "the pod has no nomad CLI: the selector matches pods that are not Nomad servers",
            "set nomad.server_selector to the Nomad server pods' labels (default app=nomad-server)";
        NOMAD_ERROR:
            "the Nomad API answered with an error",
            "run the same command to see it whole: `kubectl -n {namespace} exec {pod} -- {command}`";
        UNREADABLE_TABLE:
            "the nomad CLI printed something realitycheck cannot read: an error message, a page from a proxy in front of Nomad, or the output of a CLI version whose layout realitycheck does not know",
            "run the command in the pod to see it: `kubectl -n {namespace} exec {pod} -- {command}`; if Nomad answers normally, report the output and the CLI version (`kubectl -n {namespace} exec {pod} -- nomad version`) to the realitycheck maintainers";
    }
    StatedBy::Shared("Nomad servers outside the cluster") => {
        NO_NOMAD_ADDRESS:
            "realitycheck cannot know where the Nomad servers are",
            "set nomad.address (or NOMAD_ADDR) to their HTTP API, like https://nomad.example.internal:4646, or set nomad.server.serverHostname in the release's values";
        NO_NOMAD_CA:
            "the servers' certificate can only be verified with the CA that signs the Nomad certificates, and realitycheck found none it may read",
            "give realitycheck the CA: set nomad.ca_cert (or NOMAD_CACERT) to ca.pem of the Nomad mTLS material, or let it read Secret nomad-mtls (or nomad-rpc-mtls) in namespace `{namespace}`";
        NOMAD_SETTING_UNUSABLE:
            "the nomad settings cannot be used as they are: a file they name cannot be read or holds no PEM, a client certificate was given without its key, or the address's scheme is not the one the servers serve",
            "correct what the summary names: nomad.address (NOMAD_ADDR: https:// for server 4.9 and later, http:// for 4.8), nomad.ca_cert, nomad.client_cert and nomad.client_key (NOMAD_CACERT, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY: readable PEM files; the certificate and its key go together), nomad.tls_server_name, NOMAD_TOKEN";
        NOMAD_API_UNREACHABLE:
            "realitycheck cannot reach the Nomad servers' HTTP API from where it runs: nomad.server.serverHostname often resolves only inside the VPC, a firewall or security group closes port 4646, or the servers are down",
            "set nomad.address (or NOMAD_ADDR) to an address of the servers reachable from here (their load balancer, or a tunnel: `ssh -L 4646:<server>:4646 <bastion>` and https://localhost:4646), open port 4646 to where realitycheck runs, and check that the servers run (`systemctl status nomad` on them)";
        NOMAD_API_OTHER_CA:
            "the servers' certificate is not signed by the CA realitycheck verified it with (ca.pem of the Nomad mTLS Secret, or nomad.ca_cert): when that is the CA the chart's components and the clients hold, they cannot join these servers either",
            "see nomad::mtls: make the servers' and the clients' material from one CA (CircleCI's Terraform `tls` module makes both) and store the client material in the Secret; if only realitycheck has the wrong CA, set nomad.ca_cert to the servers' CA";
        NOMAD_API_TLS:
            "the servers' TLS is not what Nomad clients expect: a certificate without the name they verify (server.global.nomad), an expired certificate, a client certificate required, or no TLS at that port",
            "the summary says which: issue the servers' certificate for server.global.nomad from the Nomad CA (CircleCI's Terraform `tls` module), renew it, set nomad.client_cert and nomad.client_key if the servers ask for a client certificate, or use http:// for server 4.8's servers";
        NOMAD_ACL_DENIED:
            "Nomad's ACLs refuse realitycheck's read (CircleCI's servers run without ACLs; these have them on)",
            "export NOMAD_TOKEN with a token whose policy allows `node:read` (the servers' members and the client nodes)";
        LEADERLESS_READ:
            "the servers have no leader, so they answer no read that needs one (fewer than a majority of them alive)",
            "see nomad::servers_alive: bring a majority of the Nomad servers back";
        NOMAD_API_ERROR:
            "the Nomad API answered with an error, or with something that is not Nomad's answer (a proxy or load balancer in front of it)",
            "read the same URL from where realitycheck runs (`curl -s --cacert ca.pem --resolve server.global.nomad:4646:<address> https://server.global.nomad:4646/v1/status/leader`) to see what answers";
    }
    StatedBy::Checks(&[ids::SERVERS_ALIVE]) => {
        NO_MEMBERS:
            "the server has not joined its peers",
            "read the nomad-server pods' logs for join and raft errors";
        NO_QUORUM:
            "fewer than a majority of the servers are alive: raft has no quorum, so Nomad elects no leader and places no job (docker jobs wait)",
            "bring the servers back (in the cluster: the nomad-server pods, `kubectl -n <namespace> describe pods -l app=nomad-server`; outside: the server instances and `journalctl -u nomad` on them) and check that they reach each other on ports 4647 and 4648";
        NO_LEADER:
            "raft has a quorum but no leader: an election is under way, or the servers cannot reach each other on port 4647/4648",
            "run the check again in a minute; if there is still no leader, read the servers' logs for raft errors and check the network between them";
        SPLIT_BRAIN:
            "a split brain: the servers do not form one cluster",
            "restart the nomad-server StatefulSet so that they rejoin one cluster";
    }
    StatedBy::Checks(&[ids::CLIENTS_READY]) => {
        VERSION_SKEW:
            "Nomad servers must be at least as new as their clients; newer clients may fail to register or run jobs",
            "install the servers' Nomad version on the clients (CircleCI's Terraform modules set it, `nomad_version`), or upgrade the servers first";
        NO_CLIENT_JOINED:
            "the clients never joined: their mTLS certificates, the gossip encryption key, or their retry_join address do not match the server",
            "on a client host, `journalctl -u nomad` shows the join error; check retry_join points at the cluster's Nomad endpoint on port 4647, that the client certificates come from the nomad-mtls secret's CA, and that port 4647 is open from the clients";
        DOCKER_UNHEALTHY:
            "the docker driver of the clients is unhealthy: Docker is not running on the client hosts, or Nomad cannot reach its socket",
            "on each named client host, check Docker (`systemctl status docker`, `docker info`), then restart the nomad agent";
        RAW_EXEC_UNHEALTHY:
            "the raw_exec driver, which CircleCI's clients run jobs with, is disabled or unhealthy on the clients",
            "enable it in the client configuration (`plugin \"raw_exec\" { config { enabled = true } }`, as CircleCI's Terraform writes it), then restart the nomad agent";
        CLIENTS_INELIGIBLE:
            "clients are draining or marked ineligible, so Nomad places no jobs on them",
            "if no maintenance is under way, make them eligible again in the nomad-server pod: {commands}";
        CLIENTS_DOWN:
            "clients are down or not yet ready: the host stopped, or lost its connection to the servers",
            "check the client instances (autoscaling group) and the nomad service on them";
        TOO_FEW_CLIENTS:
            "fewer clients joined than min_clients asks for: the autoscaler or the client group is too small",
            "raise the client group's size (or nomad.auto_scaler min) to at least {min_clients}, or lower nomad.min_clients if fewer suffice";
    }
    StatedBy::Checks(&[ids::CLIENTS_READY, ids::UPGRADE_NOMAD_CLIENTS]) => {
        DOCKER_UNSUPPORTED:
            "CircleCI server does not support Docker 29 or newer on its Nomad clients (its docs: \"Docker v29 is not supported\"); docker jobs may fail on them",
            "install the Docker the server version's Terraform module installs (Docker CE 28.1.1: move the nomad-client module to the server version's server-terraform tag), or run Podman clients (`use_podman`, server 4.10)";
        CGROUPS_V2:
            "CircleCI server does not support cgroups v2 on Docker Nomad clients (its docs: \"CgroupsV2 is currently unsupported\")",
            "run the clients on an image that boots with cgroups v1 (CircleCI's Terraform uses Ubuntu 22.04 with cgroups v1), or Podman clients (`use_podman`, server 4.10), which run cgroups v2";
    }
}

/// Pass when one reading of the Secret's key is among the keys the servers use (read in
/// `pod`); never quotes a key.
pub fn judge_gossip_key(namespace: &str, pod: &str, readings: &[GossipKeyReading], installed: &[String]) -> Verdict {
    let holds = readings.iter().map(|r| r.described.as_str()).collect::<Vec<_>>().join(", or ");
    if let Some(reading) = readings.iter().find(|reading| installed.contains(&reading.key)) {
        return Verdict::Pass(format!(
            "Secret {GOSSIP_SECRET} holds {}, the key the Nomad servers use ({} installed)",
            reading.described,
            count_of(installed.len(), "key")
        ));
    }
    let statefulset = pod.rsplit_once('-').map_or(pod, |(set, _)| set);
    let diagnosis =
        Diagnosis::new(format!("the gossip key in Secret {GOSSIP_SECRET} is not the key the Nomad servers use"))
            .observed(format!("the Secret holds {holds}"))
            .phase(&phase::NOMAD_SERVERS);
    let values: Values<'_> = &[("namespace", &namespace), ("statefulset", &statefulset)];
    if installed.is_empty() {
        return Verdict::Fail(
            diagnosis
                .observed(format!("`nomad operator gossip keyring list` in {pod} lists no key: the servers run without gossip encryption"))
                .because(SERVERS_WITHOUT_GOSSIP_KEY.with(values)),
        );
    }
    Verdict::Fail(
        diagnosis
            .observed(format!(
                "the servers have {} installed (read in {pod}), none of them this one",
                count_of(installed.len(), "key")
            ))
            .because(GOSSIP_KEY_CHANGED.with(values)),
    )
}

/// `1 key`, `3 keys`.
fn count_of(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The Secret (or its key) is missing.
fn no_gossip_secret(namespace: &str, secret_exists: bool) -> Diagnosis {
    let summary = if secret_exists {
        format!("Secret {GOSSIP_SECRET} has no key `{GOSSIP_SECRET_KEY}`")
    } else {
        format!("no Secret {GOSSIP_SECRET} in namespace `{namespace}`")
    };
    Diagnosis::new(summary).because(gossip_secret(&NO_GOSSIP_SECRET, namespace)).phase(&phase::NOMAD_SERVERS)
}

/// The Secret's value is no key Nomad can use.
fn unusable_gossip_key(namespace: &str, length: usize) -> Diagnosis {
    Diagnosis::new(format!("the gossip key in Secret {GOSSIP_SECRET} is not a usable key"))
        .observed(format!("it holds {length} bytes: neither base64 of 16, 24 or 32 bytes, nor 32 raw characters"))
        .because(gossip_secret(&UNUSABLE_GOSSIP_KEY, namespace))
        .phase(&phase::NOMAD_SERVERS)
}

/// `cause`, whose fix stores a new key in the gossip key Secret of `namespace`.
fn gossip_secret(cause: &Cause, namespace: &str) -> Stated {
    cause.with(&[("namespace", &namespace), ("secret", &GOSSIP_SECRET), ("key", &GOSSIP_SECRET_KEY)])
}

/// The Nomad nodes, as the servers list them (also for correlation by pipeline checks).
pub(crate) async fn client_nodes(access: &ClusterAccess) -> Result<Vec<Node>, NomadError> {
    access.nomad().await?.nodes().await
}

/// The diagnosis of a failed read of the Nomad servers of the release in `namespace`.
pub(crate) fn nomad_failure(namespace: &str, error: &NomadError) -> Diagnosis {
    match error {
        NomadError::Access(access) => access_failure(namespace, access),
        NomadError::Cluster(error) => cluster_failure(error),
        NomadError::Exec { pod, command, output } => exec_failure(namespace, pod, &command.join(" "), output),
        NomadError::Unreadable { pod, command, error } => unreadable_table(namespace, pod, &command.join(" "), error),
        NomadError::Json { pod, command, error } => {
            let command = command.join(" ");
            Diagnosis::new(format!("`{command}` in pod {pod} printed JSON realitycheck cannot read"))
                .observed(error.to_string())
                .because(UNREADABLE_TABLE.with(&[("namespace", &namespace), ("pod", pod), ("command", &command)]))
                .phase(&phase::NOMAD_SERVERS)
        }
        NomadError::Http(error) => http_failure(error),
    }
}

/// Why the Nomad servers cannot be reached at all.
fn access_failure(namespace: &str, error: &NomadAccessError) -> Diagnosis {
    match error {
        NomadAccessError::Cluster(error) => cluster_failure(error),
        NomadAccessError::NoPod(error) => no_pod(error),
        NomadAccessError::Http(error) => http_failure(error),
        NomadAccessError::NoAddress => {
            Diagnosis::new(error.to_string()).because(&NO_NOMAD_ADDRESS).phase(&phase::NOMAD_SERVERS)
        }
        NomadAccessError::NoCa { .. } => Diagnosis::new(error.to_string())
            .because(NO_NOMAD_CA.with(&[("namespace", &namespace)]))
            .phase(&phase::NOMAD_MTLS),
        NomadAccessError::File { .. } | NomadAccessError::HalfIdentity { .. } => {
            Diagnosis::new(error.to_string()).because(&NOMAD_SETTING_UNUSABLE).phase(&phase::NOMAD_MTLS)
        }
    }
}

/// A failed call of the Nomad servers' HTTP API (`url`, when the error does not carry it), with
/// the cause its kind points at.
fn http_failure(error: &NomadHttpError) -> Diagnosis {
    let diagnosis = Diagnosis::new(error.to_string()).phase(&phase::NOMAD_SERVERS);
    match error {
        NomadHttpError::Connection { .. } | NomadHttpError::Timeout { .. } => diagnosis.because(&NOMAD_API_UNREACHABLE),
        NomadHttpError::Tls { failure: TlsFailure::UnknownIssuer, .. } => {
            diagnosis.because(&NOMAD_API_OTHER_CA).phase(&phase::NOMAD_MTLS)
        }
        NomadHttpError::Tls { .. } => diagnosis.because(&NOMAD_API_TLS).phase(&phase::NOMAD_MTLS),
        NomadHttpError::AclDenied { .. } => diagnosis.because(&NOMAD_ACL_DENIED),
        NomadHttpError::NoLeader { .. } => diagnosis.because(&LEADERLESS_READ),
        NomadHttpError::BadAddress { .. }
        | NomadHttpError::BadServerName { .. }
        | NomadHttpError::CaRequired { .. }
        | NomadHttpError::BadTlsMaterial { .. }
        | NomadHttpError::TokenNotAHeader
        | NomadHttpError::HttpsExpected { .. } => diagnosis.because(&NOMAD_SETTING_UNUSABLE).phase(&phase::NOMAD_MTLS),
        NomadHttpError::Status { .. } | NomadHttpError::TooLarge { .. } | NomadHttpError::Decode { .. } => {
            diagnosis.because(&NOMAD_API_ERROR)
        }
    }
}

fn no_pod(error: &NomadPodError) -> Diagnosis {
    match error {
        NomadPodError::Cluster(e) => cluster_failure(e),
        NomadPodError::NoReadyPod { selector, namespace, found, .. } => {
            let diagnosis = Diagnosis::new(error.to_string())
                .phase(&phase::NOMAD_SERVERS)
                .observed_all(found.iter().map(|p| p.describe()));
            let cause = if found.is_empty() { &NO_SERVER_POD } else { &NO_READY_SERVER_POD };
            diagnosis.because(cause.with(&[("namespace", namespace), ("selector", selector)]))
        }
    }
}

/// A nomad command that ran but failed, with the cause its error text points at.
fn exec_failure(namespace: &str, pod: &str, command: &str, output: &ExecOutput) -> Diagnosis {
    let error = output.stderr.trim();
    let diagnosis = Diagnosis::new(format!("`{command}` in pod {pod} exited with code {}", output.exit_code))
        .observed_all(error.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev())
        .phase(&phase::NOMAD_SERVERS);
    if error.contains("No cluster leader") {
        diagnosis.because(&LEADERLESS_READ)
    } else if ["x509", "tls:", "certificate"].iter().any(|m| error.contains(m)) {
        diagnosis.because(&NOMAD_MTLS_MISMATCH).phase(&phase::NOMAD_MTLS)
    } else if error.contains("connection refused") {
        diagnosis.because(NOMAD_NOT_LISTENING.with(&[("namespace", &namespace), ("pod", &pod)]))
    } else if matches!(output.exit_code, 126 | 127) {
        diagnosis.because(&NO_NOMAD_CLI)
    } else {
        diagnosis.because(NOMAD_ERROR.with(&[("namespace", &namespace), ("pod", &pod), ("command", &command)]))
    }
}

/// Longest part of an output line a diagnosis quotes.
const QUOTED_CHARS: usize = 120;

/// A nomad command that succeeded but printed no table realitycheck can read.
fn unreadable_table(namespace: &str, pod: &str, command: &str, error: &NotATable) -> Diagnosis {
    let first_line = match error.first_line.chars().count() {
        0 => "the output is empty".to_string(),
        n if n > QUOTED_CHARS => {
            format!("first line: `{}…`", error.first_line.chars().take(QUOTED_CHARS).collect::<String>())
        }
        _ => format!("first line: `{}`", error.first_line),
    };
    Diagnosis::new(format!("`{command}` in pod {pod} printed no table realitycheck can read"))
        .observed(first_line)
        .observed(format!("expected a table with the columns {}", error.required.join(", ")))
        .because(UNREADABLE_TABLE.with(&[("namespace", &namespace), ("pod", &pod), ("command", &command)]))
        .phase(&phase::NOMAD_SERVERS)
}

/// Pass when a quorum of the `expected` servers (else of those listed) is alive and exactly
/// one leads; a server not alive, or missing, is a note while the quorum holds.
pub fn judge_members(members: &[Member], expected: Option<&ExpectedServers>) -> Verdict {
    let phase = &phase::NOMAD_SERVERS;
    if members.is_empty() {
        return Verdict::Fail(
            Diagnosis::new("the Nomad server knows no server members").because(&NO_MEMBERS).phase(phase),
        );
    }
    let describe = |m: &Member| {
        let leader = match m.leader {
            Some(true) => ", leader",
            _ => "",
        };
        format!("{} ({}): {}{leader}", m.name, m.address, m.status)
    };
    // A server that left (scale-down) stays listed until garbage collection; Nomad's own
    // leader lookup skips it, and so does this judgement.
    let listed: Vec<&Member> = members.iter().filter(|m| m.status != "left").collect();
    let left = members.len() - listed.len();
    let alive = listed.iter().filter(|m| m.status == "alive").count();
    let count = expected.map_or(listed.len(), |e| (e.count as usize).max(listed.len()));
    let quorum = count / 2 + 1;
    let leaders: Vec<&Member> = members.iter().filter(|m| m.leader == Some(true)).collect();
    let leader_known = members.iter().any(|m| m.leader.is_some());
    let expected_line = match expected {
        Some(ExpectedServers { count, from }) => format!("{count} servers expected ({from})"),
        None => format!("{count} servers listed"),
    };
    if alive < quorum {
        return Verdict::Fail(
            Diagnosis::new(format!("{alive} of {count} Nomad servers alive: no quorum ({quorum} needed)"))
                .observed_all(members.iter().map(describe))
                .observed(expected_line)
                .because(&NO_QUORUM)
                .phase(phase),
        );
    }
    if leaders.len() > 1 {
        return Verdict::Fail(
            Diagnosis::new(format!("{} Nomad servers claim to lead", leaders.len()))
                .observed_all(members.iter().map(describe))
                .because(&SPLIT_BRAIN)
                .phase(phase),
        );
    }
    if leaders.is_empty() && leader_known {
        return Verdict::Fail(
            Diagnosis::new("no Nomad server is the leader")
                .observed_all(members.iter().map(describe))
                .because(&NO_LEADER)
                .phase(phase),
        );
    }
    let mut note = match (alive, count) {
        (1, 1) => "1 server alive".to_string(),
        (alive, count) if alive == count => format!("{alive} servers alive"),
        (alive, count) => format!("{alive} of {count} servers alive"),
    };
    if left > 0 {
        note.push_str(&format!(" ({left} left the cluster)"));
    }
    match leaders.first() {
        Some(leader) => note.push_str(&format!(", leader {}", leader.name)),
        None => note.push_str(" (the output does not show the leader)"),
    }
    if alive < count {
        let down: Vec<String> =
            listed.iter().filter(|m| m.status != "alive").map(|m| format!("{} {}", m.name, m.status)).collect();
        let missing = count - listed.len();
        let mut gone = down;
        if missing > 0 {
            gone.push(format!("{missing} not listed"));
        }
        note.push_str(&format!(
            "; {} ({expected_line}): the quorum of {quorum} holds, {} more lost stops Nomad",
            gone.join(", "),
            alive + 1 - quorum
        ));
    }
    Verdict::Pass(note)
}

/// Why a node cannot take docker jobs, or `None` when it can.
pub(crate) fn unusable_because(node: &Node) -> Option<String> {
    let mut reasons = Vec::new();
    if node.status != "ready" {
        reasons.push(format!("status {}", if node.status.is_empty() { "unknown" } else { &node.status }));
    }
    if node.drain {
        reasons.push("draining".to_string());
    }
    if node.eligibility != "eligible" {
        reasons.push(if node.eligibility.is_empty() { "eligibility unknown".into() } else { node.eligibility.clone() });
    }
    match &node.raw_exec {
        Driver::Healthy | Driver::Unknown => {}
        Driver::NotDetected => reasons.push("no raw_exec driver".into()),
        Driver::Unhealthy(why) if why.is_empty() => reasons.push("raw_exec driver unhealthy".into()),
        Driver::Unhealthy(why) => reasons.push(format!("raw_exec driver unhealthy: {why}")),
    }
    // Absent on Podman clients, where jobs need no Docker daemon.
    match &node.docker {
        Driver::Healthy | Driver::Unknown | Driver::NotDetected => {}
        Driver::Unhealthy(why) if why.is_empty() => reasons.push("docker driver unhealthy".into()),
        Driver::Unhealthy(why) => reasons.push(format!("docker driver unhealthy: {why}")),
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// The clients that run a newer Nomad than the newest server: Nomad servers must be at least
/// as new as their clients.
fn version_skew(nodes: &[Node], servers: &[Member]) -> Option<Diagnosis> {
    let newest_server = servers.iter().filter_map(|s| version_of(&s.version)).max()?;
    let newer: Vec<&Node> =
        nodes.iter().filter(|n| version_of(&n.version).is_some_and(|v| v > newest_server)).collect();
    if newer.is_empty() {
        return None;
    }
    let (major, minor, patch) = newest_server;
    Some(
        Diagnosis::new(format!(
            "{} Nomad client(s) run a newer Nomad than the servers ({major}.{minor}.{patch})",
            newer.len()
        ))
        .observed_all(newer.iter().map(|n| format!("{} ({}): Nomad {}", n.name, n.short_id(), n.version)))
        .because(&VERSION_SKEW)
        .phase(&phase::NOMAD_CLIENTS),
    )
}

/// The oldest Docker major version CircleCI server does not support on its clients.
const FIRST_UNSUPPORTED_DOCKER: u32 = 29;

/// Whether a client runs docker jobs through a Docker daemon (Podman clients have no docker
/// driver, and run cgroups v2 as they should).
fn runs_docker(node: &Node) -> bool {
    node.docker != Driver::NotDetected
}

/// The clients whose Docker (29 or newer) or cgroups (v2 on a Docker client) CircleCI server
/// does not support.
pub(crate) fn unsupported_runtime(nodes: &[Node], details: &[NodeDetail]) -> Option<Diagnosis> {
    let mut observed = Vec::new();
    let (mut docker, mut cgroups) = (false, false);
    for detail in details {
        let Some(node) = nodes.iter().find(|node| node.id == detail.id) else { continue };
        if !runs_docker(node) {
            continue;
        }
        let mut why = Vec::new();
        if let Some(version) = detail
            .docker_version
            .as_deref()
            .filter(|v| version_of(v).is_some_and(|(major, ..)| major >= FIRST_UNSUPPORTED_DOCKER))
        {
            why.push(format!("Docker {version}"));
            docker = true;
        }
        if detail.cgroups_version.as_deref() == Some("2") {
            why.push("cgroups v2".to_string());
            cgroups = true;
        }
        if !why.is_empty() {
            observed.push(format!("{} ({}): {}", node.name, node.short_id(), why.join(", ")));
        }
    }
    if observed.is_empty() {
        return None;
    }
    let mut causes = Vec::new();
    if docker {
        causes.push(DOCKER_UNSUPPORTED.with(&[]));
    }
    if cgroups {
        causes.push(CGROUPS_V2.with(&[]));
    }
    Some(
        Diagnosis::new(format!(
            "{} Nomad client(s) run what CircleCI server does not support: {}",
            observed.len(),
            match (docker, cgroups) {
                (true, true) => "Docker 29 or newer, cgroups v2",
                (true, false) => "Docker 29 or newer",
                _ => "cgroups v2 with Docker",
            }
        ))
        .observed_all(observed)
        .because_all(causes)
        .phase(&phase::NOMAD_CLIENTS),
    )
}

/// `, Docker 28.1.1, cgroups v1` of the clients read, each value once.
pub(crate) fn runtime_note(details: &[NodeDetail]) -> String {
    let distinct = |values: Vec<&str>| {
        let mut values = values;
        values.sort_unstable();
        values.dedup();
        values.join(" and ")
    };
    let docker = distinct(details.iter().filter_map(|d| d.docker_version.as_deref()).collect());
    let cgroups = distinct(details.iter().filter_map(|d| d.cgroups_version.as_deref()).collect());
    let mut note = String::new();
    if !docker.is_empty() {
        note.push_str(&format!(", Docker {docker}"));
    }
    if !cgroups.is_empty() {
        note.push_str(&format!(", cgroups v{cgroups}"));
    }
    note
}

/// `1.7.7` (also `1.7.7-dev`, `v1.7.7+ent`) as numbers.
pub(crate) fn version_of(text: &str) -> Option<(u32, u32, u32)> {
    let core = text.trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Pass when at least `min_clients` nodes can take docker jobs and no client runs a newer
/// Nomad than the `servers`.
pub fn judge_clients(nodes: &[Node], details: &[NodeDetail], min_clients: u32, servers: &[Member]) -> Verdict {
    let phase = &phase::NOMAD_CLIENTS;
    if let Some(skew) = version_skew(nodes, servers) {
        return Verdict::Fail(skew);
    }
    if let Some(unsupported) = unsupported_runtime(nodes, details) {
        return Verdict::Fail(unsupported);
    }
    let usable = nodes.iter().filter(|n| unusable_because(n).is_none()).count();
    let drivers_unknown = nodes.iter().any(|n| n.docker == Driver::Unknown);
    let without_docker = nodes.iter().filter(|n| n.docker == Driver::NotDetected).count();
    if usable >= min_clients as usize {
        let driver_note = if drivers_unknown {
            " (driver health not shown by this CLI)".to_string()
        } else if without_docker > 0 {
            format!(", raw_exec healthy; no docker driver on {without_docker} (Podman clients)")
        } else {
            ", docker healthy".to_string()
        };
        return Verdict::Pass(format!(
            "{usable} of {} clients ready and eligible{driver_note}{}; {min_clients} needed",
            nodes.len(),
            runtime_note(details)
        ));
    }
    if nodes.is_empty() {
        return Verdict::Fail(
            Diagnosis::new("no Nomad client has joined the cluster")
                .observed("`nomad node status` lists no node")
                .because(&NO_CLIENT_JOINED)
                .phase(phase),
        );
    }
    let describe = |n: &Node| {
        let state = unusable_because(n).unwrap_or_else(|| "ready, eligible".into());
        format!("{} ({}): {state}", if n.name.is_empty() { "unnamed" } else { &n.name }, n.short_id())
    };
    let unusable: Vec<&Node> = nodes.iter().filter(|n| unusable_because(n).is_some()).collect();
    // Disabling a drain makes the node eligible again (unless -keep-ineligible).
    let eligibility_commands: Vec<String> = unusable
        .iter()
        .filter_map(|n| match (n.drain, n.eligibility.as_str()) {
            (true, _) => Some(format!("`nomad node drain -disable {}`", n.short_id())),
            (false, "eligible" | "") => None,
            (false, _) => Some(format!("`nomad node eligibility -enable {}`", n.short_id())),
        })
        .collect();
    let docker_broken = unusable.iter().any(|n| matches!(n.docker, Driver::Unhealthy(_)));
    let raw_exec_broken = unusable.iter().any(|n| matches!(n.raw_exec, Driver::NotDetected | Driver::Unhealthy(_)));
    let down = unusable.iter().any(|n| n.status != "ready");
    let eligibility_commands = eligibility_commands.join(", ");
    let mut causes: Vec<Stated> = Vec::new();
    if docker_broken {
        causes.push(DOCKER_UNHEALTHY.with(&[]));
    }
    if raw_exec_broken {
        causes.push(RAW_EXEC_UNHEALTHY.with(&[]));
    }
    if !eligibility_commands.is_empty() {
        causes.push(CLIENTS_INELIGIBLE.with(&[("commands", &eligibility_commands)]));
    }
    if down {
        causes.push(CLIENTS_DOWN.with(&[]));
    }
    if causes.is_empty() {
        causes.push(TOO_FEW_CLIENTS.with(&[("min_clients", &min_clients)]));
    }
    Verdict::Fail(
        Diagnosis::new(format!("{usable} of {} Nomad clients can run docker jobs; {min_clients} needed", nodes.len()))
            .observed_all(nodes.iter().map(describe))
            .because_all(causes)
            .phase(phase),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::nomad::{members, nodes};

    fn node(name: &str, status: &str, eligibility: &str, drain: bool, docker: Driver) -> Node {
        Node {
            id: format!("{name}-0000-1111-2222"),
            name: name.into(),
            status: status.into(),
            eligibility: eligibility.into(),
            drain,
            class: "linux-64bit".into(),
            pool: "default".into(),
            raw_exec: if docker == Driver::Unknown { Driver::Unknown } else { Driver::Healthy },
            docker,
            version: "1.7.7".into(),
        }
    }

    fn member(name: &str, status: &str, leader: Option<bool>) -> Member {
        Member { name: name.into(), address: "10.0.0.1".into(), status: status.into(), leader, version: "1.7.7".into() }
    }

    fn servers() -> Vec<Member> {
        vec![member("nomad-server-0.global", "alive", Some(true))]
    }

    #[test]
    fn ready_clients_pass_with_a_count() {
        let nodes = [
            node("i-a", "ready", "eligible", false, Driver::Healthy),
            node("i-b", "down", "eligible", false, Driver::Healthy),
        ];
        assert_eq!(
            judge_clients(&nodes, &[], 1, &servers()),
            Verdict::Pass("1 of 2 clients ready and eligible, docker healthy; 1 needed".into())
        );
        let table_nodes = [node("i-a", "ready", "eligible", false, Driver::Unknown)];
        let Verdict::Pass(note) = judge_clients(&table_nodes, &[], 1, &servers()) else { panic!("pass") };
        assert!(note.contains("not shown"), "{note}");
    }

    #[test]
    fn no_clients_points_at_joining() {
        let Verdict::Fail(diagnosis) = judge_clients(&[], &[], 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn draining_and_ineligible_clients() {
        let nodes = [
            node("i-a", "ready", "ineligible", true, Driver::Healthy),
            node("i-b", "ready", "ineligible", false, Driver::Healthy),
        ];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &[], 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn unhealthy_docker_driver() {
        let nodes =
            [node("i-a", "ready", "eligible", false, Driver::Unhealthy("Failed to connect to docker daemon".into()))];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &[], 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn too_few_clients_for_min_clients() {
        let nodes = [node("i-a", "ready", "eligible", false, Driver::Healthy)];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &[], 2, &servers()) else { panic!("fail") };
        assert_eq!(diagnosis.summary, "1 of 1 Nomad clients can run docker jobs; 2 needed");
        assert!(diagnosis.cause.contains("fewer clients joined"), "{}", diagnosis.cause);
        assert!(diagnosis.remediation.contains("at least 2"), "{}", diagnosis.remediation);
        assert_eq!(
            judge_clients(&[], &[], 0, &servers()),
            Verdict::Pass("0 of 0 clients ready and eligible, docker healthy; 0 needed".into())
        );
    }

    #[test]
    fn members_need_one_leader_and_all_alive() {
        let healthy = [member("s0", "alive", Some(true)), member("s1", "alive", Some(false))];
        assert_eq!(judge_members(&healthy, None), Verdict::Pass("2 servers alive, leader s0".into()));
        let scaled_down = [member("s0", "alive", Some(true)), member("s1", "left", Some(false))];
        assert_eq!(
            judge_members(&scaled_down, None),
            Verdict::Pass("1 server alive (1 left the cluster), leader s0".into())
        );
        let failed = [member("s0", "alive", Some(true)), member("s1", "failed", Some(false))];
        let Verdict::Fail(d) = judge_members(&failed, None) else { panic!("fail") };
        assert_eq!(d.summary, "1 of 2 Nomad servers alive: no quorum (2 needed)");
        assert_eq!(d.observed, ["s0 (10.0.0.1): alive, leader", "s1 (10.0.0.1): failed", "2 servers listed"]);
        let leaderless = [member("s0", "alive", Some(false)), member("s1", "alive", Some(false))];
        let Verdict::Fail(d) = judge_members(&leaderless, None) else { panic!("fail") };
        assert!(d.cause.contains("quorum"));
        let split = [member("s0", "alive", Some(true)), member("s1", "alive", Some(true))];
        let Verdict::Fail(d) = judge_members(&split, None) else { panic!("fail") };
        assert!(d.cause.contains("split brain"));
        assert!(matches!(judge_members(&[], None), Verdict::Fail(_)));
        let unknown = [member("s0", "alive", None), member("s1", "alive", None)];
        assert_eq!(
            judge_members(&unknown, None),
            Verdict::Pass("2 servers alive (the output does not show the leader)".into())
        );
    }

    #[test]
    fn why_a_client_is_unusable_names_each_reason() {
        let healthy = node("i-a", "ready", "eligible", false, Driver::Healthy);
        assert_eq!(unusable_because(&healthy), None);
        let with = |raw_exec: Driver, docker: Driver| unusable_because(&Node { raw_exec, docker, ..healthy.clone() });
        assert_eq!(
            with(Driver::Unhealthy(String::new()), Driver::Healthy).as_deref(),
            Some("raw_exec driver unhealthy")
        );
        assert_eq!(
            with(Driver::Unhealthy("exec disabled".into()), Driver::Healthy).as_deref(),
            Some("raw_exec driver unhealthy: exec disabled")
        );
        assert_eq!(with(Driver::NotDetected, Driver::Healthy).as_deref(), Some("no raw_exec driver"));
        assert_eq!(with(Driver::Healthy, Driver::Unhealthy(String::new())).as_deref(), Some("docker driver unhealthy"));
        assert_eq!(
            with(Driver::Healthy, Driver::Unhealthy("Failed to connect".into())).as_deref(),
            Some("docker driver unhealthy: Failed to connect")
        );
        assert_eq!(with(Driver::Healthy, Driver::NotDetected), None, "a Podman client has no docker driver");
        let everything = Node { status: String::new(), drain: true, eligibility: String::new(), ..healthy };
        assert_eq!(unusable_because(&everything).as_deref(), Some("status unknown, draining, eligibility unknown"));
    }

    #[test]
    fn exec_failures_name_their_cause() {
        let x509 = ExecOutput {
            stdout: String::new(),
            stderr: "Error querying node status: Get \"https://127.0.0.1:4646/v1/nodes\": x509: certificate signed by unknown authority\n".into(),
            exit_code: 1,
        };
        let diagnosis = exec_failure("circleci-server", "nomad-server-0", "nomad node status -json", &x509);
        insta::assert_debug_snapshot!(diagnosis);
        let missing = ExecOutput { stdout: String::new(), stderr: "exec: \"nomad\": not found".into(), exit_code: 127 };
        assert!(exec_failure("circleci-server", "frontend-1", "nomad", &missing).cause.contains("no nomad CLI"));
    }

    #[test]
    fn unreadable_tables_quote_the_first_line() {
        let html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n";
        let error = nodes::from_table(html).unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", "nomad node status", &error);
        insta::assert_debug_snapshot!(diagnosis);
        let long_line = format!("Error: {}", "x".repeat(200));
        let error = members::from_table(&long_line).unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", "nomad server members", &error);
        assert_eq!(diagnosis.observed[0], format!("first line: `Error: {}…`", "x".repeat(113)));
        assert!(diagnosis.summary.starts_with("`nomad server members` in pod nomad-server-0"));
        let empty = nodes::from_table("\n").unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", "nomad node status", &empty);
        assert_eq!(diagnosis.observed[0], "the output is empty");
    }

    #[test]
    fn a_gossip_key_reads_as_base64_or_as_32_raw_characters() {
        let key = STANDARD.encode([7u8; 32]);
        let readings = GossipKeyReading::of(format!("{key}\n").as_bytes());
        assert_eq!(readings.len(), 1);
        assert_eq!(
            (readings[0].described.as_str(), readings[0].key.as_str()),
            ("a base64 key of 32 bytes", key.as_str())
        );
        let raw = GossipKeyReading::of(b"0123456789abcdef0123456789abcdef");
        assert_eq!(raw.len(), 2, "32 characters of the base64 alphabet read both ways: {raw:?}");
        assert_eq!(raw[0].described, "a base64 key of 24 bytes");
        assert_eq!(raw[1].key, STANDARD.encode(b"0123456789abcdef0123456789abcdef"));
        assert!(GossipKeyReading::of(b"changeme").is_empty());
        assert!(GossipKeyReading::of(STANDARD.encode([1u8; 20]).as_bytes()).is_empty(), "20 bytes is no AES key");
    }

    #[test]
    fn the_installed_key_decides_which_reading_holds() {
        let raw = GossipKeyReading::of(b"0123456789abcdef0123456789abcdef");
        let installed = [raw[1].key.clone()];
        assert_eq!(
            judge_gossip_key("ns", "nomad-server-0", &raw, &installed),
            Verdict::Pass(
                "Secret nomad-gossip-encryption-key holds 32 raw characters (base64-encoded into the servers' key), the key the Nomad servers use (1 key installed)".into()
            )
        );
    }

    #[test]
    fn a_key_the_servers_do_not_use_names_the_rollout() {
        let readings = GossipKeyReading::of(STANDARD.encode([9u8; 32]).as_bytes());
        let installed = [STANDARD.encode([8u8; 32])];
        let Verdict::Fail(diagnosis) = judge_gossip_key("circleci-server", "nomad-server-1", &readings, &installed)
        else {
            panic!()
        };
        let text = format!("{diagnosis:?}");
        assert!(!text.contains(&installed[0]) && !text.contains(&readings[0].key), "no key is ever quoted: {text}");
        insta::assert_debug_snapshot!(diagnosis);
    }

    fn expected(count: u32) -> ExpectedServers {
        ExpectedServers { count, from: "the release's nomad.server.replicas".into() }
    }

    #[test]
    fn a_majority_of_the_expected_servers_is_green_with_a_note_fewer_is_no_quorum() {
        let five = |alive: usize| -> Vec<Member> {
            (0..5)
                .map(|i| {
                    member(
                        &format!("nomad-server-{i}"),
                        if i < alive { "alive" } else { "failed" },
                        Some(i == 0 && alive >= 3),
                    )
                })
                .collect()
        };
        assert_eq!(
            judge_members(&five(5), Some(&expected(5))),
            Verdict::Pass("5 servers alive, leader nomad-server-0".into())
        );
        assert_eq!(
            judge_members(&five(3), Some(&expected(5))),
            Verdict::Pass("3 of 5 servers alive, leader nomad-server-0; nomad-server-3 failed, nomad-server-4 failed (5 servers expected (the release's nomad.server.replicas)): the quorum of 3 holds, 1 more lost stops Nomad".into())
        );
        let Verdict::Fail(no_quorum) = judge_members(&five(2), Some(&expected(5))) else { panic!() };
        insta::assert_debug_snapshot!(no_quorum);
        let three_listed: Vec<Member> = five(5).into_iter().take(3).collect();
        let Verdict::Pass(note) = judge_members(&three_listed, Some(&expected(5))) else { panic!() };
        assert!(note.starts_with("3 of 5 servers alive") && note.contains("2 not listed"), "{note}");
        assert!(
            matches!(judge_members(&three_listed[..2], Some(&expected(5))), Verdict::Fail(_)),
            "2 of 5 expected: the missing ones count against the quorum"
        );
    }

    fn detail(node: &Node, docker: Option<&str>, cgroups: Option<&str>) -> NodeDetail {
        NodeDetail {
            id: node.id.clone(),
            name: node.name.clone(),
            nomad_version: Some(node.version.clone()),
            docker_version: docker.map(str::to_string),
            cgroups_version: cgroups.map(str::to_string),
            ..NodeDetail::default()
        }
    }

    #[test]
    fn docker_29_and_cgroups_v2_on_docker_clients_are_red_podman_clients_are_not() {
        let nodes = [
            node("i-a", "ready", "eligible", false, Driver::Healthy),
            node("i-b", "ready", "eligible", false, Driver::Healthy),
        ];
        let supported = [detail(&nodes[0], Some("28.1.1"), Some("1")), detail(&nodes[1], Some("28.1.1"), Some("1"))];
        assert_eq!(
            judge_clients(&nodes, &supported, 1, &servers()),
            Verdict::Pass(
                "2 of 2 clients ready and eligible, docker healthy, Docker 28.1.1, cgroups v1; 1 needed".into()
            )
        );
        let docker_29 = [detail(&nodes[0], Some("29.0.1"), Some("1")), detail(&nodes[1], Some("28.1.1"), Some("1"))];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &docker_29, 1, &servers()) else { panic!() };
        insta::assert_debug_snapshot!(diagnosis);
        let cgroups_v2 = [detail(&nodes[0], Some("28.1.1"), Some("2")), detail(&nodes[1], Some("28.1.1"), Some("2"))];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &cgroups_v2, 1, &servers()) else { panic!() };
        assert_eq!(
            diagnosis.summary,
            "2 Nomad client(s) run what CircleCI server does not support: cgroups v2 with Docker"
        );
        assert!(diagnosis.cause.contains("CgroupsV2 is currently unsupported"), "{diagnosis:?}");
        let podman = [node("i-p", "ready", "eligible", false, Driver::NotDetected)];
        let podman_details = [detail(&podman[0], None, Some("2"))];
        assert_eq!(
            judge_clients(&podman, &podman_details, 1, &servers()),
            Verdict::Pass("1 of 1 clients ready and eligible, raw_exec healthy; no docker driver on 1 (Podman clients), cgroups v2; 1 needed".into())
        );
    }

    /// The release of chart `version`, its servers in the cluster (`internal`) or outside.
    fn release(version: &str, internal: bool) -> InstalledRelease {
        let record = crate::clients::helm::ReleaseRecord {
            name: "circleci-server".into(),
            revision: 2,
            status: "deployed".into(),
            chart: "circleci-server".into(),
            chart_version: version.into(),
            last_deployed: None,
            description: "Upgrade complete".into(),
            deployed_revision: Some(2),
            autoscaler_scaling: None,
            nomad_server: crate::clients::helm::NomadServerValues { internal: Some(internal), ..Default::default() },
            ..Default::default()
        };
        let lookup = crate::versions::lookup(crate::versions::ServerVersion::parse(version).unwrap());
        InstalledRelease {
            records: Ok(vec![Ok(record)]),
            version: Some(crate::resources::release::InstalledVersion { lookup, source: "chart".into() }),
        }
    }

    #[test]
    fn in_cluster_servers_on_another_nomad_than_the_chart_s_image_are_noted() {
        let on =
            |version: &str| Member { version: version.into(), ..member("nomad-server-0.global", "alive", Some(true)) };
        assert_eq!(image_note(&release("4.10.0", true), &[on("1.11.3")]), "");
        assert_eq!(
            image_note(&release("4.10.0", true), &[on("1.10.0"), on("1.11.3")]),
            "; they run Nomad 1.10.0 and 1.11.3, not the 1.11.3 of server 4.10's chart (nomad.server.image overridden, or the StatefulSet not rolled by the upgrade)"
        );
        assert_eq!(
            image_note(&release("4.10.0", false), &[on("1.7.7")]),
            "",
            "Terraform's servers outside the cluster"
        );
        assert_eq!(
            image_note(&release("4.4.7", true), &[on("1.7.7")]),
            "",
            "4.4's chart image is CircleCI's own build"
        );
        assert_eq!(
            expected_servers(&release("4.10.0", true), None),
            Some(ExpectedServers { count: 5, from: "the default of server 4.10".into() })
        );
        assert_eq!(expected_servers(&release("4.10.0", false), None), None, "servers outside: those listed count");
        assert_eq!(
            expected_servers(&release("4.10.0", false), Some(3)),
            Some(ExpectedServers { count: 3, from: "the Raft peers".into() })
        );
    }

    #[test]
    fn podman_clients_without_docker_pass_with_a_note() {
        let nodes = [node("i-a", "ready", "eligible", false, Driver::NotDetected)];
        assert_eq!(
            judge_clients(&nodes, &[], 1, &servers()),
            Verdict::Pass(
                "1 of 1 clients ready and eligible, raw_exec healthy; no docker driver on 1 (Podman clients); 1 needed"
                    .into()
            )
        );
    }

    #[test]
    fn a_client_without_raw_exec_cannot_run_jobs() {
        let nodes =
            [Node { raw_exec: Driver::NotDetected, ..node("i-a", "ready", "eligible", false, Driver::Healthy) }];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &[], 1, &servers()) else { panic!("fail") };
        assert!(diagnosis.observed[0].contains("no raw_exec driver"), "{diagnosis:?}");
        assert!(diagnosis.remediation.contains(r#"plugin "raw_exec""#), "{diagnosis:?}");
    }

    #[test]
    fn a_client_newer_than_the_servers_is_red() {
        let nodes = [
            Node { version: "1.8.2".into(), ..node("i-new", "ready", "eligible", false, Driver::Healthy) },
            node("i-old", "ready", "eligible", false, Driver::Healthy),
        ];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, &[], 1, &servers()) else { panic!("fail") };
        assert_eq!(diagnosis.summary, "1 Nomad client(s) run a newer Nomad than the servers (1.7.7)");
        assert_eq!(diagnosis.observed, ["i-new (i-new-00): Nomad 1.8.2"]);
        assert_eq!(version_of("v1.7.10+ent"), Some((1, 7, 10)));
        assert_eq!(version_of(""), None);
        let unknown_servers = [Member { version: String::new(), ..member("s", "alive", Some(true)) }];
        assert!(
            matches!(judge_clients(&nodes, &[], 1, &unknown_servers), Verdict::Pass(_)),
            "no server version, no skew to judge"
        );
    }
}
