//! The project's config holds what the crate says of it: valid against CircleCI's own config
//! schema, declaring exactly [`Parameters::NAMES`], every [`Job`] of the table in its workflow
//! with its resource class, the matrix over [`DOCKER_RESOURCE_CLASSES`], the contexts job
//! running with [`CONTEXTS`]. (That the jobs store what [`realitycheck_project::outputs`]
//! says is proven by running them: the simulation's execution plane runs this YAML.)
//!
//! The schema test reads the shared reference beside the repository (`../shared/reference`):
//! the schema of CircleCI-Public/circleci-yaml-language-server. Without it the test prints why
//! and passes, unless `REALITYCHECK_REQUIRE_TOOLS=1`, which makes it mandatory.

use std::path::PathBuf;

use realitycheck_project::outputs::{self, OidcLine};
use realitycheck_project::{
    CONFIG_YML, CONTEXTS, CapacityExecutor, DOCKER_RESOURCE_CLASSES, FeatureJob, Job, Needs, ORG_GLOBAL, Parameters,
    Workflow,
};
use serde_json::Value;

fn config() -> Value {
    serde_yaml_ng::from_str(CONFIG_YML).expect("the project config is YAML")
}

#[test]
fn validates_against_circleci_config_schema() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/validators/circleci-config-schema/circleci-yaml-language-server-schema.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("REALITYCHECK_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{} is required (REALITYCHECK_REQUIRE_TOOLS=1) but absent",
            path.display()
        );
        eprintln!("skipping: {} is absent", path.display());
        return;
    };
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft7::new(&schema).expect("the schema compiles");
    let config = config();
    let errors: Vec<String> = validator.iter_errors(&config).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "the project config breaks CircleCI's schema:\n{}", errors.join("\n"));

    let mut broken = config.clone();
    broken["version"] = Value::from(2.0);
    assert!(!validator.is_valid(&broken), "the schema test can fail: version 2.0 is refused");
}

#[test]
fn declares_exactly_the_parameters_realitycheck_sets() {
    let config = config();
    let mut declared: Vec<&str> =
        config["parameters"].as_object().expect("parameters").keys().map(String::as_str).collect();
    let mut expected = Parameters::NAMES.to_vec();
    expected.sort_unstable();
    declared.sort_unstable();
    assert_eq!(declared, expected);
    assert_eq!(config["version"], Value::from(2.1));
    assert!(config.get("orbs").is_none(), "no orbs: air-gapped installations have none");
}

/// The name of each job entry of `workflow` (an entry is a name or a one-key map).
fn workflow_jobs(config: &Value, workflow: Workflow) -> Vec<(String, Value)> {
    let jobs = config["workflows"][workflow.name()]["jobs"].as_array();
    let jobs = jobs.unwrap_or_else(|| panic!("workflow {} has a jobs list", workflow.name()));
    jobs.iter()
        .map(|entry| match entry {
            Value::String(name) => (name.clone(), Value::Null),
            Value::Object(map) => {
                let (name, settings) = map.iter().next().expect("a job entry");
                (name.clone(), settings.clone())
            }
            other => panic!("unexpected job entry {other}"),
        })
        .collect()
}

/// The resource class the job definition `name` asks for (docker's default is medium).
fn resource_class(config: &Value, name: &str) -> String {
    let job = &config["jobs"][name];
    assert!(!job.is_null(), "the project config has no job {name:?}");
    job["resource_class"].as_str().unwrap_or("medium").to_string()
}

#[test]
fn every_job_of_the_table_is_in_its_workflow_with_its_resource_class() {
    let config = config();
    let mut table = vec![
        Job::docker(),
        Job::machine(),
        Job::remote_docker(),
        Job::arm(),
        Job::windows(),
        Job::remote_docker_dlc(),
        Job::machine_dlc(),
        Job::android(),
        Job::oidc(),
    ];
    table.extend(FeatureJob::ALL.map(Job::feature));
    for job in table {
        let names: Vec<String> = workflow_jobs(&config, job.workflow).into_iter().map(|(name, _)| name).collect();
        assert!(names.contains(&job.name), "job {} is not in workflow {}: {names:?}", job.name, job.workflow.name());
        assert_eq!(resource_class(&config, &job.name), job.resource_class, "job {}", job.name);
    }
    let runner = Job::runner("org/runner");
    assert_eq!(runner.needs, Needs::Runner("org/runner".into()));
    assert_eq!(workflow_jobs(&config, runner.workflow)[0].0, "runner");
    assert_eq!(resource_class(&config, "runner"), "<< pipeline.parameters.runner_resource_class >>");
}

