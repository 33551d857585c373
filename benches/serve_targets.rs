//! Benchmark: `realitycheck serve` (the release binary) watching 1, 10 and 50 simulated
//! installations with the `health` profile. For each size: the serve process's resident
//! memory (at start, at the end, peak), its CPU time between runs, per run and overall, the
//! runs completed, the requests each installation receives per run (CircleCI API and
//! Kubernetes API, with the TCP connections they took), and the size and time of `/metrics`
//! and `/api/v1/status`. Reproduce with `cargo bench --bench serve_targets`; BENCHMARKS.md
//! records the results.
//!
//! One simulation per target, each in this process (its own Kubernetes and CircleCI
//! listeners, its own request counters), so that every installation's requests are its own.
//! The simulated Kubernetes API counts no requests, so each target's kubeconfig points at a
//! small TCP proxy here that follows the HTTP/1.1 requests passing through it (request
//! line, `Content-Length` bodies, upgrades to WebSocket for `exec`); the CircleCI API (TLS)
//! goes through the same kind of proxy, which counts its connections and bytes only (the
//! simulation counts its requests).
//!
//! CPU "between runs": serve's CPU time (utime + stime of /proc/PID/stat) is sampled every
//! 100 ms; a sample interval counts as idle when it overlaps no run of any target (the runs'
//! start and duration as /api/v1/runs reports them, widened by 250 ms on each side), and the
//! idle CPU is the CPU time of those intervals over their wall time. Nothing polls serve
//! during the measured window.
//!
//! Settings (environment): REALITYCHECK_BENCH_EVERY (seconds between two runs of a target,
//! `--every`; default 30, at least 10), REALITYCHECK_BENCH_SIZES (default `1,10,50`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// The release binary cargo built for this bench.
const BINARY: &str = env!("CARGO_BIN_EXE_realitycheck");
/// The variable every target's `token_env` names.
const TOKEN_VAR: &str = "REALITYCHECK_BENCH_TOKEN";
/// How often serve's /proc entries are read during the window.
const SAMPLE: Duration = Duration::from_millis(100);
/// How far around a run its CPU is attributed to it, not to the time between runs.
const MARGIN_MS: u64 = 250;
/// `--history`: runs kept per target.
const HISTORY: u64 = 100;
/// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`, 100 on Linux).
const DEFAULT_CLK_TCK: u64 = 100;

// ---------------------------------------------------------------------------------------
// The counting proxy.

/// What went through one proxy.
#[derive(Default)]
struct Traffic {
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    /// HTTP/1.1 requests by `METHOD path` (only when the proxy follows HTTP).
    requests: Mutex<BTreeMap<String, u64>>,
    /// Connections whose requests could not be followed to their end (HTTP/2, chunked
    /// request bodies, huge heads): their later requests are not counted.
    unfollowed: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct TrafficSnapshot {
    connections: u64,
    bytes: u64,
    requests: BTreeMap<String, u64>,
    unfollowed: u64,
}

impl TrafficSnapshot {
    fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

impl Traffic {
    fn snapshot(&self) -> TrafficSnapshot {
        TrafficSnapshot {
            connections: self.connections.load(Ordering::SeqCst),
            bytes: self.bytes_up.load(Ordering::SeqCst) + self.bytes_down.load(Ordering::SeqCst),
            requests: self.requests.lock().unwrap().clone(),
            unfollowed: self.unfollowed.load(Ordering::SeqCst),
        }
    }

    fn count(&self, endpoint: String) {
        *self.requests.lock().unwrap().entry(endpoint).or_default() += 1;
    }
}

/// Where the client's byte stream is, for an HTTP/1.1 request parser.
enum Follow {
    Head,
    Body(u64),
    /// After an upgrade (or when lost): bytes pass uncounted.
    Raw,
}

struct RequestParser {
    state: Follow,
    head: Vec<u8>,
}

impl RequestParser {
    fn new() -> Self {
        Self { state: Follow::Head, head: Vec::new() }
    }

