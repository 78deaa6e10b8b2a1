//! A minimal blocking HTTP/1 client over `wasi:http/outgoing-handler`: one
//! form-encoded request, the whole (capped) response body back.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// Responses larger than this are cut (provider answers are a few KiB).
const MAX_BODY_BYTES: usize = 1 << 20;

pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Why no response came back.
pub struct TransportError {
    /// True when the request provably never reached the provider (refused
    /// by the host's allow-list, DNS failure, connection refused): a call
    /// cannot have been placed.
    pub not_sent: bool,
    pub message: String,
}

/// Where requests go, parsed from `base_url`.
pub struct Endpoint {
    pub scheme: Scheme,
    pub authority: String,
    pub path_prefix: String,
}

impl Endpoint {
    /// Parses `http[s]://host[:port][/prefix]`.
    pub fn parse(base_url: &str) -> Result<Endpoint, String> {
        let (scheme, rest) = if let Some(rest) = base_url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = base_url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "base_url {base_url:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
            return Err(format!("base_url {base_url:?} has no valid host"));
        }
        Ok(Endpoint {
            scheme,
            authority: authority.to_string(),
            path_prefix: path.trim_end_matches('/').to_string(),
        })
    }
}

fn not_sent(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::ConfigurationError
    )
}

fn fail(not_sent: bool, message: impl Into<String>) -> TransportError {
    TransportError {
        not_sent,
        message: message.into(),
    }
}

/// Sends `method path` with `headers` and an optional form body.
pub fn send(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    form: Option<String>,
    timeout_ms: u64,
) -> Result<Response, TransportError> {
    let mut list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone().into_bytes()))
        .collect();
    if let Some(form) = &form {
        list.push((
            "content-type".into(),
            b"application/x-www-form-urlencoded".to_vec(),
        ));
        // A sized body rather than chunked: simpler for every server.
        list.push(("content-length".into(), form.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&list).map_err(|e| fail(true, format!("bad header: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let full_path = format!("{}{path}", endpoint.path_prefix);
    request
        .set_method(&method)
        .and_then(|()| request.set_scheme(Some(&endpoint.scheme)))
        .and_then(|()| request.set_authority(Some(&endpoint.authority)))
        .and_then(|()| request.set_path_with_query(Some(&full_path)))
        .map_err(|()| fail(true, format!("invalid request target {full_path:?}")))?;
    let body = request
        .body()
        .map_err(|()| fail(true, "request body already taken"))?;

    let options = RequestOptions::new();
    let timeout = Some(timeout_ms.saturating_mul(1_000_000));
    // A host may not support a given timeout; that is not worth failing for.
    let _ = options.set_connect_timeout(timeout);
    let _ = options.set_first_byte_timeout(timeout);
    let _ = options.set_between_bytes_timeout(timeout);

    let future = outgoing_handler::handle(request, Some(options))
        .map_err(|e| fail(not_sent(&e), format!("{e:?}")))?;
    // A body error usually means the host already failed the request (e.g.
    // refused the destination): the response future then says why, and
    // that reason decides whether anything can have been sent.
    let body_error = write_body(body, form.as_deref()).err();
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(fail(not_sent(&e), format!("{e:?}"))),
        Some(Err(())) | None => return Err(fail(false, "no response")),
    };
    if let Some(e) = body_error {
        return Err(fail(false, e));
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok());
    let incoming = response
        .consume()
        .map_err(|()| fail(false, "response body already taken"))?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| fail(false, "response body stream already taken"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_BODY_BYTES {
                        body.truncate(MAX_BODY_BYTES);
                        break;
                    }
                }
                Err(StreamError::Closed) => break,
                Err(e) => return Err(fail(false, format!("reading the response: {e:?}"))),
            }
        }
    }
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

fn write_body(body: OutgoingBody, form: Option<&str>) -> Result<(), String> {
    {
        let stream = body
            .write()
            .map_err(|()| "request body stream already taken".to_string())?;
        for chunk in form.unwrap_or("").as_bytes().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the request body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("finishing the request: {e:?}"))
}

/// `Basic base64(user:password)`.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
        assert_eq!(basic_auth("ab", "c"), "Basic YWI6Yw==");
    }
}
