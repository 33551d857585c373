//! `realitycheck config check`: loads and validates the configuration as `run` does (every
//! value, the token, the CA bundle), for the chosen target and profile, else for every one,
//! and prints the effective settings with where each came from: a file and line, an
//! environment variable, a flag, or the built-in defaults. The token is shown only as set or
//! unset, with the variable or file it comes from; then what `serve` would do (`[serve]`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use realitycheck_config::{
    Config, Origin, Profile, Secret, ServeSettings, Target, TokenSource, display_host, redacted_url,
};
use suites::clients::circleci::{ApiClient, ApiSettings, RetryPolicy};

use crate::cli::ConfigCheckArgs;
use crate::exit::AppError;
use crate::wiring;

pub fn check(args: &ConfigCheckArgs) -> Result<ExitCode, AppError> {
    let config = wiring::load_config(args.config.config.as_deref(), wiring::overrides(&args.config))?;
    let run_target = config.target_choice()?;
    let (run_profile, profile_choice) = config.profile_choice()?;
    let chosen_by_hand = |origin: &Origin| matches!(origin, Origin::Flag(_) | Origin::Env(_));
    let target_names = match &run_target {
        Some((name, origin)) if chosen_by_hand(origin) => vec![name.clone()],
        _ => config.target_names(),
    };
    let profile_names =
        if chosen_by_hand(&profile_choice) { vec![run_profile.clone()] } else { config.profile_names() };
    // Everything is validated before anything is printed: an error is the whole answer.
    let mut targets = Vec::new();
    for name in &target_names {
        let target = config.target(name)?;
        let token = config.token_source(name)?;
        api_client_builds(&target)?;
        targets.push((target, token));
    }
    let profiles = profile_names.iter().map(|name| config.profile(name)).collect::<Result<Vec<_>, _>>()?;
    let serve = config.serve()?;

    let mut out = String::new();
    out.push_str(&match config.config_file() {
        Some(path) => format!("configuration: {}\n", path.display()),
        None => "configuration: no file (built-in defaults, environment and flags)\n".to_string(),
    });
    for (target, token) in &targets {
        let chosen = match &run_target {
            Some((name, origin)) if *name == target.name => format!("  (run checks it: {})", choice(origin, "target")),
            _ => String::new(),
        };
        out.push_str(&format!("\ntarget {}{chosen}\n", target.name));
        out.push_str(&table(&target_rows(&config, target, token.as_ref())));
    }
    if run_target.is_none() {
        out.push_str(&format!(
            "\nrun: {} targets and none chosen: `realitycheck run` needs --target NAME (or REALITYCHECK_TARGET, or default_target); serve checks them all\n",
            targets.len()
        ));
    }
    for profile in &profiles {
        let chosen = if profile.name == run_profile {
            format!("  (run uses it: {})", choice(&profile_choice, "profile"))
        } else {
            String::new()
        };
        out.push_str(&format!("\nprofile {}{chosen}\n", profile.name));
        out.push_str(&table(&profile_rows(&config, profile)));
    }
    out.push_str(&serve_line(&serve));
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!("\nvalid: {}, {}\n", count(targets.len(), "target"), count(profiles.len(), "profile")));
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// What `serve` would do, in one line; the webhook's path and the API token never shown.
fn serve_line(serve: &ServeSettings) -> String {
    let path =
        |path: &Option<std::path::PathBuf>| path.as_ref().map_or("none".to_string(), |p| p.display().to_string());
    let webhook = serve
        .webhook
        .as_ref()
        .map_or("none".to_string(), |url| format!("{} ({})", redacted_url(url), serve.webhook_format.as_str()));
    format!(
        "\nserve: profile {}, every {}, listen {}, history {}, state dir {}, webhook {}, API token file {}\n",
        serve.profile,
        harness::humanize(serve.every),
        serve.listen,
        serve.history,
        path(&serve.state_dir),
        webhook,
        path(&serve.api_token_file),
    )
}

/// The API client `run` builds for a target with a host: it reads the CA bundle and takes the
/// token as a header, and either can be wrong.
fn api_client_builds(target: &Target) -> Result<(), AppError> {
    let Some(host) = &target.host else { return Ok(()) };
    ApiClient::new(&ApiSettings {
        host: host.clone(),
        token: target.token.clone().unwrap_or_else(|| Secret::new("")),
        timeout: Duration::from_secs(30),
        ca_bundle: target.ca_bundle.clone(),
        insecure: target.insecure,
        retry: RetryPolicy::default(),
        max_pages: target.max_pages,
    })?;
    Ok(())
}

/// Where a value came from, in one short phrase: `realitycheck.toml:12`, `env CIRCLE_HOSTNAME`,
/// `flag --host`, `default`.
fn origin(origin: &Origin) -> String {
    match origin {
        Origin::File { path, line, .. } => format!("{}:{line}", path.display()),
        Origin::Env(var) => format!("env {var}"),
        Origin::Flag(flag) => format!("flag {flag}"),
        Origin::BuiltIn => "default".to_string(),
    }
}

