//! Where an installation runs, as `CIRCLE_CLOUD_PROVIDER`, the configuration and the project's
//! `cloud_provider` parameter name it: the machine provisioner starts VMs on AWS and GCP only.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The cloud an installation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    /// Amazon Web Services: machine, Arm, Windows and remote docker jobs.
    Aws,
    /// Google Cloud: machine, Windows and remote docker jobs (no Arm).
    Gcp,
    /// Anywhere else: docker and runner jobs only.
    Other,
}

impl CloudProvider {
    /// Every provider, in the order messages list them.
    pub const ALL: [CloudProvider; 3] = [CloudProvider::Aws, CloudProvider::Gcp, CloudProvider::Other];

    /// The provider of a lowercase name (`aws`, `gcp`, `other`).
    pub fn parse(value: &str) -> Option<CloudProvider> {
        CloudProvider::ALL.into_iter().find(|provider| provider.as_str() == value)
    }

    /// The lowercase name the configuration, the environment and the project's parameter use.
    pub fn as_str(self) -> &'static str {
        match self {
            CloudProvider::Aws => "aws",
            CloudProvider::Gcp => "gcp",
            CloudProvider::Other => "other",
        }
    }
}

impl fmt::Display for CloudProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
