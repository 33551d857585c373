//! The evidence bundle: one `realitycheck-evidence-<time>.tar.gz` holding what a run gathered
//! about its red checks ([`harness::Evidence`]) under one directory, with a `manifest.json`
//! naming each file, what it is, and the red checks it supports. Its size is capped (each file,
//! and all of them together, uncompressed); what is cut or left out is said in the manifest and
//! returned, for the binary to tell. Every value it is handed to redact (the API token) is
//! replaced in every file, whatever gathered it.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use harness::{Evidence, EvidenceFile, RunInfo, RunSummary, Secret};
use serde::Serialize;

use crate::ReportError;
use crate::run::{rfc3339_millis, started_at_utc};

/// The schema of the manifest, for the tools that read it.
pub const MANIFEST_SCHEMA: &str = "realitycheck.evidence/v1";

/// The manifest's name in the bundle's directory.
pub const MANIFEST: &str = "manifest.json";

/// How large a bundle may grow, uncompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// All files together (the manifest aside); a file beyond it is cut, or left out.
    pub total_bytes: usize,
    /// One file; a longer one is cut: a text file (`.txt`: logs, step output) to its last
    /// bytes, any other to its first.
    pub file_bytes: usize,
}

impl Default for BundleLimits {
    /// 20 MiB in all, 4 MiB a file.
    fn default() -> Self {
        BundleLimits { total_bytes: 20 * 1024 * 1024, file_bytes: 4 * 1024 * 1024 }
    }
}

/// A bundle written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The `.tar.gz` file.
    pub path: PathBuf,
    /// Files in it besides the manifest.
    pub files: usize,
    /// Their bytes, uncompressed.
    pub bytes: usize,
    /// What was cut or left out to keep within the limits, one line each.
    pub cuts: Vec<String>,
}

/// The manifest: the run, the red checks, and every file.
#[derive(Debug, Serialize)]
struct Manifest<'a> {
    schema: &'static str,
    target: &'a str,
    host: &'a str,
    profile: &'a str,
    started_at: String,
    status: harness::RunStatus,
    red_checks: Vec<&'a str>,
    limits: Limits,
    files: Vec<Entry<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    omitted: Vec<Omitted<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

#[derive(Debug, Serialize)]
struct Limits {
    total_bytes: usize,
    file_bytes: usize,
}

#[derive(Debug, Serialize)]
struct Entry<'a> {
    path: String,
    what: &'a str,
    supports: &'a [String],
    bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<String>,
}

#[derive(Debug, Serialize)]
struct Omitted<'a> {
    path: String,
    what: &'a str,
    supports: &'a [String],
    bytes: usize,
    why: String,
}

/// `realitycheck-evidence-20261118T104707Z`: the bundle's name (and its directory's) for a run
/// started at `started_at`.
pub fn bundle_name(info: &RunInfo) -> String {
    let utc = started_at_utc(info.started_at);
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    let (hour, minute, second) = (utc.hour(), utc.minute(), utc.second());
    format!("realitycheck-evidence-{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

/// Writes the bundle of `evidence` about the run `info` that ended with `summary` into `dir`
/// (created when missing), within `limits`, with every value of `redact` replaced. The file
/// appears whole or not at all.
pub fn write_bundle(
    dir: &Path,
    info: &RunInfo,
    summary: &RunSummary,
    evidence: &Evidence,
    limits: BundleLimits,
    redact: &[Secret],
) -> Result<Bundle, ReportError> {
    let name = bundle_name(info);
    let failed = |source: io::Error| ReportError::Bundle { dir: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut temporary = tempfile::Builder::new().prefix(".realitycheck-evidence").tempfile_in(dir).map_err(failed)?;
    let planned = plan(evidence, limits, redact);
    let red_checks = summary.results.iter().filter(|r| r.outcome.is_failure()).map(|r| r.spec.id.as_str()).collect();
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA,
        target: &info.target,
        host: &info.host,
        profile: &info.profile,
        started_at: rfc3339_millis(started_at_utc(info.started_at)),
        status: summary.status,
        red_checks,
        limits: Limits { total_bytes: limits.total_bytes, file_bytes: limits.file_bytes },
        files: planned.entries,
        omitted: planned.omitted,
        notes: &evidence.notes,
    };
    // The manifest holds notes made of error texts too: redacted like every file.
    let manifest_json = redacted(&serde_json::to_vec_pretty(&manifest)?, redact);
    let mtime = info.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let mut archive = tar::Builder::new(GzEncoder::new(temporary.as_file_mut(), Compression::default()));
    let mut append = |path: &str, content: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        archive.append_data(&mut header, format!("{name}/{path}"), content)
    };
    append(MANIFEST, &manifest_json).map_err(failed)?;
    for (entry, content) in manifest.files.iter().zip(&planned.contents) {
        append(&entry.path, content).map_err(failed)?;
    }
    archive.into_inner().and_then(GzEncoder::finish).and_then(|file| file.flush()).map_err(failed)?;
    let path = unused_path(dir, &name);
    temporary.persist_noclobber(&path).map_err(|e| failed(e.error))?;
    Ok(Bundle {
        path,
        files: manifest.files.len(),
        bytes: planned.contents.iter().map(Vec::len).sum(),
        cuts: planned.cuts,
    })
}

/// `dir/name.tar.gz`, or `dir/name-2.tar.gz` (and so on) when a bundle of that name exists.
fn unused_path(dir: &Path, name: &str) -> PathBuf {
    let candidate = |n: usize| match n {
        1 => dir.join(format!("{name}.tar.gz")),
        n => dir.join(format!("{name}-{n}.tar.gz")),
    };
    (1..).map(candidate).find(|path| !path.exists()).unwrap_or_else(|| candidate(1))
}

/// What goes in the archive: the entries of the manifest and their contents (in the same
/// order), what was left out, and what was cut.
struct Planned<'a> {
    entries: Vec<Entry<'a>>,
    contents: Vec<Vec<u8>>,
    omitted: Vec<Omitted<'a>>,
    cuts: Vec<String>,
}

