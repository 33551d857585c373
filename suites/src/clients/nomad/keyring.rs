//! The gossip keys the servers have installed: from `nomad operator gossip keyring list` (a
//! heading line, `Gathering installed encryption keys...`, then a one-column list headed
//! `Key` with one base64 key per line), or from the HTTP API's `GET /v1/agent/keyring/list`
//! (`KeyringResponse`: `{"Messages": {...}, "Keys": {"<key>": <servers that have it>}, "NumNodes": n}`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ParseError;
use super::table::NotATable;

/// The keys the servers have installed, in the order listed.
pub fn from_output(output: &str) -> Result<Vec<String>, NotATable> {
    let mut lines = output.lines().map(str::trim).filter(|line| !line.is_empty());
    let first_line = lines.clone().next().unwrap_or_default().to_string();
    if !lines.by_ref().any(|line| line == "Key") {
        return Err(NotATable { required: &["Key"], first_line });
    }
    Ok(lines.map(str::to_string).collect())
}

#[derive(Deserialize)]
struct KeyringResponse {
    #[serde(rename = "Keys", default)]
    keys: Option<BTreeMap<String, serde_json::Value>>,
}

/// The keys of `GET /v1/agent/keyring/list`, in lexical order (the answer is a map); a missing
/// or null map is none.
pub fn from_json(text: &str) -> Result<Vec<String>, ParseError> {
    let response: Option<KeyringResponse> =
        serde_json::from_str(text).map_err(|source| ParseError { command: "GET /v1/agent/keyring/list", source })?;
    Ok(response.and_then(|r| r.keys).unwrap_or_default().into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_key_heading() {
        let output = "Gathering installed encryption keys...\nKey\nAAAA\nBBBB\n";
        assert_eq!(from_output(output).unwrap(), ["AAAA", "BBBB"]);
        assert!(from_output("Gathering installed encryption keys...\nKey\n").unwrap().is_empty());
        assert_eq!(from_output("Usage: nomad operator").unwrap_err().first_line, "Usage: nomad operator");
    }

    #[test]
    fn the_apis_keys_are_the_keys_of_its_map() {
        let text = r#"{"Messages": {}, "Keys": {"BBBB": 3, "AAAA": 3}, "NumNodes": 3}"#;
        assert_eq!(from_json(text).unwrap(), ["AAAA", "BBBB"]);
        assert!(from_json(r#"{"Keys": null, "NumNodes": 0}"#).unwrap().is_empty());
        assert!(from_json("null").unwrap().is_empty());
        assert!(from_json("3/3 nodes reported failure").is_err());
    }
}
