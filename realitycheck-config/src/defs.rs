//! Every setting of realitycheck, each defined once: its table and key, kind, default,
//! environment variable, flag, help, fix and check. The order of [`ALL`] is the order of
//! `config check`, the README's table, `--help` and the reference file's header.
//! Adding a setting: its definition here, its place in [`ALL`], its field where it is used
//! (`Target`, `Profile`, `ServeSettings`), its line in `default.toml` and the README's table
//! (both held against this file by tests), and a test.

use crate::registry::Command::{Capacity, Checks, Init, Serve, Upgrade};
use crate::registry::{Command, Kind, Relative, Scope, Setting};
use crate::values;

/// Flags of the commands that read a configuration: `run`, `list`, `config check`, `serve`,
/// `upgrade-check`, `capacity`.
const CHECKS: &[Command] = &[Checks, Serve, Upgrade, Capacity];
/// Flags `init` takes too, for the starter file it writes.
const CHECKS_AND_INIT: &[Command] = &[Checks, Serve, Upgrade, Capacity, Init];
/// Flags of `serve` only.
const SERVE: &[Command] = &[Serve];
/// Flags of `upgrade-check` only.
const UPGRADE: &[Command] = &[Upgrade];
/// Flags of `capacity` only.
const CAPACITY: &[Command] = &[Capacity];

/// The largest whole number a `u32` setting holds.
const U32: Kind = Kind::Whole { max: u32::MAX as u64 };

/// The cloud providers `cloud_provider` takes (`realitycheck_project::CloudProvider`).
pub const CLOUD_PROVIDERS: &[&str] = &["aws", "gcp", "other"];
/// The tags `exclude_tags` takes (`harness::Tag`).
pub const TAGS: &[&str] = &["mutates", "needs-cluster", "needs-api"];
/// The formats `serve.webhook_format` takes.
pub const WEBHOOK_FORMATS: &[&str] = &["json", "slack"];

/// `--config`: the configuration file; not a key of it.
pub static CONFIG: Setting = Setting::new(Scope::Top, "config", Kind::Path(Relative::ToRun))
    .env("REALITYCHECK_CONFIG")
    .flag("config", "FILE", CHECKS)
    .help("the configuration file (else ./realitycheck.toml, if there is one)")
    .unset("unset (./realitycheck.toml, if there is one)")
    .fix("give the path of a readable TOML file; `realitycheck init` writes a starter file")
    .not_in_file();

/// `profile`: the profile a run uses.
pub static PROFILE: Setting = Setting::new(Scope::Top, "profile", Kind::Text)
    .default("\"laptop\"")
    .env("REALITYCHECK_PROFILE")
    .flag("profile", "NAME", &[Checks])
    .help("which `[profiles.NAME]` a run uses: `laptop`, `ci`, `health`, `canary`, or your own")
    .fix(PROFILE_FIX);

/// `default_target`: the target a run checks.
pub static DEFAULT_TARGET: Setting = Setting::new(Scope::Top, "default_target", Kind::Text)
    .env("REALITYCHECK_TARGET")
    .flag("target", "NAME", CHECKS)
    .help("which `[targets.NAME]` a run checks; without it, the only target")
    .unset("unset (the only target)")
    .fix("name one of the file's [targets.NAME]");

/// The API token: from the environment or a file, never from the configuration file.
pub static TOKEN: Setting = Setting::new(Scope::Target, "token", Kind::Text)
    .env("CIRCLE_TOKEN")
    .help("the personal API token; never a flag value, never printed (a target's `token_env` names another variable)")
    .unset("unset (the API checks are skipped)")
    .fix("the token is never read from the configuration file: export CIRCLE_TOKEN (or the variable token_env names), or set token_file to a file that holds it")
    .secret()
    .not_in_file();

/// `host`.
pub static HOST: Setting = Setting::new(Scope::Target, "host", Kind::Text)
    .env("CIRCLE_HOSTNAME")
    .flag("host", "URL", CHECKS_AND_INIT)
    .help("base URL of the installation; a trailing `/` and an `app.` prefix are removed")
    .unset("unset (the API checks are skipped)")
    .fix("give the base URL with its protocol, like https://circleci.example.com")
    .check(values::host);

