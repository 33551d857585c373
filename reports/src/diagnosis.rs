//! A diagnosis as indented plain text, so that the terminal's failure section and the JUnit
//! failure text say the same thing the same way:
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
    let mut text = String::new();
    push_lines(&mut text, indent, &diagnosis.summary);
    if !diagnosis.observed.is_empty() {
        text.push_str(&format!("{indent}observed:\n"));
        for line in &diagnosis.observed {
            push_lines(&mut text, &format!("{indent}  "), line);
        }
    }
    push_field(&mut text, indent, "cause:", &diagnosis.cause);
    push_field(&mut text, indent, "what to do:", &diagnosis.remediation);
    push_field(&mut text, indent, "phase:", diagnosis.phase.map(Phase::label).unwrap_or_default());
    text
}

fn push_field(text: &mut String, indent: &str, label: &str, value: &str) {
    if value.trim().is_empty() {
        return;
    }
    let mut lines = value.trim_end().lines();
    text.push_str(&format!("{indent}{label:<LABEL_WIDTH$}{}\n", lines.next().unwrap_or_default()));
    for line in lines {
        text.push_str(&format!("{indent}{:LABEL_WIDTH$}{line}\n", ""));
    }
}

fn push_lines(text: &mut String, indent: &str, value: &str) {
    for line in value.trim_end().lines() {
        text.push_str(&format!("{indent}{line}\n"));
    }
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
