//! The picture of a measurement, for people who would rather look than read: an SVG chart of
//! the containers waiting and running over the seconds since the trigger (step areas, from
//! each container's queued, started and stopped times), the Nomad clients ready (a step line
//! through the samples, on the right-hand axis), a dashed line at the autoscaler's max clients
//! when it is known, a dashed vertical line at the first scale-out, a title with the workload
//! and the 95th percentile wait, and a legend. A measurement where nothing started says so in
//! the plot; one without client samples (a machine run) has no right-hand axis.
//!
//! Written by hand rather than with `plotters`: the chart is a few paths and labels, and
//! `plotters` lays text out with a font backend (`ttf` reads system fonts through font-kit,
//! `ab_glyph` needs a font file shipped with the binary) even for SVG, where the viewer draws
//! the text. By hand the output is small, depends on nothing on the machine, and is the same
//! bytes for the same report (coordinates to a tenth of a pixel), so it can be snapshotted.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::measurement::{Container, Ending, Measurement, rounded};
use crate::report::{Report, Verdict, seconds};
use crate::xml::escaped;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 884.0;
const TOP: f64 = 86.0;
const BOTTOM: f64 = 436.0;
/// Where the legend's row sits.
const LEGEND_Y: f64 = 512.0;
/// About how wide a character of the 12-pixel labels is, to lay out the legend.
const CHAR_WIDTH: f64 = 6.8;
/// The longest line of the note in a plot where nothing started, in characters.
const NOTE_LINE_CHARS: usize = 80;
/// The most lines of that note.
const NOTE_LINES: usize = 6;
/// The distance between the note's lines.
const NOTE_LINE_HEIGHT: f64 = 22.0;
/// Samples drawn as dots up to this many.
const MAX_DOTS: usize = 120;

// The colours: orange for waiting, green for running, blue for the clients, red for the
// autoscaler's max, violet for the first scale-out, greys for text and grid.
const WAITING: &str = "#e67700";
const RUNNING: &str = "#2b8a3e";
const CLIENTS: &str = "#1971c2";
const MAX_LINE: &str = "#c92a2a";
const SCALE_OUT: &str = "#7048e8";
const INK: &str = "#212529";
const MUTED: &str = "#495057";
const GRID: &str = "#e9ecef";

impl Report {
    /// The SVG picture.
    pub fn svg(&self) -> String {
        let chart = Chart::of(self);
        let mut svg = String::new();
        let title = escaped(&format!("{}: {}", self.measurement.target, self.workload_line()));
        let subtitle = escaped(&subtitle(self));
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             role=\"img\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<title>Capacity of {title}; {subtitle}</title>\n\
             <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n\
             <text x=\"{LEFT}\" y=\"34\" font-size=\"19\" font-weight=\"bold\" fill=\"{INK}\">{title}</text>\n\
             <text x=\"{LEFT}\" y=\"58\" font-size=\"13\" fill=\"{MUTED}\">{subtitle}</text>\n",
        );
        chart.grid(&mut svg);
        chart.series(&mut svg);
        chart.markers(&mut svg);
        chart.axes(&mut svg);
        chart.note(&mut svg);
        chart.legend(&mut svg);
        svg.push_str("</svg>\n");
        svg
    }

    /// Writes the SVG picture to `path` (atomically, its missing directories created).
    pub fn write_svg(&self, path: &Path) -> Result<(), reports::ReportError> {
        reports::write_atomically(path, "capacity SVG", self.svg().as_bytes())
    }
}

