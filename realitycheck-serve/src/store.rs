//! `--state-dir`: the history kept across restarts, as JSON lines (`runs.jsonl`, one
//! [`RunRecord`] per line, oldest first). A record is appended when its run ends, whole, in
//! one write, so a shutdown or a crash loses at most the run going on; the file is rewritten
//! with only the runs kept in memory when it grows past twice that. A line that does not parse
//! (a crash mid-write, an edit by hand) is skipped with a warning, never fatal; a torn last
//! line (a full disk mid-append) is cut off before the next append, so that it never swallows
//! the next record. Reading keeps only what the history keeps, per target, whatever the file's
//! size, and skips lines longer than a record can be without holding them. The file and its
//! compaction's temporary file are opened without following symbolic links: a link planted
//! in the directory is refused, never written through.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::record::{RUN_SCHEMA_VERSION, RunRecord};

/// The file in the state dir.
pub const FILE_NAME: &str = "runs.jsonl";

/// The longest line read; a longer one is skipped without being held.
const MAX_LINE_BYTES: usize = 1 << 20;

/// Options of every open of a file of the state dir: a symbolic link is refused (ELOOP).
fn without_following_links() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.custom_flags(libc::O_NOFOLLOW);
    options
}

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
        if self.source.raw_os_error() == Some(libc::ELOOP) {
            return "runs.jsonl (or its temporary file) is a symbolic link, which realitycheck never writes through: remove it, and give --state-dir a directory only this user can write";
        }
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
    if record.id == u64::MAX {
        return Err(format!("id {} leaves no id for the next run", record.id));
    }
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
    /// The records kept, oldest first: at most the history's length of each target's runs,
    /// and as many of its canaries.
    pub records: Vec<RunRecord>,
    /// Lines that did not parse and were skipped.
    pub skipped_lines: usize,
    /// The bytes of a torn last line cut off.
    pub torn_bytes: u64,
}

/// Reads one line into `line` (without its newline), holding at most [`MAX_LINE_BYTES`] of
/// it; `Ok(None)` at the end, `Ok(Some(false))` for a line too long (skipped whole), and
/// `Ok(Some(true))` for a line that ends without a newline at the end of the file.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<(bool, bool)>> {
    line.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(read_any.then_some((!too_long, false)));
        }
        read_any = true;
        let (chunk, newline) = match buffer.iter().position(|&b| b == b'\n') {
            Some(at) => (&buffer[..at], true),
            None => (buffer, false),
        };
        if !too_long && line.len() + chunk.len() <= MAX_LINE_BYTES {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let used = chunk.len() + usize::from(newline);
        reader.consume(used);
        if newline {
            return Ok(Some((!too_long, true)));
        }
    }
}

