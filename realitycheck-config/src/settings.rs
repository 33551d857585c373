//! Resolved settings: the layers (reference file, user file, environment, flags) merged
//! in that order, the target and profile chosen, every value validated, the token read;
//! the `[serve]` table of `realitycheck serve` in the `serve` submodule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Tag, Timeouts};
use url::Url;

use crate::error::{ConfigError, Origin, fix_for};
use crate::host::normalise_host;
use crate::layer::{CloudProvider, FileLayer, Merge, ProfileLayer, TargetLayer};
use crate::load::{Overrides, REFERENCE_CONFIG, SourceFile, config_path, env_overrides};
use crate::secret::Secret;
use crate::values::{check_namespace, check_project, check_runner_resource_class, check_token_env};

mod serve;

pub use serve::{ServeSettings, redacted_url};

/// The name of the target made of `[defaults]`, environment and flags when the file
/// defines no `[targets.NAME]`.
pub const IMPLICIT_TARGET: &str = "default";

/// Bounds of `timeout_scale`: beyond them a timeout is meaningless (or overflows).
const MIN_TIMEOUT_SCALE: f64 = 0.1;
const MAX_TIMEOUT_SCALE: f64 = 100.0;

/// The longest a deadline or timeout may be, before `timeout_scale`: a run that waits longer
/// is not a check. Scaled by at most [`MAX_TIMEOUT_SCALE`], it stays far from any overflow.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The profile a profile of one's own starts from.
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
    /// An installation certificate that expires within this many days is red.
    pub tls_min_days: u32,
    /// Pages of one API list read at most: a server that hands out `next_page_token`s
    /// forever is stopped there; at least 1.
    pub max_pages: u32,
    /// How to reach the Kubernetes cluster the installation runs in.
    pub kubernetes: Kubernetes,
    /// Where the Nomad servers are and how many clients must be ready.
    pub nomad: Nomad,
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
    /// Nomad clients that must be ready, eligible, not draining, with a healthy docker
    /// driver; at least 1.
    pub min_clients: u32,
    /// A Nomad mTLS certificate (or its CA) that expires within this many days is red.
    pub mtls_min_days: u32,
}

pub use realitycheck_project::DOCKER_RESOURCE_CLASSES;

/// What the pipeline realitycheck triggers runs, beyond what the cloud provider decides.
/// The default is the reference configuration's: the default branch, no runner, no Windows,
/// no resource classes, images from Docker Hub.
#[derive(Debug, Clone, Default, PartialEq)]
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

/// What a run needs: one target, one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configuration file read; `None` when there is none (built-in defaults,
    /// environment and flags only).
    pub config_file: Option<PathBuf>,
    /// The chosen target, resolved.
    pub target: Target,
    /// The chosen profile, resolved.
    pub profile: Profile,
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
    /// `--config FILE`.
    pub config_flag: Option<&'a Path>,
    /// Reads an environment variable.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Where `realitycheck.toml` is looked for and relative paths of flags start.
    pub cwd: &'a Path,
    /// What the flags say.
    pub flags: Overrides,
}

/// The sources, read and parsed; targets and profiles are resolved from it by name.
pub struct Config {
    builtin: FileLayer,
    user: Option<SourceFile>,
    merged: FileLayer,
    env: Overrides,
    flags: Overrides,
    /// The token variables read at load time, trimmed, by name: CIRCLE_TOKEN and every
    /// variable a `token_env` names, when set (blank ones included, as empty secrets).
    token_vars: BTreeMap<String, Secret>,
    cwd: PathBuf,
}

/// The variable a target's token comes from when it sets no `token_env`.
const DEFAULT_TOKEN_VAR: &str = "CIRCLE_TOKEN";

