//! The request journal: every request to every provider (method, path, headers without secrets,
//! body, outcome, response status and excerpt, latency, tenant, injected fault), in a bounded
//! history that test suites read to assert on what their code sent.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{Millis, rfc3339};
use crate::webhook::Provider;

/// Bodies and answers are kept up to this many bytes each.
pub const EXCERPT_BYTES: usize = 16 * 1024;

/// Headers and query parameters whose values are never stored.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-qonto-staging-token",
    "cookie",
    "proxy-authorization",
];
const SECRET_PARAMS: &[&str] = &["access_token", "appsecret_proof", "client_secret"];

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    /// Sandbox time, milliseconds.
    pub at: Millis,
    pub provider: Provider,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body (shared with the request, not copied).
    #[serde(skip)]
    pub body: axum::body::Bytes,
    pub body_bytes: usize,
    pub status: u16,
    #[serde(skip)]
    pub response: axum::body::Bytes,
    pub latency_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl Entry {
    /// The entry as the admin API shows it, with bodies parsed back into JSON where they are JSON
    /// and the outcome spelled out.
    pub fn to_json(&self) -> Value {
        let parse = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes)
                .unwrap_or_else(|_| Value::String(crate::http::excerpt(bytes, EXCERPT_BYTES)))
        };
        let response = parse(&self.response);
        let outcome = if self.status < 400 {
            "accepted"
        } else {
            "rejected"
        };
        let error = (self.status >= 400)
            .then(|| error_summary(&response))
            .flatten();
        let mut v = json!({
            "id": self.id,
            "at": self.at,
            "time": rfc3339(self.at),
            "provider": self.provider,
            "tenant": self.tenant,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "body": if self.body.is_empty() { Value::Null } else { parse(&self.body) },
            "body_bytes": self.body_bytes,
            "status": self.status,
            "outcome": outcome,
            "response": response,
            "latency_ms": self.latency_us as f64 / 1000.0,
        });
        if let Some(e) = error {
            v["error"] = e;
        }
        if let Some(f) = &self.fault {
            v["fault"] = json!(f);
        }
        v
    }
}

/// What went wrong, pulled from any of the three vendor envelopes.
fn error_summary(response: &Value) -> Option<Value> {
    if let Some(e) = response.get("error") {
        // Graph: code + details; the gateway: code + description (+ field).
        let details = e
            .pointer("/error_data/details")
            .or_else(|| e.get("description"))
            .or_else(|| e.get("message"))
            .cloned()
            .unwrap_or(Value::Null);
        let mut violations = split_violations(details.as_str().unwrap_or(""));
        if let [one] = violations.as_mut_slice()
            && one["pointer"] == ""
            && let Some(field) = e.get("field").and_then(Value::as_str)
            && !field.is_empty()
        {
            one["pointer"] = json!(format!("/{}", field.replace('.', "/")));
        }
        return Some(json!({
            "code": e.get("code").cloned().unwrap_or(Value::Null),
            "details": details,
            "violations": violations,
        }));
    }
    let errors = response.get("errors")?.as_array()?;
    let violations: Vec<Value> = errors
        .iter()
        .map(|e| {
            let at = e
                .pointer("/source/pointer")
                .or_else(|| e.pointer("/source/parameter"))
                .and_then(Value::as_str)
                .unwrap_or("");
            json!({"pointer": at, "message": e.get("detail").and_then(Value::as_str).unwrap_or("")})
        })
        .collect();
    Some(json!({
        "code": errors.first().and_then(|e| e.get("code")).cloned().unwrap_or(Value::Null),
        "details": violations.iter().map(|v| format!("{}: {}", v["pointer"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or(""))).collect::<Vec<_>>().join("; "),
        "violations": violations,
    }))
}

/// Splits a "pointer: message; pointer: message" error text (as the Graph and gateway emulations
/// write it) into `{pointer, message}` pairs. A `; ` that is not followed by a pointer belongs to
/// the message it is in.
fn split_violations(text: &str) -> Vec<Value> {
    let mut parts: Vec<String> = Vec::new();
    for piece in text.split("; ") {
        match parts.last_mut() {
            Some(last) if !piece.starts_with('/') => {
                last.push_str("; ");
                last.push_str(piece);
            }
            _ => parts.push(piece.to_string()),
        }
    }
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(": ") {
            Some((at, message)) if at.starts_with('/') && !at.contains(' ') => {
                json!({"pointer": at, "message": message})
            }
            _ => json!({"pointer": "", "message": p}),
        })
        .collect()
}

/// Replaces secret header values.
pub fn redact_headers(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_string();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "[redacted]".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// Replaces secret query parameter values, keeping the rest as sent.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k) => format!("{k}=[redacted]"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Filters for reading and clearing the journal.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    pub provider: Option<String>,
    /// A glob on the path (`*` matches anything), or a plain substring.
    pub path: Option<String>,
    /// An exact status (`400`) or a class (`4xx`).
    pub status: Option<String>,
    /// Sandbox time bounds, milliseconds (inclusive).
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub tenant: Option<String>,
    pub method: Option<String>,
    pub limit: Option<usize>,
}

impl Filter {
    pub fn check(&self) -> Result<(), String> {
        if let Some(p) = &self.provider
            && Provider::parse(p).is_none()
        {
            return Err(format!("provider {p:?} is not whatsapp, razorpay or qonto"));
        }
        if let Some(s) = &self.status {
            let ok = s.parse::<u16>().is_ok()
                || (s.len() == 3 && s.ends_with("xx") && s[..1].parse::<u8>().is_ok());
            if !ok {
                return Err(format!(
                    "status {s:?} is not a status code or a class such as 4xx"
                ));
            }
        }
        Ok(())
    }

