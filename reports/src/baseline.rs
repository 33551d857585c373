//! A baseline: the JSON report of an earlier run (`realitycheck run --json before.json`, taken
//! before `helm upgrade`), and the comparison of a run's checks with it. Reading is bounded
//! ([`MAX_BYTES`]) and takes from the file only what the comparison needs (its schema, start,
//! target, host, profile, run status, and each check's ID and status): nothing else in it is
//! ever printed or acted on. A file that is not such a report is a [`BaselineError`] naming the
//! file, the field and what to do. The comparison is pure: each check of the run gets a
//! [`Mark`] from its status now and in the baseline, and the baseline's checks the run did not
//! select are listed apart.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use harness::{CheckResult, CheckStatus, RunInfo, RunStatus};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::json;

/// The largest baseline read: 32 MiB. A report of every check, with long diagnoses, is tens of
/// KiB; a larger file is not one.
pub const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The schemas a baseline may have: every version of the JSON report.
pub const SCHEMAS: [&str; 3] = ["realitycheck.report/v1", "realitycheck.report/v2", json::SCHEMA_VERSION];

/// The check statuses a report may give, as it names them.
const CHECK_STATUSES: [CheckStatus; 4] =
    [CheckStatus::Passed, CheckStatus::Flaky, CheckStatus::Failed, CheckStatus::Skipped];

/// The run statuses a report may give.
const RUN_STATUSES: [RunStatus; 5] = [
    RunStatus::Passed,
    RunStatus::Failed,
    RunStatus::PreflightFailed,
    RunStatus::NothingSelected,
    RunStatus::Interrupted,
];

/// What the operator can do about a baseline that is not a report.
const WRITE_IT: &str = "give the JSON report an earlier run wrote (`realitycheck run --json before.json`)";

/// Why a baseline cannot be compared with.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The file cannot be opened or read.
    #[error("cannot read the baseline {}: {source}; {WRITE_IT}", path.display())]
    Read {
        /// The file, as given.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The file is larger than [`MAX_BYTES`].
    #[error(
        "the baseline {} is larger than {} MiB, which no JSON report of realitycheck is; {WRITE_IT}",
        path.display(),
        MAX_BYTES / (1024 * 1024)
    )]
    TooLarge {
        /// The file, as given.
        path: PathBuf,
    },
    /// The file is not JSON.
    #[error("the baseline {} is not JSON ({source}); {WRITE_IT}, not its JUnit report", path.display())]
    NotJson {
        /// The file, as given.
        path: PathBuf,
        /// Where the JSON breaks off (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The file is JSON, but no realitycheck report.
    #[error(
        "the baseline {}, field `schema_version`: {found}, not one of {}: the file is not a realitycheck JSON report; {WRITE_IT}",
        path.display(),
        SCHEMAS.join(", ")
    )]
    NotAReport {
        /// What the file has for `schema_version`: missing, or its value.
        found: String,
        /// The file, as given.
        path: PathBuf,
    },
    /// The file is a report of a later schema than this realitycheck reads.
    #[error(
        "the baseline {}, field `schema_version`: `{version}` is a later report than this realitycheck reads ({}); compare with a report this realitycheck wrote, or upgrade realitycheck",
        path.display(),
        SCHEMAS.join(", ")
    )]
    LaterReport {
        /// The file's schema.
        version: String,
        /// The file, as given.
        path: PathBuf,
    },
    /// A field the comparison needs is missing or not what reports hold.
    #[error(
        "the baseline {}, field `{field}`: {problem}; the file is not a report as realitycheck writes it (edited, or cut short?): {WRITE_IT}",
        path.display()
    )]
    Field {
        /// The file, as given.
        path: PathBuf,
        /// The field, as a path into the report: `checks[3].status`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// An earlier run's report, as far as a comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    file: String,
    schema_version: String,
    started_at: OffsetDateTime,
    target: String,
    host: String,
    profile: String,
    status: RunStatus,
    checks: Vec<(String, CheckStatus)>,
}

