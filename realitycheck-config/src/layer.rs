//! One layer of configuration: what a file, the environment or the flags say, each value
//! with where it came from. Layers merge setting by setting, the later one winning; a file
//! is read against the registry of settings, so that an unknown key or a value of the wrong
//! kind is refused with its place in the file.

use std::collections::BTreeMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::error::{ConfigError, Origin};
use crate::registry::{self, Scope, Setting};
use crate::value::Value;

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The value, of the setting's kind.
    pub value: Value,
    /// The file position, variable or flag that gave it.
    pub origin: Origin,
    /// The key as written there: `targets.prod.host` in a file, `host` for a variable or flag.
    pub field: String,
}

/// What one source says, setting by setting. Debug shows a secret's value as `[redacted]`.
#[derive(Clone, Default, PartialEq)]
pub struct Layer(BTreeMap<(Scope, &'static str), Entry>);

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.0.iter().filter_map(|((scope, key), entry)| {
            let setting = registry::find(*scope, key)?;
            Some((setting.name(), registry::debug_value(setting, entry)))
        });
        f.debug_map().entries(shown).finish()
    }
}

impl Layer {
    /// What this layer says of `setting`.
    pub fn get(&self, setting: &Setting) -> Option<&Entry> {
        self.0.get(&(setting.scope, setting.key))
    }

    /// Sets `setting` to `entry`.
    pub fn insert(&mut self, setting: &'static Setting, entry: Entry) {
        self.0.insert((setting.scope, setting.key), entry);
    }

    /// This layer with `over` on top: `over` wins wherever it says something.
    pub fn merge(mut self, over: &Layer) -> Layer {
        self.0.extend(over.0.iter().map(|(key, entry)| (*key, entry.clone())));
        self
    }

    /// Every value with its origin replaced by `origin` (the built-in reference's values
    /// are built-in, wherever in the reference they are).
    fn with_origin(mut self, origin: &Origin) -> Layer {
        self.0.values_mut().for_each(|entry| entry.origin = origin.clone());
        self
    }

    /// The layer of values given as text (`NAME=value` of the environment, `--flag value`),
    /// each read as its setting's kind; `origin` says where each came from.
    pub fn from_text<'a>(
        values: impl IntoIterator<Item = (&'static Setting, &'a str)>,
        origin: impl Fn(&Setting) -> Origin,
    ) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        for (setting, text) in values {
            let origin = origin(setting);
            let value = Value::from_text(setting.kind, text)
                .map_err(|message| ConfigError::invalid(origin.clone(), setting.name(), message, setting.fix))?;
            layer.insert(setting, Entry { value, origin, field: setting.name() });
        }
        Ok(layer)
    }
}

/// A whole file: the top-level keys, `[defaults]`, the targets, the profiles and `[serve]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileLayer {
    /// Top-level keys (`profile`, `default_target`).
    pub top: Layer,
    /// `[defaults]`: what every target starts from.
    pub defaults: Layer,
    /// `[targets.NAME]`, by name.
    pub targets: BTreeMap<String, Layer>,
    /// `[profiles.NAME]`, by name.
    pub profiles: BTreeMap<String, Layer>,
    /// `[serve]`.
    pub serve: Layer,
}

impl FileLayer {
    /// This file with `over` on top, table by table and setting by setting.
    pub fn merge(self, over: &FileLayer) -> FileLayer {
        let maps = |mut base: BTreeMap<String, Layer>, over: &BTreeMap<String, Layer>| {
            for (name, layer) in over {
                let merged = base.remove(name).unwrap_or_default().merge(layer);
                base.insert(name.clone(), merged);
            }
            base
        };
        FileLayer {
            top: self.top.merge(&over.top),
            defaults: self.defaults.merge(&over.defaults),
            targets: maps(self.targets, &over.targets),
            profiles: maps(self.profiles, &over.profiles),
            serve: self.serve.merge(&over.serve),
        }
    }

    /// Every value of the file with its origin replaced by `origin`.
    pub fn with_origin(self, origin: &Origin) -> FileLayer {
        let each = |map: BTreeMap<String, Layer>| map.into_iter().map(|(k, l)| (k, l.with_origin(origin))).collect();
        FileLayer {
            top: self.top.with_origin(origin),
            defaults: self.defaults.with_origin(origin),
            targets: each(self.targets),
            profiles: each(self.profiles),
            serve: self.serve.with_origin(origin),
        }
    }

