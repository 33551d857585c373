//! Property tests: whatever a configuration file, a variable or a flag holds, loading answers
//! with settings or an error naming the field, never a panic (durations, scales, counts and
//! names at their extremes included), `[serve]` and `token_env` too.

use proptest::prelude::*;
use realitycheck_config::{Config, Flags, LoadRequest, normalise_host};

/// TOML lines with the keys realitycheck reads and values of every type and size.
fn config_text() -> impl Strategy<Value = String> {
    let table = prop_oneof![
        Just(""),
        Just("[defaults]"),
        Just("[defaults.kubernetes]"),
        Just("[defaults.nomad]"),
        Just("[defaults.pipeline]"),
        Just("[profiles.laptop]"),
        Just("[profiles.laptop.timeouts]"),
        Just("[targets.prod]"),
        Just("[serve]"),
    ];
    let key = prop_oneof![
        Just("host"),
        Just("deadline"),
        Just("timeout_scale"),
        Just("retries"),
        Just("concurrency"),
        Just("namespace"),
        Just("min_clients"),
        Just("max_pages"),
        Just("pipeline"),
        Just("api"),
        Just("docker_resource_classes"),
        Just("cloud_provider"),
        Just("project"),
        Just("profile"),
        Just("token_env"),
        Just("every"),
        Just("listen"),
        Just("history"),
        Just("webhook"),
        Just("webhook_format"),
        Just("state_dir"),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "\"[0-9]{1,20}[a-z]{0,6}\"",
        "\"[^\"\\\\]{0,30}\"",
        Just("[]".to_string()),
        Just("[\"small\", \"huge\"]".to_string()),
        Just("true".to_string()),
        Just("\"500000000000y\"".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("1e308".to_string()),
    ];
    prop::collection::vec((table, key, value), 0..8)
        .prop_map(|lines| lines.into_iter().map(|(table, key, value)| format!("{table}\n{key} = {value}\n")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_configuration_loads_or_is_refused(text in prop_oneof![config_text(), ".{0,200}"], scale in ".{0,12}") {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("realitycheck.toml"), &text).unwrap();
        let var = |name: &str| (name == "REALITYCHECK_TIMEOUT_SCALE" || !name.starts_with("CIRCLE")).then(|| scale.clone());
        let request = LoadRequest { config_flag: None, var: &var, cwd: dir.path(), flags: Flags::default() };
        if let Ok(config) = Config::load(&request) {
            let _ = config.targets();
            let _ = config.serve();
            if let Ok(settings) = config.settings() {
                let _ = settings.profile.scaled_timeouts();
                let _ = settings.profile.scaled_deadline();
            }
        }
    }

    #[test]
    fn any_host_normalises_or_is_refused(host in ".{0,80}") {
        let _ = normalise_host(&host);
        let _ = normalise_host(&format!("https://{host}"));
    }
}
