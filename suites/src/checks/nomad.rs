//! `nomad::*`: the Nomad control plane seen from the nomad CLI inside a Nomad server pod
//! (`nomad server members -json`, `nomad node status -json`, the table when JSON fails).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use harness::{Check, Diagnosis, Verdict};

use super::cause::{Because, Cause, Stated, StatedBy, Values, causes};
use super::{cluster_check, cluster_failed, cluster_failure, ids, optional_read_failed};
use crate::RealityCheck;
use crate::clients::cluster::ExecOutput;
use crate::clients::nomad::ParseError;
use crate::clients::nomad::keyring;
use crate::clients::nomad::members::{self, Member};
use crate::clients::nomad::nodes::{self, Driver, Node};
use crate::clients::nomad::table::NotATable;
use crate::phase;
use crate::resources::cluster::{ClusterAccess, NomadPodError};

pub fn servers_alive() -> Check<RealityCheck> {
    cluster_check(ids::SERVERS_ALIVE, "all Nomad servers alive, exactly one leader", |cluster, _| async move {
        let members = server_members(&cluster).await.map_err(Verdict::Fail)?;
        Ok(judge_members(&members))
    })
}

pub fn clients_ready() -> Check<RealityCheck> {
    cluster_check(
        ids::CLIENTS_READY,
        "enough Nomad clients ready, eligible, not draining, with a healthy docker driver",
        |cluster, _| async move {
            let nodes = client_nodes(&cluster).await.map_err(Verdict::Fail)?;
            let servers = server_members(&cluster).await.map_err(Verdict::Fail)?;
            Ok(judge_clients(&nodes, cluster.nomad().min_clients, &servers))
        },
    )
}

/// The Secret the install guide puts the gossip key in, and its key.
const GOSSIP_SECRET: &str = "nomad-gossip-encryption-key";
const GOSSIP_SECRET_KEY: &str = "gossip-key";