    fn matches(&self, e: &Entry) -> bool {
        self.provider
            .as_deref()
            .is_none_or(|p| e.provider.as_str() == p)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| e.tenant.as_deref() == Some(t))
            && self
                .method
                .as_deref()
                .is_none_or(|m| e.method.eq_ignore_ascii_case(m))
            && self.since.is_none_or(|s| e.at >= s)
            && self.until.is_none_or(|u| e.at <= u)
            && self.path.as_deref().is_none_or(|p| {
                if p.contains('*') || p.contains('?') {
                    wildmatch::WildMatch::new(p).matches(&e.path)
                } else {
                    e.path.contains(p)
                }
            })
            && self
                .status
                .as_deref()
                .is_none_or(|s| match s.parse::<u16>() {
                    Ok(code) => e.status == code,
                    Err(_) => e.status / 100 == s[..1].parse::<u16>().unwrap_or(0),
                })
    }
}

#[derive(Debug)]
pub struct Journal {
    limit: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl Journal {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn record(&self, mut entry: Entry) {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        entry.id = inner.next_id;
        inner.entries.push_back(entry);
        while inner.entries.len() > self.limit {
            inner.entries.pop_front();
        }
    }

    /// Matching entries, oldest first; `limit` keeps the newest N.
    pub fn list(&self, f: &Filter) -> Vec<Value> {
        let inner = self.inner.lock();
        let matching: Vec<&Entry> = inner.entries.iter().filter(|e| f.matches(e)).collect();
        let skip = f
            .limit
            .map(|l| matching.len().saturating_sub(l))
            .unwrap_or(0);
        matching[skip..].iter().map(|e| e.to_json()).collect()
    }

    /// Removes matching entries; returns how many.
    pub fn clear(&self, f: &Filter) -> usize {
        let mut inner = self.inner.lock();
        let before = inner.entries.len();
        inner.entries.retain(|e| !f.matches(e));
        before - inner.entries.len()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_split_into_pointers_and_messages() {
        let graph = json!({"error": {"code": 131009, "error_data": {"details":
            "/to: must not be empty; /interactive/body/text: \"a; b\" is too long; and more; /x: bad"}}});
        let v = error_summary(&graph).unwrap();
        assert_eq!(
            v["violations"],
            json!([
                {"pointer": "/to", "message": "must not be empty"},
                {"pointer": "/interactive/body/text", "message": "\"a; b\" is too long; and more"},
                {"pointer": "/x", "message": "bad"},
            ])
        );
        let gateway = json!({"error": {"code": "BAD_REQUEST_ERROR",
            "description": "The amount must be atleast INR 1.00", "field": "amount"}});
        assert_eq!(
            error_summary(&gateway).unwrap()["violations"],
            json!([{"pointer": "/amount", "message": "The amount must be atleast INR 1.00"}])
        );
        let qonto = json!({"errors": [{"code": "invalid", "detail": "is required",
            "source": {"pointer": "/payment_link/amount"}}]});
        assert_eq!(
            error_summary(&qonto).unwrap()["violations"],
            json!([{"pointer": "/payment_link/amount", "message": "is required"}])
        );
    }

    fn entry(provider: Provider, path: &str, status: u16, at: Millis) -> Entry {
        Entry {
            id: 0,
            at,
            provider,
            tenant: Some("t1".into()),
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![],
            body: axum::body::Bytes::from_static(b"{}"),
            body_bytes: 2,
            status,
            response: axum::body::Bytes::from_static(
                br#"{"error":{"code":131009,"error_data":{"details":"/to: bad"}}}"#,
            ),
            latency_us: 1500,
            fault: None,
        }
    }

    #[test]
    fn the_journal_is_bounded_and_filters() {
        let j = Journal::new(3);
        for i in 0..5 {
            j.record(entry(
                Provider::Whatsapp,
                &format!("/whatsapp/{i}/messages"),
                200 + i as u16 * 100,
                i,
            ));
        }
        assert_eq!(j.len(), 3);
        let f = Filter {
            status: Some("4xx".into()),
            ..Default::default()
        };
        let hits = j.list(&f);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0]["outcome"], "rejected");
        assert_eq!(hits[0]["error"]["details"], "/to: bad");
        let f = Filter {
            path: Some("*/3/*".into()),
            ..Default::default()
        };
        assert_eq!(j.list(&f).len(), 1);
        let f = Filter {
            since: Some(3),
            ..Default::default()
        };
        assert_eq!(j.list(&f).len(), 2);
        assert_eq!(j.clear(&Filter::default()), 3);
        assert!(j.is_empty());
    }

    #[test]
    fn secrets_never_reach_the_journal() {
        assert_eq!(
            redact_query("a=1&access_token=EAAx&appsecret_proof=zz"),
            "a=1&access_token=[redacted]&appsecret_proof=[redacted]"
        );
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", "Bearer secret".parse().unwrap());
        h.insert("x-other", "ok".parse().unwrap());
        let r = redact_headers(&h);
        assert!(r.contains(&("authorization".into(), "[redacted]".into())));
        assert!(r.contains(&("x-other".into(), "ok".into())));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(
            Filter {
                provider: Some("fax".into()),
                ..Default::default()
            }
            .check()
            .is_err()
        );
        assert!(
            Filter {
                status: Some("4x".into()),
                ..Default::default()
            }
            .check()
            .is_err()
        );
        assert!(
            Filter {
                status: Some("5xx".into()),
                ..Default::default()
            }
            .check()
            .is_ok()
        );
    }
}
