//! realitycheck's configuration: a TOML file, then the environment (`CIRCLE_HOSTNAME`,
//! `CIRCLE_TOKEN`, `CIRCLE_CLOUD_PROVIDER`, `REALITYCHECK_*`), then flags, layered in that
//! order; named targets and profiles; an embedded reference file that holds the defaults;
//! errors that name the file, line, field and fix; the `[serve]` table of `realitycheck
//! serve`. The token comes only from the environment (CIRCLE_TOKEN, or the variable a
//! target's `token_env` names) or a file, and is a `Secret`.

#![warn(missing_docs)]

mod defs;
mod error;
mod host;
mod layer;
mod load;
pub mod registry;
mod settings;
mod starter;
mod value;
mod values;

pub use error::{ConfigError, Origin};
pub use harness::Timeouts;
pub use host::{display_host, normalise_host};
/// Every setting, by name: `setting::HOST`, `setting::MAX_PAGES`, … (see [`registry`]).
pub mod setting {
    pub use crate::defs::*;
}
pub use harness::Secret;
pub use load::{DEFAULT_FILE_NAME, Flags, REFERENCE_CONFIG};
pub use realitycheck_project::CloudProvider;
pub use registry::Setting;
pub use settings::{
    BASE_PROFILE, Capacity, Config, DOCKER_RESOURCE_CLASSES, IMPLICIT_TARGET, Kubernetes, LoadRequest, Nomad, Pipeline,
    Profile, Resolved, ServeSettings, Settings, Target, TokenSource, Upgrade, redacted_url,
};
pub use starter::Starter;
pub use value::Value;
