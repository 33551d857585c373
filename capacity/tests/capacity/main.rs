//! Tests of the capacity crate on fixture measurements: the verdict of each measure, the
//! summary on odd inputs, snapshots of the terminal, JSON and JUnit reports, the JSON against
//! its schema and the JUnit against both XSDs, the picture, and the picture in the docs.

mod docs;
mod fixtures;
mod json;
mod judge;
mod junit;
mod outputs;
mod picture;
mod summary;

use std::path::{Path, PathBuf};

/// The reference material shared beside the repository (`../shared/reference`), if present.
fn shared_reference(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference").join(relative);
    path.exists().then_some(path)
}

/// Skips the test, saying why, unless REALITYCHECK_REQUIRE_TOOLS=1 (CI) makes it mandatory.
fn skip(why: &str) {
    assert!(
        std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "required by REALITYCHECK_REQUIRE_TOOLS=1: {why}"
    );
    eprintln!("skipped: {why}");
}

/// The report of `measurement` against the fixtures' thresholds.
fn report(measurement: capacity::Measurement) -> capacity::Report {
    capacity::Report::new(measurement, fixtures::THRESHOLDS)
}

/// The fixtures every output is rendered for, by name.
fn every_fixture() -> Vec<(&'static str, capacity::Measurement)> {
    vec![
        ("green", fixtures::green()),
        ("red", fixtures::scaling_to_the_max()),
        ("machine", fixtures::machine()),
        ("not_started", fixtures::not_started()),
        ("one", fixtures::one()),
        ("two_hundred", fixtures::two_hundred()),
        ("stuck", fixtures::stuck()),
        ("interrupted", fixtures::interrupted(100.0)),
    ]
}