    /// The file `text`, read from `path`, against the registry.
    pub fn parse(path: &Path, text: &str) -> Result<FileLayer, ConfigError> {
        let reader = Reader { path, text };
        let root = DeTable::parse(text).map_err(|e| ConfigError::Invalid {
            origin: reader.origin(e.span().map_or(0, |s| s.start)),
            field: None,
            message: format!("this is not valid TOML: {}", e.message().trim()),
            fix: "correct the TOML syntax at that place (quotes around strings, `key = value`, [table] headers)".into(),
        })?;
        let mut file = FileLayer::default();
        for (key, value) in root.get_ref() {
            let name = key.get_ref().as_ref();
            let offset = key.span().start;
            match name {
                "defaults" => {
                    file.defaults = reader.table(Scope::Target, "defaults", "", reader.as_table(name, value)?)?
                }
                "serve" => file.serve = reader.table(Scope::Serve, "serve", "", reader.as_table(name, value)?)?,
                "targets" | "profiles" => {
                    let scope = if name == "targets" { Scope::Target } else { Scope::Profile };
                    let mut named = BTreeMap::new();
                    for (inner, table) in reader.as_table(name, value)? {
                        let field = format!("{name}.{}", inner.get_ref());
                        let layer = reader.table(scope, &field, "", reader.as_table(&field, table)?)?;
                        named.insert(inner.get_ref().to_string(), layer);
                    }
                    if scope == Scope::Target {
                        file.targets = named;
                    } else {
                        file.profiles = named;
                    }
                }
                _ => reader.setting(&mut file.top, Scope::Top, name, name, offset, value)?,
            }
        }
        Ok(file)
    }
}

/// Reads one file's tables against the registry.
struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
}

type Spanned<T> = toml::Spanned<T>;