/// `token_file`.
pub static TOKEN_FILE: Setting = Setting::new(Scope::Target, "token_file", Kind::Path(Relative::ToSource))
    .flag("token-file", "FILE", CHECKS)
    .help("file holding the API token on one line; `--token-file` beats `CIRCLE_TOKEN` (or the `token_env` variable), which beats `token_file`")
    .fix("point token_file at a readable file holding the personal API token, or export CIRCLE_TOKEN");

/// `token_env`.
pub static TOKEN_ENV: Setting = Setting::new(Scope::Target, "token_env", Kind::Text)
    .flag("token-env", "NAME", &[Init])
    .help("the variable holding this target's token instead of `CIRCLE_TOKEN` (`PROD_CIRCLE_TOKEN`); set but unset or blank is an error")
    .unset("unset (CIRCLE_TOKEN)")
    .fix("set token_env to the name of the variable that holds the target's token, like PROD_CIRCLE_TOKEN, and export that variable")
    .check(values::token_env);

/// `cloud_provider`.
pub static CLOUD_PROVIDER: Setting = Setting::new(Scope::Target, "cloud_provider", Kind::Choice(CLOUD_PROVIDERS))
    .env("CIRCLE_CLOUD_PROVIDER")
    .flag("cloud-provider", "PROVIDER", CHECKS)
    .help("`aws`, `gcp` or `other`; machine, Arm and remote-docker jobs need `aws` or `gcp`")
    .unset("unset (no machine jobs)")
    .fix("set it to aws, gcp or other");

/// `project`.
pub static PROJECT: Setting = Setting::new(Scope::Target, "project", Kind::Text)
    .env("REALITYCHECK_PROJECT")
    .flag("project", "SLUG", CHECKS_AND_INIT)
    .help("slug `vcs/org/repo` of the realitycheck CircleCI project")
    .unset("unset (the pipeline checks are skipped)")
    .fix("give the project slug as vcs/org/repo, like gh/example-org/realitycheck")
    .check(values::project);

/// `ca_bundle`.
pub static CA_BUNDLE: Setting = Setting::new(Scope::Target, "ca_bundle", Kind::Path(Relative::ToSource))
    .env("REALITYCHECK_CA_BUNDLE")
    .flag("ca-bundle", "FILE", CHECKS)
    .help("PEM file of the CA certificates that sign the installation's certificate")
    .fix("give the path of a PEM file of CA certificates");

/// `insecure`.
pub static INSECURE: Setting = Setting::new(Scope::Target, "insecure", Kind::Bool)
    .default("false")
    .flag("insecure", "", CHECKS)
    .help("accept any TLS certificate from the installation (self-signed test installs only; warns)")
    .fix("set it to true or false");

/// `tls_min_days`.
pub static TLS_MIN_DAYS: Setting = Setting::new(Scope::Target, "tls_min_days", U32)
    .default("30")
    .help("the installation's certificate expiring within this many days is red")
    .fix("use a whole number of days, like 30");

/// `max_pages`.
pub static MAX_PAGES: Setting = Setting::new(Scope::Target, "max_pages", U32)
    .default("500")
    .help("pages of one API list read at most: a server handing out `next_page_token`s forever is stopped there")
    .fix("use a whole number of at least 1, like 500")
    .check(values::at_least_one_page);

/// `kubernetes.kubeconfig`.
pub static KUBECONFIG: Setting = Setting::new(Scope::Target, "kubernetes.kubeconfig", Kind::Path(Relative::ToSource))
    .flag("kubeconfig", "FILE", CHECKS)
    .help("kubeconfig file; without it `KUBECONFIG`, `~/.kube/config`, then the in-cluster account")
    .unset("unset (KUBECONFIG, ~/.kube/config, in-cluster)")
    .fix("give the path of a kubeconfig file");

/// `kubernetes.context`.
pub static KUBE_CONTEXT: Setting = Setting::new(Scope::Target, "kubernetes.context", Kind::Text)
    .env("REALITYCHECK_KUBE_CONTEXT")
    .flag("kube-context", "NAME", CHECKS_AND_INIT)
    .help("kubeconfig context")
    .unset("unset (the current context)")
    .fix("give the name of a context of the kubeconfig (`kubectl config get-contexts` lists them)")
    .check(values::not_blank);

