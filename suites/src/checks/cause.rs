//! The causes of red the checks can state, each with its fix, as data: every diagnosis of the
//! suite takes its cause and its remediation from a [`Cause`], declared with `causes!` next
//! to the judge functions that state it, which also lists it in its module's `CAUSES`; the
//! catalogue ([`super::causes`]) is all of them, so the docs are held against the very texts
//! the diagnoses say. A text may hold placeholders (`{namespace}`), filled when a diagnosis
//! states it. `suites/clippy.toml` forbids the suite every other way to set a cause or a
//! remediation, and to make a `Cause` but through `causes!`.

use std::fmt::Display;

use harness::Diagnosis;

/// A cause of red that a check can state, and its fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    stated_by: StatedBy,
    cause: &'static str,
    fix: &'static str,
}

/// Which checks can state a cause, and so where the docs explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatedBy {
    /// These checks (their IDs; `resource_classes::docker_<class>` for that family): each one's
    /// page in `docs/checks/` explains it.
    Checks(&'static [&'static str]),
    /// Any check of a kind (any that reads the cluster, calls the API, waits for jobs): the
    /// section of `docs/checks/README.md` under this heading explains it, and their pages link it.
    Shared(&'static str),
}

/// The values of a cause's placeholders, by name.
pub(crate) type Values<'a> = &'a [(&'a str, &'a dyn Display)];

impl Cause {
    /// A cause; only `causes!` calls it, so that every cause is catalogued.
    pub const fn new(stated_by: StatedBy, cause: &'static str, fix: &'static str) -> Cause {
        Cause { stated_by, cause, fix }
    }

    /// Which checks can state it.
    pub fn stated_by(&self) -> StatedBy {
        self.stated_by
    }

    /// The likely cause, placeholders unfilled.
    pub fn cause(&self) -> &'static str {
        self.cause
    }

    /// What to do about it, placeholders unfilled (empty when there is nothing to do).
    pub fn fix(&self) -> &'static str {
        self.fix
    }

    /// The cause and the fix a diagnosis states, their placeholders filled from `values` (a
    /// value no placeholder names is left out).
    pub(crate) fn with(&self, values: Values<'_>) -> Stated {
        debug_assert!(
            [self.cause, self.fix].into_iter().flat_map(pieces).all(|piece| match piece {
                Piece::Placeholder(name) => values.iter().any(|(given, _)| *given == name),
                Piece::Text(_) => true,
            }),
            "a placeholder of `{}` or its fix has no value",
            self.cause
        );
        Stated { cause: fill(self.cause, values), fix: fill(self.fix, values) }
    }
}

/// A piece of the text of a cause or a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text as it is stated.
    Text(&'a str),
    /// The name of a placeholder, filled when a diagnosis states the text.
    Placeholder(&'a str),
}

/// The pieces of `text`: `{name}` (lower-case letters, digits and `_`, not starting with a
/// digit) is a placeholder; any other brace is text (`{ enabled = true }`).
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let (mut text_from, mut at) = (0, 0);
    while let Some(open) = text[at..].find('{').map(|found| at + found) {
        let name = text[open + 1..].split_once('}').map(|(name, _)| name).filter(|name| is_placeholder(name));
        let Some(name) = name else {
            at = open + 1;
            continue;
        };
        if open > text_from {
            pieces.push(Piece::Text(&text[text_from..open]));
        }
        pieces.push(Piece::Placeholder(name));
        text_from = open + name.len() + 2;
        at = text_from;
    }
    if text_from < text.len() {
        pieces.push(Piece::Text(&text[text_from..]));
    }
    pieces
}

fn is_placeholder(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `text` with each placeholder replaced by its value; one without a value stays as it is.
fn fill(text: &str, values: Values<'_>) -> String {
    pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_string(),
            Piece::Placeholder(name) => match values.iter().find(|(given, _)| *given == name) {
                Some((_, value)) => value.to_string(),
                None => format!("{{{name}}}"),
            },
        })
        .collect()
}

