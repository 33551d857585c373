//! Resolved settings: the layers (registry defaults, reference file, user file, environment,
//! flags) merged in that order, the target and profile chosen, every value checked as its
//! definition in `defs.rs` says, the token read; the `[serve]` table of `realitycheck serve`
//! in the `serve` submodule.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Tag, Timeouts};
use url::Url;

use crate::defs;
use crate::error::{ConfigError, Origin};
use crate::layer::{Entry, FileLayer, Layer};
use crate::load::{Flags, REFERENCE_CONFIG, SourceFile, config_path, env_layer, read_apart};
use crate::registry::{self, Kind, Relative, Scope, Setting};
use crate::value::Value;
use harness::Secret;
use realitycheck_project::CloudProvider;

mod serve;

pub use serve::{ServeSettings, redacted_url};

/// The name of the target made of `[defaults]`, environment and flags when the file
/// defines no `[targets.NAME]`.
pub const IMPLICIT_TARGET: &str = "default";

/// The profile a profile of one's own starts from: the registry's defaults are its values.
pub const BASE_PROFILE: &str = "laptop";

/// One installation to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its name: the NAME of `[targets.NAME]`, or `default` (`IMPLICIT_TARGET`).
    pub name: String,
    /// Base URL of the installation, normalised; `None` skips the API checks.
    pub host: Option<Url>,
    /// Personal API token, from `--token-file`, else the variable `token_env` names (CIRCLE_TOKEN
    /// without it), else `token_file`; `None` skips the API checks.
    pub token: Option<Secret>,
    /// Where the installation runs; `None` skips the jobs that need the machine provisioner.
    pub cloud_provider: Option<CloudProvider>,
    /// Slug of the realitycheck CircleCI project (`vcs/org/repo`); `None` skips the checks
    /// that run its pipeline.
    pub project: Option<String>,
    /// PEM file of the CA certificates that sign the installation's certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Accept any TLS certificate from the installation (self-signed installs).
    pub insecure: bool,
    /// The CircleCI server version of the installation (`4.10`, `4.8.12`), when configured:
    /// it beats what the Helm release says.
    pub server_version: Option<String>,
    /// An installation certificate that expires within this many days is red.
    pub tls_min_days: u32,
    /// Pages of one API list read at most: a server that hands out `next_page_token`s
    /// forever is stopped there; at least 1.
    pub max_pages: u32,
    /// How to reach the Kubernetes cluster the installation runs in.
    pub kubernetes: Kubernetes,
    /// Where the Nomad servers are and how many clients must be ready.
    pub nomad: Nomad,
    /// What `upgrade-check` needs besides what the installation says.
    pub upgrade: Upgrade,
    /// How `capacity` and the canary judge waits.
    pub capacity: Capacity,
    /// What the pipeline realitycheck triggers runs.
    pub pipeline: Pipeline,
}

/// How to reach the Kubernetes cluster of the installation: a target's `kubernetes` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Kubernetes {
    /// Kubeconfig file; `None`: KUBECONFIG, then `~/.kube/config`, then the in-cluster
    /// service account, as kubectl finds them.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context; `None`: the current context.
    pub context: Option<String>,
    /// Namespace of the CircleCI server Helm release; never empty.
    pub namespace: String,
    /// The chart version the release must run (after a `helm upgrade --version`); `None`:
    /// any version.
    pub expect_chart_version: Option<String>,
}

/// What the Nomad checks look for: a target's `nomad` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Nomad {
    /// Label selector of the Nomad server pods; realitycheck runs the nomad CLI in one of them.
    pub server_selector: String,
    /// The HTTP API of Nomad servers outside the cluster; `None`: the release's
    /// `nomad.server.serverHostname` on port 4646.
    pub address: Option<Url>,
    /// PEM file of the CA of the external servers' certificate; `None`: the mTLS Secret's.
    pub ca_cert: Option<PathBuf>,
    /// PEM certificate presented to external servers that ask for one.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The name the external servers' certificate must carry.
    pub tls_server_name: String,
    /// A Nomad ACL token for external servers.
    pub token: Option<Secret>,
    /// Nomad clients that must be ready, eligible, not draining, with a healthy docker
    /// driver; at least 1.
    pub min_clients: u32,
    /// A Nomad mTLS certificate (or its CA) that expires within this many days is red.
    pub mtls_min_days: u32,
}

