//! The installation's base URL, normalised as the original Reality Check README asks:
//! protocol kept, trailing `/` and an `app.` host prefix removed.

use url::Url;

/// Parses and normalises a base URL; the error says what is wrong in words an operator
/// can act on.
pub fn normalise_host(value: &str) -> Result<Url, String> {
    let trimmed = value.trim().trim_end_matches('/');
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
