//! A CircleCI 2.1 config, read into what the simulated server interprets: the pipeline parameter
//! declarations, the job definitions and the workflows, in the config's order. Job definitions
//! and workflows stay YAML until [`super::plan`] substitutes and expands them for a pipeline.

use serde_yaml_ng::Value;

use super::parameters::{self, ParameterDecl};

/// A parsed config.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectConfig {
    pub parameters: Vec<ParameterDecl>,
    /// Job name and definition.
    pub(super) jobs: Vec<(String, Value)>,
    /// Workflow name and definition.
    pub(super) workflows: Vec<(String, Value)>,
}

/// A config the simulation cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the config is invalid: {0}")]
pub struct InvalidConfig(pub String);

impl ProjectConfig {
    pub fn parse(text: &str) -> Result<Self, InvalidConfig> {
        let document: Value = serde_yaml_ng::from_str(text).map_err(|error| InvalidConfig(error.to_string()))?;
        if document.get("version").and_then(Value::as_f64) != Some(2.1) {
            return Err(InvalidConfig("only `version: 2.1` configs are simulated".to_owned()));
        }
        let parameters =
            parameters::declarations(document.get("parameters")).map_err(|error| InvalidConfig(error.to_string()))?;
        let named = |key: &str| -> Result<Vec<(String, Value)>, InvalidConfig> {
            let Some(section) = document.get(key) else { return Ok(Vec::new()) };
            let mapping = section.as_mapping().ok_or_else(|| InvalidConfig(format!("`{key}` is not a mapping")))?;
            Ok(mapping
                .iter()
                .filter(|(_, definition)| definition.is_mapping())
                .filter_map(|(name, definition)| Some((name.as_str()?.to_owned(), definition.clone())))
                .collect())
        };
        let jobs = named("jobs")?;
        if jobs.is_empty() {
            return Err(InvalidConfig("no jobs".to_owned()));
        }
        Ok(Self { parameters, jobs, workflows: named("workflows")? })
    }

    /// The definition of job `name`.
    pub(super) fn job(&self, name: &str) -> Option<&Value> {
        self.jobs.iter().find(|(job, _)| job == name).map(|(_, definition)| definition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_config_parses_in_order() {
        let config = ProjectConfig::parse(realitycheck_project::CONFIG_YML).unwrap();
        let parameters: Vec<&str> = config.parameters.iter().map(|decl| decl.name.as_str()).collect();
        assert_eq!(parameters, realitycheck_project::Parameters::NAMES);
        let workflows: Vec<&str> = config.workflows.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            workflows,
            [
                "docker",
                "docker_resource_classes",
                "machine",
                "arm",
                "dlc",
                "android",
                "oidc",
                "runner",
                "windows",
                "features",
                "capacity_docker",
                "capacity_machine"
            ]
        );
        assert!(config.job("test_results").is_some());
    }

    #[test]
    fn unreadable_configs_are_refused() {
        assert!(ProjectConfig::parse("version: 2.1\njobs: {}\n").is_err());
        assert!(ProjectConfig::parse("version: 2\njobs: {a: {docker: [{image: x}]}}\n").is_err());
        assert!(ProjectConfig::parse("[").is_err());
        assert!(ProjectConfig::parse("version: 2.1\nparameters: {p: {type: map}}\njobs: {a: {}}\n").is_err());
    }
}
