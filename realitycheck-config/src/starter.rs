//! The configuration `realitycheck init` writes: the commented reference ([`REFERENCE_CONFIG`])
//! with the answers filled in, in `[defaults]`, each in place of the line that documents it.
//! What is not answered stays as the reference has it.

use crate::load::REFERENCE_CONFIG;
use crate::registry::Setting;

/// The answers `realitycheck init` writes, each for its setting (a target setting: in
/// `[defaults]`); a setting not answered keeps the reference's line.
#[derive(Debug, Clone, Default)]
pub struct Starter {
    answers: Vec<(&'static Setting, String)>,
}

impl Starter {
    /// These answers and `value` for `setting`.
    pub fn answer(mut self, setting: &'static Setting, value: impl Into<String>) -> Starter {
        self.answers.push((setting, value.into()));
        self
    }

    /// The answer for `setting`, if there is one.
    pub fn get(&self, setting: &Setting) -> Option<&str> {
        self.answers.iter().rev().find(|(s, _)| crate::registry::same(s, setting)).map(|(_, value)| value.as_str())
    }

    /// The reference configuration with these answers in `[defaults]`: each replaces the first
    /// line of its table that sets the key or shows it commented (`# host = "…"`).
    pub fn render(&self) -> String {
        let mut pending: Vec<(String, &str, &String)> = self
            .answers
            .iter()
            .map(|(setting, value)| {
                let table = setting.scope.reference_table().unwrap_or_default();
                match setting.key.rsplit_once('.') {
                    Some((sub, leaf)) => (format!("{table}.{sub}"), leaf, value),
                    None => (table.to_string(), setting.key, value),
                }
            })
            .collect();
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
    use crate::defs;
    use crate::{Config, Flags, LoadRequest, Secret};

    #[test]
    fn without_answers_it_is_the_reference() {
        assert_eq!(Starter::default().render(), REFERENCE_CONFIG);
    }

    #[test]
    fn the_answers_are_what_the_written_file_loads() {
        let starter = Starter::default()
            .answer(&defs::HOST, "https://app.circleci.example.com/")
            .answer(&defs::TOKEN_ENV, "PROD_CIRCLE_TOKEN")
            .answer(&defs::PROJECT, "gh/example-org/realitycheck")
            .answer(&defs::KUBE_CONTEXT, "prod \"eks\"")
            .answer(&defs::NAMESPACE, "circleci")
            .answer(&defs::RUNNER_RESOURCE_CLASS, "example-org/linux-runner");
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
            flags: Flags::default(),
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
