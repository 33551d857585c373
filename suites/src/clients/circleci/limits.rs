//! What the client reads at most from a server, whatever it sends: the bytes of a body, read
//! as it streams and stopped at the limit (never read whole and judged after), and the pages
//! of a list. The client of Nomad's HTTP API (`clients::nomad::http`) reads within the same
//! limits.

/// Bytes of one JSON answer of the API read at most (a page of a list is a few KiB).
pub(crate) const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of a download (an artifact, a step's output) read at most.
pub(super) const MAX_DOWNLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Bytes of an error answer read at most (its message is quoted, never more).
pub(super) const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Why a body could not be read whole.
pub(crate) enum BodyError {
    /// The connection failed while reading.
    Transport(reqwest::Error),
    /// The body is longer than the limit; reading stopped there.
    TooLarge,
}

/// The body of `response`, chunk by chunk, stopping as soon as it exceeds `limit` bytes.
pub(crate) async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The start of an error answer's body as text, at most [`MAX_ERROR_BYTES`] of it; a failed
/// read gives what was read.
pub(crate) async fn error_text(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `4 MiB`, `64 KiB`: a limit as messages print it.
pub(crate) fn bytes(limit: usize) -> String {
    match limit {
        n if n >= 1024 * 1024 && n % (1024 * 1024) == 0 => format!("{} MiB", n / (1024 * 1024)),
        n if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        n => format!("{n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;

    use super::*;

    const LIMIT: usize = 10;

    /// Serves `/whole/N` (N bytes with a content-length) and `/streamed/N` (N bytes in two
    /// chunks, no length announced).
    async fn serve() -> String {
        async fn whole(axum::extract::Path(n): axum::extract::Path<usize>) -> Vec<u8> {
            vec![b'x'; n]
        }
        async fn streamed(axum::extract::Path(n): axum::extract::Path<usize>) -> Body {
            let chunks = [vec![b'x'; n / 2], vec![b'y'; n - n / 2]];
            Body::from_stream(futures::stream::iter(chunks.map(Ok::<_, std::io::Error>)))
        }
        let router = Router::new().route("/whole/{n}", get(whole)).route("/streamed/{n}", get(streamed));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    async fn read(base: &str, path: &str) -> Result<usize, &'static str> {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        match read_body(response, LIMIT).await {
            Ok(body) => Ok(body.len()),
            Err(BodyError::TooLarge) => Err("too large"),
            Err(BodyError::Transport(_)) => Err("transport"),
        }
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not() {
        let base = serve().await;
        assert_eq!(read(&base, "/whole/10").await, Ok(LIMIT));
        assert_eq!(read(&base, "/whole/11").await, Err("too large"));
        assert_eq!(read(&base, "/streamed/10").await, Ok(LIMIT));
        assert_eq!(read(&base, "/streamed/11").await, Err("too large"));
    }

    #[test]
    fn limits_print_in_their_unit() {
        assert_eq!(bytes(MAX_JSON_BYTES), "4 MiB");
        assert_eq!(bytes(MAX_DOWNLOAD_BYTES), "8 MiB");
        assert_eq!(bytes(MAX_ERROR_BYTES), "64 KiB");
        assert_eq!(bytes(1536), "1536 bytes");
        assert_eq!(bytes(3 * 1024), "3 KiB");
        assert_eq!(bytes(1024 * 1024 + 1024), "1025 KiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
