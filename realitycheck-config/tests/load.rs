//! Loading the configuration from files, environment and flags: precedence, profiles,
//! targets, the token, and the error messages (snapshots: they are what an operator reads).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use harness::Tag;
use realitycheck_config::*;
use tempfile::TempDir;

struct Case {
    dir: TempDir,
    env: HashMap<String, String>,
    flags: Flags,
    config_flag: Option<String>,
}

impl Case {
    fn new() -> Case {
        Case { dir: TempDir::new().unwrap(), env: HashMap::new(), flags: Flags::default(), config_flag: None }
    }

    fn file(mut self, name: &str, text: &str) -> Case {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        if name == DEFAULT_FILE_NAME || self.config_flag.is_none() && name.ends_with(".toml") {
            self.config_flag = (name != DEFAULT_FILE_NAME).then(|| name.to_string());
        }
        self
    }

    fn env(mut self, name: &str, value: &str) -> Case {
        self.env.insert(name.into(), value.into());
        self
    }

    fn config(&self) -> Result<Config, ConfigError> {
        let var = |name: &str| self.env.get(name).cloned();
        let config_flag = self.config_flag.as_ref().map(|f| self.dir.path().join(f));
        Config::load(&LoadRequest {
            config_flag: config_flag.as_deref(),
            var: &var,
            cwd: self.dir.path(),
            flags: self.flags.clone(),
        })
    }

    fn settings(&self) -> Result<Settings, ConfigError> {
        self.config()?.settings()
    }

    /// The error message with the temporary directory replaced, for snapshots.
    fn error(&self) -> String {
        let message = self.settings().expect_err("configuration must be rejected").to_string();
        message.replace(&self.dir.path().display().to_string(), "[dir]")
    }
}

#[test]
fn without_any_file_the_reference_defaults_apply() {
    let settings = Case::new().settings().unwrap();
    assert_eq!(settings.config_file, None);
    assert_eq!(settings.target.name, "default");
    assert_eq!(settings.target.kubernetes.namespace, "circleci-server");
    assert_eq!(settings.target.nomad.server_selector, "app=nomad-server");
    assert_eq!(settings.target.nomad.min_clients, 1);
    assert_eq!(settings.target.host, None);
    assert_eq!(settings.target.token, None);
    assert_eq!(settings.profile.name, "laptop");
    assert_eq!(settings.profile.retries, 0);
    assert_eq!(settings.profile.timeouts.cluster, Duration::from_secs(30));
    assert_eq!(settings.profile.deadline, Duration::from_secs(30 * 60));
}

#[test]
fn the_built_in_profiles_differ_as_documented() {
    let config = Case::new().config().unwrap();
    let ci = config.profile("ci").unwrap();
    assert_eq!(ci.retries, 1);
    assert_eq!(ci.deadline, Duration::from_secs(25 * 60));
    let health = config.profile("health").unwrap();
    assert_eq!(health.exclude_tags, vec![Tag::Mutates]);
    assert_eq!(health.deadline, Duration::from_secs(300));
    let laptop = config.profile("laptop").unwrap();
    let collects = |p: &realitycheck_config::Profile| (p.collect, p.collect_dir.clone());
    let evidence = std::path::PathBuf::from("./realitycheck-evidence");
    assert_eq!(collects(&ci), (true, evidence.clone()), "ci writes an evidence bundle when red");
    assert_eq!(collects(&laptop), (false, evidence.clone()));
    assert_eq!(collects(&health), (false, evidence));
    assert!(ci.checks.is_empty() && health.checks.is_empty() && laptop.checks.is_empty(), "every check");
    let canary = config.profile("canary").unwrap();
    assert_eq!(canary.checks, ["executors::docker", "executors::machine"]);
    assert!(canary.exclude_tags.is_empty(), "the canary's jobs mutate: a pipeline");
    assert_eq!((canary.retries, canary.collect), (0, false));
}

#[test]
fn the_canary_runs_every_hour_unless_told_another_interval_or_off() {
    let canary_every = |case: &Case| case.config().unwrap().serve().unwrap().canary_every;
    assert_eq!(canary_every(&Case::new()), Some(Duration::from_secs(3600)));
    let case = Case::new().file("rc.toml", "[serve]\ncanary_every = \"off\"\n");
    assert_eq!(canary_every(&case), None);
    let case = Case::new().file("rc.toml", "[serve]\ncanary_every = \"2h 30m\"\n");
    assert_eq!(canary_every(&case), Some(Duration::from_secs(9000)));
    let mut case = Case::new().file("rc.toml", "[serve]\ncanary_every = \"2h\"\n");
    case.flags.set(&setting::CANARY_EVERY, "Off");
    assert_eq!(canary_every(&case), None, "the flag beats the file");
    case.flags = Flags::default().with(&setting::CANARY_EVERY, "10s");
    assert_eq!(canary_every(&case), Some(Duration::from_secs(10)));

    let case = Case::new().file("rc.toml", "[serve]\ncanary_every = \"never\"\n");
    let error = case.config().unwrap().serve().unwrap_err().to_string();
    for part in ["line 2", "field `serve.canary_every`", "`never` is neither `off` nor a duration", "or \"off\""] {
        assert!(error.contains(part), "{part}: {error}");
    }
    let mut case = Case::new();
    case.flags.set(&setting::CANARY_EVERY, "1s");
    let error = case.config().unwrap().serve().unwrap_err().to_string();
    assert!(error.contains("flag --canary-every") && error.contains("shorter than 10s"), "{error}");
}

