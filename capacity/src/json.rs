//! The JSON report, for programs: `realitycheck.capacity/v1`, every field described in
//! `capacity/schema/capacity-v1.schema.json`. `schema` comes first; times are seconds (to the
//! millisecond) from the trigger unless their name says otherwise; the measurement is as
//! observed, the summary and the measures as judged. Fields are only ever added within v1;
//! renaming or removing one makes v2.

use std::path::Path;

use serde::Serialize;

use crate::judge::MeasureId;
use crate::measurement::{Measurement, seconds};
use crate::report::{Report, rfc3339_millis};
use crate::summary::Summary;

/// The value of the report's `schema` field.
pub const SCHEMA: &str = "realitycheck.capacity/v1";

impl Report {
    /// The JSON report, pretty-printed, ending with a line break.
    pub fn json(&self) -> String {
        // Every map of the document has text keys and every value serialises: nothing can fail.
        let mut json = serde_json::to_string_pretty(&JsonReport::new(self)).expect("the report serialises");
        json.push('\n');
        json
    }

    /// Writes the JSON report to `path` (atomically, its missing directories created).
    pub fn write_json(&self, path: &Path) -> Result<(), reports::ReportError> {
        reports::write_atomically(path, "capacity JSON", self.json().as_bytes())
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    realitycheck_version: &'a str,
    target: &'a str,
    triggered_at: String,
    verdict: &'static str,
    thresholds: JsonThresholds,
    measures: Vec<JsonMeasure<'a>>,
    summary: &'a Summary,
    measurement: &'a Measurement,
}

#[derive(Serialize)]
struct JsonThresholds {
    #[serde(serialize_with = "seconds")]
    max_wait_p95: std::time::Duration,
}

#[derive(Serialize)]
struct JsonMeasure<'a> {
    id: MeasureId,
    title: &'static str,
    passed: Option<bool>,
    value: Option<f64>,
    threshold: Option<f64>,
    unit: Option<&'static str>,
    message: &'a str,
}

impl<'a> JsonReport<'a> {
    fn new(report: &'a Report) -> JsonReport<'a> {
        JsonReport {
            schema: SCHEMA,
            realitycheck_version: report.realitycheck_version,
            target: &report.measurement.target,
            triggered_at: rfc3339_millis(report.triggered_at()),
            verdict: report.verdict().as_str(),
            thresholds: JsonThresholds { max_wait_p95: report.thresholds.max_wait_p95 },
            measures: report
                .measures
                .iter()
                .map(|measure| JsonMeasure {
                    id: measure.id,
                    title: measure.id.title(),
                    passed: measure.passed,
                    value: measure.value,
                    threshold: measure.threshold,
                    unit: measure.value.and(measure.id.unit()),
                    message: &measure.message,
                })
                .collect(),
            summary: &report.summary,
            measurement: &report.measurement,
        }
    }
}
