//! What an upgrade of CircleCI server must respect, as data with its sources: the last patch
//! of each minor version (overridable by the `upgrade.latest_patches` setting, so that a newer
//! patch needs no new realitycheck), the path from one version to another (one minor at a
//! time, from the last patch), the MongoDB and the Vault → Tink migration each target needs,
//! the server-terraform tag its Nomad modules move to, and the Helm values keys it renamed or
//! removed. The `upgrade::*` checks judge with it; `versions` keeps what a version expects of
//! the cluster.
//!
//! Sources: "DOCS" is github.com/circleci/circleci-docs at 9734a14 (2026-08-20): the playbook's
//! `serverversion4x` attributes, `docs/server-admin-4.{7..10}/modules/installation/pages/
//! upgrade-server.adoc` and the values references; "TF" is
//! github.com/CircleCI-Public/server-terraform's tags (4.4.0 to 4.9.1, main at 888333e).

use std::fmt;

use crate::versions::ServerVersion;

/// When [`MINORS`]' last patches were read.
pub const PATCHES_AS_OF: &str = "2026-08-20";
/// When server-terraform's tags of [`MINORS`] were read (its `main` at 888333e).
pub const TERRAFORM_AS_OF: &str = "2026-04-27";
/// Where [`MINORS`]' last patches come from.
pub const PATCHES_SOURCE: &str = "CircleCI's docs";

/// Whether an upgrade to a minor version needs contexts encrypted with Tink instead of Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinkMigration {
    /// The guide says nothing of it.
    NotAsked,
    /// The guide says the migration "should" be done before the backup that precedes the upgrade.
    Recommended,
    /// The guide says it "must" be done: restoring Vault from a backup may fail afterwards.
    Required,
}

/// What an upgrade to one minor version of CircleCI server asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minor {
    pub major: u32,
    pub minor: u32,
    /// Its last patch as of [`PATCHES_AS_OF`].
    pub latest_patch: u32,
    /// The oldest MongoDB (major, minor) the chart's services run with.
    pub mongodb_minimum: Option<(u32, u32)>,
    /// Whether contexts must be encrypted with Tink before the upgrade.
    pub tink: TinkMigration,
    /// The server-terraform tag its upgrade guide moves the Nomad modules to, where one exists.
    pub terraform_tag: Option<&'static str>,
    /// The Nomad version that tag installs on the clients, where the module pins one.
    pub terraform_nomad: Option<&'static str>,
    /// Where each fact of the row comes from.
    pub source: &'static str,
}

impl Minor {
    /// `4.10`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    fn latest(&self) -> ServerVersion {
        ServerVersion { major: self.major, minor: self.minor, patch: Some(self.latest_patch) }
    }
}

/// The minor versions realitycheck knows the upgrade of, oldest first.
pub const MINORS: &[Minor] = &[
    minor(0, 6, None, TinkMigration::NotAsked, None, None, "DOCS playbook"),
    minor(1, 10, None, TinkMigration::NotAsked, None, None, "DOCS playbook"),
    minor(2, 7, None, TinkMigration::NotAsked, None, None, "DOCS playbook"),
    minor(3, 9, None, TinkMigration::NotAsked, None, None, "DOCS playbook"),
    minor(4, 7, None, TinkMigration::NotAsked, Some("4.4.1"), None, "DOCS playbook; TF tags"),
    minor(5, 5, None, TinkMigration::NotAsked, Some("4.5.0"), None, "DOCS playbook; TF tags"),
    minor(6, 6, None, TinkMigration::NotAsked, Some("4.6.0"), None, "DOCS playbook; TF tags"),
    minor(7, 15, None, TinkMigration::Recommended, Some("4.7.0"), None, "DOCS playbook, 4.7 upgrade guide; TF tags"),
    minor(
        8,
        12,
        None,
        TinkMigration::Recommended,
        Some("4.8.9"),
        Some("1.7.7"),
        "DOCS playbook, 4.8 upgrade guide; TF tags (nomad_version 1.7.7-1)",
    ),
    minor(
        9,
        5,
        Some((4, 4)),
        TinkMigration::Required,
        Some("4.9.1"),
        Some("1.7.7"),
        "DOCS playbook, 4.9 upgrade guide (MongoDB 4.4 or later); TF 4.9.1 (nomad_version 1.7.7-1)",
    ),
    minor(
        10,
        0,
        Some((7, 0)),
        TinkMigration::Required,
        None,
        Some("1.7.7"),
        "DOCS playbook, 4.10 upgrade guide (MongoDB 7.0 or higher; it links tag 4.10.0, which TF does not have at 888333e); TF main (nomad_client_version 1.7.7-1)",
    ),
];