/// `kubernetes.namespace`.
pub static NAMESPACE: Setting = Setting::new(Scope::Target, "kubernetes.namespace", Kind::Text)
    .default("\"circleci-server\"")
    .env("REALITYCHECK_NAMESPACE")
    .flag("namespace", "NAME", CHECKS_AND_INIT)
    .help("namespace of the CircleCI server Helm release")
    .fix(
        "give the namespace of the CircleCI server release, like circleci-server (`kubectl get namespaces` lists them)",
    )
    .check(values::namespace);

/// `server_version`.
pub static SERVER_VERSION: Setting = Setting::new(Scope::Target, "server_version", Kind::Text)
    .env("REALITYCHECK_SERVER_VERSION")
    .flag("server-version", "VERSION", CHECKS)
    .help("the CircleCI server version of the installation, like 4.10 or 4.8.12; beats what the Helm release says")
    .unset("unset (read from the Helm release)")
    .fix("give a server version like 4.10 or 4.8.12 (major.minor, optionally .patch)")
    .check(values::server_version);

/// `kubernetes.expect_chart_version`.
pub static EXPECT_CHART_VERSION: Setting = Setting::new(Scope::Target, "kubernetes.expect_chart_version", Kind::Text)
    .flag("expect-chart-version", "VERSION", CHECKS)
    .help(
        "the chart version the release must run, e.g. after `helm upgrade --version 4.10.1` (a leading `v` is dropped)",
    )
    .unset("unset (any)")
    .fix("give a chart version like 4.10.1, or remove the key to accept any")
    .check(values::chart_version);

/// `nomad.server_selector`.
pub static SERVER_SELECTOR: Setting = Setting::new(Scope::Target, "nomad.server_selector", Kind::Text)
    .default("\"app=nomad-server\"")
    .help("label selector of the Nomad server pods; realitycheck runs the nomad CLI in one of them")
    .fix("give a label selector like app=nomad-server")
    .check(values::not_blank);

/// `nomad.address`.
pub static NOMAD_ADDRESS: Setting = Setting::new(Scope::Target, "nomad.address", Kind::Text)
    .env("NOMAD_ADDR")
    .flag("nomad-address", "URL", CHECKS)
    .help("the HTTP API of Nomad servers outside the cluster, like https://nomad.example.internal:4646; beats the release's nomad.server.serverHostname")
    .unset("unset (the release's serverHostname:4646)")
    .fix("give the URL of the Nomad servers' HTTP API with its protocol and port, like https://nomad.example.internal:4646")
    .check(values::nomad_address);

/// `nomad.ca_cert`.
pub static NOMAD_CA_CERT: Setting = Setting::new(Scope::Target, "nomad.ca_cert", Kind::Path(Relative::ToSource))
    .env("NOMAD_CACERT")
    .help("PEM file of the CA that signs the external Nomad servers' certificate")
    .unset("unset (the mTLS Secret's ca.pem)")
    .fix("give the path of the PEM file of the Nomad CA (ca.pem of the mTLS material)");

/// `nomad.client_cert`.
pub static NOMAD_CLIENT_CERT: Setting =
    Setting::new(Scope::Target, "nomad.client_cert", Kind::Path(Relative::ToSource))
        .env("NOMAD_CLIENT_CERT")
        .help(
            "PEM certificate realitycheck presents to external Nomad servers that ask for one (with nomad.client_key)",
        )
        .unset("unset (none)")
        .fix("give the path of a PEM certificate signed by the Nomad CA, and nomad.client_key with its key");

/// `nomad.client_key`.
pub static NOMAD_CLIENT_KEY: Setting = Setting::new(Scope::Target, "nomad.client_key", Kind::Path(Relative::ToSource))
    .env("NOMAD_CLIENT_KEY")
    .help("PEM private key of nomad.client_cert")
    .unset("unset (none)")
    .fix("give the path of the PEM private key of nomad.client_cert");