/// Flag and environment variable that set each target key, for error messages.
const TARGET_KEYS: &[(&str, &str, &str)] = &[
    ("host", "--host", "CIRCLE_HOSTNAME"),
    ("token_file", "--token-file", ""),
    ("cloud_provider", "--cloud-provider", "CIRCLE_CLOUD_PROVIDER"),
    ("project", "--project", "REALITYCHECK_PROJECT"),
    ("ca_bundle", "--ca-bundle", "REALITYCHECK_CA_BUNDLE"),
    ("insecure", "--insecure", ""),
    ("kubernetes.kubeconfig", "--kubeconfig", ""),
    ("kubernetes.context", "--kube-context", "REALITYCHECK_KUBE_CONTEXT"),
    ("kubernetes.namespace", "--namespace", "REALITYCHECK_NAMESPACE"),
    ("kubernetes.expect_chart_version", "--expect-chart-version", ""),
    ("nomad.min_clients", "--min-clients", "REALITYCHECK_MIN_CLIENTS"),
    ("pipeline.runner_resource_class", "--runner-resource-class", "REALITYCHECK_RUNNER_RESOURCE_CLASS"),
];

impl Config {
    /// Reads every source: the built-in reference, the configuration file if there is one,
    /// the environment (the token from CIRCLE_TOKEN) and the flags in `request`. Fails on a
    /// file that cannot be read or parsed, or a variable that does not parse; the values
    /// themselves are checked when a target or profile is resolved.
    pub fn load(request: &LoadRequest<'_>) -> Result<Config, ConfigError> {
        let builtin = SourceFile::parse(Path::new("<built-in reference>"), REFERENCE_CONFIG.to_string())?.layer;
        let user = config_path(request.config_flag, request.var, request.cwd)
            .map(|path| SourceFile::read(&path))
            .transpose()?;
        let merged = match &user {
            Some(file) => builtin.clone().merge(file.layer.clone()),
            None => builtin.clone(),
        };
        // Targets are resolved later, one by one: read now every variable one may take its token from.
        let named = std::iter::once(&merged.defaults)
            .chain(merged.targets.values())
            .chain([&request.flags.target_layer])
            .filter_map(|layer| layer.token_env.as_deref())
            .filter(|name| check_token_env(name).is_ok());
        let token_vars = std::iter::once(DEFAULT_TOKEN_VAR)
            .chain(named)
            .filter_map(|name| Some((name.to_string(), Secret::new((request.var)(name)?.trim()))))
            .collect();
        Ok(Config {
            builtin,
            user,
            merged,
            env: env_overrides(request.var)?,
            flags: request.flags.clone(),
            token_vars,
            cwd: request.cwd.to_path_buf(),
        })
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
        Ok(Settings {
            config_file: self.config_file().map(Path::to_path_buf),
            target: self.target(&self.chosen_target()?)?,
            profile: self.profile(&self.chosen_profile()?)?,
        })
    }

    /// Where a choice (profile, target) came from: flag, environment, file or built-in.
    fn choice_origin(&self, flag: &str, env: &str, key: &str, from_flags: bool, from_env: bool) -> Origin {
        if from_flags {
            Origin::Flag(flag.into())
        } else if from_env {
            Origin::Env(env.into())
        } else {
            self.user_origin(key).unwrap_or(Origin::BuiltIn)
        }
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
        Ok((self.chosen_profile()?, self.profile_choice_origin()))
    }

    /// Where the choice of the profile comes from: `--profile`, REALITYCHECK_PROFILE, the
    /// file's `profile`, or built-in.
    fn profile_choice_origin(&self) -> Origin {
        let (flag, env) = (self.flags.profile.is_some(), self.env.profile.is_some());
        self.choice_origin("--profile", "REALITYCHECK_PROFILE", "profile", flag, env)
    }

    /// Where an explicit choice of the target comes from: `--target`, REALITYCHECK_TARGET, or
    /// the file's `default_target`.
    fn target_choice_origin(&self) -> Origin {
        let (flag, env) = (self.flags.target.is_some(), self.env.target.is_some());
        self.choice_origin("--target", "REALITYCHECK_TARGET", "default_target", flag, env)
    }

    /// The target a run checks, and where that choice comes from (flag, environment,
    /// `default_target`; built-in for the only target); `None` when several targets are
    /// defined and none is chosen (`serve` checks them all, `run` refuses). An error when the
    /// choice names no target.
    pub fn target_choice(&self) -> Result<Option<(String, Origin)>, ConfigError> {
        let explicit = self.flags.target.is_some() || self.env.target.is_some() || self.merged.default_target.is_some();
        if !explicit && self.target_names().len() > 1 {
            return Ok(None);
        }
        let name = self.chosen_target()?;
        let origin = if explicit { self.target_choice_origin() } else { Origin::BuiltIn };
        Ok(Some((name, origin)))
    }