impl Baseline {
    /// Reads the report at `path`, at most [`MAX_BYTES`] of it.
    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|source| BaselineError::Read { path: path.to_path_buf(), source })?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_BYTES {
            return Err(BaselineError::TooLarge { path: path.to_path_buf() });
        }
        Baseline::parse(path, &bytes)
    }

    /// The report `bytes`, read from `path` (which errors and reports name as given).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Baseline, BaselineError> {
        let report: Value = serde_json::from_slice(bytes)
            .map_err(|source| BaselineError::NotJson { path: path.to_path_buf(), source })?;
        let fields = Fields { path };
        let schema_version = match report.get("schema_version") {
            Some(Value::String(version)) if SCHEMAS.contains(&version.as_str()) => version.clone(),
            Some(Value::String(version)) if is_later_report(version) => {
                return Err(BaselineError::LaterReport { version: version.clone(), path: path.to_path_buf() });
            }
            Some(Value::String(version)) => {
                return Err(BaselineError::NotAReport { found: format!("`{version}`"), path: path.to_path_buf() });
            }
            Some(other) => {
                return Err(BaselineError::NotAReport { found: kind(other).to_string(), path: path.to_path_buf() });
            }
            None => return Err(BaselineError::NotAReport { found: "missing".to_string(), path: path.to_path_buf() }),
        };
        let started = fields.text(&report, "started_at", "started_at")?;
        let started_at = OffsetDateTime::parse(started, &Rfc3339)
            .map_err(|_| {
                fields
                    .problem("started_at", format!("`{started}` is not an RFC 3339 time like 2026-03-02T09:30:00.250Z"))
            })?
            .to_offset(UtcOffset::UTC);
        let status = fields.text(&report, "status", "status")?;
        let status =
            RUN_STATUSES.into_iter().find(|candidate| json::run_status(*candidate) == status).ok_or_else(|| {
                let known: Vec<&str> = RUN_STATUSES.into_iter().map(json::run_status).collect();
                fields.problem("status", format!("`{status}` is not one of {}", known.join(", ")))
            })?;
        let entries = match report.get("checks") {
            Some(Value::Array(entries)) => entries,
            Some(other) => return Err(fields.problem("checks", format!("{} where a list is expected", kind(other)))),
            None => return Err(fields.problem("checks", "missing")),
        };
        let mut checks: Vec<(String, CheckStatus)> = Vec::with_capacity(entries.len());
        // Where each ID was first listed: a file of a million checks is read in linear time.
        let mut listed: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let id = fields.text(entry, "id", &format!("checks[{index}].id"))?;
            let status = fields.text(entry, "status", &format!("checks[{index}].status"))?;
            let status =
                CHECK_STATUSES.into_iter().find(|candidate| candidate.as_str() == status).ok_or_else(|| {
                    let known: Vec<&str> = CHECK_STATUSES.into_iter().map(CheckStatus::as_str).collect();
                    fields.problem(
                        format!("checks[{index}].status"),
                        format!("`{status}` is not one of {}", known.join(", ")),
                    )
                })?;
            if let Some(first) = listed.insert(id, index) {
                return Err(fields
                    .problem(format!("checks[{index}].id"), format!("`{id}` is listed twice (checks[{first}] too)")));
            }
            checks.push((id.to_string(), status));
        }
        Ok(Baseline {
            file: path.display().to_string(),
            schema_version,
            started_at,
            target: fields.text(&report, "target", "target")?.to_string(),
            host: fields.text(&report, "host", "host")?.to_string(),
            profile: fields.text(&report, "profile", "profile")?.to_string(),
            status,
            checks,
        })
    }

    /// The file, as it was given.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The report's schema, `realitycheck.report/v2`.
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }

    /// When the earlier run started, in UTC.
    pub fn started_at(&self) -> OffsetDateTime {
        self.started_at
    }

    /// The target the earlier run checked.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The installation's host (or what stood for it) in the earlier run.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The earlier run's profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// How the earlier run ended.
    pub fn status(&self) -> RunStatus {
        self.status
    }

    /// How check `id` ended in the earlier run; `None` when it was not in it.
    pub fn status_of(&self, id: &str) -> Option<CheckStatus> {
        self.checks.iter().find(|(seen, _)| seen == id).map(|(_, status)| *status)
    }

    /// The mark of `result`, from its status now and in the earlier run.
    pub fn mark(&self, result: &CheckResult) -> Mark {
        Mark::of(result.outcome.status(), self.status_of(&result.spec.id))
    }

    /// Whether the earlier run checked another target or host than the run `info` describes
    /// (a renamed target, or another installation).
    pub fn other_installation(&self, info: &RunInfo) -> bool {
        self.target != info.target || self.host != info.host
    }

    /// Each of `results` marked, in their order, and the baseline's checks that are not among them.
    pub fn compare<'a>(&'a self, results: &'a [CheckResult]) -> Comparison<'a> {
        let marks = results.iter().map(|result| (result.spec.id.as_str(), self.mark(result))).collect();
        let not_in_this_run = self
            .checks
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !results.iter().any(|result| result.spec.id == *id))
            .collect();
        Comparison { baseline: self, marks, not_in_this_run }
    }
}

