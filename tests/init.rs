//! End-to-end tests of `realitycheck init`: on a terminal (a pseudo-terminal from util-linux
//! `script`), answering its questions against a simulated installation, with checks that
//! pass, fail and are kept or answered again; off a terminal, with flags; what it writes.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{realitycheck, report_filters, run};
use realitycheck_config::{REFERENCE_CONFIG, Starter, setting};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use tempfile::TempDir;

/// A token the simulation refuses, in a variable of its own.
const WRONG_TOKEN: &str = "CCIPAT_wrong_token_of_the_init_test_9f2c";

/// Whether util-linux `script` is here; the test is skipped (mandatory in CI) without it.
fn have_script() -> bool {
    if Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    common::skip_unless_required("util-linux `script` (a pseudo-terminal) is not installed");
    false
}

/// `realitycheck <args>` on a pseudo-terminal, in the hermetic environment of the other tests,
/// answered line by line as its questions appear.
struct Terminal {
    child: Child,
    input: ChildStdin,
    seen: Arc<Mutex<String>>,
    read_up_to: usize,
}

impl Terminal {
    fn start(dir: &Path, args: &str, envs: &[(&str, &str)]) -> Terminal {
        let hermetic = realitycheck(dir);
        let binary = env!("CARGO_BIN_EXE_realitycheck");
        let mut command = Command::new("script");
        command.args(["-qec", &format!("{binary} {args}"), "/dev/null"]).current_dir(dir);
        for (name, value) in hermetic.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.envs(envs.iter().copied()).env_remove("CI");
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("script runs");
        let input = child.stdin.take().unwrap();
        let mut output = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = output.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]).replace('\r', ""));
            }
        });
        Terminal { child, input, seen, read_up_to: 0 }
    }

    /// Waits until `text` appears after what was already expected.
    fn expect(&mut self, text: &str) {
        let start = Instant::now();
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if let Some(at) = seen[self.read_up_to..].find(text) {
                self.read_up_to += at + text.len();
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "`{text}` never appeared; the terminal shows:\n{seen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter.
    fn answer(&mut self, line: &str) {
        self.input.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the end; the exit code and everything the terminal showed.
    fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let seen = self.seen.lock().unwrap().clone();
        (status.code().unwrap_or(-1), seen)
    }
}

/// The transcript with what changes from run to run replaced: ports, temporary paths.
fn transcript_filters() -> insta::Settings {
    let mut settings = report_filters();
    settings.add_filter(r"os error \d+", "os error N");
    settings
}

/// On a terminal, init asks each question with its default; a host that does not answer, a
/// refused token and a malformed runner class are answered again, a project not found on the
/// installation is kept; the answers land in the written file, the token never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_init_asks_checks_each_answer_and_writes_them() {
    if !have_script() {
        return;
    }
    let sim = SimServer::start(Scenario::Healthy, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let dir = TempDir::new().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig_yaml()).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (host, ca_bundle) = (sim.circleci_url(), sim.ca_bundle().display().to_string());
    let root = dir.path().to_path_buf();
    let (code, transcript) = tokio::task::spawn_blocking(move || {
        let envs = [
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("REALITYCHECK_CA_BUNDLE", ca_bundle.as_str()),
            ("CIRCLE_TOKEN", realitycheck_sim::SIM_TOKEN),
            ("WRONG_TOKEN", WRONG_TOKEN),
        ];
        let mut terminal = Terminal::start(&root, "init", &envs);
        terminal.expect("CircleCI server host, the base URL (Enter to leave it unset: the cluster checks only): ");
        terminal.answer(&format!("http://{closed}/"));
        terminal.expect("Type another value, or Enter to keep");
        terminal.answer(&host);
        terminal.expect("answers like the CircleCI API");
        terminal.expect("[CIRCLE_TOKEN]: ");
        terminal.answer("WRONG_TOKEN");
        terminal.expect("Type another value, or Enter to keep WRONG_TOKEN: ");
        terminal.answer("CIRCLE_TOKEN");
        terminal.expect("authenticated as");
        terminal.expect("Kube context of the cluster the installation runs in [realitycheck-sim]: ");
        terminal.answer("");
        terminal.expect("Namespace of the CircleCI server release [circleci-server]: ");
        terminal.answer("");
        terminal.expect("vcs/org/repo (Enter to leave it unset: no pipeline checks): ");
        terminal.answer("gh/realitycheck-sim/elsewhere");
        terminal.expect("Type another value, or Enter to keep gh/realitycheck-sim/elsewhere: ");
        terminal.answer("");
        terminal.expect("(Enter for none: the runner check is skipped): ");
        terminal.answer("linux-runner");
        terminal.expect("(Enter for none: the runner check is skipped): ");
        terminal.answer(realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS);
        terminal.expect("next steps:");
        terminal.finish()
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{transcript}");
    let written = std::fs::read_to_string(dir.path().join("realitycheck.toml")).unwrap();
    let expected = Starter::default()
        .answer(&setting::HOST, sim.circleci_url())
        .answer(&setting::PROJECT, "gh/realitycheck-sim/elsewhere")
        .answer(&setting::KUBE_CONTEXT, realitycheck_sim::KUBE_CONTEXT)
        .answer(&setting::RUNNER_RESOURCE_CLASS, realitycheck_sim::SIM_RUNNER_RESOURCE_CLASS);
    assert_eq!(written, expected.render());
    let project = std::fs::read_to_string(dir.path().join(".circleci/config.yml")).unwrap();
    assert_eq!(project, realitycheck_project::CONFIG_YML);
    for token in [realitycheck_sim::SIM_TOKEN, WRONG_TOKEN] {
        assert!(!transcript.contains(token) && !written.contains(token), "the token leaked");
    }
    transcript_filters().bind(|| insta::assert_snapshot!(transcript));
    sim.shutdown().await;
}

/// The end of input (Ctrl-D) at a question stops init without writing anything.
#[test]
fn the_end_of_input_stops_init_and_writes_nothing() {
    if !have_script() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let mut terminal = Terminal::start(dir.path(), "init", &[]);
    terminal.expect("CircleCI server host");
    terminal.input.write_all(b"\x04").unwrap();
    terminal.input.flush().unwrap();
    let (code, transcript) = terminal.finish();
    assert_eq!(code, 2, "{transcript}");
    assert!(
        transcript.contains("the input ended before every question was answered; nothing was written"),
        "{transcript}"
    );
    assert!(!dir.path().join("realitycheck.toml").exists());
    assert!(!dir.path().join(".circleci").exists());
}

/// Off a terminal, init asks nothing: the flags fill the written file, each checked as the
/// configuration checks it; without flags it writes the reference itself.
#[test]
fn off_a_terminal_the_flags_fill_the_written_config() {
    let dir = TempDir::new().unwrap();
    let out = run(realitycheck(dir.path()).args([
        "init",
        "--dir",
        "cfg",
        "--host",
        "https://app.circleci.example.com/",
        "--token-env",
        "PROD_CIRCLE_TOKEN",
        "--kube-context",
        "prod-eks",
        "--namespace",
        "circleci",
        "--project",
        "gh/example-org/realitycheck",
        "--runner-resource-class",
        "example-org/linux-runner",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(dir.path().join("cfg/realitycheck.toml")).unwrap();
    let expected = Starter::default()
        .answer(&setting::HOST, "https://circleci.example.com")
        .answer(&setting::TOKEN_ENV, "PROD_CIRCLE_TOKEN")
        .answer(&setting::PROJECT, "gh/example-org/realitycheck")
        .answer(&setting::KUBE_CONTEXT, "prod-eks")
        .answer(&setting::NAMESPACE, "circleci")
        .answer(&setting::RUNNER_RESOURCE_CLASS, "example-org/linux-runner");
    assert_eq!(written, expected.render());
    insta::assert_snapshot!(out.stdout);
    let check = run(realitycheck(dir.path())
        .args(["config", "check", "--config", "cfg/realitycheck.toml"])
        .env("PROD_CIRCLE_TOKEN", "a-token"));
    assert_eq!(check.code, 0, "the written file loads: {}", check.stderr);

    let plain = run(realitycheck(dir.path()).args(["init", "--dir", "plain"]));
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("plain/realitycheck.toml")).unwrap(), REFERENCE_CONFIG);
}

/// A flag the written file could not load is refused before anything is written, naming the
/// flag and the fix.
#[test]
fn a_bad_flag_is_refused_and_nothing_is_written() {
    let dir = TempDir::new().unwrap();
    let mut refusals = String::new();
    for (flag, value) in [
        ("--host", "circleci.example.com"),
        ("--token-env", "CCIPAT_looks_like_a_token"),
        ("--namespace", "CircleCI"),
        ("--project", "example-org/realitycheck"),
        ("--runner-resource-class", "linux-runner"),
    ] {
        let out = run(realitycheck(dir.path()).args(["init", flag, value]));
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(!out.stderr.contains("looks_like_a_token"), "a value that looks like a token is not echoed");
        refusals.push_str(&out.stderr);
    }
    assert!(!dir.path().join("realitycheck.toml").exists());
    insta::assert_snapshot!(refusals);
}
