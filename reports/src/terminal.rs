//! The human report, in the manner of cargo-nextest: a header, one line per finished check
//! (`PASS [   0.412s] nomad::clients_ready  3 of 3 clients ready`), preflight, slow and retry
//! notices as they happen, and at the end a summary by suite, every failure with its full
//! diagnosis and the `realitycheck explain` command of its check (a cause several failures
//! share stated once, with the checks it explains), and a one-line verdict. Compared with a
//! baseline, a check's line carries its mark where it matters (`[new red]`, `[new green]`,
//! `[still red]`, `[not rechecked]`), and the summary ends with the counts of the marks, the
//! baseline's checks not in this run, and warnings when the baseline is of another target or
//! host. On a TTY (`live`) a status line at the bottom says how
//! many checks finished and which are running; it is redrawn on each event, never on a timer.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use console::Style;
use harness::{CheckResult, CheckSpec, Counts, Event, Outcome, RunInfo, RunStatus, RunSummary, SkipReason};

use crate::baseline::{Baseline, Comparison, Mark};
use crate::causes::{self, Cause};
use crate::printable::printable;
use crate::tally::{by_suite, nonzero};
use crate::{ReportError, Reporter, diagnosis, run};

/// Width of the label column (`PASS`, `Starting`, ...), right-aligned as nextest does.
const LABEL_WIDTH: usize = 12;
/// The bracketed column of a line without a duration, as wide as `[   0.412s]`.
const BLANK_COLUMN: &str = "[         ]";
/// Indentation that puts text under the bracketed column (label and a space).
const UNDER_COLUMN: &str = "             ";
/// Indentation that puts text under the check ID (label, column and two spaces).
const UNDER_ID: &str = "                         ";
/// Clears the current terminal line and returns the cursor to its start.
const CLEAR_LINE: &str = "\r\x1b[2K";
/// The status line's width when the terminal's cannot be known.
const FALLBACK_WIDTH: usize = 80;
/// How many of the baseline's checks not in this run the summary names.
const NOT_IN_THIS_RUN_SHOWN: usize = 30;

/// How the terminal report is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalOptions {
    /// Colour the labels (ANSI escape sequences).
    pub color: bool,
    /// Keep a status line at the bottom, redrawn on every event. Only for a TTY: the line
    /// is rewritten in place with carriage returns and line clears, and cut to the width of
    /// the terminal on stdout (see `TerminalReporter::with_width`).
    pub live: bool,
}

/// Writes the human report of a run to `out` (stdout in the binary).
pub struct TerminalReporter<W: Write> {
    out: W,
    options: TerminalOptions,
    planned: usize,
    finished: usize,
    /// IDs of the checks started and not yet finished, in start order.
    running: Vec<String>,
    status_line_shown: bool,
    /// Columns the status line may use; `None` asks the terminal on stdout.
    width: Option<usize>,
    /// The run, from `RunStarted`.
    info: Option<RunInfo>,
    /// The earlier run this one is compared with.
    baseline: Option<Arc<Baseline>>,
}

impl<W: Write> TerminalReporter<W> {
    /// A reporter that writes to `out` as `options` say, its status line as wide as the
    /// terminal on stdout.
    pub fn new(out: W, options: TerminalOptions) -> Self {
        TerminalReporter {
            out,
            options,
            planned: 0,
            finished: 0,
            running: Vec::new(),
            status_line_shown: false,
            width: None,
            info: None,
            baseline: None,
        }
    }

    /// Compares the run with `baseline`, if any: marks on the checks' lines, and the comparison after
    /// the summary.
    pub fn with_baseline(mut self, baseline: Option<Arc<Baseline>>) -> Self {
        self.baseline = baseline;
        self
    }

    /// Cuts the live status line to `columns` instead of the width of the terminal on
    /// stdout (for a reporter writing elsewhere, or a fixed layout).
    pub fn with_width(mut self, columns: usize) -> Self {
        self.width = Some(columns);
        self
    }