#[test]
fn a_profile_s_checks_are_whole_ids_and_a_bad_one_is_named_at_its_place() {
    let case = Case::new().file("rc.toml", "profile = \"mine\"\n[profiles.mine]\nchecks = [\"api::authenticated\"]\n");
    assert_eq!(case.settings().unwrap().profile.checks, ["api::authenticated"]);
    let case = Case::new()
        .file("rc.toml", "profile = \"mine\"\n[profiles.mine]\nchecks = [\"api::authenticated\", \"docker\"]\n");
    let error = case.error();
    for part in ["line 3", "field `profiles.mine.checks`", "`docker` is not a whole check ID", "realitycheck list"] {
        assert!(error.contains(part), "{part}: {error}");
    }
}

#[test]
fn a_profile_of_ones_own_sets_where_evidence_goes() {
    let case = Case::new().file(
        "rc.toml",
        "profile = \"nightly\"\n[profiles.nightly]\ncollect = true\ncollect_dir = \"/var/tmp/evidence\"\n",
    );
    let profile = case.settings().unwrap().profile;
    assert!(profile.collect);
    assert_eq!(profile.collect_dir, std::path::Path::new("/var/tmp/evidence"));
    let empty = Case::new().file("rc.toml", "[profiles.laptop]\ncollect_dir = \"\"\n");
    insta::assert_snapshot!(empty.error());
}

#[test]
fn file_then_environment_then_flags() {
    let case = Case::new()
        .file(
            DEFAULT_FILE_NAME,
            r#"
[defaults]
host = "https://app.file.example.com/"
cloud_provider = "gcp"
project = "gh/file-org/realitycheck"
[defaults.kubernetes]
namespace = "from-file"
context = "file-context"
"#,
        )
        .env("CIRCLE_CLOUD_PROVIDER", "AWS")
        .env("REALITYCHECK_NAMESPACE", "from-env")
        .env("REALITYCHECK_PROJECT", "gh/env-org/realitycheck");
    let mut case = case;
    case.flags.set(&setting::NAMESPACE, "from-flag");
    let settings = case.settings().unwrap();
    assert!(settings.config_file.unwrap().ends_with(DEFAULT_FILE_NAME), "found in the working directory");
    let target = settings.target;
    assert_eq!(target.host.map(|h| display_host(&h)).as_deref(), Some("https://file.example.com"));
    assert_eq!(target.cloud_provider, Some(CloudProvider::Aws), "environment over file, case-insensitive");
    assert_eq!(target.project.as_deref(), Some("gh/env-org/realitycheck"));
    assert_eq!(target.kubernetes.namespace, "from-flag", "flags over environment");
    assert_eq!(target.kubernetes.context.as_deref(), Some("file-context"));
}

#[test]
fn profiles_are_chosen_and_overlaid() {
    let mut case = Case::new()
        .file(
            "rc.toml",
            r#"
profile = "ci"
[profiles.ci]
retries = 3
[profiles.nightly]
deadline = "2h"
exclude_tags = ["mutates", "needs-api"]
[profiles.nightly.timeouts]
pipeline = "45m"
"#,
        )
        .env("REALITYCHECK_TIMEOUT_SCALE", "2.5");
    let settings = case.settings().unwrap();
    assert_eq!(settings.profile.name, "ci");
    assert_eq!(settings.profile.retries, 3);
    assert_eq!(settings.profile.deadline, Duration::from_secs(25 * 60), "the rest of the built-in ci profile stays");
    assert_eq!(settings.profile.timeout_scale, 2.5);
    let scaled = settings.profile.scaled_timeouts();
    assert_eq!(scaled.pipeline, settings.profile.timeouts.pipeline.mul_f64(2.5), "scaled once, by the configuration");
    assert_eq!(scaled.cluster, settings.profile.timeouts.cluster.mul_f64(2.5));
    assert_eq!(settings.profile.scaled_deadline(), Duration::from_secs(25 * 60 * 5 / 2));

    case.flags.set(&setting::PROFILE, "nightly");
    let nightly = case.settings().unwrap().profile;
    assert_eq!(nightly.deadline, Duration::from_secs(7200));
    assert_eq!(nightly.timeouts.pipeline, Duration::from_secs(45 * 60));
    assert_eq!(nightly.timeouts.cluster, Duration::from_secs(30), "own profiles start from laptop");
    assert_eq!(nightly.exclude_tags, vec![Tag::Mutates, Tag::NeedsApi]);
}

#[test]
fn targets_are_chosen_by_flag_environment_default_or_uniqueness() {
    let two = r#"
[targets.prod]
host = "https://prod.example.com"
[targets.staging]
host = "https://staging.example.com"
[targets.staging.kubernetes]
namespace = "circleci-staging"
"#;
    let mut case = Case::new().file("rc.toml", two).env("REALITYCHECK_TARGET", "staging");
    let settings = case.settings().unwrap();
    assert_eq!(settings.target.name, "staging");
    assert_eq!(settings.target.kubernetes.namespace, "circleci-staging");
    case.flags.set(&setting::DEFAULT_TARGET, "prod");
    let settings = case.settings().unwrap();
    assert_eq!(settings.target.name, "prod");
    assert_eq!(settings.target.kubernetes.namespace, "circleci-server", "from [defaults]");
    assert_eq!(case.config().unwrap().target_names(), ["prod", "staging"]);

    let one = Case::new().file("rc.toml", "[targets.only]\nhost = \"https://only.example.com\"\n");
    assert_eq!(one.settings().unwrap().target.name, "only");
}

#[test]
fn the_token_comes_from_the_environment_or_a_file_and_never_prints() {
    let case =
        Case::new().file("token", "  CCIPAT_from_file\n").file("rc.toml", "[defaults]\ntoken_file = \"token\"\n");
    let settings = case.settings().unwrap();
    assert_eq!(settings.target.token.as_ref().unwrap().expose(), "CCIPAT_from_file", "relative to the config file");
    let debug = format!("{settings:?}");
    assert!(!debug.contains("CCIPAT_from_file"), "{debug}");

    let case = case.env("CIRCLE_TOKEN", "CCIPAT_from_env");
    assert_eq!(case.settings().unwrap().target.token.unwrap().expose(), "CCIPAT_from_env");
}

