//! Text from servers (step output, error bodies, pod states) made safe to print on a terminal:
//! escape sequences removed (CSI such as colours and cursor moves, OSC such as window titles
//! and hyperlinks, and the rest), other control characters shown as U+FFFD. Line breaks and
//! tabs stay. The reporters add their own colours after this.

/// `text` without escape sequences or control characters other than `\n` and `\t`.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \).
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // A two-character sequence (ESC c, ESC 7, ...), or a lone ESC at the end.
                _ => {}
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_go_and_control_characters_show() {
        assert_eq!(printable("\u{1b}[31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(printable("\u{1b}]0;owned title\u{7}after"), "after");
        assert_eq!(printable("\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\"), "link");
        assert_eq!(printable("a\u{0}b\rc\u{7}d\u{9b}e\u{7f}"), "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}");
        assert_eq!(printable("line one\n\tline two"), "line one\n\tline two");
        assert_eq!(printable("end\u{1b}"), "end");
        assert_eq!(printable("\u{1b}cclear"), "clear", "ESC c resets the terminal: both characters go");
    }
}
