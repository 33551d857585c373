//! The configuration `realitycheck init` writes: the commented reference ([`REFERENCE_CONFIG`])
//! with the answers filled in, in `[defaults]`, each in place of the line that documents it.
//! What is not answered stays as the reference has it.

use crate::load::REFERENCE_CONFIG;

/// The answers `realitycheck init` writes; `None` leaves the reference's line as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Starter {
    /// `host`, as given (the loading normalises it).
    pub host: Option<String>,
    /// `token_env`: the variable holding the token, when it is not CIRCLE_TOKEN.
    pub token_env: Option<String>,
    /// `project`: slug of the realitycheck project.
    pub project: Option<String>,
    /// `kubernetes.context`.
    pub kube_context: Option<String>,
    /// `kubernetes.namespace`.
    pub namespace: Option<String>,
    /// `pipeline.runner_resource_class`.
    pub runner_resource_class: Option<String>,
}

impl Starter {
    /// The reference configuration with these answers in `[defaults]`: each replaces the first
    /// line of its table that sets the key or shows it commented (`# host = "…"`).
    pub fn render(&self) -> String {
        let answers = [
            ("defaults", "host", &self.host),
            ("defaults", "token_env", &self.token_env),
            ("defaults", "project", &self.project),
            ("defaults.kubernetes", "context", &self.kube_context),
            ("defaults.kubernetes", "namespace", &self.namespace),
            ("defaults.pipeline", "runner_resource_class", &self.runner_resource_class),
        ];
        let mut pending: Vec<(&str, &str, &String)> =
            answers.iter().filter_map(|(table, key, value)| Some((*table, *key, value.as_ref()?))).collect();
        let mut table = String::new();
        let mut text = String::with_capacity(REFERENCE_CONFIG.len());
        for line in REFERENCE_CONFIG.lines() {
            if let Some(header) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
                table = header.to_string();
            }
            let setting = line.strip_prefix("# ").unwrap_or(line);
            let answered = pending.iter().position(|(in_table, key, _)| {
                *in_table == table && setting.strip_prefix(key).is_some_and(|rest| rest.starts_with(" = "))
            });
            match answered {
                Some(index) => {
                    let (_, key, value) = pending.remove(index);
                    text.push_str(&format!("{key} = {}", toml::Value::String(value.clone())));
                }
                None => text.push_str(line),
            }
            text.push('\n');
        }
        debug_assert!(pending.is_empty(), "the reference documents every key init writes: {pending:?}");
        text
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{Config, LoadRequest, Overrides, Secret};

    #[test]
    fn without_answers_it_is_the_reference() {
        assert_eq!(Starter::default().render(), REFERENCE_CONFIG);
    }

    #[test]
    fn the_answers_are_what_the_written_file_loads() {
        let starter = Starter {
            host: Some("https://app.circleci.example.com/".into()),
            token_env: Some("PROD_CIRCLE_TOKEN".into()),
            project: Some("gh/example-org/realitycheck".into()),
            kube_context: Some("prod \"eks\"".into()),
            namespace: Some("circleci".into()),
            runner_resource_class: Some("example-org/linux-runner".into()),
        };
        let text = starter.render();
        assert!(text.contains("\nhost = \"https://app.circleci.example.com/\"\n"), "{text}");
        assert!(text.contains("\ncontext = 'prod \"eks\"'\n"), "quoted as TOML: {text}");
        assert_eq!(text.lines().count(), REFERENCE_CONFIG.lines().count(), "each answer replaces one line");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("realitycheck.toml");
        std::fs::write(&path, text).unwrap();
        let var = |name: &str| (name == "PROD_CIRCLE_TOKEN").then(|| "token-of-prod".to_string());
        let config = Config::load(&LoadRequest {
            config_flag: Some(&path),
            var: &var,
            cwd: Path::new("/"),
            flags: Overrides::default(),
        })
        .unwrap();
        let target = config.settings().unwrap().target;
        assert_eq!(target.host.unwrap().as_str(), "https://circleci.example.com/");
        assert_eq!(target.token, Some(Secret::new("token-of-prod")));
        assert_eq!(target.project.as_deref(), Some("gh/example-org/realitycheck"));
        assert_eq!(target.kubernetes.context.as_deref(), Some("prod \"eks\""));
        assert_eq!(target.kubernetes.namespace, "circleci");
        assert_eq!(target.pipeline.runner_resource_class.as_deref(), Some("example-org/linux-runner"));
    }
}
