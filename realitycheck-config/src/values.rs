//! The checks of single values that settings name in `defs.rs` (`Setting::check`), run when
//! a configuration loads and by `Setting::read` (`realitycheck init` checks each answer with
//! it): the message says what is wrong with the value, in words an operator can act on (the
//! fix comes from the setting's definition).

use std::net::SocketAddr;
use std::time::Duration;

use crate::value::Value;

/// What a setting's check returns: the value as it is used, or what is wrong with it.
type Checked = Result<Value, String>;

/// The longest a deadline or timeout may be, before `timeout_scale`: a run that waits longer
/// is not a check. Scaled by at most 100, it stays far from any overflow.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The shortest time between the starts of two runs of one target.
const MIN_EVERY: Duration = Duration::from_secs(10);
/// The longest time between the starts of two runs of one target.
const MAX_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// The most runs kept per target.
const MAX_HISTORY: u64 = 10_000;
/// Bounds of `timeout_scale`: beyond them a timeout is meaningless (or overflows).
const TIMEOUT_SCALES: std::ops::RangeInclusive<f64> = 0.1..=100.0;

/// Whether `name` is an RFC 1123 label, as Kubernetes requires of a namespace.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A namespace of the CircleCI server release: a Kubernetes namespace name.
fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() {
        return Err("the namespace is empty".into());
    }
    if !is_dns_label(namespace) {
        return Err(format!(
            "`{namespace}` is not a Kubernetes namespace name (at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// A project slug: `vcs/org/repo`.
fn check_project(slug: &str) -> Result<(), String> {
    let parts: Vec<&str> = slug.split('/').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && !p.contains(char::is_whitespace)) {
        Ok(())
    } else {
        Err(format!("`{slug}` is not a project slug of the form vcs/org/repo"))
    }
}

/// A self-hosted runner resource class: `namespace/name`.
fn check_runner_resource_class(class: &str) -> Result<(), String> {
    let valid = class
        .split_once('/')
        .is_some_and(|(namespace, name)| !namespace.is_empty() && !name.is_empty() && !name.contains('/'));
    if valid { Ok(()) } else { Err(format!("`{class}` is not namespace/name")) }
}

/// The name of the environment variable that holds a target's token (`token_env`). A value
/// that looks like a token itself is not echoed.
fn check_token_env(name: &str) -> Result<(), String> {
    if looks_like_a_token(name) {
        return Err("the value looks like an API token, not the name of an environment variable (a token never goes in the configuration file)".into());
    }
    if !is_env_var_name(name) {
        return Err(format!(
            "`{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok(())
}

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting with
/// a digit.
fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a value meant to name a variable looks like an API token instead: a CircleCI
/// token prefix, or a long run of letters and digits mixing lowercase and digits.
fn looks_like_a_token(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    upper.starts_with("CCIPAT_")
        || upper.starts_with("CCIPRJ_")
        || (value.len() >= 32
            && value.bytes().all(|b| b.is_ascii_alphanumeric())
            && value.bytes().any(|b| b.is_ascii_digit())
            && value.bytes().any(|b| b.is_ascii_lowercase()))
}

/// The text of a `Kind::Text` value (a setting's check receives the kind it defines).
fn text(value: Value) -> String {
    match value {
        Value::Text(text) => text,
        other => other.show(),
    }
}

/// The number of a `Kind::Whole` value.
fn whole(value: &Value) -> u64 {
    match value {
        Value::Whole(n) => *n,
        _ => 0,
    }
}

/// `host`: a base URL, normalised (`normalise_host`).
pub(crate) fn host(value: Value) -> Checked {
    crate::host::normalise_host(&text(value)).map(Value::Url)
}

/// `project`: `vcs/org/repo`.
pub(crate) fn project(value: Value) -> Checked {
    let slug = text(value);
    check_project(&slug).map(|()| Value::Text(slug))
}

/// `token_env`: the name of an environment variable, never echoed when it looks like a token.
pub(crate) fn token_env(value: Value) -> Checked {
    let name = text(value);
    check_token_env(&name).map(|()| Value::Text(name))
}

/// `kubernetes.namespace`: a Kubernetes namespace name.
pub(crate) fn namespace(value: Value) -> Checked {
    let namespace = text(value);
    check_namespace(&namespace).map(|()| Value::Text(namespace))
}

/// `kubernetes.expect_chart_version`: a version, without a leading `v`.
pub(crate) fn chart_version(value: Value) -> Checked {
    let text = text(value);
    let version = text.trim_start_matches('v');
    if version.is_empty() {
        return Err("the chart version is empty".into());
    }
    Ok(Value::Text(version.to_string()))
}

/// `server_version`: `major.minor` or `major.minor.patch` of a CircleCI server release (a
/// leading `v` is dropped).
pub(crate) fn server_version(value: Value) -> Checked {
    let text = text(value);
    let version = text.trim_start_matches('v');
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !(2..=3).contains(&parts.len()) || !numeric {
        return Err(format!("`{text}` is not a server version (major.minor or major.minor.patch)"));
    }
    Ok(Value::Text(version.to_string()))
}

/// `upgrade.latest_patches`: full server versions (`4.9.6`), at most one per minor version (a
/// leading `v` is dropped).
pub(crate) fn latest_patches(value: Value) -> Checked {
    let Value::List(items) = value else { return Ok(value) };
    let mut minors: Vec<(String, &str)> = Vec::new();
    for item in &items {
        let version = item.trim_start_matches('v');
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() != 3 || !parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!("`{item}` is not a full server version (major.minor.patch, like 4.9.6)"));
        }
        let minor = format!("{}.{}", parts[0], parts[1]);
        if let Some((_, first)) = minors.iter().find(|(known, _)| *known == minor) {
            return Err(format!("`{first}` and `{item}` both name the last patch of {minor}"));
        }
        minors.push((minor, item));
    }
    Ok(Value::List(items.iter().map(|item| item.trim_start_matches('v').to_string()).collect()))
}

/// `upgrade.mongodb_version`: `major.minor` or `major.minor.patch`.
pub(crate) fn mongodb_version(value: Value) -> Checked {
    let text = text(value);
    let parts: Vec<&str> = text.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || !parts.iter().all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("`{text}` is not a MongoDB version (major.minor or major.minor.patch, like 7.0.12)"));
    }
    Ok(Value::Text(text))
}

/// `nomad.address`: the base URL of a Nomad HTTP API, `http://` or `https://` with a host,
/// no user, path or query (a trailing `/` is dropped).
pub(crate) fn nomad_address(value: Value) -> Checked {
    let text = text(value);
    let url = url::Url::parse(text.trim().trim_end_matches('/'))
        .map_err(|e| format!("`{text}` is not a URL with a protocol ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}` uses `{}`; Nomad's API is served over https (or http)", url.scheme()));
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must name a host, and no user or password".into());
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{text}` has a path or query; Nomad's API is at the root of its address"));
    }
    Ok(Value::Url(url))
}

/// A value that must not be blank (`nomad.server_selector`, `kubernetes.context`).
pub(crate) fn not_blank(value: Value) -> Checked {
    let text = text(value);
    if text.is_empty() {
        return Err("the value is empty".into());
    }
    Ok(Value::Text(text))
}

/// `max_pages`: at least 1.
pub(crate) fn at_least_one_page(value: Value) -> Checked {
    if whole(&value) == 0 {
        return Err("0 pages would read no list at all; give at least 1 (default 500)".into());
    }
    Ok(value)
}

/// `nomad.min_clients`: at least 1.
pub(crate) fn at_least_one_client(value: Value) -> Checked {
    if whole(&value) == 0 {
        return Err("0 clients would make the check pass without any".into());
    }
    Ok(value)
}

/// `capacity.max_jobs`: at least 1.
pub(crate) fn at_least_one_job(value: Value) -> Checked {
    if whole(&value) == 0 {
        return Err("0 would refuse every capacity measurement".into());
    }
    Ok(value)
}

/// `concurrency`: at least 1.
pub(crate) fn at_least_one_check(value: Value) -> Checked {
    if whole(&value) == 0 {
        return Err("0 checks at once would run nothing".into());
    }
    Ok(value)
}

/// `pipeline.branch`: a branch name.
pub(crate) fn branch(value: Value) -> Checked {
    let branch = text(value);
    if branch.is_empty() || branch.contains(char::is_whitespace) {
        return Err("the branch is empty or contains whitespace".into());
    }
    Ok(Value::Text(branch))
}

/// `pipeline.runner_resource_class`: `namespace/name`.
pub(crate) fn runner_resource_class(value: Value) -> Checked {
    let class = text(value);
    check_runner_resource_class(&class).map(|()| Value::Text(class))
}

/// A list without repeats (`pipeline.docker_resource_classes`).
pub(crate) fn no_repeats(value: Value) -> Checked {
    if let Value::List(items) = &value
        && let Some((index, item)) = items.iter().enumerate().find(|(i, item)| items[..*i].contains(item))
    {
        return Err(format!("`{item}` is listed twice (again at position {})", index + 1));
    }
    Ok(value)
}

/// `pipeline.image_registry`: empty, or a prefix ending in `/`.
pub(crate) fn image_registry(value: Value) -> Checked {
    let registry = text(value);
    if !registry.is_empty() && (!registry.ends_with('/') || registry.contains(char::is_whitespace)) {
        return Err(format!("`{registry}` does not end in `/`"));
    }
    Ok(Value::Text(registry))
}

/// `timeout_scale`: 0.1 to 100.
pub(crate) fn timeout_scale(value: Value) -> Checked {
    match value {
        Value::Number(scale) if TIMEOUT_SCALES.contains(&scale) => Ok(value),
        Value::Number(scale) => {
            Err(format!("`{scale}` is not between {} and {}", TIMEOUT_SCALES.start(), TIMEOUT_SCALES.end()))
        }
        other => Err(format!("`{}` is not a number", other.show())),
    }
}

/// A deadline or timeout: more than zero, a week at most.
pub(crate) fn run_duration(value: Value) -> Checked {
    match value {
        Value::Duration(d) if d > MAX_DURATION => {
            Err(format!("`{}` is longer than a week, the longest a run waits", harness::humanize(d)))
        }
        Value::Duration(d) if d.is_zero() => Err("a zero duration ends every run at once".into()),
        other => Ok(other),
    }
}

/// `serve.every`: 10s to 24h.
pub(crate) fn every(value: Value) -> Checked {
    match value {
        Value::Duration(d) if d < MIN_EVERY => {
            Err(format!("`{}` is shorter than 10s, the least time between two runs", harness::humanize(d)))
        }
        Value::Duration(d) if d > MAX_EVERY => {
            Err(format!("`{}` is longer than a day, the most time between two runs", harness::humanize(d)))
        }
        other => Ok(other),
    }
}

/// `serve.canary_every`: `off`, or a duration from 10s to 24h (as `serve.every`).
pub(crate) fn canary_every(value: Value) -> Checked {
    let text = text(value);
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Value::Text("off".into()));
    }
    let duration =
        humantime::parse_duration(text).map_err(|e| format!("`{text}` is neither `off` nor a duration ({e})"))?;
    every(Value::Duration(duration))
}

/// A profile's `checks`: whole check IDs (`suite::name`), each once.
pub(crate) fn check_ids(value: Value) -> Checked {
    if let Value::List(ids) = &value
        && let Some(id) = ids.iter().find(|id| !is_check_id(id))
    {
        return Err(format!("`{id}` is not a whole check ID like executors::docker (suite::name)"));
    }
    no_repeats(value)
}

/// Whether `id` reads like a check's ID: a suite and a name of lowercase letters, digits and
/// `_` (and `+`, as a resource class has), joined by `::`.
fn is_check_id(id: &str) -> bool {
    let part = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+".contains(&b))
    };
    id.split_once("::").is_some_and(|(suite, name)| part(suite) && part(name))
}

/// `serve.listen`: an IP address and a port (no host name).
pub(crate) fn listen(value: Value) -> Checked {
    let text = text(value);
    let text = text.trim();
    text.parse::<SocketAddr>().map(Value::Address).map_err(|_| format!("`{text}` is not an IP address and port"))
}

/// `serve.history`: 1 to 10000 runs.
pub(crate) fn history(value: Value) -> Checked {
    match whole(&value) {
        0 => Err("0 runs would keep no history at all".into()),
        n if n > MAX_HISTORY => Err(format!("{n} runs per target is more than {MAX_HISTORY}")),
        _ => Ok(value),
    }
}

/// `serve.state_dir`: a directory, or nothing yet.
pub(crate) fn directory(value: Value) -> Checked {
    match &value {
        Value::Path(dir) if dir.exists() && !dir.is_dir() => Err(format!("{} is not a directory", dir.display())),
        _ => Ok(value),
    }
}

/// `serve.webhook`: an http or https URL with a host; the message never quotes the URL,
/// whose path may be its secret.
pub(crate) fn webhook(value: Value) -> Checked {
    let url = url::Url::parse(text(value).trim()).map_err(|e| format!("the value is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the URL's scheme is `{}`; webhooks are posted over http or https only", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".into());
    }
    Ok(Value::Url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_accepts_the_good_and_says_what_is_wrong_with_the_bad() {
        assert!(check_namespace("circleci-server").is_ok());
        assert!(check_namespace("CircleCI").unwrap_err().contains("not a Kubernetes namespace name"));
        assert_eq!(check_namespace("").unwrap_err(), "the namespace is empty");
        assert!(check_project("gh/example-org/realitycheck").is_ok());
        assert!(check_project("example-org/realitycheck").unwrap_err().contains("vcs/org/repo"));
        assert!(check_runner_resource_class("example-org/linux").is_ok());
        assert!(check_runner_resource_class("linux").unwrap_err().contains("namespace/name"));
        assert!(check_token_env("PROD_CIRCLE_TOKEN").is_ok());
        assert!(check_token_env("1TOKEN").unwrap_err().contains("not an environment variable name"));
        let token = check_token_env("CCIPAT_abc123").unwrap_err();
        assert!(token.contains("looks like an API token") && !token.contains("abc123"), "{token}");
    }

    #[test]
    fn webhooks_are_http_or_https_with_a_host_and_never_quoted() {
        let text = |s: &str| Value::Text(s.into());
        assert!(webhook(text("https://hooks.example.com/services/T0/B0/s3cr3t")).is_ok());
        assert!(webhook(text("http://10.0.0.1:8080/hook")).is_ok());
        for bad in [
            "ftp://example.com/s3cr3t",
            "hooks.example.com/s3cr3t",
            "file:///s3cr3t",
            "mailto:s3cr3t@example.com",
            "https://:443/s3cr3t",
        ] {
            let message = webhook(text(bad)).expect_err(bad);
            assert!(!message.contains("s3cr3t"), "{bad}: {message}");
        }
    }

    #[test]
    fn server_versions_and_nomad_addresses() {
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(server_version(text("v4.10")), Ok(text("4.10")));
        assert_eq!(server_version(text("4.8.12")), Ok(text("4.8.12")));
        for bad in ["4", "4.x", "4.10.0.1", "", "4..1"] {
            assert!(server_version(text(bad)).unwrap_err().contains("is not a server version"), "{bad}");
        }
        let Ok(Value::Url(url)) = nomad_address(text("https://nomad.example.internal:4646/")) else { panic!() };
        assert_eq!(url.as_str(), "https://nomad.example.internal:4646/");
        assert!(
            nomad_address(text("nomad.example.internal:4646")).unwrap_err().contains("uses `nomad.example.internal`")
        );
        assert!(nomad_address(text("https://nomad:4646/v1")).unwrap_err().contains("has a path"));
        assert!(nomad_address(text("https://user:pw@nomad:4646")).unwrap_err().contains("no user or password"));
    }

    #[test]
    fn the_canary_is_off_or_every_10s_to_24h() {
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(canary_every(text(" OFF ")), Ok(text("off")));
        assert_eq!(canary_every(text("1h")), Ok(Value::Duration(Duration::from_secs(3600))));
        assert!(canary_every(text("5s")).unwrap_err().contains("shorter than 10s"));
        assert!(canary_every(text("2d")).unwrap_err().contains("longer than a day"));
        assert!(canary_every(text("never")).unwrap_err().starts_with("`never` is neither `off` nor a duration"));
    }

    #[test]
    fn a_profile_s_checks_are_whole_ids_each_once() {
        let list = |ids: &[&str]| Value::List(ids.iter().map(|id| id.to_string()).collect());
        let ok = list(&["executors::docker", "resource_classes::docker_medium+"]);
        assert_eq!(check_ids(ok.clone()), Ok(ok));
        for bad in ["executors", "executors::", "::docker", "Executors::docker", "executors::docker job"] {
            let message = check_ids(list(&[bad])).expect_err(bad);
            assert!(message.contains("is not a whole check ID"), "{bad}: {message}");
        }
        assert!(check_ids(list(&["api::authenticated", "api::authenticated"])).unwrap_err().contains("listed twice"));
    }

    #[test]
    fn repeats_and_bounds_are_named() {
        let list = Value::List(vec!["small".into(), "large".into(), "small".into()]);
        assert_eq!(no_repeats(list).unwrap_err(), "`small` is listed twice (again at position 3)");
        assert_eq!(history(Value::Whole(10_001)).unwrap_err(), "10001 runs per target is more than 10000");
        assert!(run_duration(Value::Duration(Duration::ZERO)).is_err());
        assert_eq!(chart_version(Value::Text("v4.4.8".into())), Ok(Value::Text("4.4.8".into())));
    }
}
