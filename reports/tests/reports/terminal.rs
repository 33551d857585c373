//! The terminal report: plain snapshots, colour, the live status line, and the comparison with
//! a baseline.

use std::sync::Arc;

use harness::Event;
use reports::{Baseline, TerminalOptions, TerminalReporter};

use crate::{feed, scenarios};

/// Terminal width for the live status line, fixed so that output does not depend on the
/// terminal the tests run in.
const WIDTH: usize = 72;

fn render(events: &[Event], options: TerminalOptions) -> String {
    let mut out = Vec::new();
    feed(&mut TerminalReporter::new(&mut out, options).with_width(WIDTH), events);
    String::from_utf8(out).unwrap()
}

pub fn render_compared(events: &[Event], baseline: &Arc<Baseline>, options: TerminalOptions) -> String {
    let mut out = Vec::new();
    feed(&mut TerminalReporter::new(&mut out, options).with_width(WIDTH).with_baseline(Some(baseline.clone())), events);
    String::from_utf8(out).unwrap()
}

pub const PLAIN: TerminalOptions = TerminalOptions { color: false, live: false };
pub const COLOUR: TerminalOptions = TerminalOptions { color: true, live: false };

#[test]
fn plain_output_of_every_scenario() {
    for (name, events) in scenarios::all() {
        insta::assert_snapshot!(format!("terminal_{name}"), render(&events, PLAIN));
    }
    for (name, events, baseline) in scenarios::compared() {
        insta::assert_snapshot!(format!("terminal_{name}"), render_compared(&events, &baseline, PLAIN));
    }
}

/// The marks and the comparison in colour: escape sequences shown as `<ESC>`; without them,
/// the plain output.
#[test]
fn coloured_output_of_a_comparison() {
    for (name, events, baseline) in scenarios::compared() {
        let coloured = render_compared(&events, &baseline, COLOUR);
        assert_eq!(console::strip_ansi_codes(&coloured), render_compared(&events, &baseline, PLAIN), "{name}");
        insta::assert_snapshot!(format!("terminal_{name}_coloured"), coloured.replace('\u{1b}', "<ESC>"));
    }
}

#[test]
fn colour_only_styles_the_plain_text() {
    let events = scenarios::failed_run();
    let coloured = render(&events, COLOUR);
    assert!(coloured.contains("\u{1b}[31m"), "failures are red: {coloured}");
    assert_eq!(console::strip_ansi_codes(&coloured), render(&events, PLAIN));
    assert!(!render(&events, PLAIN).contains('\u{1b}'), "no escape sequence without colour");
}

#[test]
fn live_status_line_is_redrawn_on_every_event_and_gone_at_the_end() {
    let events = scenarios::interrupted_run();
    let live = render(&events, TerminalOptions { color: false, live: true });
    let clear = "\r\u{1b}[2K";
    assert_eq!(live.matches(clear).count(), events.len() - 1, "every event after the first clears the line");
    let (_, after_last_clear) = live.rsplit_once(clear).unwrap();
    assert!(after_last_clear.ends_with('\n') && !after_last_clear.contains("Running"), "{after_last_clear}");
    let permanent: String = live.split(clear).map(|chunk| chunk.rfind('\n').map_or("", |end| &chunk[..=end])).collect();
    assert_eq!(permanent, render(&events, PLAIN), "without the status line, live output is the plain output");
    let status_lines = live.split(clear).map(|chunk| chunk.rsplit_once('\n').map_or(chunk, |(_, status)| status));
    assert!(status_lines.clone().all(|status| console::measure_text_width(status) < WIDTH), "{live}");
    assert!(status_lines.clone().any(|status| status.ends_with('…')), "a long status line is cut: {live}");
    insta::assert_snapshot!("terminal_live", live.replace(clear, "<clear>\n"));
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    let mut events = scenarios::failed_run();
    let hostile = "step said \u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[1;1Hall green\r\u{0}\u{9b}31m";
    let Some(Event::RunFinished(summary)) = events.last_mut() else { unreachable!("scenarios end with RunFinished") };
    let harness::Outcome::Failed { diagnosis } = &mut summary.results[2].outcome else { unreachable!("a failure") };
    diagnosis.observed.push(hostile.to_string());
    diagnosis.summary.push_str(hostile);
    for options in [PLAIN, COLOUR] {
        let out = render(&events, options);
        let text = console::strip_ansi_codes(&out);
        assert!(text.contains("step said all green\u{fffd}\u{fffd}\u{fffd}31m"), "{text}");
        for forbidden in ['\u{0}', '\u{7}', '\r', '\u{9b}'] {
            assert!(!out.contains(forbidden), "{forbidden:?} reached the terminal: {out:?}");
        }
        assert!(
            !out.contains("\u{1b}]") && !out.contains("\u{1b}[2J"),
            "a server's escape reached the terminal: {out:?}"
        );
    }
}
