//! What differs between the CircleCI server versions realitycheck knows, one row a minor
//! version, each citing its source: the Kubernetes versions it supports, its in-cluster Nomad
//! servers (image, replicas), whether its Nomad servers may run outside the cluster and how
//! their HTTP API is served, whether Nomad's RPC mTLS may be turned off, and the chart's
//! workloads it added or removed. Every check that expects something that depends on the
//! version asks [`lookup`]; a version newer than the newest row is judged by that row.
//!
//! Sources: "DOCS" is github.com/circleci/circleci-docs at 9734a14 (2026-08-20),
//! `docs/server-admin-4.{7..10}/` and `archive/server-admin-4.{1..6}/`; "TF" is
//! github.com/CircleCI-Public/server-terraform (tags 4.4.0 to 4.9.1, main at 888333e).

use std::cmp::Ordering;
use std::fmt;

/// A CircleCI server version as a chart version or the configuration gives it: `4.10`,
/// `4.8.12`, `v4.9.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    /// `None` when only `major.minor` was given.
    pub patch: Option<u32>,
}

impl ServerVersion {
    /// `4.10.0`, `4.10`, `v4.8.12`; a pre-release or build suffix of the patch is ignored
    /// (`4.10.0-rc.1`). `None` for anything else.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let core = text.trim().trim_start_matches('v').split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            None => None,
            Some(patch) => Some(patch.parse().ok()?),
        };
        parts.next().is_none().then_some(ServerVersion { major, minor, patch })
    }

    /// The minor release it belongs to.
    pub fn minor_release(self) -> (u32, u32) {
        (self.major, self.minor)
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(patch) => write!(f, "{}.{}.{patch}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// A Kubernetes `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubernetesVersion {
    pub major: u32,
    pub minor: u32,
}

impl KubernetesVersion {
    /// What `/version` answers: major `1` and minor `34` (or `34+`, as EKS and GKE say).
    pub fn of(major: &str, minor: &str) -> Option<KubernetesVersion> {
        let digits = |text: &str| text.trim_end_matches('+').parse::<u32>().ok();
        Some(KubernetesVersion { major: digits(major)?, minor: digits(minor)? })
    }

    /// From a `gitVersion` such as `v1.34.2-eks-1234`, when major and minor are blank.
    pub fn of_git_version(git_version: &str) -> Option<KubernetesVersion> {
        let mut parts = git_version.trim_start_matches('v').split('.');
        KubernetesVersion::of(parts.next()?, parts.next()?)
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The Kubernetes versions a server release supports, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubernetesRange {
    pub oldest: KubernetesVersion,
    pub newest: KubernetesVersion,
}

impl KubernetesRange {
    const fn new(oldest: u32, newest: u32) -> KubernetesRange {
        KubernetesRange {
            oldest: KubernetesVersion { major: 1, minor: oldest },
            newest: KubernetesVersion { major: 1, minor: newest },
        }
    }

    /// Whether `version` is within the range.
    pub fn contains(&self, version: KubernetesVersion) -> bool {
        self.oldest <= version && version <= self.newest
    }
}

impl fmt::Display for KubernetesRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} – {}", self.oldest, self.newest)
    }
}

/// How Nomad servers outside the cluster serve their HTTP API, where a release allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalServers {
    /// The chart knows no servers outside the cluster.
    Impossible,
    /// `nomad.server.internal: false`; the servers' HTTP API is plain HTTP (`tls { http =
    /// false }`), only their RPC is mTLS.
    PlainHttp,
    /// `nomad.server.internal: false`; the servers' HTTP API is HTTPS, with no client
    /// certificate asked (`verify_https_client = false`).
    Https,
}

/// What one minor release of CircleCI server expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
    /// The Kubernetes versions it supports.
    pub kubernetes: KubernetesRange,
    /// The range the docs gave before, and until when, where they changed it.
    pub kubernetes_earlier: Option<(KubernetesRange, &'static str)>,
    /// The chart's default `nomad.server.image`, where the docs name it.
    pub nomad_server_image: Option<&'static str>,
    /// The chart's default `nomad.server.replicas`.
    pub nomad_server_replicas: u32,
    /// Whether its Nomad servers may run outside the cluster, and how they serve HTTP.
    pub external_servers: ExternalServers,
    /// Whether Nomad's RPC mTLS is mandatory (the option to turn it off was removed).
    pub mtls_mandatory: bool,
    /// Values keys of workloads the chart added in this release.
    pub workloads_added: &'static [&'static str],
    /// Values keys of workloads the chart removed in this release.
    pub workloads_removed: &'static [&'static str],
    /// Where each fact of the row comes from.
    pub source: &'static str,
}