/// The nomad CLI's variables set the `nomad` table of every target; NOMAD_TOKEN only from the
/// environment, never printed, never from a file.
#[test]
fn the_nomad_cli_s_variables_point_at_servers_outside_the_cluster() {
    let case = Case::new()
        .file("ca.pem", "PEM")
        .env("NOMAD_ADDR", "https://nomad.example.internal:4646/")
        .env("NOMAD_CACERT", "ca.pem")
        .env("NOMAD_TLS_SERVER_NAME", "server.eu.nomad")
        .env("NOMAD_TOKEN", " 5f3c-acl-secret \n");
    let nomad = case.settings().unwrap().target.nomad;
    assert_eq!(nomad.address.unwrap().as_str(), "https://nomad.example.internal:4646/");
    assert!(nomad.ca_cert.unwrap().ends_with("ca.pem"));
    assert_eq!(nomad.tls_server_name, "server.eu.nomad");
    assert_eq!(nomad.token.as_ref().unwrap().expose(), "5f3c-acl-secret");
    assert!(!format!("{:?}", case.settings().unwrap()).contains("5f3c-acl-secret"), "Debug hides the token");
    let in_file = Case::new().file("rc.toml", "[defaults.nomad]\ntoken = \"5f3c-acl-secret\"\n").error();
    assert!(in_file.contains("export NOMAD_TOKEN") && !in_file.contains("5f3c-acl-secret"), "{in_file}");
    assert!(
        Case::new().env("NOMAD_ADDR", "nomad:4646").error().contains("NOMAD_ADDR"),
        "a bad address names its variable"
    );
}

#[test]
fn error_a_token_in_the_file_is_refused_with_the_way_to_give_it() {
    let case = Case::new().file("rc.toml", "[defaults]\nhost = \"https://x.example.com\"\ntoken = \"CCIPAT_leaked\"\n");
    let message = case.error();
    assert!(!message.contains("CCIPAT_leaked"), "the value is not echoed");
    insta::assert_snapshot!(message);
}

