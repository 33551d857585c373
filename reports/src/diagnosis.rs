//! A diagnosis as indented plain text, so that the terminal's failure section (its causes
//! included) and the JUnit failure text say the same thing the same way:
//!
//! ```text
//! no Nomad client is eligible to run docker jobs
//! observed:
//!   node 3f2a1c ready, ineligible
//! cause:      the Nomad clients were marked ineligible
//! what to do: nomad node eligibility -enable <node-id>
//! phase:      Nomad clients
//! ```

use harness::{Diagnosis, Phase};

/// Width of the labels, so that the values line up.
const LABEL_WIDTH: usize = "what to do: ".len();

/// Renders `diagnosis`, every line starting with `indent` and ending with a newline. Empty
/// parts are left out; multi-line values keep their lines aligned under the first.
pub(crate) fn render(diagnosis: &Diagnosis, indent: &str) -> String {
    let mut text = lines(indent, &diagnosis.summary);
    text.push_str(&findings("observed:", &diagnosis.observed, diagnosis, indent));
    text
}

/// The `observed` lines under `heading` (nothing when there are none), then the cause, what
/// to do and the phase of `diagnosis`, as [`render`] writes them.
pub(crate) fn findings(heading: &str, observed: &[String], diagnosis: &Diagnosis, indent: &str) -> String {
    let mut text = String::new();
    if !observed.is_empty() {
        text.push_str(&format!("{indent}{heading}\n"));
        for line in observed {
            text.push_str(&lines(&format!("{indent}  "), line));
        }
    }
    text.push_str(&field(indent, "cause:", &diagnosis.cause));
    text.push_str(&field(indent, "what to do:", &diagnosis.remediation));
    text.push_str(&field(indent, "phase:", diagnosis.phase.map(Phase::label).unwrap_or_default()));
    text
}

/// `label` and `value` aligned as the diagnosis's fields are (`what to do: ...`); nothing for
/// an empty value.
pub(crate) fn field(indent: &str, label: &str, value: &str) -> String {
    if value.trim().is_empty() {
        return String::new();
    }
    let mut lines = value.trim_end().lines();
    let mut text = format!("{indent}{label:<LABEL_WIDTH$}{}\n", lines.next().unwrap_or_default());
    for line in lines {
        text.push_str(&format!("{indent}{:LABEL_WIDTH$}{line}\n", ""));
    }
    text
}

/// Every line of `value`, each after `indent`.
pub(crate) fn lines(indent: &str, value: &str) -> String {
    value.trim_end().lines().map(|line| format!("{indent}{line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_part_aligned_and_leaves_out_empty_ones() {
        let diagnosis = Diagnosis::new("no leader")
            .observed("nomad-server-0  alive")
            .cause("quorum lost")
            .remediation("restart the pods\none at a time");
        assert_eq!(
            render(&diagnosis, "> "),
            "> no leader\n\
             > observed:\n\
             >   nomad-server-0  alive\n\
             > cause:      quorum lost\n\
             > what to do: restart the pods\n\
             >             one at a time\n"
        );
        assert_eq!(render(&Diagnosis::new("bare"), ""), "bare\n");
    }
}
