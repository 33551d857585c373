//! Reading the sources: the built-in reference file, the user's TOML file (with positions
//! for errors), the environment and the flags, each turned into a layer.

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use crate::defs;
use crate::error::{ConfigError, Origin};
use crate::layer::{FileLayer, Layer, line_column};
use crate::registry::{self, Setting};

/// The embedded reference configuration: the commented reference of every key, the presets
/// `ci` and `health`; the values it sets are the registry's defaults (a test holds them).
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
        let layer = FileLayer::parse(path, &text)?;
        Ok(SourceFile { path: path.to_path_buf(), text, layer })
    }

    /// Where the file sets a dotted key (`targets.prod.host`), if it does.
    pub fn origin_of(&self, dotted: &str) -> Option<Origin> {
        let (line, column) = line_column(&self.text, locate(&self.text, dotted)?);
        Some(Origin::File { path: self.path.clone(), line, column })
    }
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

/// What the flags say: each value as typed, with its setting. The binary fills it from the
/// command line (`--host`, `--every`, …); tests fill it by hand. Debug shows a secret's value
/// as `[redacted]`.
#[derive(Clone, Default)]
pub struct Flags(Vec<(&'static Setting, String)>);

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.0.iter().map(|(setting, value)| (setting.name(), registry::debug_value(setting, value)));
        f.debug_list().entries(shown).finish()
    }
}

impl Flags {
    /// Sets `setting` to `value`, as its flag would.
    pub fn set(&mut self, setting: &'static Setting, value: impl Into<String>) {
        self.0.push((setting, value.into()));
    }

    /// These flags and `setting` set to `value`.
    pub fn with(mut self, setting: &'static Setting, value: impl Into<String>) -> Flags {
        self.set(setting, value);
        self
    }

    /// The value given for `setting`, as typed (the last one when given twice).
    pub fn get(&self, setting: &Setting) -> Option<&str> {
        self.0.iter().rev().find(|(s, _)| registry::same(s, setting)).map(|(_, value)| value.as_str())
    }

    /// The flags' layer: each value read as its setting's kind; an error names the flag.
    pub(crate) fn layer(&self) -> Result<Layer, ConfigError> {
        let values =
            self.0.iter().filter(|(setting, _)| setting.in_file).map(|(setting, value)| (*setting, value.as_str()));
        Layer::from_text(values, |setting| {
            Origin::Flag(setting.flag.map_or_else(|| setting.name(), |flag| flag.name()))
        })
    }
}

/// The settings whose variables are read apart from the layers: the configuration file's
/// ([`config_path`]) and the API token's (`Config::load`, with the `token_env` it may name).
const READ_APART: [&Setting; 2] = [&defs::CONFIG, &defs::TOKEN];

/// Whether `setting` is one of [`READ_APART`]: no layer holds it.
pub(crate) fn read_apart(setting: &Setting) -> bool {
    READ_APART.iter().any(|apart| registry::same(setting, apart))
}

/// Reads the environment layer through `var` (the process environment in the binary, a
/// map in tests): every setting that has a variable (those no file may set, like NOMAD_TOKEN,
/// included), blank ones left out, but [`READ_APART`].
pub fn env_layer(var: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    let set: Vec<(&'static Setting, String)> = registry::all()
        .iter()
        .filter(|setting| !read_apart(setting))
        .filter_map(|setting| {
            let value = var(setting.env?)?.trim().to_string();
            (!value.is_empty()).then_some((*setting, value))
        })
        .collect();
    Layer::from_text(set.iter().map(|(setting, value)| (*setting, value.as_str())), |setting| {
        Origin::Env(setting.env.unwrap_or_default().into())
    })
}

/// The configuration file to read: the one named by a flag, else by REALITYCHECK_CONFIG,
/// else `realitycheck.toml` in `cwd` if there is one.
pub fn config_path(flag: Option<&Path>, var: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Option<PathBuf> {
    if let Some(path) = flag {
        return Some(path.to_path_buf());
    }
    if let Some(path) = defs::CONFIG.env.and_then(var).filter(|p| !p.trim().is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = cwd.join(DEFAULT_FILE_NAME);
    local.is_file().then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(file.layer.profiles.keys().collect::<Vec<_>>(), ["canary", "ci", "health", "laptop"]);
        assert!(file.layer.targets.is_empty());
    }

    #[test]
    fn a_bad_variable_is_named_with_the_key_it_sets() {
        let var = |name: &str| (name == "REALITYCHECK_MIN_CLIENTS").then(|| "many".to_string());
        let error = env_layer(&var).unwrap_err().to_string();
        assert!(
            error.starts_with("invalid configuration in environment variable REALITYCHECK_MIN_CLIENTS, field `nomad.min_clients`: `many` is not a whole number"),
            "{error}"
        );
    }
}
