//! Reading the sources: the built-in reference file, the user's TOML file (with positions
//! for errors), the environment and the flags, each turned into a layer.

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::error::{ConfigError, Origin, fix_for};
use crate::layer::{CloudProvider, FileLayer, ProfileLayer, ServeLayer, TargetLayer};

/// The embedded reference configuration; its values are the built-in defaults.
pub const REFERENCE_CONFIG: &str = include_str!("default.toml");

/// The file looked for in the working directory when no file is named.
pub const DEFAULT_FILE_NAME: &str = "realitycheck.toml";

/// A configuration file as read: its path, its text and what it says.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    pub layer: FileLayer,
}

impl SourceFile {
    pub fn read(path: &Path) -> Result<SourceFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            fix: match source.kind() {
                std::io::ErrorKind::NotFound => {
                    "check the path given to --config or REALITYCHECK_CONFIG; `realitycheck init` writes a starter file"
                        .into()
                }
                std::io::ErrorKind::InvalidData => {
                    "the file is not UTF-8 text (TOML must be): save it as UTF-8, or point --config at the TOML file, not a binary or an archive".into()
                }
                std::io::ErrorKind::IsADirectory => "give the path of the TOML file, not of its directory".into(),
                _ => "make the file readable by this user".into(),
            },
            source,
        })?;
        SourceFile::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<SourceFile, ConfigError> {
        let layer = parse_layer(path, &text)?;
        Ok(SourceFile { path: path.to_path_buf(), text, layer })
    }

    /// Where the file sets a dotted key (`targets.prod.host`), if it does.
    pub fn origin_of(&self, dotted: &str) -> Option<Origin> {
        let (line, column) = line_column(&self.text, locate(&self.text, dotted)?);
        Some(Origin::File { path: self.path.clone(), line, column })
    }
}

fn parse_layer(path: &Path, text: &str) -> Result<FileLayer, ConfigError> {
    let origin_at = |offset: usize| {
        let (line, column) = line_column(text, offset);
        Origin::File { path: path.to_path_buf(), line, column }
    };
    let deserializer = toml::de::Deserializer::parse(text).map_err(|e| ConfigError::Invalid {
        origin: origin_at(e.span().map_or(0, |s| s.start)),
        field: None,
        message: format!("this is not valid TOML: {}", e.message().trim()),
        fix: "correct the TOML syntax at that place (quotes around strings, `key = value`, [table] headers)".into(),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.message().trim().to_string();
        let offset = inner.span().map(|s| s.start).or_else(|| locate(text, &field)).unwrap_or(0);
        ConfigError::Invalid {
            origin: origin_at(offset),
            fix: fix_for(&field, &message),
            field: (field != ".").then_some(field),
            message,
        }
    })
}

/// The byte offset of a dotted key (`targets.prod.host`), if the file sets it.
fn locate(text: &str, dotted: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut keys = dotted.split('.').peekable();
    while let Some(key) = keys.next() {
        let (name, value) = table.iter().find(|(name, _)| name.get_ref() == key)?;
        if keys.peek().is_none() {
            return Some(name.span().start);
        }
        table = value.get_ref().as_table()?;
    }
    None
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// What the environment and the flags say: the choices and the values for the target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// The profile chosen (`--profile`, REALITYCHECK_PROFILE).
    pub profile: Option<String>,
    /// The target chosen (`--target`, REALITYCHECK_TARGET).
    pub target: Option<String>,
    /// Values for the chosen target; they beat the file's.
    pub target_layer: TargetLayer,
    /// Values for the chosen profile (only `timeout_scale`); they beat the file's.
    pub profile_layer: ProfileLayer,
    /// Values for `realitycheck serve`, from its flags (`--every`, `--listen`, `--history`,
    /// `--state-dir`, `--webhook`, `--webhook-format`, `--api-token-file`, and `--profile`
    /// given on `serve`); they beat the file's `[serve]`. No environment variable sets them.
    pub serve_layer: ServeLayer,
}

