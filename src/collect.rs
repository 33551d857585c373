//! The evidence bundle of a red run (`--collect DIR`, or the profile's `collect`): where it
//! goes, the reports it carries (a JSON and a JUnit report of the run, written beside whatever
//! `--json` and `--junit` ask for), the effective configuration without the token, and the
//! bundle written once the run has ended, with what the suite gathered.

use std::path::PathBuf;
use std::sync::Arc;

use harness::{Evidence, EvidenceFile, RunInfo, RunSummary, Secret};
use realitycheck_config::{Settings, setting};
use reports::{Baseline, Bundle, BundleLimits, JsonReporter, JunitReporter, ReportError, Reporter};
use serde_json::json;

use crate::cli::ReportArgs;
use crate::exit::AppError;

/// A run's request for an evidence bundle.
pub struct Collect {
    /// Where the bundle goes (absolute).
    dir: PathBuf,
    /// The effective configuration, as JSON, without the token.
    config: Vec<u8>,
    /// What must never be in the bundle: the API token.
    redact: Vec<Secret>,
    /// Where the reports the bundle carries are written during the run.
    reports: tempfile::TempDir,
}

/// Refuses `dir` when it is a symbolic link that another user made, or that leads to a
/// directory another user owns: a link planted in a shared directory (/tmp) would have the
/// bundle written where its maker chose, with the rights of whoever runs realitycheck (as
/// ssh refuses such key files). `ours` is a directory this process made, whose owner is us.
#[cfg(unix)]
fn refuse_foreign_link(dir: &std::path::Path, origin: &str, ours: &std::path::Path) -> Result<(), AppError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(link) = std::fs::symlink_metadata(dir) else { return Ok(()) };
    if !link.file_type().is_symlink() {
        return Ok(());
    }
    let me = std::fs::metadata(ours).map_err(AppError::io(format!("cannot read {}", ours.display())))?.uid();
    let target = std::fs::metadata(dir).map(|target| target.uid()).ok();
    let shown = std::fs::read_link(dir).map(|to| to.display().to_string()).unwrap_or_else(|_| "?".into());
    let foreign = match (link.uid() == me, target) {
        (false, _) => Some(format!("the link belongs to uid {}", link.uid())),
        (true, Some(owner)) if owner != me => Some(format!("the directory it leads to belongs to uid {owner}")),
        _ => None,
    };
    match foreign {
        Some(why) => Err(AppError::Usage(format!(
            "{origin} {} is a symbolic link to {shown} and {why}, not to you (uid {me}): realitycheck does not write evidence where another user chose; give a directory of your own, or --no-collect",
            dir.display()
        ))),
        None => Ok(()),
    }
}

const JSON_REPORT: &str = "report.json";
const JUNIT_REPORT: &str = "junit.xml";

impl Collect {
    /// The bundle `args` and the profile ask for: `--no-collect` none, `--collect DIR` into
    /// DIR, else the profile's `collect` into its `collect_dir` (relative to the working
    /// directory). A DIR that is a file is an error, before anything runs.
    pub fn request(args: &ReportArgs, settings: &Settings) -> Result<Option<Collect>, AppError> {
        let profile = &settings.profile;
        let (dir, origin) = match (&args.collect, args.no_collect) {
            (_, true) => return Ok(None),
            (Some(dir), false) => (dir.clone(), "--collect".to_string()),
            (None, false) if profile.collect => {
                (profile.collect_dir.clone(), format!("profiles.{}.collect_dir", profile.name))
            }
            (None, false) => return Ok(None),
        };
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        if dir.exists() && !dir.is_dir() {
            return Err(AppError::Usage(format!(
                "{origin} {} is a file; give the directory evidence bundles go into (created when missing), or --no-collect",
                dir.display()
            )));
        }
        let reports = tempfile::tempdir().map_err(AppError::io("cannot create a temporary directory".into()))?;
        #[cfg(unix)]
        refuse_foreign_link(&dir, &origin, reports.path())?;
        let mut config = settings.effective_json();
        config["realitycheck"] = json!(env!("CARGO_PKG_VERSION"));
        config["profile"][setting::COLLECT.key] = json!(true);
        config["profile"][setting::COLLECT_DIR.key] = json!(dir.display().to_string());
        let config = serde_json::to_vec_pretty(&config).unwrap_or_default();
        let redact = settings.target.token.iter().chain(&settings.target.nomad.token).cloned().collect();
        Ok(Some(Collect { dir, config, redact, reports }))
    }

    /// The reporters that write the reports the bundle carries, compared with `baseline` as
    /// the run's own reports are.
    pub fn reporters(&self, baseline: Option<&Arc<Baseline>>) -> Vec<Box<dyn Reporter + Send>> {
        vec![
            Box::new(JsonReporter::new(self.reports.path().join(JSON_REPORT)).with_baseline(baseline.cloned())),
            Box::new(JunitReporter::new(self.reports.path().join(JUNIT_REPORT)).with_baseline(baseline.cloned())),
        ]
    }

    /// Writes the bundle of the run `info` that ended with `summary`: its reports, the
    /// effective configuration, then what the suite gathered (`gathered`).
    pub fn write(&self, info: &RunInfo, summary: &RunSummary, gathered: Evidence) -> Result<Bundle, ReportError> {
        let red: Vec<String> =
            summary.results.iter().filter(|r| r.outcome.is_failure()).map(|r| r.spec.id.clone()).collect();
        let mut evidence = Evidence::default();
        let json_what = format!(
            "the run's JSON report (schema {}): every check's outcome and diagnosis, and their causes",
            reports::json::SCHEMA_VERSION
        );
        let reports = [(JSON_REPORT, json_what.as_str()), (JUNIT_REPORT, "the run's JUnit XML report")];
        for (name, what) in reports {
            match std::fs::read(self.reports.path().join(name)) {
                Ok(content) => evidence.add(EvidenceFile::new(format!("reports/{name}"), what, red.clone(), content)),
                Err(error) => evidence.note(format!("the {name} report is missing: {error}")),
            }
        }
        evidence.add(EvidenceFile::new(
            "config/effective.json",
            "the run's effective configuration (file, environment and flags merged); the token only as set or unset",
            red,
            self.config.clone(),
        ));
        evidence.extend(gathered);
        reports::write_bundle(&self.dir, info, summary, &evidence, BundleLimits::default(), &self.redact)
    }
}

/// `1.2 MiB`, `840 KiB`, `12 bytes`.
pub fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    match bytes {
        b if b >= KIB * KIB => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}