pub use realitycheck_project::DOCKER_RESOURCE_CLASSES;

/// `[capacity]`: how `capacity` and `serve`'s canary judge how long jobs wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// The 95th percentile wait from queued to started may not exceed it.
    pub max_wait_p95: Duration,
    /// The most containers one measurement may start.
    pub max_jobs: u32,
    /// How soon the autoscaler should add a client once jobs queue.
    pub autoscaler_reaction: Duration,
}

/// `[upgrade]`: what `upgrade-check` cannot read from the installation.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgrade {
    /// Last patches of minor versions, newer than the table realitycheck carries.
    pub latest_patches: Vec<String>,
    /// The version of an external MongoDB, which realitycheck cannot read.
    pub mongodb_version: Option<String>,
    /// The oldest a completed Velero backup may be before an upgrade.
    pub backup_max_age: Duration,
    /// Where Velero keeps its Backup resources.
    pub velero_namespace: String,
}

/// What the pipeline realitycheck triggers runs, beyond what the cloud provider decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Branch to build; `None`: the project's default branch.
    pub branch: Option<String>,
    /// Self-hosted runner resource class (`namespace/name`); `None` skips the runner job.
    pub runner_resource_class: Option<String>,
    /// Run the Windows job (opt-in).
    pub windows: bool,
    /// Docker resource classes to check one by one (a subset of [`DOCKER_RESOURCE_CLASSES`]).
    pub docker_resource_classes: Vec<String>,
    /// Prefix of every docker image of the project (air-gapped installs), empty or ending in `/`.
    pub image_registry: String,
}

impl Target {
    /// A target named `name` with every setting at its default and no token: what tests and
    /// benchmarks start from (they set the host, token, CA bundle, kubeconfig they point at).
    pub fn with_defaults(name: &str) -> Target {
        let values = resolve(Scope::Target, &Layer::default(), Path::new("."))
            .unwrap_or_else(|error| panic!("the registry's defaults are valid: {error}"));
        Target::of(name, &values, None)
    }

    /// The target `name` from its resolved values and token.
    fn of(name: &str, values: &Resolved, token: Option<Secret>) -> Target {
        Target {
            name: name.to_string(),
            host: values.read(&defs::HOST, Value::as_url),
            token,
            cloud_provider: values.read(&defs::CLOUD_PROVIDER, Value::as_text).and_then(|c| CloudProvider::parse(&c)),
            project: values.read(&defs::PROJECT, Value::as_text),
            ca_bundle: values.read(&defs::CA_BUNDLE, Value::as_path),
            insecure: values.must(&defs::INSECURE, Value::as_bool),
            server_version: values.read(&defs::SERVER_VERSION, Value::as_text),
            tls_min_days: values.must(&defs::TLS_MIN_DAYS, Value::as_u32),
            max_pages: values.must(&defs::MAX_PAGES, Value::as_u32),
            kubernetes: Kubernetes {
                kubeconfig: values.read(&defs::KUBECONFIG, Value::as_path),
                context: values.read(&defs::KUBE_CONTEXT, Value::as_text),
                namespace: values.must(&defs::NAMESPACE, Value::as_text),
                expect_chart_version: values.read(&defs::EXPECT_CHART_VERSION, Value::as_text),
            },
            nomad: Nomad {
                server_selector: values.must(&defs::SERVER_SELECTOR, Value::as_text),
                address: values.read(&defs::NOMAD_ADDRESS, Value::as_url),
                ca_cert: values.read(&defs::NOMAD_CA_CERT, Value::as_path),
                client_cert: values.read(&defs::NOMAD_CLIENT_CERT, Value::as_path),
                client_key: values.read(&defs::NOMAD_CLIENT_KEY, Value::as_path),
                tls_server_name: values.must(&defs::NOMAD_TLS_SERVER_NAME, Value::as_text),
                token: values.read(&defs::NOMAD_TOKEN, Value::as_text).map(Secret::new),
                min_clients: values.must(&defs::MIN_CLIENTS, Value::as_u32),
                mtls_min_days: values.must(&defs::MTLS_MIN_DAYS, Value::as_u32),
            },
            upgrade: Upgrade {
                latest_patches: values.must(&defs::LATEST_PATCHES, Value::as_list),
                mongodb_version: values.read(&defs::MONGODB_VERSION, Value::as_text),
                backup_max_age: values.must(&defs::BACKUP_MAX_AGE, Value::as_duration),
                velero_namespace: values.must(&defs::VELERO_NAMESPACE, Value::as_text),
            },
            capacity: Capacity {
                max_wait_p95: values.must(&defs::MAX_WAIT_P95, Value::as_duration),
                max_jobs: values.must(&defs::MAX_JOBS, Value::as_u32),
                autoscaler_reaction: values.must(&defs::AUTOSCALER_REACTION, Value::as_duration),
            },
            pipeline: Pipeline {
                branch: values.read(&defs::BRANCH, Value::as_text),
                runner_resource_class: values.read(&defs::RUNNER_RESOURCE_CLASS, Value::as_text),
                windows: values.must(&defs::WINDOWS, Value::as_bool),
                docker_resource_classes: values.must(&defs::DOCKER_RESOURCE_CLASSES, Value::as_list),
                image_registry: values.must(&defs::IMAGE_REGISTRY, Value::as_text),
            },
        }
    }
}