/// Environment variables read, with the configuration key each one sets.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("CIRCLE_HOSTNAME", "host"),
    ("CIRCLE_TOKEN", "token (never printed), unless the target sets token_env"),
    ("CIRCLE_CLOUD_PROVIDER", "cloud_provider"),
    ("REALITYCHECK_PROJECT", "project"),
    ("REALITYCHECK_TARGET", "which [targets.NAME]"),
    ("REALITYCHECK_PROFILE", "which [profiles.NAME]"),
    ("REALITYCHECK_KUBE_CONTEXT", "kubernetes.context"),
    ("REALITYCHECK_NAMESPACE", "kubernetes.namespace"),
    ("REALITYCHECK_MIN_CLIENTS", "nomad.min_clients"),
    ("REALITYCHECK_RUNNER_RESOURCE_CLASS", "pipeline.runner_resource_class"),
    ("REALITYCHECK_TIMEOUT_SCALE", "timeout_scale of the profile"),
    ("REALITYCHECK_CONFIG", "the configuration file"),
];

/// Reads the environment layer through `var` (the process environment in the binary, a
/// map in tests). The token is not part of it: see `Config::load`.
pub fn env_overrides(var: &dyn Fn(&str) -> Option<String>) -> Result<Overrides, ConfigError> {
    let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut overrides =
        Overrides { profile: get("REALITYCHECK_PROFILE"), target: get("REALITYCHECK_TARGET"), ..Default::default() };
    let target = &mut overrides.target_layer;
    target.host = get("CIRCLE_HOSTNAME");
    target.ca_bundle = get("REALITYCHECK_CA_BUNDLE").map(std::path::PathBuf::from);
    target.project = get("REALITYCHECK_PROJECT");
    target.kubernetes.context = get("REALITYCHECK_KUBE_CONTEXT");
    target.kubernetes.namespace = get("REALITYCHECK_NAMESPACE");
    target.pipeline.runner_resource_class = get("REALITYCHECK_RUNNER_RESOURCE_CLASS");
    target.cloud_provider = parse_var(&get, "CIRCLE_CLOUD_PROVIDER", "cloud_provider", "a cloud provider", |v| {
        CloudProvider::parse(&v.to_lowercase())
    })?;
    target.nomad.min_clients =
        parse_var(&get, "REALITYCHECK_MIN_CLIENTS", "nomad.min_clients", "a whole number", |v| v.parse().ok())?;
    overrides.profile_layer.timeout_scale =
        parse_var(&get, "REALITYCHECK_TIMEOUT_SCALE", "timeout_scale", "a number", |v| v.parse().ok())?;
    Ok(overrides)
}

/// A variable that must read as a `T`; the error names the variable, the key it sets and the fix.
fn parse_var<T>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &str,
    key: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    get(name)
        .map(|value| {
            parse(&value).ok_or_else(|| {
                ConfigError::invalid(
                    Origin::Env(name.into()),
                    key,
                    format!("`{value}` is not {what}"),
                    fix_for(key, ""),
                )
            })
        })
        .transpose()
}

/// The configuration file to read: the one named by a flag, else by REALITYCHECK_CONFIG,
/// else `realitycheck.toml` in `cwd` if there is one.
pub fn config_path(flag: Option<&Path>, var: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    if let Some(path) = var("REALITYCHECK_CONFIG").filter(|p| !p.trim().is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = cwd.join(DEFAULT_FILE_NAME);
    local.is_file().then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }

    #[test]
    fn locates_nested_keys() {
        let text = "profile = \"ci\"\n[targets.prod]\nhost = \"https://x.example.com\"\n";
        let offset = locate(text, "targets.prod.host").unwrap();
        assert_eq!(line_column(text, offset).0, 3);
        assert_eq!(locate(text, "targets.staging.host"), None);
    }

    #[test]
    fn the_reference_config_parses() {
        let file = SourceFile::parse(Path::new("default.toml"), REFERENCE_CONFIG.to_string()).unwrap();
        assert_eq!(file.layer.profile.as_deref(), Some("laptop"));
        assert_eq!(file.layer.profiles.keys().collect::<Vec<_>>(), ["ci", "health", "laptop"]);
        assert!(file.layer.targets.is_empty());
    }
}
