//! The jobs the pipeline checks wait for (`suites::pipeline::JobSpec`) exist in the project
//! config `realitycheck init` writes, with the resource classes the checks expect, and the
//! matrix covers every docker resource class the configuration accepts.

use realitycheck_config::DOCKER_RESOURCE_CLASSES;
use serde_yaml_ng::Value;
use suites::pipeline::JobSpec;

fn config() -> Value {
    serde_yaml_ng::from_str(fixtures::project::CONFIG_YML).expect("the project config is YAML")
}

/// The resource class a job of the config asks for (docker's default is medium).
fn resource_class(config: &Value, job: &str) -> String {
    let job = &config["jobs"][job];
    assert!(!job.is_null(), "the project config has no job {job:?}");
    job["resource_class"].as_str().unwrap_or("medium").to_string()
}

#[test]
fn every_job_a_check_waits_for_is_in_the_config_with_its_resource_class() {
    let config = config();
    let fixed = [JobSpec::docker(), JobSpec::machine(), JobSpec::remote_docker(), JobSpec::arm(), JobSpec::windows()];
    for spec in fixed {
        assert_eq!(resource_class(&config, &spec.name), spec.resource_class, "job {}", spec.name);
    }
    for feature in
        ["contexts", "write_workspace", "read_workspace", "save_cache", "restore_cache", "artifacts", "test_results"]
    {
        let spec = JobSpec::feature(feature);
        assert_eq!(resource_class(&config, &spec.name), spec.resource_class, "job {feature}");
    }
    assert_eq!(resource_class(&config, "runner"), "<< pipeline.parameters.runner_resource_class >>");
    assert_eq!(resource_class(&config, "docker_resource_class"), "<< parameters.class >>");
}

#[test]
fn the_resource_class_matrix_covers_every_class_the_configuration_accepts() {
    let config = config();
    let jobs = config["workflows"]["docker_resource_classes"]["jobs"].as_sequence().expect("a jobs list");
    let matrix = &jobs[0]["docker_resource_class"]["matrix"]["parameters"]["class"];
    let classes: Vec<&str> = matrix.as_sequence().expect("a class list").iter().filter_map(Value::as_str).collect();
    assert_eq!(classes, DOCKER_RESOURCE_CLASSES);
    for class in classes {
        assert_eq!(JobSpec::docker_resource_class(class).name, format!("docker_resource_class-{class}"));
    }
}

#[test]
fn the_features_jobs_write_what_the_checks_compare() {
    let text = fixtures::project::CONFIG_YML;
    assert!(
        text.contains(r#"echo "realitycheck artifact << pipeline.parameters.run_id >>" > artifacts/realitycheck.txt"#)
    );
    assert!(text.contains("destination: realitycheck.txt"));
    assert!(
        text.contains(
            r#"<testcase classname="realitycheck.features" name="run << pipeline.parameters.run_id >> passes""#
        )
    );
    assert!(
        text.contains(
            r#"<testcase classname="realitycheck.features" name="run << pipeline.parameters.run_id >> skips""#
        )
    );
    assert!(
        text.contains(r#"printf '%s\n%s' "$CONTEXT_END_TO_END_TEST_VAR" "$MULTI_CONTEXT_END_TO_END_VAR" | sha256sum"#)
    );
}
