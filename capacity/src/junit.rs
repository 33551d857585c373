//! The JUnit XML report, for CI systems' test views. Like `realitycheck run`'s, it validates
//! against both the Ant JUnit schema (windyroad) and the Jenkins xUnit plugin's schema:
//!
//! - one `<testsuite name="capacity">` in a `<testsuites>`, whose `time` is how long the
//!   measurement watched, `timestamp` the trigger in UTC (whole seconds, no zone, as the Ant
//!   schema wants), `hostname` the target; its first child `<properties>` gives the target,
//!   the workload (executor, containers, resource class, hold in seconds), the pipeline when
//!   there was one, the `capacity.max_wait_p95` threshold in seconds, the verdict and
//!   realitycheck's version;
//! - one `<testcase classname="realitycheck.capacity">` per measure, named by its ID, `time`
//!   0 (a measure is a judgement of the whole measurement, not a step that took time);
//! - a red measure has `<failure type="failed" message="{its message's first line}">` with the
//!   whole message as text; a measure not judged has `<skipped message="{why}"/>`;
//! - the suite's `<system-out>` holds the numbers of the summary and the measurement's notes.
//!
//! The document is written with quick-xml, which escapes; text from the cluster is first made
//! something XML can carry (`crate::xml::text`).

use std::io;
use std::path::Path;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::judge::Measure;
use crate::measurement::rounded;
use crate::report::{Report, decimal_seconds, utc_seconds};
use crate::xml;

/// The `classname` of every testcase.
pub const CLASSNAME: &str = "realitycheck.capacity";

impl Report {
    /// The JUnit XML report, ending with a line break.
    pub fn junit(&self) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing into memory cannot fail, and only text goes in.
        document(self, &mut writer).expect("writing into memory");
        let mut xml = String::from_utf8(writer.into_inner()).expect("the document is text");
        xml.push('\n');
        xml
    }

    /// Writes the JUnit XML report to `path` (atomically, its missing directories created).
    pub fn write_junit(&self, path: &Path) -> Result<(), reports::ReportError> {
        reports::write_atomically(path, "capacity JUnit", self.junit().as_bytes())
    }
}

fn document(report: &Report, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    let measurement = &report.measurement;
    let count = |passed: Option<bool>| report.measures.iter().filter(|m| m.passed == passed).count().to_string();
    let target = xml::text(&measurement.target);
    let hostname = if target.trim().is_empty() { "unknown".to_owned() } else { target.clone() };
    let timestamp = utc_seconds(report.triggered_at());
    let time = decimal_seconds(report.summary.observed_until);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer.create_element("testsuites").write_inner_content(|writer| {
        writer
            .create_element("testsuite")
            .with_attributes([
                ("id", "0"),
                ("name", "capacity"),
                ("package", CLASSNAME),
                ("tests", report.measures.len().to_string().as_str()),
                ("errors", "0"),
                ("failures", count(Some(false)).as_str()),
                ("skipped", count(None).as_str()),
                ("hostname", hostname.as_str()),
                ("timestamp", timestamp.as_str()),
                ("time", time.as_str()),
            ])
            .write_inner_content(|writer| {
                writer.create_element("properties").write_inner_content(|writer| {
                    for (name, value) in properties(report) {
                        writer
                            .create_element("property")
                            .with_attributes([("name", name), ("value", xml::text(&value).as_str())])
                            .write_empty()?;
                    }
                    Ok(())
                })?;
                for measure in &report.measures {
                    testcase(measure, writer)?;
                }
                writer.create_element("system-out").write_text_content(text(&xml::text(&system_out(report))))?;
                writer.create_element("system-err").write_empty()?;
                Ok(())
            })?;
        Ok(())
    })?;
    Ok(())
}

/// Element content, escaped as little as XML needs (`<`, `>`, `&`), so that quotes stay readable.
fn text(content: &str) -> BytesText<'static> {
    BytesText::from_escaped(quick_xml::escape::partial_escape(content).into_owned())
}

/// The suite's properties: the target, the workload, the threshold, the verdict.
fn properties(report: &Report) -> Vec<(&'static str, String)> {
    let measurement = &report.measurement;
    let workload = &measurement.workload;
    let mut properties = vec![
        ("target", measurement.target.clone()),
        ("executor", workload.executor.clone()),
        ("containers", workload.containers.to_string()),
        ("resource_class", workload.resource_class.clone()),
        ("hold_seconds", decimal_seconds(workload.hold)),
        ("max_wait_p95_seconds", decimal_seconds(report.thresholds.max_wait_p95)),
        ("verdict", report.verdict().as_str().to_owned()),
        ("realitycheck_version", report.realitycheck_version.to_owned()),
    ];
    if let Some(pipeline) = &measurement.pipeline {
        properties.insert(5, ("pipeline", pipeline.clone()));
    }
    properties
}

fn testcase(measure: &Measure, writer: &mut Writer<Vec<u8>>) -> io::Result<()> {
    let element = writer.create_element("testcase").with_attributes([
        ("name", measure.id.as_str()),
        ("classname", CLASSNAME),
        ("time", "0"),
    ]);
    let message = xml::text(&measure.message);
    let first_line = message.lines().next().unwrap_or_default();
    match measure.passed {
        Some(true) => {
            element.write_empty()?;
        }
        Some(false) => {
            element.write_inner_content(|writer| {
                writer
                    .create_element("failure")
                    .with_attributes([("type", "failed"), ("message", first_line)])
                    .write_text_content(text(&message))?;
                Ok(())
            })?;
        }
        None => {
            element.write_inner_content(|writer| {
                writer.create_element("skipped").with_attribute(("message", message.as_str())).write_empty()?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The numbers and notes, for the suite's `<system-out>`.
fn system_out(report: &Report) -> String {
    let summary = &report.summary;
    let time = |duration: Option<std::time::Duration>| {
        duration.map_or_else(|| "-".to_owned(), |duration| format!("{:.1}s", rounded(duration)))
    };
    let count = |count: Option<u32>| count.map_or_else(|| "-".to_owned(), |count| count.to_string());
    let mut text = format!(
        "workload: {}\ncontainers: {} asked, {} started, {} succeeded\nwait: p50 {}, p95 {}, max {}\nrun time: p50 \
         {}\nall ran after: {}\nwaiting peak: {}\nNomad clients ready: {} before, {} at peak, {} after\nfirst \
         scale-out: {}\nwaited at the autoscaler's max: {}\nwatched for: {}\n",
        report.workload_line(),
        summary.containers,
        summary.started,
        summary.succeeded,
        time(summary.wait_p50),
        time(summary.wait_p95),
        time(summary.wait_max),
        time(summary.run_p50),
        time(summary.all_ran_after),
        summary.waiting_peak,
        count(summary.clients_before),
        count(summary.clients_peak),
        count(summary.clients_after),
        time(summary.first_scale_out),
        time(Some(summary.waited_at_max)),
        time(Some(summary.observed_until)),
    );
    for note in &report.measurement.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    text
}