fn plan<'a>(evidence: &'a Evidence, limits: BundleLimits, redact: &[Secret]) -> Planned<'a> {
    let mut planned = Planned { entries: Vec::new(), contents: Vec::new(), omitted: Vec::new(), cuts: Vec::new() };
    let mut taken = BTreeSet::new();
    let mut left = limits.total_bytes;
    for file in &evidence.files {
        let path = unique(&mut taken, &safe_path(&file.path));
        let content = redacted(&file.content, redact);
        let size = content.len();
        let allowed = limits.file_bytes.min(left);
        if allowed == 0 && size > 0 {
            let why = format!("the bundle reached its limit of {} bytes", limits.total_bytes);
            planned.cuts.push(format!("{path} ({size} bytes) left out: {why}"));
            planned.omitted.push(Omitted { path, what: &file.what, supports: &file.supports, bytes: size, why });
            continue;
        }
        let mut truncated = file.truncated.clone();
        let content = if size > allowed {
            let limit = if allowed < limits.file_bytes {
                format!("the bundle's limit of {} bytes", limits.total_bytes)
            } else {
                format!("the limit of {} bytes a file", limits.file_bytes)
            };
            // Logs and step output (text) end with what matters most: their tail is kept.
            let keep_tail = path.ends_with(".txt");
            let end = if keep_tail { "last" } else { "first" };
            let cut = format!("cut to its {end} {allowed} of {size} bytes ({limit})");
            planned.cuts.push(format!("{path} {cut}"));
            truncated = Some(match truncated {
                Some(earlier) => format!("{earlier}; then {cut}"),
                None => cut,
            });
            if keep_tail { content[size - allowed..].to_vec() } else { content[..allowed].to_vec() }
        } else {
            content
        };
        left -= content.len();
        planned.entries.push(entry(file, path, content.len(), truncated));
        planned.contents.push(content);
    }
    planned
}

fn entry(file: &EvidenceFile, path: String, bytes: usize, truncated: Option<String>) -> Entry<'_> {
    Entry { path, what: &file.what, supports: &file.supports, bytes, truncated }
}

/// `path` as a relative path of plain parts: no root, no `.` or `..`, no empty part; a name
/// that is left empty becomes `unnamed`.
fn safe_path(path: &str) -> String {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|part| !matches!(*part, "" | "." | "..")).collect();
    if parts.is_empty() || parts == [MANIFEST] { "unnamed".to_string() } else { parts.join("/") }
}

/// `path`, or `path` with `-2` (and so on) before its extension when taken.
fn unique(taken: &mut BTreeSet<String>, path: &str) -> String {
    let (stem, extension) = match path.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() && !extension.contains('/') => (stem, format!(".{extension}")),
        _ => (path, String::new()),
    };
    let chosen = (1..)
        .map(|n| if n == 1 { path.to_string() } else { format!("{stem}-{n}{extension}") })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| path.to_string());
    taken.insert(chosen.clone());
    chosen
}