/// How a run behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Its name: the NAME of `[profiles.NAME]`.
    pub name: String,
    /// Times a failed check runs again; a pass after a failure is reported as flaky.
    pub retries: u32,
    /// Multiplies every timeout and the deadline (slow installs, slow machines): 0.1 to 100.
    pub timeout_scale: f64,
    /// How long the whole run may take, before `timeout_scale`; unfinished checks are then
    /// reported as interrupted.
    pub deadline: Duration,
    /// Checks that run at once; at least 1.
    pub concurrency: usize,
    /// The whole IDs of the only checks it runs (the `canary`'s job checks); empty: every
    /// check.
    pub checks: Vec<String>,
    /// Checks carrying one of these tags are left out.
    pub exclude_tags: Vec<Tag>,
    /// Timeouts of one attempt of a check, by kind of check, before `timeout_scale`: the
    /// profile's `timeouts` table.
    pub timeouts: Timeouts,
    /// Write an evidence bundle into [`Profile::collect_dir`] when a check is red.
    pub collect: bool,
    /// Where evidence bundles go, as written: a relative path starts at the working directory
    /// of the run (as `--junit` and `--json` do).
    pub collect_dir: PathBuf,
}

impl Profile {
    /// The profile `name` from its resolved values.
    fn of(name: &str, values: &Resolved) -> Profile {
        Profile {
            name: name.to_string(),
            retries: values.must(&defs::RETRIES, Value::as_u32),
            timeout_scale: values.must(&defs::TIMEOUT_SCALE, Value::as_number),
            deadline: values.must(&defs::DEADLINE, Value::as_duration),
            concurrency: values.must(&defs::CONCURRENCY, Value::as_u32) as usize,
            checks: values.must(&defs::ONLY_CHECKS, Value::as_list),
            exclude_tags: values
                .must(&defs::EXCLUDE_TAGS, Value::as_list)
                .iter()
                .filter_map(|tag| Tag::parse(tag))
                .collect(),
            timeouts: Timeouts {
                cluster: values.must(&defs::TIMEOUT_CLUSTER, Value::as_duration),
                api: values.must(&defs::TIMEOUT_API, Value::as_duration),
                pipeline: values.must(&defs::TIMEOUT_PIPELINE, Value::as_duration),
            },
            collect: values.must(&defs::COLLECT, Value::as_bool),
            collect_dir: values.must(&defs::COLLECT_DIR, Value::as_path),
        }
    }

    /// The timeouts a run uses: [`Profile::timeouts`] scaled by `timeout_scale`. The one
    /// place where timeouts are scaled; the engine, the checks and their clients read these.
    pub fn scaled_timeouts(&self) -> Timeouts {
        let Timeouts { cluster, api, pipeline } = self.timeouts;
        let scale = |duration: Duration| duration.mul_f64(self.timeout_scale);
        Timeouts { cluster: scale(cluster), api: scale(api), pipeline: scale(pipeline) }
    }

    /// The deadline a run uses: [`Profile::deadline`] scaled by `timeout_scale`.
    pub fn scaled_deadline(&self) -> Duration {
        self.deadline.mul_f64(self.timeout_scale)
    }
}