/// Why `run` takes this target or profile.
fn choice(chosen: &Origin, what: &str) -> String {
    match chosen {
        Origin::File { .. } if what == "target" => format!("default_target at {}", origin(chosen)),
        Origin::File { .. } => format!("{what} at {}", origin(chosen)),
        Origin::BuiltIn if what == "target" => "the only target".to_string(),
        Origin::BuiltIn => "the default".to_string(),
        other => origin(other),
    }
}

type Row = (String, String, String);

fn target_rows(config: &Config, target: &Target, token: Option<&TokenSource>) -> Vec<Row> {
    let name = &target.name;
    let row = |key: &str, value: String| (key.to_string(), value, origin(&config.target_key_origin(name, key)));
    let or_unset = |value: Option<String>, unset: &str| value.unwrap_or_else(|| unset.to_string());
    let path = |path: &Option<std::path::PathBuf>| path.as_deref().map(|p: &Path| p.display().to_string());
    let (k, n, p) = (&target.kubernetes, &target.nomad, &target.pipeline);
    let token_row = match token {
        None => (
            "token".to_string(),
            "unset".to_string(),
            "neither CIRCLE_TOKEN nor token_file: the API checks are skipped".to_string(),
        ),
        Some(TokenSource::Env { var, named_at: None }) => ("token".into(), "set".into(), format!("env {var}")),
        Some(TokenSource::Env { var, named_at: Some(at) }) => {
            ("token".into(), "set".into(), format!("env {var} (token_env at {})", origin(at)))
        }
        Some(TokenSource::File { path, given_at }) => {
            let given = match given_at {
                Origin::Flag(flag) => format!("flag {flag}"),
                other => format!("token_file at {}", origin(other)),
            };
            ("token".into(), "set".into(), format!("file {} ({given})", path.display()))
        }
    };
    vec![
        row("host", or_unset(target.host.as_ref().map(display_host), "unset (the API checks are skipped)")),
        token_row,
        row("cloud_provider", or_unset(target.cloud_provider.map(|c| c.to_string()), "unset")),
        row("project", or_unset(target.project.clone(), "unset (the pipeline checks are skipped)")),
        row("ca_bundle", or_unset(path(&target.ca_bundle), "unset")),
        row("insecure", target.insecure.to_string()),
        row("tls_min_days", target.tls_min_days.to_string()),
        row("max_pages", target.max_pages.to_string()),
        row("kubernetes.kubeconfig", or_unset(path(&k.kubeconfig), "unset (KUBECONFIG, ~/.kube/config, in-cluster)")),
        row("kubernetes.context", or_unset(k.context.clone(), "unset (the current context)")),
        row("kubernetes.namespace", k.namespace.clone()),
        row("kubernetes.expect_chart_version", or_unset(k.expect_chart_version.clone(), "unset (any)")),
        row("nomad.server_selector", n.server_selector.clone()),
        row("nomad.min_clients", n.min_clients.to_string()),
        row("nomad.mtls_min_days", n.mtls_min_days.to_string()),
        row("pipeline.branch", or_unset(p.branch.clone(), "unset (the default branch)")),
        row("pipeline.runner_resource_class", or_unset(p.runner_resource_class.clone(), "unset (no runner check)")),
        row("pipeline.windows", p.windows.to_string()),
        row("pipeline.docker_resource_classes", format!("[{}]", p.docker_resource_classes.join(", "))),
        row("pipeline.image_registry", format!("{:?}", p.image_registry)),
    ]
}

fn profile_rows(config: &Config, profile: &Profile) -> Vec<Row> {
    let row =
        |key: &str, value: String| (key.to_string(), value, origin(&config.profile_key_origin(&profile.name, key)));
    let tags: Vec<&str> = profile.exclude_tags.iter().map(|tag| tag.as_str()).collect();
    vec![
        row("retries", profile.retries.to_string()),
        row("timeout_scale", profile.timeout_scale.to_string()),
        row("deadline", harness::humanize(profile.deadline)),
        row("concurrency", profile.concurrency.to_string()),
        row("exclude_tags", format!("[{}]", tags.join(", "))),
        row("timeouts.cluster", harness::humanize(profile.timeouts.cluster)),
        row("timeouts.api", harness::humanize(profile.timeouts.api)),
        row("timeouts.pipeline", harness::humanize(profile.timeouts.pipeline)),
        row("collect", profile.collect.to_string()),
        row("collect_dir", profile.collect_dir.display().to_string()),
    ]
}

/// Rows as aligned columns: key, value, where it came from.
fn table(rows: &[Row]) -> String {
    let key_width = rows.iter().map(|(key, _, _)| key.chars().count()).max().unwrap_or(0);
    let value_width = rows.iter().map(|(_, value, _)| value.chars().count()).max().unwrap_or(0);
    rows.iter().map(|(key, value, from)| format!("  {key:<key_width$}  {value:<value_width$}  {from}\n")).collect()
}
