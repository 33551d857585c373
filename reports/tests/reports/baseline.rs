//! What a baseline may bring into the reports of the run compared with it: its checks' IDs and
//! statuses, its start, target, host and profile, and nothing else; made printable like any
//! text from outside.

use std::path::Path;
use std::sync::Arc;

use reports::{Baseline, JsonReporter, JunitReporter};

use crate::terminal::{COLOUR, PLAIN, render_compared};
use crate::{file_report, scenarios};

#[test]
fn nothing_of_the_baseline_but_what_the_comparison_reads_reaches_a_report() {
    for (name, events, baseline) in scenarios::compared() {
        let compared = format!("compared with {}", baseline.file());
        let outputs = [
            (render_compared(&events, &baseline, PLAIN), compared.clone()),
            (render_compared(&events, &baseline, COLOUR), compared),
            (
                file_report(
                    |path| JsonReporter::new(path.to_path_buf()).with_baseline(Some(baseline.clone())),
                    &events,
                ),
                format!(r#""file": "{}""#, baseline.file()),
            ),
            (
                file_report(
                    |path| JunitReporter::new(path.to_path_buf()).with_baseline(Some(baseline.clone())),
                    &events,
                ),
                "realitycheck.baseline.".to_string(),
            ),
        ];
        for (output, comparison) in outputs {
            assert!(output.contains(&comparison), "{name}: the comparison is there:\n{output}");
            assert!(!output.contains(scenarios::BASELINE_ONLY), "{name}: the baseline's other text leaked:\n{output}");
        }
    }
}

#[test]
fn a_baseline_s_text_cannot_drive_the_terminal() {
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m";
    let report = serde_json::json!({
        "schema_version": "realitycheck.report/v3",
        "target": format!("prod{hostile}"),
        "host": format!("https://circleci.example.com{hostile}"),
        "profile": format!("ci{hostile}"),
        "started_at": "2026-03-01T09:30:00.250Z",
        "status": "passed",
        "checks": [{"id": format!("nomad::clients_ready{hostile}"), "status": "passed"}],
    });
    let file = format!("before{hostile}.json");
    let baseline = Arc::new(Baseline::parse(Path::new(&file), &serde_json::to_vec(&report).unwrap()).unwrap());
    for options in [PLAIN, COLOUR] {
        let out = render_compared(&scenarios::failed_run(), &baseline, options);
        for forbidden in ['\u{7}', '\u{9b}'] {
            assert!(!out.contains(forbidden), "{forbidden:?} reached the terminal: {out:?}");
        }
        assert!(!out.contains("\u{1b}]") && !out.contains("\u{1b}[2J"), "an escape reached the terminal: {out:?}");
        let text = console::strip_ansi_codes(&out);
        assert!(text.contains("1 check of the baseline not in this run: nomad::clients_ready"), "{text}");
    }
}
