//! `realitycheck config check`: loads and validates the configuration as `run` does (every
//! value, the token, the CA bundle), for the chosen target and profile, else for every one,
//! and prints the effective settings with where each came from: a file and line, an
//! environment variable, a flag, or the built-in defaults. The rows are the registry's
//! settings (`realitycheck_config::registry`), in its order: the token is shown only as set or
//! unset, with the variable or file it comes from, the webhook without its path; then what
//! `serve` would do (`[serve]`).

use std::process::ExitCode;
use std::time::Duration;

use realitycheck_config::{
    Origin, Resolved, Secret, Setting, Target, TokenSource, Value, redacted_url, registry, setting,
};
use suites::clients::circleci::{ApiClient, ApiSettings, RetryPolicy};

use crate::cli::ConfigCheckArgs;
use crate::exit::AppError;
use crate::wiring;

pub fn check(args: &ConfigCheckArgs) -> Result<ExitCode, AppError> {
    let config = wiring::load_config(&args.config)?;
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
        api_client_builds(&target)?;
        targets.push((target, config.target_values(name)?, config.token_source(name)?));
    }
    let profiles = profile_names
        .iter()
        .map(|name| Ok((name, config.profile_values(name)?)))
        .collect::<Result<Vec<_>, AppError>>()?;
    config.serve()?;
    let serve = config.serve_values()?;

    let mut out = String::new();
    out.push_str(&match config.config_file() {
        Some(path) => format!("configuration: {}\n", path.display()),
        None => "configuration: no file (built-in defaults, environment and flags)\n".to_string(),
    });
    for (target, values, token) in &targets {
        let chosen = match &run_target {
            Some((name, origin)) if *name == target.name => {
                format!("  (run checks it: {})", choice(origin, Choice::Target))
            }
            _ => String::new(),
        };
        out.push_str(&format!("\ntarget {}{chosen}\n", target.name));
        out.push_str(&table(&rows(values, token.as_ref())));
    }
    if run_target.is_none() {
        out.push_str(&format!(
            "\nrun: {} targets and none chosen: `realitycheck run` needs --target NAME (or REALITYCHECK_TARGET, or default_target); serve checks them all\n",
            targets.len()
        ));
    }
    for (name, values) in &profiles {
        let chosen = if **name == run_profile {
            format!("  (run uses it: {})", choice(&profile_choice, Choice::Profile))
        } else {
            String::new()
        };
        out.push_str(&format!("\nprofile {name}{chosen}\n"));
        out.push_str(&table(&rows(values, None)));
    }
    out.push_str("\nserve (what `realitycheck serve` would do)\n");
    out.push_str(&table(&rows(&serve, None)));
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!("\nvalid: {}, {}\n", count(targets.len(), "target"), count(profiles.len(), "profile")));
    print!("{out}");
    Ok(ExitCode::SUCCESS)
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

/// What `run` chose.
#[derive(Clone, Copy)]
enum Choice {
    Target,
    Profile,
}

/// Why `run` takes this target or profile.
fn choice(chosen: &Origin, what: Choice) -> String {
    match (chosen, what) {
        (Origin::File { .. }, Choice::Target) => format!("default_target at {}", origin(chosen)),
        (Origin::File { .. }, Choice::Profile) => format!("profile at {}", origin(chosen)),
        (Origin::BuiltIn, Choice::Target) => "the only target".to_string(),
        (Origin::BuiltIn, Choice::Profile) => "the default".to_string(),
        (other, _) => origin(other),
    }
}

type Row = (String, String, String);

/// A row per setting of the table `values` holds, in the registry's order: its value (what
/// leaving it unset does, when it is; a secret as set or unset) and where it came from. The
/// token, which no file holds, is shown from `token`.
fn rows(values: &Resolved, token: Option<&TokenSource>) -> Vec<Row> {
    values
        .iter()
        .map(|(setting, value, from)| match from {
            _ if registry::same(setting, &setting::TOKEN) => token_row(token),
            Some(from) => (setting.name(), shown(setting, value), origin(from)),
            None => (setting.name(), setting.unset.to_string(), "no file, variable or flag sets it".into()),
        })
        .collect()
}

/// A value as `config check` shows it.
fn shown(setting: &Setting, value: Option<&Value>) -> String {
    match value {
        None => setting.unset.to_string(),
        Some(Value::Url(url)) if setting.secret => redacted_url(url),
        Some(_) if setting.secret => "set".to_string(),
        Some(value) => value.show(),
    }
}

/// The token's row: set or unset, and where it comes from.
fn token_row(token: Option<&TokenSource>) -> Row {
    let name = setting::TOKEN.name();
    match token {
        None => (name, setting::TOKEN.unset.to_string(), "neither CIRCLE_TOKEN nor token_file".to_string()),
        Some(TokenSource::Env { var, named_at: None }) => (name, "set".into(), format!("env {var}")),
        Some(TokenSource::Env { var, named_at: Some(at) }) => {
            (name, "set".into(), format!("env {var} (token_env at {})", origin(at)))
        }
        Some(TokenSource::File { path, given_at }) => {
            let given = match given_at {
                Origin::Flag(flag) => format!("flag {flag}"),
                other => format!("token_file at {}", origin(other)),
            };
            (name, "set".into(), format!("file {} ({given})", path.display()))
        }
    }
}

/// Rows as aligned columns: key, value, where it came from. Padded by hand: `format!`'s width
/// panics beyond 65,535, and a value may be long.
fn table(rows: &[Row]) -> String {
    let width = |column: fn(&Row) -> &str| rows.iter().map(|row| column(row).chars().count()).max().unwrap_or(0);
    let (key_width, value_width) = (width(|row| &row.0), width(|row| &row.1));
    let pad = |text: &str, width: usize| format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())));
    rows.iter()
        .map(|(key, value, from)| format!("  {}  {}  {from}\n", pad(key, key_width), pad(value, value_width)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_values_wider_than_format_s_widths_pads_them() {
        let long = "v".repeat(70_000);
        let rows =
            vec![("key".to_string(), long.clone(), "default".to_string()), ("k".into(), "x".into(), "flag --k".into())];
        let table = table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], format!("  key  {long}  default"));
        assert_eq!(lines[1], format!("  k    x{}  flag --k", " ".repeat(69_999)));
    }
}
