//! The recorded outputs of real Nomad CLIs and real CircleCI API bodies (`../shared/reference/recorded`)
//! through realitycheck's parsers and decoders. Reads that folder; skips, saying why, when it is
//! absent (mandatory with REALITYCHECK_REQUIRE_TOOLS=1, as in CI).

use std::path::{Path, PathBuf};

use suites::clients::circleci::{
    BuildDetails, JobDetails, OutputLine, Pipeline, PipelineCreation, User, Workflow, WorkflowJob,
};
use suites::clients::nomad::{members, nodes};

fn recorded(dir: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/recorded").join(dir);
    if path.is_dir() {
        return Some(path);
    }
    assert!(
        std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "required by REALITYCHECK_REQUIRE_TOOLS=1: {} is absent",
        path.display()
    );
    eprintln!("skipped: {} is absent", path.display());
    None
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// `{"items": [...]}` (a raw v2 list body) as its items.
fn items<T: serde::de::DeserializeOwned>(body: &str) -> Vec<T> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    serde_json::from_value(value["items"].clone()).unwrap()
}

#[test]
fn real_nomad_tables_and_json_are_read() {
    let Some(dir) = recorded("nomad") else { return };
    let table = |file: &str| nodes::from_table(&read(&dir, file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    for (file, count) in [
        ("node-status.circleci-server-4.10-docs.txt", 1),
        ("node-status.docs.list.txt", 2),
        ("node-status.docs.list-allocs.txt", 2),
        ("node-status.docs.list-os.txt", 2),
        ("node-status.nodepool.windows-and-linux.1.11.1.txt", 2),
        ("node-status.pre-1.6.ineligible.0.8.1.txt", 1),
    ] {
        let nodes = table(file);
        assert_eq!(nodes.len(), count, "{file}: {nodes:?}");
        assert!(nodes.iter().all(|n| n.status == "ready" && !n.id.is_empty()), "{file}: {nodes:?}");
    }
    let old = table("node-status.pre-1.6.ineligible.0.8.1.txt");
    assert_eq!(
        (old[0].eligibility.as_str(), old[0].pool.as_str()),
        ("ineligible", ""),
        "no Node Pool column before 1.6"
    );
    let pools = table("node-status.nodepool.windows-and-linux.1.11.1.txt");
    assert!(pools.iter().all(|n| n.pool == "default"), "{pools:?}");
    let api = nodes::from_json(&read(&dir, "node-status.json.docs-api-v1-nodes.json")).unwrap();
    assert_eq!(api.len(), 1);
    assert!(
        nodes::from_table(&read(&dir, "node-status.error.connection-refused.txt")).is_err(),
        "an error is no table"
    );
    assert!(nodes::from_table(&read(&dir, "node-status.docs.quiet.txt")).is_err(), "-quiet prints IDs only");

    for (file, count) in [
        ("server-members.docs.default.txt", 3),
        ("server-members.docs.verbose.txt", 3),
        ("server-members.1.1.3.three.txt", 3),
    ] {
        let members = members::from_table(&read(&dir, file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(members.len(), count, "{file}");
        assert_eq!(members.iter().filter(|m| m.leader == Some(true)).count(), 1, "{file}: one leader: {members:?}");
        assert!(members.iter().all(|m| m.status == "alive"), "{file}: {members:?}");
    }
    let default = members::from_table(&read(&dir, "server-members.docs.default.txt")).unwrap();
    assert_eq!((default[0].name.as_str(), default[0].version.as_str()), ("server-1.global", "1.3.0"));
    let json = members::from_json(&read(&dir, "server-members.docs.json")).unwrap();
    assert_eq!(json.len(), 1);
}

#[test]
fn real_circleci_bodies_are_decoded() {
    let Some(dir) = recorded("circleci-api") else { return };
    let body = |file: &str| read(&dir, file);
    let me: User = serde_json::from_str(&body("v2-me.1.json")).unwrap();
    assert!(!me.login.is_empty());
    let created: PipelineCreation = serde_json::from_str(&body("v2-pipeline-trigger.1.json")).unwrap();
    assert!(created.number > 0);
    let pipeline: Pipeline = serde_json::from_str(&body("v2-pipeline.1.json")).unwrap();
    assert_eq!((pipeline.number, pipeline.state.as_str()), (1234, "created"));
    let workflow: Workflow = serde_json::from_str(&body("v2-workflow.1.json")).unwrap();
    assert_eq!(workflow.status.as_str(), "running");
    for (file, statuses) in [
        ("v2-pipeline-workflows.1.json", vec!["success"]),
        ("v2-pipeline-workflows.2.json", vec!["failed"]),
        ("v2-pipeline-workflows.3.json", vec!["running", "success"]),
    ] {
        let workflows: Vec<Workflow> = items(&body(file));
        let found: Vec<&str> = workflows.iter().map(|w| w.status.as_str()).collect();
        assert_eq!(found, statuses, "{file}");
    }
    for (file, status) in [
        ("v2-workflow-jobs.1.json", "success"),
        ("v2-workflow-jobs.2.json", "failed"),
        ("v2-workflow-jobs.3.json", "running"),
    ] {
        let jobs: Vec<WorkflowJob> = items(&body(file));
        assert_eq!(jobs[0].status.as_str(), status, "{file}");
        assert!(jobs[0].job_number.is_some(), "{file}");
    }
    let details: JobDetails = serde_json::from_str(&body("v2-job-details.1.json")).unwrap();
    assert_eq!((details.number, details.executor.resource_class.as_str()), (155, "medium"));
    for (file, status) in [("v1.1-build.1.json", "failed"), ("v1.1-build.2.json", "success")] {
        let build: BuildDetails = serde_json::from_str(&body(file)).unwrap();
        assert_eq!(build.status.as_deref(), Some(status), "{file}");
        assert!(build.steps.iter().any(|step| step.actions.iter().any(|a| a.output_url.is_some())), "{file}");
    }
    for file in ["v1.1-step-output.1.json", "v1.1-step-output.2.json"] {
        let lines: Vec<OutputLine> = serde_json::from_str(&body(file)).unwrap();
        assert!(!lines.is_empty() && lines.iter().any(|l| !l.message.is_empty()), "{file}");
    }
}