    /// Updates the progress counters and renders the permanent lines `event` adds.
    fn lines_for(&mut self, event: &Event) -> String {
        match event {
            Event::RunStarted { info, checks } => {
                self.planned = checks.len();
                self.finished = 0;
                self.running.clear();
                self.info = Some(info.clone());
                self.header(info, checks)
            }
            Event::PreflightPassed { name, note } => self.line("PASS", green(), "[preflight]", name, note),
            Event::PreflightFailed { name, message } => self.line("FAIL", red(), "[preflight]", name, message),
            Event::CheckStarted { id } => {
                self.running.push(id.clone());
                String::new()
            }
            Event::CheckSlow { id, elapsed, timeout } => {
                let detail = format!("still running; times out at {}", harness::humanize(*timeout));
                self.line("SLOW", yellow(), &duration_column(*elapsed), id, &detail)
            }
            Event::CheckRetrying { id, next_attempt, failure } => {
                let column = format!("{:>11}", format!("[attempt {next_attempt}]"));
                let detail = format!("attempt {} failed: {}", next_attempt.saturating_sub(1), failure.summary);
                self.line("RETRY", Style::new().magenta().bold(), &column, id, &detail)
            }
            Event::CheckFinished(result) => {
                self.running.retain(|id| *id != result.spec.id);
                self.finished += 1;
                self.result_line(result)
            }
            Event::RunFinished(summary) => {
                self.running.clear();
                self.summary(summary)
            }
        }
    }

    fn header(&self, info: &RunInfo, checks: &[CheckSpec]) -> String {
        let count = plural(checks.len(), "check", "checks");
        let text = format!("{count} on {} ({}), profile {}", info.target, info.host, info.profile);
        format!("{} {}\n", self.label("Starting", green()), printable(&text))
    }

    fn result_line(&self, result: &CheckResult) -> String {
        let CheckResult { spec, outcome, duration, attempts, .. } = result;
        let column = duration_column(*duration);
        let mark = self.mark(result);
        match outcome {
            Outcome::Passed { note } => self.marked_line("PASS", green(), &column, &spec.id, mark, note),
            Outcome::Failed { diagnosis } => {
                self.marked_line("FAIL", red(), &column, &spec.id, mark, &diagnosis.summary)
            }
            // The preflight's message is on its own FAIL line and in the closing lines.
            Outcome::Skipped { reason: SkipReason::PreflightFailed { preflight, .. } } => {
                let detail = format!("preflight {preflight} failed");
                self.marked_line("SKIP", yellow(), BLANK_COLUMN, &spec.id, mark, &detail)
            }
            Outcome::Skipped { reason } => {
                self.marked_line("SKIP", yellow(), BLANK_COLUMN, &spec.id, mark, &reason.to_string())
            }
            Outcome::Flaky { note, .. } => {
                self.marked_line("FLAKY", yellow(), &column, &spec.id, mark, &flaky_detail(*attempts, note))
            }
        }
    }

    /// The mark of `result` when the run is compared with a baseline.
    fn mark(&self, result: &CheckResult) -> Option<Mark> {
        self.baseline.as_ref().map(|baseline| baseline.mark(result))
    }

    fn summary(&self, summary: &RunSummary) -> String {
        let separator = "------------\n";
        let mut text = String::from(separator);
        text.push_str(&self.suites(&summary.results));
        let attention = self.failures(&summary.results);
        if !attention.is_empty() {
            text.push('\n');
            text.push_str(&attention);
            text.push_str(separator);
        }
        let style = match summary.status {
            RunStatus::Passed => green(),
            RunStatus::NothingSelected => yellow(),
            RunStatus::Failed | RunStatus::PreflightFailed | RunStatus::Interrupted => red(),
        };
        let verdict = match summary.status {
            RunStatus::NothingSelected => "0 checks: the filter selected no check".to_string(),
            _ => counts(&summary.results),
        };
        let column = duration_column(summary.duration);
        text.push_str(&format!("{} {column} {verdict}\n", self.label("Summary", style)));
        if let Some(reason) = &summary.stopped_because {
            let reason = match summary.status {
                RunStatus::PreflightFailed => format!("preflight failed: {reason}"),
                RunStatus::Interrupted => format!("interrupted: {reason}"),
                _ => reason.clone(),
            };
            text.push_str(&format!("{} {}\n", self.label("Stopped", red()), printable(&reason)));
        }
        if let Some(baseline) = &self.baseline {
            text.push_str(&self.comparison(&baseline.compare(&summary.results)));
        }
        text
    }

