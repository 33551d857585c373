//! The registry of settings: what a setting is (its table, key, kind, default, environment
//! variable, flag, help, fix, whether it is secret, the check of its value), and the lists
//! derived from the definitions in `defs.rs`. Everything that names a setting (the layers of
//! files, environment and flags, `config check`, the evidence bundle's effective
//! configuration, the command line's flags, the tests' hermetic environment) reads it here.

use crate::value::Value;

/// The table a setting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A top-level key of the file, or a choice made by the environment or a flag.
    Top,
    /// A key of `[defaults]` and `[targets.NAME]`: one installation.
    Target,
    /// A key of `[profiles.NAME]`: how a run behaves.
    Profile,
    /// A key of `[serve]`: how `realitycheck serve` runs.
    Serve,
}

impl Scope {
    /// The table that holds the scope's keys in the reference file (`[defaults]`,
    /// `[profiles.laptop]`, `[serve]`; none for the top level).
    pub fn reference_table(self) -> Option<&'static str> {
        match self {
            Scope::Top => None,
            Scope::Target => Some("defaults"),
            Scope::Profile => Some("profiles.laptop"),
            Scope::Serve => Some("serve"),
        }
    }
}

/// What a source must give for a setting, before the setting's own check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// A whole number from 0 to `max`.
    Whole {
        /// The largest value the setting's type holds.
        max: u64,
    },
    /// A number (integer or float).
    Number,
    /// A string.
    Text,
    /// A string naming a file or directory.
    Path(Relative),
    /// A duration written like "30s", "15m" or "1h 30m".
    Duration,
    /// One of a few lowercase words.
    Choice(&'static [&'static str]),
    /// A list of strings, each one of `Some(words)` when given.
    List(Option<&'static [&'static str]>),
}

/// Where a relative path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relative {
    /// At the directory of the file that gives it; at the working directory when the
    /// environment or a flag does.
    ToSource,
    /// At the working directory of the run, whoever gives it.
    ToRun,
}

/// The commands whose command line carries a setting's flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `run`, `list`, `config check` and `serve`: the commands that read a configuration.
    Checks,
    /// `serve` only.
    Serve,
    /// `init` only: what it writes into the starter file.
    Init,
    /// `upgrade-check`: the flags of `run` and its own.
    Upgrade,
    /// `capacity`: the flags of `run` and its own.
    Capacity,
}

/// A setting's flag: `--long VALUE` (a switch without value for a `Kind::Bool`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flag {
    /// The long name, without `--`.
    pub long: &'static str,
    /// The placeholder of its value in `--help` (`URL`, `FILE`, `N`).
    pub value_name: &'static str,
    /// The commands that have it.
    pub on: &'static [Command],
}

impl Flag {
    /// `--long`.
    pub fn name(&self) -> String {
        format!("--{}", self.long)
    }
}

/// The check and normalisation of a value, once the sources are merged: the value as it is
/// used, or what is wrong with it (the message never quotes a secret).
pub type Check = fn(Value) -> Result<Value, String>;

/// One setting, defined once.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// Its table.
    pub scope: Scope,
    /// Its key in that table, dotted for subtables (`kubernetes.namespace`).
    pub key: &'static str,
    /// What a source must give.
    pub kind: Kind,
    /// The built-in default, written as in TOML (`500`, `"circleci-server"`); `None`: unset.
    pub default: Option<&'static str>,
    /// The environment variable that sets it.
    pub env: Option<&'static str>,
    /// The flag that sets it.
    pub flag: Option<Flag>,
    /// What it means, in one line (the README's table and `--help`).
    pub help: &'static str,
    /// What leaving it unset does, as `config check` shows it (for a setting without default).
    pub unset: &'static str,
    /// What to do when its value is wrong.
    pub fix: &'static str,
    /// Shown only as set or unset (or without its path, for a URL), never as it is.
    pub secret: bool,
    /// Whether a configuration file may set it (the token, and the file itself, may not).
    pub in_file: bool,
    /// Its own check, after the kind's.
    pub check: Option<Check>,
}

impl Setting {
    /// A setting of `scope` at `key` whose sources give a `kind`; the builder methods below
    /// say the rest.
    pub const fn new(scope: Scope, key: &'static str, kind: Kind) -> Setting {
        Setting {
            scope,
            key,
            kind,
            default: None,
            env: None,
            flag: None,
            help: "",
            unset: "unset",
            fix: "",
            secret: false,
            in_file: true,
            check: None,
        }
    }

    /// Its default, as TOML.
    pub const fn default(self, toml: &'static str) -> Setting {
        Setting { default: Some(toml), ..self }
    }

    /// Its environment variable.
    pub const fn env(self, name: &'static str) -> Setting {
        Setting { env: Some(name), ..self }
    }

    /// Its flag, `--long VALUE_NAME`, on the commands `on`.
    pub const fn flag(self, long: &'static str, value_name: &'static str, on: &'static [Command]) -> Setting {
        Setting { flag: Some(Flag { long, value_name, on }), ..self }
    }

