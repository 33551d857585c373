//! The certificate checks report what they measured besides their verdicts: `nomad::mtls` the
//! expiry of the CA and the certificate of the Nomad mTLS Secret, `api::tls_certificate` that
//! of the certificate the installation serves, against the simulation, and a red check still
//! carries its observation (an expiring certificate is red AND its expiry is exported).

mod common;

use harness::{CancellationToken, CheckResult, EventSink, Observation, Outcome, Run, RunSummary};
use k8s_openapi::jiff::Timestamp;
use realitycheck_sim::scenario::Scenario;
use realitycheck_sim::sim::SimServer;
use suites::RealityCheck;
use suites::checks::{CERTIFICATE_EXPIRY, ids};

const DAY: i64 = 24 * 60 * 60;

/// The summary of a run of the two certificate checks against a simulation of `scenario`.
async fn certificate_checks(scenario: Scenario) -> (RunSummary, String) {
    let server = SimServer::start(scenario, ([127, 0, 0, 1], 0).into()).await.unwrap();
    let target = server.target(scenario.name());
    let host = server.circleci_url();
    let options = common::run_options(scenario.name(), &[ids::MTLS, ids::TLS_CERTIFICATE], true);
    let run = Run::new(RealityCheck::new(target, false), options);
    let (events, _received) = EventSink::channel();
    let summary = run.execute(&events, CancellationToken::new()).await.unwrap().summary;
    server.shutdown().await;
    (summary, host)
}

fn result<'a>(summary: &'a RunSummary, id: &str) -> &'a CheckResult {
    summary.results.iter().find(|r| r.spec.id == id).unwrap_or_else(|| panic!("{id} not in {summary:?}"))
}

/// The value of the expiry observation of `subject` in `result`, which must hold exactly one.
fn expiry(result: &CheckResult, subject: &str) -> i64 {
    let found: Vec<&Observation> =
        result.observations.iter().filter(|o| o.name == CERTIFICATE_EXPIRY && o.subject == subject).collect();
    assert_eq!(found.len(), 1, "one expiry of {subject} in {:?}", result.observations);
    found[0].value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_checks_observe_each_expiry() {
    let (summary, host) = certificate_checks(Scenario::Healthy).await;
    let now = Timestamp::now().as_second();

    let mtls = result(&summary, ids::MTLS);
    assert!(matches!(mtls.outcome, Outcome::Passed { .. }), "{mtls:?}");
    assert_eq!(mtls.observations.len(), 2, "{:?}", mtls.observations);
    // The simulation's material is valid for 100 years, as the Terraform modules make it.
    let (ca, cert) = (expiry(mtls, "nomad-mtls ca.pem"), expiry(mtls, "nomad-mtls cert.pem"));
    for at in [ca, cert] {
        assert!(at > now + 365 * DAY && at < now + 101 * 365 * DAY, "{at} is not a plausible expiry (now {now})");
    }

    let tls = result(&summary, ids::TLS_CERTIFICATE);
    assert!(matches!(tls.outcome, Outcome::Passed { .. }), "{tls:?}");
    assert_eq!(tls.observations.len(), 1, "{:?}", tls.observations);
    // The subject is the host as the check's messages show it; the simulation's certificate
    // is valid for 397 days from about its start.
    assert_eq!(tls.observations[0].subject, host);
    let served = expiry(tls, &host);
    assert!(served > now + 300 * DAY && served < now + 400 * DAY, "{served} is not a plausible expiry (now {now})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_certificate_is_red_and_its_expiry_still_observed() {
    let (summary, _) = certificate_checks(Scenario::MtlsExpiring).await;
    let now = Timestamp::now().as_second();

    let mtls = result(&summary, ids::MTLS);
    let Outcome::Failed { diagnosis } = &mtls.outcome else { panic!("{mtls:?}") };
    assert!(diagnosis.summary.contains("cert.pem of Secret nomad-mtls expires in 9 days"), "{diagnosis:?}");
    // The certificate expires nine and a half days after the simulation started.
    let cert = expiry(mtls, "nomad-mtls cert.pem");
    assert!(cert > now + 9 * DAY && cert <= now + 10 * DAY, "{cert} is not 9.5 days from now ({now})");
    assert!(expiry(mtls, "nomad-mtls ca.pem") > now + 365 * DAY, "the CA does not expire soon");
}