    /// What the comparison with the baseline found: the counts of the marks, the baseline's
    /// checks not in this run, its other profile, and warnings when it is of another target or
    /// host or its run gave few verdicts.
    fn comparison(&self, comparison: &Comparison) -> String {
        let baseline = comparison.baseline();
        let counts: Vec<String> = Mark::ALL
            .into_iter()
            .filter(|mark| {
                matches!(mark, Mark::NewRed | Mark::NewGreen | Mark::StillRed | Mark::Unchanged)
                    || comparison.count(*mark) > 0
            })
            .map(|mark| format!("{} {}", comparison.count(mark), mark.words()))
            .collect();
        let compared = format!(
            "compared with {} (run {}, target {}): {}",
            baseline.file(),
            run::minutes(baseline.started_at()),
            baseline.target(),
            counts.join(", ")
        );
        let style = if comparison.count(Mark::NewRed) > 0 { red() } else { green() };
        let mut text = format!("{} {}\n", self.label("Baseline", style), printable(&compared));
        let mut notes = Vec::new();
        let missing = comparison.not_in_this_run();
        if !missing.is_empty() {
            let mut named = missing.iter().take(NOT_IN_THIS_RUN_SHOWN).copied().collect::<Vec<_>>().join(", ");
            if missing.len() > NOT_IN_THIS_RUN_SHOWN {
                named.push_str(&format!(" and {} more", missing.len() - NOT_IN_THIS_RUN_SHOWN));
            }
            notes
                .push(format!("{} of the baseline not in this run: {named}", plural(missing.len(), "check", "checks")));
        }
        let mut warnings = Vec::new();
        if let Some(info) = &self.info {
            if baseline.profile() != info.profile {
                notes.push(format!(
                    "the baseline ran profile {}, this run profile {}",
                    baseline.profile(),
                    info.profile
                ));
            }
            if baseline.other_installation(info) {
                warnings.push(format!(
                    "the baseline checked {} ({}), this run {} ({}): unless the target was renamed or moved, the marks compare two installations",
                    baseline.target(),
                    baseline.host(),
                    info.target,
                    info.host
                ));
            }
        }
        let unfinished = match baseline.status() {
            RunStatus::Passed | RunStatus::Failed => None,
            RunStatus::PreflightFailed => Some("failed its preflight"),
            RunStatus::Interrupted => Some("was interrupted"),
            RunStatus::NothingSelected => Some("selected no check"),
        };
        if let Some(how) = unfinished {
            warnings.push(format!(
                "the baseline's run {how}: a check it skipped has no verdict to compare with, and is new red if red now"
            ));
        }
        for note in notes {
            text.push_str(&format!("{UNDER_COLUMN}{}\n", printable(&note)));
        }
        for (index, warning) in warnings.iter().enumerate() {
            let label = if index == 0 { self.label("Warning", yellow()) } else { " ".repeat(LABEL_WIDTH) };
            text.push_str(&format!("{label} {}\n", printable(warning)));
        }
        text
    }

    /// One line per suite, in the order the suites first appear in the run.
    fn suites(&self, results: &[CheckResult]) -> String {
        let suites = by_suite(results);
        let width = suites.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for (index, (suite, members)) in suites.iter().enumerate() {
            let label = if index == 0 { self.label("Suites", green()) } else { " ".repeat(LABEL_WIDTH) };
            let counts = Counts::of(members.iter().copied());
            text.push_str(&format!("{label} {suite:<width$}  {}\n", nonzero(&counts)));
        }
        text
    }

