//! Which checks a run includes, with libtest's argument model: positional filters
//! (substring of the check ID, or the whole ID with `--exact`), `--skip` patterns, and
//! `--ignored` / `--include-ignored` for checks that do not apply to this installation; and
//! what the profile asks: the checks it runs only, the tags it leaves out.

use crate::check::{Applicability, SkipReason, Tag};

/// What to do with checks that do not apply to this installation (libtest's ignored tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IgnoredMode {
    /// Report them as skipped with the reason; run the rest.
    #[default]
    Report,
    /// Run only them (`--ignored`).
    Only,
    /// Run them too (`--include-ignored`).
    Include,
}

/// Which checks a run includes, as the command line and the profile ask. The default
/// selects every check and reports the ones that do not apply as skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Positional filters: a check is in when any of them matches its ID; none means every check.
    pub filters: Vec<String>,
    /// `--skip` patterns: a check whose ID any of them matches is left out.
    pub skips: Vec<String>,
    /// `--exact`: filters and skips match the whole ID, not a substring of it.
    pub exact: bool,
    /// What to do with checks that do not apply (`--ignored`, `--include-ignored`).
    pub ignored: IgnoredMode,
    /// Checks carrying one of these tags are left out (the `health` profile leaves out `mutates`).
    pub excluded_tags: Vec<Tag>,
    /// When not empty, the whole IDs of the only checks the run may include (the `canary`
    /// profile's job checks); the filters and skips choose among them.
    pub only: Vec<String>,
}

/// What selection decided for one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Run the check.
    Run,
    /// Selected, but it does not apply (or is not configured) and was not asked for:
    /// reported as skipped with this reason.
    Skip(SkipReason),
}

impl Selection {
    fn matches(&self, pattern: &str, id: &str) -> bool {
        if self.exact { id == pattern } else { id.contains(pattern) }
    }

    /// Decides for one check; `None` means the check is not part of the run at all.
    pub fn decide(&self, id: &str, tags: &[Tag], applicability: &Applicability) -> Option<Disposition> {
        let allowed = self.only.is_empty() || self.only.iter().any(|only| only == id);
        let filtered_in = allowed && (self.filters.is_empty() || self.filters.iter().any(|f| self.matches(f, id)));
        let skipped = self.skips.iter().any(|s| self.matches(s, id));
        let excluded = tags.iter().any(|tag| self.excluded_tags.contains(tag));
        if !filtered_in || skipped || excluded {
            return None;
        }
        match (applicability.skip_reason(), self.ignored) {
            (None, IgnoredMode::Only) => None,
            (None, _) => Some(Disposition::Run),
            (Some(reason), IgnoredMode::Report) => Some(Disposition::Skip(reason)),
            (Some(_), IgnoredMode::Only | IgnoredMode::Include) => Some(Disposition::Run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 4] =
        ["cluster::pods_ready", "nomad::servers_alive", "nomad::clients_ready", "api::authenticated"];

    fn selected(selection: &Selection) -> Vec<&'static str> {
        IDS.iter().copied().filter(|id| selection.decide(id, &[], &Applicability::Applies).is_some()).collect()
    }

    #[test]
    fn no_filter_selects_everything() {
        assert_eq!(selected(&Selection::default()), IDS.to_vec());
    }

    #[test]
    fn filters_are_substrings_and_any_of_them_matches() {
        let selection = Selection { filters: vec!["nomad::".into(), "pods".into()], ..Default::default() };
        assert_eq!(selected(&selection), vec!["cluster::pods_ready", "nomad::servers_alive", "nomad::clients_ready"]);
    }

    #[test]
    fn exact_needs_the_whole_id_for_filters_and_skips() {
        let selection = Selection { filters: vec!["nomad".into()], exact: true, ..Default::default() };
        assert!(selected(&selection).is_empty());
        let selection = Selection { filters: vec!["nomad::clients_ready".into()], exact: true, ..Default::default() };
        assert_eq!(selected(&selection), vec!["nomad::clients_ready"]);
        let selection = Selection { skips: vec!["nomad".into()], exact: true, ..Default::default() };
        assert_eq!(selected(&selection).len(), 4);
    }

    #[test]
    fn skip_removes_matching_checks() {
        let selection = Selection { skips: vec!["nomad".into()], ..Default::default() };
        assert_eq!(selected(&selection), vec!["cluster::pods_ready", "api::authenticated"]);
    }

    #[test]
    fn only_keeps_the_whole_ids_it_names_and_the_filters_choose_among_them() {
        let only = vec!["nomad::clients_ready".into(), "api::authenticated".into(), "nomad".into()];
        let selection = Selection { only: only.clone(), ..Default::default() };
        assert_eq!(selected(&selection), vec!["nomad::clients_ready", "api::authenticated"], "whole IDs only");
        let filtered = Selection { only, filters: vec!["nomad::".into(), "pods".into()], ..Default::default() };
        assert_eq!(selected(&filtered), vec!["nomad::clients_ready"]);
    }

    #[test]
    fn excluded_tags_leave_checks_out() {
        let selection = Selection { excluded_tags: vec![Tag::Mutates], ..Default::default() };
        assert_eq!(selection.decide("p::t", &[Tag::Mutates], &Applicability::Applies), None);
        assert_eq!(selection.decide("p::t", &[Tag::NeedsApi], &Applicability::Applies), Some(Disposition::Run));
    }

    #[test]
    fn ignored_modes_follow_libtest() {
        let na = Applicability::NotApplicable("gcp only".into());
        let report = Selection::default();
        assert_eq!(
            report.decide("x::y", &[], &na),
            Some(Disposition::Skip(SkipReason::NotApplicable("gcp only".into())))
        );
        let nc = Applicability::NotConfigured("no host".into());
        assert_eq!(
            report.decide("x::y", &[], &nc),
            Some(Disposition::Skip(SkipReason::NotConfigured("no host".into())))
        );
        let only = Selection { ignored: IgnoredMode::Only, ..Default::default() };
        assert_eq!(only.decide("x::y", &[], &na), Some(Disposition::Run));
        assert_eq!(only.decide("x::y", &[], &Applicability::Applies), None);
        let include = Selection { ignored: IgnoredMode::Include, ..Default::default() };
        assert_eq!(include.decide("x::y", &[], &na), Some(Disposition::Run));
        assert_eq!(include.decide("x::y", &[], &Applicability::Applies), Some(Disposition::Run));
    }
}