/// `p95 wait 95.2s (threshold 180s) · all 50 started by 141.2s · passed`.
fn subtitle(report: &Report) -> String {
    let summary = &report.summary;
    let threshold = seconds(report.thresholds.max_wait_p95);
    let p95 = match summary.wait_p95 {
        Some(p95) if summary.started < summary.containers => {
            format!("p95 wait {:.1}s of the {} that started (threshold {threshold})", rounded(p95), summary.started)
        }
        Some(p95) => format!("p95 wait {:.1}s (threshold {threshold})", rounded(p95)),
        None => format!("p95 wait – (threshold {threshold})"),
    };
    let ran = match summary.all_ran_after {
        Some(after) => format!("all {} started by {:.1}s", summary.containers, rounded(after)),
        None => format!("{} of {} started", summary.started, summary.containers),
    };
    let red = report.red().count();
    let verdict = match report.verdict() {
        Verdict::Passed => "passed".to_owned(),
        Verdict::Failed => format!("failed: {red} {} red", if red == 1 { "measure" } else { "measures" }),
        Verdict::NotMeasured => "not measured".to_owned(),
    };
    format!("{p95} · {ran} · {verdict}")
}

/// A count held from `at` until the next point's time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    at: f64,
    count: u32,
}

/// An axis from 0 to `end` with a tick every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    end: f64,
    step: f64,
}

impl Axis {
    /// Seconds: about eight ticks, the end at or after `max` (at least a second).
    fn seconds(max: f64) -> Axis {
        let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
        let step = nice(max / 8.0);
        Axis { end: (max / step).ceil() * step, step }
    }

    /// A count: whole ticks, about five, the end above `max` so that its line shows.
    fn count(max: u32) -> Axis {
        let max = f64::from(max);
        let step = nice(max / 5.0).max(1.0).round();
        Axis { end: ((max / step).floor() + 1.0) * step, step }
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = (self.end / self.step).round() as u64;
        (0..=count).map(|index| index as f64 * self.step)
    }

    /// A tick's label, with as many decimals as the step needs.
    fn label(&self, value: f64) -> String {
        let decimals = (-self.step.log10().floor()).max(0.0) as usize;
        format!("{value:.decimals$}")
    }
}

/// 1, 2 or 5 times a power of ten, at or above `value`.
fn nice(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    let fraction = value / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// What the picture draws, computed once.
struct Chart<'a> {
    report: &'a Report,
    /// When the measurement stopped watching, in seconds.
    until: f64,
    time: Axis,
    containers: Axis,
    /// The clients' axis, when there are samples.
    clients: Option<Axis>,
    waiting: Vec<Point>,
    running: Vec<Point>,
    /// The samples, in time order.
    samples: Vec<Point>,
    /// The autoscaler's max, when it runs and the clients were sampled.
    max_clients: Option<u32>,
}

