//! `realitycheck explain`: prints a check's page, `docs/checks/<suite>.<name>.md`, embedded in
//! the binary at build time (`build.rs`), so that the docs and the command say the same.
//! A page that links a shared section of `docs/checks/README.md` (`README.md#kubernetes-access`)
//! is printed with that section after it. An unknown ID is a usage error (exit 2) naming the
//! closest IDs; no ID lists every check with its summary, from the checks themselves.

use std::process::ExitCode;

use realitycheck_config::Target;

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

/// Every check's ID and summary, in report order (`run`'s, then `upgrade-check`'s), with the
/// docker resource class checks as their family `resource_classes::docker_<class>`: the
/// suite's own checks, not the pages.
pub fn catalogue() -> Vec<(String, String)> {
    let newest = suites::upgrades::UpgradeTarget::resolve(None, &[]).expect("the newest known version is a target");
    suites::checks::all(&every_check_target())
        .into_iter()
        .chain(suites::checks::upgrade::all(&newest))
        .map(|check| (check.spec.id, check.spec.summary))
        .collect()
}

/// A target for which the suite builds every check it has, with the docker resource class
/// family under [`ANY_CLASS`]; nothing in it is ever contacted.
fn every_check_target() -> Target {
    let mut target = Target::with_defaults("explain");
    target.pipeline.runner_resource_class = Some("namespace/name".into());
    target.pipeline.docker_resource_classes = vec![ANY_CLASS.into()];
    target
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

/// The error for an unknown check `asked`: the closest IDs, or where to find them all. What
/// was asked is printed without its escape sequences and control characters, as the reports
/// print text from servers.
fn unknown_check(asked: &str, checks: &[(String, String)]) -> String {
    let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
    let suggestions = closest_ids(asked, &ids);
    let asked = reports::printable(asked);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use suites::checks::cause::{Piece, StatedBy, pieces};

    use super::*;

    fn page_stems() -> BTreeSet<&'static str> {
        CHECK_PAGES.iter().map(|(stem, _)| *stem).collect()
    }

    #[test]
    fn every_check_has_a_page_and_every_page_is_a_check() {
        let checks = catalogue();
        let wanted: BTreeSet<String> = checks.iter().map(|(id, _)| page_stem(id)).collect();
        let pages: BTreeSet<String> = page_stems().into_iter().map(String::from).collect();
        let missing: Vec<&String> = wanted.difference(&pages).collect();
        let stray: Vec<&String> = pages.difference(&wanted).collect();
        assert!(missing.is_empty(), "checks without a page in docs/checks/ (write <stem>.md): {missing:?}");
        assert!(stray.is_empty(), "pages in docs/checks/ that are no check (rename or remove them): {stray:?}");
        for (id, summary) in &checks {
            let page = page_of(id).unwrap();
            let mut lines = page.lines();
            assert_eq!(lines.next(), Some(format!("# {id}").as_str()), "the page of {id} starts with `# {id}`");
            assert_eq!(lines.next(), Some(""), "a blank line after the title of {id}'s page");
            assert_eq!(
                lines.next(),
                Some(summary.as_str()),
                "{id}'s page gives the check's summary, as the code has it"
            );
            assert!(
                phase_of_page(page).is_some_and(|label| suites::phase::ALL.iter().any(|phase| phase.label() == label)),
                "{id}'s page has a `Phase: ` line naming one of the suite's phases (suites/src/phase.rs)"
            );
        }
    }

    #[test]
    fn every_check_of_every_resource_class_has_the_family_page() {
        for class in realitycheck_config::DOCKER_RESOURCE_CLASSES {
            let id = format!("{RESOURCE_CLASS_PREFIX}{class}");
            assert!(page_of(&id).is_some_and(|page| page.starts_with("# resource_classes::docker_<class>")), "{id}");
        }
        assert_eq!(page_of("resource_classes::docker_huge"), None);
    }

    fn phase_of_page(page: &str) -> Option<&str> {
        page.lines().find_map(|line| line.strip_prefix("Phase: "))
    }

    #[test]
    fn the_index_lists_each_check_once_with_its_summary_and_phase() {
        let rows: Vec<Vec<&str>> = CHECKS_INDEX
            .lines()
            .filter(|line| line.starts_with("| [`"))
            .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
            .collect();
        let checks = catalogue();
        assert_eq!(rows.len(), checks.len(), "one row per check in docs/checks/README.md");
        for ((id, summary), row) in checks.iter().zip(&rows) {
            let link = format!("[`{id}`]({}.md)", page_stem(id));
            assert_eq!(row[0], link, "the index lists the checks in report order, each linking its page");
            assert_eq!(Some(row[1]), phase_of_page(page_of(id).unwrap()), "the index gives {id}'s phase as its page");
            assert_eq!(row[2], summary, "the index gives {id}'s summary as the code has it");
        }
    }

    #[test]
    fn every_shared_section_a_page_links_is_in_the_index() {
        for (stem, page) in CHECK_PAGES {
            for anchor in page.split("](README.md#").skip(1).filter_map(|rest| rest.split(')').next()) {
                assert!(index_section(anchor).is_some(), "{stem}.md links README.md#{anchor}, which has no section");
            }
        }
        let explained = with_shared_sections(page_of("executors::docker").unwrap());
        assert!(explained.contains("\n## Pipeline jobs\n") && explained.contains("\n## CircleCI API calls\n"));
        assert_eq!(explained.matches("\n## Pipeline jobs\n").count(), 1, "a section linked twice is printed once");
    }

    #[test]
    fn an_unknown_id_is_echoed_without_its_escape_sequences() {
        let message = unknown_check("\u{1b}]0;pwned\u{7}\u{1b}[2Jnomad\u{8}", &catalogue());
        assert!(!message.contains('\u{1b}') && !message.contains('\u{8}'), "{message:?}");
        assert!(message.starts_with("no check has the ID `nomad\u{fffd}`"), "{message:?}");
    }

    #[test]
    fn unknown_ids_get_the_closest_ones() {
        let checks = catalogue();
        let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(closest_ids("clients", &ids), ["nomad::clients_ready", "upgrade::nomad_clients"]);
        assert_eq!(closest_ids("nomad::client_ready", &ids), ["nomad::clients_ready"]);
        assert_eq!(closest_ids("nomad.clients_ready", &ids), ["nomad::clients_ready"]);
        assert_eq!(closest_ids("gosip_key", &ids), ["nomad::gossip_key"]);
        assert_eq!(
            closest_ids("docker", &ids),
            ["executors::docker", "executors::remote_docker", "executors::remote_docker_dlc"]
        );
        assert!(closest_ids("zzz", &ids).is_empty());
        assert!(closest_ids(" ", &ids).is_empty());
    }

    /// Whether every cause and fix the checks can state (the catalogue the diagnoses are built
    /// from, `suites::checks::causes`) is explained where the docs say it: in the page of each
    /// check that states it, or in the index's section on a cause that checks of a kind share.
    /// Of each text, its longest stretch between placeholders, whitespace collapsed, must be
    /// there; a stretch under three words (`<init container>`) says nothing of a cause.
    #[test]
    fn every_cause_and_fix_the_checks_state_is_in_their_pages() {
        let causes = suites::checks::causes();
        let mut missing = Vec::new();
        for cause in &causes {
            let pages: Vec<(String, &str)> = match cause.stated_by() {
                StatedBy::Checks(ids) => ids
                    .iter()
                    .map(|id| (format!("{}.md", page_stem(id)), page_of(id).unwrap_or_else(|| panic!("{id}: no page"))))
                    .collect(),
                StatedBy::Shared(heading) => {
                    let anchor = github_anchor(heading);
                    let section = index_section(&anchor)
                        .unwrap_or_else(|| panic!("docs/checks/README.md has no section `## {heading}`"));
                    vec![(format!("README.md#{anchor}"), section)]
                }
            };
            for text in [cause.cause(), cause.fix()].into_iter().filter_map(longest_stretch) {
                for (page, content) in &pages {
                    if !collapse(content).contains(&text) {
                        missing.push(format!("{page}: {text}"));
                    }
                }
            }
        }
        assert!(causes.len() > 100, "the catalogue holds every cause the checks state ({})", causes.len());
        assert!(
            missing.is_empty(),
            "causes or fixes the checks state that their page does not (add them, with their fix, to the check's page, or to the index's section the cause names):\n{}",
            missing.join("\n")
        );
    }

    /// The longest stretch of `text` between its placeholders, whitespace collapsed, if it has
    /// three words or more.
    fn longest_stretch(text: &str) -> Option<String> {
        let longest = pieces(text)
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Text(stretch) => Some(collapse(stretch)),
                Piece::Placeholder(_) => None,
            })
            .max_by_key(String::len)?;
        (longest.split(' ').count() >= 3).then_some(longest)
    }

    fn collapse(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn a_stretch_is_the_longest_text_between_placeholders() {
        assert_eq!(
            longest_stretch("grant `list` on pods (`kubectl auth can-i list pods -n {namespace}`)").as_deref(),
            Some("grant `list` on pods (`kubectl auth can-i list pods -n")
        );
        assert_eq!(longest_stretch("`{a}` and\n   {b} then `{c}` x").as_deref(), None);
        assert_eq!(longest_stretch("a { b } {c}").as_deref(), Some("a { b }"));
    }
}