/// A cause and its fix as a diagnosis states them, placeholders filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stated {
    cause: String,
    fix: String,
}

impl From<&Cause> for Stated {
    /// A cause without placeholders.
    fn from(cause: &Cause) -> Stated {
        cause.with(&[])
    }
}

/// Sets a diagnosis's cause and remediation from the catalogue: the one way the suite does.
pub(crate) trait Because {
    /// The cause and the remediation of `stated` (a [`Cause`], or [`Cause::with`] its values).
    fn because(self, stated: impl Into<Stated>) -> Self;

    /// Several causes at once: their causes joined by `; `, and their fixes.
    fn because_all(self, stated: impl IntoIterator<Item = Stated>) -> Self;
}

impl Because for Diagnosis {
    #[allow(clippy::disallowed_methods, reason = "the one place the suite sets a cause and a remediation")]
    fn because(self, stated: impl Into<Stated>) -> Self {
        let Stated { cause, fix } = stated.into();
        self.cause(cause).remediation(fix)
    }

    fn because_all(self, stated: impl IntoIterator<Item = Stated>) -> Self {
        let (causes, fixes): (Vec<String>, Vec<String>) = stated.into_iter().map(|s| (s.cause, s.fix)).unzip();
        self.because(Stated { cause: causes.join("; "), fix: fixes.join("; ") })
    }
}

/// Declares causes as constants of the module, grouped by [`StatedBy`], and lists them all in
/// the module's `CAUSES`: a cause cannot be stated without being catalogued.
///
/// ```text
/// causes! {
///     StatedBy::Checks(&[ids::SERVERS_ALIVE]) => {
///         NO_LEADER: "raft has no quorum", "bring the nomad-server pods back";
///     }
/// }
/// ```
macro_rules! causes {
    ($($stated_by:expr => { $($(#[$attribute:meta])* $name:ident: $cause:expr, $fix:expr;)+ })+) => {
        $($(
            $(#[$attribute])*
            #[allow(clippy::disallowed_methods, reason = "causes! is how a cause is made and catalogued")]
            pub(crate) const $name: $crate::checks::cause::Cause =
                $crate::checks::cause::Cause::new($stated_by, $cause, $fix);
        )+)+

        /// Every cause of red this module's diagnoses state.
        pub(crate) const CAUSES: &[&$crate::checks::cause::Cause] = &[$($(&$name),+),+];
    };
}

pub(crate) use causes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_names_in_braces_and_other_braces_are_text() {
        assert_eq!(
            pieces("`kubectl -n {namespace} logs {pod_2}`"),
            [
                Piece::Text("`kubectl -n "),
                Piece::Placeholder("namespace"),
                Piece::Text(" logs "),
                Piece::Placeholder("pod_2"),
                Piece::Text("`"),
            ]
        );
        let literal = "`plugin \"raw_exec\" { config { enabled = true } }`, {} and {Name} and {2x}";
        assert_eq!(pieces(literal), [Piece::Text(literal)]);
        assert_eq!(pieces("{a}{b}"), [Piece::Placeholder("a"), Piece::Placeholder("b")]);
        assert!(pieces("").is_empty());
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "causes made for the test, which no check states")]
    fn a_cause_is_stated_with_its_values_once() {
        let cause = Cause::new(StatedBy::Shared("x"), "`{namespace}` has no pod {pod}", "read {pod} { its log }");
        let braces = "{pod}";
        let stated = cause.with(&[("namespace", &"ns"), ("pod", &braces)]);
        assert_eq!(stated, Stated { cause: "`ns` has no pod {pod}".into(), fix: "read {pod} { its log }".into() });
        let diagnosis = Diagnosis::new("red").because_all([
            Cause::new(StatedBy::Shared("x"), "a", "do a").with(&[]),
            Cause::new(StatedBy::Shared("x"), "b {n}", "do b").with(&[("n", &2)]),
        ]);
        assert_eq!((diagnosis.cause.as_str(), diagnosis.remediation.as_str()), ("a; b 2", "do a; do b"));
    }
}