/// `nomad.tls_server_name`.
pub static NOMAD_TLS_SERVER_NAME: Setting = Setting::new(Scope::Target, "nomad.tls_server_name", Kind::Text)
    .default("\"server.global.nomad\"")
    .env("NOMAD_TLS_SERVER_NAME")
    .help("the name the external Nomad servers' certificate must carry, as Nomad clients verify it")
    .fix("give the server name of the Nomad certificates, server.<region>.nomad (server.global.nomad)")
    .check(values::not_blank);

/// `nomad.token`: an ACL token for external Nomad servers, from the environment only.
pub static NOMAD_TOKEN: Setting = Setting::new(Scope::Target, "nomad.token", Kind::Text)
    .env("NOMAD_TOKEN")
    .help("a Nomad ACL token sent to external Nomad servers; never printed")
    .unset("unset (none)")
    .fix("the Nomad token is never read from the configuration file: export NOMAD_TOKEN")
    .secret()
    .not_in_file();

/// `nomad.min_clients`.
pub static MIN_CLIENTS: Setting = Setting::new(Scope::Target, "nomad.min_clients", U32)
    .default("1")
    .env("REALITYCHECK_MIN_CLIENTS")
    .flag("min-clients", "N", CHECKS)
    .help("Nomad clients that must be ready, eligible, not draining, with a healthy docker driver")
    .fix("set it to the number of Nomad clients that must be ready, at least 1")
    .check(values::at_least_one_client);

/// `nomad.mtls_min_days`.
pub static MTLS_MIN_DAYS: Setting = Setting::new(Scope::Target, "nomad.mtls_min_days", U32)
    .default("30")
    .help("a Nomad mTLS certificate (or its CA) expiring within this many days is red")
    .fix("use a whole number of days, like 30");

/// `upgrade.latest_patches`.
pub static LATEST_PATCHES: Setting = Setting::new(Scope::Target, "upgrade.latest_patches", Kind::List(None))
    .default("[]")
    .help("last patches newer than realitycheck's table knows, like [\"4.9.6\", \"4.10.1\"]: each is the last patch of its minor (upgrade::path)")
    .fix("list full server versions like \"4.9.6\", at most one per minor version")
    .check(values::latest_patches);

/// `upgrade.mongodb_version`.
pub static MONGODB_VERSION: Setting = Setting::new(Scope::Target, "upgrade.mongodb_version", Kind::Text)
    .flag("mongodb-version", "VERSION", UPGRADE)
    .help("the MongoDB version where realitycheck cannot read it (an external database, mongodb.internal: false, or an image that names none), like 7.0.12 (upgrade::data_stores)")
    .unset("unset (read from the chart's MongoDB StatefulSet)")
    .fix("give the version `db.version()` prints in the external MongoDB, like 7.0.12")
    .check(values::mongodb_version);

/// `upgrade.backup_max_age`.
pub static BACKUP_MAX_AGE: Setting = Setting::new(Scope::Target, "upgrade.backup_max_age", Kind::Duration)
    .default("\"24h\"")
    .flag("backup-max-age", "DURATION", UPGRADE)
    .help("the oldest a completed Velero backup of the namespace may be before an upgrade (upgrade::backup)")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `upgrade.velero_namespace`.
pub static VELERO_NAMESPACE: Setting = Setting::new(Scope::Target, "upgrade.velero_namespace", Kind::Text)
    .default("\"velero\"")
    .help("the namespace where Velero keeps its Backup resources (upgrade::backup)")
    .fix("give the namespace Velero is installed in (`kubectl get backups.velero.io -A` shows it)")
    .check(values::namespace);

/// `capacity.max_wait_p95`.
pub static MAX_WAIT_P95: Setting = Setting::new(Scope::Target, "capacity.max_wait_p95", Kind::Duration)
    .default("\"3m\"")
    .flag("max-wait-p95", "DURATION", CAPACITY)
    .help("the longest the 95th percentile of jobs may wait from queued to started (capacity.max_wait_p95, and the canary's alert)")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `capacity.max_jobs`.
pub static MAX_JOBS: Setting = Setting::new(Scope::Target, "capacity.max_jobs", U32)
    .default("50")
    .help("the most containers `realitycheck capacity --jobs N` may start at once, so that a typo does not start thousands")
    .fix("use a whole number of containers, like 50; raise it only as far as the installation should run at once")
    .check(values::at_least_one_job);