#[allow(clippy::too_many_arguments)]
const fn minor(
    minor: u32,
    latest_patch: u32,
    mongodb_minimum: Option<(u32, u32)>,
    tink: TinkMigration,
    terraform_tag: Option<&'static str>,
    terraform_nomad: Option<&'static str>,
    source: &'static str,
) -> Minor {
    Minor { major: 4, minor, latest_patch, mongodb_minimum, tink, terraform_tag, terraform_nomad, source }
}

/// Releases not to upgrade to, with why.
pub const BROKEN_RELEASES: &[(ServerVersion, &str)] =
    &[(ServerVersion { major: 4, minor: 7, patch: Some(7) }, "CircleCI's docs call 4.7.7 a broken release")];

/// The minor versions 4.7 may be upgraded to from directly (its guide accepts 4.3 to 4.6).
const DIRECT_TO_4_7: std::ops::RangeInclusive<u32> = 3..=6;

/// The last patch of each minor version: [`MINORS`], with the `upgrade.latest_patches` setting
/// over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchTable {
    latest: Vec<ServerVersion>,
    overridden: Vec<ServerVersion>,
}

impl PatchTable {
    /// [`MINORS`]' last patches, each replaced by the entry of `overrides` (full versions, as the
    /// setting checked them) for the same minor, or added when the minor is newer.
    pub fn with(overrides: &[String]) -> PatchTable {
        let overridden: Vec<ServerVersion> = overrides.iter().filter_map(|text| ServerVersion::parse(text)).collect();
        let mut latest: Vec<ServerVersion> = MINORS
            .iter()
            .map(Minor::latest)
            .filter(|known| !overridden.iter().any(|given| given.minor_release() == known.minor_release()))
            .chain(overridden.iter().copied())
            .collect();
        latest.sort_by_key(|version| version.minor_release());
        PatchTable { latest, overridden }
    }

    /// The last patch of `minor`, if the table knows it.
    pub fn latest(&self, minor: (u32, u32)) -> Option<ServerVersion> {
        self.latest.iter().copied().find(|version| version.minor_release() == minor)
    }

    /// The newest version the table knows.
    pub fn newest(&self) -> ServerVersion {
        *self.latest.last().expect("MINORS is not empty")
    }

    /// `4.0 – 4.10`: the minor versions the table knows.
    pub fn span(&self) -> String {
        let minor = |version: &ServerVersion| format!("{}.{}", version.major, version.minor);
        format!("{} – {}", minor(&self.latest[0]), minor(&self.newest()))
    }

    /// Where the last patches come from: the table's date and source, and the setting's entries.
    pub fn source(&self) -> String {
        let table = format!("last patches as of {PATCHES_AS_OF}, from {PATCHES_SOURCE}");
        match self.overridden.as_slice() {
            [] => format!("{table}; newer ones go in upgrade.latest_patches"),
            given => format!("{table}, and {} from upgrade.latest_patches", list(given)),
        }
    }
}

/// The version `upgrade-check --to` asks about, and the last patches it is judged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeTarget {
    /// The target, its patch filled in with its minor's last when only `major.minor` was asked.
    pub version: ServerVersion,
    /// Whether the patch was asked for (`--to 4.10.1`), not filled in.
    pub patch_asked: bool,
    /// The last patches.
    pub table: PatchTable,
}

