//! Reading a table printed by the nomad CLI (ryanuber/columnize: left-aligned columns,
//! padded to the widest cell, two spaces between them, `<none>` for an empty cell).
//! Columns are found by their header's offset, not by splitting on whitespace: headers
//! such as `Node Pool` and `Raft Version` hold a space.

use std::collections::HashMap;

/// One row, by header name. Cells are trimmed; `<none>` reads as empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(HashMap<String, String>);

impl Row {
    /// The cell under `header`, empty when the table has no such column.
    pub fn get(&self, header: &str) -> &str {
        self.0.get(header).map_or("", String::as_str)
    }

    pub fn has(&self, header: &str) -> bool {
        self.0.contains_key(header)
    }
}

/// Output that is not the table asked for: an error message, an HTML page, another layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a table with the columns {}; the output begins with {first_line:?}", .required.join(", "))]
pub struct NotATable {
    /// The columns the table must have.
    pub required: &'static [&'static str],
    /// The first non-empty line of the output, trimmed; empty when there is none.
    pub first_line: String,
}

/// Parses the first table in `text`: the first non-empty line is the header, which must
/// name every `required` column; rows go on until a blank line (after which the CLI prints
/// notes such as pagination hints).
pub fn parse(text: &str, required: &'static [&'static str]) -> Result<Vec<Row>, NotATable> {
    let mut lines = text.lines().skip_while(|line| line.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    let columns = columns(header);
    if !required.iter().all(|name| columns.iter().any(|(column, _)| column == name)) {
        return Err(NotATable { required, first_line: header.trim().to_string() });
    }
    Ok(lines
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let cells = columns.iter().enumerate().map(|(i, (name, start))| {
                let end = columns.get(i + 1).map_or(usize::MAX, |(_, next)| *next);
                let cell = slice_chars(line, *start, end);
                let cell = cell.trim();
                (name.clone(), if cell == "<none>" { String::new() } else { cell.to_string() })
            });
            Row(cells.collect())
        })
        .collect())
}

/// Header names with their start offsets (in characters). Names are separated by two or
/// more spaces; a single space belongs to the name.
fn columns(header: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = header.chars().collect();
    let mut columns = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !(chars[i] == ' ' && chars.get(i + 1).is_none_or(|c| *c == ' ')) {
            i += 1;
        }
        columns.push((chars[start..i].iter().collect(), start));
    }
    columns
}

fn slice_chars(line: &str, start: usize, end: usize) -> String {
    line.chars().skip(start).take(end.saturating_sub(start)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER_COLUMNS: &[&str] = &["Name", "Status"];
    const NODE_COLUMNS: &[&str] = &["ID", "Status"];

    #[test]
    fn headers_with_spaces_stay_one_column() {
        let names: Vec<_> =
            columns("ID        Node Pool  DC   Name   Class   Drain").into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["ID", "Node Pool", "DC", "Name", "Class", "Drain"]);
    }

    #[test]
    fn rows_are_sliced_by_header_offsets() {
        let text = "Name             Address    Port  Status  Leader  Raft Version  Build  Datacenter  Region\n\
                    server-1.global  10.0.0.8   4648  alive   true    3             1.3.0  dc1         global\n\
                    server-2.global  10.0.0.9   4648  failed  false   3             1.3.0  dc1         global\n";
        let rows = parse(text, MEMBER_COLUMNS).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get("Name"), "server-1.global");
        assert_eq!(rows[0].get("Raft Version"), "3");
        assert_eq!(rows[1].get("Status"), "failed");
        assert_eq!(rows[1].get("Region"), "global");
        assert!(!rows[0].has("Protocol"));
    }

    #[test]
    fn none_is_empty_and_trailing_notes_are_ignored() {
        let text = "ID        DC   Name   Class   Drain  Eligibility  Status\n\
                    a72dfba2  dc1  node1  <none>  false  eligible     ready\n\
                    \n\
                    Results have been paginated. To get the next page run:\n";
        let rows = parse(text, NODE_COLUMNS).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("Class"), "");
        assert_eq!(rows[0].get("Status"), "ready");
    }

    #[test]
    fn a_header_without_rows_is_an_empty_table() {
        let header = "Name  Address  Port  Status  Leader  Raft Version  Build  Datacenter  Region\n";
        assert_eq!(parse(header, MEMBER_COLUMNS), Ok(Vec::new()));
    }

    #[test]
    fn output_without_the_required_columns_is_not_a_table() {
        let not_a_table = |text: &str, required: &'static [&'static str]| parse(text, required).unwrap_err();
        assert_eq!(not_a_table("", NODE_COLUMNS), NotATable { required: NODE_COLUMNS, first_line: String::new() });
        assert_eq!(not_a_table("No nodes registered\n", NODE_COLUMNS).first_line, "No nodes registered");
        assert_eq!(
            not_a_table("\n<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n", NODE_COLUMNS)
                .first_line,
            "<!DOCTYPE html>"
        );
        let error = not_a_table("Error: ID and Status unknown\nStatus  ID\n", NODE_COLUMNS);
        assert_eq!(error.first_line, "Error: ID and Status unknown");
        assert_eq!(
            error.to_string(),
            "expected a table with the columns ID, Status; the output begins with \"Error: ID and Status unknown\""
        );
        // The members table is not the node table.
        let members =
            "Name             Address   Port  Status  Leader\nserver-1.global  10.0.0.8  4648  alive   true\n";
        assert!(not_a_table(members, NODE_COLUMNS).first_line.starts_with("Name "));
    }
}