impl<'a> Chart<'a> {
    fn of(report: &'a Report) -> Chart<'a> {
        let measurement = &report.measurement;
        let until = report.summary.observed_until;
        let (waiting, running) = containers_over_time(measurement, until);
        let mut samples: Vec<Point> = measurement
            .clients
            .iter()
            .map(|sample| Point { at: sample.at.as_secs_f64(), count: sample.ready })
            .collect();
        samples.sort_by(|a, b| a.at.total_cmp(&b.at));
        let max_clients = measurement
            .autoscaler
            .as_ref()
            .filter(|autoscaler| autoscaler.enabled && !samples.is_empty())
            .and_then(|autoscaler| autoscaler.max);
        let peak_containers = waiting.iter().chain(&running).map(|point| point.count).max().unwrap_or(0);
        let peak_clients = samples.iter().map(|point| point.count).chain(max_clients).max();
        Chart {
            report,
            until: until.as_secs_f64(),
            time: Axis::seconds(until.as_secs_f64()),
            containers: Axis::count(peak_containers.max(measurement.workload.containers).max(1)),
            clients: peak_clients.filter(|_| !samples.is_empty()).map(|peak| Axis::count(peak.max(1))),
            waiting,
            running,
            samples,
            max_clients,
        }
    }

    fn x(&self, seconds: f64) -> f64 {
        LEFT + (RIGHT - LEFT) * (seconds / self.time.end).clamp(0.0, 1.0)
    }

    fn y(axis: &Axis, value: f64) -> f64 {
        BOTTOM - (BOTTOM - TOP) * (value / axis.end).clamp(0.0, 1.0)
    }

    /// The horizontal grid of the containers' axis and the time ticks.
    fn grid(&self, svg: &mut String) {
        svg.push_str(&format!("<g stroke=\"{GRID}\" stroke-width=\"1\">\n"));
        for tick in self.containers.ticks().skip(1) {
            let y = Self::y(&self.containers, tick);
            let _ = writeln!(svg, "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\"/>");
        }
        for tick in self.time.ticks().skip(1) {
            let x = self.x(tick);
            let _ = writeln!(svg, "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BOTTOM}\"/>");
        }
        svg.push_str("</g>\n");
    }

    /// The containers waiting and running (step areas) and the clients ready (a step line).
    fn series(&self, svg: &mut String) {
        for (points, colour) in [(&self.running, RUNNING), (&self.waiting, WAITING)] {
            if points.iter().all(|point| point.count == 0) {
                continue;
            }
            let _ = writeln!(
                svg,
                "<path d=\"{}\" fill=\"{colour}\" fill-opacity=\"0.28\" stroke=\"{colour}\" stroke-width=\"1.6\" \
                 stroke-linejoin=\"round\"/>",
                self.area(points)
            );
        }
        let Some(axis) = &self.clients else { return };
        let mut path = String::new();
        for (index, point) in self.samples.iter().enumerate() {
            let (x, y) = (self.x(point.at), Self::y(axis, f64::from(point.count)));
            if index == 0 {
                let _ = write!(path, "M{x:.1} {y:.1}");
            } else {
                let _ = write!(path, " H{x:.1} V{y:.1}");
            }
        }
        let _ = writeln!(
            svg,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{CLIENTS}\" stroke-width=\"2.6\" stroke-linejoin=\"round\"/>"
        );
        if self.samples.len() <= MAX_DOTS {
            let _ = writeln!(svg, "<g fill=\"{CLIENTS}\">");
            for point in &self.samples {
                let (x, y) = (self.x(point.at), Self::y(axis, f64::from(point.count)));
                let _ = writeln!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.6\"/>");
            }
            svg.push_str("</g>\n");
        }
    }

    /// The closed path of a step area under `points`, up to the end of the measurement.
    fn area(&self, points: &[Point]) -> String {
        let base = Self::y(&self.containers, 0.0);
        let mut path = String::new();
        for (index, point) in points.iter().enumerate() {
            let (x, y) = (self.x(point.at), Self::y(&self.containers, f64::from(point.count)));
            if index == 0 {
                let _ = write!(path, "M{x:.1} {base:.1} V{y:.1}");
            } else {
                let _ = write!(path, " H{x:.1} V{y:.1}");
            }
        }
        let _ = write!(path, " H{:.1} V{base:.1} Z", self.x(self.until));
        path
    }