/// Reads the fields of a report, with errors that name them.
struct Fields<'a> {
    path: &'a Path,
}

impl Fields<'_> {
    /// The text of `key` in `object`, which the report calls `field`.
    fn text<'v>(&self, object: &'v Value, key: &str, field: &str) -> Result<&'v str, BaselineError> {
        match object.get(key) {
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(self.problem(field, format!("{} where text is expected", kind(other)))),
            None => Err(self.problem(field, "missing")),
        }
    }

    fn problem(&self, field: impl Into<String>, problem: impl Into<String>) -> BaselineError {
        BaselineError::Field { path: self.path.to_path_buf(), field: field.into(), problem: problem.into() }
    }
}

/// `realitycheck.report/v4` and later.
fn is_later_report(version: &str) -> bool {
    let latest = SCHEMAS.len();
    version
        .strip_prefix("realitycheck.report/v")
        .and_then(|number| number.parse::<usize>().ok())
        .is_some_and(|number| number > latest)
}

/// What kind of JSON value `value` is, for errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// What the comparison says of one check of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Failed now; passed, flaky or skipped in the baseline, or not in it.
    NewRed,
    /// Passed now (flaky included: it passed after a retry), failed in the baseline.
    NewGreen,
    /// Failed now and in the baseline.
    StillRed,
    /// Skipped now (not applicable, not configured, blocked, preflight failed, interrupted),
    /// failed in the baseline: it may still be red, this run could not say.
    NotRechecked,
    /// The same verdict both times: passed (or flaky) both, or skipped both.
    Unchanged,
    /// Red neither time, and one of the runs has no verdict: passed now and skipped in the
    /// baseline or not in it, or skipped now and passed in the baseline or not in it.
    NotCompared,
}

impl Mark {
    /// Every mark, in the order reports count them.
    pub const ALL: [Mark; 6] =
        [Mark::NewRed, Mark::NewGreen, Mark::StillRed, Mark::NotRechecked, Mark::Unchanged, Mark::NotCompared];

    /// The mark of a check that ended `now` and `before` in the baseline (`None`: not in it).
    pub fn of(now: CheckStatus, before: Option<CheckStatus>) -> Mark {
        use CheckStatus::{Failed, Flaky, Passed, Skipped};
        match (now, before) {
            (Failed, Some(Failed)) => Mark::StillRed,
            (Failed, Some(Passed | Flaky | Skipped) | None) => Mark::NewRed,
            (Passed | Flaky, Some(Failed)) => Mark::NewGreen,
            (Passed | Flaky, Some(Passed | Flaky)) => Mark::Unchanged,
            (Passed | Flaky, Some(Skipped) | None) => Mark::NotCompared,
            (Skipped, Some(Failed)) => Mark::NotRechecked,
            (Skipped, Some(Skipped)) => Mark::Unchanged,
            (Skipped, Some(Passed | Flaky) | None) => Mark::NotCompared,
        }
    }

    /// The kebab-case name the JSON and JUnit reports give: `new-red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::NewRed => "new-red",
            Mark::NewGreen => "new-green",
            Mark::StillRed => "still-red",
            Mark::NotRechecked => "not-rechecked",
            Mark::Unchanged => "unchanged",
            Mark::NotCompared => "not-compared",
        }
    }

    /// The words the terminal prints: `new red`.
    pub fn words(self) -> &'static str {
        match self {
            Mark::NewRed => "new red",
            Mark::NewGreen => "new green",
            Mark::StillRed => "still red",
            Mark::NotRechecked => "not rechecked",
            Mark::Unchanged => "unchanged",
            Mark::NotCompared => "not compared",
        }
    }

    /// Whether a check's line in the terminal carries the mark: what an upgrade may have
    /// changed (new red, new green, still red, not rechecked); unchanged and not compared stay
    /// quiet.
    pub fn stands_out(self) -> bool {
        match self {
            Mark::NewRed | Mark::NewGreen | Mark::StillRed | Mark::NotRechecked => true,
            Mark::Unchanged | Mark::NotCompared => false,
        }
    }
}

