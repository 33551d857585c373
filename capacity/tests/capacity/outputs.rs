//! Snapshots of the terminal (without colour), JSON and JUnit reports of a green, a red, a
//! machine and a not-started measurement; colour only when asked; text from the cluster never
//! reaching the terminal raw.

use capacity::TerminalOptions;

use crate::{fixtures, report};

/// The snapshotted measurements, by name.
fn snapshotted() -> [(&'static str, capacity::Measurement); 5] {
    [
        ("green", fixtures::green()),
        ("red", fixtures::scaling_to_the_max()),
        ("machine", fixtures::machine()),
        ("not_started", fixtures::not_started()),
        ("stuck", fixtures::stuck()),
    ]
}

const PLAIN: TerminalOptions = TerminalOptions { color: false, width: Some(100) };

/// Snapshots without the version of realitycheck, which changes with every release.
fn without_version(check: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&capacity::REALITYCHECK_VERSION.replace('.', r"\."), "[version]");
    settings.bind(check);
}

#[test]
fn terminal_of_each_measurement() {
    for (name, measurement) in snapshotted() {
        insta::assert_snapshot!(format!("terminal_{name}"), report(measurement).terminal(PLAIN));
    }
}

#[test]
fn json_of_each_measurement() {
    without_version(|| {
        for (name, measurement) in snapshotted() {
            insta::assert_snapshot!(format!("json_{name}"), report(measurement).json());
        }
    });
}

#[test]
fn junit_of_each_measurement() {
    without_version(|| {
        for (name, measurement) in snapshotted() {
            insta::assert_snapshot!(format!("junit_{name}"), report(measurement).junit());
        }
    });
}

#[test]
fn a_narrow_terminal_puts_messages_under_the_table() {
    let text = report(fixtures::stuck()).terminal(TerminalOptions { color: false, width: Some(60) });
    insta::assert_snapshot!("terminal_stuck_narrow", text);
}

#[test]
fn colour_only_when_asked() {
    let report = report(fixtures::scaling_to_the_max());
    let plain = report.terminal(PLAIN);
    assert!(!plain.contains('\u{1b}'), "{plain}");
    let coloured = report.terminal(TerminalOptions { color: true, width: Some(100) });
    assert!(coloured.contains("\u{1b}[31m\u{1b}[1m✗\u{1b}[0m capacity.autoscaler"), "{coloured:?}");
    assert!(coloured.contains("\u{1b}[32m\u{1b}[1m✓\u{1b}[0m capacity.fits"), "{coloured:?}");
    assert_eq!(console::strip_ansi_codes(&coloured), plain, "colour changes nothing else");
}

/// The autoscaler's log lines, the target and the notes come from the cluster: an escape
/// sequence in them (a window title, a hyperlink, a colour) is dropped, a control character shown.
#[test]
fn text_from_the_cluster_is_printed_safely() {
    let mut measurement = fixtures::stuck();
    measurement.target = "prod\u{1b}]0;owned\u{7}".to_owned();
    measurement.autoscaler.as_mut().unwrap().log_errors =
        vec!["\u{1b}[2J\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\ failed\rto scale".to_owned()];
    measurement.notes.push("nomad said \u{1b}[31mno\u{1b}[0m\u{0}".to_owned());
    let report = report(measurement);
    for colour in [false, true] {
        let text = report.terminal(TerminalOptions { color: colour, width: Some(100) });
        let stripped = console::strip_ansi_codes(&text);
        assert!(!stripped.contains('\u{1b}') && !stripped.contains('\u{7}') && !stripped.contains('\r'), "{text:?}");
        assert!(stripped.contains("click failed\u{fffd}to scale"), "{stripped}");
        assert!(stripped.contains("nomad said no\u{fffd}"), "{stripped}");
        assert!(stripped.starts_with("    Capacity prod: 50 × medium"), "{stripped}");
    }
    let xml = report.junit();
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{7}'), "{xml:?}");
    let svg = report.svg();
    assert!(!svg.contains('\u{1b}') && !svg.contains('\u{7}'), "{svg:?}");
}
