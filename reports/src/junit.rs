//! The JUnit XML report, for CI systems' test views. It validates against both the Ant JUnit
//! schema (windyroad) and the Jenkins xUnit plugin's schema:
//!
//! - one `<testsuite>` per suite, in the order the suites first appear in the run, its
//!   first child `<properties>` naming the target, host and profile; `hostname` is the host
//!   of the installation under test; `timestamp` is the run's start in UTC, whole seconds,
//!   without a zone (the Ant schema allows nothing else);
//! - one `<testcase>` per check: `name` is the check ID, `classname` the suite, `time` in
//!   seconds with millisecond precision;
//! - a failure is `<failure type="failed" message="{summary}">` with the whole diagnosis
//!   (observed, cause, what to do, phase) as its text, one per failed check even when several
//!   share a cause; the message of those then names it: `{summary} (one cause for 11 checks:
//!   {the cause's summary})`;
//! - a skip is `<skipped message="{reason}">` (the reason's kind and detail);
//! - compared with a baseline (`--baseline`), each check's mark (`new-red`, `still-red`, …) is
//!   the property `realitycheck.baseline.{check ID}` of its suite: neither schema allows
//!   properties in a `<testcase>`, so the marks go where they validate;
//! - a flaky check is a passing testcase; since the Ant schema allows no `<system-out>` in a
//!   testcase, its earlier failures go to its suite's `<system-out>`, with the notes of the
//!   passed checks.
//!
//! The `junit-report` crate writes the document; a streaming pass (quick-xml) then adds the
//! properties, rewrites the timestamp, writes every `time` with three decimals at most (the
//! crate prints float seconds such as `1.1179999999999999`, which the Jenkins schema
//! rejects), drops the `type` of `<skipped>` (the Ant schema has no such attribute) and
//! indents the result.

use std::path::PathBuf;
use std::sync::Arc;

use harness::{CheckResult, Event, Outcome, RunInfo, RunSummary};
use junit_report::{Report, TestCase, TestResult, TestSuite};
use quick_xml::events::{BytesEnd, BytesStart, Event as XmlEvent};
use quick_xml::{Reader, Writer};

use crate::baseline::Baseline;
use crate::causes::{self, Cause};
use crate::file::ReportFile;
use crate::tally::by_suite;
use crate::{ReportError, Reporter, diagnosis, run};

/// Writes the JUnit XML report to a file when the run finishes.
#[derive(Debug)]
pub struct JunitReporter {
    file: ReportFile,
    baseline: Option<Arc<Baseline>>,
}

impl JunitReporter {
    /// A reporter that writes the JUnit XML report to `path` (its missing directories are created).
    pub fn new(path: PathBuf) -> Self {
        JunitReporter { file: ReportFile::new(path, "JUnit"), baseline: None }
    }

    /// Compares the run with `baseline`, if any: each check's mark becomes a property of its suite.
    pub fn with_baseline(mut self, baseline: Option<Arc<Baseline>>) -> Self {
        self.baseline = baseline;
        self
    }
}

impl Reporter for JunitReporter {
    fn handle(&mut self, event: &Event) -> Result<(), ReportError> {
        let baseline = self.baseline.as_deref();
        self.file.handle(event, |info, summary| render(info, summary, baseline))
    }
}

/// What the names of a suite's properties that give its checks' marks start with: the mark of
/// check `id` is the property `realitycheck.baseline.{id}`.
pub const BASELINE_PROPERTY: &str = "realitycheck.baseline";