impl UpgradeTarget {
    /// The target `to` names (`4.10`, `4.10.0`; none: the newest the table knows) with the
    /// `upgrade.latest_patches` setting's entries; the error says what is wrong with `to`.
    pub fn resolve(to: Option<&str>, latest_patches: &[String]) -> Result<UpgradeTarget, String> {
        let table = PatchTable::with(latest_patches);
        let Some(to) = to else {
            return Ok(UpgradeTarget { version: table.newest(), patch_asked: false, table });
        };
        let asked = ServerVersion::parse(to)
            .ok_or_else(|| format!("`{to}` is not a server version; give one like 4.10 or 4.10.0"))?;
        let last = table.latest(asked.minor_release()).ok_or_else(|| {
            format!(
                "realitycheck knows the upgrades of server {} ({}); for a newer release, add its last patch to upgrade.latest_patches (like [\"{}.{}.0\"])",
                table.span(),
                table.source(),
                asked.major,
                asked.minor
            )
        })?;
        Ok(match asked.patch {
            Some(_) => UpgradeTarget { version: asked, patch_asked: true, table },
            None => UpgradeTarget { version: last, patch_asked: false, table },
        })
    }

    /// `4.10.0`, or `4.10 (4.10.0, its last patch)` when only the minor version was asked.
    pub fn describe(&self) -> String {
        match self.patch_asked {
            true => self.version.to_string(),
            false => format!("{}.{} ({}, its last patch)", self.version.major, self.version.minor, self.version),
        }
    }
}

/// What an upgrade from one version to another takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// The installation runs the target already.
    AlreadyThere,
    /// A `helm upgrade` to the target is supported from here.
    Direct,
    /// The target is reached through these releases, in order, the target last.
    Steps(Vec<ServerVersion>),
    /// The target is older than what runs.
    Downgrade,
    /// The target is a release not to upgrade to; `instead` is the minor's last patch.
    Broken { why: &'static str, instead: Option<ServerVersion> },
    /// The path depends on the installed patch, which nothing gave; `needed` is the patch the
    /// installation must run for a direct upgrade.
    PatchUnknown { needed: ServerVersion },
    /// The table does not know the last patch of an intermediate minor version.
    MinorUnknown { minor: (u32, u32) },
}

/// The way from `installed` to `target` (its patch filled in by the caller when only the minor
/// version was asked): one minor version at a time, each from its last patch; 4.7 directly
/// from 4.3 to 4.6.
pub fn path(installed: ServerVersion, target: ServerVersion, table: &PatchTable) -> Path {
    if let Some((_, why)) = BROKEN_RELEASES.iter().find(|(broken, _)| *broken == target) {
        return Path::Broken { why, instead: table.latest(target.minor_release()) };
    }
    let patch = |version: ServerVersion| version.patch.unwrap_or(0);
    if installed.minor_release() > target.minor_release()
        || (installed.minor_release() == target.minor_release()
            && installed.patch.is_some()
            && patch(installed) > patch(target))
    {
        return Path::Downgrade;
    }
    if installed.minor_release() == target.minor_release() {
        return if installed.patch.is_some() && patch(installed) == patch(target) {
            Path::AlreadyThere
        } else {
            Path::Direct
        };
    }
    let mut steps = Vec::new();
    let mut at = installed;
    while at.minor_release() < target.minor_release() {
        let direct_to_4_7 = at.major == 4 && DIRECT_TO_4_7.contains(&at.minor) && target.minor_release() >= (4, 7);
        let next_minor = if direct_to_4_7 { (4, 7) } else { (at.major, at.minor + 1) };
        if !direct_to_4_7 {
            let Some(last) = table.latest(at.minor_release()) else {
                return Path::MinorUnknown { minor: at.minor_release() };
            };
            match at.patch {
                None if next_minor == target.minor_release() => return Path::PatchUnknown { needed: last },
                None => steps.push(last),
                Some(current) if current < patch(last) => steps.push(last),
                Some(_) => {}
            }
        }
        let next = match table.latest(next_minor) {
            _ if next_minor == target.minor_release() => target,
            Some(last) => last,
            None => return Path::MinorUnknown { minor: next_minor },
        };
        steps.push(next);
        at = next;
    }
    if steps == [target] { Path::Direct } else { Path::Steps(steps) }
}

/// The row of [`MINORS`] of a version's minor, if realitycheck knows it.
pub fn minor_of(version: ServerVersion) -> Option<&'static Minor> {
    MINORS.iter().find(|row| (row.major, row.minor) == version.minor_release())
}

