//! The simulation runs what the project really runs: the `oidc` job's program, taken from the
//! project's config, run by the host's `python3` against a simulation serving its OIDC issuer on
//! loopback, with tokens the simulation minted, prints the same lines and exits with the same
//! code as the simulated job's `python3` builtin, for a healthy installation, a signature made
//! with a key the issuer does not publish, and an issuer the installation no longer has (whose
//! error text after `failed:` is the host resolver's), and for malformed and unsigned tokens.
//! Skipped when `python3` is absent, unless REALITYCHECK_REQUIRE_TOOLS=1 makes it mandatory.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use realitycheck_project::outputs::{OIDC_STEP, OIDC_TOKEN_VARIABLES};
use realitycheck_sim::execution::shell::{self, FileSystem, Host, Stream};
use realitycheck_sim::oidc::{DISCOVERY_PATH, JWKS_PATH, JobIdentity};
use realitycheck_sim::project::parameters;
use realitycheck_sim::project::plan::PipelineValues;
use realitycheck_sim::project::steps::Step;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;

/// The body of the heredoc of the `oidc` job's step, as the project's config holds it.
fn python_program() -> String {
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(realitycheck_project::CONFIG_YML).unwrap();
    let steps = config["jobs"]["oidc"]["steps"].as_sequence().expect("the oidc job has steps");
    let command = steps
        .iter()
        .find(|step| step["run"]["name"].as_str() == Some(OIDC_STEP))
        .and_then(|step| step["run"]["command"].as_str())
        .expect("the oidc job's step runs a command");
    let mut lines = command.lines().skip_while(|line| !line.contains("<<'EOF'")).skip(1);
    let body: Vec<&str> = lines.by_ref().take_while(|line| line.trim() != "EOF").collect();
    assert!(!body.is_empty(), "no heredoc in {command}");
    body.iter().map(|line| format!("{line}\n")).collect()
}

/// The command the simulated `oidc` job runs, after the config's processing.
fn simulated_command() -> String {
    let config = realitycheck_sim::project::config();
    let given = serde_json::json!({"oidc": true}).as_object().unwrap().clone();
    let values = PipelineValues {
        id: "pipeline".to_owned(),
        number: 1,
        branch: Some("main".to_owned()),
        tag: None,
        parameters: parameters::resolve(&config.parameters, &given).unwrap(),
    };
    let job =
        config.plan(&values).unwrap().into_iter().flat_map(|workflow| workflow.jobs).find(|job| job.name == "oidc");
    let steps = job.expect("the oidc workflow runs the oidc job").steps;
    steps
        .into_iter()
        .find_map(|step| match step {
            Step::Run { name: Some(name), command } if name == OIDC_STEP => Some(command),
            _ => None,
        })
        .expect("the oidc job runs its step")
}

fn identity() -> JobIdentity {
    JobIdentity {
        pipeline_id: "5d1f7f43-0000-4000-8000-000000000001".to_owned(),
        workflow_id: "5d1f7f43-0000-4000-8000-000000000002".to_owned(),
        job_id: "5d1f7f43-0000-4000-8000-000000000003".to_owned(),
        vcs_ref: "refs/heads/main".to_owned(),
        context_ids: vec!["5d1f7f43-0000-4000-8000-000000000004".to_owned()],
        started_at: "2025-03-01T12:00:00Z".parse().unwrap(),
    }
}

/// Lines and exit code of the host's `python3` running `program` with `tokens`, trusting the
/// simulation's CA; `None` when there is no `python3`.
fn host_python(program: &str, tokens: &[(String, String)], ca_bundle: &std::path::Path) -> Option<(Vec<String>, i32)> {
    let mut command = Command::new("python3");
    command
        .arg("-")
        .env("SSL_CERT_FILE", ca_bundle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for variable in OIDC_TOKEN_VARIABLES {
        command.env_remove(variable);
    }
    command.envs(tokens.iter().map(|(name, token)| (name, token)));
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("starting python3 failed: {error}"),
    };
    child.stdin.take().unwrap().write_all(program.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "python3 wrote to stderr: {stderr}");
    let lines = String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect();
    Some((lines, output.status.code().expect("python3 exits")))
}

/// `line` up to the error text of a failed read of the issuer.
/// What the real program prints of `tokens`, and its exit code, run by the host's `python3`
/// against `sim`'s issuer; `None` (the test skips, saying so) when there is no `python3`, which
/// `REALITYCHECK_REQUIRE_TOOLS=1` refuses.
async fn real_program(program: &str, tokens: &[(String, String)], sim: &SimServer) -> Option<(Vec<String>, i32)> {
    let ca_bundle = sim.ca_bundle().to_owned();
    let (program, tokens) = (program.to_owned(), tokens.to_vec());
    let python = tokio::task::spawn_blocking(move || host_python(&program, &tokens, &ca_bundle)).await.unwrap();
    if python.is_none() {
        assert!(
            std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "required by REALITYCHECK_REQUIRE_TOOLS=1: python3 is absent"
        );
        eprintln!("skipped: python3 is absent, so the real OIDC program cannot be run");
    }
    python
}

