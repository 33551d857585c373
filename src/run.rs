//! `realitycheck run`, `upgrade-check` and `list`: check an installation, or whether it may be
//! upgraded, or say what would be checked.

use std::process::ExitCode;

use harness::{CancellationToken, Disposition, EventSink, Run, RunOptions, Suite};
use realitycheck_config::Settings;
use reports::{Mark, ReportError};

use crate::cli::{ColorChoice, ListArgs, ReportArgs, RunArgs, SelectionArgs, UpgradeCheckArgs};
use crate::collect::{self, Collect};
use crate::exit::{self, AppError};
use crate::wiring::{self, Comparing};

pub async fn run(args: RunArgs, color: ColorChoice) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let comparing = wiring::comparing(&args.baseline)?;
    let (options, collect) = options(&settings, &args.selection, &args.reports)?;
    let run = wiring::run(wiring::suite(&settings, args.setup_contexts)?, options, &settings)?;
    execute(&run, &args.selection, &args.reports, comparing.as_ref(), collect, color).await
}

pub async fn upgrade_check(args: UpgradeCheckArgs, color: ColorChoice) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let (options, collect) = options(&settings, &args.selection, &args.reports)?;
    let run = wiring::run(wiring::upgrade_suite(&settings, args.to.as_deref())?, options, &settings)?;
    execute(&run, &args.selection, &args.reports, None, collect, color).await
}

/// The options of a run of `settings` with `selection`, and the evidence bundle `reports` and
/// the profile ask for.
fn options(
    settings: &Settings,
    selection: &SelectionArgs,
    reports: &ReportArgs,
) -> Result<(RunOptions, Option<Collect>), AppError> {
    let collect = Collect::request(reports, settings)?;
    let mut options = wiring::run_options(settings, wiring::selection(selection, settings));
    options.collect = collect.is_some();
    Ok((options, collect))
}

pub fn list(args: ListArgs) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let options = wiring::run_options(&settings, wiring::selection(&SelectionArgs::default(), &settings));
    print_list(&wiring::run(wiring::suite(&settings, false)?, options, &settings)?);
    Ok(ExitCode::SUCCESS)
}

/// Lists the checks selection keeps: ID, kind, tags, and why it would be skipped.
fn print_list<S: Suite>(run: &Run<S>) {
    let selected = run.select();
    let width = selected.iter().map(|(c, _)| c.spec.id.len()).max().unwrap_or(0);
    for (check, disposition) in &selected {
        let tags: Vec<&str> = check.spec.tags.iter().map(|t| t.as_str()).collect();
        let note = match disposition {
            Disposition::Run => String::new(),
            Disposition::Skip(reason) => format!("  (ignored: {reason})"),
        };
        println!(
            "{:width$}  {:8}  {:30}  {}{note}",
            check.spec.id,
            check.spec.kind.as_str(),
            tags.join(","),
            check.spec.summary
        );
    }
    println!("\n{} checks", selected.len());
}

