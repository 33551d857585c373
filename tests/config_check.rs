//! End-to-end tests of `realitycheck config check`: the effective settings of every target and
//! profile with where each came from (file and line, environment variable, flag, default),
//! exit 2 with the usual message on a bad value, and the token never shown.

mod common;

use common::{realitycheck, run};
use tempfile::TempDir;

const CONFIG: &str = r#"default_target = "prod"

[targets.prod]
host = "https://app.circleci.example.com/"
token_env = "PROD_CIRCLE_TOKEN"
cloud_provider = "aws"

[targets.prod.kubernetes]
context = "prod-eks"

[targets.staging]
host = "https://circleci-staging.example.com"
token_file = "staging-token"

[profiles.ci]
retries = 2
"#;

const PROD_TOKEN: &str = "CCIPAT_prod_token_of_the_config_check_test_1";
const STAGING_TOKEN: &str = "CCIPAT_staging_token_of_the_config_check_test_2";
const CIRCLE_TOKEN: &str = "CCIPAT_circle_token_of_the_config_check_test_3";

fn dir_with_config() -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("realitycheck.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("staging-token"), format!("{STAGING_TOKEN}\n")).unwrap();
    dir
}

/// Every target and profile, each value with its origin: the file's lines, the environment,
/// a flag, the defaults; run's choices named.
#[test]
fn prints_every_setting_with_where_it_came_from() {
    let dir = dir_with_config();
    let out = run(realitycheck(dir.path())
        .args(["config", "check", "--config", "realitycheck.toml", "--namespace", "circleci"])
        .env("PROD_CIRCLE_TOKEN", PROD_TOKEN)
        .env("REALITYCHECK_PROJECT", "gh/example-org/realitycheck"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

/// `--target` and `--profile` (or their variables) narrow the check to what run would use.
#[test]
fn a_chosen_target_and_profile_are_the_only_ones_checked() {
    let dir = dir_with_config();
    let out = run(realitycheck(dir.path())
        .args(["config", "check", "--config", "realitycheck.toml", "--target", "staging"])
        .env("REALITYCHECK_PROFILE", "ci"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("target staging  (run checks it: flag --target)"), "{}", out.stdout);
    assert!(out.stdout.contains("profile ci  (run uses it: env REALITYCHECK_PROFILE)"), "{}", out.stdout);
    assert!(!out.stdout.contains("target prod") && !out.stdout.contains("profile laptop"), "{}", out.stdout);
    assert!(out.stdout.contains("valid: 1 target, 1 profile"), "{}", out.stdout);
}

/// A bad value, anywhere in any target, is the usual configuration error and exit 2; so is a
/// token_env whose variable is unset, as for run.
#[test]
fn a_bad_value_exits_2_naming_where_it_is() {
    let dir = dir_with_config();
    let out = run(realitycheck(dir.path())
        .args(["config", "check", "--config", "realitycheck.toml"])
        .env("PROD_CIRCLE_TOKEN", PROD_TOKEN)
        .env("CIRCLE_CLOUD_PROVIDER", "azure"));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stdout.is_empty(), "nothing is printed before the error: {}", out.stdout);
    insta::assert_snapshot!(out.stderr);
    let unset = run(realitycheck(dir.path()).args(["config", "check", "--config", "realitycheck.toml"]));
    assert_eq!(unset.code, 2, "{}", unset.stdout);
    assert!(unset.stderr.contains("PROD_CIRCLE_TOKEN, which is not set"), "{}", unset.stderr);
}

/// The token is shown as set, with where it comes from, never its value: from CIRCLE_TOKEN,
/// from the variable token_env names, from token_file and from --token-file.
#[test]
fn the_token_value_never_appears() {
    let dir = dir_with_config();
    std::fs::write(dir.path().join("flag-token"), CIRCLE_TOKEN).unwrap();
    let check = |extra: &[&str]| {
        run(realitycheck(dir.path())
            .args(["-vvv", "config", "check", "--config", "realitycheck.toml"])
            .args(extra)
            .env("PROD_CIRCLE_TOKEN", PROD_TOKEN)
            .env("CIRCLE_TOKEN", CIRCLE_TOKEN)
            .env("RUST_LOG", "trace"))
    };
    let every = check(&[]);
    let flag = check(&["--target", "staging", "--token-file", "flag-token"]);
    std::fs::write(dir.path().join("plain.toml"), "[defaults]\nhost = \"https://circleci.example.com\"\n").unwrap();
    let plain = run(realitycheck(dir.path())
        .args(["config", "check", "--config", "plain.toml"])
        .env("CIRCLE_TOKEN", CIRCLE_TOKEN));
    for out in [&every, &flag, &plain] {
        assert_eq!(out.code, 0, "{}", out.stderr);
        for token in [PROD_TOKEN, STAGING_TOKEN, CIRCLE_TOKEN] {
            assert!(!out.stdout.contains(token) && !out.stderr.contains(token), "the token leaked:\n{}", out.stdout);
        }
    }
    let token_rows: Vec<Vec<&str>> = every
        .stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("token "))
        .map(|line| line.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(token_rows, [["token", "set"], ["token", "set"]], "{}", every.stdout);
    assert!(every.stdout.contains("env PROD_CIRCLE_TOKEN (token_env at realitycheck.toml:5)"), "{}", every.stdout);
    // CIRCLE_TOKEN beats staging's token_file, as run reads it (the snapshot shows token_file).
    assert!(every.stdout.contains(" env CIRCLE_TOKEN\n"), "{}", every.stdout);
    assert!(flag.stdout.contains(" (flag --token-file)"), "{}", flag.stdout);
    assert!(plain.stdout.contains("env CIRCLE_TOKEN"), "{}", plain.stdout);
}

#[test]
fn a_value_of_70_000_characters_is_an_error_not_a_panic() {
    let dir = TempDir::new().unwrap();
    let long = "a".repeat(70_000);
    std::fs::write(dir.path().join("realitycheck.toml"), format!("[defaults]\nproject = \"gh/o/{long}\"\n")).unwrap();
    let out = run(realitycheck(dir.path()).args(["config", "check"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("70005 characters long"), "{}", out.stderr);
    let out = run(realitycheck(dir.path())
        .args(["init", "--no-input", "--force", "--host"])
        .arg(format!("https://{long}.example.com")));
    assert_eq!(out.code, 2, "init refuses it too: {}", out.stderr);
    assert!(out.stderr.contains("characters long"), "{}", out.stderr);
}