/// The host of a simulated job whose network reaches `sim`'s issuer.
fn job_host(sim: &SimServer) -> Host {
    Host {
        arch: "x86_64",
        kernel: "Linux",
        cpus: 2,
        memory_mib: 4096,
        hostname: "oidc".to_owned(),
        env_subst: true,
        issuer: Some(Arc::clone(&sim.installation().oidc.issuer)),
    }
}

fn up_to_failed(line: &str) -> &str {
    line.find(" failed: ").map_or(line, |index| &line[..index + " failed: ".len()])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_prints_what_the_real_program_prints() {
    let program = python_program();
    let command = simulated_command();
    for scenario in [Scenario::Healthy, Scenario::OidcBadSignature, Scenario::OidcWrongIssuer] {
        let sim = SimServer::start(scenario, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let oidc = &sim.installation().oidc;
        assert_eq!(oidc.issuer.url, sim.circleci_url(), "the issuer is the simulation's API URL");
        let tokens = oidc.tokens(&identity());
        let Some((python_lines, python_code)) = real_program(&program, &tokens, &sim).await else { return };

        let env: BTreeMap<String, String> = tokens.iter().cloned().collect();
        let host = job_host(&sim);
        let run = shell::run(&command, &env, &mut FileSystem::default(), &host, None);
        let builtin_lines: Vec<String> =
            run.lines.iter().filter(|(stream, _)| *stream == Stream::Out).map(|(_, line)| line.clone()).collect();
        assert!(run.lines.iter().all(|(stream, _)| *stream == Stream::Out), "{scenario}: {:?}", run.lines);

        assert_eq!(
            (run.exit_code, python_code),
            (i32::from(scenario != Scenario::Healthy), run.exit_code),
            "{scenario}"
        );
        if scenario == Scenario::OidcWrongIssuer {
            let cut = |lines: &[String]| lines.iter().map(|line| up_to_failed(line).to_owned()).collect::<Vec<_>>();
            assert_eq!(cut(&builtin_lines), cut(&python_lines), "{scenario}");
        } else {
            assert_eq!(builtin_lines, python_lines, "{scenario}");
        }
        let words: Vec<&str> = builtin_lines.iter().filter_map(|line| line.split(' ').nth(2)).collect();
        let expected = match scenario {
            Scenario::Healthy => "verified:",
            Scenario::OidcBadSignature => "bad-signature:",
            _ => "unverified:",
        };
        assert_eq!(words, ["header", "claims", expected, "header", "claims", expected], "{scenario}");
        for (_, token) in &tokens {
            assert!(builtin_lines.iter().all(|line| !line.contains(token.as_str())), "no line prints a token");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_builtin_reads_malformed_and_unsigned_tokens_as_the_real_program_does() {
    let (program, command) = (python_program(), simulated_command());
    let sim = SimServer::start(Scenario::Healthy, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    // Two parts; an invalid base64 length; not JSON; `alg` none; `alg` absent and an empty claims
    // object (so no issuer to read).
    let cases = [
        ("a.b", "abcde.e30.AA"),
        ("eHl6.e30.AA", "eyJhbGciOiJub25lIn0.e30."),
        ("e30.e30.AA", "eyJhbGciOiJSUzI1NiJ9.e30.AA"),
    ];
    for (first, second) in cases {
        let tokens: Vec<(String, String)> = OIDC_TOKEN_VARIABLES
            .iter()
            .map(|name| (*name).to_owned())
            .zip([first.to_owned(), second.to_owned()])
            .collect();
        let Some((python_lines, python_code)) = real_program(&program, &tokens, &sim).await else { return };
        let host = job_host(&sim);
        let env: BTreeMap<String, String> = tokens.into_iter().collect();
        let run = shell::run(&command, &env, &mut FileSystem::default(), &host, None);
        let builtin_lines: Vec<String> = run.lines.iter().map(|(_, line)| line.clone()).collect();
        assert_eq!((builtin_lines, run.exit_code), (python_lines, python_code), "{first} {second}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulation_names_and_serves_its_issuer_without_a_token() {
    let sim = SimServer::start(Scenario::Healthy, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let issuer = sim.circleci_url();
    let newest = sim.secrets().iter().rfind(|secret| secret.label("owner") == Some("helm")).unwrap();
    let compressed = base64::engine::general_purpose::STANDARD.decode(&newest.data["release"]).unwrap();
    let mut release = String::new();
    flate2::read::GzDecoder::new(compressed.as_slice()).read_to_string(&mut release).unwrap();
    let release: serde_json::Value = serde_json::from_str(&release).unwrap();
    assert_eq!(release["config"]["oidc_service"]["base_url"], issuer.as_str(), "the release names the served issuer");
    assert_eq!(release["config"]["oidc_service"]["isEnabled"], true);
    let get = |url: String| {
        let client = client.clone();
        async move {
            let answer = client.get(&url).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{url}");
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let discovery = get(format!("{issuer}{DISCOVERY_PATH}")).await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{issuer}{JWKS_PATH}"));
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]));
    let jwks = get(discovery["jwks_uri"].as_str().unwrap().to_owned()).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "the key set publishes no private part");
}