/// The values of one table (a target, a profile, `[serve]`) as a run uses them, each with
/// where it came from: what `config check` prints and the evidence bundle records. Debug shows
/// a secret's value as `[redacted]`.
#[derive(Clone, PartialEq)]
pub struct Resolved {
    scope: Scope,
    values: BTreeMap<&'static str, (Option<Value>, Origin)>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self
            .iter()
            .map(|(setting, value, origin)| (setting.name(), registry::debug_value(setting, &(value, origin))));
        f.debug_map().entries(shown).finish()
    }
}

impl Resolved {
    /// Each setting of the table, in the registry's order, with its value (`None`: unset) and
    /// where it came from; `None` for both for a setting no file holds (the token: see
    /// [`Config::token_source`]).
    pub fn iter(&self) -> impl Iterator<Item = (&'static Setting, Option<&Value>, Option<&Origin>)> + '_ {
        registry::of(self.scope).map(|setting| match self.values.get(setting.key) {
            Some((value, origin)) => (setting, value.as_ref(), Some(origin)),
            None => (setting, None, None),
        })
    }

    /// The value of `setting`, `None` when unset.
    pub fn value(&self, setting: &Setting) -> Option<&Value> {
        self.values.get(setting.key).and_then(|(value, _)| value.as_ref())
    }

    /// Where the value of `setting` came from.
    pub fn origin(&self, setting: &Setting) -> Origin {
        self.values.get(setting.key).map_or(Origin::BuiltIn, |(_, origin)| origin.clone())
    }

    /// The value of `setting` as `pick` reads its kind; a kind the reader does not expect is
    /// a bug of the registry, which every resolution of the built-in defaults reveals.
    fn read<T>(&self, setting: &Setting, pick: impl Fn(&Value) -> Option<T>) -> Option<T> {
        self.value(setting).map(|value| {
            pick(value)
                .unwrap_or_else(|| panic!("setting `{}` holds {value:?}, not what its reader expects", setting.name()))
        })
    }

    /// The value of a setting that has a default.
    fn must<T>(&self, setting: &Setting, pick: impl Fn(&Value) -> Option<T>) -> T {
        self.read(setting, pick).unwrap_or_else(|| panic!("setting `{}` has no default", setting.name()))
    }

    /// The values as JSON, nested by their dotted keys; a secret as `set` or `unset`, a URL
    /// without its path when it is a secret.
    pub fn to_json(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for (setting, value, origin) in self.iter() {
            if origin.is_none() {
                continue;
            }
            let json = match value {
                None => serde_json::Value::Null,
                Some(Value::Url(url)) if setting.secret => redacted_url(url).into(),
                Some(_) if setting.secret => "set".into(),
                Some(value) => value.to_json(),
            };
            let mut keys: Vec<&str> = setting.key.split('.').collect();
            let leaf = keys.pop().unwrap_or(setting.key);
            let mut table = &mut root;
            for key in keys {
                table = table
                    .entry(key)
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()))
                    .as_object_mut()
                    .expect("a dotted key's parent is a table");
            }
            table.insert(leaf.to_string(), json);
        }
        serde_json::Value::Object(root)
    }
}

