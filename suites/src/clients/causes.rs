//! Error texts with their causes: the clients (kube-rs, hyper, reqwest) wrap the reason
//! that matters ("Connection refused", "certificate not valid") deep inside.

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
}
