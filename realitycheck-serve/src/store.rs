//! `--state-dir`: the history kept across restarts, as JSON lines (`runs.jsonl`, one
//! [`RunRecord`] per line, oldest first). A record is appended when its run ends, so a
//! shutdown or a crash loses at most the run going on; the file is rewritten with only the
//! runs kept in memory when it grows past twice that. A line that does not parse (a crash
//! mid-write, an edit by hand) is skipped with a warning, never fatal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::record::{RUN_SCHEMA_VERSION, RunRecord};

/// The file in the state dir.
pub const FILE_NAME: &str = "runs.jsonl";

/// Why the state dir cannot be used; the advice follows the cause.
#[derive(Debug, thiserror::Error)]
#[error("state dir {}: cannot {action}: {source}; {}", path.display(), self.advice())]
pub struct StoreError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done.
    pub action: &'static str,
    /// Why it failed.
    #[source]
    pub source: io::Error,
}

impl StoreError {
    /// What to do about it, by what failed.
    pub fn advice(&self) -> &'static str {
        match self.source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                "give --state-dir a directory this user can create and write, or leave it out to keep the history in memory only"
            }
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
                "free space on its filesystem (or give --state-dir one with room); until then, leave it out to keep the history in memory only"
            }
            io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists | io::ErrorKind::IsADirectory => {
                "a file stands where the directory (or a directory where runs.jsonl) should be: give --state-dir a directory, or move what is there"
            }
            io::ErrorKind::InvalidData => {
                "the file is not the text realitycheck writes: move it aside to start a new history"
            }
            _ => "check the directory and its filesystem, or leave --state-dir out to keep the history in memory only",
        }
    }
}

/// The record a line holds: UTF-8 JSON of a record of the schema this version writes.
fn parse(line: &[u8]) -> Result<RunRecord, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8 text ({e})"))?;
    let record: RunRecord = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if record.schema_version != RUN_SCHEMA_VERSION {
        return Err(format!(
            "schema `{}`, not `{RUN_SCHEMA_VERSION}`, which this version writes",
            record.schema_version
        ));
    }
    Ok(record)
}

/// The open state dir.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    lines: usize,
}

/// What opening the state dir found.
#[derive(Debug)]
pub struct Restored {
    /// The records read, oldest first.
    pub records: Vec<RunRecord>,
    /// Lines that did not parse and were skipped.
    pub skipped_lines: usize,
}

impl Store {
    /// Opens (creating it if needed) the state dir `dir` and reads the records it keeps.
    pub fn open(dir: &Path) -> Result<(Store, Restored), StoreError> {
        let error = |action, source| StoreError { path: dir.to_path_buf(), action, source };
        fs::create_dir_all(dir).map_err(|e| error("create the directory", e))?;
        let path = dir.join(FILE_NAME);
        let mut restored = Restored { records: Vec::new(), skipped_lines: 0 };
        let mut lines = 0;
        match File::open(&path) {
            Ok(file) => {
                for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
                    let line = line.map_err(|e| StoreError { path: path.clone(), action: "read", source: e })?;
                    if line.trim_ascii().is_empty() {
                        continue;
                    }
                    lines += 1;
                    match parse(&line) {
                        Ok(record) => restored.records.push(record),
                        Err(why) => {
                            tracing::warn!(file = %path.display(), line = number + 1, error = %why, "skipping a line of the state dir that does not parse");
                            restored.skipped_lines += 1;
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError { path, action: "open", source: e }),
        }
        // Fail now, not at the first run's end, when the file cannot be written.
        OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError {
            path: path.clone(),
            action: "open for writing",
            source: e,
        })?;
        Ok((Store { path, lines }, restored))
    }

    /// The file records go to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`; when the file holds more than twice `kept.len()` lines, rewrites it
    /// with `kept` only (every record still in memory, the new one included).
    pub fn append(&mut self, record: &RunRecord, kept: &[&RunRecord]) -> Result<(), StoreError> {
        let error = |action, source| StoreError { path: self.path.clone(), action, source };
        let mut line = serde_json::to_vec(record).map_err(|e| error("serialise a run", io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = OpenOptions::new().append(true).open(&self.path).map_err(|e| error("open", e))?;
        file.write_all(&line).map_err(|e| error("append a run", e))?;
        self.lines += 1;
        if self.lines > 2 * kept.len().max(1) {
            self.rewrite(kept)?;
        }
        Ok(())
    }

    /// Replaces the file by `kept`, through a temporary file renamed over it.
    fn rewrite(&mut self, kept: &[&RunRecord]) -> Result<(), StoreError> {
        let error = |action, source| StoreError { path: self.path.clone(), action, source };
        let temporary = self.path.with_extension("jsonl.tmp");
        let mut text = Vec::new();
        for record in kept {
            serde_json::to_writer(&mut text, record).map_err(|e| error("serialise a run", io::Error::other(e)))?;
            text.push(b'\n');
        }
        fs::write(&temporary, &text).map_err(|e| error("write the compacted file", e))?;
        fs::rename(&temporary, &self.path).map_err(|e| error("replace the file", e))?;
        self.lines = kept.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RUN_SCHEMA_VERSION, RunResult, Trigger};

    fn record(id: u64) -> RunRecord {
        RunRecord {
            schema_version: RUN_SCHEMA_VERSION.into(),
            id,
            target: "prod".into(),
            trigger: Trigger::Schedule,
            profile: "health".into(),
            canary: false,
            started_at_ms: id,
            duration_ms: 1,
            result: RunResult::Passed,
            overran: false,
            stopped_because: None,
            finish_notes: vec![],
            checks: vec![],
        }
    }

    #[test]
    fn records_survive_a_reopen_and_a_broken_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, restored) = Store::open(dir.path()).unwrap();
        assert!(restored.records.is_empty());
        store.append(&record(1), &[&record(1)]).unwrap();
        fs::OpenOptions::new().append(true).open(store.path()).unwrap().write_all(b"{\"truncated\n").unwrap();
        store.append(&record(2), &[&record(1), &record(2)]).unwrap();
        let (_, restored) = Store::open(dir.path()).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(restored.skipped_lines, 1);
    }

    #[test]
    fn a_line_that_is_not_utf8_or_of_another_schema_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        store.append(&record(1), &[&record(1)]).unwrap();
        let mut file = fs::OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(b"{\"id\": 7, \"target\": \"\xff\xfe\"}\n").unwrap();
        let mut foreign = serde_json::to_value(record(18_446_744_073_709_551_615)).unwrap();
        foreign["schema_version"] = "realitycheck.run/v99".into();
        file.write_all(format!("{foreign}\n").as_bytes()).unwrap();
        store.append(&record(2), &[&record(1), &record(2)]).unwrap();
        let (_, restored) = Store::open(dir.path()).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(restored.skipped_lines, 2);
    }