impl Value {
    fn as_text(&self) -> Option<String> {
        match self {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        }
    }
    fn as_url(&self) -> Option<Url> {
        match self {
            Value::Url(url) => Some(url.clone()),
            _ => None,
        }
    }
    fn as_path(&self) -> Option<PathBuf> {
        match self {
            Value::Path(path) => Some(path.clone()),
            _ => None,
        }
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Whole(n) => u32::try_from(*n).ok(),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn as_duration(&self) -> Option<Duration> {
        match self {
            Value::Duration(d) => Some(*d),
            _ => None,
        }
    }
    fn as_list(&self) -> Option<Vec<String>> {
        match self {
            Value::List(items) => Some(items.clone()),
            _ => None,
        }
    }
    fn as_address(&self) -> Option<SocketAddr> {
        match self {
            Value::Address(address) => Some(*address),
            _ => None,
        }
    }
}

/// The values of `scope` that `layer` gives, else the registry's defaults: relative paths
/// resolved (at the file's directory or `cwd`, as the setting's kind says), each checked. An
/// error names where the bad value came from and the setting's fix.
fn resolve(scope: Scope, layer: &Layer, cwd: &Path) -> Result<Resolved, ConfigError> {
    let mut values = BTreeMap::new();
    for setting in registry::of(scope).filter(|setting| !read_apart(setting)) {
        let default =
            || Some(Entry { value: setting.default_value()?, origin: Origin::BuiltIn, field: setting.name() });
        let entry = layer.get(setting).cloned().or_else(default);
        let Some(Entry { value, origin, field }) = entry else {
            values.insert(setting.key, (None, Origin::BuiltIn));
            continue;
        };
        let value = match (setting.kind, value) {
            (Kind::Path(Relative::ToSource), Value::Path(path)) => Value::Path(relative_to_origin(&origin, cwd, path)),
            (_, value) => value,
        };
        let value = match setting.check {
            Some(check) => {
                check(value).map_err(|message| ConfigError::invalid(origin.clone(), field, message, setting.fix))?
            }
            None => value,
        };
        values.insert(setting.key, (Some(value), origin));
    }
    Ok(Resolved { scope, values })
}

/// Relative paths in a file start at the file's directory; elsewhere, at `cwd`.
fn relative_to_origin(origin: &Origin, cwd: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    match origin {
        Origin::File { path: file, .. } => file.parent().unwrap_or(Path::new(".")).join(path),
        _ => cwd.join(path),
    }
}

/// What a run needs: one target, one profile, and the values they were made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configuration file read; `None` when there is none (built-in defaults,
    /// environment and flags only).
    pub config_file: Option<PathBuf>,
    /// The chosen target, resolved.
    pub target: Target,
    /// The chosen profile, resolved.
    pub profile: Profile,
    /// The target's values, each with where it came from.
    pub target_values: Resolved,
    /// The profile's values, each with where it came from.
    pub profile_values: Resolved,
}

impl Settings {
    /// The settings of the run as JSON, for the evidence bundle: the target's and the
    /// profile's values, the token only as `set` or `unset`.
    pub fn effective_json(&self) -> serde_json::Value {
        let mut target = self.target_values.to_json();
        target["name"] = self.target.name.clone().into();
        target[defs::TOKEN.key] = if self.target.token.is_some() { "set" } else { "unset" }.into();
        let mut profile = self.profile_values.to_json();
        profile["name"] = self.profile.name.clone().into();
        serde_json::json!({
            "config_file": self.config_file.as_ref().map(|path| path.display().to_string()),
            "target": target,
            "profile": profile,
        })
    }
}

/// Where a target's API token comes from; never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable: CIRCLE_TOKEN, or the one the target's `token_env` names.
    Env {
        /// The variable's name.
        var: String,
        /// Where `token_env` names it; `None` for CIRCLE_TOKEN.
        named_at: Option<Origin>,
    },
    /// A file, given by `--token-file` or `token_file`.
    File {
        /// The file, resolved (relative paths start at the configuration file's directory).
        path: PathBuf,
        /// Where it was given.
        given_at: Origin,
    },
}

/// Everything `load` needs from the outside world, so that tests can give it all.
pub struct LoadRequest<'a> {
    /// `--config FILE`; without it, the file `flags` name, if they name one.
    pub config_flag: Option<&'a Path>,
    /// Reads an environment variable.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Where `realitycheck.toml` is looked for and relative paths of flags start.
    pub cwd: &'a Path,
    /// What the flags say.
    pub flags: Flags,
}

/// The sources, read and parsed; targets and profiles are resolved from it by name.
pub struct Config {
    user: Option<SourceFile>,
    /// The reference file, then the user's file.
    merged: FileLayer,
    env: Layer,
    flags: Layer,
    /// The token variables read at load time, trimmed, by name: CIRCLE_TOKEN and every
    /// variable a `token_env` names, when set (blank ones included, as empty secrets).
    token_vars: BTreeMap<String, Secret>,
    cwd: PathBuf,
}

/// The variable a target's token comes from when it sets no `token_env`.
const DEFAULT_TOKEN_VAR: &str = match defs::TOKEN.env {
    Some(var) => var,
    None => panic!("the token has a variable"),
};