    fn feed(&mut self, mut data: &[u8], traffic: &Traffic) {
        while !data.is_empty() {
            match self.state {
                Follow::Raw => return,
                Follow::Body(left) => {
                    let take = left.min(data.len() as u64);
                    data = &data[usize::try_from(take).unwrap()..];
                    self.state = if take == left { Follow::Head } else { Follow::Body(left - take) };
                }
                Follow::Head => {
                    let before = self.head.len();
                    self.head.extend_from_slice(data);
                    let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if self.head.len() > 64 * 1024 {
                            traffic.unfollowed.fetch_add(1, Ordering::SeqCst);
                            self.state = Follow::Raw;
                        }
                        return;
                    };
                    data = &data[end + 4 - before..];
                    let head = std::mem::take(&mut self.head);
                    self.state = request(&head[..end + 4], traffic);
                }
            }
        }
    }
}

/// Counts the request whose head is `head`; what follows it.
fn request(head: &[u8], traffic: &Traffic) -> Follow {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.split(' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    if method == "PRI" {
        traffic.unfollowed.fetch_add(1, Ordering::SeqCst);
        return Follow::Raw;
    }
    let path = target.split('?').next().unwrap_or_default();
    let (mut length, mut chunked, mut upgrade) = (0u64, false, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "transfer-encoding" => chunked |= value.to_ascii_lowercase().contains("chunked"),
            "upgrade" => upgrade = true,
            _ => {}
        }
    }
    traffic.count(format!("{method} {path}{}", if upgrade { " (upgrade)" } else { "" }));
    if upgrade {
        Follow::Raw
    } else if chunked {
        traffic.unfollowed.fetch_add(1, Ordering::SeqCst);
        Follow::Raw
    } else if length > 0 {
        Follow::Body(length)
    } else {
        Follow::Head
    }
}

/// A proxy on a free loopback port to `upstream`; with `follow_http`, it counts the
/// HTTP/1.1 requests that pass.
async fn proxy(upstream: SocketAddr, follow_http: bool) -> (SocketAddr, Arc<Traffic>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let traffic = Arc::new(Traffic::default());
    let counting = Arc::clone(&traffic);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            counting.connections.fetch_add(1, Ordering::SeqCst);
            let traffic = Arc::clone(&counting);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up_traffic = Arc::clone(&traffic);
                let up = async move {
                    let mut parser = RequestParser::new();
                    let mut buffer = vec![0u8; 16 * 1024];
                    while let Ok(read @ 1..) = client_read.read(&mut buffer).await {
                        up_traffic.bytes_up.fetch_add(read as u64, Ordering::SeqCst);
                        if follow_http {
                            parser.feed(&buffer[..read], &up_traffic);
                        }
                        if server_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let down = async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
                        traffic.bytes_down.fetch_add(read as u64, Ordering::SeqCst);
                        if client_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (address, traffic)
}

// ---------------------------------------------------------------------------------------
// The simulated installations.

struct Installation {
    name: String,
    sim: SimServer,
    api: Arc<Traffic>,
    kube: Arc<Traffic>,
    api_proxy: SocketAddr,
    kube_proxy: SocketAddr,
}

/// What one installation had received at one moment, with the last run of its target then.
#[derive(Debug, Clone, Default)]
struct Counters {
    last_run_id: u64,
    api_requests: BTreeMap<String, u64>,
    api: TrafficSnapshot,
    kube: TrafficSnapshot,
}

impl Counters {
    fn api_total(&self) -> u64 {
        self.api_requests.values().sum()
    }
}

async fn installation(index: usize) -> Installation {
    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let kube_upstream = sim.local_addr();
    let api_upstream: SocketAddr = sim.circleci_url().trim_start_matches("https://").parse().unwrap();
    let (kube_proxy, kube) = proxy(kube_upstream, true).await;
    let (api_proxy, api) = proxy(api_upstream, false).await;
    Installation { name: format!("t{:02}", index + 1), sim, api, kube, api_proxy, kube_proxy }
}

/// The configuration of `serve`: one `[targets.tNN]` per installation, files in `dir`.
fn write_config(dir: &Path, installations: &[Installation]) -> std::path::PathBuf {
    let mut config = String::from("# Written by benches/serve_targets.rs\n");
    for installation in installations {
        let name = &installation.name;
        let kube_proxy = installation.kube_proxy;
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        let yaml =
            installation.sim.kubeconfig_yaml().replace(&installation.sim.kube_url(), &format!("http://{kube_proxy}"));
        std::fs::write(&kubeconfig, yaml).unwrap();
        let ca_bundle = dir.join(format!("{name}.ca.pem"));
        std::fs::write(&ca_bundle, installation.sim.ca_pem()).unwrap();
        config.push_str(&format!(
            "\n[targets.{name}]\nhost = \"https://{}\"\ntoken_env = \"{TOKEN_VAR}\"\nproject = \"{}\"\nca_bundle = \"{}\"\ncloud_provider = \"{}\"\n\
             [targets.{name}.kubernetes]\nkubeconfig = \"{}\"\ncontext = \"{}\"\n\
             [targets.{name}.pipeline]\nrunner_resource_class = \"{}\"\n",
            installation.api_proxy,
            realitycheck_sim::SIM_PROJECT,
            ca_bundle.display(),
            installation.sim.cloud_provider(),
            kubeconfig.display(),
            realitycheck_sim::KUBE_CONTEXT,
            realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS,
        ));
    }
    let path = dir.join("realitycheck.toml");
    std::fs::write(&path, config).unwrap();
    path
}

// ---------------------------------------------------------------------------------------
// The serve process: /proc, HTTP.

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    file_kib: u64,
    threads: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS"),
        hwm_kib: field("VmHWM"),
        anon_kib: field("RssAnon"),
        file_kib: field("RssFile"),
        threads: field("Threads"),
    }
}

