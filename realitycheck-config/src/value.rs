//! A setting's value: read from TOML (a file) or from text (the environment, a flag) as its
//! kind says, then shown as `config check` prints it and as the evidence bundle's effective
//! configuration records it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::DeValue;
use url::Url;

use crate::registry::Kind;

/// A value of a setting, of the kind its definition says (or refined by its check: a host's
/// text becomes a `Url`, an address's a `SocketAddr`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `Kind::Bool`.
    Bool(bool),
    /// `Kind::Whole`.
    Whole(u64),
    /// `Kind::Number`.
    Number(f64),
    /// `Kind::Text` and `Kind::Choice` (the choice in lowercase).
    Text(String),
    /// `Kind::Path`, relative paths resolved as the kind says.
    Path(PathBuf),
    /// `Kind::Duration`.
    Duration(Duration),
    /// `Kind::List`.
    List(Vec<String>),
    /// A URL, from a setting's check.
    Url(Url),
    /// An IP address and port, from a setting's check.
    Address(SocketAddr),
}

/// What is wrong with a value from a file: the message, and where in it, for a list, the bad
/// element is (its index and byte offset).
#[derive(Debug, Clone, PartialEq)]
pub struct Mistake {
    /// What is wrong, quoting the value.
    pub message: String,
    /// The index and the offset of the bad element of a list.
    pub element: Option<(usize, usize)>,
}

impl Mistake {
    fn new(message: String) -> Mistake {
        Mistake { message, element: None }
    }
}

/// The longest text a setting takes, in characters: a path (PATH_MAX), a URL, a selector or a
/// list item is far shorter; a longer one is a mistake (a file pasted in), refused before it
/// reaches a check or a table.
pub const MAX_TEXT: usize = 4096;

/// `Ok` when `text` is at most [`MAX_TEXT`] characters; the error says how long it is, without
/// quoting it (it may be a secret, and it is long).
fn within_bound(text: &str) -> Result<(), String> {
    let length = text.chars().count();
    if length > MAX_TEXT {
        return Err(format!("the value is {length} characters long; a setting takes at most {MAX_TEXT}"));
    }
    Ok(())
}

impl Value {
    /// The value a file gives, read as `kind`.
    pub fn from_toml(kind: Kind, value: &DeValue<'_>) -> Result<Value, Mistake> {
        match (kind, value) {
            (Kind::Bool, DeValue::Boolean(b)) => Ok(Value::Bool(*b)),
            (Kind::Whole { max }, DeValue::Integer(integer)) => {
                let text = integer.as_str().replace('_', "");
                match i128::from_str_radix(&text, integer.radix()) {
                    Ok(n) if (0..=i128::from(max)).contains(&n) => Ok(Value::Whole(n as u64)),
                    _ => Err(Mistake::new(format!("`{integer}` is not a whole number from 0 to {max}"))),
                }
            }
            (Kind::Number, DeValue::Float(float)) => float
                .as_str()
                .replace('_', "")
                .parse()
                .map(Value::Number)
                .map_err(|_| Mistake::new(format!("`{float}` is not a number"))),
            (Kind::Number, DeValue::Integer(integer)) => {
                let text = integer.as_str().replace('_', "");
                i64::from_str_radix(&text, integer.radix())
                    .map(|n| Value::Number(n as f64))
                    .map_err(|_| Mistake::new(format!("`{integer}` is not a number")))
            }
            (Kind::List(words), DeValue::Array(items)) => {
                let mut list = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let text = match item.get_ref() {
                        DeValue::String(text) => {
                            within_bound(text)
                                .map_err(|message| Mistake { message, element: Some((index, item.span().start)) })?;
                            text.to_string()
                        }
                        other => {
                            return Err(Mistake {
                                message: format!("expected a string, found {}", found(other)),
                                element: Some((index, item.span().start)),
                            });
                        }
                    };
                    let text = match words {
                        Some(words) => choose(words, &text, Reading::AsWritten)
                            .map_err(|message| Mistake { message, element: Some((index, item.span().start)) })?,
                        None => text,
                    };
                    list.push(text);
                }
                Ok(Value::List(list))
            }
            (Kind::Bool | Kind::Whole { .. } | Kind::Number | Kind::List(_), _) => {
                Err(Mistake::new(format!("expected {}, found {}", expected(kind), found(value))))
            }
            (_, DeValue::String(text)) => Value::read_text(kind, text, Reading::AsWritten).map_err(Mistake::new),
            _ => Err(Mistake::new(format!("expected {}, found {}", expected(kind), found(value)))),
        }
    }

    /// The value an environment variable or a flag gives, read as `kind`: trimmed, a choice
    /// in any case; a list is comma-separated.
    pub fn from_text(kind: Kind, text: &str) -> Result<Value, String> {
        Value::read_text(kind, text.trim(), Reading::Leniently)
    }

    /// `text` read as `kind`, as `reading` says.
    fn read_text(kind: Kind, text: &str, reading: Reading) -> Result<Value, String> {
        within_bound(text)?;
        match kind {
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("`{text}` is not true or false")),
            },
            Kind::Whole { max } => match text.parse::<u64>() {
                Ok(n) if n <= max => Ok(Value::Whole(n)),
                _ => Err(format!("`{text}` is not a whole number from 0 to {max}")),
            },
            Kind::Number => text
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not a number")),
            Kind::Text => Ok(Value::Text(text.to_string())),
            Kind::Path(_) if text.trim().is_empty() => Err("the path is empty".into()),
            Kind::Path(_) => Ok(Value::Path(PathBuf::from(text))),
            Kind::Duration => humantime::parse_duration(text)
                .map(Value::Duration)
                .map_err(|e| format!("`{text}` is not a duration ({e})")),
            Kind::Choice(words) => choose(words, text, reading).map(Value::Text),
            Kind::List(words) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| match words {
                    Some(words) => choose(words, item, reading),
                    None => Ok(item.to_string()),
                })
                .collect::<Result<_, _>>()
                .map(Value::List),
        }
    }

    /// The value as `config check` prints it: text as it is (`""` when empty), durations like
    /// `15m`, lists like `[a, b]`.
    pub fn show(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Whole(n) => n.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Text(text) if text.is_empty() => "\"\"".into(),
            Value::Text(text) => text.clone(),
            Value::Path(path) => path.display().to_string(),
            Value::Duration(duration) => harness::humanize(*duration),
            Value::List(items) => format!("[{}]", items.join(", ")),
            Value::Url(url) => crate::host::display_host(url),
            Value::Address(address) => address.to_string(),
        }
    }

    /// The value as JSON: booleans and numbers as such, lists as arrays, the rest as
    /// `show` writes it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => (*b).into(),
            Value::Whole(n) => (*n).into(),
            Value::Number(n) => (*n).into(),
            Value::Text(text) => text.as_str().into(),
            Value::List(items) => items.clone().into(),
            other => other.show().into(),
        }
    }
}

