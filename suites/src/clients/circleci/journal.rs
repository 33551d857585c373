//! The answers the API gave a client (and its clones) during a run, as it read them: the
//! latest ones, bounded, with the token and the signatures of presigned URLs taken out. The
//! evidence of red checks quotes them: the answers behind each verdict.

use std::collections::VecDeque;
use std::sync::Mutex;

use realitycheck_config::Secret;
use serde::Serialize;
use serde_json::Value;

/// Bytes of one answer's body kept at most; the rest is cut.
const MAX_BODY: usize = 64 * 1024;

/// Bytes of all answers' bodies kept at most; the oldest answers go first.
const MAX_TOTAL: usize = 8 * 1024 * 1024;

/// What replaces the query of a URL inside an answer (a presigned URL's signature).
const QUERY_REMOVED: &str = "?[query removed]";

/// One answer of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// `GET /api/v2/me`.
    pub call: String,
    /// The URL asked.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The body: its JSON when it is JSON, else its text (an error's message).
    pub body: Value,
    /// Whether the body was cut at [`MAX_BODY`] bytes (then it is text).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// The latest answers, shared by a client and its clones.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// The answers kept, each with the size it was counted with, and their total.
    answers: Mutex<(VecDeque<(Answer, usize)>, usize)>,
}

impl Journal {
    /// Keeps the answer `text` (status `status`) to `call` at `url`, without `token`.
    pub(super) fn record(&self, call: &str, url: &str, status: u16, text: &str, token: &Secret) {
        let text = token.redact(text);
        let (body, size, truncated) = match serde_json::from_str::<Value>(&text) {
            Ok(mut json) if text.len() <= MAX_BODY => {
                remove_queries(&mut json);
                (json, text.len(), false)
            }
            _ => {
                let cut = text.len() > MAX_BODY;
                let kept = if cut { &text[..char_boundary(&text, MAX_BODY)] } else { text.as_str() };
                (Value::String(without_queries(kept)), kept.len(), cut)
            }
        };
        let answer = Answer { call: call.to_string(), url: token.redact(url), status, body, truncated };
        let mut answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (list, total) = &mut *answers;
        list.push_back((answer, size));
        *total += size;
        // Each answer leaves with the size it came in with, so the total stays exact.
        while *total > MAX_TOTAL {
            let Some((_, counted)) = list.pop_front() else { break };
            *total = total.saturating_sub(counted);
        }
    }

    /// The answers kept, oldest first.
    pub(super) fn answers(&self) -> Vec<Answer> {
        let answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        answers.0.iter().map(|(answer, _)| answer.clone()).collect()
    }
}

/// The largest char boundary of `text` at or before `at`.
fn char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// Takes the query out of every URL among the strings of `json` (a presigned URL's signature
/// is a credential for as long as it lives).
fn remove_queries(json: &mut Value) {
    match json {
        Value::String(text) => *text = without_queries(text),
        Value::Array(items) => items.iter_mut().for_each(remove_queries),
        Value::Object(fields) => fields.values_mut().for_each(remove_queries),
        _ => {}
    }
}

/// `text` with the query of each `http://` or `https://` URL in it replaced.
fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = [rest.find("http://"), rest.find("https://")].into_iter().flatten().min() {
        let url_end =
            rest[start..].find(|c: char| c.is_whitespace() || c == '"' || c == '\'').map_or(rest.len(), |e| start + e);
        let url = &rest[start..url_end];
        out.push_str(&rest[..start]);
        match url.split_once('?') {
            Some((base, _)) => {
                out.push_str(base);
                out.push_str(QUERY_REMOVED);
            }
            None => out.push_str(url),
        }
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_no_token_and_no_signature() {
        let journal = Journal::default();
        let token = Secret::new("CCIPAT_s3cr3t");
        let body = r#"{"steps":[{"output_url":"https://s3.example.com/out?X-Amz-Signature=abc&X-Amz-Credential=k"}],"echo":"CCIPAT_s3cr3t"}"#;
        journal.record(
            "GET /api/v1.1/project/github/o/r/7",
            "https://ci.example.com/api/v1.1/project/github/o/r/7",
            200,
            body,
            &token,
        );
        journal.record(
            "GET /api/v2/me",
            "https://ci.example.com/api/v2/me",
            401,
            "Invalid token CCIPAT_s3cr3t, see https://x.example.com/a?b=c",
            &token,
        );
        let answers = journal.answers();
        assert_eq!(answers[0].body["steps"][0]["output_url"], "https://s3.example.com/out?[query removed]");
        assert_eq!(answers[0].body["echo"], "[redacted]");
        assert_eq!(answers[1].body, "Invalid token [redacted], see https://x.example.com/a?[query removed]");
        assert_eq!(answers[1].status, 401);
    }

    #[test]
    fn long_bodies_are_cut_and_old_answers_go_first() {
        let journal = Journal::default();
        let token = Secret::new("t0ken");
        let long = "x".repeat(MAX_BODY + 10);
        journal.record("GET /a", "https://h/a", 200, &long, &token);
        let answers = journal.answers();
        assert!(answers[0].truncated);
        assert_eq!(answers[0].body.as_str().map(str::len), Some(MAX_BODY));
        for n in 0..(MAX_TOTAL / MAX_BODY + 5) {
            journal.record(&format!("GET /{n}"), "https://h", 200, &long, &token);
        }
        let kept = journal.answers();
        assert!(kept.len() <= MAX_TOTAL / MAX_BODY, "{}", kept.len());
        assert_eq!(kept.last().map(|a| a.call.as_str()), Some(format!("GET /{}", MAX_TOTAL / MAX_BODY + 4).as_str()));
    }
}
