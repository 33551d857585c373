//! The installation's base URL, normalised as the original Reality Check README asks:
//! protocol kept, trailing `/` and an `app.` host prefix removed.

use url::Url;

/// The longest DNS name (RFC 1035: 253 characters without the trailing dot).
const MAX_HOST_NAME: usize = 253;

/// Parses and normalises a base URL; the error says what is wrong in words an operator
/// can act on.
pub fn normalise_host(value: &str) -> Result<Url, String> {
    let trimmed = value.trim().trim_end_matches('/');
    // Messages echo the value, never what stands before an @: it may be a credential.
    let value = &without_userinfo(value);
    let mut url = Url::parse(trimmed).map_err(|e| format!("`{value}` is not a URL with a protocol ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{value}` uses `{}`; the API is served over https (or http)", url.scheme()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The value is not echoed: what stands before the @ may be a credential.
        return Err(
            "the URL carries a user name or password; give the base URL alone and the token in CIRCLE_TOKEN".into()
        );
    }
    let Some(host) = url.host_str().map(str::to_string) else {
        return Err(format!("`{value}` has no host name"));
    };
    if host.len() > MAX_HOST_NAME {
        return Err(format!("the host name is {} characters long; a DNS name has at most {MAX_HOST_NAME}", host.len()));
    }
    if let Some(rest) = host.strip_prefix("app.").filter(|rest| rest.contains('.')) {
        url.set_host(Some(rest)).map_err(|e| format!("`{value}`: {e}"))?;
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{value}` has a query or fragment; give only the base URL"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// `value` with what stands between `://` and the last `@` of the authority elided.
fn without_userinfo(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else { return value.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…{}", &rest[at..]),
        None => value.to_string(),
    }
}

/// The URL as reports show it, without the trailing `/` that `Url` keeps on an empty path.
pub fn display_host(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(value: &str) -> String {
        display_host(&normalise_host(value).unwrap())
    }

    #[test]
    fn strips_trailing_slash_and_app_prefix() {
        assert_eq!(norm("https://app.server.example.com/"), "https://server.example.com");
        assert_eq!(norm("https://server.example.com"), "https://server.example.com");
        assert_eq!(norm("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(norm("https://ci.example.com/circleci/"), "https://ci.example.com/circleci");
        assert_eq!(norm("https://app.localhost"), "https://app.localhost", "app. alone is the host name");
    }

    #[test]
    fn credentials_in_a_url_are_never_echoed() {
        for value in [
            "ftp://admin:hunter2@ci.example.com",
            "https://admin:hunter2@ci example.com",
            "https://admin:hunter2@ci.example.com",
            "https://admin:hunter2@ci.example.com/?q=1",
        ] {
            let error = normalise_host(value).unwrap_err();
            assert!(!error.contains("hunter2") && !error.contains("admin"), "{value}: {error}");
        }
        assert_eq!(without_userinfo("https://u:p@h.example/x@y"), "https://…@h.example/x@y");
        assert_eq!(without_userinfo("https://h.example/x@y"), "https://h.example/x@y");
    }

    #[test]
    fn rejects_what_is_not_a_base_url() {
        assert!(normalise_host("server.example.com").unwrap_err().contains("not a URL with a protocol"));
        assert!(normalise_host("ftp://server.example.com").unwrap_err().contains("ftp"));
        assert!(normalise_host("https://x.example.com/?a=1").unwrap_err().contains("query"));
        let credentials = normalise_host("https://bot:CCIPAT_secret@x.example.com").unwrap_err();
        assert!(
            credentials.contains("user name or password") && !credentials.contains("CCIPAT_secret"),
            "{credentials}"
        );
    }
}
