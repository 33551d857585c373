//! Report files: what every file reporter does (remember the run, render at its end) and
//! writing the file. A regular file (or a new one) is written atomically: the content goes to
//! a temporary file in the target's directory (created when missing), which is then renamed
//! over the target, so a reader never sees a half-written report and an earlier report
//! survives a failed write. A symlink is followed and its target written the same way (the
//! link stays); a device, FIFO or socket (`--junit /dev/null`, a pipe to an uploader) is
//! written through, never replaced.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use harness::{Event, RunInfo, RunSummary};

use crate::{ReportError, run};

/// A report file written when the run finishes, from the run's info and summary.
#[derive(Debug)]
pub(crate) struct ReportFile {
    path: PathBuf,
    /// `JUnit` or `JSON`, for errors.
    format: &'static str,
    run: Option<RunInfo>,
}

impl ReportFile {
    pub(crate) fn new(path: PathBuf, format: &'static str) -> Self {
        ReportFile { path, format, run: None }
    }

    /// Remembers the run; at its end renders the report with `render` and writes it.
    pub(crate) fn handle(
        &mut self,
        event: &Event,
        render: impl FnOnce(&RunInfo, &RunSummary) -> Result<Vec<u8>, ReportError>,
    ) -> Result<(), ReportError> {
        match event {
            Event::RunStarted { info, .. } => self.run = Some(info.clone()),
            Event::RunFinished(summary) => {
                let info = self.run.clone().unwrap_or_else(run::unknown_run);
                write_atomically(&self.path, self.format, &render(&info, summary)?)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Writes `contents` to `path` as every report file is written (atomically, its directory
/// created, a symlink followed, a device or FIFO written through); `format` names the report
/// in the error, which says what to do.
pub fn write_atomically(path: &Path, format: &'static str, contents: &[u8]) -> Result<(), ReportError> {
    replace(path, contents).map_err(|source| ReportError::WriteFile { format, path: path.to_path_buf(), source })
}

/// How many symlinks are followed before giving up (as the kernel's `ELOOP`).
const MAX_SYMLINKS: usize = 40;

/// The file `path` names once its symlinks are followed (the link's target when it dangles).
pub(crate) fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = std::fs::read_link(&path)?;
                path = match path.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::other(format!("more than {MAX_SYMLINKS} symlinks in a row")))
}

fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let path = &resolve(path)?;
    if path.file_name().is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"));
    }
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "the path is a directory"));
        }
        Ok(metadata) if !metadata.is_file() => {
            return std::fs::OpenOptions::new().write(true).open(path)?.write_all(contents);
        }
        _ => {}
    }
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(directory)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".realitycheck-report");
    // Readable like any file the user writes (tempfile's default is owner-only), so that a
    // CI artifact uploader running as another user can read the report.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut temporary = builder.tempfile_in(directory)?;
    temporary.write_all(contents)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_directories_and_replaces_the_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("nested/dir/report.json");
        write_atomically(&path, "JSON", b"first").unwrap();
        write_atomically(&path, "JSON", b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o044, 0o044, "group and others can read the report: {mode:o}");
        }
    }

    #[test]
    fn an_unwritable_path_names_the_path_and_what_to_do() {
        let root = tempfile::tempdir().unwrap();
        let blocker = root.path().join("not-a-directory");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("report.xml");
        let error = write_atomically(&path, "JUnit", b"<x/>").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("cannot write the JUnit report to {}: ", path.display())), "{message}");
        assert!(message.contains("choose") || message.contains("check"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("reports/real.json");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::fs::write(&real, "old").unwrap();
        let link = root.path().join("link.json");
        std::os::unix::fs::symlink("reports/real.json", &link).unwrap();
        write_atomically(&link, "JSON", b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let root = tempfile::tempdir().unwrap();
        let fifo = root.path().join("report.xml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, "JUnit", b"<testsuites/>").unwrap();
        assert_eq!(reader.join().unwrap(), "<testsuites/>");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still a FIFO");
        let null = Path::new("/dev/null");
        write_atomically(null, "JSON", b"{}").unwrap();
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device(), "/dev/null is still a device");
    }

    #[test]
    fn a_directory_is_not_a_report_path() {
        let root = tempfile::tempdir().unwrap();
        let error = write_atomically(root.path(), "JSON", b"{}").unwrap_err();
        assert!(matches!(error, ReportError::WriteFile { .. }), "{error}");
        let error = write_atomically(Path::new("/"), "JSON", b"{}").unwrap_err();
        assert!(error.to_string().contains("does not name a file"), "{error}");
    }
}