/// `content` with every occurrence of each non-empty value of `secrets` replaced.
fn redacted(content: &[u8], secrets: &[Secret]) -> Vec<u8> {
    secrets.iter().fold(content.to_vec(), |content, secret| secret.redact_bytes(&content))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::{Duration, SystemTime};

    use harness::{CheckKind, CheckResult, CheckSpec, Diagnosis, Outcome, RunStatus};

    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            target: "prod".into(),
            host: "https://circleci.example.com".into(),
            profile: "ci".into(),
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        }
    }

    fn summary() -> RunSummary {
        let result = |id: &str, outcome| CheckResult {
            spec: CheckSpec::new(id, CheckKind::Cluster, "a check"),
            outcome,
            duration: Duration::ZERO,
            attempts: 1,
            observations: Vec::new(),
        };
        RunSummary {
            status: RunStatus::Failed,
            results: vec![
                result("nomad::servers_alive", Outcome::Passed { note: "fine".into() }),
                result("machine_provisioner::config", Outcome::Failed { diagnosis: Diagnosis::new("refused") }),
            ],
            duration: Duration::from_secs(3),
            stopped_because: None,
        }
    }

    fn file(path: &str, content: &str) -> EvidenceFile {
        EvidenceFile::new(path, format!("what {path} is"), vec!["machine_provisioner::config".into()], content.into())
    }

    /// The archive's entries: path and content.
    fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
        let mut archive = tar::Archive::new(gz);
        let mut found = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            found.push((name, content));
        }
        found
    }

    fn manifest(entries: &[(String, Vec<u8>)]) -> serde_json::Value {
        let (_, content) = entries.iter().find(|(name, _)| name.ends_with("/manifest.json")).unwrap();
        serde_json::from_slice(content).unwrap()
    }

    #[test]
    fn the_manifest_names_every_file_in_the_archive_and_the_checks_it_supports() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = Evidence {
            files: vec![file("kubernetes/pods/p/log.txt", "a log\n"), file("../../etc/passwd", "x")],
            notes: vec!["the events of pod q could not be read: 403".into()],
        };
        let bundle = write_bundle(dir.path(), &info(), &summary(), &evidence, BundleLimits::default(), &[]).unwrap();
        assert_eq!(bundle.path, dir.path().join("realitycheck-evidence-20261118T110640Z.tar.gz"));
        assert_eq!((bundle.files, bundle.bytes, bundle.cuts.len()), (2, 7, 0));
        let entries = entries(&bundle.path);
        let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "realitycheck-evidence-20261118T110640Z/manifest.json",
                "realitycheck-evidence-20261118T110640Z/kubernetes/pods/p/log.txt",
                "realitycheck-evidence-20261118T110640Z/etc/passwd",
            ],
            "everything under one directory, nothing outside it"
        );
        insta::assert_json_snapshot!(manifest(&entries));

        let again = write_bundle(dir.path(), &info(), &summary(), &evidence, BundleLimits::default(), &[]).unwrap();
        assert_eq!(again.path, dir.path().join("realitycheck-evidence-20261118T110640Z-2.tar.gz"), "never replaced");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file left: {leftovers:?}");
    }

    #[test]
    fn files_beyond_the_limits_are_cut_or_left_out_and_the_manifest_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = Evidence {
            files: vec![
                file("a.txt", &"0123456789".repeat(3)).truncated("the last 200 lines"),
                file("b.json", &"b".repeat(30)),
                file("c.txt", "c"),
            ],
            notes: vec![],
        };
        let limits = BundleLimits { total_bytes: 40, file_bytes: 25 };
        let bundle = write_bundle(dir.path(), &info(), &summary(), &evidence, limits, &[]).unwrap();
        assert_eq!(
            bundle.cuts,
            [
                "a.txt cut to its last 25 of 30 bytes (the limit of 25 bytes a file)",
                "b.json cut to its first 15 of 30 bytes (the bundle's limit of 40 bytes)",
                "c.txt (1 bytes) left out: the bundle reached its limit of 40 bytes",
            ]
        );
        let entries = entries(&bundle.path);
        let manifest = manifest(&entries);
        assert_eq!(
            manifest["files"][0]["truncated"],
            "the last 200 lines; then cut to its last 25 of 30 bytes (the limit of 25 bytes a file)"
        );
        assert_eq!(manifest["files"][1]["bytes"], 15);
        assert_eq!(manifest["omitted"][0]["path"], "c.txt");
        assert_eq!(entries.len(), 3, "the manifest, a.txt and b.json");
        assert_eq!(entries[1].1, &"0123456789".repeat(3).as_bytes()[5..], "a log keeps its end");
        assert_eq!(entries[2].1, "b".repeat(15).as_bytes());
    }

    #[test]
    fn every_value_to_redact_is_replaced_in_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = Evidence {
            files: vec![file("api.json", "{\"token\":\"CCIPAT_s3cr3t\",\"again\":\"xCCIPAT_s3cr3tx\"}")],
            notes: vec![],
        };
        let bundle = write_bundle(
            dir.path(),
            &info(),
            &summary(),
            &evidence,
            BundleLimits::default(),
            &[Secret::new("CCIPAT_s3cr3t"), Secret::new("")],
        )
        .unwrap();
        let entries = entries(&bundle.path);
        assert_eq!(String::from_utf8_lossy(&entries[1].1), "{\"token\":\"[redacted]\",\"again\":\"x[redacted]x\"}");
    }

    #[test]
    fn paths_are_made_safe_and_unique() {
        assert_eq!(safe_path("/abs/./x/../y"), "abs/x/y");
        assert_eq!(safe_path(".."), "unnamed");
        assert_eq!(safe_path("manifest.json"), "unnamed", "the manifest's name is the manifest's");
        let mut taken = BTreeSet::new();
        assert_eq!(unique(&mut taken, "logs/p.txt"), "logs/p.txt");
        assert_eq!(unique(&mut taken, "logs/p.txt"), "logs/p-2.txt");
        assert_eq!(unique(&mut taken, "logs/p.txt"), "logs/p-3.txt");
        assert_eq!(unique(&mut taken, "noext"), "noext");
        assert_eq!(unique(&mut taken, "noext"), "noext-2");
    }
}
