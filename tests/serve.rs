//! End-to-end tests of `realitycheck serve`: the binary, spawned on 127.0.0.1:0 with a
//! configuration of `[targets.NAME]` tables that point at simulated installations served by
//! this process (realitycheck-sim), each target with its own kubeconfig, CA bundle and token
//! variable. The tests read serve's address from its stderr and wait for what they assert on
//! its JSON API (polling, bounded), never on a bare sleep. Prometheus, promtool and Chromium
//! tests skip when the tool is absent, and fail then under REALITYCHECK_REQUIRE_TOOLS=1.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use realitycheck_sim::circleci::{ApiBehaviour, Fault, FaultPlan};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::{SimOptions, SimServer};
use realitycheck_sim::{KUBE_CONTEXT, SIM_PROJECT, SIM_TOKEN};
use serde_json::Value;
use tempfile::TempDir;

/// The check whose verdict differs between the two scenarios, and its diagnosis there.
const CLIENTS_READY: &str = "nomad::clients_ready";
const NO_CLIENT: &str = "no Nomad client has joined the cluster";

// ---------------------------------------------------------------------------------------
// Simulated installations and the configuration that names them

/// One target of the configuration: its name, the simulation it points at, and how.
struct TargetSpec {
    name: &'static str,
    scenario: Scenario,
    api: ApiBehaviour,
    token_env: &'static str,
}

impl TargetSpec {
    fn new(name: &'static str, scenario: Scenario, token_env: &'static str) -> TargetSpec {
        TargetSpec { name, scenario, api: ApiBehaviour::for_scenario(scenario), token_env }
    }

    fn with_api(self, api: ApiBehaviour) -> TargetSpec {
        TargetSpec { api, ..self }
    }
}

/// The usual pair: `good` (healthy) and `broken` (no Nomad client joined).
fn good_and_broken() -> Vec<TargetSpec> {
    vec![
        TargetSpec::new("good", Scenario::Healthy, "GOOD_CIRCLE_TOKEN"),
        TargetSpec::new("broken", Scenario::NoNomadClients, "BROKEN_CIRCLE_TOKEN"),
    ]
}

/// Simulated installations served on a runtime of this process (its worker threads serve
/// them while the test blocks), and `realitycheck.toml` with a target for each.
struct Installations {
    sims: Vec<(&'static str, SimServer)>,
    env: Vec<(String, String)>,
    config: PathBuf,
    /// Kept alive: its worker threads serve the simulations.
    _runtime: tokio::runtime::Runtime,
}

impl Installations {
    fn start(dir: &Path, targets: Vec<TargetSpec>) -> Installations {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut sims = Vec::new();
        let mut env = Vec::new();
        let mut toml = String::new();
        for spec in targets {
            let options = SimOptions { api: spec.api, ..SimOptions::for_scenario(spec.scenario) };
            let sim = runtime
                .block_on(SimServer::start_with(spec.scenario, ([127, 0, 0, 1], 0).into(), options))
                .expect("the simulation starts");
            let kubeconfig = dir.join(format!("{}.kubeconfig", spec.name));
            std::fs::write(&kubeconfig, sim.kubeconfig_yaml()).unwrap();
            let ca_bundle = dir.join(format!("{}.ca.pem", spec.name));
            std::fs::write(&ca_bundle, sim.ca_pem()).unwrap();
            toml.push_str(&format!(
                "[targets.{name}]\nhost = {host:?}\ntoken_env = {token_env:?}\nproject = {SIM_PROJECT:?}\n\
                 ca_bundle = {ca_bundle:?}\ncloud_provider = {cloud:?}\n\n\
                 [targets.{name}.kubernetes]\nkubeconfig = {kubeconfig:?}\ncontext = {KUBE_CONTEXT:?}\n\n",
                name = spec.name,
                host = sim.circleci_url(),
                token_env = spec.token_env,
                cloud = sim.cloud_provider(),
            ));
            env.push((spec.token_env.to_string(), SIM_TOKEN.to_string()));
            sims.push((spec.name, sim));
        }
        let config = dir.join("realitycheck.toml");
        std::fs::write(&config, toml).unwrap();
        Installations { sims, env, config, _runtime: runtime }
    }

    fn sim(&self, name: &str) -> &SimServer {
        &self.sims.iter().find(|(n, _)| *n == name).expect("a target of that name").1
    }

    /// `serve --config realitycheck.toml` in `dir`, with the targets' token variables set and
    /// the canary off: its runs would go on when the tests ask for runs and count webhooks
    /// (`the_canary_exports_how_long_the_jobs_waited` tests it).
    fn serve(&self, dir: &Path) -> Command {
        let mut command = self.serve_with_canary(dir);
        command.args(["--canary-every", "off"]);
        command
    }

