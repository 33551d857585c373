//! The documents that list the settings, held against the registry (`src/defs.rs`): the
//! reference file `default.toml` (its header of variables and flags, a line for every key in
//! its table, set to the default or shown commented) and the README's configuration table.
//! On a mismatch the message prints what the document must say.

use std::collections::BTreeMap;

use realitycheck_config::REFERENCE_CONFIG;
use realitycheck_config::registry::{self, Command, Scope, Setting};

/// What the reference file says of each `(table, key)`: the value, and whether the line is
/// commented out (`# key = value`, an example).
fn reference_lines() -> BTreeMap<(String, String), (String, bool)> {
    let mut table = String::new();
    let mut lines = BTreeMap::new();
    for line in REFERENCE_CONFIG.lines() {
        if let Some(header) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            table = header.to_string();
            continue;
        }
        let (text, commented) = match line.strip_prefix("# ") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let Some((key, value)) = text.split_once(" = ") else { continue };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            continue;
        }
        lines.entry((table.clone(), key.to_string())).or_insert((value.to_string(), commented));
    }
    lines
}

/// The table and key under which the reference file shows `setting`.
fn place(setting: &Setting) -> (String, String) {
    let table = setting.scope.reference_table().unwrap_or_default();
    match setting.key.rsplit_once('.') {
        Some((sub, leaf)) => (format!("{table}.{sub}"), leaf.to_string()),
        None => (table.to_string(), setting.key.to_string()),
    }
}

#[test]
fn the_reference_file_sets_every_default_and_shows_every_other_key() {
    let lines = reference_lines();
    let mut wrong = Vec::new();
    for setting in registry::all().iter().filter(|s| s.in_file) {
        let (table, key) = place(setting);
        let expected = match setting.default {
            Some(default) => format!("{key} = {default}"),
            None => format!("# {key} = <an example>"),
        };
        match (lines.get(&(table.clone(), key.clone())), setting.default) {
            (Some((value, false)), Some(default)) if value == default => {}
            (Some((_, true)), None) => {}
            (found, _) => wrong.push(format!("[{table}] must have `{expected}`, has {found:?}")),
        }
    }
    assert!(wrong.is_empty(), "default.toml disagrees with src/defs.rs:\n{}", wrong.join("\n"));
}

#[test]
fn the_reference_file_s_header_lists_every_variable_and_flag() {
    let flags = |command: Command, scope: Option<Scope>| -> Vec<String> {
        let settings = registry::all().iter().filter(|s| scope.is_none_or(|scope| s.scope == scope));
        settings.filter_map(|s| Some(s.flag_on(command)?.name())).collect()
    };
    let mut header = String::from("#   variable                            key                               flag\n");
    for setting in registry::all().iter().filter(|s| s.env.is_some() || s.flag_on(Command::Checks).is_some()) {
        let var = setting.env.unwrap_or("-");
        let flag = setting.flag_on(Command::Checks).map_or("-".to_string(), |flag| flag.name());
        header.push_str(&format!("#   {var:<34}  {:<32}  {flag}\n", setting.name()));
    }
    header.push_str(&format!(
        "#\n# [serve] is set by this file and the flags of `realitycheck serve` only:\n#   {}\n",
        flags(Command::Serve, Some(Scope::Serve)).join(" ")
    ));
    header.push_str(&format!(
        "# `realitycheck init` writes what these flags answer:\n#   {}\n",
        flags(Command::Init, None).join(" ")
    ));
    let header: String = header.lines().map(|line| format!("{}\n", line.trim_end())).collect();
    assert!(REFERENCE_CONFIG.contains(&header), "default.toml's header must read:\n{header}");
}

/// The README's table of settings, as the registry defines them.
fn readme_table() -> String {
    let code = |text: &str| format!("`{text}`");
    let mut table = String::from("| key | environment | flag | meaning |\n|---|---|---|---|\n");
    for setting in registry::all() {
        let flag = setting.flag.map(|flag| {
            let name = code(&flag.name());
            match flag.on {
                [Command::Serve] => format!("`serve {}`", flag.name()),
                [Command::Init] => format!("`init {}`", flag.name()),
                [Command::Upgrade] => format!("`upgrade-check {}`", flag.name()),
                [Command::Capacity] => format!("`capacity {}`", flag.name()),
                _ => name,
            }
        });
        let default = setting.default_value().map(|value| format!(" (default `{}`)", value.show())).unwrap_or_default();
        table.push_str(&format!(
            "| {} | {} | {} | {}{default} |\n",
            code(&setting.name()),
            setting.env.map(code).unwrap_or_default(),
            flag.unwrap_or_default(),
            setting.help,
        ));
    }
    table
}

#[test]
fn the_readme_s_configuration_table_is_the_registry() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let table = readme_table();
    assert!(readme.contains(&table), "README.md's configuration table must read:\n{table}");
}