#[test]
fn the_resource_class_matrix_covers_every_class_and_names_its_jobs_as_the_table() {
    let config = config();
    let jobs = workflow_jobs(&config, Workflow::DockerResourceClasses);
    let (name, settings) = &jobs[0];
    let classes: Vec<&str> = settings["matrix"]["parameters"]["class"]
        .as_array()
        .expect("a class list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(classes, DOCKER_RESOURCE_CLASSES);
    assert_eq!(resource_class(&config, name), "<< parameters.class >>");
    for class in classes {
        assert_eq!(Job::docker_resource_class(class).name, format!("{name}-{class}"));
    }
}

#[test]
fn the_contexts_job_runs_with_the_project_contexts() {
    let config = config();
    let jobs = workflow_jobs(&config, Workflow::Features);
    let (_, settings) = jobs.iter().find(|(name, _)| name == FeatureJob::Contexts.name()).expect("the contexts job");
    let names: Vec<&str> =
        settings["context"].as_array().expect("a context list").iter().filter_map(Value::as_str).collect();
    assert_eq!(names, CONTEXTS.map(|c| c.name));
}

#[test]
fn the_checkout_job_checks_out_then_prints_the_commit() {
    let config = config();
    let steps = config["jobs"][FeatureJob::Checkout.name()]["steps"].as_array().expect("the checkout job's steps");
    assert_eq!(steps[0], "checkout", "the job begins with the checkout step");
    let printing = &steps[1]["run"];
    assert_eq!(printing["name"], realitycheck_project::outputs::CHECKOUT_STEP);
    assert!(printing["command"].as_str().unwrap().contains("git rev-parse HEAD"), "{printing}");
}

#[test]
fn every_docker_image_goes_through_the_registry_prefix() {
    let config = config();
    for (name, job) in config["jobs"].as_object().unwrap() {
        for image in job["docker"].as_array().into_iter().flatten() {
            let image = image["image"].as_str().unwrap();
            assert!(image.starts_with("<< pipeline.parameters.image_registry >>"), "{name} uses {image}");
        }
    }
}

#[test]
fn cloud_gated_workflows_use_when_not_self_cancellation() {
    let config = config();
    let workflows = config["workflows"].as_object().unwrap();
    for gated in [
        Workflow::Machine,
        Workflow::Arm,
        Workflow::Runner,
        Workflow::Windows,
        Workflow::DockerResourceClasses,
        Workflow::Dlc,
        Workflow::Android,
        Workflow::Oidc,
    ] {
        assert!(workflows[gated.name()].get("when").is_some(), "{} is gated by `when`", gated.name());
    }
    assert!(!CONFIG_YML.contains("/cancel"), "no job cancels its own workflow");
}

#[test]
fn each_capacity_executor_has_its_job_gated_by_capacity_executor_sized_by_the_parameters() {
    let config = config();
    for executor in [CapacityExecutor::Docker, CapacityExecutor::Machine] {
        let name = executor.job_name();
        let workflow = &config["workflows"][name];
        assert_eq!(
            workflow["when"]["equal"],
            serde_json::json!([executor.as_str(), "<< pipeline.parameters.capacity_executor >>"]),
            "workflow {name} runs only when capacity_executor asks for it"
        );
        assert_eq!(workflow["jobs"], serde_json::json!([name]));
        let job = &config["jobs"][name];
        assert_eq!(job["parallelism"], "<< pipeline.parameters.capacity_jobs >>", "{name}");
        assert_eq!(job["resource_class"], "<< pipeline.parameters.capacity_resource_class >>", "{name}");
        let command = job["steps"][0]["run"]["command"].as_str().unwrap();
        assert!(command.contains("sleep << pipeline.parameters.capacity_hold_seconds >>"), "{name}: {command}");
        assert_eq!(job.get("docker").is_some(), executor == CapacityExecutor::Docker, "{name}");
    }
    assert_eq!(config["parameters"]["capacity_executor"]["default"], "none", "no capacity job runs unless asked");
}

/// The `run` step of job `job` named `name`: its command.
fn step_command(config: &Value, job: &str, name: &str) -> String {
    let steps = config["jobs"][job]["steps"].as_array().unwrap_or_else(|| panic!("job {job} has steps"));
    let step = steps.iter().find(|step| step["run"]["name"] == name);
    let step = step.unwrap_or_else(|| panic!("job {job} has no step {name:?}"));
    step["run"]["command"].as_str().unwrap().to_string()
}

#[test]
fn both_dlc_jobs_ask_for_layer_caching_and_build_an_image_carrying_the_run_id() {
    let config = config();
    let remote = &config["jobs"][Job::remote_docker_dlc().name]["steps"][0]["setup_remote_docker"];
    assert_eq!(remote["docker_layer_caching"], true);
    assert_eq!(config["jobs"][Job::machine_dlc().name]["machine"]["docker_layer_caching"], true);
    for job in [Job::remote_docker_dlc(), Job::machine_dlc()] {
        let command = step_command(&config, &job.name, outputs::DLC_BUILD_STEP);
        let layers: Vec<&str> = command.lines().filter(|line| line.starts_with("RUN ")).collect();
        assert_eq!(layers.len(), 2, "{command}");
        assert!(!layers[0].contains("<<"), "the first layer is the same on every run, so a cache can hold it");
        assert!(layers[1].contains("<< pipeline.parameters.run_id >>"), "the second carries the run id");
        assert!(command.trim_end().ends_with("docker run --rm realitycheck-dlc"), "{command}");
    }
    let dlc = &config["workflows"][Workflow::Dlc.name()]["when"]["and"];
    assert_eq!(dlc[0], "<< pipeline.parameters.dlc >>", "{dlc}");
    assert_eq!(config["parameters"]["dlc"]["default"], false);
}

#[test]
fn the_android_job_runs_on_the_android_image_of_gcp_installs() {
    let config = config();
    assert_eq!(config["jobs"][Job::android().name]["machine"]["image"], "android-default");
    assert_eq!(
        config["workflows"][Workflow::Android.name()]["when"]["equal"],
        serde_json::json!(["gcp", "<< pipeline.parameters.cloud_provider >>"])
    );
}

#[test]
fn the_env_subst_job_renders_its_environment_and_prints_it() {
    let config = config();
    let name = FeatureJob::EnvSubst.name();
    let command = step_command(&config, name, outputs::ENV_SUBST_STEP);
    assert!(command.contains("circleci env subst < template.txt"), "{command}");
    let environment = &config["jobs"][name]["environment"];
    assert_eq!(environment["REALITYCHECK_RUN_ID"], "<< pipeline.parameters.run_id >>");
    let greeting = environment["REALITYCHECK_GREETING"].as_str().unwrap();
    assert_eq!(outputs::env_subst_rendered("rc-1"), format!("run rc-1: {greeting}\n"));
}

#[test]
fn the_oidc_job_runs_its_program_with_a_context_and_prints_every_word_of_the_table() {
    let config = config();
    let command = step_command(&config, &Job::oidc().name, outputs::OIDC_STEP);
    let program: Vec<&str> = command.lines().skip(1).collect();
    assert_eq!(program[0], outputs::OIDC_PROGRAM_FIRST_LINE);
    for line in OidcLine::ALL {
        assert!(command.contains(&format!("print(f\"oidc {{name}} {}", line.word())), "{line:?} is printed");
    }
    let [first, second] = outputs::OIDC_TOKEN_VARIABLES;
    assert!(command.contains(&format!("for name in (\"{first}\", \"{second}\")")), "both variables are verified");
    for printed in command.lines().filter(|line| line.contains("print(")) {
        for forbidden in ["{token", "{parts[", "{signature", "(token", "(parts[", "(signature"] {
            assert!(!printed.contains(forbidden), "the program never prints a token or a part of it: {printed}");
        }
    }
    let jobs = workflow_jobs(&config, Workflow::Oidc);
    assert_eq!(jobs[0].1["context"], serde_json::json!([ORG_GLOBAL.name]), "a context: tokens come with one");
    assert_eq!(config["parameters"]["oidc"]["default"], false);
}