    /// The autoscaler's max and the first scale-out.
    fn markers(&self, svg: &mut String) {
        if let (Some(max), Some(axis)) = (self.max_clients, &self.clients) {
            let y = Self::y(axis, f64::from(max));
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"{MAX_LINE}\" \
                 stroke-width=\"1.6\" stroke-dasharray=\"7 4\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" \
                 text-anchor=\"end\" fill=\"{MAX_LINE}\">autoscaler max: {max} {}</text>",
                RIGHT - 6.0,
                y - 6.0,
                if max == 1 { "client" } else { "clients" }
            );
        }
        if let Some(at) = self.report.summary.first_scale_out {
            let x = self.x(at.as_secs_f64());
            let (label_x, anchor) = if x > (LEFT + RIGHT) / 2.0 { (x - 6.0, "end") } else { (x + 6.0, "start") };
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{BOTTOM}\" stroke=\"{SCALE_OUT}\" \
                 stroke-width=\"1.6\" stroke-dasharray=\"4 4\"/>\n<text x=\"{label_x:.1}\" y=\"{:.1}\" \
                 font-size=\"12\" text-anchor=\"{anchor}\" fill=\"{SCALE_OUT}\">first scale-out at {}</text>",
                TOP + 16.0,
                seconds(at)
            );
        }
    }

    /// The axes' lines, ticks and titles.
    fn axes(&self, svg: &mut String) {
        let _ = writeln!(
            svg,
            "<g stroke=\"{MUTED}\" stroke-width=\"1.2\">\n<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" \
             y2=\"{BOTTOM}\"/>\n<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{BOTTOM}\"/>"
        );
        if self.clients.is_some() {
            let _ = writeln!(svg, "<line x1=\"{RIGHT}\" y1=\"{TOP}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\"/>");
        }
        svg.push_str("</g>\n");
        let _ = writeln!(svg, "<g font-size=\"12\" fill=\"{MUTED}\">");
        for tick in self.time.ticks() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                self.x(tick),
                BOTTOM + 18.0,
                self.time.label(tick)
            );
        }
        for tick in self.containers.ticks() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 8.0,
                Self::y(&self.containers, tick) + 4.0,
                self.containers.label(tick)
            );
        }
        if let Some(axis) = &self.clients {
            for tick in axis.ticks() {
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{CLIENTS}\">{}</text>",
                    RIGHT + 8.0,
                    Self::y(axis, tick) + 4.0,
                    axis.label(tick)
                );
            }
        }
        let middle = (TOP + BOTTOM) / 2.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"13\">seconds since the trigger</text>\n\
             <text transform=\"translate({:.1} {middle:.1}) rotate(-90)\" text-anchor=\"middle\" \
             font-size=\"13\">containers</text>",
            (LEFT + RIGHT) / 2.0,
            BOTTOM + 40.0,
            LEFT - 46.0,
        );
        if self.clients.is_some() {
            let _ = writeln!(
                svg,
                "<text transform=\"translate({:.1} {middle:.1}) rotate(90)\" text-anchor=\"middle\" font-size=\"13\" \
                 fill=\"{CLIENTS}\">Nomad clients ready</text>",
                RIGHT + 40.0,
            );
        }
        svg.push_str("</g>\n");
    }

    /// A line in the plot when no container started, saying why.
    fn note(&self, svg: &mut String) {
        let summary = &self.report.summary;
        if summary.started > 0 {
            return;
        }
        let why = match &self.report.measurement.ending {
            Ending::NotStarted { reason } => format!("nothing was triggered: {reason}"),
            _ if summary.containers == 0 => "no container was asked for".to_owned(),
            _ => format!("no container started in the {} watched", seconds(self.report.summary.observed_until)),
        };
        let lines = note_lines(&why);
        let first_y = (TOP + BOTTOM) / 2.0 - NOTE_LINE_HEIGHT * (lines.len() as f64 - 1.0) / 2.0;
        let _ = writeln!(svg, "<g font-size=\"15\" fill=\"{MUTED}\" text-anchor=\"middle\">");
        for (index, line) in lines.iter().enumerate() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                (LEFT + RIGHT) / 2.0,
                first_y + NOTE_LINE_HEIGHT * index as f64,
                escaped(line)
            );
        }
        svg.push_str("</g>\n");
    }

    /// The legend's row: a swatch and a label for each thing drawn.
    fn legend(&self, svg: &mut String) {
        let mut entries =
            vec![(Swatch::Area(WAITING), "containers waiting"), (Swatch::Area(RUNNING), "containers running")];
        if self.clients.is_some() {
            entries.push((Swatch::Line(CLIENTS, None), "Nomad clients ready (right axis)"));
        }
        if self.max_clients.is_some() {
            entries.push((Swatch::Line(MAX_LINE, Some("7 4")), "autoscaler max"));
        }
        if self.report.summary.first_scale_out.is_some() {
            entries.push((Swatch::Line(SCALE_OUT, Some("4 4")), "first scale-out"));
        }
        let _ = writeln!(svg, "<g font-size=\"12\" fill=\"{INK}\">");
        let mut x = LEFT;
        for (swatch, label) in entries {
            match swatch {
                Swatch::Area(colour) => {
                    let _ = writeln!(
                        svg,
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"18\" height=\"11\" fill=\"{colour}\" \
                         fill-opacity=\"0.28\" stroke=\"{colour}\" stroke-width=\"1.6\"/>",
                        LEGEND_Y - 10.0
                    );
                }
                Swatch::Line(colour, dashes) => {
                    let dashes = dashes.map(|d| format!(" stroke-dasharray=\"{d}\"")).unwrap_or_default();
                    let _ = writeln!(
                        svg,
                        "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" \
                         stroke-width=\"2.4\"{dashes}/>",
                        LEGEND_Y - 4.5,
                        x + 18.0,
                        LEGEND_Y - 4.5
                    );
                }
            }
            let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{LEGEND_Y}\">{label}</text>", x + 24.0);
            x += 24.0 + label.chars().count() as f64 * CHAR_WIDTH + 26.0;
        }
        svg.push_str("</g>\n");
    }
}