/// A Helm values key that a release renamed or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValuesChange {
    /// The key (dotted), with everything under it.
    pub key: &'static str,
    /// What replaces it; `None` when nothing does.
    pub replacement: Option<&'static str>,
    /// The release that made the change.
    pub since: (u32, u32),
    /// What to do.
    pub what_to_do: &'static str,
}

impl ValuesChange {
    /// Whether the given key `given` (dotted) is this key or under it.
    pub fn covers(&self, given: &str) -> bool {
        given == self.key || given.strip_prefix(self.key).is_some_and(|rest| rest.starts_with('.'))
    }

    /// `4.7`.
    pub fn release(&self) -> String {
        format!("{}.{}", self.since.0, self.since.1)
    }
}

/// The values keys releases renamed or removed (DOCS values references and change notes of 4.7
/// to 4.10).
pub const VALUES_CHANGES: &[ValuesChange] = &[
    ValuesChange {
        key: "machine_provisioner.machine_agent_base_url",
        replacement: Some("machine_provisioner.agent_base_url"),
        since: (4, 7),
        what_to_do: "move its value to machine_provisioner.agent_base_url",
    },
    ValuesChange {
        key: "docker_provisioner.config_path",
        replacement: Some("docker_provisioner.custom_config"),
        since: (4, 8),
        what_to_do: "move its value to docker_provisioner.custom_config",
    },
    ValuesChange {
        key: "machine_provisioner.config_path",
        replacement: Some("machine_provisioner.custom_config"),
        since: (4, 8),
        what_to_do: "move its value to machine_provisioner.custom_config",
    },
    ValuesChange {
        key: "global.tracing",
        replacement: Some("global.otel"),
        since: (4, 9),
        what_to_do: "OpenTelemetry replaces it: set global.otel.enabled, collector_host, collector_port and sample_rate instead",
    },
    ValuesChange {
        key: "telegraf",
        replacement: None,
        since: (4, 10),
        what_to_do: "4.10 runs no Telegraf: delete the key",
    },
];

/// The release from which workflow retention is read under another key, which its upgrade does
/// not migrate (it is set at run time, in the REPL, not in the values).
pub const RETENTION_RENAMED: (u32, u32) = (4, 10);

/// The note of the plan for [`RETENTION_RENAMED`].
pub const RETENTION_NOTE: &str = "after the upgrade, re-apply a custom workflow retention: 4.10 reads `:wfc-workflow-expired-delete-after-days` instead of `:wfc-workflow-deletion-retention-period` and does not migrate the value (unset, workflows are kept 660 days); it is set in the REPL (`set-setting`), so no check can read it";

/// `4.8.12, 4.9.5`.
pub fn list(versions: &[ServerVersion]) -> String {
    versions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// `4.8.3 → 4.8.12 → 4.9.5 → 4.10.0`.
pub struct Route<'a> {
    pub from: ServerVersion,
    pub steps: &'a [ServerVersion],
}

