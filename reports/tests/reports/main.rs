//! Tests of the three reporters, fed with synthetic event streams: snapshots of every format
//! for every scenario (some compared with a baseline), schema validation of the files, and
//! robustness on odd event sequences.

mod baseline;
mod json;
mod junit;
mod robustness;
mod scenarios;
mod terminal;

use std::path::Path;

use harness::Event;
use reports::Reporter;

/// Feeds every event to `reporter`, which must accept them all.
fn feed(reporter: &mut impl Reporter, events: &[Event]) {
    for event in events {
        reporter.handle(event).unwrap_or_else(|error| panic!("{event:?} was refused: {error}"));
    }
}

/// The file a file reporter, made by `reporter_for`, writes for `events`.
fn file_report<R: Reporter>(reporter_for: impl FnOnce(&Path) -> R, events: &[Event]) -> String {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("report");
    feed(&mut reporter_for(&path), events);
    std::fs::read_to_string(&path).unwrap()
}

/// The reference material shared beside the repository (`../shared/reference`), if present.
fn shared_reference(relative: &str) -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference").join(relative);
    path.exists().then_some(path)
}
