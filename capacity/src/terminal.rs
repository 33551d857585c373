//! The report for people on a terminal, in the manner of `realitycheck run`'s (labels
//! right-aligned in a column of 12): a header (target, workload, trigger, pipeline), the
//! measures (✓ green, ✗ red, – not judged; the ID, the value against its threshold, the
//! message wrapped to the width), the numbers, the measurement's notes and a one-line verdict.
//! Text from the cluster (messages quote its log lines) goes through `reports::printable`
//! before any colour is added; colour is used only when asked for.

use console::Style;

use crate::judge::{Measure, MeasureId};
use crate::measurement::{Ending, rounded};
use crate::report::{Report, Verdict, seconds};

/// Width of the label column (`Capacity`, `Measures`, ...), right-aligned as `run`'s report.
const LABEL_WIDTH: usize = 12;
/// Indentation that puts text under the label column's text.
const UNDER_LABEL: &str = "             ";
/// The width when the terminal's cannot be known.
const FALLBACK_WIDTH: usize = 100;
/// The fewest columns a message is wrapped to beside the table; narrower, it goes under it.
const MIN_MESSAGE_WIDTH: usize = 36;

/// How the terminal report is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalOptions {
    /// Colour the marks and labels (ANSI escape sequences).
    pub color: bool,
    /// Columns to wrap messages to; `None` asks the terminal on stdout (100 when it is not one).
    pub width: Option<usize>,
}

impl Report {
    /// The report as text for a terminal.
    pub fn terminal(&self, options: TerminalOptions) -> String {
        terminal(self, options)
    }
}

fn terminal(report: &Report, options: TerminalOptions) -> String {
    let width = options.width.unwrap_or_else(|| {
        console::Term::stdout().size_checked().map_or(FALLBACK_WIDTH, |(_, columns)| columns.into())
    });
    let painter = Painter { color: options.color };
    let mut text = header(report, &painter);
    text.push('\n');
    text.push_str(&measures(report, &painter, width));
    text.push('\n');
    text.push_str(&numbers(report, &painter));
    for (index, note) in report.measurement.notes.iter().enumerate() {
        let label = if index == 0 { painter.label("Notes", Style::new().yellow().bold()) } else { blank_label() };
        text.push_str(&indented(&label, &wrap(&reports::printable(note), width.saturating_sub(LABEL_WIDTH + 1))));
    }
    text.push('\n');
    text.push_str(&verdict(report, &painter));
    text
}

fn header(report: &Report, painter: &Painter) -> String {
    let measurement = &report.measurement;
    let mut text = format!(
        "{} {}: {}\n",
        painter.label("Capacity", Style::new().cyan().bold()),
        reports::printable(&measurement.target),
        report.workload_line()
    );
    let triggered = report.triggered_at();
    let (year, month, day) = (triggered.year(), u8::from(triggered.month()), triggered.day());
    let mut when = format!(
        "triggered {year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC, watched for {:.1}s, sampled every {}",
        triggered.hour(),
        triggered.minute(),
        triggered.second(),
        rounded(report.summary.observed_until),
        seconds(measurement.sample_interval)
    );
    if let Ending::Interrupted { by } = &measurement.ending {
        when.push_str(&format!(", interrupted by {}", reports::printable(by)));
    }
    text.push_str(&format!("{UNDER_LABEL}{when}\n"));
    if let Some(pipeline) = &measurement.pipeline {
        text.push_str(&format!("{UNDER_LABEL}pipeline {}\n", reports::printable(pipeline)));
    }
    text
}

