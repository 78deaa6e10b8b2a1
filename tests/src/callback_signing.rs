//! Provider callbacks as a real provider sends them: Twilio's
//! `X-Twilio-Signature` (base64 of HMAC-SHA1 keyed by the auth token over
//! the full URL followed by the form fields sorted by name, each as name +
//! value), and [`CallbackRequest`]s carrying it.

use dialplane::runtime::CallbackRequest;

use crate::fake_provider::form_decode;

/// The `X-Twilio-Signature` of a form `body` posted to `url`.
pub fn twilio_signature(auth_token: &str, url: &str, body: &[u8]) -> String {
    crate::twilio_sim::signature(auth_token, url, &form_fields(body))
}

/// A callback of `body` to `url`, with `signature` as `x-twilio-signature`.
pub fn callback_request(url: &str, body: &[u8], signature: Option<&str>) -> CallbackRequest {
    let mut headers = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    if let Some(sig) = signature {
        headers.push(("x-twilio-signature".into(), sig.into()));
    }
    CallbackRequest {
        url: url.into(),
        headers,
        body: body.to_vec(),
    }
}

/// A callback of `body` to `url`, signed with `auth_token`.
pub fn signed_callback(auth_token: &str, url: &str, body: &[u8]) -> CallbackRequest {
    let sig = twilio_signature(auth_token, url, body);
    callback_request(url, body, Some(&sig))
}

/// `application/x-www-form-urlencoded` pairs, decoded (`+` is a space).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}