    fn chosen_profile(&self) -> Result<String, ConfigError> {
        let name =
            self.flags.profile.clone().or_else(|| self.env.profile.clone()).or_else(|| self.merged.profile.clone());
        let name = name.unwrap_or_else(|| BASE_PROFILE.to_string());
        if self.merged.profiles.contains_key(&name) {
            return Ok(name);
        }
        Err(self.no_such_profile(self.profile_choice_origin(), "profile", &name))
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

    fn chosen_target(&self) -> Result<String, ConfigError> {
        let explicit = self
            .flags
            .target
            .clone()
            .or_else(|| self.env.target.clone())
            .or_else(|| self.merged.default_target.clone());
        let names = self.target_names();
        match explicit {
            Some(name) if names.contains(&name) => Ok(name),
            Some(name) => Err(ConfigError::invalid(
                self.target_choice_origin(),
                "target",
                format!("there is no target `{name}`"),
                format!(
                    "use one of {}, or define [targets.{name}] in the configuration file",
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
            )),
            None if names.len() == 1 => Ok(names[0].clone()),
            None => Err(ConfigError::invalid(
                self.user_origin("targets").unwrap_or(Origin::BuiltIn),
                "targets",
                format!("{} targets are defined and none is chosen", names.len()),
                format!(
                    "choose one with --target NAME or REALITYCHECK_TARGET, or set default_target (one of {})",
                    names.join(", ")
                ),
            )),
        }
    }

    /// Where the value of a target key came from (flag, environment, file or built-in),
    /// and the key's full name there.
    fn target_origin(&self, name: &str, key: &str) -> (Origin, String) {
        let (flag, env) = TARGET_KEYS.iter().find(|(k, _, _)| *k == key).map_or(("", ""), |(_, f, e)| (*f, *e));
        if !flag.is_empty() && target_key_is_set(&self.flags.target_layer, key) {
            return (Origin::Flag(flag.into()), key.into());
        }
        if !env.is_empty() && target_key_is_set(&self.env.target_layer, key) {
            return (Origin::Env(env.into()), key.into());
        }
        [format!("targets.{name}.{key}"), format!("defaults.{key}")]
            .into_iter()
            .find_map(|dotted| self.user_origin(&dotted).map(|origin| (origin, dotted)))
            .unwrap_or((Origin::BuiltIn, key.into()))
    }

    /// What the sources say about the target `name`, merged, not yet validated.
    fn target_layer(&self, name: &str) -> TargetLayer {
        self.merged
            .defaults
            .clone()
            .merge(self.merged.targets.get(name).cloned().unwrap_or_default())
            .merge(self.env.target_layer.clone())
            .merge(self.flags.target_layer.clone())
    }

    /// Where the token of the target `name` comes from, as [`Config::target`] reads it (the
    /// same errors); `None` when it has none.
    pub fn token_source(&self, name: &str) -> Result<Option<TokenSource>, ConfigError> {
        let layer = self.target_layer(name);
        Ok(self.token(name, &layer, layer.host.is_some())?.map(|(_, source)| source))
    }

    /// Where the value of the key `key` (`host`, `kubernetes.context`, …) of the target `name`
    /// comes from: flag, environment variable, file position, or the built-in defaults.
    pub fn target_key_origin(&self, name: &str, key: &str) -> Origin {
        self.target_origin(name, key).0
    }

    /// Where the value of the key `key` (`retries`, `timeouts.api`, …) of the profile `name`
    /// comes from: flag, environment variable, file position, or the built-in defaults.
    pub fn profile_key_origin(&self, name: &str, key: &str) -> Origin {
        self.profile_origin(name, key)
    }

    /// The target `name`: `[defaults]`, then `[targets.NAME]`, then the environment, then the
    /// flags, merged and validated, with relative paths resolved and the token read.
    pub fn target(&self, name: &str) -> Result<Target, ConfigError> {
        let layer = self.target_layer(name);
        let invalid = |key: &str, message: String| {
            let (origin, field) = self.target_origin(name, key);
            ConfigError::invalid(origin, field, message, fix_for(key, ""))
        };
        let host = layer.host.as_deref().map(normalise_host).transpose().map_err(|m| invalid("host", m))?;
        if let Some(project) = &layer.project {
            check_project(project).map_err(|m| invalid("project", m))?;
        }
        let namespace = layer.kubernetes.namespace.clone().unwrap_or_default();
        check_namespace(&namespace).map_err(|m| invalid("kubernetes.namespace", m))?;
        let server_selector = layer.nomad.server_selector.clone().unwrap_or_default();
        if server_selector.trim().is_empty() {
            return Err(invalid("nomad.server_selector", "the label selector is empty".into()));
        }
        let min_clients = layer.nomad.min_clients.unwrap_or(1);
        if min_clients == 0 {
            return Err(invalid("nomad.min_clients", "0 clients would make the check pass without any".into()));
        }
        let pipeline = validate_pipeline(layer.pipeline.clone()).map_err(|(key, m)| invalid(key, m))?;
        let max_pages = layer.max_pages.unwrap_or(500);
        if max_pages == 0 {
            return Err(invalid(
                "max_pages",
                "0 pages would read no list at all; give at least 1 (default 500)".into(),
            ));
        }
        let token = self.token(name, &layer, host.is_some())?.map(|(token, _)| token);
        Ok(Target {
            name: name.to_string(),
            host,
            token,
            cloud_provider: layer.cloud_provider,
            project: layer.project,
            ca_bundle: layer.ca_bundle.map(|p| self.relative_to_origin(&self.target_origin(name, "ca_bundle").0, p)),
            insecure: layer.insecure.unwrap_or(false),
            tls_min_days: layer.tls_min_days.unwrap_or(30),
            max_pages,
            kubernetes: Kubernetes {
                kubeconfig: layer
                    .kubernetes
                    .kubeconfig
                    .map(|p| self.relative_to_origin(&self.target_origin(name, "kubernetes.kubeconfig").0, p)),
                context: layer.kubernetes.context,
                namespace,
                expect_chart_version: layer
                    .kubernetes
                    .expect_chart_version
                    .map(|v| v.trim().trim_start_matches('v').to_string())
                    .filter(|v| !v.is_empty()),
            },
            nomad: Nomad { server_selector, min_clients, mtls_min_days: layer.nomad.mtls_min_days.unwrap_or(30) },
            pipeline,
        })
    }

    /// Relative paths in a file start at the file's directory; on a flag, at the cwd.
    fn relative_to_origin(&self, origin: &Origin, path: PathBuf) -> PathBuf {
        if path.is_absolute() {
            return path;
        }
        match origin {
            Origin::File { path: file, .. } => file.parent().unwrap_or(Path::new(".")).join(path),
            _ => self.cwd.join(path),
        }
    }

    /// The token of the target `name`: a `--token-file` flag beats the variable `token_env`
    /// names (CIRCLE_TOKEN without it), which beats a `token_file` in the file. A `token_env`
    /// whose variable is unset or blank, with no `token_file`, is an error; so is a blank
    /// CIRCLE_TOKEN when there is a host to check.
    fn token(
        &self,
        name: &str,
        layer: &TargetLayer,
        has_host: bool,
    ) -> Result<Option<(Secret, TokenSource)>, ConfigError> {
        if let Some(var_name) = &layer.token_env {
            self.valid_token_env(name, var_name)?;
        }
        let var_name = layer.token_env.as_deref().unwrap_or(DEFAULT_TOKEN_VAR);
        if let Some(path) = &self.flags.target_layer.token_file {
            return self.read_token(name, path, var_name).map(Some);
        }
        let from_var = self.token_vars.get(var_name);
        if let Some(token) = from_var.filter(|token| !token.expose().is_empty()) {
            let named_at = layer.token_env.is_some().then(|| self.target_origin(name, "token_env").0);
            return Ok(Some((token.clone(), TokenSource::Env { var: var_name.to_string(), named_at })));
        }
        if let Some(path) = &layer.token_file {
            return self.read_token(name, path, var_name).map(Some);
        }
        if layer.token_env.is_some() {
            let (origin, field) = self.target_origin(name, "token_env");
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

    /// A `token_env` must name a variable; the value is not echoed when it looks like a token.
    fn valid_token_env(&self, name: &str, var_name: &str) -> Result<(), ConfigError> {
        check_token_env(var_name).map_err(|message| {
            let (origin, field) = self.target_origin(name, "token_env");
            ConfigError::invalid(
                origin,
                field,
                message,
                format!(
                    "set token_env to the name of the variable that holds target `{name}`'s token, like PROD_CIRCLE_TOKEN, and export that variable"
                ),
            )
        })
    }

    fn read_token(&self, name: &str, path: &Path, var_name: &str) -> Result<(Secret, TokenSource), ConfigError> {
        let (origin, field) = self.target_origin(name, "token_file");
        let resolved = self.relative_to_origin(&origin, path.to_path_buf());
        let text = std::fs::read_to_string(&resolved).map_err(|e| {
            // A missing "file" named like a token is most likely the token itself: never echo it.
            let looks_like_a_token = !resolved.exists()
                && path.components().count() == 1
                && path.as_os_str().len() >= 16
                && !path.to_string_lossy().contains('.');
            let message = if looks_like_a_token {
                "the value given as the token file names no file (is it the token itself?)".to_string()
            } else {
                format!("cannot read the token file {}: {e}", resolved.display())
            };
            ConfigError::invalid(
                origin.clone(),
                field.clone(),
                message,
                format!("point token_file at a readable file holding the personal API token, or export {var_name}"),
            )
        })?;
        let token = text.trim();
        if token.is_empty() || token.contains(char::is_whitespace) {
            return Err(ConfigError::invalid(
                origin,
                field,
                format!("the token file {} must hold exactly one token on one line", resolved.display()),
                "write only the personal API token into the file",
            ));
        }
        Ok((Secret::new(token), TokenSource::File { path: resolved, given_at: origin }))
    }

    /// The profile `name`: the built-in `laptop` profile (`BASE_PROFILE`), then
    /// `[profiles.NAME]`, then the environment, then the flags, merged and validated.
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        let base = self.builtin.profiles.get(BASE_PROFILE).cloned().unwrap_or_default();
        let own = self.merged.profiles.get(name).cloned().unwrap_or_default();
        let layer = base.merge(own).merge(self.env.profile_layer.clone()).merge(self.flags.profile_layer.clone());
        let origin = |key: &str| self.profile_origin(name, key);
        let timeout_scale = layer.timeout_scale.unwrap_or(1.0);
        if !(MIN_TIMEOUT_SCALE..=MAX_TIMEOUT_SCALE).contains(&timeout_scale) {
            return Err(ConfigError::invalid(
                origin("timeout_scale"),
                format!("profiles.{name}.timeout_scale"),
                format!("`{timeout_scale}` is not between {MIN_TIMEOUT_SCALE} and {MAX_TIMEOUT_SCALE}"),
                fix_for("timeout_scale", ""),
            ));
        }
        let concurrency = layer.concurrency.unwrap_or(8);
        if concurrency == 0 {
            return Err(ConfigError::invalid(
                origin("concurrency"),
                format!("profiles.{name}.concurrency"),
                "0 checks at once would run nothing",
                fix_for("concurrency", ""),
            ));
        }
        // Every duration is set by the built-in reference; zero would end the run at once.
        let duration = |key: &str, value: Option<Duration>| match value {
            Some(value) if value > MAX_DURATION => Err(ConfigError::invalid(
                origin(key),
                format!("profiles.{name}.{key}"),
                format!("`{}` is longer than a week, the longest a run waits", humantime::format_duration(value)),
                "write a duration of a week at most, like \"30s\", \"15m\" or \"1h 30m\"",
            )),
            Some(value) if !value.is_zero() => Ok(value),
            Some(_) => Err(ConfigError::invalid(
                origin(key),
                format!("profiles.{name}.{key}"),
                "a zero duration ends every run at once",
                fix_for(key, ""),
            )),
            None => Err(ConfigError::invalid(
                Origin::BuiltIn,
                key,
                "the built-in reference has no value",
                "this is a bug in realitycheck; please report it",
            )),
        };
        let ProfileLayer { retries, deadline, exclude_tags, timeouts, collect, collect_dir, .. } = layer;
        let collect_dir = collect_dir.unwrap_or_default();
        if collect_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                origin("collect_dir"),
                format!("profiles.{name}.collect_dir"),
                "the directory of evidence bundles is empty",
                fix_for("collect_dir", ""),
            ));
        }
        Ok(Profile {
            name: name.to_string(),
            retries: retries.unwrap_or(0),
            timeout_scale,
            deadline: duration("deadline", deadline)?,
            concurrency,
            exclude_tags: exclude_tags.unwrap_or_default(),
            timeouts: Timeouts {
                cluster: duration("timeouts.cluster", timeouts.cluster)?,
                api: duration("timeouts.api", timeouts.api)?,
                pipeline: duration("timeouts.pipeline", timeouts.pipeline)?,
            },
            collect: collect.unwrap_or(false),
            collect_dir,
        })
    }

