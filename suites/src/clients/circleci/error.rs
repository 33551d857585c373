//! What can go wrong talking to the API, each error naming the call (method and
//! endpoint), the URL and, for an answer, the status and the server's own message.

use std::path::PathBuf;
use std::time::Duration;

/// Why the API client cannot be built: a configuration error, found before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum ApiClientError {
    /// The CA bundle file cannot be read.
    #[error("cannot read the CA bundle {}: {source}; give a readable PEM file with --ca-bundle (or ca_bundle)", path.display())]
    UnreadableCaBundle {
        /// The file given as `ca_bundle` / `--ca-bundle`.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// The CA bundle is not PEM certificates.
    #[error("the CA bundle {} is not PEM certificates: {message}; give the PEM file of the CA that signs the installation's certificate", path.display())]
    NotPem {
        /// The file given as `ca_bundle` / `--ca-bundle`.
        path: PathBuf,
        /// What the PEM reader said.
        message: String,
    },
    /// The CA bundle holds no certificate.
    #[error("the CA bundle {} holds no certificate; give the PEM file of the CA that signs the installation's certificate", path.display())]
    EmptyCaBundle {
        /// The file given as `ca_bundle` / `--ca-bundle`.
        path: PathBuf,
    },
    /// The HTTP client cannot be built (the TLS backend refused its settings).
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    /// The token cannot be sent as an HTTP header.
    #[error(
        "the API token holds characters an HTTP header cannot carry; check CIRCLE_TOKEN (or token_file) for stray quotes or line breaks"
    )]
    TokenNotAHeader,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{call}: cannot connect to {url}: {message}")]
    Unreachable { call: String, url: String, message: String },
    #[error("{call}: TLS failure with {url}: {message}")]
    Tls { call: String, url: String, message: String },
    #[error("{call}: no answer from {url} within {}", harness::humanize(*after))]
    Timeout { call: String, url: String, after: Duration },
    #[error("{call} answered {status}: {message}")]
    Status { call: String, url: String, status: u16, message: String },
    #[error("{call}: unexpected response body from {url}: {message}")]
    Decode { call: String, url: String, message: String },
    /// The body is longer than realitycheck reads of it; reading stopped at `limit` bytes.
    #[error("{call}: {url} sent more than {} ({what}, the most realitycheck reads); reading stopped there", super::limits::bytes(*limit))]
    TooLarge { call: String, url: String, what: &'static str, limit: usize },
    /// A web page answered where the API's JSON was expected.
    #[error("{call}: not the CircleCI API at {url}: an HTML page answered{}", title.as_ref().map(|t| format!(" (title: {t})")).unwrap_or_default())]
    NotTheApi { call: String, url: String, title: Option<String> },
    /// The API answered with a redirect, which API calls do not follow (the token would go along).
    #[error("{call}: {url} redirects ({status}) to {location}")]
    Redirect { call: String, url: String, status: u16, location: String },
    /// The list kept handing out a new `next_page_token`.
    #[error(
        "{call}: the list at {url} did not end after {pages} pages (max_pages): the server keeps handing out a new next_page_token"
    )]
    TooManyPages { call: String, url: String, pages: u32 },
}

impl ApiError {
    /// The HTTP status of an answer, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            ApiError::Unreachable { url, .. }
            | ApiError::Tls { url, .. }
            | ApiError::Timeout { url, .. }
            | ApiError::Status { url, .. }
            | ApiError::Decode { url, .. }
            | ApiError::TooLarge { url, .. }
            | ApiError::NotTheApi { url, .. }
            | ApiError::Redirect { url, .. }
            | ApiError::TooManyPages { url, .. } => url,
        }
    }
}

/// Whether `body` is a web page rather than JSON or plain text.
pub(crate) fn is_html(body: &str) -> bool {
    let start: String = body.trim_start().chars().take(15).collect::<String>().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

/// The first line of a web page's `<title>`, at most 100 characters.
pub(crate) fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let start = start + lower[start..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = body.get(start..end)?.trim().lines().next()?.trim();
    (!title.is_empty()).then(|| title.chars().take(100).collect())
}

/// The server's message from an error body: `{"message": ...}`, `{"error": ...}` (also
/// `{"error": {"title"/"detail"}}`), a JSON string, or the text itself (a 429 may say
/// `Rate limited.` in plain text).
pub(crate) fn server_message(body: &str) -> String {
    let text = body.trim();
    let from_json = serde_json::from_str::<serde_json::Value>(text).ok().and_then(|value| {
        let field = |v: &serde_json::Value, key: &str| v.get(key).and_then(|m| m.as_str()).map(str::to_string);
        field(&value, "message")
            .or_else(|| field(&value, "error"))
            .or_else(|| value.get("error").and_then(|e| field(e, "detail").or_else(|| field(e, "title"))))
            .or_else(|| value.as_str().map(str::to_string))
    });
    match from_json {
        Some(message) => message,
        None if text.is_empty() => "(empty body)".to_string(),
        None if is_html(text) => match html_title(text) {
            Some(title) => format!("an HTML page titled `{title}`"),
            None => "an HTML page".to_string(),
        },
        None => text.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_shape() {
        assert_eq!(server_message(r#"{"message":"Project not found"}"#), "Project not found");
        assert_eq!(server_message(r#"{"error":"Invalid owner"}"#), "Invalid owner");
        assert_eq!(
            server_message(r#"{"error":{"id":"x","title":"Bad","detail":"owner-id is required"}}"#),
            "owner-id is required"
        );
        assert_eq!(server_message("Rate limited.\n"), "Rate limited.");
        assert_eq!(server_message(""), "(empty body)");
        assert_eq!(server_message(r#""plain json string""#), "plain json string");
        assert_eq!(server_message(r#"{"message":"{\"message\":\"nested\"}"}"#), r#"{"message":"nested"}"#);
        assert_eq!(
            server_message("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
            "an HTML page titled `502 Bad Gateway`"
        );
        assert_eq!(server_message("<!DOCTYPE html><p>no title</p>"), "an HTML page");
        assert_eq!(html_title("<HTML><TITLE>\n  Sign in - Okta\n</TITLE>"), Some("Sign in - Okta".into()));
    }
}
