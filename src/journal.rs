//! The request journal: every request to every provider (method, path, headers without secrets,
//! body, outcome, response status and excerpt, latency, tenant, injected fault), in a bounded
//! history that test suites read to assert on what their code sent.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{Millis, rfc3339};
use crate::ids::ProviderId;
use crate::schema::Violation;

/// What a rejected request was rejected for. A provider's error attaches it to its response, so
/// the journal records the violations as data instead of parsing the vendor's envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rejection {
    /// The vendor's error code (`131009`, `"BAD_REQUEST_ERROR"`, `"invalid"`).
    pub code: Value,
    /// Every violated field, by JSON pointer (`""` when the error is about no field).
    pub violations: Vec<Violation>,
}

impl Rejection {
    /// Attaches the rejection to a response, for the provider layer to record.
    pub(crate) fn attach(self, response: &mut axum::response::Response) {
        response.extensions_mut().insert(self);
    }
}

/// Bodies and answers are kept up to this many bytes each.
pub(crate) const EXCERPT_BYTES: usize = 16 * 1024;

/// Whether a header or query parameter carries a credential, whose value is never stored: the
/// authorization and cookie headers, and any name that speaks of a token, secret, API key, password
/// or proof (`access_token`, `appsecret_proof`, a vendor's `x-…-staging-token`).
fn is_secret(name: &str) -> bool {
    // Every request's headers pass here: a word is compared only where its first letter is.
    let name = name.as_bytes();
    (0..name.len()).any(|at| {
        let words: &[&[u8]] = match name[at].to_ascii_lowercase() {
            b'a' => &[b"authorization", b"api-key", b"api_key"],
            b'c' => &[b"cookie"],
            b't' => &[b"token"],
            b's' => &[b"secret"],
            b'p' => &[b"password", b"proof"],
            _ => return false,
        };
        words.iter().any(|word| {
            name.get(at..at + word.len())
                .is_some_and(|part| part.eq_ignore_ascii_case(word))
        })
    })
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    pub id: u64,
    /// Sandbox time, milliseconds.
    pub at: Millis,
    pub provider: ProviderId,
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
    #[serde(skip)]
    pub rejection: Option<Rejection>,
}