    /// Every failure and every flaky check, in plan order: a failure with its diagnosis and the
    /// command that explains its check; a cause several failures share once, where its first
    /// check is, with the checks it explains; a flaky check with its earlier failures.
    fn failures(&self, results: &[CheckResult]) -> String {
        let causes = causes::of(results);
        let mut text = String::new();
        for result in results {
            let column = duration_column(result.duration);
            let id = &result.spec.id;
            let mark = self.mark(result);
            match &result.outcome {
                Outcome::Failed { diagnosis } => match causes::of_check(&causes, id) {
                    Some(cause) if cause.is_shared() => {
                        if cause.checks[0].0.spec.id == *id {
                            text.push_str(&self.shared_cause(cause));
                            text.push('\n');
                        }
                    }
                    _ => {
                        text.push_str(&self.marked_line("FAIL", red(), &column, id, mark, ""));
                        let explained = diagnosis::render(diagnosis, UNDER_COLUMN) + &explain(UNDER_COLUMN, id);
                        text.push_str(&printable(&explained));
                        text.push('\n');
                    }
                },
                Outcome::Flaky { note, failures } => {
                    let detail = flaky_detail(result.attempts, note);
                    text.push_str(&self.marked_line("FLAKY", yellow(), &column, id, mark, &detail));
                    for (attempt, failure) in (1..).zip(failures) {
                        let summary = printable(&failure.summary);
                        text.push_str(&format!("{UNDER_COLUMN}attempt {attempt} failed: {summary}\n"));
                    }
                    text.push('\n');
                }
                Outcome::Passed { .. } | Outcome::Skipped { .. } => {}
            }
        }
        text
    }

    /// A cause several failures share, stated once: its key and summary, the evidence (the first
    /// check's, said so when the others observed other lines), the cause, what to do and the
    /// phase; then each check it explains with its summary, its own observed lines and the
    /// command that explains it.
    fn shared_cause(&self, cause: &Cause) -> String {
        let column = format!("{:>11}", format!("[{} checks]", cause.checks.len()));
        let mut text = self.line("FAIL", red(), &column, cause.id, cause.summary);
        let heading = if cause.evidence_differs() {
            format!("observed by {}:", cause.checks[0].0.spec.id)
        } else {
            "observed:".to_string()
        };
        let mut body = diagnosis::findings(&heading, cause.evidence(), cause.first(), UNDER_COLUMN);
        body.push_str(&format!("{UNDER_COLUMN}checks it explains:\n"));
        let under_check = format!("{UNDER_COLUMN}    ");
        for (result, diagnosis) in &cause.checks {
            let id = &result.spec.id;
            let mark = match self.mark(result).filter(|mark| mark.stands_out()) {
                Some(mark) => format!("[{}] ", mark.words()),
                None => String::new(),
            };
            let line = format!("{id}  {mark}{}", diagnosis.summary);
            body.push_str(&diagnosis::lines(&format!("{UNDER_COLUMN}  "), &line));
            for line in diagnosis.own_observed() {
                body.push_str(&diagnosis::lines(&under_check, line));
            }
            body.push_str(&explain(&under_check, id));
        }
        text.push_str(&printable(&body));
        text
    }

    /// `       LABEL [column] id  detail`, further lines of `detail` under the ID.
    fn line(&self, label: &str, style: Style, column: &str, id: &str, detail: &str) -> String {
        self.marked_line(label, style, column, id, None, detail)
    }

