//! What the kinds that read a server over HTTP(S) do alike: read an answer's body up to a
//! limit, find where a redirect points, and say an error with its causes in one line.

/// Why a body was not read whole.
pub(crate) enum BodyError {
    /// It is larger than the limit.
    TooLarge,
    /// The connection broke off while it was read: what the error said.
    BrokeOff(String),
}

/// Reads the body of `response`, refusing one larger than `limit` bytes (by its announced
/// length, or once that many were read).
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(BodyError::BrokeOff(chain(&e))),
        }
    }
}

/// Where a redirect points (its `Location`), empty when it names none.
pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// An error and its causes, as one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