/// `capacity.autoscaler_reaction`.
pub static AUTOSCALER_REACTION: Setting = Setting::new(Scope::Target, "capacity.autoscaler_reaction", Kind::Duration)
    .default("\"4m\"")
    .help("how soon the Nomad autoscaler should add a client once jobs queue: its evaluation interval (1m), cooldown (2m) and a client's boot (capacity.autoscaler)")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `pipeline.branch`.
pub static BRANCH: Setting = Setting::new(Scope::Target, "pipeline.branch", Kind::Text)
    .help("branch of the realitycheck project to build")
    .unset("unset (the default branch)")
    .fix("give the name of a branch of the realitycheck project's repository, like main")
    .check(values::branch);

/// `pipeline.runner_resource_class`.
pub static RUNNER_RESOURCE_CLASS: Setting = Setting::new(Scope::Target, "pipeline.runner_resource_class", Kind::Text)
    .env("REALITYCHECK_RUNNER_RESOURCE_CLASS")
    .flag("runner-resource-class", "NAMESPACE/NAME", CHECKS_AND_INIT)
    .help("self-hosted runner resource class `namespace/name`; none skips `executors::runner`")
    .unset("unset (no runner check)")
    .fix("give the runner resource class as namespace/name, like example-org/linux-runner, or leave it unset")
    .check(values::runner_resource_class);

/// `pipeline.windows`.
pub static WINDOWS: Setting = Setting::new(Scope::Target, "pipeline.windows", Kind::Bool)
    .default("false")
    .help("run the Windows job (needs a Windows image in the machine provisioner)")
    .fix("set it to true or false");

/// `pipeline.docker_resource_classes`.
pub static DOCKER_RESOURCE_CLASSES: Setting = Setting::new(
    Scope::Target,
    "pipeline.docker_resource_classes",
    Kind::List(Some(realitycheck_project::DOCKER_RESOURCE_CLASSES)),
)
.default("[]")
.help("docker resource classes to check one by one, among `small`, `medium`, `medium+`, `large`, `xlarge`")
.fix("list classes among small, medium, medium+, large, xlarge, each once")
.check(values::no_repeats);

/// `pipeline.image_registry`.
pub static IMAGE_REGISTRY: Setting = Setting::new(Scope::Target, "pipeline.image_registry", Kind::Text)
    .default("\"\"")
    .help("prefix of the project's docker images for air-gapped installs, ending in `/`")
    .fix("give a registry prefix ending in `/`, like \"registry.example.com:5000/\"")
    .check(values::image_registry);

/// `retries`.
pub static RETRIES: Setting = Setting::new(Scope::Profile, "retries", U32)
    .default("0")
    .help("times a failed check runs again; a pass after a failure is reported as flaky")
    .fix("use a whole number, like 1");

/// `timeout_scale`.
pub static TIMEOUT_SCALE: Setting = Setting::new(Scope::Profile, "timeout_scale", Kind::Number)
    .default("1.0")
    .env("REALITYCHECK_TIMEOUT_SCALE")
    .flag("timeout-scale", "FACTOR", CHECKS)
    .help("multiplies every timeout and the deadline (slow installs, slow machines): 0.1 to 100")
    .fix("use a number from 0.1 to 100, like 1.0 (2.0 doubles every timeout)")
    .check(values::timeout_scale);

/// `deadline`.
pub static DEADLINE: Setting = Setting::new(Scope::Profile, "deadline", Kind::Duration)
    .default("\"30m\"")
    .help("when the whole run stops; unfinished checks are reported as interrupted")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `concurrency`.
pub static CONCURRENCY: Setting = Setting::new(Scope::Profile, "concurrency", U32)
    .default("8")
    .help("checks that run at once")
    .fix("use a whole number of at least 1")
    .check(values::at_least_one_check);

/// `checks`: the only checks a profile runs.
pub static ONLY_CHECKS: Setting = Setting::new(Scope::Profile, "checks", Kind::List(None))
    .default("[]")
    .help("the only checks the profile runs, by their whole IDs (`executors::docker`); empty: every check")
    .fix("list whole check IDs like \"executors::docker\" (`realitycheck list` prints them), each once, or [] for every check")
    .check(values::check_ids);