impl Release {
    /// `4.10`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

/// The releases realitycheck knows, oldest first.
pub const RELEASES: &[Release] = &[
    Release {
        major: 4,
        minor: 4,
        kubernetes: KubernetesRange::new(26, 31),
        kubernetes_earlier: None,
        nomad_server_image: None,
        nomad_server_replicas: 3,
        external_servers: ExternalServers::Impossible,
        mtls_mandatory: false,
        workloads_added: &[],
        workloads_removed: &[],
        source: "DOCS archive/server-admin-4.4/antora.yml (Kubernetes); values reference 4.4 (nomad.server.replicas 3, CircleCI's Nomad image)",
    },
    Release {
        major: 4,
        minor: 5,
        kubernetes: KubernetesRange::new(26, 31),
        kubernetes_earlier: None,
        nomad_server_image: None,
        nomad_server_replicas: 3,
        external_servers: ExternalServers::Impossible,
        mtls_mandatory: false,
        workloads_added: &["ciam_gateway", "ciam_service", "web_ui_authentication"],
        workloads_removed: &[],
        source: "DOCS archive/server-admin-4.5 (Kubernetes, values reference)",
    },
    Release {
        major: 4,
        minor: 6,
        kubernetes: KubernetesRange::new(26, 31),
        kubernetes_earlier: None,
        nomad_server_image: None,
        nomad_server_replicas: 3,
        external_servers: ExternalServers::Impossible,
        mtls_mandatory: false,
        workloads_added: &["authentication_service.login_api"],
        workloads_removed: &[],
        source: "DOCS archive/server-admin-4.6 (Kubernetes, values reference)",
    },
    Release {
        major: 4,
        minor: 7,
        kubernetes: KubernetesRange::new(31, 33),
        kubernetes_earlier: None,
        nomad_server_image: None,
        nomad_server_replicas: 5,
        external_servers: ExternalServers::Impossible,
        mtls_mandatory: false,
        workloads_added: &[],
        workloads_removed: &[],
        source: "DOCS server-admin-4.7 (Kubernetes; values reference: nomad.server.replicas 5)",
    },
    Release {
        major: 4,
        minor: 8,
        kubernetes: KubernetesRange::new(33, 35),
        kubernetes_earlier: Some((KubernetesRange::new(31, 33), "2026-02-09")),
        nomad_server_image: Some("hashicorp/nomad:1.10.0"),
        nomad_server_replicas: 5,
        external_servers: ExternalServers::PlainHttp,
        mtls_mandatory: false,
        workloads_added: &[
            "public_api_service",
            "authentication_service.worker",
            "authentication_service.internal_api",
        ],
        workloads_removed: &["schedulerer"],
        source: "DOCS server-admin-4.8/antora.yml (Kubernetes 1.33 – 1.35 since 483a415, 2026-02-09), values reference 4.8, phase 3 (external servers); TF modules/nomad-server-aws templates (tls { http = false })",
    },
    Release {
        major: 4,
        minor: 9,
        kubernetes: KubernetesRange::new(33, 35),
        kubernetes_earlier: Some((KubernetesRange::new(31, 33), "2026-02-09")),
        nomad_server_image: Some("hashicorp/nomad:1.11.3"),
        nomad_server_replicas: 5,
        external_servers: ExternalServers::Https,
        mtls_mandatory: true,
        workloads_added: &["lock_job_provider", "no_op_job_provider", "users_bff"],
        workloads_removed: &["web_ui_authentication", "feature_flags_api"],
        source: "DOCS server-admin-4.9 (Kubernetes 1.33 – 1.35 since 483a415, values reference 4.9); TF 4.9.0 (tls.http = true, PR #242; mTLS mandatory, #239/#240; verify_https_client = false)",
    },
    Release {
        major: 4,
        minor: 10,
        kubernetes: KubernetesRange::new(33, 35),
        kubernetes_earlier: None,
        nomad_server_image: Some("hashicorp/nomad:1.11.3"),
        nomad_server_replicas: 5,
        external_servers: ExternalServers::Https,
        mtls_mandatory: true,
        workloads_added: &["notifications.audit_log_batcher", "notifications.audit_log_enricher"],
        workloads_removed: &["telegraf"],
        source: "DOCS server-admin-4.10/antora.yml (Kubernetes), values reference 4.10; TF nomad-server-aws (HTTPS, verify_https_client = false)",
    },
];

/// The release a version is judged by, and whether that is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The version asked about.
    pub version: ServerVersion,
    /// The row it is judged by.
    pub release: &'static Release,
    /// How the row relates to the version.
    pub fit: Fit,
}