impl Config {
    /// Reads every source: the built-in reference, the configuration file if there is one,
    /// the environment (the token from CIRCLE_TOKEN) and the flags in `request`. Fails on a
    /// file that cannot be read or parsed, or a variable or flag that does not read as its
    /// setting's kind; the values themselves are checked when a target or profile is resolved.
    pub fn load(request: &LoadRequest<'_>) -> Result<Config, ConfigError> {
        let builtin =
            FileLayer::parse(Path::new("<built-in reference>"), REFERENCE_CONFIG)?.with_origin(&Origin::BuiltIn);
        let config_flag = request.config_flag.or_else(|| request.flags.get(&defs::CONFIG).map(Path::new));
        let user =
            config_path(config_flag, request.var, request.cwd).map(|path| SourceFile::read(&path)).transpose()?;
        let merged = match &user {
            Some(file) => builtin.merge(&file.layer),
            None => builtin,
        };
        let env = env_layer(request.var)?;
        let flags = request.flags.layer()?;
        // Targets are resolved later, one by one: read now every variable one may take its token from.
        let layers = std::iter::once(&merged.defaults).chain(merged.targets.values()).chain([&flags]);
        let named: Vec<String> = layers
            .filter_map(|layer| layer.get(&defs::TOKEN_ENV)?.value.as_text())
            .filter(|name| defs::TOKEN_ENV.read(name).is_ok())
            .collect();
        let token_vars = std::iter::once(DEFAULT_TOKEN_VAR.to_string())
            .chain(named)
            .filter_map(|name| Some((name.clone(), Secret::new((request.var)(&name)?.trim()))))
            .collect();
        Ok(Config { user, merged, env, flags, token_vars, cwd: request.cwd.to_path_buf() })
    }

    /// Every target the configuration defines ([`Config::target_names`]), resolved with
    /// [`Config::target`], in name order; the first error is returned.
    pub fn targets(&self) -> Result<Vec<Target>, ConfigError> {
        self.target_names().iter().map(|name| self.target(name)).collect()
    }

    /// The configuration file read, if there is one.
    pub fn config_file(&self) -> Option<&Path> {
        self.user.as_ref().map(|f| f.path.as_path())
    }

    /// Names of the targets the files define (the implicit one when they define none).
    pub fn target_names(&self) -> Vec<String> {
        if self.merged.targets.is_empty() {
            vec![IMPLICIT_TARGET.to_string()]
        } else {
            self.merged.targets.keys().cloned().collect()
        }
    }

