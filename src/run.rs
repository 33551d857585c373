//! `realitycheck run` and `list`: check an installation, or say what would be checked.

use std::process::ExitCode;
use std::sync::Arc;

use harness::{CancellationToken, Disposition, EventSink, Plan, RunOptions};
use reports::ReportError;

use crate::cli::{ColorChoice, ListArgs, ReportArgs, RunArgs, SelectionArgs};
use crate::exit::{self, AppError};
use crate::wiring;

pub async fn run(args: RunArgs, color: ColorChoice) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let selection = wiring::selection(&args.selection, &settings);
    let options = wiring::run_options(&settings, selection);
    let context = wiring::context(&settings, args.setup_contexts)?;
    execute(&suites::plan(&settings.target), context, options, &args.selection, &args.reports, color).await
}

pub fn list(args: ListArgs) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let selection = wiring::selection(&SelectionArgs::default(), &settings);
    print_list(&suites::plan(&settings.target), &*wiring::context(&settings, false)?, &selection);
    Ok(ExitCode::SUCCESS)
}

/// Lists the checks selection keeps: ID, kind, tags, and why it would be skipped.
fn print_list<C: Send + Sync + 'static>(plan: &Plan<C>, ctx: &C, selection: &harness::Selection) {
    let selected = plan.select(ctx, selection);
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

/// Runs `plan` with reporters attached and Ctrl-C / SIGTERM wired to cancellation; the
/// reports are complete whatever happens, the workflows the run leaves unfinished are
/// cancelled, and the exit code follows the run's status.
pub async fn execute(
    plan: &Plan<suites::Context>,
    ctx: Arc<suites::Context>,
    options: RunOptions,
    selection_args: &SelectionArgs,
    report_args: &ReportArgs,
    color: ColorChoice,
) -> Result<ExitCode, AppError> {
    if selection_args.list {
        print_list(plan, &ctx, &options.selection);
        return Ok(ExitCode::SUCCESS);
    }
    wiring::prepare_report_paths(report_args)?;
    let mut reporters = wiring::reporters(report_args, color);
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
    let selected = plan.select(&ctx, &options.selection);
    ctx.select_checks(
        selected.iter().filter(|(_, d)| *d == Disposition::Run).map(|(check, _)| check.spec.id.clone()).collect(),
    );
    let cancel = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(cancel.clone()));
    let summary = plan.run(Arc::clone(&ctx), &options, &sink, cancel).await;
    signals.abort();
    for line in ctx.finish().await {
        eprintln!("note: {line}");
    }
    drop(sink);
    let report_errors = consumer.await.map_err(|e| AppError::Usage(format!("the report writer stopped: {e}")))?;
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
    // A lost report must not pass for a green run; a red one keeps its own code.
    if !report_errors.is_empty() && summary.status == harness::RunStatus::Passed {
        return Ok(ExitCode::from(exit::USAGE));
    }
    Ok(exit::for_status(summary.status))
}

async fn cancel_on_signal(cancel: CancellationToken) {
    shutdown_signal().await;
    cancel.cancel();
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