    /// `       LABEL [column] id  [mark] detail`: a check's line, with its mark where it stands
    /// out; further lines of `detail` under the ID.
    fn marked_line(
        &self,
        label: &str,
        style: Style,
        column: &str,
        id: &str,
        mark: Option<Mark>,
        detail: &str,
    ) -> String {
        let detail = printable(detail);
        let mut detail_lines = detail.trim_end().lines();
        let mut text = format!("{} {column} {}", self.label(label, style), printable(id));
        let mark = mark.filter(|mark| mark.stands_out());
        match (mark, detail_lines.next()) {
            (Some(mark), first) => {
                text.push_str(&format!("  {}", self.paint(&format!("[{}]", mark.words()), mark_style(mark))));
                text.extend(first.map(|first| format!(" {first}")));
            }
            (None, Some(first)) => text.push_str(&format!("  {first}")),
            (None, None) => {}
        }
        text.push('\n');
        for line in detail_lines {
            text.push_str(&format!("{UNDER_ID}{line}\n"));
        }
        text
    }

    fn label(&self, label: &str, style: Style) -> String {
        self.paint(&format!("{label:>LABEL_WIDTH$}"), style)
    }

    /// `text` in `style` when the report is coloured.
    fn paint(&self, text: &str, style: Style) -> String {
        if self.options.color { style.force_styling(true).apply_to(text).to_string() } else { text.to_string() }
    }

    /// The live status line, without a line end, cut to the terminal's width.
    fn status_line(&self) -> String {
        let mut text = format!("{} of {} checks finished", self.finished, self.planned);
        if !self.running.is_empty() {
            text.push_str(&format!("; running {}", printable(&self.running.join(", "))));
        }
        let width = self.width.unwrap_or_else(|| {
            console::Term::stdout().size_checked().map_or(FALLBACK_WIDTH, |(_, columns)| columns.into())
        });
        let line = format!("{} {text}", self.label("Running", Style::new().cyan().bold()));
        console::truncate_str(&line, width.saturating_sub(1), "…").into_owned()
    }

    fn draw(&mut self, event: &Event) -> io::Result<()> {
        let lines = self.lines_for(event);
        if self.status_line_shown {
            self.out.write_all(CLEAR_LINE.as_bytes())?;
            self.status_line_shown = false;
        }
        self.out.write_all(lines.as_bytes())?;
        if self.options.live && !matches!(event, Event::RunFinished(_)) {
            let status = self.status_line();
            self.out.write_all(status.as_bytes())?;
            self.status_line_shown = true;
        }
        self.out.flush()
    }
}

impl<W: Write> Reporter for TerminalReporter<W> {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        self.draw(event).map_err(ReportError::Terminal)
    }
}

/// The line that gives the command explaining check `id` (what it verifies, how to fix it).
fn explain(indent: &str, id: &str) -> String {
    diagnosis::field(indent, "explain:", &format!("realitycheck explain {id}"))
}

fn duration_column(duration: Duration) -> String {
    format!("[{:>8.3}s]", duration.as_secs_f64())
}

fn flaky_detail(attempts: u32, note: &str) -> String {
    if note.is_empty() {
        format!("passed on attempt {attempts}")
    } else {
        format!("passed on attempt {attempts}: {note}")
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `7 checks: 4 passed, 1 flaky, 1 failed, 1 skipped` (flaky only when there are some).
fn counts(results: &[CheckResult]) -> String {
    let counts = Counts::of(results);
    let mut parts = vec![format!("{} passed", counts.passed)];
    if counts.flaky > 0 {
        parts.push(format!("{} flaky", counts.flaky));
    }
    parts.push(format!("{} failed", counts.failed));
    parts.push(format!("{} skipped", counts.skipped));
    format!("{}: {}", plural(results.len(), "check", "checks"), parts.join(", "))
}

/// New red stands out most, still red less, new green as a pass, not rechecked as a skip.
fn mark_style(mark: Mark) -> Style {
    match mark {
        Mark::NewRed => red(),
        Mark::StillRed => Style::new().red(),
        Mark::NewGreen => green(),
        Mark::NotRechecked => yellow(),
        Mark::Unchanged | Mark::NotCompared => Style::new(),
    }
}

fn green() -> Style {
    Style::new().green().bold()
}

fn red() -> Style {
    Style::new().red().bold()
}

fn yellow() -> Style {
    Style::new().yellow().bold()
}