impl fmt::Display for Route<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.from)?;
        for step in self.steps {
            write!(f, " → {step}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> ServerVersion {
        ServerVersion::parse(text).unwrap()
    }

    fn steps(from: &str, to: &str) -> Path {
        path(v(from), v(to), &PatchTable::with(&[]))
    }

    #[test]
    fn one_minor_at_a_time_from_its_last_patch() {
        assert_eq!(steps("4.9.5", "4.10.0"), Path::Direct);
        assert_eq!(steps("4.8.12", "4.9.5"), Path::Direct);
        assert_eq!(steps("4.9.2", "4.10.0"), Path::Steps(vec![v("4.9.5"), v("4.10.0")]));
        assert_eq!(steps("4.8.3", "4.10.0"), Path::Steps(vec![v("4.8.12"), v("4.9.5"), v("4.10.0")]));
        assert_eq!(steps("4.8.12", "4.10.0"), Path::Steps(vec![v("4.9.5"), v("4.10.0")]));
        let route = Route { from: v("4.8.3"), steps: &[v("4.8.12"), v("4.9.5"), v("4.10.0")] };
        assert_eq!(route.to_string(), "4.8.3 → 4.8.12 → 4.9.5 → 4.10.0");
    }

    #[test]
    fn four_seven_takes_four_three_to_four_six_directly() {
        assert_eq!(steps("4.4.2", "4.7.15"), Path::Direct);
        assert_eq!(steps("4.3.0", "4.7.15"), Path::Direct);
        assert_eq!(steps("4.4.7", "4.8.12"), Path::Steps(vec![v("4.7.15"), v("4.8.12")]));
        assert_eq!(steps("4.2.1", "4.7.15"), Path::Steps(vec![v("4.2.7"), v("4.3.9"), v("4.7.15")]));
        assert_eq!(steps("4.6.6", "4.7.15"), Path::Direct);
    }

    #[test]
    fn patches_within_a_minor_downgrades_and_the_version_already_there() {
        assert_eq!(steps("4.9.2", "4.9.5"), Path::Direct);
        assert_eq!(steps("4.10.0", "4.10.0"), Path::AlreadyThere);
        assert_eq!(steps("4.10.0", "4.9.5"), Path::Downgrade);
        assert_eq!(steps("4.9.5", "4.9.2"), Path::Downgrade);
        assert_eq!(steps("4.9", "4.9.5"), Path::Direct, "a patch upgrade whatever the patch");
    }

    #[test]
    fn a_broken_release_is_no_target_and_an_unknown_patch_is_said() {
        let Path::Broken { instead, .. } = steps("4.6.6", "4.7.7") else { panic!("4.7.7 is broken") };
        assert_eq!(instead, Some(v("4.7.15")));
        assert_eq!(steps("4.9", "4.10.0"), Path::PatchUnknown { needed: v("4.9.5") });
        assert_eq!(steps("4.8", "4.10.0"), Path::Steps(vec![v("4.8.12"), v("4.9.5"), v("4.10.0")]));
    }

    #[test]
    fn the_setting_s_patches_beat_the_table_and_add_minors() {
        let table = PatchTable::with(&["4.9.6".into(), "4.11.0".into()]);
        assert_eq!(table.latest((4, 9)), Some(v("4.9.6")));
        assert_eq!(table.newest(), v("4.11.0"));
        assert_eq!(path(v("4.9.5"), v("4.10.0"), &table), Path::Steps(vec![v("4.9.6"), v("4.10.0")]));
        assert_eq!(path(v("4.10.0"), v("4.11.0"), &table), Path::Direct);
        assert!(table.source().contains("4.9.6, 4.11.0 from upgrade.latest_patches"), "{}", table.source());
        assert_eq!(PatchTable::with(&[]).span(), "4.0 – 4.10");
        assert_eq!(steps("4.10.0", "4.12.0"), Path::MinorUnknown { minor: (4, 11) });
    }

    #[test]
    fn the_target_is_the_newest_known_or_the_last_patch_of_the_minor_asked() {
        let newest = UpgradeTarget::resolve(None, &[]).unwrap();
        assert_eq!((newest.version, newest.patch_asked), (v("4.10.0"), false));
        assert_eq!(newest.describe(), "4.10 (4.10.0, its last patch)");
        assert_eq!(UpgradeTarget::resolve(Some("4.9"), &[]).unwrap().version, v("4.9.5"));
        let asked = UpgradeTarget::resolve(Some("v4.10.1"), &[]).unwrap();
        assert_eq!((asked.version, asked.describe()), (v("4.10.1"), "4.10.1".to_string()));
        assert_eq!(UpgradeTarget::resolve(Some("4.11"), &["4.11.2".into()]).unwrap().version, v("4.11.2"));
        let unknown = UpgradeTarget::resolve(Some("4.11"), &[]).unwrap_err();
        assert!(unknown.contains("4.0 – 4.10") && unknown.contains("[\"4.11.0\"]"), "{unknown}");
        assert!(UpgradeTarget::resolve(Some("latest"), &[]).unwrap_err().contains("not a server version"));
    }

    #[test]
    fn values_changes_cover_their_key_and_what_is_under_it() {
        let tracing = VALUES_CHANGES.iter().find(|c| c.key == "global.tracing").unwrap();
        assert!(tracing.covers("global.tracing.enabled"));
        assert!(tracing.covers("global.tracing"));
        assert!(!tracing.covers("global.tracingx"));
        assert!(!tracing.covers("global.otel.enabled"));
    }
}
