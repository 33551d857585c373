//! Error texts with their causes: the clients (kube-rs, hyper, reqwest) wrap the reason
//! that matters ("Connection refused", "certificate not valid") deep inside.

/// An error with its causes, `outer: inner: root`, each said once.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}