    /// `serve --config realitycheck.toml` in `dir`, with the targets' token variables set.
    fn serve_with_canary(&self, dir: &Path) -> Command {
        let mut command = common::realitycheck(dir);
        command.arg("serve").arg("--config").arg(&self.config).args(["--listen", "127.0.0.1:0"]).envs(self.env.clone());
        command
    }
}

impl Drop for Installations {
    fn drop(&mut self) {
        // The simulations stop with their senders; the runtime then ends their tasks.
        self.sims.clear();
    }
}

// ---------------------------------------------------------------------------------------
// The serve process

/// A running `realitycheck serve`: its address (from its stderr) and its output so far.
/// Killed when dropped.
struct Serve {
    child: Child,
    address: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    readers: Vec<thread::JoinHandle<()>>,
}

impl Serve {
    /// Spawns `command` and waits until it says where it serves.
    fn start(mut command: Command) -> Serve {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("serve starts");
        let (stderr, stdout) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
        let (address_sender, address) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        let stderr_reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                {
                    let mut text = collected.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
                if let Some((_, rest)) = line.split_once("serving http://") {
                    let address = rest.split('/').next().unwrap_or_default().to_string();
                    let _ = address_sender.send(address);
                }
            }
        });
        let pipe = child.stdout.take().unwrap();
        let collected = Arc::clone(&stdout);
        let stdout_reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(pipe).read_to_string(&mut text);
            collected.lock().unwrap().push_str(&text);
        });
        let said = address.recv_timeout(Duration::from_secs(30));
        let Ok(said) = said else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = stderr_reader.join();
            panic!("serve never said where it serves; stderr:\n{}", stderr.lock().unwrap());
        };
        let address: SocketAddr = said.parse().unwrap_or_else(|e| panic!("`{said}` is not an address: {e}"));
        assert!(address.ip().is_loopback() && address.port() != 0, "serve printed {address} for --listen 127.0.0.1:0");
        Serve { child, address, stderr, stdout, readers: vec![stderr_reader, stdout_reader] }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn get(&self, path: &str) -> Reply {
        request(self.address, "GET", path, None)
    }

    /// A GET that must answer 200 with JSON.
    fn json(&self, path: &str) -> Value {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("GET {path}: {e}: {}", reply.body))
    }

    fn status(&self) -> Value {
        self.json("/api/v1/status")
    }

    fn post_run(&self, target: &str, bearer: Option<&str>) -> Reply {
        request(self.address, "POST", &format!("/api/v1/runs?target={target}"), bearer)
    }

    /// Waits until the status satisfies `done`, which returns what the test wants of it.
    fn wait_for_status<T>(&self, what: &str, timeout: Duration, mut done: impl FnMut(&Value) -> Option<T>) -> T {
        let mut last = Value::Null;
        wait_for(what, timeout, || {
            last = self.status();
            done(&last).ok_or_else(|| format!("{last:#}"))
        })
    }

    /// Waits until every target in `names` has a finished run; returns the status then.
    fn wait_for_runs(&self, names: &[&str], timeout: Duration) -> Value {
        self.wait_for_status(&format!("a finished run of {names:?}"), timeout, |status| {
            names.iter().all(|name| !target(status, name)["last_run"].is_null()).then(|| status.clone())
        })
    }

    /// Sends SIGTERM and waits (at most 20 s) for the process to end; returns its status and
    /// how long it took.
    fn terminate(&mut self) -> (ExitStatus, Duration) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let signalled = Instant::now();
        let status = wait_for("serve to exit after SIGTERM", Duration::from_secs(20), || {
            self.child.try_wait().unwrap().ok_or_else(|| self.stderr())
        });
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status, signalled.elapsed())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` every 50 ms until it gives a value; fails after `timeout` with what it said
/// last.
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => {
                assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}; last:\n{last}")
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A target of the status document.
fn target<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["targets"]
        .as_array()
        .and_then(|targets| targets.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no target {name} in {status:#}"))
}

/// A check of a target of the status document.
fn check<'a>(target: &'a Value, id: &str) -> &'a Value {
    target["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {target:#}"))
}

/// The value of the sample of `family` whose labels include every one of `labels`.
fn sample(metrics: &str, family: &str, labels: &[(&str, &str)]) -> Option<String> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(family)?.strip_prefix('{')?;
        labels.iter().all(|(name, value)| rest.contains(&format!("{name}=\"{value}\""))).then(|| value.to_string())
    })
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client and webhook receiver (std only)

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One request on its own connection (`Connection: close`).
fn request(address: SocketAddr, method: &str, path: &str, bearer: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n");
    if let Some(token) = bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body: String::from_utf8(body).expect("a UTF-8 body") }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = std::str::from_utf8(&data[..end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|size| *size > 0) else { return out };
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// A webhook receiver: answers 200 to every POST and keeps what it got.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

#[derive(Debug, Clone)]
struct Received {
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Receiver {
    /// Listens on 127.0.0.1; the URL has a path and a query, as Slack's secret-bearing ones do.
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/services/T000/B000/hook-secret-path?key=hook-secret-key",
            listener.local_addr().unwrap()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let kept = Arc::clone(&kept);
                thread::spawn(move || serve_connection(stream, &kept));
            }
        });
        Receiver { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` POSTs came; returns them.
    fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        wait_for(&format!("{count} webhook POSTs"), timeout, || {
            let received = self.received();
            if received.len() >= count { Ok(received) } else { Err(format!("{received:#?}")) }
        })
    }
}

