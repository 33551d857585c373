//! `--setup-contexts` against the simulated API: it creates what is missing, is idempotent,
//! and never changes a context it did not create.

mod common;

use std::time::Duration;

use harness::{CancellationToken, EventSink, Outcome, Run, RunReport, RunSummary};
use realitycheck_config::{Secret, Target};
use realitycheck_project::{INDIVIDUAL_LOCAL, ORG_GLOBAL};
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::RealityCheck;
use suites::checks::ids;
use suites::clients::circleci::{ApiClient, ApiSettings, RetryPolicy};
use suites::resources::contexts::CREATED_MARKER;
use suites::resources::pipeline::RUN_IN_PROGRESS;
use url::Url;

fn target(server: &SimServer) -> Target {
    server.target("sim")
}

fn sim_client(server: &SimServer) -> ApiClient {
    ApiClient::new(&ApiSettings {
        host: Url::parse(&server.circleci_url()).unwrap(),
        token: Secret::new(realitycheck_sim::SIM_TOKEN),
        timeout: Duration::from_secs(10),
        ca_bundle: Some(server.ca_bundle().to_path_buf()),
        insecure: false,
        retry: RetryPolicy::default(),
        max_pages: realitycheck_config::Target::with_defaults("test").max_pages,
    })
    .unwrap()
}

async fn run_contexts_checks(server: &SimServer, setup: bool) -> RunSummary {
    run_checks(server, "contexts::", setup).await.summary
}

/// The checks whose ID contains `filter`, with `--setup-contexts` when `setup`.
async fn run_checks(server: &SimServer, filter: &str, setup: bool) -> RunReport {
    let (sink, _events) = EventSink::channel();
    let run = Run::new(RealityCheck::new(target(server), setup), common::run_options("sim", &[filter], false));
    run.execute(&sink, CancellationToken::new()).await.unwrap()
}

fn note_or_failure(summary: &RunSummary, id: &str) -> String {
    let result = summary.results.iter().find(|r| r.spec.id == id).unwrap();
    match &result.outcome {
        Outcome::Passed { note } => format!("pass: {note}"),
        Outcome::Failed { diagnosis } => format!("fail: {} / {}", diagnosis.summary, diagnosis.remediation),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn creates_what_is_missing_once_and_leaves_foreign_contexts_alone() {
    let server = SimServer::start(Scenario::ContextsMissing, ([127, 0, 0, 1], 0).into()).await.unwrap();
    // Someone else's org-global, without the variable.
    let client = sim_client(&server);
    client.create_context(ORG_GLOBAL.name, realitycheck_sim::SIM_ORG_ID).await.unwrap();

    let without_setup = run_contexts_checks(&server, false).await;
    let org_global = note_or_failure(&without_setup, ids::ORG_GLOBAL);
    assert!(org_global.starts_with("fail: context `org-global` has no variable"), "{org_global}");
    let individual = note_or_failure(&without_setup, ids::INDIVIDUAL_LOCAL);
    assert!(individual.contains("does not exist") && individual.contains("--setup-contexts"), "{individual}");

    let first = run_contexts_checks(&server, true).await;
    let individual = note_or_failure(&first, ids::INDIVIDUAL_LOCAL);
    assert_eq!(
        individual,
        "pass: created context `individual-local` with MULTI_CONTEXT_END_TO_END_VAR (--setup-contexts)"
    );
    let org_global = note_or_failure(&first, ids::ORG_GLOBAL);
    assert!(org_global.contains("realitycheck did not create `org-global`"), "{org_global}");

    let second = run_contexts_checks(&server, true).await;
    let individual = note_or_failure(&second, ids::INDIVIDUAL_LOCAL);
    assert_eq!(individual, "pass: context `individual-local` has MULTI_CONTEXT_END_TO_END_VAR", "idempotent");

    let state = server.circleci_state();
    assert_eq!(state.context_variable_value(ORG_GLOBAL.name, ORG_GLOBAL.variable), None, "foreign context untouched");
    assert_eq!(state.context_variable_value(ORG_GLOBAL.name, CREATED_MARKER), None);
    assert!(state.context_variable_value(INDIVIDUAL_LOCAL.name, CREATED_MARKER).is_some(), "own context marked");
    let contexts = client.contexts(realitycheck_sim::SIM_ORG_ID).await.unwrap();
    assert_eq!(contexts.iter().filter(|c| c.name == INDIVIDUAL_LOCAL.name).count(), 1, "created once");
}

#[tokio::test]
async fn adds_a_missing_variable_to_a_context_it_created() {
    let server = SimServer::start(Scenario::ContextsMissing, ([127, 0, 0, 1], 0).into()).await.unwrap();
    run_contexts_checks(&server, true).await;
    let client = sim_client(&server);
    let contexts = client.contexts(realitycheck_sim::SIM_ORG_ID).await.unwrap();
    let own = contexts.iter().find(|c| c.name == ORG_GLOBAL.name).unwrap();
    client.delete_context_variable(&own.id, ORG_GLOBAL.variable).await.unwrap();

    let again = run_contexts_checks(&server, true).await;
    assert_eq!(
        note_or_failure(&again, ids::ORG_GLOBAL),
        "pass: added CONTEXT_END_TO_END_TEST_VAR to context `org-global` (--setup-contexts)"
    );
}

/// Runs `features::contexts` (and the contexts checks), with `--setup-contexts`.
async fn run_the_contexts_job(server: &SimServer) -> (RunSummary, Vec<String>) {
    let report = run_checks(server, "contexts", true).await;
    (report.summary, report.finish_notes)
}

#[tokio::test]
async fn runs_at_once_leave_the_values_to_one_and_both_pass() {
    let server = SimServer::start(Scenario::ContextsMissing, ([127, 0, 0, 1], 0).into()).await.unwrap();
    // The contexts exist and are realitycheck's: created by an earlier run.
    run_contexts_checks(&server, true).await;
    let ((first, first_notes), (second, second_notes)) =
        tokio::join!(run_the_contexts_job(&server), run_the_contexts_job(&server));
    let notes = [note_or_failure(&first, ids::FEATURE_CONTEXTS), note_or_failure(&second, ids::FEATURE_CONTEXTS)];
    assert!(notes.iter().all(|note| note.starts_with("pass: ")), "neither disturbs the other: {notes:?}");
    assert!(
        notes.iter().any(|note| note.contains("another realitycheck run")),
        "one of them leaves the values to the other and says so: {notes:?}"
    );
    assert!(
        first_notes.iter().chain(&second_notes).all(|n| !n.contains("could not")),
        "{first_notes:?} {second_notes:?}"
    );
    let state = server.circleci_state();
    assert_eq!(
        state.context_variable_value(ORG_GLOBAL.name, RUN_IN_PROGRESS),
        None,
        "the marker is removed at the end"
    );
    // Alone again, a run proves the values.
    let (alone, _) = run_the_contexts_job(&server).await;
    let note = note_or_failure(&alone, ids::FEATURE_CONTEXTS);
    assert!(note.contains("values realitycheck set for this run"), "{note}");
}