/// utime + stime of the process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(14) + field(15)
}

fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(DEFAULT_CLK_TCK)
}

/// GET `path` over a new connection: the status, the body and how long it took.
fn http_get(address: SocketAddr, path: &str) -> (u16, Vec<u8>, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let elapsed = started.elapsed();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = answer[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body, elapsed)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
    body
}

fn get_json(address: SocketAddr, path: &str) -> Value {
    let (status, body, _) = http_get(address, path);
    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Unix milliseconds of `2026-03-02T09:30:00.250Z`, as serve writes times.
fn unix_millis(text: &str) -> u64 {
    let number = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second, millis) = (number(11..13), number(14..16), number(17..19), number(20..23));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis).unwrap()
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

struct Serve {
    child: Child,
    address: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn start_serve(dir: &Path, config: &Path, every: Duration, state_dir: Option<&Path>) -> Serve {
    let mut command = Command::new(BINARY);
    command.args(["serve", "--config"]).arg(config).args([
        "--every",
        &format!("{}s", every.as_secs()),
        "--listen",
        "127.0.0.1:0",
        "--history",
        &HISTORY.to_string(),
    ]);
    if let Some(state_dir) = state_dir {
        command.arg("--state-dir").arg(state_dir);
    }
    let mut child = command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env(TOKEN_VAR, realitycheck_sim::SIM_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{BINARY} starts: {e}"));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (found, address) = mpsc::channel();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let kept = Arc::clone(&stderr);
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("serving http://") {
                let _ = found.send(rest.split('/').next().unwrap_or_default().to_owned());
            }
            kept.lock().unwrap().push(line);
        }
    });
    let address = match address.recv_timeout(Duration::from_secs(30)) {
        Ok(address) => address.parse().unwrap(),
        Err(_) => {
            let _ = child.kill();
            panic!("serve did not say where it serves: {:?}", stderr.lock().unwrap());
        }
    };
    Serve { child, address, stderr }
}

impl Serve {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits (SIGKILL after 30 s).
    fn stop(mut self) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        started.elapsed()
    }
}

// ---------------------------------------------------------------------------------------
// Measuring.

/// Per target: whether it runs now, and its last run's ID.
fn target_states(address: SocketAddr) -> BTreeMap<String, (bool, Option<u64>)> {
    let status = get_json(address, "/api/v1/status");
    status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), (!t["running"].is_null(), t["last_run"]["id"].as_u64())))
        .collect()
}

