//! Checks of single values, shared by the loading of a configuration and by `realitycheck
//! init`, which checks each answer before writing it: the message says what is wrong with the
//! value, in words an operator can act on (the fix comes from the key, see `fix_for`).

/// Whether `name` is an RFC 1123 label, as Kubernetes requires of a namespace.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A namespace of the CircleCI server release: a Kubernetes namespace name.
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() {
        return Err("the namespace is empty".into());
    }
    if !is_dns_label(namespace) {
        return Err(format!(
            "`{namespace}` is not a Kubernetes namespace name (at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// A project slug: `vcs/org/repo`.
pub fn check_project(slug: &str) -> Result<(), String> {
    let parts: Vec<&str> = slug.split('/').collect();
    if parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && !p.contains(char::is_whitespace)) {
        Ok(())
    } else {
        Err(format!("`{slug}` is not a project slug of the form vcs/org/repo"))
    }
}

/// A self-hosted runner resource class: `namespace/name`.
pub fn check_runner_resource_class(class: &str) -> Result<(), String> {
    let valid = class
        .split_once('/')
        .is_some_and(|(namespace, name)| !namespace.is_empty() && !name.is_empty() && !name.contains('/'));
    if valid { Ok(()) } else { Err(format!("`{class}` is not namespace/name")) }
}

/// The name of the environment variable that holds a target's token (`token_env`). A value
/// that looks like a token itself is not echoed.
pub fn check_token_env(name: &str) -> Result<(), String> {
    if looks_like_a_token(name) {
        return Err("the value looks like an API token, not the name of an environment variable (a token never goes in the configuration file)".into());
    }
    if !is_env_var_name(name) {
        return Err(format!(
            "`{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    Ok(())
}

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting with
/// a digit.
fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether a value meant to name a variable looks like an API token instead: a CircleCI
/// token prefix, or a long run of letters and digits mixing lowercase and digits.
fn looks_like_a_token(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    upper.starts_with("CCIPAT_")
        || upper.starts_with("CCIPRJ_")
        || (value.len() >= 32
            && value.bytes().all(|b| b.is_ascii_alphanumeric())
            && value.bytes().any(|b| b.is_ascii_digit())
            && value.bytes().any(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_accepts_the_good_and_says_what_is_wrong_with_the_bad() {
        assert!(check_namespace("circleci-server").is_ok());
        assert!(check_namespace("CircleCI").unwrap_err().contains("not a Kubernetes namespace name"));
        assert_eq!(check_namespace("").unwrap_err(), "the namespace is empty");
        assert!(check_project("gh/example-org/realitycheck").is_ok());
        assert!(check_project("example-org/realitycheck").unwrap_err().contains("vcs/org/repo"));
        assert!(check_runner_resource_class("example-org/linux").is_ok());
        assert!(check_runner_resource_class("linux").unwrap_err().contains("namespace/name"));
        assert!(check_token_env("PROD_CIRCLE_TOKEN").is_ok());
        assert!(check_token_env("1TOKEN").unwrap_err().contains("not an environment variable name"));
        let token = check_token_env("CCIPAT_abc123").unwrap_err();
        assert!(token.contains("looks like an API token") && !token.contains("abc123"), "{token}");
    }
}
