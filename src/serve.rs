//! `realitycheck serve`: every configured target (or the one `--target` names) checked on a
//! schedule with the `health` profile unless told otherwise, over realitycheck-serve's
//! scheduler and HTTP interface. The first SIGTERM or Ctrl-C stops it cleanly: the runs going
//! on are cancelled (their workflows too), recorded and kept in the state dir, and the
//! process exits 0; a second one exits at once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use harness::{CancellationToken, Run, Tag};
use realitycheck_config::{Config, Origin, ServeSettings};
use realitycheck_serve::{Schedule, ServiceParts, Store, Webhook, WebhookFormat};

use crate::cli::{SelectionArgs, ServeArgs};
use crate::exit::{self, AppError};
use crate::run::shutdown_signal;
use crate::wiring;

/// How long one webhook POST may take, and the pauses before its retries.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const WEBHOOK_BACKOFF: [Duration; 3] = [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(25)];

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
    let mut runs = Vec::new();
    for target in targets {
        let settings = config.settings_of(&target, &profile.name)?;
        let options = wiring::run_options(&settings, wiring::selection(&SelectionArgs::default(), &settings));
        runs.push(Run::new(wiring::suite(&settings, false)?, options));
    }
    let parts = parts(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(AppError::io(format!("cannot listen on {} (serve.listen, --listen)", settings.listen)))?;
    let address = listener.local_addr().map_err(AppError::io("cannot read the listening address".into()))?;
    warn_if_open(address, &settings, &config);

    let shutdown = CancellationToken::new();
    let names: Vec<String> = runs.iter().map(|run| run.options().info.target.clone()).collect();
    let schedule = Schedule::every(settings.every, settings.history);
    let (service, loops) =
        realitycheck_serve::start(runs, schedule, env!("CARGO_PKG_VERSION"), parts, shutdown.clone());
    eprintln!(
        "serving http://{address}/ (metrics at /metrics): {} target{} ({}), profile {}, every {}",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        profile.name,
        harness::humanize(settings.every)
    );
    let signals = tokio::spawn(stop_on_signal(shutdown.clone()));
    let served = realitycheck_serve::http::serve(listener, service, shutdown.clone()).await;
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

/// The state dir (opened, its records read), the webhook, the API token.
fn parts(settings: &ServeSettings) -> Result<ServiceParts, AppError> {
    let store = match &settings.state_dir {
        Some(dir) => {
            let (store, restored) = Store::open(dir).map_err(|e| AppError::Usage(e.to_string()))?;
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

/// Says so when anyone on the network may start runs.
fn warn_if_open(address: SocketAddr, settings: &ServeSettings, config: &Config) {
    if !address.ip().is_loopback() && settings.api_token_file.is_none() {
        let file = config.config_file().map(|f| format!(" in {}", f.display())).unwrap_or_default();
        eprintln!(
            "warning: listening on {address} without an API token: anyone who reaches it can start runs (POST /api/v1/runs); set serve.api_token_file{file} or --api-token-file"
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