/// The table of measures: mark, ID, value against threshold, message.
fn measures(report: &Report, painter: &Painter, width: usize) -> String {
    let rows: Vec<(&Measure, String)> = report.measures.iter().map(|m| (m, figures(m))).collect();
    let id_width = rows.iter().map(|(m, _)| m.id.as_str().len()).max().unwrap_or(0);
    let figures_width = rows.iter().map(|(_, f)| console::measure_text_width(f)).max().unwrap_or(0);
    // Label, mark and a space, the ID, two spaces, the figures, two spaces.
    let message_column = LABEL_WIDTH + 3 + id_width + 2 + figures_width + 2;
    let beside = width.saturating_sub(message_column) >= MIN_MESSAGE_WIDTH;
    let mut text = String::new();
    for (index, (measure, figures)) in rows.iter().enumerate() {
        let label = if index == 0 { painter.label("Measures", Style::new().cyan().bold()) } else { blank_label() };
        let (mark, style) = mark(measure.passed);
        let row = format!(
            "{label} {} {:<id_width$}  {}",
            painter.paint(mark, style),
            measure.id.as_str(),
            pad(figures, figures_width)
        );
        let message = reports::printable(&measure.message);
        if beside {
            let lines = wrap(&message, width - message_column);
            text.push_str(&indented(&format!("{row}  "), &lines));
        } else {
            text.push_str(row.trim_end());
            text.push('\n');
            let under = format!("{UNDER_LABEL}  ");
            let lines = wrap(&message, width.saturating_sub(under.len()).max(MIN_MESSAGE_WIDTH));
            text.push_str(&indented(&under, &lines));
        }
    }
    text
}

/// `152.3s > 120s`, `48 of 50`, `5 of max 5`: a measure's value against its threshold.
fn figures(measure: &Measure) -> String {
    let (Some(value), Some(threshold)) = (measure.value, measure.threshold) else {
        return String::new();
    };
    match measure.id {
        MeasureId::MaxWaitP95 => {
            let relation = if value <= threshold { "≤" } else { ">" };
            format!("{value:.1}s {relation} {threshold:.1}s")
        }
        MeasureId::Autoscaler => format!("{value} of max {threshold}"),
        MeasureId::AllRan | MeasureId::Fits => format!("{value} of {threshold}"),
    }
}

/// The numbers of the summary, one a line.
fn numbers(report: &Report, painter: &Painter) -> String {
    let summary = &report.summary;
    let time = |duration: Option<std::time::Duration>| duration.map_or_else(|| "–".to_owned(), |d| tenths(rounded(d)));
    let waits = match summary.wait_p95 {
        Some(_) => {
            format!("p50 {}  p95 {}  max {}", time(summary.wait_p50), time(summary.wait_p95), time(summary.wait_max))
        }
        None => "no container started".to_owned(),
    };
    let all_ran = match summary.all_ran_after {
        Some(after) => format!("{} after the trigger", tenths(rounded(after))),
        None => format!("not all: {} of {} started", summary.started, summary.containers),
    };
    let clients = match (summary.clients_before, summary.clients_peak, summary.clients_after) {
        (Some(before), Some(peak), Some(after)) => format!("{before} → {peak} → {after} (before → peak → after)"),
        _ => "not sampled".to_owned(),
    };
    let scale_out = match (summary.first_scale_out, summary.clients_before) {
        (Some(at), _) => format!("{} after the trigger", tenths(rounded(at))),
        (None, Some(_)) => "none".to_owned(),
        (None, None) => "–".to_owned(),
    };
    let mut rows = vec![
        ("wait (queued → started)", waits),
        ("run time", format!("p50 {}", time(summary.run_p50))),
        (
            "containers",
            format!("{} asked, {} started, {} succeeded", summary.containers, summary.started, summary.succeeded),
        ),
        ("all ran", all_ran),
        ("waiting peak", format!("{} at once", summary.waiting_peak)),
        ("Nomad clients ready", clients),
        ("first scale-out", scale_out),
    ];
    if !summary.waited_at_max.is_zero() {
        rows.push((
            "waited at the max",
            format!("{} with every client the autoscaler may run", tenths(rounded(summary.waited_at_max))),
        ));
    }
    let name_width = rows.iter().map(|(name, _)| console::measure_text_width(name)).max().unwrap_or(0);
    let mut text = String::new();
    for (index, (name, value)) in rows.iter().enumerate() {
        let label = if index == 0 { painter.label("Numbers", Style::new().cyan().bold()) } else { blank_label() };
        text.push_str(&format!("{label} {}  {value}\n", pad(name, name_width)));
    }
    text
}

