//! Questions on a terminal, for `realitycheck init`: each shows its default in brackets and
//! Enter accepts it; the end of input (Ctrl-D) ends the questions with an error, so that
//! nothing half-answered is written.

use std::io::{self, BufRead, Write};

/// Asks questions on `output` and reads the answers, one line each, from `input`.
pub struct Prompt<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Prompt<R, W> {
    pub fn new(input: R, output: W) -> Self {
        Prompt { input, output }
    }

    /// Writes a line of its own (a note, a verdict).
    pub fn say(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.output, "{line}")?;
        self.output.flush()
    }

    /// Asks `question`, showing `default` in brackets; the answer trimmed, or the default when
    /// it is empty (`None` when there is no default either). The end of input is an error.
    pub fn ask(&mut self, question: &str, default: Option<&str>) -> io::Result<Option<String>> {
        match default {
            Some(default) => write!(self.output, "{question} [{default}]: ")?,
            None => write!(self.output, "{question}: ")?,
        }
        self.output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            // End of input leaves the cursor after the question: end its line.
            writeln!(self.output)?;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the input ended before every question was answered",
            ));
        }
        let answer = line.trim();
        Ok(if answer.is_empty() { default.map(str::to_string) } else { Some(answer.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(input: &str, question: &str, default: Option<&str>) -> (io::Result<Option<String>>, String) {
        let mut output = Vec::new();
        let answer = Prompt::new(input.as_bytes(), &mut output).ask(question, default);
        (answer, String::from_utf8(output).unwrap())
    }

    #[test]
    fn enter_accepts_the_default_shown_in_brackets() {
        let (answer, shown) = asked("\n", "Namespace", Some("circleci-server"));
        assert_eq!(
            (answer.unwrap().as_deref(), shown.as_str()),
            (Some("circleci-server"), "Namespace [circleci-server]: ")
        );
        let (answer, shown) = asked("  \n", "Project", None);
        assert_eq!((answer.unwrap(), shown.as_str()), (None, "Project: "));
    }

    #[test]
    fn an_answer_is_trimmed_and_beats_the_default() {
        let (answer, _) = asked("  prod-eks \n", "Kube context", Some("kind"));
        assert_eq!(answer.unwrap().as_deref(), Some("prod-eks"));
    }

    #[test]
    fn the_end_of_input_is_an_error_not_the_default() {
        let (answer, shown) = asked("", "Namespace", Some("circleci-server"));
        assert_eq!(answer.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        assert!(shown.ends_with('\n'), "{shown:?}");
    }
}