/// How many checks of a run got each mark, as the JSON report states them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarkCounts {
    /// [`Mark::NewRed`].
    pub new_red: usize,
    /// [`Mark::NewGreen`].
    pub new_green: usize,
    /// [`Mark::StillRed`].
    pub still_red: usize,
    /// [`Mark::NotRechecked`].
    pub not_rechecked: usize,
    /// [`Mark::Unchanged`].
    pub unchanged: usize,
    /// [`Mark::NotCompared`].
    pub not_compared: usize,
}

/// A run's checks compared with a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison<'a> {
    baseline: &'a Baseline,
    marks: Vec<(&'a str, Mark)>,
    not_in_this_run: Vec<&'a str>,
}

impl<'a> Comparison<'a> {
    /// The baseline compared with.
    pub fn baseline(&self) -> &'a Baseline {
        self.baseline
    }

    /// Each check of the run with its mark, in the run's order.
    pub fn marks(&self) -> &[(&'a str, Mark)] {
        &self.marks
    }

    /// How many checks of the run got `mark`.
    pub fn count(&self, mark: Mark) -> usize {
        self.marks.iter().filter(|(_, marked)| *marked == mark).count()
    }

    /// How many checks of the run got each mark.
    pub fn counts(&self) -> MarkCounts {
        MarkCounts {
            new_red: self.count(Mark::NewRed),
            new_green: self.count(Mark::NewGreen),
            still_red: self.count(Mark::StillRed),
            not_rechecked: self.count(Mark::NotRechecked),
            unchanged: self.count(Mark::Unchanged),
            not_compared: self.count(Mark::NotCompared),
        }
    }

    /// The IDs of the baseline's checks that this run did not select, in the baseline's order.
    pub fn not_in_this_run(&self) -> &[&'a str] {
        &self.not_in_this_run
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use harness::{CheckKind, CheckSpec, Diagnosis, Outcome, SkipReason};

    use super::*;

    fn report(checks: &str) -> String {
        format!(
            r#"{{"schema_version": "realitycheck.report/v2", "target": "prod", "host": "https://circleci.example.com",
            "profile": "ci", "started_at": "2026-12-07T15:02:09.250Z", "duration_ms": 1, "status": "failed",
            "stopped_because": null, "counts": {{}}, "checks": [{checks}], "causes": []}}"#
        )
    }

    fn parse(text: &str) -> Result<Baseline, BaselineError> {
        Baseline::parse(Path::new("before.json"), text.as_bytes())
    }

    fn result(id: &str, outcome: Outcome) -> CheckResult {
        CheckResult {
            spec: CheckSpec::new(id, CheckKind::Cluster, "a check"),
            outcome,
            duration: Duration::ZERO,
            attempts: 1,
            observations: Vec::new(),
        }
    }

    #[test]
    fn every_pair_of_statuses_has_its_mark() {
        use CheckStatus::{Failed, Flaky, Passed, Skipped};
        let expected = [
            (Failed, Some(Failed), Mark::StillRed),
            (Failed, Some(Passed), Mark::NewRed),
            (Failed, Some(Flaky), Mark::NewRed),
            (Failed, Some(Skipped), Mark::NewRed),
            (Failed, None, Mark::NewRed),
            (Passed, Some(Failed), Mark::NewGreen),
            (Flaky, Some(Failed), Mark::NewGreen),
            (Passed, Some(Passed), Mark::Unchanged),
            (Passed, Some(Flaky), Mark::Unchanged),
            (Flaky, Some(Passed), Mark::Unchanged),
            (Flaky, Some(Flaky), Mark::Unchanged),
            (Passed, Some(Skipped), Mark::NotCompared),
            (Flaky, None, Mark::NotCompared),
            (Passed, None, Mark::NotCompared),
            (Skipped, Some(Failed), Mark::NotRechecked),
            (Skipped, Some(Skipped), Mark::Unchanged),
            (Skipped, Some(Passed), Mark::NotCompared),
            (Skipped, Some(Flaky), Mark::NotCompared),
            (Skipped, None, Mark::NotCompared),
        ];
        for (now, before, mark) in expected {
            assert_eq!(Mark::of(now, before), mark, "{now:?} now, {before:?} before");
        }
        let shown: Vec<&str> = Mark::ALL.into_iter().filter(|mark| mark.stands_out()).map(Mark::words).collect();
        assert_eq!(shown, ["new red", "new green", "still red", "not rechecked"]);
        let names: Vec<&str> = Mark::ALL.into_iter().map(Mark::as_str).collect();
        assert_eq!(names, ["new-red", "new-green", "still-red", "not-rechecked", "unchanged", "not-compared"]);
    }

    #[test]
    fn a_run_is_compared_check_by_check_and_the_baseline_s_others_are_listed_apart() {
        let baseline = parse(&report(
            r#"{"id": "a::gone", "status": "failed"}, {"id": "a::broken", "status": "passed"},
            {"id": "a::fixed", "status": "failed", "diagnosis": {"summary": "never printed"}},
            {"id": "a::same", "status": "flaky"}, {"id": "a::blocked", "status": "failed"}"#,
        ))
        .unwrap();
        let failed = || Outcome::Failed { diagnosis: Diagnosis::new("red") };
        let results = [
            result("a::broken", failed()),
            result("a::fixed", Outcome::Flaky { note: String::new(), failures: vec![Diagnosis::new("red")] }),
            result("a::same", Outcome::Passed { note: String::new() }),
            result("a::blocked", Outcome::Skipped { reason: SkipReason::Interrupted("signal".into()) }),
            result("a::new", failed()),
        ];
        let comparison = baseline.compare(&results);
        assert_eq!(
            comparison.marks(),
            [
                ("a::broken", Mark::NewRed),
                ("a::fixed", Mark::NewGreen),
                ("a::same", Mark::Unchanged),
                ("a::blocked", Mark::NotRechecked),
                ("a::new", Mark::NewRed),
            ]
        );
        assert_eq!(comparison.not_in_this_run(), ["a::gone"], "not counted: not in this run");
        assert_eq!(
            comparison.counts(),
            MarkCounts { new_red: 2, new_green: 1, still_red: 0, not_rechecked: 1, unchanged: 1, not_compared: 0 }
        );
        assert_eq!(comparison.baseline().status_of("a::same"), Some(CheckStatus::Flaky));
    }

    #[test]
    fn the_report_s_run_is_read_in_utc() {
        let baseline = parse(&report("").replace("2026-12-07T15:02:09.250Z", "2026-12-07T16:02:09+01:00")).unwrap();
        assert_eq!(baseline.started_at().unix_timestamp(), 1_796_655_729);
        assert_eq!(baseline.started_at().offset(), UtcOffset::UTC);
        assert_eq!(
            (baseline.file(), baseline.schema_version(), baseline.target(), baseline.profile()),
            ("before.json", "realitycheck.report/v2", "prod", "ci")
        );
        assert_eq!((baseline.host(), baseline.status()), ("https://circleci.example.com", RunStatus::Failed));
        let info = |target: &str, host: &str| RunInfo {
            target: target.into(),
            host: host.into(),
            profile: "laptop".into(),
            started_at: UNIX_EPOCH,
        };
        assert!(!baseline.other_installation(&info("prod", "https://circleci.example.com")), "another profile is not");
        assert!(baseline.other_installation(&info("production", "https://circleci.example.com")));
        assert!(baseline.other_installation(&info("prod", "https://circleci.staging.example.com")));
    }

    #[test]
    fn every_schema_of_the_report_is_read_and_no_other() {
        for schema in SCHEMAS {
            let v = parse(&report("").replace("realitycheck.report/v2", schema)).unwrap();
            assert_eq!(v.schema_version(), schema);
        }
        let later = parse(&report("").replace("realitycheck.report/v2", "realitycheck.report/v4")).unwrap_err();
        assert!(matches!(later, BaselineError::LaterReport { .. }), "{later}");
        assert!(later.to_string().contains("upgrade realitycheck"), "{later}");
        let record = parse(&report("").replace("realitycheck.report/v2", "realitycheck.run/v1")).unwrap_err();
        assert_eq!(
            record.to_string(),
            "the baseline before.json, field `schema_version`: `realitycheck.run/v1`, not one of realitycheck.report/v1, \
             realitycheck.report/v2, realitycheck.report/v3: the file is not a realitycheck JSON report; give the JSON \
             report an earlier run wrote (`realitycheck run --json before.json`)"
        );
        for other in ["[]", "{}", r#"{"schema_version": 2}"#, r#"{"schema_version": "realitycheck.report/vx"}"#] {
            let error = parse(other).unwrap_err();
            assert!(matches!(error, BaselineError::NotAReport { .. }), "{other}: {error}");
        }
    }

    #[test]
    fn what_is_not_a_report_is_refused_naming_the_field() {
        let refused = |text: String, field: &str, problem: &str| {
            let error = parse(&text).unwrap_err();
            let BaselineError::Field { field: named, problem: said, .. } = &error else { panic!("{error}") };
            assert_eq!((named.as_str(), said.as_str()), (field, problem), "{error}");
            assert!(error.to_string().starts_with(&format!("the baseline before.json, field `{field}`: ")), "{error}");
        };
        refused(
            report(r#"{"id": "a::b", "status": "green"}"#),
            "checks[0].status",
            "`green` is not one of passed, flaky, failed, skipped",
        );
        refused(report(r#"{"id": "a::b", "status": "passed"}, {"status": "passed"}"#), "checks[1].id", "missing");
        refused(report(r#"{"id": 7, "status": "passed"}"#), "checks[0].id", "a number where text is expected");
        refused(
            report(r#"{"id": "a::b", "status": "passed"}, {"id": "a::b", "status": "failed"}"#),
            "checks[1].id",
            "`a::b` is listed twice (checks[0] too)",
        );
        refused(
            report("").replace(r#""checks": []"#, r#""checks": {}"#),
            "checks",
            "an object where a list is expected",
        );
        refused(report("").replace(r#""checks": [],"#, ""), "checks", "missing");
        refused(
            report("").replace("\"failed\"", "\"red\""),
            "status",
            "`red` is not one of passed, failed, preflight-failed, nothing-selected, interrupted",
        );
        refused(
            report("").replace("2026-12-07T15:02:09.250Z", "yesterday"),
            "started_at",
            "`yesterday` is not an RFC 3339 time like 2026-03-02T09:30:00.250Z",
        );
        refused(
            report("").replace(r#""target": "prod""#, r#""target": null"#),
            "target",
            "null where text is expected",
        );
        refused(report("").replace(r#""profile": "ci","#, ""), "profile", "missing");
    }

    #[test]
    fn a_file_that_is_missing_too_large_or_not_json_is_refused_naming_it() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("before.json");
        let error = Baseline::read(&missing).unwrap_err();
        assert!(matches!(error, BaselineError::Read { .. }), "{error}");
        assert!(error.to_string().starts_with(&format!("cannot read the baseline {}: ", missing.display())), "{error}");
        let error = Baseline::read(directory.path()).unwrap_err();
        assert!(matches!(error, BaselineError::Read { .. }), "a directory: {error}");

        let large = directory.path().join("large.json");
        let file = std::fs::File::create(&large).unwrap();
        file.set_len(MAX_BYTES + 1).unwrap();
        let error = Baseline::read(&large).unwrap_err();
        assert!(matches!(error, BaselineError::TooLarge { .. }), "{error}");
        assert!(error.to_string().contains("is larger than 32 MiB"), "{error}");

        let junit = directory.path().join("junit.xml");
        std::fs::write(&junit, "<testsuites/>\n").unwrap();
        let error = Baseline::read(&junit).unwrap_err();
        assert!(matches!(error, BaselineError::NotJson { .. }), "{error}");
        assert!(error.to_string().contains("line 1 column 1"), "where it breaks off: {error}");

        let cut = directory.path().join("cut.json");
        std::fs::write(&cut, &report("")[..80]).unwrap();
        assert!(matches!(Baseline::read(&cut).unwrap_err(), BaselineError::NotJson { .. }));

        let whole = directory.path().join("whole.json");
        std::fs::write(&whole, report(r#"{"id": "a::b", "status": "skipped"}"#)).unwrap();
        let baseline = Baseline::read(&whole).unwrap();
        assert_eq!(baseline.file(), whole.display().to_string());
        assert_eq!(baseline.status_of("a::b"), Some(CheckStatus::Skipped));
        assert_eq!(baseline.status_of("a::c"), None);
    }
}