impl Reader<'_> {
    fn origin(&self, offset: usize) -> Origin {
        let (line, column) = line_column(self.text, offset);
        Origin::File { path: self.path.to_path_buf(), line, column }
    }

    fn invalid(&self, offset: usize, field: &str, message: String, fix: &str) -> ConfigError {
        ConfigError::invalid(self.origin(offset), field, message, fix)
    }

    /// The table at `field`, or an error saying a table was expected.
    fn as_table<'t, 'i>(&self, field: &str, value: &'t Spanned<DeValue<'i>>) -> Result<&'t DeTable<'i>, ConfigError> {
        value.get_ref().as_table().ok_or_else(|| {
            self.invalid(
                value.span().start,
                field,
                format!("expected a table, found {}", value.get_ref().type_str()),
                "write it as a [table] header with `key = value` lines under it",
            )
        })
    }

    /// The keys of `table`, a table of `scope` at `field` (`targets.prod`), under the dotted
    /// `prefix` of its subtable (`kubernetes.`).
    fn table(&self, scope: Scope, field: &str, prefix: &str, table: &DeTable<'_>) -> Result<Layer, ConfigError> {
        let mut layer = Layer::default();
        self.fill(&mut layer, scope, field, prefix, table)?;
        Ok(layer)
    }

    fn fill(
        &self,
        layer: &mut Layer,
        scope: Scope,
        field: &str,
        prefix: &str,
        table: &DeTable<'_>,
    ) -> Result<(), ConfigError> {
        for (key, value) in table {
            let key_name = key.get_ref().as_ref();
            let dotted = format!("{prefix}{key_name}");
            let full = format!("{field}.{key_name}");
            let is_subtable = registry::of(scope).any(|s| s.in_file && s.key.starts_with(&format!("{dotted}.")));
            if is_subtable {
                let inner = self.as_table(&full, value)?;
                self.fill(layer, scope, &full, &format!("{dotted}."), inner)?;
            } else {
                self.setting(layer, scope, &dotted, &full, key.span().start, value)?;
            }
        }
        Ok(())
    }

    /// The value of the setting at `key` of `scope`, written at `field`, into `layer`.
    fn setting(
        &self,
        layer: &mut Layer,
        scope: Scope,
        key: &str,
        field: &str,
        offset: usize,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<(), ConfigError> {
        let Some(setting) = registry::find(scope, key).filter(|s| s.in_file) else {
            return Err(self.unknown(scope, key, field, offset));
        };
        let value = Value::from_toml(setting.kind, value.get_ref()).map_err(|mistake| match mistake.element {
            Some((index, at)) => self.invalid(at, &format!("{field}[{index}]"), mistake.message, setting.fix),
            None => self.invalid(value.span().start, field, mistake.message, setting.fix),
        })?;
        layer.insert(setting, Entry { value, origin: self.origin(offset), field: field.to_string() });
        Ok(())
    }

    /// An unknown key: the keys its table has, and a fix (the token's own when it is the token).
    fn unknown(&self, scope: Scope, key: &str, field: &str, offset: usize) -> ConfigError {
        let (prefix, leaf) = key.rsplit_once('.').map_or(("", key), |(prefix, leaf)| (prefix, leaf));
        let mut known: Vec<&str> = Vec::new();
        for setting in registry::of(scope).filter(|s| s.in_file) {
            let rest =
                if prefix.is_empty() { Some(setting.key) } else { setting.key.strip_prefix(&format!("{prefix}.")) };
            if let Some(first) = rest.and_then(|rest| rest.split('.').next())
                && !known.contains(&first)
            {
                known.push(first);
            }
        }
        if scope == Scope::Top {
            known.extend(["defaults", "targets", "profiles", "serve"]);
        }
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        let not_in_file = registry::find(scope, key).filter(|s| !s.in_file);
        let fix = not_in_file.map_or(
            "remove the key or correct its spelling; `realitycheck init` writes the commented reference of every key",
            |setting| setting.fix,
        );
        self.invalid(offset, field, format!("unknown field `{leaf}`, expected one of {}", listed.join(", ")), fix)
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defs;

    fn parse(text: &str) -> Result<FileLayer, String> {
        FileLayer::parse(Path::new("rc.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }

    #[test]
    fn each_value_knows_where_it_was_written() {
        let file = parse("profile = \"ci\"\n[targets.prod]\nhost = \"https://x.example.com\"\n[targets.prod.kubernetes]\nnamespace = \"ns\"\n").unwrap();
        let prod = &file.targets["prod"];
        let host = prod.get(&defs::HOST).unwrap();
        assert_eq!(host.field, "targets.prod.host");
        assert_eq!(host.origin, Origin::File { path: "rc.toml".into(), line: 3, column: 1 });
        assert_eq!(prod.get(&defs::NAMESPACE).unwrap().field, "targets.prod.kubernetes.namespace");
        assert_eq!(file.top.get(&defs::PROFILE).unwrap().value, Value::Text("ci".into()));
    }

    #[test]
    fn debug_never_shows_a_secret_s_value() {
        let file = parse("[serve]\nwebhook = \"https://hooks.example.com/T0/s3cr3t\"\nevery = \"1m\"\n").unwrap();
        let debug = format!("{file:?}");
        assert!(!debug.contains("s3cr3t") && debug.contains("serve.webhook") && debug.contains("60s"), "{debug}");
    }

    #[test]
    fn the_later_layer_wins_setting_by_setting() {
        let base =
            parse("[defaults]\nhost = \"https://a.example.com\"\n[defaults.kubernetes]\nnamespace = \"a\"\n").unwrap();
        let over = parse("[defaults.kubernetes]\nnamespace = \"b\"\n").unwrap();
        let merged = base.merge(&over);
        assert_eq!(merged.defaults.get(&defs::HOST).unwrap().value, Value::Text("https://a.example.com".into()));
        assert_eq!(merged.defaults.get(&defs::NAMESPACE).unwrap().value, Value::Text("b".into()));
    }

    #[test]
    fn unknown_keys_and_wrong_kinds_are_named_where_they_are() {
        let unknown = parse("[defaults.nomad]\nservers = 3\n").unwrap_err();
        assert!(
            unknown.contains("line 2, column 1, field `defaults.nomad.servers`: unknown field `servers`, expected one of `server_selector`, `address`, `ca_cert`, `client_cert`, `client_key`, `tls_server_name`, `min_clients`, `mtls_min_days`"),
            "{unknown}"
        );
        let kind = parse("[profiles.ci]\nretries = \"two\"\n").unwrap_err();
        assert!(
            kind.contains("column 11, field `profiles.ci.retries`: expected a whole number, found the string \"two\""),
            "{kind}"
        );
        let table = parse("serve = 1\n").unwrap_err();
        assert!(table.contains("field `serve`: expected a table, found integer"), "{table}");
    }
}