/// How a row of [`RELEASES`] relates to the version it judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The row is the version's own minor release.
    Own,
    /// The version is newer than every row: the newest applies.
    Newer,
    /// The version is older than every row: the oldest applies.
    Older,
}

impl Lookup {
    /// What a pass note says of the version: `server 4.10`, or how it was judged.
    pub fn describe(&self) -> String {
        let Lookup { version, release, fit } = self;
        match fit {
            Fit::Own => format!("server {version}"),
            Fit::Newer => {
                format!("server {version}, newer than any version realitycheck knows: judged as {}", release.name())
            }
            Fit::Older => {
                format!("server {version}, older than any version realitycheck knows: judged as {}", release.name())
            }
        }
    }
}

/// The row that judges `version`: its own minor release, else the newest (for a newer
/// version) or the oldest (for an older one) row.
pub fn lookup(version: ServerVersion) -> Lookup {
    let (oldest, newest) = (&RELEASES[0], &RELEASES[RELEASES.len() - 1]);
    let minor = |release: &Release| (release.major, release.minor);
    if let Some(release) = RELEASES.iter().find(|release| minor(release) == version.minor_release()) {
        return Lookup { version, release, fit: Fit::Own };
    }
    match version.minor_release().cmp(&minor(oldest)) {
        Ordering::Less => Lookup { version, release: oldest, fit: Fit::Older },
        _ => Lookup { version, release: newest, fit: Fit::Newer },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_charts_and_operators_write_them() {
        assert_eq!(ServerVersion::parse("4.10.0"), Some(ServerVersion { major: 4, minor: 10, patch: Some(0) }));
        assert_eq!(ServerVersion::parse("v4.8"), Some(ServerVersion { major: 4, minor: 8, patch: None }));
        assert_eq!(ServerVersion::parse("4.10.1-rc.2").map(|v| v.to_string()).as_deref(), Some("4.10.1"));
        for bad in ["4", "four.ten", "4.10.0.1", "", "4.x"] {
            assert_eq!(ServerVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(KubernetesVersion::of("1", "34+"), Some(KubernetesVersion { major: 1, minor: 34 }));
        assert_eq!(KubernetesVersion::of_git_version("v1.31.4-eks-2d5f260"), KubernetesVersion::of("1", "31"));
        assert_eq!(KubernetesVersion::of("", ""), None);
    }

    #[test]
    fn the_table_is_ordered_and_each_row_cites_a_source() {
        for pair in RELEASES.windows(2) {
            assert!((pair[0].major, pair[0].minor) < (pair[1].major, pair[1].minor));
        }
        for release in RELEASES {
            assert!(release.source.contains("DOCS"), "{}", release.name());
            assert!(release.kubernetes.oldest <= release.kubernetes.newest);
        }
    }

    #[test]
    fn each_version_finds_its_row_and_others_the_nearest_end() {
        let at = |text: &str| lookup(ServerVersion::parse(text).unwrap());
        let own = at("4.8.12");
        assert_eq!((own.release.name(), own.fit), ("4.8".to_string(), Fit::Own));
        assert_eq!(own.release.kubernetes.to_string(), "1.33 – 1.35");
        assert_eq!(own.release.external_servers, ExternalServers::PlainHttp);
        assert_eq!(at("4.10.0").release.external_servers, ExternalServers::Https);
        assert_eq!(at("4.4.7").release.nomad_server_replicas, 3);
        let newer = at("4.11.0");
        assert_eq!((newer.release.name(), newer.fit), ("4.10".to_string(), Fit::Newer));
        assert_eq!(newer.describe(), "server 4.11.0, newer than any version realitycheck knows: judged as 4.10");
        assert_eq!(at("5.0").fit, Fit::Newer);
        assert_eq!(at("4.2.1").describe(), "server 4.2.1, older than any version realitycheck knows: judged as 4.4");
        assert_eq!(own.describe(), "server 4.8.12");
        let k = |minor| KubernetesVersion { major: 1, minor };
        assert!(own.release.kubernetes.contains(k(33)) && own.release.kubernetes.contains(k(35)));
        assert!(!own.release.kubernetes.contains(k(31)) && !own.release.kubernetes.contains(k(36)));
    }
}