    /// Its help line.
    pub const fn help(self, help: &'static str) -> Setting {
        Setting { help, ..self }
    }

    /// What leaving it unset does.
    pub const fn unset(self, unset: &'static str) -> Setting {
        Setting { unset, ..self }
    }

    /// What to do when its value is wrong.
    pub const fn fix(self, fix: &'static str) -> Setting {
        Setting { fix, ..self }
    }

    /// Its own check.
    pub const fn check(self, check: Check) -> Setting {
        Setting { check: Some(check), ..self }
    }

    /// It is a secret.
    pub const fn secret(self) -> Setting {
        Setting { secret: true, ..self }
    }

    /// No configuration file may set it.
    pub const fn not_in_file(self) -> Setting {
        Setting { in_file: false, ..self }
    }

    /// The key as `config check` and the README name it: `serve.every` for a key of `[serve]`,
    /// the key alone otherwise.
    pub fn name(&self) -> String {
        match self.scope {
            Scope::Serve => format!("serve.{}", self.key),
            _ => self.key.to_string(),
        }
    }

    /// `text` (an answer, a variable, a flag's value) read as this setting's kind and checked
    /// as its definition says; relative paths are left as written.
    pub fn read(&self, text: &str) -> Result<Value, String> {
        let value = Value::from_text(self.kind, text)?;
        match self.check {
            Some(check) => check(value),
            None => Ok(value),
        }
    }

    /// Its default, read as its kind; `None` when it has none. A default that does not read
    /// is a bug of its definition (`registry` tests read every one).
    pub fn default_value(&self) -> Option<Value> {
        let parsed = toml::de::DeValue::parse(self.default?).ok()?;
        Value::from_toml(self.kind, parsed.get_ref()).ok()
    }

    /// Whether the command line of `command` has its flag.
    pub fn flag_on(&self, command: Command) -> Option<&Flag> {
        self.flag.as_ref().filter(|flag| flag.on.contains(&command))
    }
}

/// `value`, a value of `setting`, as `Debug` shows it: `[redacted]` for a secret (the
/// webhook, whose path is its key), so that no layer, flag list or resolved table prints one.
pub(crate) fn debug_value(setting: &Setting, value: &dyn std::fmt::Debug) -> String {
    if setting.secret { "[redacted]".to_string() } else { format!("{value:?}") }
}

/// Every setting, in the order `config check`, the README's table, `--help` and the reference
/// file's header list them.
pub fn all() -> &'static [&'static Setting] {
    crate::defs::ALL
}

/// The settings of one table, in order.
pub fn of(scope: Scope) -> impl Iterator<Item = &'static Setting> {
    all().iter().copied().filter(move |setting| setting.scope == scope)
}

/// The setting at `key` of a table, if there is one.
pub fn find(scope: Scope, key: &str) -> Option<&'static Setting> {
    of(scope).find(|setting| setting.key == key)
}

/// The environment variables realitycheck reads (`KUBECONFIG` and what kube-rs reads in a pod
/// are the Kubernetes client's own).
pub fn environment() -> Vec<&'static str> {
    all().iter().filter_map(|setting| setting.env).collect()
}

/// Whether two settings are the same definition.
pub fn same(a: &Setting, b: &Setting) -> bool {
    (a.scope, a.key) == (b.scope, b.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads_as_its_kind_and_passes_its_check() {
        for setting in all() {
            let Some(text) = setting.default else { continue };
            let value =
                setting.default_value().unwrap_or_else(|| panic!("{}: default {text} does not read", setting.name()));
            if let Some(check) = setting.check {
                check(value).unwrap_or_else(|m| panic!("{}: default {text}: {m}", setting.name()));
            }
        }
    }

    #[test]
    fn keys_variables_and_flags_are_each_defined_once() {
        let mut keys: Vec<(Scope, &str)> = all().iter().map(|s| (s.scope, s.key)).collect();
        let mut vars: Vec<&str> = all().iter().filter_map(|s| s.env).collect();
        let total = (keys.len(), vars.len());
        keys.sort();
        keys.dedup();
        vars.sort();
        vars.dedup();
        assert_eq!((keys.len(), vars.len()), total, "a key or variable is defined twice");
        for command in [Command::Checks, Command::Serve, Command::Init, Command::Upgrade, Command::Capacity] {
            let mut flags: Vec<&str> = all().iter().filter_map(|s| Some(s.flag_on(command)?.long)).collect();
            let count = flags.len();
            flags.sort();
            flags.dedup();
            assert_eq!(flags.len(), count, "two settings share a flag on {command:?}");
        }
        assert!(all().iter().all(|s| !s.help.is_empty() && !s.fix.is_empty()), "every setting has help and a fix");
    }

    #[test]
    fn the_choices_are_those_of_the_types_that_use_them() {
        let providers: Vec<&str> = realitycheck_project::CloudProvider::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(providers, crate::defs::CLOUD_PROVIDERS);
        let tags: Vec<&str> = harness::Tag::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(tags, crate::defs::TAGS);
    }
}