fn verdict(report: &Report, painter: &Painter) -> String {
    let judged = report.measures.iter().filter(|m| m.passed.is_some()).count();
    let total = report.measures.len();
    let red: Vec<&str> = report.red().map(|m| m.id.as_str()).collect();
    let (style, text) = match report.verdict() {
        Verdict::Passed => (green(), format!("✓ passed: {judged} of {total} measures judged, none red")),
        Verdict::Failed => {
            (red_style(), format!("✗ failed: {} of {total} measures red: {}", red.len(), red.join(", ")))
        }
        Verdict::NotMeasured => (
            yellow(),
            format!(
                "– not measured: {judged} of {total} measures judged, none red; whether every container ran in time is not known"
            ),
        ),
    };
    format!("{} {}\n", painter.label("Verdict", style.clone()), painter.paint(&text, style))
}

/// The mark of a verdict and its colour.
fn mark(passed: Option<bool>) -> (&'static str, Style) {
    match passed {
        Some(true) => ("✓", green()),
        Some(false) => ("✗", red_style()),
        None => ("–", yellow()),
    }
}

/// Colours text when asked to.
struct Painter {
    color: bool,
}

impl Painter {
    fn label(&self, label: &str, style: Style) -> String {
        self.paint(&format!("{label:>LABEL_WIDTH$}"), style)
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if self.color { style.force_styling(true).apply_to(text).to_string() } else { text.to_owned() }
    }
}

fn blank_label() -> String {
    " ".repeat(LABEL_WIDTH)
}

/// `text` padded with spaces to `width` columns.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(console::measure_text_width(text))))
}

/// `12.5s`: seconds to a tenth.
fn tenths(seconds: f64) -> String {
    format!("{seconds:.1}s")
}

/// `lines`, the first after `first` and the others under it (as wide as `first`).
fn indented(first: &str, lines: &[String]) -> String {
    let indent = " ".repeat(console::measure_text_width(first));
    let mut text = String::new();
    for (index, line) in lines.iter().enumerate() {
        let lead = if index == 0 { first } else { &indent };
        text.push_str(format!("{lead}{line}").trim_end());
        text.push('\n');
    }
    if lines.is_empty() {
        text.push_str(first.trim_end());
        text.push('\n');
    }
    text
}

/// `text` wrapped at spaces to lines of at most `width` columns (its own line breaks kept, each
/// line's indentation kept for the lines it wraps to; a word longer than a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let words = paragraph.trim_start();
        let indent = &paragraph[..paragraph.len() - words.len()];
        let width = width.saturating_sub(console::measure_text_width(indent)).max(1);
        let first = lines.len();
        wrap_words(words, width, &mut lines);
        for line in &mut lines[first..] {
            line.insert_str(0, indent);
        }
    }
    lines
}

/// Adds the lines of `paragraph` wrapped to `width` columns to `lines`.
fn wrap_words(paragraph: &str, width: usize, lines: &mut Vec<String>) {
    let mut line = String::new();
    for word in paragraph.split(' ').filter(|word| !word.is_empty()) {
        let needed =
            console::measure_text_width(&line) + usize::from(!line.is_empty()) + console::measure_text_width(word);
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut word = word;
        while console::measure_text_width(word) > width {
            let cut = cut_at(word, width);
            lines.push(word[..cut].to_owned());
            word = &word[cut..];
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
}

/// The byte index after the first `width` columns of `word` (at least one character).
fn cut_at(word: &str, width: usize) -> usize {
    let mut columns = 0;
    for (index, c) in word.char_indices() {
        columns += console::measure_text_width(c.encode_utf8(&mut [0; 4]));
        if columns > width {
            return if index == 0 { c.len_utf8() } else { index };
        }
    }
    word.len()
}

fn green() -> Style {
    Style::new().green().bold()
}

fn red_style() -> Style {
    Style::new().red().bold()
}

fn yellow() -> Style {
    Style::new().yellow().bold()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_line_breaks() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        assert_eq!(wrap("first\nsecond line", 20), ["first", "second line"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), Vec::<String>::new());
        assert_eq!(wrap("ééééé x", 3), ["ééé", "éé", "x"]);
        assert_eq!(wrap("logs:\n  one two three", 9), ["logs:", "  one two", "  three"]);
    }
}