/// `text` in lines of at most [`NOTE_LINE_CHARS`] characters, cut at spaces, at most
/// [`NOTE_LINES`] of them (the last ending with `…` when there was more).
fn note_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > NOTE_LINE_CHARS {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word.chars().take(NOTE_LINE_CHARS));
    }
    lines.push(line);
    if lines.len() > NOTE_LINES {
        lines.truncate(NOTE_LINES);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// How a legend entry is drawn.
enum Swatch {
    Area(&'static str),
    Line(&'static str, Option<&'static str>),
}

/// The containers waiting and running over time, from the trigger to `until`: a point at every
/// moment a count changes.
fn containers_over_time(measurement: &Measurement, until: Duration) -> (Vec<Point>, Vec<Point>) {
    let containers = &measurement.containers;
    let mut moments: Vec<Duration> = containers
        .iter()
        .flat_map(|c| [c.queued, c.started, c.stopped])
        .flatten()
        .filter(|at| *at <= until)
        .chain([Duration::ZERO])
        .collect();
    moments.sort_unstable();
    moments.dedup();
    let mut waiting: Vec<Point> = Vec::new();
    let mut running: Vec<Point> = Vec::new();
    for at in moments {
        let seconds = at.as_secs_f64();
        push_change(&mut waiting, Point { at: seconds, count: count(containers, |c| c.waiting_at(at)) });
        push_change(&mut running, Point { at: seconds, count: count(containers, |c| c.running_at(at)) });
    }
    (waiting, running)
}

/// How many of `containers` are `counted`.
fn count(containers: &[Container], counted: impl Fn(&Container) -> bool) -> u32 {
    u32::try_from(containers.iter().filter(|c| counted(c)).count()).unwrap_or(u32::MAX)
}

/// Adds `point` unless it holds the count the series already has.
fn push_change(series: &mut Vec<Point>, point: Point) {
    if series.last().is_none_or(|last| last.count != point.count) {
        series.push(point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_a_round_number() {
        assert_eq!(Axis::seconds(212.4), Axis { end: 250.0, step: 50.0 });
        assert_eq!(Axis::seconds(0.0), Axis { end: 1.0, step: 0.2 });
        assert_eq!(Axis::seconds(3.2), Axis { end: 3.5, step: 0.5 });
        assert_eq!(Axis::count(5), Axis { end: 6.0, step: 1.0 });
        assert_eq!(Axis::count(50), Axis { end: 60.0, step: 10.0 });
        assert_eq!(Axis::count(200), Axis { end: 250.0, step: 50.0 });
        assert_eq!(Axis { end: 1.0, step: 0.2 }.label(0.4), "0.4");
        assert_eq!(Axis { end: 250.0, step: 50.0 }.label(150.0), "150");
    }

    #[test]
    fn nice_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice(26.55), 50.0);
        assert_eq!(nice(10.0), 10.0);
        assert_eq!(nice(0.125), 0.2);
        assert_eq!(nice(f64::NAN), 1.0);
    }
}