/// `exclude_tags`.
pub static EXCLUDE_TAGS: Setting = Setting::new(Scope::Profile, "exclude_tags", Kind::List(Some(TAGS)))
    .default("[]")
    .help("checks carrying one of these tags are left out: `mutates`, `needs-cluster`, `needs-api`")
    .fix("list tags among mutates, needs-cluster and needs-api");

/// `timeouts.cluster`.
pub static TIMEOUT_CLUSTER: Setting = Setting::new(Scope::Profile, "timeouts.cluster", Kind::Duration)
    .default("\"30s\"")
    .help("one attempt of a Kubernetes check")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `timeouts.api`.
pub static TIMEOUT_API: Setting = Setting::new(Scope::Profile, "timeouts.api", Kind::Duration)
    .default("\"30s\"")
    .help("one attempt of a CircleCI API check")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `timeouts.pipeline`.
pub static TIMEOUT_PIPELINE: Setting = Setting::new(Scope::Profile, "timeouts.pipeline", Kind::Duration)
    .default("\"15m\"")
    .help("a check that waits for pipeline jobs to run")
    .fix(DURATION_FIX)
    .check(values::run_duration);

/// `collect`.
pub static COLLECT: Setting = Setting::new(Scope::Profile, "collect", Kind::Bool)
    .default("false")
    .help("write an evidence bundle into `collect_dir` when a check is red; `--collect DIR` and `--no-collect` beat it")
    .fix("set it to true or false");

/// `collect_dir`.
pub static COLLECT_DIR: Setting = Setting::new(Scope::Profile, "collect_dir", Kind::Path(Relative::ToRun))
    .default("\"./realitycheck-evidence\"")
    .help("where evidence bundles go; relative paths start at the working directory of the run")
    .fix(
        "give a directory as a string, like \"./realitycheck-evidence\"; relative paths start at the working directory",
    );

/// `serve.profile`.
pub static SERVE_PROFILE: Setting = Setting::new(Scope::Serve, "profile", Kind::Text)
    .default("\"health\"")
    .flag("profile", "NAME", SERVE)
    .help("profile of the scheduled runs")
    .fix(PROFILE_FIX);

/// `serve.every`.
pub static EVERY: Setting = Setting::new(Scope::Serve, "every", Kind::Duration)
    .default("\"15m\"")
    .flag("every", "DURATION", SERVE)
    .help("time between the starts of two runs of one target: 10s to 24h")
    .fix("write a duration from \"10s\" to \"24h\", like \"15m\" or \"1h 30m\"")
    .check(values::every);

/// `serve.canary_every`.
pub static CANARY_EVERY: Setting = Setting::new(Scope::Serve, "canary_every", Kind::Text)
    .default("\"1h\"")
    .flag("canary-every", "DURATION", SERVE)
    .help("time between the starts of two canaries of one target (the `canary` profile: a docker job, and a machine job on AWS and GCP, which trigger a pipeline each time), 10s to 24h; `off`: no canary")
    .fix("write a duration from \"10s\" to \"24h\", like \"1h\", or \"off\" to run no canary")
    .check(values::canary_every);

/// `serve.listen`.
pub static LISTEN: Setting = Setting::new(Scope::Serve, "listen", Kind::Text)
    .default("\"127.0.0.1:9797\"")
    .flag("listen", "ADDR", SERVE)
    .help("IP address and port of the HTTP server; on another address than loopback without `api_token_file`, `serve` refuses `POST /api/v1/runs` (403)")
    .fix("give an IP address and a port, like 127.0.0.1:9797 (this machine only) or 0.0.0.0:9797 (every interface: set api_token_file then); host names such as localhost are not accepted")
    .check(values::listen);

/// `serve.history`.
pub static HISTORY: Setting = Setting::new(Scope::Serve, "history", Kind::Whole { max: u32::MAX as u64 })
    .default("100")
    .flag("history", "N", SERVE)
    .help("runs kept per target, in memory and in `state_dir`: 1 to 10000")
    .fix("use a whole number from 1 to 10000, like 100")
    .check(values::history);