    /// The chosen target and profile, resolved and validated.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        self.settings_of(&self.chosen_target()?, &self.chosen_profile()?)
    }

    /// The target `target` and the profile `profile`, resolved and validated.
    pub fn settings_of(&self, target: &str, profile: &str) -> Result<Settings, ConfigError> {
        let (target, target_values) = self.resolve_target(target)?;
        let profile_values = self.profile_values(profile)?;
        Ok(Settings {
            config_file: self.config_file().map(Path::to_path_buf),
            profile: Profile::of(profile, &profile_values),
            target,
            target_values,
            profile_values,
        })
    }

    /// What the sources say of a top-level setting (`profile`, `default_target`): the flags,
    /// then the environment, then the files.
    fn top(&self, setting: &Setting) -> Option<(String, Origin)> {
        let entry =
            self.flags.get(setting).or_else(|| self.env.get(setting)).or_else(|| self.merged.top.get(setting))?;
        Some((entry.value.as_text()?, entry.origin.clone()))
    }

    fn user_origin(&self, dotted: &str) -> Option<Origin> {
        self.user.as_ref()?.origin_of(dotted)
    }

    /// Names of the profiles the files define, the built-in ones included.
    pub fn profile_names(&self) -> Vec<String> {
        self.merged.profiles.keys().cloned().collect()
    }

    /// The profile a run uses, and where that choice comes from (flag, environment, file,
    /// built-in); an error when it names no profile.
    pub fn profile_choice(&self) -> Result<(String, Origin), ConfigError> {
        let (name, origin) = self.top(&defs::PROFILE).unwrap_or_else(|| (BASE_PROFILE.to_string(), Origin::BuiltIn));
        if self.merged.profiles.contains_key(&name) {
            return Ok((name, origin));
        }
        Err(self.no_such_profile(origin, defs::PROFILE.key, &name))
    }

    fn chosen_profile(&self) -> Result<String, ConfigError> {
        Ok(self.profile_choice()?.0)
    }

    /// The error for a profile `name` that no `[profiles.NAME]` defines.
    fn no_such_profile(&self, origin: Origin, field: &str, name: &str) -> ConfigError {
        ConfigError::invalid(
            origin,
            field,
            format!("there is no profile `{name}`"),
            format!(
                "use one of {}, or define [profiles.{name}] in the configuration file",
                self.merged.profiles.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ),
        )
    }

    /// The target a run checks, and where that choice comes from (flag, environment,
    /// `default_target`; built-in for the only target); `None` when several targets are
    /// defined and none is chosen (`serve` checks them all, `run` refuses). An error when the
    /// choice names no target.
    pub fn target_choice(&self) -> Result<Option<(String, Origin)>, ConfigError> {
        let names = self.target_names();
        match self.top(&defs::DEFAULT_TARGET) {
            Some((name, _)) if !names.contains(&name) => Err(ConfigError::invalid(
                self.top(&defs::DEFAULT_TARGET).map_or(Origin::BuiltIn, |(_, origin)| origin),
                "target",
                format!("there is no target `{name}`"),
                format!(
                    "use one of {}, or define [targets.{name}] in the configuration file",
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
            )),
            Some(choice) => Ok(Some(choice)),
            None if names.len() == 1 => Ok(Some((names[0].clone(), Origin::BuiltIn))),
            None => Ok(None),
        }
    }

    fn chosen_target(&self) -> Result<String, ConfigError> {
        if let Some((name, _)) = self.target_choice()? {
            return Ok(name);
        }
        let names = self.target_names();
        Err(ConfigError::invalid(
            self.user_origin("targets").unwrap_or(Origin::BuiltIn),
            "targets",
            format!("{} targets are defined and none is chosen", names.len()),
            format!(
                "choose one with --target NAME or REALITYCHECK_TARGET, or set default_target (one of {})",
                names.join(", ")
            ),
        ))
    }

    /// What the sources say about the target `name`, merged, not yet checked: the registry's
    /// defaults aside, `[defaults]`, then `[targets.NAME]`, then the environment, then the flags.
    fn target_layer(&self, name: &str) -> Layer {
        let own = self.merged.targets.get(name).cloned().unwrap_or_default();
        self.merged.defaults.clone().merge(&own).merge(&self.env).merge(&self.flags)
    }

    /// The target `name`, resolved and checked, with the token read.
    pub fn target(&self, name: &str) -> Result<Target, ConfigError> {
        Ok(self.resolve_target(name)?.0)
    }

    /// The values of the target `name`, each with where it came from, as `config check`
    /// prints them (the same errors as [`Config::target`]).
    pub fn target_values(&self, name: &str) -> Result<Resolved, ConfigError> {
        Ok(self.resolve_target(name)?.1)
    }

    fn resolve_target(&self, name: &str) -> Result<(Target, Resolved), ConfigError> {
        let layer = self.target_layer(name);
        let values = resolve(Scope::Target, &layer, &self.cwd)?;
        let token = self.token(name, &layer, values.value(&defs::HOST).is_some())?.map(|(token, _)| token);
        Ok((Target::of(name, &values, token), values))
    }

    /// Where the token of the target `name` comes from, as [`Config::target`] reads it (the
    /// same errors); `None` when it has none.
    pub fn token_source(&self, name: &str) -> Result<Option<TokenSource>, ConfigError> {
        let layer = self.target_layer(name);
        let has_host = layer.get(&defs::HOST).is_some();
        Ok(self.token(name, &layer, has_host)?.map(|(_, source)| source))
    }

    /// The profile `name`: the registry's defaults (the built-in `laptop` profile), then
    /// `[profiles.NAME]`, then the environment, then the flags, merged and checked.
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        Ok(Profile::of(name, &self.profile_values(name)?))
    }

    /// The values of the profile `name`, each with where it came from.
    pub fn profile_values(&self, name: &str) -> Result<Resolved, ConfigError> {
        let own = self.merged.profiles.get(name).cloned().unwrap_or_default();
        resolve(Scope::Profile, &own.merge(&self.env).merge(&self.flags), &self.cwd)
    }

    /// The token of the target `name`: a `--token-file` flag beats the variable `token_env`
    /// names (CIRCLE_TOKEN without it), which beats a `token_file` in the file. A `token_env`
    /// whose variable is unset or blank, with no `token_file`, is an error; so is a blank
    /// CIRCLE_TOKEN when there is a host to check.
    fn token(&self, name: &str, layer: &Layer, has_host: bool) -> Result<Option<(Secret, TokenSource)>, ConfigError> {
        let token_env = layer.get(&defs::TOKEN_ENV);
        let token_env_name = token_env.and_then(|entry| entry.value.as_text());
        let var_name = token_env_name.as_deref().unwrap_or(DEFAULT_TOKEN_VAR);
        if let Some(entry) = self.flags.get(&defs::TOKEN_FILE) {
            return self.read_token(entry, var_name).map(Some);
        }
        let from_var = self.token_vars.get(var_name);
        if let Some(token) = from_var.filter(|token| !token.expose().is_empty()) {
            let named_at = token_env.map(|entry| entry.origin.clone());
            return Ok(Some((token.clone(), TokenSource::Env { var: var_name.to_string(), named_at })));
        }
        if let Some(entry) = layer.get(&defs::TOKEN_FILE) {
            return self.read_token(entry, var_name).map(Some);
        }
        if let Some(Entry { origin, field, .. }) = token_env.cloned() {
            let state = if from_var.is_some() { "is set but blank" } else { "is not set" };
            return Err(ConfigError::invalid(
                origin,
                field,
                format!("target `{name}` reads its API token from the environment variable {var_name}, which {state}"),
                format!(
                    "export {var_name} with the personal API token of target `{name}`'s installation, or give the target a token_file; remove token_env to read CIRCLE_TOKEN instead"
                ),
            ));
        }
        if has_host && from_var.is_some() {
            return Err(ConfigError::invalid(
                Origin::Env(DEFAULT_TOKEN_VAR.into()),
                DEFAULT_TOKEN_VAR,
                "the variable is set but empty, so every API check would be skipped",
                "export the personal API token in CIRCLE_TOKEN (or give --token-file); unset CIRCLE_TOKEN and the host to check the cluster only",
            ));
        }
        Ok(None)
    }

    fn read_token(&self, entry: &Entry, var_name: &str) -> Result<(Secret, TokenSource), ConfigError> {
        let written = entry.value.as_path().unwrap_or_default();
        let resolved = relative_to_origin(&entry.origin, &self.cwd, written.clone());
        let file = SecretFile {
            what: "token file",
            holds: "the personal API token",
            fix: format!("point token_file at a readable file holding the personal API token, or export {var_name}"),
        };
        let token = file.read(&resolved, &written, entry)?;
        Ok((token, TokenSource::File { path: resolved, given_at: entry.origin.clone() }))
    }
}