    #[test]
    fn a_line_written_before_records_kept_their_profile_is_a_scheduled_run() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let mut canary = record(2);
        (canary.profile, canary.canary) = ("canary".into(), true);
        store.append(&canary, &[&canary]).unwrap();
        let mut older = serde_json::to_value(record(1)).unwrap();
        let fields = older.as_object_mut().unwrap();
        fields.remove("profile");
        fields.remove("canary");
        fs::OpenOptions::new()
            .append(true)
            .open(store.path())
            .unwrap()
            .write_all(format!("{older}\n").as_bytes())
            .unwrap();
        let (_, restored) = Store::open(dir.path()).unwrap();
        let read: Vec<(u64, &str, bool)> =
            restored.records.iter().map(|r| (r.id, r.profile.as_str(), r.canary)).collect();
        assert_eq!(read, [(2, "canary", true), (1, "", false)]);
    }

    #[test]
    fn the_file_is_compacted_to_the_kept_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        for id in 1..=5u64 {
            let kept: Vec<RunRecord> = (id.saturating_sub(1).max(1)..=id).map(record).collect();
            store.append(&record(id), &kept.iter().collect::<Vec<_>>()).unwrap();
        }
        let (_, restored) = Store::open(dir.path()).unwrap();
        let ids: Vec<u64> = restored.records.iter().map(|r| r.id).collect();
        assert!(ids.len() <= 4, "at most twice the two kept runs: {ids:?}");
        assert_eq!(ids.last(), Some(&5));
    }

    #[test]
    fn an_unwritable_state_dir_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let error = Store::open(&file).unwrap_err().to_string();
        assert!(error.contains("not-a-dir") && error.contains("a file stands where the directory"), "{error}");
    }

    #[test]
    fn the_advice_fits_the_cause() {
        let error = |kind: io::ErrorKind| StoreError {
            path: PathBuf::from("/var/lib/realitycheck/runs.jsonl"),
            action: "append a run",
            source: io::Error::from(kind),
        };
        assert!(error(io::ErrorKind::StorageFull).to_string().ends_with(
            "; free space on its filesystem (or give --state-dir one with room); until then, leave it out to keep the history in memory only"
        ));
        assert!(
            error(io::ErrorKind::PermissionDenied).to_string().contains("a directory this user can create and write")
        );
        assert!(error(io::ErrorKind::InvalidData).to_string().contains("move it aside"));
        assert!(error(io::ErrorKind::Interrupted).to_string().contains("check the directory and its filesystem"));
    }
}
