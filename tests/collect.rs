//! End-to-end tests of the evidence bundle (`--collect DIR`, the ci profile's `collect`): what
//! the bundle of a red run holds and how its manifest accounts for it, that no token, Secret
//! value or private key of the simulation ever lands in it, and when no bundle is written.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{realitycheck, run};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use serde_json::Value;
use tempfile::TempDir;

/// The bundles in `dir`.
fn bundles(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> =
        entries.map(|entry| entry.unwrap().path()).filter(|path| path.to_string_lossy().ends_with(".tar.gz")).collect();
    found.sort();
    found
}

/// The entries of a bundle: path (under its directory) and content, decompressed.
fn entries(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let stem = bundle.file_name().unwrap().to_string_lossy().trim_end_matches(".tar.gz").to_string();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(bundle).unwrap()));
    let mut found = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let inside = path.strip_prefix(&format!("{stem}/")).unwrap_or_else(|| panic!("{path} is outside {stem}/"));
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        found.push((inside.to_string(), content));
    }
    found
}

fn manifest(entries: &[(String, Vec<u8>)]) -> Value {
    let (_, content) = entries.iter().find(|(path, _)| path == "manifest.json").expect("a manifest.json");
    serde_json::from_slice(content).unwrap()
}

fn paths(manifest: &Value) -> Vec<String> {
    manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

/// The IDs of the failed checks of a JSON report.
fn red_checks(report: &[u8]) -> BTreeSet<String> {
    let report: Value = serde_json::from_slice(report).unwrap();
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "failed")
        .map(|check| check["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_red_demo_writes_a_bundle_whose_manifest_names_the_provisioners_logs() {
    let dir = TempDir::new().unwrap();
    let evidence = dir.path().join("ev");
    let out = run(realitycheck(dir.path())
        .args(["demo", "--scenario", "machine-provisioner-broken", "--color", "never", "--collect"])
        .arg(&evidence));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let [bundle] = bundles(&evidence).try_into().expect("one bundle");
    assert!(
        out.stderr.contains(&format!("evidence: {} (", bundle.display())),
        "the path is printed at the end: {}",
        out.stderr
    );
    let entries = entries(&bundle);
    let manifest = manifest(&entries);
    assert_eq!(manifest["schema"], "realitycheck.evidence/v1");
    let named: BTreeSet<String> = paths(&manifest).into_iter().collect();
    let archived: BTreeSet<String> =
        entries.iter().map(|(path, _)| path.clone()).filter(|path| path != "manifest.json").collect();
    assert_eq!(named, archived, "each file the manifest names is in the archive, and nothing else is");

    let content = |path: &str| &entries.iter().find(|(p, _)| p == path).unwrap().1;
    let red = red_checks(content("reports/report.json"));
    assert!(red.contains("machine_provisioner::config") && red.contains("executors::machine"), "{red:?}");
    let listed: BTreeSet<String> =
        manifest["red_checks"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()).collect();
    assert_eq!(listed, red);
    for file in manifest["files"].as_array().unwrap() {
        let supports = file["supports"].as_array().unwrap();
        assert!(!supports.is_empty(), "{file}");
        for id in supports {
            assert!(red.contains(id.as_str().unwrap()), "{} supports {id}, which is not red", file["path"]);
        }
        assert!(!file["what"].as_str().unwrap().is_empty(), "{file}");
    }

    let provisioner = "kubernetes/pods/machine-provisioner-provisioner-";
    let log = named.iter().find(|p| p.starts_with(provisioner) && p.ends_with("/log.txt")).expect("its log");
    assert!(String::from_utf8_lossy(content(log)).contains("UnauthorizedOperation"), "the cloud's refusal is in it");
    let supported = |path: &str| -> Vec<String> {
        let file = manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap();
        file["supports"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()).collect()
    };
    assert!(supported(log).contains(&"machine_provisioner::config".to_string()));
    assert!(supported(log).contains(&"executors::machine".to_string()));
    let events =
        named.iter().filter(|p| p.starts_with("kubernetes/pods/machine-provisioner-") && p.ends_with("/events.json"));
    assert_eq!(events.count(), 4, "the events of each of its 4 pods: {named:#?}");
    for nomad in ["nomad/node-status.json", "nomad/server-members.json"] {
        assert!(named.contains(nomad), "{nomad}: {named:#?}");
        let parsed: Value = serde_json::from_slice(content(nomad)).expect("the CLI's JSON");
        assert!(parsed.is_array(), "{nomad}");
    }
    assert!(named.iter().any(|p| p.starts_with("circleci/jobs/machine-") && p.ends_with("Spin-up-environment.txt")));
    assert!(named.contains("circleci/api-answers.json") && named.contains("reports/junit.xml"));
    let config: Value = serde_json::from_slice(content("config/effective.json")).unwrap();
    assert_eq!(config["target"]["token"], "set");
    assert_eq!(config["profile"]["collect"], true);
}

/// Every value the simulation must keep to itself: its token, each Secret's values (the
/// Nomad mTLS key and certificates, the gossip key, the machine provisioner's keys, Helm's
/// release records), the OIDC signing keys of the release's values, and their base64 and
/// decoded forms; and the start of every OIDC token a job gets (a JWT's RS256 header).
fn secret_values(sim: &SimServer) -> Vec<(String, Vec<u8>)> {
    let mut values = vec![("the API token".to_string(), realitycheck_sim::SIM_TOKEN.as_bytes().to_vec())];
    // 12 bytes, whole base64 groups: their encoding starts every token's whatever follows.
    values.push(("an OIDC token".to_string(), STANDARD.encode(r#"{"alg":"RS25"#).into_bytes()));
    let oidc = sim.installation().oidc.release_values();
    let keys = oidc["json_web_keys"].as_str().expect("the release's OIDC signing keys").to_string();
    values.push(("the OIDC signing keys (decoded)".to_string(), STANDARD.decode(&keys).unwrap()));
    values.push(("the OIDC signing keys".to_string(), keys.into_bytes()));
    for secret in sim.secrets() {
        for (key, value) in &secret.data {
            let name = format!("Secret {} key {key}", secret.name);
            let trimmed = value.trim_ascii();
            values.push((name.clone(), trimmed.to_vec()));
            values.push((format!("{name} (base64)"), STANDARD.encode(trimmed).into_bytes()));
            if let Ok(decoded) = STANDARD.decode(trimmed) {
                values.push((format!("{name} (decoded)"), decoded.trim_ascii().to_vec()));
            }
        }
    }
    values.retain(|(_, value)| value.len() >= 8);
    values
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_secret_value_or_private_key_ever_lands_in_a_bundle() {
    let scenarios = [
        Scenario::MachineProvisionerBroken,
        Scenario::MtlsKeyMismatch,
        Scenario::PodsNotReady,
        Scenario::OidcBadSignature,
    ];
    for scenario in scenarios {
        let sim = SimServer::start(scenario, ([127, 0, 0, 1], 0).into()).await.unwrap();
        let dir = TempDir::new().unwrap();
        let env_file = dir.path().join("sim.env");
        sim.write_env(&env_file).unwrap();
        let evidence = dir.path().join("evidence");
        let mut command = realitycheck(dir.path());
        command.args(["run", "--color", "never", "--collect"]).arg(&evidence).envs(exports_of(&env_file));
        let out = tokio::task::spawn_blocking(move || run(&mut command)).await.unwrap();
        assert_eq!(out.code, 1, "{scenario}: {}", out.stderr);
        let [bundle] = bundles(&evidence).try_into().expect("one bundle");
        let needles = secret_values(&sim);
        assert!(needles.iter().any(|(name, _)| name.contains("nomad-mtls")), "the mTLS Secret is among them");
        assert!(needles.iter().any(|(name, _)| name.contains("sh.helm.release")), "Helm's records are among them");
        let entries = entries(&bundle);
        assert!(entries.len() >= 8, "{scenario}: {} entries", entries.len());
        let compressed = std::fs::read(&bundle).unwrap();
        for (path, content) in
            entries.iter().map(|(p, c)| (p.as_str(), c.as_slice())).chain([("the .tar.gz", &compressed[..])])
        {
            assert!(!contains(content, b"PRIVATE KEY"), "{scenario}: a private key in {path}");
            for (name, value) in &needles {
                assert!(!contains(content, value), "{scenario}: {name} in {path}");
                assert!(!contains(path.as_bytes(), value), "{scenario}: {name} in the name {path}");
            }
        }
        sim.shutdown().await;
    }
}

/// The `export NAME='value'` lines of an env file `SimServer::write_env` wrote.
fn exports_of(env_file: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(env_file)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
        .map(|(name, value)| (name.to_string(), value.trim_matches('\'').to_string()))
        .collect()
}

#[test]
fn a_green_run_writes_no_bundle_and_laptop_writes_none_unless_asked() {
    let dir = TempDir::new().unwrap();
    let evidence = dir.path().join("ev");
    let green = run(realitycheck(dir.path()).args(["demo", "--color", "never", "--collect"]).arg(&evidence));
    assert_eq!(green.code, 0, "{}", green.stderr);
    assert!(bundles(&evidence).is_empty() && !green.stderr.contains("evidence:"), "{}", green.stderr);

    let red =
        run(realitycheck(dir.path()).args(["demo", "--scenario", "machine-provisioner-broken", "machine_provisioner"]));
    assert_eq!(red.code, 1, "{}", red.stderr);
    assert!(bundles(&dir.path().join("realitycheck-evidence")).is_empty(), "laptop collects only when asked");
    assert!(!red.stderr.contains("evidence:"), "{}", red.stderr);
}

#[test]
fn the_ci_profile_collects_into_its_directory_unless_told_not_to() {
    let dir = TempDir::new().unwrap();
    let red = [
        "demo",
        "--profile",
        "ci",
        "--scenario",
        "machine-provisioner-broken",
        "--exact",
        "machine_provisioner::config",
    ];
    let out = run(realitycheck(dir.path()).args(red));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let [bundle] =
        bundles(&dir.path().join("realitycheck-evidence")).try_into().expect("one bundle in ./realitycheck-evidence");
    let manifest = manifest(&entries(&bundle));
    assert_eq!(manifest["profile"], "ci");
    assert_eq!(manifest["red_checks"], serde_json::json!(["machine_provisioner::config"]));
    assert!(paths(&manifest).iter().any(|p| p.ends_with("/log.txt")), "{manifest:#}");

    let elsewhere = TempDir::new().unwrap();
    let out = run(realitycheck(elsewhere.path()).args(red).arg("--no-collect"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!elsewhere.path().join("realitycheck-evidence").exists(), "--no-collect writes nothing");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let refused = run(realitycheck(dir.path()).args(red).arg("--collect").arg(&file));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("is a file; give the directory"), "{}", refused.stderr);
}

/// The bundle's reports are the run's: of schema v3, compared with `--baseline` when given.
#[test]
fn the_bundle_s_reports_are_compared_with_the_baseline_as_the_run_s_are() {
    let dir = TempDir::new().unwrap();
    let before = serde_json::json!({
        "schema_version": "realitycheck.report/v2",
        "target": "demo",
        "host": "an earlier simulation",
        "profile": "ci",
        "started_at": "2026-12-07T15:02:09.250Z",
        "status": "failed",
        "checks": [{"id": "machine_provisioner::config", "status": "failed"}, {"id": "executors::machine", "status": "passed"}],
    });
    std::fs::write(dir.path().join("before.json"), before.to_string()).unwrap();
    let evidence = dir.path().join("ev");
    let out = run(realitycheck(dir.path())
        .args(["demo", "--scenario", "machine-provisioner-broken", "--exact", "machine_provisioner::config"])
        .args(["--baseline", "before.json", "--collect"])
        .arg(&evidence));
    assert_eq!(out.code, 1, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let [bundle] = bundles(&evidence).try_into().expect("one bundle");
    let entries = entries(&bundle);
    let content = |path: &str| &entries.iter().find(|(p, _)| p == path).unwrap().1;
    let report: Value = serde_json::from_slice(content("reports/report.json")).unwrap();
    common::assert_valid_report(&report);
    assert_eq!(report["baseline"]["counts"]["still_red"], 1, "{report:#}");
    assert_eq!(report["baseline"]["not_in_this_run"], serde_json::json!(["executors::machine"]));
    let junit = String::from_utf8_lossy(content("reports/junit.xml")).into_owned();
    assert!(junit.contains(r#"name="realitycheck.baseline.machine_provisioner::config" value="still-red""#), "{junit}");
    let manifest = manifest(&entries);
    let report_file =
        manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == "reports/report.json").unwrap();
    assert!(report_file["what"].as_str().unwrap().contains("(schema realitycheck.report/v3)"), "{report_file}");
}

/// A link planted by another user, or one leading to another user's directory, is refused
/// before anything runs; a link of one's own to one's own directory is followed. As root (CI),
/// the foreign owner is made with chown; as another user, `/` is root's.
#[cfg(unix)]
#[test]
fn collect_refuses_a_symlink_another_user_made_or_that_leads_to_their_directory() {
    use std::os::unix::fs::{MetadataExt, chown, lchown, symlink};
    let dir = TempDir::new().unwrap();
    let me = std::fs::metadata(dir.path()).unwrap().uid();
    let collect = |link: &Path| {
        run(realitycheck(dir.path())
            .args(["demo", "--scenario", "runner-missing", "executors::runner", "--collect"])
            .arg(link))
    };
    let theirs = if me == 0 {
        let theirs = dir.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        chown(&theirs, Some(65534), Some(65534)).unwrap();
        theirs
    } else {
        PathBuf::from("/")
    };
    let to_theirs = dir.path().join("to-theirs");
    symlink(&theirs, &to_theirs).unwrap();
    let refused = collect(&to_theirs);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is a symbolic link to") && refused.stderr.contains("--no-collect"),
        "{}",
        refused.stderr
    );
    assert!(bundles(&theirs).is_empty(), "nothing is written there");

    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    let to_mine = dir.path().join("to-mine");
    symlink(&mine, &to_mine).unwrap();
    if me == 0 {
        let planted = dir.path().join("planted");
        symlink(&mine, &planted).unwrap();
        lchown(&planted, Some(65534), Some(65534)).unwrap();
        let refused = collect(&planted);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert!(refused.stderr.contains("the link belongs to uid 65534"), "{}", refused.stderr);
    }
    let followed = collect(&to_mine);
    assert_eq!(followed.code, 1, "{}", followed.stderr);
    assert_eq!(bundles(&mine).len(), 1, "the bundle is written through a link of one's own: {}", followed.stderr);
}