impl Store {
    /// Opens (creating it if needed) the state dir `dir` and reads the records it keeps: of
    /// each target, its last `keep` runs and its last `keep` canaries. A torn last line (no
    /// newline) is cut off, with a warning.
    pub fn open(dir: &Path, keep: usize) -> Result<(Store, Restored), StoreError> {
        let error = |action, source| StoreError { path: dir.to_path_buf(), action, source };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| error("create the directory", e))?;
        refuse_shared(dir)?;
        let path = dir.join(FILE_NAME);
        let failed = |action, source| StoreError { path: path.clone(), action, source };
        let mut restored = Restored { records: Vec::new(), skipped_lines: 0, torn_bytes: 0 };
        let mut kept: BTreeMap<(String, bool), VecDeque<(usize, RunRecord)>> = BTreeMap::new();
        let mut lines = 0;
        let mut length = 0u64;
        let mut file = without_following_links()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| failed("open for reading and writing", e))?;
        let mut reader = BufReader::new(&file);
        let mut line = Vec::new();
        let mut number = 0;
        let mut offset = 0u64;
        while let Some((held, ended)) = next_line(&mut reader, &mut line).map_err(|e| failed("read", e))? {
            number += 1;
            let start = offset;
            offset = reader.stream_position().map_err(|e| failed("read", e))?;
            if !ended {
                restored.torn_bytes = offset - start;
                tracing::warn!(file = %path.display(), line = number, bytes = restored.torn_bytes, "cutting off the torn last line of the state dir (a write that did not finish)");
                break;
            }
            length = offset;
            if held && line.trim_ascii().is_empty() {
                continue;
            }
            lines += 1;
            let parsed = if held { parse(&line) } else { Err(format!("longer than {MAX_LINE_BYTES} bytes")) };
            match parsed {
                Ok(record) => {
                    let runs = kept.entry((record.target.clone(), record.canary)).or_default();
                    runs.push_back((number, record));
                    if runs.len() > keep.max(1) {
                        runs.pop_front();
                    }
                }
                Err(why) => {
                    tracing::warn!(file = %path.display(), line = number, error = %why, "skipping a line of the state dir that does not parse");
                    restored.skipped_lines += 1;
                }
            }
        }
        drop(reader);
        if restored.torn_bytes > 0 {
            file.set_len(length).map_err(|e| failed("cut off the torn last line", e))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|e| failed("read", e))?;
        let mut in_file_order: Vec<(usize, RunRecord)> = kept.into_values().flatten().collect();
        in_file_order.sort_by_key(|(number, _)| *number);
        restored.records = in_file_order.into_iter().map(|(_, record)| record).collect();
        Ok((Store { path, lines }, restored))
    }

    /// The file records go to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record`, whole, after the last whole record (a torn tail left by a failed
    /// append is cut off first); when the file holds more than twice `kept.len()` lines,
    /// rewrites it with `kept` only (every record still in memory, the new one included).
    pub fn append(&mut self, record: &RunRecord, kept: &[&RunRecord]) -> Result<(), StoreError> {
        let error = |action, source| StoreError { path: self.path.clone(), action, source };
        let mut line = serde_json::to_vec(record).map_err(|e| error("serialise a run", io::Error::other(e)))?;
        line.push(b'\n');
        let mut file =
            without_following_links().read(true).write(true).open(&self.path).map_err(|e| error("open", e))?;
        let on_disk = file.metadata().map_err(|e| error("read the size of", e))?.len();
        let whole = whole_length(&mut file, on_disk).map_err(|e| error("read", e))?;
        if whole < on_disk {
            tracing::warn!(file = %self.path.display(), bytes = on_disk - whole, "cutting off the torn last line of the state dir before appending (a write that did not finish)");
            file.set_len(whole).map_err(|e| error("cut off the torn last line", e))?;
        }
        file.seek(SeekFrom::Start(whole)).map_err(|e| error("append a run", e))?;
        file.write_all(&line).map_err(|e| error("append a run", e))?;
        self.lines += 1;
        if self.lines > 2 * kept.len().max(1) {
            self.rewrite(kept)?;
        }
        Ok(())
    }

    /// Replaces the file by `kept`, through a new temporary file in the same directory
    /// renamed over it (never through a link planted there).
    fn rewrite(&mut self, kept: &[&RunRecord]) -> Result<(), StoreError> {
        let error = |action, source| StoreError { path: self.path.clone(), action, source };
        let temporary = self.path.with_extension("jsonl.tmp");
        let mut text = Vec::new();
        for record in kept {
            serde_json::to_writer(&mut text, record).map_err(|e| error("serialise a run", io::Error::other(e)))?;
            text.push(b'\n');
        }
        match fs::remove_file(&temporary) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(error("remove a stale temporary file", e)),
        }
        let mut file = without_following_links()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| error("create the compacted file", e))?;
        file.write_all(&text).map_err(|e| error("write the compacted file", e))?;
        fs::rename(&temporary, &self.path).map_err(|e| error("replace the file", e))?;
        self.lines = kept.len();
        Ok(())
    }
}

/// Refuses a state dir another user could plant files in, as ssh refuses such key files: one
/// writable by its group or by others, or owned by another user than this process's.
fn refuse_shared(dir: &Path) -> Result<(), StoreError> {
    let refused = |why: String| StoreError {
        path: dir.to_path_buf(),
        action: "trust the directory",
        source: io::Error::new(io::ErrorKind::PermissionDenied, why),
    };
    let metadata = fs::metadata(dir).map_err(|e| StoreError { path: dir.to_path_buf(), action: "read", source: e })?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refused(format!(
            "it is writable by other users (mode {mode:04o}): another user could plant a link or a file there; `chmod go-w {}`, or give --state-dir a directory of its own (realitycheck creates a missing one with mode 0700)",
            dir.display()
        )));
    }
    // /proc/self belongs to the process's user (Linux); elsewhere the owner is not compared.
    if let Ok(me) = fs::metadata("/proc/self").map(|m| m.uid())
        && metadata.uid() != me
    {
        return Err(refused(format!(
            "it belongs to user {}, not to this process's user {me}: give --state-dir a directory of this user",
            metadata.uid()
        )));
    }
    Ok(())
}

