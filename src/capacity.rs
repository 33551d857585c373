//! `realitycheck capacity`: triggers the project's capacity workload on the target, measures it
//! (`suites::capacity`), judges it (`capacity::judge`), prints the terminal report and writes
//! the JSON report, the SVG picture beside it and the JUnit report; Ctrl-C cancels the workload.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use capacity::{Measurement, Report, TerminalOptions, Thresholds};
use harness::CancellationToken;
use realitycheck_config::Settings;
use realitycheck_project::{CapacityExecutor, CapacityWorkload};
use suites::capacity::{Limits, Progress};

use crate::cli::{CapacityArgs, ColorChoice, ExecutorChoice, WorkloadArgs};
use crate::exit::{self, AppError};
use crate::run::shutdown_signal;
use crate::wiring;

/// Where the reports of a measurement go.
pub struct CapacityReports {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
}

pub async fn capacity(args: CapacityArgs, color: ColorChoice) -> Result<ExitCode, AppError> {
    let settings = wiring::load_settings(&args.config)?;
    let reports = CapacityReports { json: args.json, junit: args.junit };
    measure(&settings, &args.workload, &reports, color).await
}

/// The workload `args` ask for; `--jobs` is required.
fn workload(args: &WorkloadArgs) -> Result<CapacityWorkload, AppError> {
    let containers = args.jobs.ok_or_else(|| {
        AppError::Usage("capacity needs --jobs N: how many containers to run at once (like --jobs 20)".into())
    })?;
    Ok(CapacityWorkload {
        executor: match args.executor {
            ExecutorChoice::Docker => CapacityExecutor::Docker,
            ExecutorChoice::Machine => CapacityExecutor::Machine,
        },
        containers,
        resource_class: args.resource_class.clone(),
        hold_seconds: args.hold,
    })
}

/// Measures the workload `args` ask for on the settings' target and reports it; the exit code
/// says whether every judged measure passed.
pub async fn measure(
    settings: &Settings,
    args: &WorkloadArgs,
    reports: &CapacityReports,
    color: ColorChoice,
) -> Result<ExitCode, AppError> {
    let workload = workload(args)?;
    for (flag, path) in [("--json", &reports.json), ("--junit", &reports.junit)] {
        if let Some(path) = path {
            wiring::prepare_report_path(flag, path)?;
        }
    }
    let profile = &settings.profile;
    let timeouts = profile.scaled_timeouts();
    let limits = Limits::new(timeouts.api, timeouts.cluster, profile.scaled_deadline());
    let cancel = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(cancel.clone()));
    let live = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut progress = |progress: &Progress| {
        if live {
            let clients = progress.clients.map(|c| format!(" · {c} clients")).unwrap_or_default();
            eprint!(
                "\r\x1b[2K{} waiting · {} running · {} done{clients} · {}s",
                progress.waiting,
                progress.running,
                progress.done,
                progress.elapsed.as_secs()
            );
        }
    };
    eprintln!(
        "capacity: {} × {} on {} holding {}s, target {}",
        workload.containers,
        workload.resource_class,
        workload.executor.as_str(),
        workload.hold_seconds,
        settings.target.name
    );
    let outcome = suites::capacity::measure(&settings.target, &workload, &limits, &cancel, &mut progress).await;
    signals.abort();
    if live {
        eprint!("\r\x1b[2K");
    }
    let measurement = outcome?;
    let thresholds = Thresholds { max_wait_p95: settings.target.capacity.max_wait_p95 };
    report(measurement, &thresholds, reports, color)
}

/// Prints and writes the reports of `measurement`, and says how it ended.
fn report(
    measurement: Measurement,
    thresholds: &Thresholds,
    reports: &CapacityReports,
    color: ColorChoice,
) -> Result<ExitCode, AppError> {
    let interrupted = matches!(measurement.ending, capacity::Ending::Interrupted { .. });
    let report = Report::new(measurement, *thresholds);
    let stdout = std::io::stdout();
    let color = color.enabled(stdout.is_terminal());
    let mut out = stdout.lock();
    // Whoever reads stdout may have gone (`| head`); the files still get written.
    let _ = out.write_all(report.terminal(TerminalOptions { color, width: None }).as_bytes());
    let _ = out.flush();
    if let Some(path) = &reports.json {
        report.write_json(path)?;
        let svg = path.with_extension("svg");
        report.write_svg(&svg)?;
        eprintln!("wrote {} and {}", path.display(), svg.display());
    }
    if let Some(path) = &reports.junit {
        report.write_junit(path)?;
    }
    for note in &report.measurement.notes {
        eprintln!("note: {note}");
    }
    Ok(ExitCode::from(if interrupted {
        exit::INTERRUPTED
    } else if report.passed() {
        exit::PASSED
    } else {
        exit::FAILED
    }))
}

/// The first Ctrl-C or SIGTERM cancels the measurement (its workflow is cancelled, the reports
/// written); a second one exits at once.
async fn cancel_on_signal(cancel: CancellationToken) {
    shutdown_signal().await;
    cancel.cancel();
    shutdown_signal().await;
    eprintln!(
        "interrupted again: exiting at once, without the reports; cancel the capacity workflow in the CircleCI UI"
    );
    std::process::exit(i32::from(exit::INTERRUPTED));
}
