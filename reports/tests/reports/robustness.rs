//! Odd event sequences: every reporter accepts them without panicking.

use std::time::Duration;

use harness::{Event, RunStatus, RunSummary};
use reports::{JsonReporter, JunitReporter, Reporter, TerminalOptions, TerminalReporter};

use crate::scenarios;

fn finished_alone() -> Event {
    Event::RunFinished(RunSummary {
        status: RunStatus::Passed,
        results: Vec::new(),
        duration: Duration::MAX,
        stopped_because: None,
    })
}

#[test]
fn any_event_sequence_is_accepted() {
    let full = scenarios::failed_run();
    let sequences: Vec<Vec<Event>> = vec![
        vec![finished_alone()],
        full.iter().skip(1).cloned().collect(),
        full.iter().rev().cloned().collect(),
        full.iter().chain(&full).cloned().collect(),
        full.iter().filter(|event| !matches!(event, Event::RunFinished(_))).cloned().collect(),
    ];
    let directory = tempfile::tempdir().unwrap();
    for (index, events) in sequences.iter().enumerate() {
        let mut terminal = TerminalReporter::new(Vec::new(), TerminalOptions { color: true, live: true });
        let mut junit = JunitReporter::new(directory.path().join(format!("{index}.xml")));
        let mut json = JsonReporter::new(directory.path().join(format!("{index}.json")));
        for event in events {
            let reporters: [&mut dyn Reporter; 3] = [&mut terminal, &mut junit, &mut json];
            for reporter in reporters {
                reporter.handle(event).unwrap();
            }
        }
    }
}

#[test]
fn a_run_that_never_started_is_reported_as_unknown() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("report.json");
    JsonReporter::new(path.clone()).handle(&finished_alone()).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(report["target"], "unknown");
    assert_eq!(report["started_at"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn an_unwritable_report_path_is_an_error_naming_it() {
    let directory = tempfile::tempdir().unwrap();
    let blocker = directory.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("report.xml");
    let error = JunitReporter::new(path.clone()).handle(&finished_alone()).unwrap_err();
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}