/// Every installation's counters, each read while its target runs nothing (the status
/// says so before and after, with the same last run).
fn counters(address: SocketAddr, installations: &[Installation]) -> Vec<Counters> {
    let mut taken: Vec<Option<Counters>> = vec![None; installations.len()];
    let deadline = Instant::now() + Duration::from_secs(120);
    while taken.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "some targets never stopped running");
        let before = target_states(address);
        let mut read = Vec::new();
        for (index, installation) in installations.iter().enumerate() {
            let (running, last) = before[&installation.name];
            if taken[index].is_none() && !running {
                read.push((
                    index,
                    last,
                    Counters {
                        last_run_id: last.unwrap_or(0),
                        api_requests: installation.sim.circleci_state().request_counts(),
                        api: installation.api.snapshot(),
                        kube: installation.kube.snapshot(),
                    },
                ));
            }
        }
        let after = target_states(address);
        for (index, last, counters) in read {
            if after[&installations[index].name] == (false, last) {
                taken[index] = Some(counters);
            }
        }
        if taken.iter().any(Option::is_none) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    taken.into_iter().map(Option::unwrap).collect()
}

struct Sample {
    at_ms: u64,
    ticks: u64,
    rss_kib: u64,
}

#[derive(Debug)]
struct RunSeen {
    target: String,
    id: u64,
    start_ms: u64,
    duration_ms: u64,
    result: String,
}