/// How text is read: a file's as written, a variable's or a flag's leniently (trimmed, a
/// choice in any case), as people type them in a shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    AsWritten,
    Leniently,
}

/// `text` when it is one of `words` (in lowercase, when read leniently).
fn choose(words: &[&str], text: &str, reading: Reading) -> Result<String, String> {
    let chosen = match reading {
        Reading::AsWritten => text.to_string(),
        Reading::Leniently => text.to_ascii_lowercase(),
    };
    if words.contains(&chosen.as_str()) {
        return Ok(chosen);
    }
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    let options = match quoted.as_slice() {
        [one] => one.clone(),
        [first, second] => format!("{first} or {second}"),
        _ => format!("one of {}", quoted.join(", ")),
    };
    Err(format!("`{text}` is not {options}"))
}

/// What a kind expects, for a message.
fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "true or false",
        Kind::Whole { .. } => "a whole number",
        Kind::Number => "a number",
        Kind::Text | Kind::Choice(_) => "a string",
        Kind::Path(_) => "a path as a string",
        Kind::Duration => "a duration as a string, like \"30s\"",
        Kind::List(_) => "a list of strings, like [\"a\", \"b\"]",
    }
}

/// What a file gave instead, for a message.
fn found(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(text) => format!("the string {:?}", text.as_ref()),
        DeValue::Integer(integer) => format!("the integer {integer}"),
        DeValue::Float(float) => format!("the number {float}"),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(datetime) => format!("the date {datetime}"),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(kind: Kind, text: &str) -> Result<Value, Mistake> {
        let value = DeValue::parse(text).unwrap();
        Value::from_toml(kind, value.get_ref())
    }

    #[test]
    fn each_kind_reads_what_files_and_the_environment_give() {
        assert_eq!(toml(Kind::Whole { max: 10 }, "1_0"), Ok(Value::Whole(10)));
        assert!(toml(Kind::Whole { max: 10 }, "11").unwrap_err().message.contains("from 0 to 10"));
        assert!(toml(Kind::Whole { max: 10 }, "-1").is_err());
        assert_eq!(toml(Kind::Number, "2"), Ok(Value::Number(2.0)));
        assert_eq!(toml(Kind::Duration, "\"1h 30m\""), Ok(Value::Duration(Duration::from_secs(5400))));
        assert_eq!(
            toml(Kind::Bool, "\"yes\"").unwrap_err().message,
            "expected true or false, found the string \"yes\""
        );
        assert_eq!(Value::from_text(Kind::Choice(&["aws", "gcp", "other"]), " AWS "), Ok(Value::Text("aws".into())));
        let file = toml(Kind::Choice(&["aws", "gcp", "other"]), "\"AWS\"").unwrap_err();
        assert_eq!(file.message, "`AWS` is not one of `aws`, `gcp`, `other`", "a file's value is read as written");
        assert_eq!(toml(Kind::Text, "\" ns\""), Ok(Value::Text(" ns".into())), "not trimmed");
        assert_eq!(
            Value::from_text(Kind::Choice(&["json", "slack"]), "xml").unwrap_err(),
            "`xml` is not `json` or `slack`"
        );
        assert_eq!(
            Value::from_text(Kind::Whole { max: 5 }, "abc").unwrap_err(),
            "`abc` is not a whole number from 0 to 5"
        );
        assert_eq!(
            Value::from_text(Kind::Path(crate::registry::Relative::ToRun), " ").unwrap_err(),
            "the path is empty"
        );
    }

    #[test]
    fn a_bad_element_of_a_list_is_named_by_its_index_and_place() {
        let mistake = toml(Kind::List(Some(&["a", "b"])), "[\"a\", \"c\"]").unwrap_err();
        assert_eq!(mistake.message, "`c` is not `a` or `b`");
        assert_eq!(mistake.element, Some((1, 6)));
    }

    #[test]
    fn shown_and_recorded_as_an_operator_reads_them() {
        assert_eq!(Value::Text(String::new()).show(), "\"\"");
        assert_eq!(Value::List(vec!["a".into(), "b".into()]).show(), "[a, b]");
        assert_eq!(Value::Duration(Duration::from_secs(900)).show(), "15m");
        assert_eq!(Value::Number(1.0).show(), "1");
        assert_eq!(Value::List(vec!["a".into()]).to_json(), serde_json::json!(["a"]));
    }
}