impl Entry {
    /// The entry as the admin API shows it, with bodies parsed back into JSON where they are JSON
    /// and the outcome spelled out.
    pub(crate) fn to_json(&self) -> Value {
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
        let error = self.rejection.as_ref().map(|r| {
            json!({
                "code": r.code,
                "details": r.violations.iter().map(|v| if v.pointer.is_empty() {
                    v.message.clone()
                } else {
                    v.to_string()
                }).collect::<Vec<_>>().join("; "),
                "violations": r.violations.iter().map(|v| json!({"pointer": v.pointer, "message": v.message})).collect::<Vec<_>>(),
            })
        });
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

/// Replaces secret header values.
pub(crate) fn redact_headers(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_string();
            let value = if is_secret(name.as_str()) {
                "[redacted]".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// Replaces secret query parameter values, keeping the rest as sent.
pub(crate) fn redact_query(query: &str) -> String {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if is_secret(k) => format!("{k}=[redacted]"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Filters for reading and clearing the journal.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
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
    /// Whether the filter makes sense; `providers` are the names a provider filter may take.
    pub(crate) fn check(&self, providers: &[&str]) -> Result<(), String> {
        if let Some(p) = &self.provider
            && !providers.contains(&p.as_str())
        {
            return Err(format!(
                "provider {p:?} is not one of {}",
                providers.join(", ")
            ));
        }
        if let Some(s) = &self.status
            && !crate::http::is_status_or_class(s)
        {
            return Err(format!(
                "status {s:?} is not a status code or a class such as 4xx"
            ));
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
                .is_none_or(|s| crate::http::status_matches(e.status, s))
    }
}

/// The journal in a saved state. Bodies and answers are kept as text (their excerpts are JSON or
/// forms; a binary upload's bytes are kept as lossy UTF-8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedJournal {
    pub last_id: u64,
    pub entries: Vec<SavedEntry>,
}

/// One journal entry in a saved state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedEntry {
    id: u64,
    at: Millis,
    provider: String,
    tenant: Option<String>,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: String,
    body_bytes: usize,
    status: u16,
    response: String,
    latency_us: u64,
    fault: Option<String>,
    /// The vendor's error code and the violations, for a rejected request.
    rejection: Option<(Value, Vec<Violation>)>,
}

impl From<&Entry> for SavedEntry {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id,
            at: e.at,
            provider: e.provider.as_str().to_string(),
            tenant: e.tenant.clone(),
            method: e.method.clone(),
            path: e.path.clone(),
            query: e.query.clone(),
            headers: e.headers.clone(),
            body: String::from_utf8_lossy(&e.body).into_owned(),
            body_bytes: e.body_bytes,
            status: e.status,
            response: String::from_utf8_lossy(&e.response).into_owned(),
            latency_us: e.latency_us,
            fault: e.fault.clone(),
            rejection: e
                .rejection
                .as_ref()
                .map(|r| (r.code.clone(), r.violations.clone())),
        }
    }
}

impl SavedEntry {
    /// The entry back, if it names one of `providers`.
    pub(crate) fn entry(self, providers: &[&'static str]) -> Result<Entry, String> {
        let provider = ProviderId::known(&self.provider, providers).ok_or_else(|| {
            format!(
                "journal entry {} names provider {:?}, not one of {}",
                self.id,
                self.provider,
                providers.join(", ")
            )
        })?;
        Ok(Entry {
            id: self.id,
            at: self.at,
            provider,
            tenant: self.tenant,
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body.into(),
            body_bytes: self.body_bytes,
            status: self.status,
            response: self.response.into(),
            latency_us: self.latency_us,
            fault: self.fault,
            rejection: self
                .rejection
                .map(|(code, violations)| Rejection { code, violations }),
        })
    }
}

#[derive(Debug)]
pub(crate) struct Journal {
    limit: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<Entry>,
    next_id: u64,
    /// With a data dir: entries added and ids forgotten since the last hand-over.
    changed: Option<(Vec<u64>, Vec<u64>)>,
}

impl Journal {
    /// A journal of `limit` entries; `tracked` keeps what changed for the data dir.
    pub(crate) fn new(limit: usize, tracked: bool) -> Self {
        Self {
            limit: limit.max(1),
            inner: Mutex::new(Inner {
                changed: tracked.then(Default::default),
                ..Inner::default()
            }),
        }
    }

    pub(crate) fn record(&self, mut entry: Entry) {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        entry.id = inner.next_id;
        let id = entry.id;
        // Grown by doubling, but never past the limit: a full journal holds no spare slots (a
        // deque doubled to 16,384 for a limit of 10,000 would keep 2 MB of empty entries).
        if inner.entries.len() == inner.entries.capacity() {
            let room = self.limit.saturating_add(1) - inner.entries.len();
            let more = inner.entries.len().max(16).min(room);
            inner.entries.reserve_exact(more);
        }
        inner.entries.push_back(entry);
        if let Some((added, _)) = &mut inner.changed {
            added.push(id);
        }
        while inner.entries.len() > self.limit {
            if let Some(old) = inner.entries.pop_front()
                && let Some((_, gone)) = &mut inner.changed
            {
                gone.push(old.id);
            }
        }
    }

    /// The last id given.
    pub(crate) fn last_id(&self) -> u64 {
        self.inner.lock().next_id
    }

    /// Hands the entries added and forgotten since the last call to the data dir.
    pub(crate) fn changes(&self, out: &mut crate::records::Changes) {
        let mut inner = self.inner.lock();
        let Some((added, gone)) = inner.changed.as_mut().map(std::mem::take) else {
            return;
        };
        for id in gone {
            out.delete("journal", id.to_string());
        }
        // An entry added then forgotten before this hand-over is no longer there to write.
        let first = inner.entries.front().map_or(0, |e| e.id);
        for id in added {
            // Ids are consecutive within the deque until a filtered clear; look up directly
            // when they still are, by search otherwise.
            let at = usize::try_from(id.saturating_sub(first)).unwrap_or(usize::MAX);
            let entry = match inner.entries.get(at) {
                Some(e) if e.id == id => Some(e),
                _ => inner.entries.iter().find(|e| e.id == id),
            };
            if let Some(e) = entry {
                out.put("journal", id.to_string(), &SavedEntry::from(e));
            }
        }
    }

    /// Matching entries, oldest first; `limit` keeps the newest N.
    pub(crate) fn list(&self, f: &Filter) -> Vec<Value> {
        let inner = self.inner.lock();
        let matching: Vec<&Entry> = inner.entries.iter().filter(|e| f.matches(e)).collect();
        let skip = f
            .limit
            .map(|l| matching.len().saturating_sub(l))
            .unwrap_or(0);
        matching[skip..].iter().map(|e| e.to_json()).collect()
    }

    /// Removes matching entries; returns how many.
    pub(crate) fn clear(&self, f: &Filter) -> usize {
        let mut inner = self.inner.lock();
        let before = inner.entries.len();
        let mut gone = Vec::new();
        inner.entries.retain(|e| {
            let keep = !f.matches(e);
            if !keep {
                gone.push(e.id);
            }
            keep
        });
        if let Some((_, forgotten)) = &mut inner.changed {
            forgotten.extend(gone);
        }
        before - inner.entries.len()
    }

    /// Every entry, oldest first, and the last id given, for a saved state.
    pub(crate) fn saved(&self) -> SavedJournal {
        let inner = self.inner.lock();
        SavedJournal {
            last_id: inner.next_id,
            entries: inner.entries.iter().map(SavedEntry::from).collect(),
        }
    }

    /// Replaces every entry with a saved journal's (its newest within this journal's limit).
    pub(crate) fn restore(&self, last_id: u64, entries: Vec<Entry>) {
        let mut inner = self.inner.lock();
        let skip = entries.len().saturating_sub(self.limit);
        let old: Vec<u64> = inner.entries.iter().map(|e| e.id).collect();
        inner.entries = entries.into_iter().skip(skip).collect();
        inner.next_id = last_id;
        let new: Vec<u64> = inner.entries.iter().map(|e| e.id).collect();
        if let Some((added, gone)) = &mut inner.changed {
            gone.extend(old);
            added.extend(new);
        }
    }

    /// Drops what changed without handing it over (the state was just read from the data dir).
    pub(crate) fn forget_changes(&self) {
        if let Some(changed) = &mut self.inner.lock().changed {
            *changed = Default::default();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(provider: ProviderId, path: &str, status: u16, at: Millis) -> Entry {
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
            rejection: (status >= 400).then(|| Rejection {
                code: json!(131009),
                violations: vec![Violation::invalid("/to", "bad")],
            }),
        }
    }

    #[test]
    fn the_journal_is_bounded_and_filters() {
        let j = Journal::new(3, false);
        for i in 0..5 {
            j.record(entry(
                ProviderId::new("whatsapp"),
                &format!("/whatsapp/{i}/messages"),
                200 + u16::try_from(i).unwrap() * 100,
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
    fn a_full_journal_holds_no_spare_slots() {
        for limit in [1, 10, 1000, usize::MAX] {
            let j = Journal::new(limit, false);
            for i in 0..1500 {
                j.record(entry(ProviderId::new("whatsapp"), "/x", 200, i));
            }
            let inner = j.inner.lock();
            assert_eq!(inner.entries.len(), limit.min(1500), "limit {limit}");
            if limit <= 1500 {
                assert!(
                    inner.entries.capacity() <= limit + 1,
                    "limit {limit}: capacity {}",
                    inner.entries.capacity()
                );
            }
        }
    }

    #[test]
    fn secrets_never_reach_the_journal() {
        assert_eq!(
            redact_query("a=1&access_token=EAAx&appsecret_proof=zz&key_id=rzp_test_a"),
            "a=1&access_token=[redacted]&appsecret_proof=[redacted]&key_id=rzp_test_a"
        );
        // Query names keep their case; a secret one in capitals is still a secret.
        assert_eq!(
            redact_query("Access_Token=EAAx&X-API-KEY=k&Cookie=c&Passwords=p&Keep=1"),
            "Access_Token=[redacted]&X-API-KEY=[redacted]&Cookie=[redacted]&Passwords=[redacted]&Keep=1"
        );
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", "Bearer secret".parse().unwrap());
        h.insert("x-qonto-staging-token", "stg".parse().unwrap());
        h.insert("x-qonto-idempotency-key", "k-1".parse().unwrap());
        h.insert("x-other", "ok".parse().unwrap());
        let r = redact_headers(&h);
        assert!(r.contains(&("authorization".into(), "[redacted]".into())));
        assert!(r.contains(&("x-qonto-staging-token".into(), "[redacted]".into())));
        assert!(r.contains(&("x-qonto-idempotency-key".into(), "k-1".into())));
        assert!(r.contains(&("x-other".into(), "ok".into())));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(
            Filter {
                provider: Some("fax".into()),
                ..Default::default()
            }
            .check(&["whatsapp"])
            .is_err()
        );
        assert!(
            Filter {
                status: Some("4x".into()),
                ..Default::default()
            }
            .check(&["whatsapp"])
            .is_err()
        );
        assert!(
            Filter {
                status: Some("5xx".into()),
                ..Default::default()
            }
            .check(&["whatsapp"])
            .is_ok()
        );
    }
}