/// Starts `run` with reporters attached and Ctrl-C / SIGTERM wired to cancellation; the
/// reports are complete whatever happens (compared with the baseline `comparing` names), and
/// the exit code follows the run's status (and, with `--fail-on-new-red-only`, the
/// comparison). What the suite did when the run ended (workflows cancelled) goes to stderr; so
/// does the path of the evidence bundle `collect` asks for, written when a check is red.
pub async fn execute<S: Suite>(
    run: &Run<S>,
    selection_args: &SelectionArgs,
    report_args: &ReportArgs,
    comparing: Option<&Comparing>,
    collect: Option<Collect>,
    color: ColorChoice,
) -> Result<ExitCode, AppError>
where
    AppError: From<S::Error>,
{
    if selection_args.list {
        print_list(run);
        return Ok(ExitCode::SUCCESS);
    }
    wiring::prepare_report_paths(report_args)?;
    let baseline = comparing.map(|comparing| &comparing.baseline);
    let mut reporters = wiring::reporters(report_args, color, baseline);
    reporters.extend(collect.iter().flat_map(|collect| collect.reporters(baseline)));
    let (sink, mut events) = EventSink::channel();
    let consumer = tokio::spawn(async move {
        let mut errors = Vec::new();
        while let Some(event) = events.recv().await {
            for reporter in &mut reporters {
                match reporter.handle(&event) {
                    Ok(()) => {}
                    // Whoever reads stdout went away (`| head`); the files still get written.
                    Err(ReportError::Terminal(error)) => tracing::debug!(%error, "stdout closed"),
                    Err(error) => errors.push(error),
                }
            }
        }
        errors
    });
    let cancel = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(cancel.clone(), run.suite()));
    let outcome = run.execute(&sink, cancel).await;
    signals.abort();
    drop(sink);
    let report_errors = consumer.await.map_err(|e| AppError::Usage(format!("the report writer stopped: {e}")))?;
    let report = outcome?;
    for line in &report.finish_notes {
        eprintln!("note: {line}");
    }
    let summary = report.summary;
    let options = run.options();
    let mut report_errors = report_errors;
    if let (Some(collect), Some(evidence)) = (&collect, report.evidence) {
        let notes = evidence.notes.clone();
        match collect.write(&options.info, &summary, evidence) {
            Ok(bundle) => {
                for note in &notes {
                    eprintln!("note: evidence: {note}");
                }
                for cut in &bundle.cuts {
                    eprintln!("note: evidence cut to keep the bundle within its limits: {cut}");
                }
                eprintln!(
                    "evidence: {} ({} files, {} uncompressed; manifest.json says what each file is and which red checks it supports)",
                    bundle.path.display(),
                    bundle.files,
                    collect::size(bundle.bytes)
                );
            }
            Err(error) => report_errors.push(error),
        }
    }
    if summary.status == harness::RunStatus::NothingSelected {
        let excluded: Vec<&str> = options.selection.excluded_tags.iter().map(|t| t.as_str()).collect();
        let profile_note = match excluded.as_slice() {
            [] => String::new(),
            tags => format!(" (profile {} leaves out checks tagged {})", options.info.profile, tags.join(", ")),
        };
        eprintln!("error: no check matches the filter{profile_note}; `realitycheck list` shows the check IDs");
    }
    for error in &report_errors {
        eprintln!("error: {error}");
    }
    let only_new_reds = comparing.filter(|comparing| comparing.fail_on_new_red_only);
    let comparison = only_new_reds.map(|comparing| comparing.baseline.compare(&summary.results));
    let code = exit::for_run(summary.status, comparison.as_ref().map(|comparison| comparison.count(Mark::NewRed)));
    // A lost report must not pass for a green run; a red one keeps its own code.
    if !report_errors.is_empty() && code == exit::PASSED {
        return Ok(ExitCode::from(exit::USAGE));
    }
    if let Some(comparison) = &comparison
        && summary.status == harness::RunStatus::Failed
        && code == exit::PASSED
    {
        let still_red = comparison.count(Mark::StillRed);
        eprintln!(
            "note: {still_red} {} still red (red in the baseline {} too) and none newly red: exit 0 (--fail-on-new-red-only)",
            if still_red == 1 { "check is" } else { "checks are" },
            comparison.baseline().file()
        );
    }
    Ok(ExitCode::from(code))
}

/// The first Ctrl-C or SIGTERM cancels the run (reports are written, what the run started is
/// cancelled within a short grace); a second one exits at once, saying what may still run.
async fn cancel_on_signal<S: Suite>(cancel: CancellationToken, suite: std::sync::Arc<S>) {
    shutdown_signal().await;
    cancel.cancel();
    shutdown_signal().await;
    eprintln!("interrupted again: exiting at once, without the reports and without cancelling what the run started");
    for line in suite.left_running() {
        eprintln!("note: {line}; cancel it in the CircleCI UI");
    }
    std::process::exit(i32::from(exit::INTERRUPTED));
}

/// Returns when the process gets Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
