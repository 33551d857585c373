//! `nomad operator gossip keyring list`: a heading line (`Gathering installed encryption
//! keys...`), then a one-column list headed `Key` with one base64 key per line.

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
}