/// A file a setting names that holds a secret on one line: the API token, `serve`'s bearer
/// token.
pub(crate) struct SecretFile {
    /// What the file is, for messages (`token file`).
    pub what: &'static str,
    /// What it must hold (`the personal API token`).
    pub holds: &'static str,
    /// What to do when it cannot be read.
    pub fix: String,
}

impl SecretFile {
    /// The secret in `resolved`, which the setting of `entry` names as `written`. A missing
    /// "file" named like a token is most likely the token itself: never echoed.
    pub fn read(&self, resolved: &Path, written: &Path, entry: &Entry) -> Result<Secret, ConfigError> {
        let invalid =
            |message: String, fix: String| ConfigError::invalid(entry.origin.clone(), &entry.field, message, fix);
        let text = std::fs::read_to_string(resolved).map_err(|e| {
            let looks_like_a_token = !resolved.exists()
                && written.components().count() == 1
                && written.as_os_str().len() >= 16
                && !written.to_string_lossy().contains('.');
            let message = if looks_like_a_token {
                format!("the value given as the {} names no file (is it the token itself?)", self.what)
            } else {
                format!("cannot read the {} {}: {e}", self.what, resolved.display())
            };
            invalid(message, self.fix.clone())
        })?;
        let secret = text.trim();
        if secret.is_empty() || secret.contains(char::is_whitespace) {
            return Err(invalid(
                format!("the {} {} must hold exactly one token on one line", self.what, resolved.display()),
                format!("write only {} into the file", self.holds),
            ));
        }
        Ok(Secret::new(secret))
    }
}
