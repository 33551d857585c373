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
    flags: Overrides,
    config_flag: Option<String>,
}

impl Case {
    fn new() -> Case {
        Case { dir: TempDir::new().unwrap(), env: HashMap::new(), flags: Overrides::default(), config_flag: None }
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
    case.flags.target_layer.kubernetes.namespace = Some("from-flag".into());
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

    case.flags.profile = Some("nightly".into());
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
    case.flags.target = Some("prod".into());
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
    case.flags.profile = Some("nightly".into());
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
    for (var, _) in ENV_VARS {
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
    case.flags.target_layer.token_file = Some(case.dir.path().join("flag-token"));
    assert_eq!(case.settings().unwrap().target.token.unwrap().expose(), "CCIPAT_from_flag");
}

#[test]
fn a_token_given_as_the_token_file_is_not_echoed() {
    let mut case = Case::new();
    case.flags.target_layer.token_file = Some("CCIPAT_0123456789abcdef0123".into());
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
    flagged.flags.target_layer.kubernetes.expect_chart_version = Some("4.4.9".into());
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
        case.flags.target_layer.kubernetes.namespace = Some(bad.to_string());
        let error = case.error();
        assert!(error.contains("is not a Kubernetes namespace name"), "{bad}: {error}");
    }
    let mut fine = Case::new();
    fine.flags.target_layer.kubernetes.namespace = Some("circleci-server-2".into());
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