#[test]
fn error_unknown_cloud_provider_in_a_target() {
    let case =
        Case::new().file("rc.toml", "[targets.prod]\nhost = \"https://x.example.com\"\ncloud_provider = \"azure\"\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_bad_duration_in_a_profile() {
    let case = Case::new().file("rc.toml", "[profiles.ci.timeouts]\ncluster = \"thirty seconds\"\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_invalid_toml() {
    let case = Case::new().file("rc.toml", "[defaults\nhost = 1\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_host_without_protocol_names_the_line() {
    let case = Case::new().file("rc.toml", "profile = \"ci\"\n\n[targets.prod]\nhost = \"circleci.example.com\"\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_host_from_the_environment_names_the_variable() {
    let case = Case::new().env("CIRCLE_HOSTNAME", "circleci.example.com");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_cloud_provider_from_the_environment() {
    let case = Case::new().env("CIRCLE_CLOUD_PROVIDER", "azure");
    let message = case.config().err().expect("rejected").to_string();
    insta::assert_snapshot!(message);
}

#[test]
fn error_unknown_profile_from_a_flag() {
    let mut case = Case::new();
    case.flags.set(&setting::PROFILE, "nightly");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_unknown_profile_in_the_file() {
    let case = Case::new().file("rc.toml", "# mine\nprofile = \"nightly\"\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_several_targets_and_no_choice() {
    let case = Case::new().file("rc.toml", "[targets.a]\n[targets.b]\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_unreadable_token_file() {
    let case = Case::new().file("rc.toml", "[targets.prod]\ntoken_file = \"missing-token\"\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_missing_config_file_named_by_flag() {
    let mut case = Case::new();
    case.config_flag = Some("nope.toml".into());
    insta::assert_snapshot!(case.error());
}

#[test]
fn error_bad_project_slug_and_zero_scale() {
    let case = Case::new().env("REALITYCHECK_PROJECT", "realitycheck");
    insta::assert_snapshot!("bad_project_slug", case.error());
    let case = Case::new().file("rc.toml", "[profiles.laptop]\ntimeout_scale = 0.0\n");
    insta::assert_snapshot!("zero_timeout_scale", case.error());
}

#[test]
fn error_unknown_tag() {
    let case = Case::new().file("rc.toml", "[profiles.laptop]\nexclude_tags = [\"slow\"]\n");
    insta::assert_snapshot!(case.error());
}

#[test]
fn reference_config_documents_every_environment_variable() {
    for var in realitycheck_config::registry::environment() {
        assert!(REFERENCE_CONFIG.contains(var), "{var} is not in the reference config");
    }
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/default.toml").is_file());
}

#[test]
fn a_token_file_flag_beats_the_environment_which_beats_the_file() {
    let mut case = Case::new()
        .file("file-token", "CCIPAT_from_config_file\n")
        .file("flag-token", "CCIPAT_from_flag\n")
        .file("rc.toml", "[defaults]\ntoken_file = \"file-token\"\n")
        .env("CIRCLE_TOKEN", "CCIPAT_from_env");
    assert_eq!(case.settings().unwrap().target.token.unwrap().expose(), "CCIPAT_from_env");
    case.flags.set(&setting::TOKEN_FILE, case.dir.path().join("flag-token").display().to_string());
    assert_eq!(case.settings().unwrap().target.token.unwrap().expose(), "CCIPAT_from_flag");
}

#[test]
fn a_token_given_as_the_token_file_is_not_echoed() {
    let mut case = Case::new();
    case.flags.set(&setting::TOKEN_FILE, "CCIPAT_0123456789abcdef0123");
    let message = case.error();
    assert!(!message.contains("CCIPAT_0123456789abcdef0123"), "{message}");
    assert!(message.contains("is it the token itself"), "{message}");
}

#[test]
fn error_zero_deadline() {
    let case = Case::new().file("rc.toml", "[profiles.laptop]\ndeadline = \"0s\"\n");
    let message = case.error();
    assert!(message.contains("profiles.laptop.deadline") && message.contains("line 2"), "{message}");
}

#[test]
fn error_zero_min_clients_names_the_variable() {
    let case = Case::new().env("REALITYCHECK_MIN_CLIENTS", "0");
    let message = case.error();
    assert!(
        message.contains("environment variable REALITYCHECK_MIN_CLIENTS") && message.contains("at least 1"),
        "{message}"
    );
}

#[test]
fn pipeline_settings_come_from_the_file_and_the_runner_class_from_the_environment() {
    let defaults = Case::new().settings().unwrap().target.pipeline;
    assert_eq!(
        defaults,
        Pipeline {
            branch: None,
            runner_resource_class: None,
            windows: false,
            docker_resource_classes: vec![],
            image_registry: String::new()
        }
    );
    let case = Case::new()
        .file(
            "rc.toml",
            "[defaults.pipeline]\nbranch = \"release\"\nrunner_resource_class = \"org/from-file\"\nwindows = true\n\
             docker_resource_classes = [\"small\", \"large\"]\nimage_registry = \"registry.example.com:5000/\"\n",
        )
        .env("REALITYCHECK_RUNNER_RESOURCE_CLASS", "org/from-env");
    let pipeline = case.settings().unwrap().target.pipeline;
    assert_eq!(pipeline.branch.as_deref(), Some("release"));
    assert_eq!(pipeline.runner_resource_class.as_deref(), Some("org/from-env"));
    assert!(pipeline.windows);
    assert_eq!(pipeline.docker_resource_classes, ["small", "large"]);
    assert_eq!(pipeline.image_registry, "registry.example.com:5000/");
}

#[test]
fn error_bad_pipeline_settings_name_the_key_and_the_fix() {
    let message = Case::new().env("REALITYCHECK_RUNNER_RESOURCE_CLASS", "linux-runner").error();
    assert!(
        message.contains("REALITYCHECK_RUNNER_RESOURCE_CLASS") && message.contains("is not namespace/name"),
        "{message}"
    );
    let case = Case::new().file("rc.toml", "[defaults.pipeline]\ndocker_resource_classes = [\"huge\"]\n");
    insta::assert_snapshot!("unknown_docker_resource_class", case.error());
    let message =
        Case::new().file("rc.toml", "[defaults.pipeline]\nimage_registry = \"registry.example.com\"\n").error();
    assert!(
        message.contains("does not end in `/`") && message.contains("defaults.pipeline.image_registry"),
        "{message}"
    );
}

#[test]
fn certificate_thresholds_the_chart_version_and_the_ca_bundle_from_the_environment() {
    let defaults = Case::new().settings().unwrap().target;
    assert_eq!((defaults.tls_min_days, defaults.nomad.mtls_min_days), (30, 30));
    assert_eq!((defaults.kubernetes.expect_chart_version, defaults.ca_bundle), (None, None));

    let case = Case::new()
        .file(
            DEFAULT_FILE_NAME,
            "[defaults]\ntls_min_days = 14\n[defaults.kubernetes]\nexpect_chart_version = \"v4.4.8\"\n",
        )
        .env("REALITYCHECK_CA_BUNDLE", "certs/ca.pem");
    let target = case.settings().unwrap().target;
    assert_eq!(target.tls_min_days, 14);
    assert_eq!(target.kubernetes.expect_chart_version.as_deref(), Some("4.4.8"), "a leading v is dropped");
    assert_eq!(target.ca_bundle, Some(case.dir.path().join("certs/ca.pem")), "relative to the working directory");

    let mut flagged = Case::new().file(DEFAULT_FILE_NAME, "[defaults.kubernetes]\nexpect_chart_version = \"4.4.7\"\n");
    flagged.flags.set(&setting::EXPECT_CHART_VERSION, "4.4.9");
    assert_eq!(flagged.settings().unwrap().target.kubernetes.expect_chart_version.as_deref(), Some("4.4.9"));
}

#[test]
fn max_pages_is_generous_by_default_and_never_zero() {
    assert_eq!(Case::new().settings().unwrap().target.max_pages, 500);
    let case = Case::new().file(DEFAULT_FILE_NAME, "[defaults]\nmax_pages = 0\n");
    assert!(
        case.error().contains("field `defaults.max_pages`") && case.error().contains("at least 1"),
        "{}",
        case.error()
    );
    let ten = Case::new().file(DEFAULT_FILE_NAME, "[targets.prod]\nmax_pages = 10\n");
    assert_eq!(ten.settings().unwrap().target.max_pages, 10);
}

#[test]
fn a_blank_token_with_a_host_is_an_error_naming_the_variable() {
    let blank = Case::new().env("CIRCLE_HOSTNAME", "https://circleci.example.com").env("CIRCLE_TOKEN", "  ");
    insta::assert_snapshot!(blank.error());
    let cluster_only = Case::new().env("CIRCLE_TOKEN", "");
    assert_eq!(cluster_only.settings().unwrap().target.token, None, "without a host, nothing needs the token");
}

#[test]
fn durations_beyond_a_week_and_bad_namespaces_are_refused_naming_the_field() {
    let endless = Case::new().file(DEFAULT_FILE_NAME, "[profiles.laptop]\ndeadline = \"500000000000y\"\n");
    insta::assert_snapshot!(endless.error());
    let long = Case::new().file(DEFAULT_FILE_NAME, "[profiles.ci.timeouts]\npipeline = \"8days\"\n");
    let error = long.config().unwrap().profile("ci").unwrap_err().to_string();
    assert!(error.contains("field `profiles.ci.timeouts.pipeline`") && error.contains("longer than a week"), "{error}");
    let week = Case::new().file(DEFAULT_FILE_NAME, "[profiles.ci.timeouts]\npipeline = \"7days\"\n");
    let profile = week.config().unwrap().profile("ci").unwrap();
    assert_eq!(profile.timeouts.pipeline, Duration::from_secs(7 * 24 * 3600));
    for bad in ["..", "../kube-system", "Circleci", "-ns", "a/b", &"n".repeat(64)] {
        let mut case = Case::new();
        case.flags.set(&setting::NAMESPACE, bad);
        let error = case.error();
        assert!(error.contains("is not a Kubernetes namespace name"), "{bad}: {error}");
    }
    let mut fine = Case::new();
    fine.flags.set(&setting::NAMESPACE, "circleci-server-2");
    assert_eq!(fine.settings().unwrap().target.kubernetes.namespace, "circleci-server-2");
}

#[test]
fn a_file_that_is_not_utf8_is_named_as_such() {
    let case = Case::new().file("rc.toml", "");
    std::fs::write(case.dir.path().join("rc.toml"), b"profile = \"\xff\xfe\"\n").unwrap();
    let error = case.error();
    assert!(error.contains("is not UTF-8 text (TOML must be)"), "{error}");
    assert!(!error.contains("make the file readable"), "{error}");
}

/// Three targets: two with a variable of their own, one reading CIRCLE_TOKEN.
const THREE_TARGETS: &str = r#"
[targets.prod]
host = "https://prod.example.com"
token_env = "PROD_CIRCLE_TOKEN"
[targets.staging]
host = "https://staging.example.com"
token_env = "STAGING_CIRCLE_TOKEN"
[targets.lab]
host = "https://lab.example.com"
"#;

#[test]
fn each_target_reads_the_token_its_token_env_names() {
    let case = Case::new()
        .file("rc.toml", THREE_TARGETS)
        .env("PROD_CIRCLE_TOKEN", " CCIPAT_prod\n")
        .env("STAGING_CIRCLE_TOKEN", "CCIPAT_staging")
        .env("CIRCLE_TOKEN", "CCIPAT_default");
    let config = case.config().unwrap();
    let targets = config.targets().unwrap();
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["lab", "prod", "staging"], "in name order");
    let tokens: Vec<&str> = targets.iter().map(|t| t.token.as_ref().unwrap().expose()).collect();
    assert_eq!(tokens, ["CCIPAT_default", "CCIPAT_prod", "CCIPAT_staging"], "trimmed, CIRCLE_TOKEN without token_env");
    assert_eq!(config.target("prod").unwrap(), targets[1], "targets() resolves each with target()");
}

#[test]
fn token_env_in_defaults_applies_to_every_target_and_one_may_override_it() {
    let case = Case::new()
        .file(
            "rc.toml",
            "[defaults]\ntoken_env = \"SHARED_TOKEN\"\n[targets.a]\n[targets.b]\ntoken_env = \"B_TOKEN\"\n",
        )
        .env("SHARED_TOKEN", "CCIPAT_shared")
        .env("B_TOKEN", "CCIPAT_b")
        .env("CIRCLE_TOKEN", "CCIPAT_ignored");
    let targets = case.config().unwrap().targets().unwrap();
    assert_eq!(targets[0].token.as_ref().unwrap().expose(), "CCIPAT_shared");
    assert_eq!(targets[1].token.as_ref().unwrap().expose(), "CCIPAT_b");
}

#[test]
fn a_token_file_flag_beats_the_token_env_variable_which_beats_the_file() {
    let mut case = Case::new()
        .file("file-token", "CCIPAT_from_config_file\n")
        .file("flag-token", "CCIPAT_from_flag\n")
        .file("rc.toml", "[targets.prod]\ntoken_env = \"PROD_CIRCLE_TOKEN\"\ntoken_file = \"file-token\"\n")
        .env("CIRCLE_TOKEN", "CCIPAT_from_circle_token");
    let token = |case: &Case| case.settings().unwrap().target.token.unwrap().expose().to_string();
    assert_eq!(token(&case), "CCIPAT_from_config_file", "the variable unset: token_file, never CIRCLE_TOKEN");
    let mut case_blank = Case::new()
        .file("file-token", "CCIPAT_from_config_file\n")
        .file("rc.toml", "[targets.prod]\ntoken_env = \"PROD_CIRCLE_TOKEN\"\ntoken_file = \"file-token\"\n")
        .env("PROD_CIRCLE_TOKEN", "  ");
    assert_eq!(token(&case_blank), "CCIPAT_from_config_file", "a blank variable: token_file");
    case = case.env("PROD_CIRCLE_TOKEN", "CCIPAT_from_prod_var");
    assert_eq!(token(&case), "CCIPAT_from_prod_var");
    case.flags.set(&setting::TOKEN_FILE, case.dir.path().join("flag-token").display().to_string());
    assert_eq!(token(&case), "CCIPAT_from_flag");
    case_blank.flags.set(&setting::TOKEN_FILE, "flag-token");
    std::fs::write(case_blank.dir.path().join("flag-token"), "CCIPAT_relative_flag").unwrap();
    assert_eq!(token(&case_blank), "CCIPAT_relative_flag", "a flag's path starts at the working directory");
}

#[test]
fn error_token_env_names_an_unset_variable() {
    let case = Case::new()
        .file("rc.toml", THREE_TARGETS)
        .env("STAGING_CIRCLE_TOKEN", "CCIPAT_staging")
        .env("CIRCLE_TOKEN", "CCIPAT_default");
    let config = case.config().unwrap();
    let message =
        config.target("prod").unwrap_err().to_string().replace(&case.dir.path().display().to_string(), "[dir]");
    insta::assert_snapshot!(message);
    assert!(config.target("staging").is_ok(), "only the target whose variable is missing fails");
    let first = config.targets().unwrap_err().to_string();
    assert!(first.contains("targets.prod.token_env"), "targets() returns the first error: {first}");
}

#[test]
fn error_token_env_blank_or_inherited_names_the_target_the_key_and_the_variable() {
    let case = Case::new()
        .file("rc.toml", "[defaults]\ntoken_env = \"EU_TOKEN\"\n\n[targets.eu]\nhost = \"https://eu.example.com\"\n")
        .env("EU_TOKEN", " ");
    let message = case.error();
    for part in [
        "rc.toml, line 2",
        "field `defaults.token_env`",
        "target `eu`",
        "EU_TOKEN, which is set but blank",
        "fix: export EU_TOKEN",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    let no_host = Case::new().file("rc.toml", "[targets.eu]\ntoken_env = \"EU_TOKEN\"\n");
    assert!(no_host.error().contains("EU_TOKEN, which is not set"), "token_env asks for a token, host or not");
}

#[test]
fn error_token_env_must_name_a_variable() {
    for bad in ["1PROD", "PROD-TOKEN", "", "PROD TOKEN", "prod.token"] {
        let case = Case::new().file("rc.toml", &format!("[targets.prod]\ntoken_env = \"{bad}\"\n"));
        let message = case.error();
        assert!(
            message.contains("is not an environment variable name")
                && message.contains("field `targets.prod.token_env`"),
            "{bad}: {message}"
        );
    }
    let case = Case::new().file("rc.toml", "[targets.prod]\n\ntoken_env = \"PROD-TOKEN\"\n");
    insta::assert_snapshot!(case.error());
    let typed = Case::new().file("rc.toml", "[defaults]\ntoken_env = 5\n").error();
    assert!(typed.contains("expected a string") && typed.contains("like PROD_CIRCLE_TOKEN"), "{typed}");
    for fine in ["_T", "prod_token_2", "PROD_CIRCLE_TOKEN"] {
        let case = Case::new().file("rc.toml", &format!("[defaults]\ntoken_env = \"{fine}\"\n")).env(fine, "CCIPAT_x");
        assert_eq!(case.settings().unwrap().target.token.unwrap().expose(), "CCIPAT_x", "{fine}");
    }
}

#[test]
fn no_error_and_no_debug_output_shows_a_token() {
    let secrets = [
        "CCIPAT_prod_0123456789",
        "CCIPAT_staging_0123456789",
        "CCIPAT_circle_0123456789",
        "CCIPAT_file_0123456789",
        "CCIPAT_in_token_env_0123456789",
        "0123456789abcdef0123456789abcdef01234567",
    ];
    let mut outputs = Vec::new();
    let case = Case::new()
        .file("rc.toml", THREE_TARGETS)
        .env("PROD_CIRCLE_TOKEN", secrets[0])
        .env("STAGING_CIRCLE_TOKEN", secrets[1])
        .env("CIRCLE_TOKEN", secrets[2]);
    outputs.push(format!("{:?}", case.config().unwrap().targets().unwrap()));
    outputs.push(format!("{:?}", case.settings()));
    let with_file = Case::new()
        .file("token", secrets[3])
        .file("rc.toml", "[targets.prod]\ntoken_file = \"token\"\n[targets.lab]\ntoken_env = \"LAB_TOKEN\"\n")
        .env("CIRCLE_TOKEN", secrets[2]);
    let config = with_file.config().unwrap();
    outputs.push(format!("{:?}", config.target("prod")));
    outputs.push(config.targets().unwrap_err().to_string());
    // The token itself written where the variable's name goes.
    for token in [secrets[4], secrets[5]] {
        let case = Case::new()
            .file("rc.toml", &format!("[targets.prod]\ntoken_env = \"{token}\"\n"))
            .env(token, secrets[0])
            .env("CIRCLE_TOKEN", secrets[2]);
        let message = case.error();
        assert!(message.contains("looks like an API token"), "{message}");
        outputs.push(message);
    }
    let blank =
        Case::new().env("CIRCLE_HOSTNAME", "https://x.example.com").env("CIRCLE_TOKEN", "").env("X", secrets[0]);
    outputs.push(blank.error());
    for output in &outputs {
        for secret in secrets {
            assert!(!output.contains(secret), "{secret} in {output}");
        }
    }
}

#[test]
fn serve_defaults_come_from_the_reference() {
    let serve = Case::new().config().unwrap().serve().unwrap();
    assert_eq!(
        serve,
        ServeSettings {
            profile: "health".into(),
            every: Duration::from_secs(15 * 60),
            canary_every: Some(Duration::from_secs(3600)),
            listen: "127.0.0.1:9797".parse().unwrap(),
            history: 100,
            state_dir: None,
            webhook: None,
            webhook_format: "json".into(),
            api_token_file: None,
            api_token: None,
        }
    );
}

#[test]
fn serve_reads_the_file_then_the_flags_with_paths_where_they_were_written() {
    let case = Case::new();
    std::fs::create_dir(case.dir.path().join("etc")).unwrap();
    let mut case = case.file(
        "etc/rc.toml",
        r#"
[profiles.nightly]
deadline = "1h"
[serve]
profile = "nightly"
every = "1h 30m"
listen = "0.0.0.0:8080"
history = 10000
state_dir = "state"
webhook = "https://hooks.example.com/services/T0/B0/x"
webhook_format = "slack"
api_token_file = "api-token"
"#,
    );
    let etc = case.dir.path().join("etc");
    std::fs::write(etc.join("api-token"), "t0k3n-of-the-file\n").unwrap();
    std::fs::write(case.dir.path().join("api-token"), "t0k3n-of-the-flag").unwrap();
    let serve = case.config().unwrap().serve().unwrap();
    assert_eq!(serve.profile, "nightly");
    assert_eq!(serve.every, Duration::from_secs(90 * 60));
    assert_eq!(serve.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(serve.history, 10000);
    assert_eq!(serve.state_dir, Some(etc.join("state")), "relative to the configuration file");
    assert_eq!(serve.webhook.as_ref().map(|u| u.host_str().unwrap()), Some("hooks.example.com"));
    assert_eq!(serve.webhook_format, "slack");
    assert_eq!(serve.api_token_file, Some(etc.join("api-token")));
    assert_eq!(serve.api_token, Some(Secret::new("t0k3n-of-the-file")), "read, trimmed, when the settings are");

    case.flags = Flags::default()
        .with(&setting::SERVE_PROFILE, "ci")
        .with(&setting::EVERY, "10s")
        .with(&setting::LISTEN, "[::1]:9000")
        .with(&setting::HISTORY, "1")
        .with(&setting::STATE_DIR, "var/state")
        .with(&setting::WEBHOOK, "http://10.0.0.1:8080/hook")
        .with(&setting::WEBHOOK_FORMAT, "json")
        .with(&setting::API_TOKEN_FILE, "api-token");
    let serve = case.config().unwrap().serve().unwrap();
    assert_eq!(serve.profile, "ci");
    assert_eq!(serve.every, Duration::from_secs(10), "10s is allowed");
    assert_eq!(serve.listen, "[::1]:9000".parse().unwrap());
    assert_eq!(serve.history, 1);
    assert_eq!(serve.state_dir, Some(case.dir.path().join("var/state")), "relative to the working directory");
    assert_eq!(serve.webhook.unwrap().as_str(), "http://10.0.0.1:8080/hook");
    assert_eq!(serve.webhook_format, "json");
    assert_eq!(serve.api_token_file, Some(case.dir.path().join("api-token")));
    assert_eq!(serve.api_token, Some(Secret::new("t0k3n-of-the-flag")));
    assert_eq!(case.settings().unwrap().profile.name, "laptop", "[serve] does not choose the profile of `run`");
}

#[test]
fn serve_errors_name_the_line_or_the_flag() {
    let file_error = |text: &str| {
        let case = Case::new().file("rc.toml", text);
        let error = case.config().and_then(|c| c.serve()).expect_err(text).to_string();
        error.replace(&case.dir.path().display().to_string(), "[dir]")
    };
    insta::assert_snapshot!("serve_every_too_short", file_error("[serve]\nevery = \"5s\"\n"));
    insta::assert_snapshot!("serve_unknown_profile", file_error("[serve]\n\nprofile = \"nightly\"\n"));
    insta::assert_snapshot!("serve_listen_host_name", file_error("[serve]\nlisten = \"localhost:9797\"\n"));
    insta::assert_snapshot!("serve_unknown_webhook_format", file_error("[serve]\nwebhook_format = \"xml\"\n"));
    insta::assert_snapshot!("serve_unknown_key", file_error("[serve]\ninterval = \"5m\"\n"));
    for (text, parts) in [
        ("[serve]\nevery = \"25h\"\n", &["line 2", "field `serve.every`", "longer than a day"][..]),
        ("[serve]\nevery = \"soon\"\n", &["line 2", "is not a duration", "\"10s\" to \"24h\""]),
        ("[serve]\nhistory = 0\n", &["line 2", "field `serve.history`", "no history"]),
        ("[serve]\nhistory = 10001\n", &["more than 10000", "from 1 to 10000"]),
        ("[serve]\nhistory = -1\n", &["field `serve.history`", "from 1 to 10000"]),
        ("[serve]\nlisten = \"127.0.0.1\"\n", &["field `serve.listen`", "not an IP address and port"]),
        ("[serve]\nwebhook = \"ftp://example.com/x\"\n", &["field `serve.webhook`", "scheme is `ftp`"]),
        ("[serve]\nwebhook = \"hooks.example.com/x\"\n", &["field `serve.webhook`", "not a URL"]),
        ("[serve]\nstate_dir = \"\"\n", &["field `serve.state_dir`", "the path is empty"]),
        ("[serve]\nstate_dir = \"rc.toml\"\n", &["field `serve.state_dir`", "is not a directory"]),
    ] {
        let error = file_error(text);
        for part in parts {
            assert!(error.contains(part), "{text}: {part}: {error}");
        }
    }

    let flag_error = |(setting, value): (&'static Setting, &str)| {
        let mut case = Case::new();
        case.flags.set(setting, value);
        case.config().and_then(|config| config.serve()).unwrap_err().to_string()
    };
    for (layer, parts) in [
        ((&setting::EVERY, "2days"), &["flag --every", "field `serve.every`", "longer than a day"][..]),
        ((&setting::EVERY, "0s"), &["flag --every", "shorter than 10s"]),
        ((&setting::LISTEN, ":9797"), &["flag --listen"]),
        ((&setting::HISTORY, "0"), &["flag --history"]),
        ((&setting::SERVE_PROFILE, "nightly"), &["flag --profile", "no profile `nightly`"]),
        ((&setting::WEBHOOK, "gopher://x"), &["flag --webhook", "http or https"]),
        ((&setting::API_TOKEN_FILE, ""), &["flag --api-token-file", "empty"]),
        ((&setting::API_TOKEN_FILE, "missing"), &["flag --api-token-file", "cannot read the API token file"]),
    ] {
        let error = flag_error(layer);
        for part in parts {
            assert!(error.contains(part), "{part}: {error}");
        }
    }
}

#[test]
fn a_webhook_s_path_is_never_printed() {
    let secret = "B0000/XXXXsecretXXXX";
    let case =
        Case::new().file("rc.toml", &format!("[serve]\nwebhook = \"https://hooks.example.com/services/{secret}\"\n"));
    let serve = case.config().unwrap().serve().unwrap();
    assert!(serve.webhook.as_ref().unwrap().path().ends_with(secret), "the URL itself is whole");
    let debug = format!("{serve:?}");
    assert!(!debug.contains("XXXXsecretXXXX") && debug.contains("https://hooks.example.com/[redacted]"), "{debug}");
    let config = case.config().unwrap();
    let values = config.serve_values().unwrap();
    let flags = Flags::default().with(&setting::WEBHOOK, format!("https://hooks.example.com/services/{secret}"));
    for debug in
        [format!("{values:?}"), format!("{flags:?}"), format!("{:?}", flags.clone().with(&setting::EVERY, "1m"))]
    {
        assert!(!debug.contains("XXXXsecretXXXX") && debug.contains("[redacted]"), "{debug}");
    }
    assert!(format!("{flags:?}").contains("serve.webhook"), "the setting is named, its value not");
    for bad in [format!("ftp://hooks.example.com/{secret}"), format!("https://:443/{secret}")] {
        let case = Case::new().file("rc.toml", &format!("[serve]\nwebhook = \"{bad}\"\n"));
        let error = case.config().unwrap().serve().unwrap_err().to_string();
        assert!(!error.contains("XXXXsecretXXXX"), "{error}");
    }
}

#[test]
fn the_reference_documents_token_env_and_every_serve_key() {
    for key in [
        "token_env = \"PROD_CIRCLE_TOKEN\"",
        "\n# token_env = ",
        "\n[serve]\n",
        "\nprofile = \"health\"\n",
        "\nevery = \"15m\"\n",
        "\ncanary_every = \"1h\"\n",
        "\nlisten = \"127.0.0.1:9797\"\n",
        "\nhistory = 100\n",
        "\n# state_dir = ",
        "\n# webhook = ",
        "\nwebhook_format = \"json\"\n",
        "\n# api_token_file = ",
    ] {
        assert!(REFERENCE_CONFIG.contains(key), "{key:?} is not in the reference config");
    }
}

/// `realitycheck config check` reports where each value came from: these are its sources.
#[test]
fn origins_name_the_flag_the_variable_the_line_or_the_defaults() {
    let mut case = Case::new()
        .file(
            "rc.toml",
            "default_target = \"prod\"\n[targets.prod]\nhost = \"https://circleci.example.com\"\ntoken_env = \"PROD_TOKEN\"\n[targets.staging]\ntoken_file = \"staging-token\"\n[profiles.ci]\nretries = 3\n",
        )
        .file("staging-token", "tok\n")
        .env("PROD_TOKEN", "the-token")
        .env("REALITYCHECK_KUBE_CONTEXT", "prod-eks");
    case.flags.set(&setting::CLOUD_PROVIDER, "aws");
    let config = case.config().unwrap();
    let file = case.dir.path().join("rc.toml");
    let at = |line| Origin::File { path: file.clone(), line, column: 1 };
    assert_eq!(config.target_choice().unwrap(), Some(("prod".into(), at(1))));
    assert_eq!(config.profile_choice().unwrap(), ("laptop".into(), Origin::BuiltIn));
    assert_eq!(config.profile_names(), ["canary", "ci", "health", "laptop"]);
    assert_eq!(config.target_values("prod").unwrap().origin(&setting::HOST), at(3));
    assert_eq!(
        config.target_values("prod").unwrap().origin(&setting::CLOUD_PROVIDER),
        Origin::Flag("--cloud-provider".into())
    );
    assert_eq!(
        config.target_values("prod").unwrap().origin(&setting::KUBE_CONTEXT),
        Origin::Env("REALITYCHECK_KUBE_CONTEXT".into())
    );
    assert_eq!(config.target_values("prod").unwrap().origin(&setting::NAMESPACE), Origin::BuiltIn);
    assert_eq!(config.profile_values("ci").unwrap().origin(&setting::RETRIES), at(8));
    assert_eq!(config.profile_values("ci").unwrap().origin(&setting::DEADLINE), Origin::BuiltIn);
    assert_eq!(
        config.token_source("prod").unwrap(),
        Some(TokenSource::Env { var: "PROD_TOKEN".into(), named_at: Some(at(4)) })
    );
    assert_eq!(
        config.token_source("staging").unwrap(),
        Some(TokenSource::File { path: case.dir.path().join("staging-token"), given_at: at(6) })
    );
    let without_default = Case::new().file("rc.toml", "[targets.a]\n[targets.b]\n");
    assert_eq!(without_default.config().unwrap().target_choice().unwrap(), None, "run would refuse, serve checks both");
    assert_eq!(Case::new().config().unwrap().token_source("default").unwrap(), None);
}

#[test]
fn a_value_longer_than_any_setting_takes_is_refused_without_quoting_it() {
    let long = "a".repeat(70_000);
    let file = Case::new().file(DEFAULT_FILE_NAME, &format!("[defaults]\nproject = \"gh/o/{long}\"\n")).error();
    assert!(file.contains("the value is 70005 characters long; a setting takes at most 4096"), "{file}");
    assert!(!file.contains(&long), "the value is not quoted");
    let item = Case::new()
        .file(DEFAULT_FILE_NAME, &format!("[defaults.upgrade]\nlatest_patches = [\"4.9.6\", \"{long}\"]\n"))
        .error();
    assert!(item.contains("70000 characters long"), "{item}");
    let variable = Case::new().env("REALITYCHECK_PROJECT", &long).error();
    assert!(variable.contains("REALITYCHECK_PROJECT") && variable.contains("70000 characters long"), "{variable}");
    let host = Case::new().env("CIRCLE_HOSTNAME", &format!("https://{}.example.com", "a.".repeat(200))).error();
    assert!(host.contains("the host name is 412 characters long; a DNS name has at most 253"), "{host}");
    let bound = "b".repeat(4096 - "gh/o/".len());
    assert!(Case::new().env("REALITYCHECK_PROJECT", &format!("gh/o/{bound}")).settings().is_ok(), "4096 is taken");
}
