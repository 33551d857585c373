//! Error texts with their causes: the clients (kube-rs, hyper, reqwest) wrap the reason
//! that matters ("Connection refused", "certificate not valid") deep inside. And the causes
//! found by their type: a TLS failure (rustls's error), an I/O error of a kind.

/// An error with its causes, `outer: inner: root`, each said once. kube-rs prints an API
/// server's answer with a Rust debug dump of it: that one is said in words.
pub fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(kube::Error::Api(status)) = current.downcast_ref::<kube::Error>() {
            // The answer is the root: its own text would repeat it.
            parts.push(format!("the API server answered {} {}: {}", status.code, status.reason, status.message));
            break;
        }
        if current.is::<http_body_util::LengthLimitError>() {
            parts.push("the answer is longer than realitycheck reads of one answer; reading stopped there".to_string());
            break;
        }
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// rustls's error among `error`'s causes, found by its type whatever its text says. An I/O
/// error's cause is its inner error, which `source()` skips.
pub fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
    if let Some(tls) = inner.and_then(|inner| rustls_error(inner)) {
        return Some(tls);
    }
    error.source().and_then(rustls_error)
}

/// Whether an I/O error of one of `kinds` is among `error`'s causes.
pub fn has_io_error(error: &(dyn std::error::Error + 'static), kinds: &[std::io::ErrorKind]) -> bool {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        if kinds.contains(&io.kind()) {
            return true;
        }
        if io.get_ref().is_some_and(|inner| has_io_error(inner, kinds)) {
            return true;
        }
    }
    error.source().is_some_and(|source| has_io_error(source, kinds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_servers_answer_is_said_in_words_not_dumped() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": 403, "reason": "Forbidden",
            "message": "pods is forbidden: User \"x\" cannot list resource \"pods\"",
        }))
        .unwrap();
        let text = causes(&kube::Error::Api(Box::new(status)));
        assert_eq!(
            text,
            "the API server answered 403 Forbidden: pods is forbidden: User \"x\" cannot list resource \"pods\""
        );
        assert!(!text.contains("Status {"), "{text}");
    }

    #[test]
    fn causes_are_found_by_type_however_deep() {
        use std::io::{Error, ErrorKind};
        let handshake = Error::new(ErrorKind::InvalidData, rustls::Error::General("no".into()));
        let wrapped = Error::other(handshake);
        assert_eq!(rustls_error(&wrapped), Some(&rustls::Error::General("no".into())));
        let refused = Error::other(Error::new(ErrorKind::ConnectionRefused, "refused"));
        assert!(has_io_error(&refused, &[ErrorKind::ConnectionRefused]));
        assert!(!has_io_error(&refused, &[ErrorKind::ConnectionReset]));
        assert!(rustls_error(&refused).is_none());
    }
}