pub fn gossip_key() -> Check<RealityCheck> {
    let summary = "the gossip key Secret holds a usable key, and it is the key the Nomad servers use";
    cluster_check(ids::GOSSIP_KEY, summary, |access, _| async move {
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
        let (pod, installed) = installed_gossip_keys(&access).await.map_err(Verdict::Fail)?;
        Ok(judge_gossip_key(namespace, &pod, &readings, &installed))
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

/// The gossip keys the servers have installed, read in a server pod, with that pod's name.
async fn installed_gossip_keys(access: &ClusterAccess) -> Result<(String, Vec<String>), Diagnosis> {
    let pod = access.nomad_pod().await.map_err(|e| no_pod(&e))?;
    let cluster = access.client().await.map_err(|e| cluster_failure(&e))?;
    let mut command: &[&str] = &["nomad", "operator", "gossip", "keyring", "list"];
    let mut output = cluster.exec(pod, command).await.map_err(|e| cluster_failure(&e))?;
    if is_unknown_command(&output) {
        command = &["nomad", "operator", "keyring", "-list"];
        output = cluster.exec(pod, command).await.map_err(|e| cluster_failure(&e))?;
    }
    if output.exit_code != 0 {
        return Err(exec_failure(cluster.namespace(), pod, command, &output));
    }
    let keys =
        keyring::from_output(&output.stdout).map_err(|e| unreadable_table(cluster.namespace(), pod, command, &e))?;
    Ok((pod.to_string(), keys))
}

/// Whether the nomad CLI refused the command as one it does not know (it prints its usage):
/// Nomad before 1.4 has `operator keyring -list` instead of `operator gossip keyring list`.
fn is_unknown_command(output: &ExecOutput) -> bool {
    output.exit_code != 0 && output.stderr.contains("Usage")
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
    StatedBy::Checks(&[ids::SERVERS_ALIVE]) => {
        NO_MEMBERS:
            "the server has not joined its peers",
            "read the nomad-server pods' logs for join and raft errors";
        SERVERS_NOT_ALIVE:
            "a server pod restarted or lost gossip with its peers (status failed, left or leaving)",
            "check the Nomad server pods and their logs; a failed member leaves the list on its own once its pod is back";
        NO_LEADER:
            "raft has no quorum: too few servers, or they cannot reach each other on port 4647/4648",
            "bring the nomad-server pods back (all of them Running) and check the network policy between them";
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

/// The Nomad nodes, as `nomad node status` lists them (also for correlation by pipeline checks).
pub(crate) async fn client_nodes(cluster: &ClusterAccess) -> Result<Vec<Node>, Diagnosis> {
    query(cluster, &["node", "status"], nodes::from_json, nodes::from_table).await
}

/// The Nomad servers, as `nomad server members` lists them.
async fn server_members(cluster: &ClusterAccess) -> Result<Vec<Member>, Diagnosis> {
    query(cluster, &["server", "members"], members::from_json, members::from_table).await
}

/// Runs `nomad <args> -json` in the Nomad server pod and parses it; when the CLI has no
/// `-json` or its JSON cannot be read, runs `nomad <args>` and reads the table. Output that
/// is neither becomes a failure quoting it.
async fn query<T>(
    access: &ClusterAccess,
    args: &[&str],
    from_json: fn(&str) -> Result<T, ParseError>,
    from_table: fn(&str) -> Result<T, NotATable>,
) -> Result<T, Diagnosis> {
    let pod = access.nomad_pod().await.map_err(|e| no_pod(&e))?;
    let cluster = access.client().await.map_err(|e| cluster_failure(&e))?;
    let json_command: Vec<&str> = ["nomad"].iter().chain(args).chain(&["-json"]).copied().collect();
    let output = cluster.exec(pod, &json_command).await.map_err(|e| cluster_failure(&e))?;
    let json_unsupported = output.exit_code != 0 && output.stderr.contains("flag provided but not defined");
    if output.exit_code == 0 {
        match from_json(&output.stdout) {
            Ok(parsed) => return Ok(parsed),
            Err(e) => tracing::debug!(error = %e, "JSON unreadable; reading the table instead"),
        }
    } else if !json_unsupported {
        return Err(exec_failure(cluster.namespace(), pod, &json_command, &output));
    }
    let table_command: Vec<&str> = ["nomad"].iter().chain(args).copied().collect();
    let output = cluster.exec(pod, &table_command).await.map_err(|e| cluster_failure(&e))?;
    if output.exit_code != 0 {
        return Err(exec_failure(cluster.namespace(), pod, &table_command, &output));
    }
    from_table(&output.stdout).map_err(|e| unreadable_table(cluster.namespace(), pod, &table_command, &e))
}

fn no_pod(error: &NomadPodError) -> Diagnosis {
    match error {
        NomadPodError::Cluster(e) => cluster_failure(e),
        NomadPodError::NoReadyPod { selector, namespace, found } => {
            let diagnosis = Diagnosis::new(error.to_string())
                .phase(&phase::NOMAD_SERVERS)
                .observed_all(found.iter().map(|p| p.describe()));
            let cause = if found.is_empty() { &NO_SERVER_POD } else { &NO_READY_SERVER_POD };
            diagnosis.because(cause.with(&[("namespace", namespace), ("selector", selector)]))
        }
    }
}

/// A nomad command that ran but failed, with the cause its error text points at.
fn exec_failure(namespace: &str, pod: &str, command: &[&str], output: &ExecOutput) -> Diagnosis {
    let command = command.join(" ");
    let error = output.stderr.trim();
    let diagnosis = Diagnosis::new(format!("`{command}` in pod {pod} exited with code {}", output.exit_code))
        .observed_all(error.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev())
        .phase(&phase::NOMAD_SERVERS);
    if ["x509", "tls:", "certificate"].iter().any(|m| error.contains(m)) {
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
fn unreadable_table(namespace: &str, pod: &str, command: &[&str], error: &NotATable) -> Diagnosis {
    let command = command.join(" ");
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

/// Pass when every server is alive and exactly one leads.
pub fn judge_members(members: &[Member]) -> Verdict {
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
    let not_alive: Vec<&Member> = members.iter().filter(|m| !matches!(m.status.as_str(), "alive" | "left")).collect();
    let leaders: Vec<&Member> = members.iter().filter(|m| m.leader == Some(true)).collect();
    let leader_known = members.iter().any(|m| m.leader.is_some());
    if !not_alive.is_empty() {
        return Verdict::Fail(
            Diagnosis::new(format!("{} of {} Nomad servers are not alive", not_alive.len(), members.len()))
                .observed_all(members.iter().map(describe))
                .because(&SERVERS_NOT_ALIVE)
                .phase(phase),
        );
    }
    let alive = members.iter().filter(|m| m.status == "alive").count();
    let left = members.len() - alive;
    let alive_note = match (alive, left) {
        (1, 0) => "1 server alive".to_string(),
        (n, 0) => format!("{n} servers alive"),
        (n, left) => format!("{n} of {} servers alive ({left} left the cluster)", members.len()),
    };
    match leaders.len() {
        1 => Verdict::Pass(format!("{alive_note}, leader {}", leaders[0].name)),
        0 if !leader_known => Verdict::Pass(format!("{alive_note} (the output does not show the leader)")),
        0 => Verdict::Fail(
            Diagnosis::new("no Nomad server is the leader")
                .observed_all(members.iter().map(describe))
                .because(&NO_LEADER)
                .phase(phase),
        ),
        n => Verdict::Fail(
            Diagnosis::new(format!("{n} Nomad servers claim to lead"))
                .observed_all(members.iter().map(describe))
                .because(&SPLIT_BRAIN)
                .phase(phase),
        ),
    }
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

/// `1.7.7` (also `1.7.7-dev`, `v1.7.7+ent`) as numbers.
fn version_of(text: &str) -> Option<(u32, u32, u32)> {
    let core = text.trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Pass when at least `min_clients` nodes can take docker jobs and no client runs a newer
/// Nomad than the `servers`.
pub fn judge_clients(nodes: &[Node], min_clients: u32, servers: &[Member]) -> Verdict {
    let phase = &phase::NOMAD_CLIENTS;
    if let Some(skew) = version_skew(nodes, servers) {
        return Verdict::Fail(skew);
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
            "{usable} of {} clients ready and eligible{driver_note}; {min_clients} needed",
            nodes.len()
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
            judge_clients(&nodes, 1, &servers()),
            Verdict::Pass("1 of 2 clients ready and eligible, docker healthy; 1 needed".into())
        );
        let table_nodes = [node("i-a", "ready", "eligible", false, Driver::Unknown)];
        let Verdict::Pass(note) = judge_clients(&table_nodes, 1, &servers()) else { panic!("pass") };
        assert!(note.contains("not shown"), "{note}");
    }

    #[test]
    fn no_clients_points_at_joining() {
        let Verdict::Fail(diagnosis) = judge_clients(&[], 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn draining_and_ineligible_clients() {
        let nodes = [
            node("i-a", "ready", "ineligible", true, Driver::Healthy),
            node("i-b", "ready", "ineligible", false, Driver::Healthy),
        ];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn unhealthy_docker_driver() {
        let nodes =
            [node("i-a", "ready", "eligible", false, Driver::Unhealthy("Failed to connect to docker daemon".into()))];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, 1, &servers()) else { panic!("fail") };
        insta::assert_debug_snapshot!(diagnosis);
    }

    #[test]
    fn too_few_clients_for_min_clients() {
        let nodes = [node("i-a", "ready", "eligible", false, Driver::Healthy)];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, 2, &servers()) else { panic!("fail") };
        assert_eq!(diagnosis.summary, "1 of 1 Nomad clients can run docker jobs; 2 needed");
        assert!(diagnosis.cause.contains("fewer clients joined"), "{}", diagnosis.cause);
        assert!(diagnosis.remediation.contains("at least 2"), "{}", diagnosis.remediation);
        assert_eq!(
            judge_clients(&[], 0, &servers()),
            Verdict::Pass("0 of 0 clients ready and eligible, docker healthy; 0 needed".into())
        );
    }

    #[test]
    fn members_need_one_leader_and_all_alive() {
        let healthy = [member("s0", "alive", Some(true)), member("s1", "alive", Some(false))];
        assert_eq!(judge_members(&healthy), Verdict::Pass("2 servers alive, leader s0".into()));
        let scaled_down = [member("s0", "alive", Some(true)), member("s1", "left", Some(false))];
        assert_eq!(
            judge_members(&scaled_down),
            Verdict::Pass("1 of 2 servers alive (1 left the cluster), leader s0".into())
        );
        let failed = [member("s0", "alive", Some(true)), member("s1", "failed", Some(false))];
        let Verdict::Fail(d) = judge_members(&failed) else { panic!("fail") };
        assert_eq!(d.summary, "1 of 2 Nomad servers are not alive");
        assert_eq!(d.observed, ["s0 (10.0.0.1): alive, leader", "s1 (10.0.0.1): failed"]);
        let leaderless = [member("s0", "alive", Some(false)), member("s1", "alive", Some(false))];
        let Verdict::Fail(d) = judge_members(&leaderless) else { panic!("fail") };
        assert!(d.cause.contains("quorum"));
        let split = [member("s0", "alive", Some(true)), member("s1", "alive", Some(true))];
        let Verdict::Fail(d) = judge_members(&split) else { panic!("fail") };
        assert!(d.cause.contains("split brain"));
        assert!(matches!(judge_members(&[]), Verdict::Fail(_)));
        let unknown = [member("s0", "alive", None), member("s1", "alive", None)];
        assert_eq!(
            judge_members(&unknown),
            Verdict::Pass("2 servers alive (the output does not show the leader)".into())
        );
    }

    #[test]
    fn only_a_refused_command_printing_its_usage_is_unknown_to_the_cli() {
        let output =
            |exit_code: i32, stderr: &str| ExecOutput { stdout: String::new(), stderr: stderr.into(), exit_code };
        assert!(is_unknown_command(&output(1, "Usage: nomad operator keyring [options]")));
        assert!(!is_unknown_command(&output(0, "Usage: nomad operator gossip keyring <subcommand>")));
        assert!(!is_unknown_command(&output(1, "Error: x509: certificate signed by unknown authority")));
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
        let diagnosis = exec_failure("circleci-server", "nomad-server-0", &["nomad", "node", "status", "-json"], &x509);
        insta::assert_debug_snapshot!(diagnosis);
        let missing = ExecOutput { stdout: String::new(), stderr: "exec: \"nomad\": not found".into(), exit_code: 127 };
        assert!(exec_failure("circleci-server", "frontend-1", &["nomad"], &missing).cause.contains("no nomad CLI"));
    }

    #[test]
    fn unreadable_tables_quote_the_first_line() {
        let html = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n";
        let error = nodes::from_table(html).unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", &["nomad", "node", "status"], &error);
        insta::assert_debug_snapshot!(diagnosis);
        let long_line = format!("Error: {}", "x".repeat(200));
        let error = members::from_table(&long_line).unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", &["nomad", "server", "members"], &error);
        assert_eq!(diagnosis.observed[0], format!("first line: `Error: {}…`", "x".repeat(113)));
        assert!(diagnosis.summary.starts_with("`nomad server members` in pod nomad-server-0"));
        let empty = nodes::from_table("\n").unwrap_err();
        let diagnosis = unreadable_table("circleci-server", "nomad-server-0", &["nomad", "node", "status"], &empty);
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

    #[test]
    fn podman_clients_without_docker_pass_with_a_note() {
        let nodes = [node("i-a", "ready", "eligible", false, Driver::NotDetected)];
        assert_eq!(
            judge_clients(&nodes, 1, &servers()),
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
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, 1, &servers()) else { panic!("fail") };
        assert!(diagnosis.observed[0].contains("no raw_exec driver"), "{diagnosis:?}");
        assert!(diagnosis.remediation.contains(r#"plugin "raw_exec""#), "{diagnosis:?}");
    }

    #[test]
    fn a_client_newer_than_the_servers_is_red() {
        let nodes = [
            Node { version: "1.8.2".into(), ..node("i-new", "ready", "eligible", false, Driver::Healthy) },
            node("i-old", "ready", "eligible", false, Driver::Healthy),
        ];
        let Verdict::Fail(diagnosis) = judge_clients(&nodes, 1, &servers()) else { panic!("fail") };
        assert_eq!(diagnosis.summary, "1 Nomad client(s) run a newer Nomad than the servers (1.7.7)");
        assert_eq!(diagnosis.observed, ["i-new (i-new-00): Nomad 1.8.2"]);
        assert_eq!(version_of("v1.7.10+ent"), Some((1, 7, 10)));
        assert_eq!(version_of(""), None);
        let unknown_servers = [Member { version: String::new(), ..member("s", "alive", Some(true)) }];
        assert!(
            matches!(judge_clients(&nodes, 1, &unknown_servers), Verdict::Pass(_)),
            "no server version, no skew to judge"
        );
    }
}