/// The length of `file` (of `length` bytes) up to its last newline: what is left when a torn
/// last line is cut off.
fn whole_length(file: &mut File, length: u64) -> io::Result<u64> {
    let mut end = length;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let size = usize::try_from(end - start).unwrap_or(chunk.len());
        file.seek(SeekFrom::Start(start))?;
        std::io::Read::read_exact(file, &mut chunk[..size])?;
        if let Some(at) = chunk[..size].iter().rposition(|&b| b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
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
        let (mut store, restored) = Store::open(dir.path(), 100).unwrap();
        assert!(restored.records.is_empty());
        store.append(&record(1), &[&record(1)]).unwrap();
        fs::OpenOptions::new().append(true).open(store.path()).unwrap().write_all(b"{\"truncated\n").unwrap();
        store.append(&record(2), &[&record(1), &record(2)]).unwrap();
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(restored.skipped_lines, 1);
    }

    #[test]
    fn a_line_that_is_not_utf8_or_of_another_schema_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), 100).unwrap();
        store.append(&record(1), &[&record(1)]).unwrap();
        let mut file = fs::OpenOptions::new().append(true).open(store.path()).unwrap();
        file.write_all(b"{\"id\": 7, \"target\": \"\xff\xfe\"}\n").unwrap();
        let mut foreign = serde_json::to_value(record(18_446_744_073_709_551_615)).unwrap();
        foreign["schema_version"] = "realitycheck.run/v99".into();
        file.write_all(format!("{foreign}\n").as_bytes()).unwrap();
        store.append(&record(2), &[&record(1), &record(2)]).unwrap();
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(restored.skipped_lines, 2);
    }

    #[test]
    fn a_line_written_before_records_kept_their_profile_is_a_scheduled_run() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), 100).unwrap();
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
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        let read: Vec<(u64, &str, bool)> =
            restored.records.iter().map(|r| (r.id, r.profile.as_str(), r.canary)).collect();
        assert_eq!(read, [(2, "canary", true), (1, "", false)]);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_never_swallows_the_next_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), 100).unwrap();
        store.append(&record(1), &[&record(1)]).unwrap();
        // A full disk mid-append: the line stops in the middle of a character.
        fs::OpenOptions::new()
            .append(true)
            .open(store.path())
            .unwrap()
            .write_all(b"{\"id\": 2, \"target\": \"pr\xc3")
            .unwrap();
        store.append(&record(3), &[&record(1), &record(3)]).unwrap();
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!((restored.skipped_lines, restored.torn_bytes), (0, 0));

        // A torn tail found at start is cut off there, and the file ends with a whole record.
        fs::OpenOptions::new().append(true).open(dir.path().join(FILE_NAME)).unwrap().write_all(b"{\"id\": 4").unwrap();
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.torn_bytes, 8);
        assert!(fs::read(dir.path().join(FILE_NAME)).unwrap().ends_with(b"}\n"));
    }

    #[test]
    fn a_record_whose_id_leaves_no_next_id_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), 100).unwrap();
        store.append(&record(u64::MAX), &[&record(u64::MAX)]).unwrap();
        store.append(&record(7), &[&record(7)]).unwrap();
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        assert_eq!(restored.records.iter().map(|r| r.id).collect::<Vec<_>>(), vec![7]);
        assert_eq!(restored.skipped_lines, 1);
    }

    #[test]
    fn a_symbolic_link_in_the_state_dir_is_refused_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "root:x:0:0\n").unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&victim, state.join(FILE_NAME)).unwrap();
        let error = Store::open(&state, 100).unwrap_err().to_string();
        assert!(error.contains("is a symbolic link"), "{error}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");

        // The compaction's temporary file: a link planted there is removed, not followed.
        fs::remove_file(state.join(FILE_NAME)).unwrap();
        std::os::unix::fs::symlink(&victim, state.join("runs.jsonl.tmp")).unwrap();
        let (mut store, _) = Store::open(&state, 100).unwrap();
        for id in 1..=3 {
            store.append(&record(id), &[&record(id)]).unwrap();
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        assert!(!fs::symlink_metadata(state.join(FILE_NAME)).unwrap().file_type().is_symlink());
    }

    #[test]
    fn a_state_dir_other_users_can_write_is_refused_and_a_new_one_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
        let error = Store::open(&shared, 100).unwrap_err().to_string();
        assert!(error.contains("writable by other users (mode 0777)") && error.contains("chmod go-w"), "{error}");
        assert!(!shared.join(FILE_NAME).exists(), "nothing was written there");

        let fresh = dir.path().join("new/state");
        Store::open(&fresh, 100).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn only_what_the_history_keeps_is_read_whatever_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = Vec::new();
        for id in 1..=600u64 {
            let mut run = record(id);
            run.target = ["prod", "staging", "dev"][(id % 3) as usize].into();
            run.canary = id % 2 == 0;
            serde_json::to_writer(&mut text, &run).unwrap();
            text.push(b'\n');
        }
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        text.push(b'\n');
        fs::write(dir.path().join(FILE_NAME), &text).unwrap();
        let (_, restored) = Store::open(dir.path(), 10).unwrap();
        assert_eq!(restored.records.len(), 60, "10 runs and 10 canaries of each of 3 targets");
        assert_eq!(restored.records.last().map(|r| r.id), Some(600));
        assert!(restored.records.windows(2).all(|pair| pair[0].id < pair[1].id), "in the file's order");
        assert_eq!(restored.skipped_lines, 1, "the line too long to be a record");
    }

    #[test]
    fn the_file_is_compacted_to_the_kept_runs() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path(), 100).unwrap();
        for id in 1..=5u64 {
            let kept: Vec<RunRecord> = (id.saturating_sub(1).max(1)..=id).map(record).collect();
            store.append(&record(id), &kept.iter().collect::<Vec<_>>()).unwrap();
        }
        let (_, restored) = Store::open(dir.path(), 100).unwrap();
        let ids: Vec<u64> = restored.records.iter().map(|r| r.id).collect();
        assert!(ids.len() <= 4, "at most twice the two kept runs: {ids:?}");
        assert_eq!(ids.last(), Some(&5));
    }

    #[test]
    fn an_unwritable_state_dir_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "x").unwrap();
        let error = Store::open(&file, 100).unwrap_err().to_string();
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