    fn profile_origin(&self, name: &str, key: &str) -> Origin {
        if key == "timeout_scale" {
            if self.flags.profile_layer.timeout_scale.is_some() {
                return Origin::Flag("--timeout-scale".into());
            }
            if self.env.profile_layer.timeout_scale.is_some() {
                return Origin::Env("REALITYCHECK_TIMEOUT_SCALE".into());
            }
        }
        self.user_origin(&format!("profiles.{name}.{key}")).unwrap_or(Origin::BuiltIn)
    }
}

/// Whether the environment or the flags set a target key (files are asked by position).
fn target_key_is_set(layer: &TargetLayer, key: &str) -> bool {
    match key {
        "host" => layer.host.is_some(),
        "token_file" => layer.token_file.is_some(),
        "cloud_provider" => layer.cloud_provider.is_some(),
        "project" => layer.project.is_some(),
        "ca_bundle" => layer.ca_bundle.is_some(),
        "insecure" => layer.insecure.is_some(),
        "kubernetes.kubeconfig" => layer.kubernetes.kubeconfig.is_some(),
        "kubernetes.context" => layer.kubernetes.context.is_some(),
        "kubernetes.namespace" => layer.kubernetes.namespace.is_some(),
        "kubernetes.expect_chart_version" => layer.kubernetes.expect_chart_version.is_some(),
        "nomad.min_clients" => layer.nomad.min_clients.is_some(),
        "pipeline.runner_resource_class" => layer.pipeline.runner_resource_class.is_some(),
        _ => false,
    }
}