/// Reads requests off one (keep-alive) connection until it closes.
fn serve_connection(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let target = request_line.split(' ').take(2).collect::<Vec<_>>().join(" ");
        kept.lock().unwrap().push(Received { target, headers, body: String::from_utf8_lossy(&body).into_owned() });
        if writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests

/// Two targets, one broken: the first runs are staggered over the interval (10 s apart for
/// two targets every 20 s), the broken one is failing with the diagnosis and the other is
/// unaffected, in the status API and in the metrics; a requested run is accepted, and a
/// second request while it goes on is refused with 409.
#[test]
fn two_targets_one_broken_the_other_unaffected() {
    let dir = TempDir::new().unwrap();
    // good's API answers every request 500 ms late: each of its runs lasts seconds (the
    // preflight and the API checks wait for it in turn), long enough to be seen going on.
    let slow = ApiBehaviour { delay: Duration::from_millis(500), faults: FaultPlan::none() };
    let installations = Installations::start(
        dir.path(),
        vec![
            TargetSpec::new("good", Scenario::Healthy, "GOOD_CIRCLE_TOKEN").with_api(slow),
            TargetSpec::new("broken", Scenario::NoNomadClients, "BROKEN_CIRCLE_TOKEN"),
        ],
    );
    let state_dir = dir.path().join("state");
    let mut command = installations.serve(dir.path());
    command.args(["--every", "20s", "--state-dir"]).arg(&state_dir);
    let serve = Serve::start(command);
    assert!(serve.stderr().contains("2 targets (broken, good), profile health, every 20s"), "{}", serve.stderr());

    let status = serve.wait_for_runs(&["good", "broken"], Duration::from_secs(40));
    assert_eq!(status["schema_version"], "realitycheck.status/v1");
    let (good, broken) = (target(&status, "good"), target(&status, "broken"));
    assert_eq!(good["health"], "passing", "{good:#}");
    assert_eq!(good["last_run"]["result"], "passed", "{good:#}");
    assert_eq!(good["interval_seconds"], 20);
    assert_eq!(check(good, CLIENTS_READY)["status"], "passed");
    assert!(check(good, CLIENTS_READY).get("diagnosis").is_none(), "{good:#}");
    assert_eq!(broken["health"], "failing", "{broken:#}");
    assert_eq!(broken["last_run"]["result"], "failed", "{broken:#}");
    assert_eq!(check(broken, CLIENTS_READY)["status"], "failed");
    assert_eq!(check(broken, CLIENTS_READY)["diagnosis"], NO_CLIENT, "{broken:#}");
    assert!(check(broken, CLIENTS_READY)["consecutive_failures"].as_u64() >= Some(1), "{broken:#}");
    // Only the Nomad checks the missing clients break fail on broken; the rest passes there too.
    let failed: BTreeSet<&str> = broken["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(failed, BTreeSet::from([CLIENTS_READY, "nomad::autoscaler"]));

    // The stagger: broken (first by name) at once, good half the interval later.
    let started = |name: &str| {
        let runs = serve.json(&format!("/api/v1/runs?target={name}"));
        let first = runs["runs"].as_array().unwrap().iter().filter_map(|run| run["id"].as_u64()).min().unwrap();
        serve.json(&format!("/api/v1/runs/{first}"))["started_at_ms"].as_u64().unwrap()
    };
    let apart = started("good").abs_diff(started("broken"));
    assert!((9_500..=11_500).contains(&apart), "the first runs started {apart} ms apart, not 10 s");

    let metrics = serve.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").is_some_and(|t| t.starts_with("text/plain")), "{metrics:?}");
    let success =
        |name: &str| sample(&metrics.body, "realitycheck_check_success", &[("target", name), ("check", CLIENTS_READY)]);
    assert_eq!(success("good").as_deref(), Some("1"), "{}", metrics.body);
    assert_eq!(success("broken").as_deref(), Some("0"), "{}", metrics.body);
    let runs = |name: &str, result: &str| {
        sample(&metrics.body, "realitycheck_runs_total", &[("target", name), ("result", result)])
            .and_then(|count| count.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(runs("good", "passed") >= 1 && runs("good", "failed") == 0, "{}", metrics.body);
    assert!(runs("broken", "failed") >= 1 && runs("broken", "passed") == 0, "{}", metrics.body);

    // A run asked for: accepted; asked again while it goes on: refused.
    let accepted = serve.post_run("good", None);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_u64().unwrap();
    assert_eq!(accepted.json()["url"], format!("/api/v1/runs/{id}"));
    serve.wait_for_status(&format!("run {id} going on"), Duration::from_secs(10), |status| {
        (target(status, "good")["running"]["id"] == id).then_some(())
    });
    let refused = serve.post_run("good", None);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.json()["error"].as_str().unwrap().contains(&format!("run {id} going on")), "{}", refused.body);
    let going_on = serve.get(&format!("/api/v1/runs/{id}"));
    assert_eq!((going_on.status, going_on.json()["state"].as_str()), (202, Some("running")), "{}", going_on.body);
    assert_eq!(serve.post_run("nowhere", None).status, 404);

    let record = wait_for(&format!("run {id} to end"), Duration::from_secs(30), || {
        let reply = serve.get(&format!("/api/v1/runs/{id}"));
        if reply.status == 200 { Ok(reply.json()) } else { Err(reply.body) }
    });
    assert_eq!((record["target"].as_str(), record["trigger"].as_str()), (Some("good"), Some("request")));
    assert_eq!(record["result"], "passed", "{record:#}");
    let broken = serve.json("/api/v1/runs?target=broken");
    assert!(
        broken["runs"].as_array().unwrap().iter().all(|run| run["id"] != id),
        "the request ran good only: {broken:#}"
    );
    // Every run finished so far is in the state dir.
    let kept = std::fs::read_to_string(state_dir.join("runs.jsonl")).unwrap();
    assert!(kept.lines().count() >= 3, "{kept}");
}

/// The canary: right after the first run of the health profile, a run of the canary profile
/// triggers the simulation's pipeline for its docker job (and its machine job on aws), and
/// serve exports how long each waited in the queue and ran, against the target's threshold;
/// the health checks' state stays the health runs' alone.
#[test]
fn the_canary_exports_how_long_the_jobs_waited() {
    let dir = TempDir::new().unwrap();
    let installations =
        Installations::start(dir.path(), vec![TargetSpec::new("good", Scenario::Healthy, "GOOD_CIRCLE_TOKEN")]);
    let sim = installations.sim("good");
    let mut command = installations.serve_with_canary(dir.path());
    command.args(["--every", "1h"]);
    let serve = Serve::start(command);
    let stderr = serve.stderr();
    assert!(stderr.contains("1 target (good), profile health, every 1h; canary every 1h"), "{stderr}");
    assert!(
        stderr.contains(
            "note: the canary (profile canary) triggers a pipeline of the realitycheck project on good every 1h"
        ),
        "{stderr}"
    );

    let status = serve.wait_for_status("the first canary", Duration::from_secs(90), |status| {
        let good = target(status, "good");
        (!good["canary"]["last_run"].is_null()).then(|| good.clone())
    });
    let canary = &status["canary"];
    assert_eq!(canary["last_run"]["result"], "passed", "{status:#}");
    assert_eq!((canary["profile"].as_str(), canary["max_wait_seconds"].as_u64()), (Some("canary"), Some(180)));
    assert_eq!(status["last_run"]["result"], "passed", "the health run went first: {status:#}");
    assert!(
        status["checks"].as_array().unwrap().iter().all(|c| !c["id"].as_str().unwrap().starts_with("executors::")),
        "the health checks are the health runs' alone: {status:#}"
    );
    let executors: Vec<&str> =
        canary["jobs"].as_array().unwrap().iter().filter_map(|j| j["executor"].as_str()).collect();
    let expected: &[&str] = if sim.cloud_provider() == "other" { &["docker"] } else { &["docker", "machine"] };
    assert_eq!(executors, expected, "{canary:#}");
    let record = serve.json(&format!("/api/v1/runs/{}", canary["last_run"]["id"]));
    let checks: Vec<&str> = record["checks"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(checks, ["executors::docker", "executors::machine"], "only the job checks: {record:#}");
    let pipelines = sim.circleci_state().pipeline_summaries();
    assert_eq!(pipelines.len(), 1, "one pipeline, the canary's; the health run triggers none: {pipelines:#?}");
    let jobs: Vec<&str> =
        pipelines[0].workflows.iter().flat_map(|w| w.jobs.iter().map(|(name, _)| name.as_str())).collect();
    assert!(jobs.contains(&"docker"), "{pipelines:#?}");

    let metrics = serve.get("/metrics").body;
    let job = |family: &str| sample(&metrics, family, &[("target", "good"), ("executor", "docker")]);
    let waited: f64 = job("realitycheck_job_wait_seconds").expect("the docker job's wait").parse().unwrap();
    let ran: f64 = job("realitycheck_job_run_seconds").expect("the docker job's run time").parse().unwrap();
    assert!((0.0..60.0).contains(&waited) && (0.0..60.0).contains(&ran), "{metrics}");
    assert_eq!(job("realitycheck_job_wait_consecutive_over_threshold").as_deref(), Some("0"), "{metrics}");
    let threshold = sample(&metrics, "realitycheck_job_wait_threshold_seconds", &[("target", "good")]);
    assert_eq!(threshold.as_deref(), Some("180"), "{metrics}");
    let canary_success =
        sample(&metrics, "realitycheck_canary_check_success", &[("target", "good"), ("check", "executors::docker")]);
    assert_eq!(canary_success.as_deref(), Some("1"), "{metrics}");
    assert!(
        sample(&metrics, "realitycheck_check_success", &[("target", "good"), ("check", "executors::docker")]).is_none(),
        "{metrics}"
    );
    let page = serve.get("/").body;
    assert!(page.contains("<span class=\"badge passing\">CANARY PASSING</span> canary"), "{page}");
}

/// SIGTERM while a run waits on the installation: serve exits 0 at once, and the run is
/// recorded as interrupted in the state dir, which a restarted serve serves.
#[test]
fn sigterm_mid_run_exits_0_and_keeps_the_interrupted_run() {
    let dir = TempDir::new().unwrap();
    // Listing contexts answers after 5 minutes: contexts::org_global waits on it.
    let hung = FaultPlan::repeating(1, [(1, Fault::AnswerAfter(Duration::from_secs(300)))]).only("GET /api/v2/context");
    let installations = Installations::start(
        dir.path(),
        vec![
            TargetSpec::new("stuck", Scenario::Healthy, "STUCK_CIRCLE_TOKEN")
                .with_api(ApiBehaviour { delay: Duration::ZERO, faults: hung }),
        ],
    );
    let sim = installations.sim("stuck");
    let state_dir = dir.path().join("state");
    let serve_command = || {
        let mut command = installations.serve(dir.path());
        command.args(["--every", "1h", "--state-dir"]).arg(&state_dir);
        command
    };
    let contexts_listed = || sim.circleci_state().request_counts().get("GET /api/v2/context").copied().unwrap_or(0);

    let mut serve = Serve::start(serve_command());
    let running = serve.wait_for_status("the first run going on", Duration::from_secs(20), |status| {
        let running = &target(status, "stuck")["running"];
        (!running.is_null() && contexts_listed() > 0).then(|| running.clone())
    });
    let id = running["id"].as_u64().unwrap();
    assert_eq!(running["trigger"], "schedule");
    let (exit, took) = serve.terminate();
    eprintln!("serve stopped {took:?} after SIGTERM");
    let stderr = serve.stderr();
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(5), "serve took {took:?} to stop: {stderr}");
    assert!(stderr.contains("stopping: cancelling the runs going on"), "{stderr}");
    assert!(stderr.contains("stopped: the runs going on were cancelled and recorded"), "{stderr}");

    let kept = std::fs::read_to_string(state_dir.join("runs.jsonl")).unwrap();
    let records: Vec<Value> = kept.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(records.len(), 1, "{kept}");
    let record = &records[0];
    assert_eq!((record["id"].as_u64(), record["target"].as_str()), (Some(id), Some("stuck")), "{record:#}");
    assert_eq!(record["result"], "interrupted", "{record:#}");
    assert_eq!(record["stopped_because"], "the run was cancelled (signal)", "{record:#}");
    let org_global = record["checks"].as_array().unwrap().iter().find(|c| c["id"] == "contexts::org_global").unwrap();
    assert_eq!(org_global["status"], "skipped", "{org_global:#}");
    assert!(org_global["skip_reason"].as_str().unwrap().starts_with("interrupted"), "{org_global:#}");

    // Restarted on the same state dir: the interrupted run is served, and IDs go on after it.
    let mut again = Serve::start(serve_command());
    let runs = again.json("/api/v1/runs");
    let listed = runs["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{runs:#}");
    assert_eq!((listed[0]["id"].as_u64(), listed[0]["result"].as_str()), (Some(id), Some("interrupted")));
    assert_eq!(again.json(&format!("/api/v1/runs/{id}"))["result"], "interrupted");
    let page = again.get(&format!("/runs/{id}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Stopped early:</b> the run was cancelled (signal)"), "{}", page.body);
    let next = again.wait_for_status("the restarted serve's run", Duration::from_secs(20), |status| {
        target(status, "stuck")["running"]["id"].as_u64()
    });
    assert!(next > id, "run {next} after restored run {id}");
    let (exit, _) = again.terminate();
    assert_eq!(exit.code(), Some(0), "{}", again.stderr());
    let kept = std::fs::read_to_string(state_dir.join("runs.jsonl")).unwrap();
    assert_eq!(kept.lines().count(), 2, "{kept}");
}

/// Neither the CircleCI token (a target's token_env, CIRCLE_TOKEN) nor the API's bearer
/// token reaches any page, document, metric, webhook body or log line, even at -vvv.
#[test]
fn the_tokens_never_appear_in_pages_api_metrics_webhooks_or_logs() {
    const UNUSED_CIRCLE_TOKEN: &str = "CCIPAT_unused_circle_token_9c2e71";
    const API_TOKEN: &str = "rc-api-bearer-5f0d8a3b27e94c61";
    let dir = TempDir::new().unwrap();
    let installations = Installations::start(dir.path(), good_and_broken());
    let receiver = Receiver::start();
    let api_token_file = dir.path().join("api-token");
    std::fs::write(&api_token_file, format!("{API_TOKEN}\n")).unwrap();
    let mut command = installations.serve(dir.path());
    command
        .arg("-vvv")
        .args(["--every", "1h", "--webhook", &receiver.url, "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--api-token-file")
        .arg(&api_token_file)
        .env("CIRCLE_TOKEN", UNUSED_CIRCLE_TOKEN);
    let mut serve = Serve::start(command);

    let mut seen: Vec<(String, String)> = Vec::new();
    for (bearer, expected) in [(None, 401), (Some("not-the-token"), 401), (Some(API_TOKEN), 202)] {
        let reply = serve.post_run("good", bearer);
        assert_eq!(reply.status, expected, "{bearer:?}: {}", reply.body);
        seen.push((format!("POST with {bearer:?}"), format!("{:?}\n{}", reply.headers, reply.body)));
    }
    serve.wait_for_runs(&["good", "broken"], Duration::from_secs(30));
    receiver.wait_for(2, Duration::from_secs(20));

    let mut paths = vec![
        "/".to_string(),
        "/metrics".into(),
        "/api/v1/status".into(),
        "/api/v1/runs".into(),
        "/healthz".into(),
        "/readyz".into(),
        "/runs/999".into(),
    ];
    for run in serve.json("/api/v1/runs")["runs"].as_array().unwrap() {
        let id = run["id"].as_u64().unwrap();
        paths.push(format!("/runs/{id}"));
        paths.push(format!("/api/v1/runs/{id}"));
    }
    for path in &paths {
        let reply = serve.get(path);
        seen.push((format!("GET {path}"), format!("{:?}\n{}", reply.headers, reply.body)));
    }
    for received in receiver.received() {
        seen.push((format!("webhook {}", received.target), received.body));
    }
    let (exit, _) = serve.terminate();
    assert_eq!(exit.code(), Some(0));
    let stderr = serve.stderr();
    assert!(stderr.contains("DEBUG") || stderr.contains("TRACE"), "-vvv logs: {stderr}");
    seen.push(("stderr".into(), stderr));
    seen.push(("stdout".into(), serve.stdout.lock().unwrap().clone()));
    seen.push(("runs.jsonl".into(), std::fs::read_to_string(dir.path().join("state/runs.jsonl")).unwrap()));
    for (what, text) in &seen {
        // The webhook's URL too: its path and query are secrets when they are Slack's.
        for secret in [SIM_TOKEN, UNUSED_CIRCLE_TOKEN, API_TOKEN, "hook-secret"] {
            assert!(!text.contains(secret), "{secret} leaked into {what}:\n{text}");
        }
    }
    assert!(seen.iter().any(|(what, text)| what == "GET /metrics" && text.contains("realitycheck_check_success")));
}

/// The webhook gets one POST per check of the broken target first seen failing, as
/// realitycheck's JSON and as Slack's `{"text"}`; the healthy target sends none.
#[test]
fn webhooks_announce_the_failing_checks_as_json_and_as_slack_text() {
    let dir = TempDir::new().unwrap();
    let installations = Installations::start(dir.path(), good_and_broken());
    let host = installations.sim("broken").circleci_url();
    let (json_receiver, slack_receiver) = (Receiver::start(), Receiver::start());
    let mut json = installations.serve(dir.path());
    json.args(["--every", "1h", "--webhook", &json_receiver.url]);
    let json = Serve::start(json);
    let mut slack = installations.serve(dir.path());
    slack.args(["--every", "1h", "--target", "broken", "--webhook-format", "slack", "--webhook", &slack_receiver.url]);
    let slack = Serve::start(slack);
    assert_eq!(json.post_run("good", None).status, 202, "good runs now, not half a minute later");

    let status = json.wait_for_runs(&["good", "broken"], Duration::from_secs(30));
    let broken_run = target(&status, "broken")["last_run"]["id"].as_u64().unwrap();
    let bodies: Vec<Value> = json_receiver
        .wait_for(2, Duration::from_secs(20))
        .iter()
        .map(|received| {
            assert_eq!(received.target, "POST /services/T000/B000/hook-secret-path?key=hook-secret-key");
            let header = |name: &str| received.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            assert_eq!(header("content-type"), Some("application/json"), "{received:?}");
            assert!(header("user-agent").is_some_and(|ua| ua.starts_with("realitycheck/")), "{received:?}");
            serde_json::from_str(&received.body).unwrap()
        })
        .collect();
    let checks: BTreeSet<&str> = bodies.iter().filter_map(|b| b["check"].as_str()).collect();
    assert_eq!(checks, BTreeSet::from([CLIENTS_READY, "nomad::autoscaler"]), "{bodies:#?}");
    for body in &bodies {
        assert_eq!(body["schema_version"], "realitycheck.webhook/v1", "{body:#}");
        assert_eq!((body["target"].as_str(), body["host"].as_str()), (Some("broken"), Some(host.as_str())), "{body:#}");
        assert_eq!(
            (&body["from"], body["to"].as_str()),
            (&Value::Null, Some("failing")),
            "first seen failing: {body:#}"
        );
        assert_eq!(body["run_id"].as_u64(), Some(broken_run), "{body:#}");
        assert!(body["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{body:#}");
        assert!(body["diagnosis"]["cause"].as_str().is_some_and(|c| !c.is_empty()), "{body:#}");
        assert!(body["diagnosis"]["remediation"].as_str().is_some_and(|r| !r.is_empty()), "{body:#}");
    }
    let clients = bodies.iter().find(|b| b["check"] == CLIENTS_READY).unwrap();
    assert_eq!(clients["diagnosis"]["summary"], NO_CLIENT, "{clients:#}");
    assert_eq!(clients["diagnosis"]["phase"], "Nomad clients", "{clients:#}");
    assert!(clients["diagnosis"]["observed"].to_string().contains("lists no node"), "{clients:#}");

    let texts: Vec<String> = slack_receiver
        .wait_for(2, Duration::from_secs(30))
        .iter()
        .map(|received| {
            let body: Value = serde_json::from_str(&received.body).unwrap();
            let object = body.as_object().unwrap();
            assert_eq!(object.keys().collect::<Vec<_>>(), ["text"], "{body:#}");
            body["text"].as_str().unwrap().to_string()
        })
        .collect();
    let text = texts
        .iter()
        .find(|t| t.contains(&format!("`{CLIENTS_READY}` is failing")))
        .unwrap_or_else(|| panic!("{texts:#?}"));
    assert!(
        text.starts_with(&format!(
            ":red_circle: realitycheck: `{CLIENTS_READY}` is failing on broken ({host})\n*{NO_CLIENT}*\nCause: "
        )),
        "{text}"
    );
    assert!(text.contains("\nWhat to do: "), "{text}");

    // serve counts a delivery once the receiver has answered; good passed at its first run,
    // which is no news.
    let deliveries = |metrics: &str, name: &str, result: &str| {
        sample(metrics, "realitycheck_webhook_deliveries_total", &[("target", name), ("result", result)])
    };
    let metrics = wait_for("the deliveries to be counted", Duration::from_secs(10), || {
        let metrics = json.get("/metrics").body;
        if deliveries(&metrics, "broken", "delivered").as_deref() == Some("2") { Ok(metrics) } else { Err(metrics) }
    });
    assert_eq!(deliveries(&metrics, "broken", "failed").as_deref(), Some("0"), "{metrics}");
    assert_eq!(deliveries(&metrics, "good", "delivered").as_deref(), Some("0"), "{metrics}");
    assert_eq!(json_receiver.received().len(), 2, "{:#?}", json_receiver.received());
    for serve in [&json, &slack] {
        assert!(!serve.stderr().contains("hook-secret"), "the webhook's URL is a secret: {}", serve.stderr());
    }
}

/// A Prometheus server started by the test, on its own temp config.
struct Prometheus {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, scrape: SocketAddr) -> Prometheus {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: realitycheck\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{scrape}']\n"
            ),
        )
        .unwrap();
        let address = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("prometheus starts");
        Prometheus { child, address, log }
    }

    /// The vector a query returns, once Prometheus answers it.
    fn query(&mut self, query: &str) -> Result<Vec<Value>, String> {
        if let Some(exit) = self.child.try_wait().unwrap() {
            panic!("prometheus exited ({exit}): {}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
        if TcpStream::connect(self.address).is_err() {
            return Err("prometheus is not listening yet".into());
        }
        let reply = request(self.address, "GET", &format!("/api/v1/query?query={}", percent_encode(query)), None);
        if reply.status != 200 {
            return Err(reply.body);
        }
        let answer = reply.json();
        assert_eq!(answer["status"], "success", "{answer:#}");
        Ok(answer["data"]["result"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address on 127.0.0.1 that was free a moment ago.
fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Whether `program --version` runs; when it does not, the test skips (fails in CI).
fn tool(program: &str) -> bool {
    match Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            common::skip_unless_required(&format!("`{program} --version` failed ({status})"));
            false
        }
        Err(error) => {
            common::skip_unless_required(&format!("cannot run {program}: {error}"));
            false
        }
    }
}

/// A serve of `good` and `broken`, both with a finished run: broken's comes at once, good's
/// is asked for (else it would come half a minute later).
fn serve_good_and_broken(dir: &Path, installations: &Installations) -> Serve {
    let mut command = installations.serve(dir);
    command.args(["--every", "1h"]);
    let serve = Serve::start(command);
    assert_eq!(serve.post_run("good", None).status, 202);
    serve.wait_for_runs(&["good", "broken"], Duration::from_secs(30));
    serve
}

/// promtool lints the served exposition; a real Prometheus scrapes it and answers a query
/// with check success 1 for good and 0 for broken.
#[test]
fn prometheus_scrapes_serve_and_sees_each_targets_verdict() {
    if !tool("promtool") || !tool("prometheus") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let installations = Installations::start(dir.path(), good_and_broken());
    let serve = serve_good_and_broken(dir.path(), &installations);

    let metrics = serve.get("/metrics").body;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
    let linted = promtool.wait_with_output().unwrap();
    assert!(
        linted.status.success() && linted.stdout.is_empty() && linted.stderr.is_empty(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&linted.stdout),
        String::from_utf8_lossy(&linted.stderr)
    );

    let mut prometheus = Prometheus::start(dir.path(), serve.address);
    let query = format!("realitycheck_check_success{{check=\"{CLIENTS_READY}\"}}");
    let series = wait_for("Prometheus to have scraped both targets' verdicts", Duration::from_secs(30), || {
        let series = prometheus.query(&query)?;
        if series.len() == 2 { Ok(series) } else { Err(format!("{series:#?}")) }
    });
    let value_of = |name: &str| {
        let one = series.iter().find(|s| s["metric"]["target"] == name).unwrap_or_else(|| panic!("{series:#?}"));
        assert_eq!(one["metric"]["job"], "realitycheck", "{one:#}");
        assert_eq!(one["metric"]["instance"], serve.address.to_string(), "{one:#}");
        assert_eq!(one["metric"]["suite"], "nomad", "{one:#}");
        one["value"][1].as_str().unwrap().to_string()
    };
    assert_eq!((value_of("good"), value_of("broken")), ("1".to_string(), "0".to_string()));
    let up = prometheus.query("up{job=\"realitycheck\"}").unwrap();
    assert_eq!(up.len(), 1, "{up:#?}");
    assert_eq!(up[0]["value"][1], "1", "{up:#?}");
}

/// Headless Chromium renders the status page: both targets, the red check's `<details>` with
/// its diagnosis, no script; and a screenshot of it (docs/status-page.png with
/// REALITYCHECK_UPDATE_DOCS=1).
#[test]
fn chromium_renders_the_status_page_without_script() {
    if !tool("chromium") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let installations = Installations::start(dir.path(), good_and_broken());
    let serve = serve_good_and_broken(dir.path(), &installations);
    let chromium = |args: &[String]| {
        let output = Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", dir.path().join("chromium").display()))
            .args(args)
            .env("HOME", dir.path())
            .output()
            .expect("chromium runs");
        assert!(output.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let url = format!("http://{}/", serve.address);

    let dom = chromium(&["--dump-dom".into(), url.clone()]);
    assert!(dom.contains("<title>realitycheck: 1 of 2 targets failing</title>"), "{dom}");
    assert!(dom.contains("id=\"target-good\"") && dom.contains("id=\"target-broken\""), "{dom}");
    assert!(dom.contains("<section class=\"target passing\" id=\"target-good\">"), "{dom}");
    assert!(dom.contains("<section class=\"target failing\" id=\"target-broken\">"), "{dom}");
    let broken = &dom[dom.find("id=\"target-broken\"").unwrap()..];
    let details = &broken[broken.find("<details class=\"check failed\">").expect("a red cell")..];
    let details = &details[..details.find("</details>").unwrap()];
    assert!(details.contains(&format!("<summary>{CLIENTS_READY} — {NO_CLIENT}</summary>")), "{details}");
    assert!(details.contains("Likely cause:") && details.contains("retry_join"), "{details}");
    assert!(dom.contains("profile health · every 1h</small>"), "{dom}");
    assert!(!dom.contains("<script"), "the page needs no script: {dom}");

    // A text fragment inside the red cell's diagnosis: Chromium opens the <details> holding it.
    let screenshot = dir.path().join("status-page.png");
    chromium(&[
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,1000".into(),
        format!("{url}#:~:text=Likely%20cause"),
    ]);
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1280, 1000), "the window's size");
    assert!(png.len() > 30_000, "a page's worth of pixels, not a blank: {} bytes", png.len());
    if std::env::var("REALITYCHECK_UPDATE_DOCS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status-page.png");
        std::fs::copy(&screenshot, &docs).unwrap();
        eprintln!("wrote {}", docs.display());
    }
}

/// Under `prlimit --nofile=256:256`, 300 idle connections neither exhaust serve's file
/// descriptors nor keep `/healthz` from answering: serve caps its connections under the limit
/// and closes the idle ones after its header timeout.
#[test]
fn healthz_answers_under_a_low_fd_limit_with_300_idle_connections() {
    if !tool("prlimit") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let installations =
        Installations::start(dir.path(), vec![TargetSpec::new("good", Scenario::Healthy, "GOOD_CIRCLE_TOKEN")]);
    let inner = installations.serve(dir.path());
    let mut command = Command::new("prlimit");
    command.arg("--nofile=256:256").arg(inner.get_program()).args(inner.get_args()).args(["--every", "1h"]);
    if let Some(dir) = inner.get_current_dir() {
        command.current_dir(dir);
    }
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let serve = Serve::start(command);
    assert!(serve.stderr().contains("serve holds at most 128 connections at once"), "{}", serve.stderr());
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(serve.address).unwrap()).collect();

    let mut stream = TcpStream::connect(serve.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap_or_else(|e| panic!("/healthz never answered: {e}\n{}", serve.stderr()));
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n"), "{answer}");
    assert!(!serve.stderr().contains("Too many open files"), "{}", serve.stderr());
    drop(idle);
}