/// `serve.state_dir`.
pub static STATE_DIR: Setting = Setting::new(Scope::Serve, "state_dir", Kind::Path(Relative::ToSource))
    .flag("state-dir", "DIR", SERVE)
    .help("keeps the history across restarts (JSON lines)")
    .unset("unset (the history lives in memory only)")
    .fix("give a directory (realitycheck creates it if it is missing), or remove the key to keep the history in memory only")
    .check(values::directory);

/// `serve.webhook`.
pub static WEBHOOK: Setting = Setting::new(Scope::Serve, "webhook", Kind::Text)
    .flag("webhook", "URL", SERVE)
    .help("URL POSTed to on every change of a check's state, http or https; a secret when its path is one (Slack's is)")
    .unset("unset (no webhook)")
    .fix("give the full URL to POST to, with http:// or https://, like https://hooks.slack.com/services/…")
    .secret()
    .check(values::webhook);

/// `serve.webhook_format`.
pub static WEBHOOK_FORMAT: Setting = Setting::new(Scope::Serve, "webhook_format", Kind::Choice(WEBHOOK_FORMATS))
    .default("\"json\"")
    .flag("webhook-format", "FORMAT", SERVE)
    .help("body of the webhook's POSTs: `json` (realitycheck.webhook/v1) or `slack`")
    .fix("set it to json or slack");

/// `serve.api_token_file`.
pub static API_TOKEN_FILE: Setting = Setting::new(Scope::Serve, "api_token_file", Kind::Path(Relative::ToSource))
    .flag("api-token-file", "FILE", SERVE)
    .help("file holding the bearer token that `POST /api/v1/runs` requires; without it, that endpoint asks for none on loopback and is refused elsewhere")
    .unset("unset (POST /api/v1/runs on loopback only)")
    .fix("give a path as a string; relative paths start at this file's directory");

const PROFILE_FIX: &str =
    "name one of the built-in profiles (laptop, ci, health, canary) or a [profiles.NAME] of the file";

const DURATION_FIX: &str = "write a duration of a week at most, like \"30s\", \"15m\" or \"1h 30m\"";

/// Every setting, in order.
pub static ALL: &[&Setting] = &[
    &CONFIG,
    &PROFILE,
    &DEFAULT_TARGET,
    &HOST,
    &TOKEN,
    &TOKEN_FILE,
    &TOKEN_ENV,
    &CLOUD_PROVIDER,
    &PROJECT,
    &CA_BUNDLE,
    &INSECURE,
    &TLS_MIN_DAYS,
    &MAX_PAGES,
    &SERVER_VERSION,
    &KUBECONFIG,
    &KUBE_CONTEXT,
    &NAMESPACE,
    &EXPECT_CHART_VERSION,
    &SERVER_SELECTOR,
    &NOMAD_ADDRESS,
    &NOMAD_CA_CERT,
    &NOMAD_CLIENT_CERT,
    &NOMAD_CLIENT_KEY,
    &NOMAD_TLS_SERVER_NAME,
    &NOMAD_TOKEN,
    &MIN_CLIENTS,
    &MTLS_MIN_DAYS,
    &LATEST_PATCHES,
    &MONGODB_VERSION,
    &BACKUP_MAX_AGE,
    &VELERO_NAMESPACE,
    &MAX_WAIT_P95,
    &MAX_JOBS,
    &AUTOSCALER_REACTION,
    &BRANCH,
    &RUNNER_RESOURCE_CLASS,
    &WINDOWS,
    &DOCKER_RESOURCE_CLASSES,
    &IMAGE_REGISTRY,
    &RETRIES,
    &TIMEOUT_SCALE,
    &DEADLINE,
    &CONCURRENCY,
    &ONLY_CHECKS,
    &EXCLUDE_TAGS,
    &TIMEOUT_CLUSTER,
    &TIMEOUT_API,
    &TIMEOUT_PIPELINE,
    &COLLECT,
    &COLLECT_DIR,
    &SERVE_PROFILE,
    &EVERY,
    &CANARY_EVERY,
    &LISTEN,
    &HISTORY,
    &STATE_DIR,
    &WEBHOOK,
    &WEBHOOK_FORMAT,
    &API_TOKEN_FILE,
];
