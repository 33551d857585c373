//! `realitycheck serve`: every configured target (or the one `--target` names) checked on a
//! schedule with the `health` profile unless told otherwise, and its canary (the `canary`
//! profile's job checks, which trigger a pipeline) every `serve.canary_every` unless that is
//! `off`, over realitycheck-serve's scheduler and HTTP interface. The first SIGTERM or Ctrl-C stops it cleanly: the runs going
//! on are cancelled (their workflows too), recorded and kept in the state dir, and the
//! process exits 0; a second one exits at once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use harness::{CancellationToken, Disposition, Run, Tag};
use realitycheck_config::{Config, Origin, ServeSettings};
use realitycheck_serve::http::Limits;
use realitycheck_serve::{Canary, Schedule, ServiceParts, Store, Watch, Webhook, WebhookFormat};

use crate::cli::{SelectionArgs, ServeArgs};
use crate::exit::{self, AppError};
use crate::run::shutdown_signal;
use crate::wiring;

/// How long one webhook POST may take, and the pauses before its retries.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const WEBHOOK_BACKOFF: [Duration; 3] = [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(25)];

/// The built-in profile of the canary (`[profiles.canary]`, which a file may change).
const CANARY_PROFILE: &str = "canary";

pub async fn serve(args: ServeArgs) -> Result<ExitCode, AppError> {
    let config = wiring::load_config(&args.config)?;
    let settings = config.serve()?;
    let profile = config.profile(&settings.profile)?;
    if !profile.exclude_tags.contains(&Tag::Mutates) {
        eprintln!(
            "note: profile `{}` runs checks that change the installation (pipelines, contexts) at every run; the `health` profile does not",
            profile.name
        );
    }
    if profile.collect {
        eprintln!(
            "note: profile `{}` collects evidence bundles; serve writes none (its runs' diagnoses are in /api/v1/runs/{{id}}); `realitycheck run --collect DIR` writes one",
            profile.name
        );
    }
    // One target when the flags or the environment choose it; the file's default_target is
    // `run`'s choice, not a reason to watch only one.
    let targets = match config.target_choice()? {
        Some((name, Origin::Flag(_) | Origin::Env(_))) => vec![name],
        _ => config.target_names(),
    };
    let mut watches = Vec::new();
    for target in &targets {
        let run = scheduled_run(&config, target, &profile.name)?;
        let canary = match settings.canary_every {
            Some(every) => canary(&config, target, every)?,
            None => None,
        };
        watches.push(Watch { run, canary });
    }
    let canaries: Vec<&str> =
        watches.iter().filter(|watch| watch.canary.is_some()).map(|watch| target_of(&watch.run)).collect();
    if let (Some(every), false) = (settings.canary_every, canaries.is_empty()) {
        eprintln!(
            "note: the canary (profile {CANARY_PROFILE}) triggers a pipeline of the realitycheck project on {} every {}, unlike the health checks, which change nothing; serve.canary_every = \"off\" (or --canary-every off) turns it off",
            canaries.join(", "),
            harness::humanize(every)
        );
    }
    let parts = parts(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(AppError::io(format!("cannot listen on {} (serve.listen, --listen)", settings.listen)))?;
    let address = listener.local_addr().map_err(AppError::io("cannot read the listening address".into()))?;
    warn_if_open(address, &settings, &config);

    let shutdown = CancellationToken::new();
    let names: Vec<String> = watches.iter().map(|watch| target_of(&watch.run).to_string()).collect();
    let canary_note = match (settings.canary_every, canaries.len()) {
        (None, _) => "; no canary (serve.canary_every is off)".to_string(),
        (Some(_), 0) => "; no canary (no target can run its jobs)".to_string(),
        (Some(every), count) if count == names.len() => format!("; canary every {}", harness::humanize(every)),
        (Some(every), _) => format!("; canary every {} on {}", harness::humanize(every), canaries.join(", ")),
    };
    let schedule = Schedule::every(settings.every, settings.history);
    let (service, loops) =
        realitycheck_serve::start(watches, schedule, env!("CARGO_PKG_VERSION"), parts, shutdown.clone());
    // Said before the line that says it serves, which whoever waits for serve reads last.
    let limits = Limits::of_process();
    eprintln!(
        "serve holds at most {} connections at once (under the open files limit) and closes one that sends no request header within {}",
        limits.max_connections,
        harness::humanize(limits.header_read_timeout)
    );
    eprintln!(
        "serving http://{address}/ (metrics at /metrics): {} target{} ({}), profile {}, every {}{canary_note}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        profile.name,
        harness::humanize(settings.every)
    );
    let signals = tokio::spawn(stop_on_signal(shutdown.clone()));
    let served = realitycheck_serve::http::serve(listener, service, shutdown.clone(), limits).await;
    // The server ends only at shutdown, or when it fails: then the loops stop too.
    shutdown.cancel();
    loops.await.map_err(|e| {
        AppError::Usage(format!(
            "the scheduler stopped abnormally ({e}); this is a bug in realitycheck: please report it"
        ))
    })?;
    signals.abort();
    served.map_err(AppError::io(format!("the HTTP server on {address} failed")))?;
    eprintln!("stopped: the runs going on were cancelled and recorded");
    Ok(ExitCode::SUCCESS)
}

/// The run of `target` with the scheduled profile `profile`.
fn scheduled_run(config: &Config, target: &str, profile: &str) -> Result<Run<suites::RealityCheck>, AppError> {
    let settings = config.settings_of(target, profile)?;
    let options = wiring::run_options(&settings, wiring::selection(&SelectionArgs::default(), &settings));
    wiring::run(wiring::suite(&settings, false)?, options, &settings)
}

/// The canary of `target`, every `every`: a run of the canary profile, whose jobs may wait the
/// target's `capacity.max_wait_p95`. `None`, said on stderr, when none of its checks can run
/// on the target (no project, no host): it would only ever skip them.
fn canary(config: &Config, target: &str, every: Duration) -> Result<Option<Canary<suites::RealityCheck>>, AppError> {
    let settings = config.settings_of(target, CANARY_PROFILE)?;
    let options = wiring::run_options(&settings, wiring::selection(&SelectionArgs::default(), &settings));
    // The suite as `wiring::suite` makes it, without its warnings, which the scheduled run's
    // suite of the same target has printed.
    let run = wiring::run(suites::RealityCheck::new(settings.target.clone(), false), options, &settings)?;
    let nothing_runs = {
        let selected = run.select();
        let skips: Vec<String> = selected
            .iter()
            .filter_map(|(check, disposition)| match disposition {
                Disposition::Skip(reason) => Some(format!("{} ({reason})", check.spec.id)),
                Disposition::Run => None,
            })
            .collect();
        (skips.len() == selected.len())
            .then(|| if skips.is_empty() { "it selects no check".into() } else { skips.join("; ") })
    };
    if let Some(why) = nothing_runs {
        eprintln!("note: target `{target}` has no canary: {why}");
        return Ok(None);
    }
    Ok(Some(Canary { run, every, max_wait: settings.target.capacity.max_wait_p95 }))
}

/// The name of the target `run` checks.
fn target_of<S: harness::Suite>(run: &Run<S>) -> &str {
    &run.options().info.target
}

/// The state dir (opened, its records read), the webhook, the API token.
fn parts(settings: &ServeSettings) -> Result<ServiceParts, AppError> {
    let store = match &settings.state_dir {
        Some(dir) => {
            let (store, restored) = Store::open(dir, settings.history).map_err(|e| AppError::Usage(e.to_string()))?;
            if restored.skipped_lines > 0 {
                eprintln!(
                    "warning: {} line(s) of {} did not parse and were skipped",
                    restored.skipped_lines,
                    store.path().display()
                );
            }
            Some((store, restored.records))
        }
        None => None,
    };
    let webhook = match &settings.webhook {
        Some(url) => {
            let format = WebhookFormat::parse(&settings.webhook_format).ok_or_else(|| {
                AppError::Usage(format!(
                    "serve.webhook_format `{}` is no format of the webhook; this is a bug in realitycheck: please report it",
                    settings.webhook_format
                ))
            })?;
            Some(
                Webhook::new(url.clone(), format, WEBHOOK_TIMEOUT, WEBHOOK_BACKOFF.to_vec())
                    .map_err(|e| {
                        AppError::Usage(format!(
                            "cannot make the HTTP client of the webhook (serve.webhook, --webhook): {e}; check the system's TLS setup, or leave the webhook out"
                        ))
                    })?,
            )
        }
        None => None,
    };
    Ok(ServiceParts { store, webhook, api_token: settings.api_token.clone() })
}

/// Says so when serve listens off loopback without an API token: it then refuses to start runs
/// on request (`POST /api/v1/runs`), and serves only its page, API reads and metrics.
fn warn_if_open(address: SocketAddr, settings: &ServeSettings, config: &Config) {
    if !address.ip().is_loopback() && settings.api_token.is_none() {
        let file = config.config_file().map(|f| format!(" in {}", f.display())).unwrap_or_default();
        eprintln!(
            "note: listening on {address} (not loopback) without an API token: POST /api/v1/runs is refused (403); the page, the API's reads and /metrics are served; set serve.api_token_file{file} or --api-token-file to start runs on request"
        );
    }
}

/// The first signal stops `serve` cleanly; a second exits at once.
async fn stop_on_signal(shutdown: CancellationToken) {
    shutdown_signal().await;
    eprintln!("stopping: cancelling the runs going on (a second signal exits at once)");
    shutdown.cancel();
    shutdown_signal().await;
    eprintln!("interrupted again: exiting at once; workflows a run started may still run");
    std::process::exit(i32::from(exit::INTERRUPTED));
}

#[cfg(test)]
mod tests {
    use realitycheck_config::setting;

    use super::*;

    #[test]
    fn every_format_the_configuration_takes_is_a_format_of_the_webhook() {
        let names: Vec<&str> = WebhookFormat::ALL.iter().map(|format| format.as_str()).collect();
        assert_eq!(names, setting::WEBHOOK_FORMATS);
        for name in setting::WEBHOOK_FORMATS {
            assert_eq!(WebhookFormat::parse(name).map(WebhookFormat::as_str), Some(*name));
        }
    }
}
