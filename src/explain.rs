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

/// Every check's ID and summary, in report order, with the docker resource class checks as
/// their family `resource_classes::docker_<class>`: the suite's own checks, not the pages.
pub fn catalogue() -> Vec<(String, String)> {
    suites::checks::all(&every_check_target()).into_iter().map(|check| (check.spec.id, check.spec.summary)).collect()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

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
    fn unknown_ids_get_the_closest_ones() {
        let checks = catalogue();
        let ids: Vec<&str> = checks.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(closest_ids("clients", &ids), ["nomad::clients_ready"]);
        assert_eq!(closest_ids("nomad::client_ready", &ids), ["nomad::clients_ready"]);
        assert_eq!(closest_ids("nomad.clients_ready", &ids), ["nomad::clients_ready"]);
        assert_eq!(closest_ids("gosip_key", &ids), ["nomad::gossip_key"]);
        assert_eq!(
            closest_ids("docker", &ids),
            ["executors::docker", "executors::remote_docker", "resource_classes::docker_<class>"]
        );
        assert!(closest_ids("zzz", &ids).is_empty());
        assert!(closest_ids(" ", &ids).is_empty());
    }

    /// Whether every cause and fix the checks state in `suites/src/checks/` has its page entry.
    ///
    /// The list of causes is read from the source rather than kept by hand, so that a new cause
    /// fails this test until its page says it. A cause or fix is every string literal, outside
    /// the tests, that sits in the argument of `.cause(`/`.remediation(` (or `causes.push(`/
    /// `remedies.push(`), in a `let` whose pattern names `cause` or `remediation`, in the
    /// arguments of a closure or function with a `cause` parameter, or in the body of a
    /// function of the same file called from one of those. Its longest stretch between
    /// placeholders, whitespace collapsed, must appear in the page of a check the file names
    /// (`ids::…`) or in the index's shared sections. Stretches under three words (`<init
    /// container>`) and "a bug in realitycheck" carry no cause of the installation.
    #[test]
    fn every_cause_and_fix_in_the_checks_source_appears_in_a_page() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let checks_dir = root.join("suites/src/checks");
        let ids = id_constants(&std::fs::read_to_string(checks_dir.join("ids.rs")).unwrap());
        let mut files: Vec<_> = std::fs::read_dir(&checks_dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut missing = Vec::new();
        let mut found = 0;
        for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
            let source = std::fs::read_to_string(path).unwrap();
            let code = source.split("#[cfg(test)]").next().unwrap();
            let pages: Vec<String> = ids
                .iter()
                .filter(|(constant, _)| code.contains(&format!("ids::{constant}")))
                .filter_map(|(_, id)| page_of(id))
                .chain([CHECKS_INDEX])
                .map(collapse)
                .collect();
            for text in cause_texts(code) {
                found += 1;
                if !pages.iter().any(|page| page.contains(&text)) {
                    missing.push(format!("{}: {text}", path.strip_prefix(root).unwrap().display()));
                }
            }
        }
        assert!(found > 80, "the scan finds the causes and fixes of the checks ({found})");
        assert!(
            missing.is_empty(),
            "causes or fixes the checks state that no page in docs/checks/ has (add them, with their fix, to the check's page or a shared section of README.md):\n{}",
            missing.join("\n")
        );
    }

    /// `NAME` → `suite::name` of every `pub const NAME: &str = "suite::name";` of ids.rs, and
    /// `docker_resource_class` → the family.
    fn id_constants(ids_rs: &str) -> Vec<(String, String)> {
        let mut ids: Vec<(String, String)> = ids_rs
            .lines()
            .filter_map(|line| line.strip_prefix("pub const ")?.split_once(": &str = \""))
            .map(|(name, rest)| (name.to_string(), rest.trim_end_matches("\";").to_string()))
            .collect();
        ids.push(("docker_resource_class".into(), format!("{RESOURCE_CLASS_PREFIX}{ANY_CLASS}")));
        ids
    }

    fn collapse(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// A Rust source with every string and char literal blanked (same length), and the literals
    /// (contents unescaped) with their spans.
    fn blank_literals(code: &str) -> (String, Vec<(usize, usize, String)>) {
        let bytes = code.as_bytes();
        let mut blanked = code.as_bytes().to_vec();
        let mut literals = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        blanked[i] = b' ';
                        i += 1;
                    }
                }
                b'"' => {
                    let start = i;
                    let mut text = String::new();
                    i += 1;
                    while bytes[i] != b'"' {
                        if bytes[i] == b'\\' {
                            i += 1;
                            match bytes[i] {
                                b'\n' => {
                                    while bytes[i + 1].is_ascii_whitespace() {
                                        i += 1;
                                    }
                                }
                                b'n' => text.push('\n'),
                                other => text.push(char::from(other)),
                            }
                            i += 1;
                            continue;
                        }
                        let ch = code[i..].chars().next().unwrap();
                        text.push(ch);
                        i += ch.len_utf8();
                    }
                    i += 1;
                    blanked[start..i].fill(b' ');
                    literals.push((start, i, text));
                }
                b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                    let end = i + 1 + code[i + 1..].find('\'').map_or(0, |n| n + 1).max(2);
                    blanked[i..end].fill(b' ');
                    i = end;
                }
                _ => i += 1,
            }
        }
        (String::from_utf8(blanked).unwrap(), literals)
    }

    /// The index just past the bracket that closes the one opened at `open`.
    fn closing(blanked: &str, open: usize) -> usize {
        let mut depth = 0;
        for (i, b) in blanked.bytes().enumerate().skip(open) {
            match b {
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        }
        blanked.len()
    }

    /// The spans of the arguments of the call whose parenthesis opens at `open`.
    fn arguments(blanked: &str, open: usize) -> Vec<(usize, usize)> {
        let end = closing(blanked, open) - 1;
        let mut spans = Vec::new();
        let mut start = open + 1;
        let mut i = start;
        while i < end {
            match blanked.as_bytes()[i] {
                b'(' | b'{' | b'[' => i = closing(blanked, i),
                b',' => {
                    spans.push((start, i));
                    start = i + 1;
                    i += 1;
                }
                _ => i += 1,
            }
        }
        spans.push((start, end));
        spans
    }

    /// The spans (start, end) of the code that states causes and fixes, per the rules of
    /// [`every_cause_and_fix_in_the_checks_source_appears_in_a_page`].
    fn cause_spans(blanked: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        for call in [".cause(", ".remediation(", "causes.push(", "remedies.push("] {
            for (at, _) in blanked.match_indices(call) {
                let open = at + call.len() - 1;
                spans.push((open, closing(blanked, open)));
            }
        }
        for (at, _) in blanked.match_indices("let ") {
            let Some(equals) = blanked[at..].find('=').map(|n| at + n) else { continue };
            let pattern = &blanked[at..equals];
            if !(pattern.contains("cause") || pattern.contains("remediation")) {
                continue;
            }
            if pattern.contains('|') {
                continue;
            }
            let mut end = equals;
            while end < blanked.len() && blanked.as_bytes()[end] != b';' {
                end = if b"({[".contains(&blanked.as_bytes()[end]) { closing(blanked, end) } else { end + 1 };
            }
            spans.push((equals, end));
        }
        // Closures with a `cause` parameter: that argument of their calls.
        let takes_cause: Vec<(String, usize)> = blanked
            .match_indices("let ")
            .filter_map(|(at, _)| {
                let (name, rest) = blanked[at + 4..].split_once(" = |")?;
                let position =
                    rest.split('|').next()?.split(',').position(|param| param.trim().starts_with("cause:"))?;
                Some((name.trim().to_string(), position))
            })
            .collect();
        for (name, position) in &takes_cause {
            let call = format!("{name}(");
            for (at, _) in blanked.match_indices(&call) {
                let before = blanked[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let open = at + call.len() - 1;
                spans.extend(arguments(blanked, open).into_iter().nth(*position));
            }
        }
        // Functions of the file called inside those spans: their bodies.
        let mut called = Vec::new();
        for (start, end) in &spans {
            for (at, _) in blanked.match_indices("fn ") {
                let Some(name) =
                    blanked[at + 3..].split('(').next().filter(|n| n.chars().all(|c| c.is_alphanumeric() || c == '_'))
                else {
                    continue;
                };
                let span = &blanked[*start..*end];
                let is_called = span.match_indices(&format!("{name}(")).any(|(i, _)| {
                    let before = span[..i].chars().next_back().unwrap_or(' ');
                    !(before.is_alphanumeric() || before == '_' || before == '.')
                });
                if is_called && let Some(body) = blanked[at..].find('{').map(|n| at + n) {
                    called.push((body, closing(blanked, body)));
                }
            }
        }
        spans.extend(called);
        spans
    }

    /// The causes and fixes stated in `code` (a file's code outside its tests): of each
    /// literal, its longest stretch between placeholders, whitespace collapsed.
    fn cause_texts(code: &str) -> BTreeSet<String> {
        let (blanked, literals) = blank_literals(code);
        let spans = cause_spans(&blanked);
        literals
            .iter()
            .filter(|(start, end, _)| spans.iter().any(|(from, to)| from <= start && end <= to))
            .filter_map(|(_, _, text)| {
                let longest =
                    text.split('{').map(|part| part.rsplit('}').next().unwrap_or(part)).max_by_key(|s| s.len())?;
                let longest = collapse(longest);
                (longest.split(' ').count() >= 3 && longest != "a bug in realitycheck").then_some(longest)
            })
            .collect()
    }

    #[test]
    fn the_scan_finds_causes_in_every_form_the_checks_use() {
        let code = r#"
            fn recreate(namespace: &str) -> String { format!("make it again in {namespace} please") }
            fn judge() {
                let red = |summary: String, cause: &str| Diagnosis::new(summary).cause(cause);
                red(format!("a summary is no {y} cause"), "a cause passed to the closure");
                let (cause, remediation) = match x { A => ("a cause in a tuple arm", format!("a fix in {ns} a tuple arm")) };
                causes.push("a cause pushed onto the list");
                d.cause("a cause set inline").remediation(recreate(ns));
                d.observed("an observed line is no cause");
            }
        "#;
        let texts: Vec<String> = cause_texts(code).into_iter().collect();
        assert_eq!(
            texts,
            [
                "a cause in a tuple arm",
                "a cause passed to the closure",
                "a cause pushed onto the list",
                "a cause set inline",
                "a tuple arm",
                "make it again in",
            ]
        );
    }
}