/// The pipeline settings, checked; the error names the key (`pipeline.…`) and says what is wrong.
fn validate_pipeline(layer: crate::layer::PipelineLayer) -> Result<Pipeline, (&'static str, String)> {
    let branch = layer.branch.map(|b| b.trim().to_string());
    if branch.as_deref().is_some_and(|b| b.is_empty() || b.contains(char::is_whitespace)) {
        return Err(("pipeline.branch", "the branch is empty or contains whitespace".into()));
    }
    let runner_resource_class = layer.runner_resource_class.map(|class| class.trim().to_string());
    if let Some(class) = &runner_resource_class {
        check_runner_resource_class(class).map_err(|m| ("pipeline.runner_resource_class", m))?;
    }
    let docker_resource_classes = layer.docker_resource_classes.unwrap_or_default();
    let mut seen = Vec::new();
    for class in &docker_resource_classes {
        if !DOCKER_RESOURCE_CLASSES.contains(&class.as_str()) {
            return Err((
                "pipeline.docker_resource_classes",
                format!("`{class}` is not a docker resource class the realitycheck project runs"),
            ));
        }
        if seen.contains(&class) {
            return Err(("pipeline.docker_resource_classes", format!("`{class}` is listed twice")));
        }
        seen.push(class);
    }
    let image_registry = layer.image_registry.unwrap_or_default();
    if !image_registry.is_empty() && (!image_registry.ends_with('/') || image_registry.contains(char::is_whitespace)) {
        return Err(("pipeline.image_registry", format!("`{image_registry}` does not end in `/`")));
    }
    Ok(Pipeline {
        branch,
        runner_resource_class,
        windows: layer.windows.unwrap_or(false),
        docker_resource_classes,
        image_registry,
    })
}