fn render(info: &RunInfo, summary: &RunSummary, baseline: Option<&Baseline>) -> Result<Vec<u8>, ReportError> {
    let started = run::started_at_utc(info.started_at);
    let causes = causes::of(&summary.results);
    let run_properties = [("target", &info.target), ("host", &info.host), ("profile", &info.profile)];
    let mut properties: Vec<Vec<(String, String)>> = Vec::new();
    let mut suites: Vec<(TestSuite, String)> = Vec::new();
    for (name, members) in by_suite(&summary.results) {
        let mut suite_properties: Vec<(String, String)> =
            run_properties.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        if let Some(baseline) = baseline {
            suite_properties.extend(members.iter().map(|result| {
                (format!("{BASELINE_PROPERTY}.{}", result.spec.id), baseline.mark(result).as_str().to_string())
            }));
        }
        properties.push(suite_properties);
        let name = xml_text(name);
        let mut suite = TestSuite::new(&name);
        suite.package = name.clone();
        suite.hostname = if info.host.trim().is_empty() { "unknown".to_string() } else { xml_text(&info.host) };
        suite.timestamp = started;
        let mut log = String::new();
        for result in members {
            suite.add_testcase(testcase(result, &name, causes::of_check(&causes, &result.spec.id)));
            log.push_str(&log_entry(result));
        }
        suites.push((suite, log));
    }
    let mut report = Report::new();
    report.add_testsuites(suites.into_iter().map(|(mut suite, log)| {
        // Both are required by the Ant schema; an empty one says there was nothing to tell.
        suite.system_out = Some(cdata(&log));
        suite.system_err = Some(String::new());
        suite
    }));
    let mut plain = Vec::new();
    report.write_xml(&mut plain).map_err(|error| ReportError::JunitXml(error.into()))?;
    conform(&plain, &properties, &run::seconds(started)).map_err(|error| ReportError::JunitXml(error.into()))
}

/// The testcase of `result`; `cause` is the cause of its failure, named in the message when
/// several checks share it.
fn testcase(result: &CheckResult, suite: &str, cause: Option<&Cause>) -> TestCase {
    let millis = i64::try_from(result.duration.as_millis()).unwrap_or(i64::MAX);
    let outcome = match &result.outcome {
        Outcome::Passed { .. } | Outcome::Flaky { .. } => TestResult::Success,
        Outcome::Failed { diagnosis } => TestResult::Failure {
            type_: "failed".to_string(),
            message: xml_text(&match cause.filter(|cause| cause.is_shared()) {
                Some(cause) => {
                    format!("{} (one cause for {} checks: {})", diagnosis.summary, cause.checks.len(), cause.summary)
                }
                None => diagnosis.summary.clone(),
            }),
            cause: Some(cdata(diagnosis::render(diagnosis, "").trim_end())),
        },
        Outcome::Skipped { reason } => TestResult::SkippedWithCause {
            type_: reason.kind().to_string(),
            message: xml_text(&reason.to_string()),
            cause: None,
        },
    };
    TestCase {
        name: xml_text(&result.spec.id),
        time: time::Duration::milliseconds(millis),
        result: outcome,
        classname: Some(suite.to_string()),
        filepath: None,
        system_out: None,
        system_err: None,
    }
}

/// What a suite's `<system-out>` says about one check: the note of a pass, the earlier
/// failures of a flaky pass.
fn log_entry(result: &CheckResult) -> String {
    let id = &result.spec.id;
    match &result.outcome {
        Outcome::Passed { note } if !note.is_empty() => format!("{id}: passed: {note}\n"),
        Outcome::Flaky { note, failures } => {
            let mut entry = format!("{id}: flaky: passed on attempt {}", result.attempts);
            if !note.is_empty() {
                entry.push_str(&format!(": {note}"));
            }
            entry.push('\n');
            for (attempt, failure) in (1..).zip(failures) {
                entry.push_str(&format!("  attempt {attempt} failed:\n{}", diagnosis::render(failure, "    ")));
            }
            entry
        }
        Outcome::Passed { .. } | Outcome::Failed { .. } | Outcome::Skipped { .. } => String::new(),
    }
}