fn runs(address: SocketAddr, limit: usize) -> Vec<RunSeen> {
    let runs = get_json(address, &format!("/api/v1/runs?limit={limit}"));
    runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| RunSeen {
            target: r["target"].as_str().unwrap().to_owned(),
            id: r["id"].as_u64().unwrap(),
            start_ms: unix_millis(r["started_at"].as_str().unwrap()),
            duration_ms: r["duration_ms"].as_u64().unwrap(),
            result: r["result"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Min and max of `values`, as `a` or `a–b`.
fn spread(values: impl IntoIterator<Item = f64>, decimals: usize) -> String {
    let values: Vec<f64> = values.into_iter().collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        "-".into()
    } else if format!("{min:.decimals$}") == format!("{max:.decimals$}") {
        format!("{min:.decimals$}")
    } else {
        format!("{min:.decimals$}–{max:.decimals$}")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

struct Row {
    targets: usize,
    lines: Vec<(String, String)>,
}

fn bench(runtime: &Runtime, targets: usize, every: Duration, tck: u64) -> Row {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| {
        println!("  {name:<44} {value}");
        lines.push((name.to_owned(), value));
    };
    println!("\n== {targets} target(s), --every {}s", every.as_secs());
    let started_sims = Instant::now();
    let installations: Vec<Installation> = runtime.block_on(async {
        let mut installations = Vec::new();
        for index in 0..targets {
            installations.push(installation(index).await);
        }
        installations
    });
    println!("  ({targets} simulations and their proxies started in {:.2}s)", started_sims.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &installations);
    let serve = start_serve(dir.path(), &config, every, None);
    let pid = serve.pid();
    let at_start = memory(pid);
    let started = Instant::now();

    // Every target's first run.
    loop {
        let states = target_states(serve.address);
        if states.values().all(|(_, last)| last.is_some()) {
            break;
        }
        assert!(started.elapsed() < every + Duration::from_secs(180), "the first runs did not all end");
        std::thread::sleep(Duration::from_millis(500));
    }
    let first_runs = started.elapsed();
    let before = counters(serve.address, &installations);

    // The window: nothing talks to serve, its /proc entries are read every 100 ms.
    let window = every * 2 + every / 5 + Duration::from_secs(3);
    let window_start = Instant::now();
    let mut samples = vec![Sample { at_ms: now_ms(), ticks: cpu_ticks(pid), rss_kib: memory(pid).rss_kib }];
    let mut next = window_start + SAMPLE;
    while window_start.elapsed() < window {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += SAMPLE;
        samples.push(Sample { at_ms: now_ms(), ticks: cpu_ticks(pid), rss_kib: memory(pid).rss_kib });
    }
    let at_end = memory(pid);
    let (window_start_ms, window_end_ms) = (samples[0].at_ms, samples.last().unwrap().at_ms);

    // What ran: the kept runs, and the runs going on at the end of the window.
    let seen = runs(serve.address, 1_000_000);
    let status = get_json(serve.address, "/api/v1/status");
    let mut busy: Vec<(u64, u64)> =
        seen.iter().map(|r| (r.start_ms.saturating_sub(MARGIN_MS), r.start_ms + r.duration_ms + MARGIN_MS)).collect();
    for target in status["targets"].as_array().unwrap() {
        if let Some(started_at) = target["running"]["started_at"].as_str() {
            busy.push((unix_millis(started_at).saturating_sub(MARGIN_MS), u64::MAX));
        }
    }
    let (mut idle_ms, mut idle_ticks, mut busy_ms, mut busy_ticks) = (0u64, 0u64, 0u64, 0u64);
    for pair in samples.windows(2) {
        let (from, to) = (pair[0].at_ms, pair[1].at_ms);
        let ticks = pair[1].ticks - pair[0].ticks;
        if busy.iter().any(|&(start, end)| start < to && end > from) {
            busy_ms += to - from;
            busy_ticks += ticks;
        } else {
            idle_ms += to - from;
            idle_ticks += ticks;
        }
    }
    let ticks_ms = |ticks: u64| ticks as f64 * 1000.0 / tck as f64;
    let window_ms = window_end_ms - window_start_ms;
    let window_ticks = samples.last().unwrap().ticks - samples[0].ticks;
    let in_window: Vec<&RunSeen> =
        seen.iter().filter(|r| r.start_ms >= window_start_ms && r.start_ms + r.duration_ms <= window_end_ms).collect();
    let runs_touching_window =
        seen.iter().filter(|r| r.start_ms < window_end_ms && r.start_ms + r.duration_ms > window_start_ms).count();

    // Requests per run of each installation, between the two readings.
    let after = counters(serve.address, &installations);
    // Read again: runs may have ended between the window's end and these readings.
    let all_runs = runs(serve.address, 1_000_000);
    let runs_between = |index: usize, from: u64, to: u64| {
        all_runs.iter().filter(|r| r.target == installations[index].name && r.id > from && r.id <= to).count() as u64
    };
    let mut per_run: Vec<(f64, f64, f64, f64, f64, f64)> = Vec::new();
    let mut first: Vec<(f64, f64)> = Vec::new();
    let mut endpoints_api: BTreeMap<String, u64> = BTreeMap::new();
    let mut endpoints_kube: BTreeMap<String, u64> = BTreeMap::new();
    let mut steady_runs = 0;
    let mut unfollowed = 0;
    for (index, (a, b)) in before.iter().zip(&after).enumerate() {
        let first_runs = runs_between(index, 0, a.last_run_id).max(1) as f64;
        first.push((a.api_total() as f64 / first_runs, a.kube.total_requests() as f64 / first_runs));
        let runs = runs_between(index, a.last_run_id, b.last_run_id);
        unfollowed += b.kube.unfollowed;
        if runs == 0 {
            continue;
        }
        steady_runs += runs;
        let n = runs as f64;
        per_run.push((
            (b.api_total() - a.api_total()) as f64 / n,
            (b.kube.total_requests() - a.kube.total_requests()) as f64 / n,
            (b.api.connections - a.api.connections) as f64 / n,
            (b.kube.connections - a.kube.connections) as f64 / n,
            (b.api.bytes - a.api.bytes) as f64 / n / 1024.0,
            (b.kube.bytes - a.kube.bytes) as f64 / n / 1024.0,
        ));
        if index == 0 {
            for (endpoint, count) in &b.api_requests {
                let diff = count - a.api_requests.get(endpoint).copied().unwrap_or(0);
                endpoints_api.insert(endpoint.clone(), diff / runs);
            }
            for (endpoint, count) in &b.kube.requests {
                let diff = count - a.kube.requests.get(endpoint).copied().unwrap_or(0);
                endpoints_kube.insert(endpoint.clone(), diff / runs);
            }
        }
    }

    // /metrics and /api/v1/status, after the window.
    let mut metrics = Vec::new();
    let mut status_times = Vec::new();
    for _ in 0..5 {
        let (code, body, elapsed) = http_get(serve.address, "/metrics");
        assert_eq!(code, 200);
        metrics.push((body.len(), elapsed));
        let (code, body, elapsed) = http_get(serve.address, "/api/v1/status");
        assert_eq!(code, 200);
        status_times.push((body.len(), elapsed));
    }
    let after_scrapes = memory(pid);
    let template = get_json(serve.address, &format!("/api/v1/runs/{}", seen[0].id));
    let stderr_lines = serve.stderr.lock().unwrap().clone();
    let stopped_in = serve.stop();
    let full = full_history(dir.path(), &config, every, &installations, &template, tck);
    runtime.block_on(async {
        for installation in installations {
            installation.sim.shutdown().await;
        }
    });

    let durations: Vec<u64> = {
        let mut d: Vec<u64> = seen.iter().map(|r| r.duration_ms).collect();
        d.sort_unstable();
        d
    };
    let mut results: BTreeMap<&str, usize> = BTreeMap::new();
    for run in &seen {
        *results.entry(run.result.as_str()).or_default() += 1;
    }
    let per_target_in_window: Vec<usize> =
        (0..targets).map(|i| in_window.iter().filter(|r| r.target == format!("t{:02}", i + 1)).count()).collect();
    let every_s = every.as_secs_f64();

    put("all first runs ended after", format!("{:.1} s", first_runs.as_secs_f64()));
    put("measured window", format!("{:.1} s ({} samples)", window_ms as f64 / 1000.0, samples.len()));
    put(
        "runs in the window per target (whole runs)",
        spread(per_target_in_window.iter().map(|&n| n as f64), 0) + &format!(" ({runs_touching_window} touching it)"),
    );
    put(
        "run duration (median, max)",
        format!(
            "{} ms, {} ms over {} runs",
            durations.get(durations.len() / 2).copied().unwrap_or(0),
            durations.last().copied().unwrap_or(0),
            durations.len()
        ),
    );
    put("run results", format!("{results:?}"));
    put(
        "RSS at start (before any run)",
        format!(
            "{:.1} MiB (anon {:.1}, file {:.1})",
            mib(at_start.rss_kib),
            mib(at_start.anon_kib),
            mib(at_start.file_kib)
        ),
    );
    put(
        "RSS at the end of the window",
        format!(
            "{:.1} MiB (anon {:.1}, file {:.1}); {} threads",
            mib(at_end.rss_kib),
            mib(at_end.anon_kib),
            mib(at_end.file_kib),
            at_end.threads
        ),
    );
    put("RSS in the window (min–max of samples)", spread(samples.iter().map(|s| mib(s.rss_kib)), 1) + " MiB");
    put("peak RSS (VmHWM) at the end of the window", format!("{:.1} MiB", mib(at_end.hwm_kib)));
    put("peak RSS after 5 /metrics + 5 /status", format!("{:.1} MiB", mib(after_scrapes.hwm_kib)));
    put(
        "CPU between runs",
        format!(
            "{:.2} % of a core ({:.0} ms CPU in {:.1} s without a run)",
            ticks_ms(idle_ticks) / idle_ms.max(1) as f64 * 100.0,
            ticks_ms(idle_ticks),
            idle_ms as f64 / 1000.0
        ),
    );
    let busy_cpu_ms = ticks_ms(busy_ticks);
    let idle_rate = ticks_ms(idle_ticks) / idle_ms.max(1) as f64;
    put(
        "CPU per run (busy CPU − idle rate, / runs)",
        format!(
            "{:.0} ms ({:.0} ms CPU in {:.1} s with runs, {runs_touching_window} runs)",
            (busy_cpu_ms - idle_rate * busy_ms as f64) / runs_touching_window.max(1) as f64,
            busy_cpu_ms,
            busy_ms as f64 / 1000.0
        ),
    );
    put(
        "CPU overall in the window",
        format!("{:.2} % of a core", ticks_ms(window_ticks) / window_ms.max(1) as f64 * 100.0),
    );
    put("API requests per run (first run)", spread(first.iter().map(|f| f.0), 1));
    put("API requests per run (later runs)", spread(per_run.iter().map(|p| p.0), 1));
    put("Kubernetes API requests per run (first run)", spread(first.iter().map(|f| f.1), 1));
    put("Kubernetes API requests per run (later runs)", spread(per_run.iter().map(|p| p.1), 1));
    put(
        "per installation per hour at this interval",
        format!(
            "API {}, Kubernetes {}",
            spread(per_run.iter().map(|p| p.0 * 3600.0 / every_s), 0),
            spread(per_run.iter().map(|p| p.1 * 3600.0 / every_s), 0)
        ),
    );
    put(
        "per installation per hour at every = 15m",
        format!(
            "API {}, Kubernetes {}",
            spread(per_run.iter().map(|p| p.0 * 4.0), 0),
            spread(per_run.iter().map(|p| p.1 * 4.0), 0)
        ),
    );
    put(
        "TCP connections per run (API TLS, Kubernetes)",
        format!("{}, {}", spread(per_run.iter().map(|p| p.2), 1), spread(per_run.iter().map(|p| p.3), 1)),
    );
    put(
        "KiB per run, both ways (API, Kubernetes)",
        format!("{}, {}", spread(per_run.iter().map(|p| p.4), 0), spread(per_run.iter().map(|p| p.5), 0)),
    );
    put("runs the per-run counts cover", format!("{steady_runs}"));
    put("Kubernetes connections not followed", format!("{unfollowed}"));
    let mut metric_ms: Vec<f64> = metrics.iter().map(|m| m.1.as_secs_f64() * 1000.0).collect();
    metric_ms.sort_by(f64::total_cmp);
    let mut status_ms: Vec<f64> = status_times.iter().map(|m| m.1.as_secs_f64() * 1000.0).collect();
    status_ms.sort_by(f64::total_cmp);
    put("/metrics size, time (median of 5)", format!("{} bytes, {:.1} ms", metrics[0].0, metric_ms[2]));
    put("/api/v1/status size, time (median of 5)", format!("{} bytes, {:.1} ms", status_times[0].0, status_ms[2]));
    put("stopped after SIGTERM in", format!("{:.2} s", stopped_in.as_secs_f64()));
    let warnings: Vec<&String> = stderr_lines.iter().filter(|l| !l.starts_with("serving http://")).collect();
    put("other lines on serve's stderr", format!("{}", warnings.len()));
    for line in warnings.iter().take(5) {
        println!("    | {line}");
    }
    for (name, value) in full {
        put(&name, value);
    }
    if targets == 1 {
        println!("  requests of one later run of t01, by endpoint:");
        for (endpoint, count) in endpoints_api.iter().chain(&endpoints_kube) {
            if *count > 0 {
                println!("    {count:>3}  {endpoint}");
            }
        }
    }
    Row { targets, lines }
}

/// serve restarted on a state dir that holds a full history (`HISTORY` runs per target,
/// copies of `template`, a real run's record), for one cycle: what the history costs.
fn full_history(
    dir: &Path,
    config: &Path,
    every: Duration,
    installations: &[Installation],
    template: &Value,
    tck: u64,
) -> Vec<(String, String)> {
    let state_dir = dir.join("state");
    std::fs::create_dir_all(&state_dir).unwrap();
    let mut lines = String::new();
    let every_ms = u64::try_from(every.as_millis()).unwrap();
    let now = now_ms();
    let mut id = 0;
    for turn in 0..HISTORY {
        for installation in installations {
            id += 1;
            let mut record = template.clone();
            record["id"] = id.into();
            record["target"] = installation.name.clone().into();
            record["started_at_ms"] = (now - (HISTORY - turn) * every_ms).into();
            lines.push_str(&serde_json::to_string(&record).unwrap());
            lines.push('\n');
        }
    }
    std::fs::write(state_dir.join("runs.jsonl"), &lines).unwrap();
    let spawned = Instant::now();
    let serve = start_serve(dir, config, every, Some(&state_dir));
    let serving_after = spawned.elapsed();
    let pid = serve.pid();
    let (at_start, ticks_at_start) = (memory(pid), cpu_ticks(pid));
    let restored = id;
    // Every target's next run; the status is read every 2 s meanwhile.
    loop {
        let states = target_states(serve.address);
        if states.values().all(|(running, last)| !running && last.is_some_and(|last| last > restored)) {
            break;
        }
        assert!(spawned.elapsed() < every * 2 + Duration::from_secs(120), "the runs after the restart did not all end");
        std::thread::sleep(Duration::from_secs(2));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (at_end, ticks_at_end) = (memory(pid), cpu_ticks(pid));
    let new_runs = runs(serve.address, installations.len() * 3).iter().filter(|r| r.id > restored).count();
    let time = |path: &str| {
        let mut times: Vec<(usize, f64)> = (0..5)
            .map(|_| {
                let (code, body, elapsed) = http_get(serve.address, path);
                assert_eq!(code, 200, "GET {path}");
                (body.len(), elapsed.as_secs_f64() * 1000.0)
            })
            .collect();
        times.sort_by(|a, b| a.1.total_cmp(&b.1));
        format!("{} bytes, {:.1} ms", times[2].0, times[2].1)
    };
    let metrics = time("/metrics");
    let status = time("/api/v1/status");
    let runs_page = time("/api/v1/runs");
    let after_scrapes = memory(pid);
    let ticks_ms = |ticks: u64| ticks as f64 * 1000.0 / tck as f64;
    serve.stop();
    vec![
        (
            format!("with a full history ({HISTORY} runs a target restored from --state-dir)"),
            format!("runs.jsonl {:.1} MiB", lines.len() as f64 / 1024.0 / 1024.0),
        ),
        (
            "- restored and serving after (CPU)".into(),
            format!("{:.2} s ({:.0} ms)", serving_after.as_secs_f64(), ticks_ms(ticks_at_start)),
        ),
        (
            "- RSS restored, before any run".into(),
            format!("{:.1} MiB (anon {:.1})", mib(at_start.rss_kib), mib(at_start.anon_kib)),
        ),
        (
            "- RSS after one more run of every target".into(),
            format!(
                "{:.1} MiB (anon {:.1}), peak {:.1} MiB",
                mib(at_end.rss_kib),
                mib(at_end.anon_kib),
                mib(at_end.hwm_kib)
            ),
        ),
        (
            "- CPU per run, state dir appended (status read every 2 s)".into(),
            format!("{:.0} ms ({new_runs} runs)", ticks_ms(ticks_at_end - ticks_at_start) / new_runs.max(1) as f64),
        ),
        ("- /metrics size, time (median of 5)".into(), metrics),
        ("- /api/v1/status size, time (median of 5)".into(), status),
        ("- /api/v1/runs (100 newest) size, time (median of 5)".into(), runs_page),
        ("- peak RSS after the 15 requests".into(), format!("{:.1} MiB", mib(after_scrapes.hwm_kib))),
    ]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not supported.
    let every = std::env::var("REALITYCHECK_BENCH_EVERY")
        .ok()
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .unwrap_or(30u64)
        .max(10);
    let sizes: Vec<usize> = std::env::var("REALITYCHECK_BENCH_SIZES")
        .unwrap_or_else(|_| "1,10,50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let tck = clk_tck();
    println!("serve_targets: {BINARY}");
    println!(
        "{} cores; --every {every}s (stagger {}s, jitter ≤ {} ms); CPU between runs: 100 ms samples \
         overlapping no run ± {MARGIN_MS} ms",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        every.min(60),
        every * 1000 / 20
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = Instant::now();
    let rows: Vec<Row> = sizes.iter().map(|&n| bench(&runtime, n, Duration::from_secs(every), tck)).collect();
    println!("\nsummary ({:.0} s in all):", started.elapsed().as_secs_f64());
    print!("| measure |");
    for row in &rows {
        print!(" {} target{} |", row.targets, if row.targets == 1 { "" } else { "s" });
    }
    println!("\n|---|{}", "---|".repeat(rows.len()));
    if let Some(first) = rows.first() {
        for (index, (name, _)) in first.lines.iter().enumerate() {
            print!("| {name} |");
            for row in &rows {
                print!(" {} |", row.lines.get(index).map(|l| l.1.as_str()).unwrap_or("-"));
            }
            println!();
        }
    }
}
