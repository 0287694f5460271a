//! Request-body plumbing shared by every provider: bounded reading, content-type checks and JSON
//! parsing that reports *why* a body was refused, so each provider can say it in its own envelope.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use serde_json::Value;

/// Why a request body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyProblem {
    #[error("the request body exceeds the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
    #[error("unsupported content type {0:?}; send application/json")]
    ContentType(String),
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the request body is empty")]
    Empty,
}

/// Reads at most `limit` bytes of `body`.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyProblem> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(err) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return Err(BodyProblem::TooLarge { limit });
                }
                source = e.source();
            }
            Err(BodyProblem::Unreadable(err.to_string()))
        }
    }
}

/// The media type of the request without parameters, lower-cased (`None` when absent).
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Parses JSON bytes, naming the line and column of a syntax error.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, BodyProblem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyProblem::Empty);
    }
    serde_json::from_slice(bytes).map_err(|e| BodyProblem::Malformed(e.to_string()))
}

/// Checks the content type is JSON (or absent, which is read as JSON) and parses the body.
pub(crate) fn json_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, BodyProblem> {
    json_body_of(media_type(headers).as_deref(), bytes)
}

/// [`json_body`] for a media type already read from the headers.
pub(crate) fn json_body_of(media_type: Option<&str>, bytes: &[u8]) -> Result<Value, BodyProblem> {
    json_media_type(media_type).and_then(|()| parse_json(bytes))
}

/// Whether a body of this media type is read as JSON: absent, `application/json`, `text/json`
/// or any `+json` type.
pub(crate) fn json_media_type(media_type: Option<&str>) -> Result<(), BodyProblem> {
    match media_type {
        None | Some("application/json" | "text/json") => Ok(()),
        Some(t) if t.ends_with("+json") => Ok(()),
        Some(other) => Err(BodyProblem::ContentType(other.to_string())),
    }
}

/// Parses `application/x-www-form-urlencoded` into a JSON object the way Graph reads form posts:
/// a value that looks like a JSON object or array is decoded as JSON, anything else stays a string.
pub(crate) fn form_as_json(bytes: &[u8]) -> Result<Value, BodyProblem> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded_pairs(bytes).map_err(BodyProblem::Malformed)?;
    let mut map = serde_json::Map::new();
    for (key, value) in pairs {
        let trimmed = value.trim_start();
        let parsed = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            serde_json::from_str(&value).map_err(|e| {
                BodyProblem::Malformed(format!("form field {key:?} is not valid JSON: {e}"))
            })?
        } else {
            Value::String(value)
        };
        map.insert(key, parsed);
    }
    Ok(Value::Object(map))
}

fn serde_urlencoded_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("form body is not UTF-8: {e}"))?;
    Ok(query_pairs(text))
}

/// Decodes a query string or form body into its pairs, in order (`+` is a space).
pub(crate) fn query_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

/// The first value given for `name` among decoded pairs.
pub(crate) fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether a request path percent-decodes to UTF-8 text, as every route's parameters must.
pub(crate) fn path_is_utf8(path: &str) -> bool {
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .is_ok()
}

/// An absolute `http://` or `https://` URL with a host.
pub(crate) fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Encodes a query component the way forms do (`+` for a space).
pub(crate) fn percent_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Bytes as text for logs and journals: UTF-8 when it is, a placeholder when it is not, cut at
/// `max` characters.
pub(crate) fn excerpt(bytes: &[u8], max: usize) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().count() > max => {
            let cut: String = s.chars().take(max).collect();
            format!("{cut}…")
        }
        Ok(s) => s.to_string(),
        Err(_) => format!("<{} bytes of binary data>", bytes.len()),
    }
}

/// Whether `text` is an HTTP status (`404`) or a class (`4xx`).
pub(crate) fn is_status_or_class(text: &str) -> bool {
    text.parse::<u16>().is_ok()
        || (text.len() == 3 && text.ends_with("xx") && text[..1].parse::<u8>().is_ok())
}

/// Whether `status` is `filter`, an exact status or a class such as `4xx`.
pub(crate) fn status_matches(status: u16, filter: &str) -> bool {
    match filter.parse::<u16>() {
        Ok(code) => status == code,
        Err(_) => filter
            .get(..1)
            .and_then(|d| d.parse::<u16>().ok())
            .is_some_and(|class| status / 100 == class),
    }
}

/// The user and password of an `Authorization: Basic …` value (the scheme word exactly as
/// written, as the gateways require it), or `None` when it is not one.
pub(crate) fn basic_credentials(value: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_handles_edges() {
        let pairs = query_pairs("a=a%20b+c&b=100%&c=%zz&d=%e2%82%ac&e");
        let value = |k: &str| pair(&pairs, k).unwrap().to_string();
        assert_eq!(value("a"), "a b c");
        assert_eq!(value("b"), "100%");
        assert_eq!(value("c"), "%zz");
        assert_eq!(value("d"), "€");
        assert_eq!(value("e"), "");
        assert_eq!(percent_encode("a b/€&"), "a+b%2F%E2%82%AC%26");
        assert_eq!(
            query_pairs(&format!("x={}", percent_encode("a b/€&")))[0].1,
            "a b/€&"
        );
    }

    #[test]
    fn paths_must_decode_to_text() {
        assert!(path_is_utf8("/razorpay/v1/payment_links/plink_abc"));
        assert!(path_is_utf8("/a/%e2%82%ac/%zz/100%"));
        assert!(!path_is_utf8("/razorpay/v1/payment_links/plink_%ff"));
        assert!(!path_is_utf8("/%c3"));
    }

    #[test]
    fn form_bodies_decode_json_fields() {
        let v =
            form_as_json(b"messaging_product=whatsapp&text=%7B%22body%22%3A%22hi%22%7D").unwrap();
        assert_eq!(v["text"]["body"], "hi");
        assert_eq!(v["messaging_product"], "whatsapp");
        assert!(form_as_json(b"text=%7Bbroken").is_err());
    }

    #[test]
    fn json_bodies_report_the_problem() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(matches!(
            json_body(&headers, b"{}"),
            Err(BodyProblem::ContentType(_))
        ));
        assert!(matches!(parse_json(b"  "), Err(BodyProblem::Empty)));
        let err = parse_json(b"{\"a\":").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn excerpts_are_cut_on_character_boundaries() {
        assert_eq!(excerpt("ééé".as_bytes(), 2), "éé…");
        assert_eq!(excerpt(&[0xff, 0xfe], 10), "<2 bytes of binary data>");
    }
}