/// Text that XML 1.0 can carry: ANSI colour codes (common in step output) removed, other
/// characters XML forbids replaced by U+FFFD.
fn xml_text(text: &str) -> String {
    console::strip_ansi_codes(text)
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

/// Text for a CDATA section (how `junit-report` writes texts): as `xml_text`, with any `]]>`
/// split across two sections so that it cannot end the section early.
fn cdata(text: &str) -> String {
    xml_text(text).replace("]]>", "]]]]><![CDATA[>")
}

/// Streams the `junit-report` document through quick-xml: adds the properties of each
/// `testsuite` (`properties`, one list per suite in document order) as its first child, sets
/// its `timestamp`, drops `type` from `skipped`, indents.
fn conform(plain: &[u8], properties: &[Vec<(String, String)>], timestamp: &str) -> Result<Vec<u8>, quick_xml::Error> {
    let mut suite_properties = properties.iter();
    let mut reader = Reader::from_reader(plain);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer)? {
            XmlEvent::Eof => break,
            XmlEvent::Start(start) if start.name().as_ref() == b"testsuite" => {
                let start = rewrite(&start, "timestamp", Some(timestamp))?;
                writer.write_event(XmlEvent::Start(with_millisecond_time(&start)?))?;
                writer.write_event(XmlEvent::Start(BytesStart::new("properties")))?;
                for (name, value) in suite_properties.next().into_iter().flatten() {
                    let property = BytesStart::new("property")
                        .with_attributes([("name", xml_text(name).as_str()), ("value", xml_text(value).as_str())]);
                    writer.write_event(XmlEvent::Empty(property))?;
                }
                writer.write_event(XmlEvent::End(BytesEnd::new("properties")))?;
            }
            XmlEvent::Start(start) if start.name().as_ref() == b"skipped" => {
                writer.write_event(XmlEvent::Start(rewrite(&start, "type", None)?))?;
            }
            XmlEvent::Empty(start) if start.name().as_ref() == b"skipped" => {
                writer.write_event(XmlEvent::Empty(rewrite(&start, "type", None)?))?;
            }
            XmlEvent::Start(start) => writer.write_event(XmlEvent::Start(with_millisecond_time(&start)?))?,
            XmlEvent::Empty(start) => writer.write_event(XmlEvent::Empty(with_millisecond_time(&start)?))?,
            event => writer.write_event(event)?,
        }
        buffer.clear();
    }
    let mut xml = writer.into_inner();
    xml.push(b'\n');
    Ok(xml)
}

/// `start` with its `time` (float seconds, if any) rounded to milliseconds: `1.118`, `95.02`, `0`.
fn with_millisecond_time(start: &BytesStart) -> Result<BytesStart<'static>, quick_xml::Error> {
    // A number holds no entity: its raw bytes are its value.
    let time = start.try_get_attribute("time")?.map(|attribute| String::from_utf8_lossy(&attribute.value).into_owned());
    let Some(seconds) = time.and_then(|time| time.parse::<f64>().ok()) else {
        return Ok(start.to_owned());
    };
    let millis = format!("{seconds:.3}");
    let millis = millis.trim_end_matches('0').trim_end_matches('.');
    rewrite(start, "time", Some(if millis.is_empty() { "0" } else { millis }))
}

/// `start` with the attribute `name` set to `value`, or removed when `value` is `None`.
fn rewrite(start: &BytesStart, name: &str, value: Option<&str>) -> Result<BytesStart<'static>, quick_xml::Error> {
    let mut rewritten = start.to_owned();
    rewritten.clear_attributes();
    for attribute in start.attributes() {
        let attribute = attribute?;
        if attribute.key.as_ref() != name.as_bytes() {
            rewritten.push_attribute(attribute);
        } else if let Some(value) = value {
            rewritten.push_attribute((name, value));
        }
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_milliseconds() {
        let plain = br#"<testsuites><testsuite name="s" time="1.1179999999999999"><testcase name="c" time="95.02"/><testcase name="d" time="0.0004"/></testsuite></testsuites>"#;
        let xml = String::from_utf8(conform(plain, &[], "2026-01-01T00:00:00").unwrap()).unwrap();
        assert!(xml.contains(r#"time="1.118""#) && xml.contains(r#"time="95.02""#), "{xml}");
        assert!(xml.contains(r#"<testcase name="d" time="0"/>"#), "{xml}");
    }

    #[test]
    fn text_xml_cannot_carry_is_made_safe() {
        assert_eq!(xml_text("\u{1b}[31mred\u{1b}[0m\u{7}bell\ttab"), "red\u{fffd}bell\ttab");
        assert_eq!(cdata("a]]>b"), "a]]]]><![CDATA[>b");
    }
}
