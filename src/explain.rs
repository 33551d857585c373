//! `realitycheck explain`: prints a check's page, `docs/checks/<suite>.<name>.md`, embedded in
//! the binary at build time (`build.rs`), so that the docs and the command say the same.
//! A page that links a shared section of `docs/checks/README.md` (`README.md#kubernetes-access`)
//! is printed with that section after it. An unknown ID is a usage error (exit 2) naming the
//! closest IDs; no ID lists every check with its summary, from the checks themselves.

use std::process::ExitCode;

use realitycheck_config::{Kubernetes, Nomad, Pipeline, Target};

use crate::cli::ExplainArgs;
use crate::exit::AppError;

include!(concat!(env!("OUT_DIR"), "/check_pages.rs"));

/// The docker resource class the family `resource_classes::docker_<class>` is listed with:
/// one page stands for the check of every class.
const ANY_CLASS: &str = "<class>";

/// The prefix of the IDs of the family of docker resource class checks.
const RESOURCE_CLASS_PREFIX: &str = "resource_classes::docker_";

/// Suggestions an unknown ID gets at most.
const MAX_SUGGESTIONS: usize = 3;

pub fn explain(args: &ExplainArgs) -> Result<ExitCode, AppError> {
    let checks = catalogue();
    let Some(asked) = args.check.as_deref() else {
        print!("{}", listing(&checks));
        return Ok(ExitCode::SUCCESS);
    };
    match page_of(asked) {
        Some(page) => {
            print!("{}", with_shared_sections(page));
            Ok(ExitCode::SUCCESS)
        }
        None => Err(AppError::Usage(unknown_check(asked, &checks))),
    }
}

/// Every check's ID and summary, in report order, with the docker resource class checks as
/// their family `resource_classes::docker_<class>`: the suite's own checks, not the pages.
pub fn catalogue() -> Vec<(String, String)> {
    suites::checks::all(&every_check_target()).into_iter().map(|check| (check.spec.id, check.spec.summary)).collect()
}

/// A target for which the suite builds every check it has, with the docker resource class
/// family under [`ANY_CLASS`]; nothing in it is ever contacted.
fn every_check_target() -> Target {
    Target {
        name: "explain".into(),
        host: None,
        token: None,
        cloud_provider: None,
        project: None,
        ca_bundle: None,
        insecure: false,
        tls_min_days: 30,
        max_pages: 1,
        kubernetes: Kubernetes {
            kubeconfig: None,
            context: None,
            namespace: "circleci-server".into(),
            expect_chart_version: None,
        },
        nomad: Nomad { server_selector: "app=nomad-server".into(), min_clients: 1, mtls_min_days: 30 },
        pipeline: Pipeline {
            runner_resource_class: Some("namespace/name".into()),
            docker_resource_classes: vec![ANY_CLASS.into()],
            ..Pipeline::default()
        },
    }
}

/// The file stem of a check's page: `::` becomes `.` (a name every filesystem takes), and the
/// family `resource_classes::docker_<class>` (or any of its checks) has `resource_classes.docker_class`.
pub fn page_stem(id: &str) -> String {
    let id = match id.strip_prefix(RESOURCE_CLASS_PREFIX) {
        Some(class) if class == ANY_CLASS || realitycheck_config::DOCKER_RESOURCE_CLASSES.contains(&class) => {
            "resource_classes::docker_class"
        }
        _ => id,
    };
    id.replace("::", ".")
}

/// The page of the check `id`, as written.
pub fn page_of(id: &str) -> Option<&'static str> {
    let stem = page_stem(id.trim());
    CHECK_PAGES.iter().find(|(name, _)| *name == stem).map(|(_, page)| *page)
}

/// `page`, followed by each section of the index it links (`](README.md#anchor)`), once.
pub fn with_shared_sections(page: &str) -> String {
    let mut text = page.to_string();
    let mut appended: Vec<&str> = Vec::new();
    for anchor in page.split("](README.md#").skip(1).filter_map(|rest| rest.split(')').next()) {
        if appended.contains(&anchor) {
            continue;
        }
        if let Some(section) = index_section(anchor) {
            appended.push(anchor);
            text.push('\n');
            text.push_str(section.trim_end());
            text.push('\n');
        }
    }
    text
}

/// The `## ` section of the index whose GitHub anchor is `anchor`, heading included.
pub fn index_section(anchor: &str) -> Option<&'static str> {
    let mut offset = 0;
    let starts: Vec<usize> = CHECKS_INDEX
        .split_inclusive('\n')
        .map(|line| {
            let start = offset;
            offset += line.len();
            (start, line)
        })
        .filter(|(_, line)| line.starts_with("## "))
        .map(|(start, _)| start)
        .collect();
    starts.iter().enumerate().find_map(|(i, &start)| {
        let end = starts.get(i + 1).copied().unwrap_or(CHECKS_INDEX.len());
        let section = &CHECKS_INDEX[start..end];
        let heading = section.lines().next()?.trim_start_matches("## ");
        (github_anchor(heading) == anchor).then_some(section)
    })
}

/// The anchor GitHub gives a heading: lower case, spaces as `-`, other punctuation dropped.
pub fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every check, one a line, ID then summary, and how to see one.
fn listing(checks: &[(String, String)]) -> String {
    let width = checks.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    let mut text: String = checks.iter().map(|(id, summary)| format!("{id:width$}  {summary}\n")).collect();
    text.push_str("\n`realitycheck explain CHECK_ID` shows what a check verifies, what it needs, and how to fix it when it is red.\n");
    text
}

/// The error for an unknown check `asked`: the closest IDs, or where to find them all.
fn unknown_check(asked: &str, checks: &[(String, String)]) -> String {
    let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
    let suggestions = closest_ids(asked, &ids);
    let list = "`realitycheck explain` lists every check";
    match suggestions.as_slice() {
        [] => format!("no check has the ID `{asked}`; {list}"),
        [one] => format!("no check has the ID `{asked}`; did you mean `{one}`? ({list})"),
        several => format!(
            "no check has the ID `{asked}`; did you mean one of {}? ({list})",
            several.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The IDs closest to `asked`: those that contain it (in the suite or the name), else those
/// within a few edits of it (whole ID or name alone), nearest first; at most three.
pub fn closest_ids<'a>(asked: &str, ids: &[&'a str]) -> Vec<&'a str> {
    let asked = asked.trim().to_lowercase();
    if asked.is_empty() {
        return Vec::new();
    }
    let containing: Vec<&str> = ids.iter().copied().filter(|id| id.to_lowercase().contains(&asked)).collect();
    if !containing.is_empty() {
        return containing.into_iter().take(MAX_SUGGESTIONS).collect();
    }
    let tolerance = (asked.chars().count() / 3).max(2);
    let mut near: Vec<(usize, &str)> = ids
        .iter()
        .map(|id| {
            let lower = id.to_lowercase();
            let name = lower.rsplit("::").next().unwrap_or(&lower).to_string();
            (edit_distance(&asked, &lower).min(edit_distance(&asked, &name)), *id)
        })
        .filter(|(distance, _)| *distance <= tolerance)
        .collect();
    near.sort_by_key(|(distance, _)| *distance);
    near.into_iter().take(MAX_SUGGESTIONS).map(|(_, id)| id).collect()
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
