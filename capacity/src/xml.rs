//! Text from servers made safe for the XML outputs (JUnit, SVG): escape sequences removed and
//! control characters shown as U+FFFD, as on the terminal (`reports::printable`), and the two
//! noncharacters XML 1.0 forbids replaced too. Escaping `<`, `&` and quotes is the writer's
//! part: quick-xml's for JUnit, [`escaped`] for the hand-written SVG.

/// `text` as XML 1.0 can carry it.
pub(crate) fn text(text: &str) -> String {
    reports::printable(text).replace(['\u{fffe}', '\u{ffff}'], "\u{fffd}")
}

/// `text` (made safe with [`text`]) escaped for an attribute value or element content.
pub(crate) fn escaped(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in text(raw).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_made_safe_for_xml() {
        assert_eq!(text("\u{1b}[31mred\u{1b}[0m\u{7}bell\u{ffff}"), "red\u{fffd}bell\u{fffd}");
        assert_eq!(escaped(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
    }
}
