//! Records: the changes a part of the state hands to the data dir (`crate::persist`), one row
//! per object, keyed by kind and key; and the traits by which a provider's store is saved,
//! restored and written ([`Saves`], [`Stateful`]). Kernel: knows no provider and no database.

use std::any::Any;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::value::RawValue;

/// One change to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Write {
    Put {
        kind: &'static str,
        key: String,
        body: String,
    },
    Delete {
        kind: &'static str,
        key: String,
    },
    /// Every record of `kind` whose key starts with `prefix`.
    DeletePrefix {
        kind: &'static str,
        prefix: String,
    },
    /// Every record whose kind starts with `prefix` (a provider's whole state).
    DeleteKinds {
        prefix: &'static str,
    },
}

/// The changes gathered for one commit.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) writes: Vec<Write>,
}

impl Changes {
    pub(crate) fn put(
        &mut self,
        kind: &'static str,
        key: impl Into<String>,
        body: &impl Serialize,
    ) {
        match serde_json::to_string(body) {
            Ok(body) => self.writes.push(Write::Put {
                kind,
                key: key.into(),
                body,
            }),
            Err(e) => tracing::error!(kind, "a record did not serialise: {e}"),
        }
    }

    /// Writes `body` as the row `kind`/`key` unless it is what `last` says was written last
    /// (a tenant's settings are handed over with every change to the tenant, and seldom
    /// change themselves); `force` writes it anyway.
    pub(crate) fn put_changed(
        &mut self,
        kind: &'static str,
        key: &str,
        body: &impl Serialize,
        last: &mut Option<String>,
        force: bool,
    ) {
        let Ok(text) = serde_json::to_string(body) else {
            return;
        };
        if force || last.as_deref() != Some(text.as_str()) {
            self.writes.push(Write::Put {
                kind,
                key: key.to_string(),
                body: text.clone(),
            });
            *last = Some(text);
        }
    }

    pub(crate) fn delete(&mut self, kind: &'static str, key: impl Into<String>) {
        self.writes.push(Write::Delete {
            kind,
            key: key.into(),
        });
    }

    /// Deletes every record of `kind` that belongs to `tenant` (see [`sub_key`]).
    pub(crate) fn delete_tenant(&mut self, kind: &'static str, tenant: &str) {
        self.writes.push(Write::DeletePrefix {
            kind,
            prefix: sub_key(tenant, ""),
        });
    }

    /// Deletes every record of a provider's (kinds starting `<name>.`).
    pub(crate) fn delete_kinds(&mut self, prefix: &'static str) {
        self.writes.push(Write::DeleteKinds { prefix });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.writes.len()
    }
}

/// The key of an object that belongs to a tenant: the tenant, a unit separator, the id.
pub(crate) fn sub_key(tenant: &str, id: &str) -> String {
    format!("{tenant}\u{1f}{id}")
}

/// The tenant and id of a [`sub_key`].
pub(crate) fn split_key(key: &str) -> (&str, &str) {
    key.split_once('\u{1f}').unwrap_or((key, ""))
}

/// Hands over the entries of `tenant`'s tracked `map` that changed (every entry when `all`,
/// after clearing the tenant's rows of `kind`), each as a row of `kind`: the value itself.
pub(crate) fn map_changes<V: Serialize>(
    out: &mut Changes,
    kind: &'static str,
    tenant: &str,
    map: &mut crate::bounded::BoundedMap<String, V>,
    all: bool,
) {
    let changed = map.take_changed();
    if all {
        out.delete_tenant(kind, tenant);
        for (id, v) in map.iter() {
            out.put(kind, sub_key(tenant, id), v);
        }
        return;
    }
    for id in changed {
        match map.get(&id) {
            Some(v) => out.put(kind, sub_key(tenant, &id), v),
            None => out.delete(kind, sub_key(tenant, &id)),
        }
    }
}

/// [`map_changes`] with each row made by `row` from the key and the value.
pub(crate) fn map_rows<V>(
    out: &mut Changes,
    kind: &'static str,
    tenant: &str,
    map: &mut crate::bounded::BoundedMap<String, V>,
    all: bool,
    row: impl Fn(&String, &V) -> serde_json::Value,
) {
    let changed = map.take_changed();
    if all {
        out.delete_tenant(kind, tenant);
        for (id, v) in map.iter() {
            out.put(kind, sub_key(tenant, id), &row(id, v));
        }
        return;
    }
    for id in changed {
        match map.get(&id) {
            Some(v) => out.put(kind, sub_key(tenant, &id), &row(&id, v)),
            None => out.delete(kind, sub_key(tenant, &id)),
        }
    }
}

/// Every row read back, by kind: each kind's rows as `(key, JSON text)` in order. Rows stay
/// text: the state is rebuilt by splicing them into one snapshot document, parsed once.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    kinds: std::collections::BTreeMap<String, Vec<(String, String)>>,
}

impl Stored {
    /// The rows of `kind`, taken out.
    pub(crate) fn take(&mut self, kind: &str) -> Vec<(String, String)> {
        self.kinds.remove(kind).unwrap_or_default()
    }

    /// The one row of `kind` with `key`.
    pub(crate) fn one(&mut self, kind: &str, key: &str) -> Option<String> {
        let rows = self.kinds.get_mut(kind)?;
        let at = rows.iter().position(|(k, _)| k == key)?;
        Some(rows.remove(at).1)
    }

    /// The rows of `kind` grouped by tenant (see [`sub_key`]), each group in order.
    pub(crate) fn by_tenant(
        &mut self,
        kind: &str,
    ) -> std::collections::HashMap<String, Vec<String>> {
        let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (key, body) in self.take(kind) {
            out.entry(split_key(&key).0.to_string())
                .or_default()
                .push(body);
        }
        out
    }

    /// Adds the rows of `kind`, in order.
    pub(crate) fn insert(&mut self, kind: String, rows: Vec<(String, String)>) {
        self.kinds.insert(kind, rows);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub(crate) fn count(&self) -> usize {
        self.kinds.values().map(Vec::len).sum()
    }
}

/// Appends the JSON array of the JSON texts `items` to `out`.
pub(crate) fn push_array(out: &mut String, items: Vec<String>) {
    out.reserve(items.iter().map(|i| i.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
}

/// Appends the JSON array of the row objects `rows` (`(key, object text)`), each reopened so
/// `more` can add its fields, given the row's key.
pub(crate) fn push_objects(
    out: &mut String,
    rows: Vec<(String, String)>,
    mut more: impl FnMut(&mut Object<'_>, &str),
) {
    out.push('[');
    for (i, (key, text)) in rows.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut object = Object::open(out, &text);
        more(&mut object, &key);
        object.close();
    }
    out.push(']');
}

/// A JSON object being written into a document: a row's object text, reopened for more fields.
/// The document is written once, front to back, so the rows are copied once.
pub(crate) struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    /// Starts writing `object` (JSON object text written by the sandbox) into `out`.
    pub(crate) fn open(out: &'a mut String, object: &str) -> Self {
        let body = object.trim_end();
        let body = body.strip_suffix('}').unwrap_or(body);
        out.push_str(body);
        let empty = body.trim_end().ends_with('{');
        Self { out, empty }
    }

    /// Starts field `name`; its value is what is written to the returned string next.
    pub(crate) fn field(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    pub(crate) fn close(self) {
        self.out.push('}');
    }
}

/// A provider store that saves itself: its saved form, the checks its types cannot make, and
/// how it takes a saved form back; its lock is then [`Stateful`].
pub(crate) trait Saves {
    type Saved: Serialize + DeserializeOwned + Send + 'static;

    /// The whole store as saved.
    fn saved(&self) -> Self::Saved;

    /// What a saved form holds that its types do not check (base64, hex digests).
    fn check(_saved: &Self::Saved) -> Result<(), String> {
        Ok(())
    }

    /// Replaces the whole store with a checked saved form.
    fn restore(&mut self, saved: Self::Saved);

    /// With a data dir: what changed since the last call, as records (`crate::persist`).
    fn changes(&mut self, out: &mut Changes);

    /// Drops what changed without handing it over (the store was just read from its records).
    fn forget_changes(&mut self);

    /// Hands over everything, not just what changed, at the next call (a write failed).
    fn rewrite(&mut self);

    /// Writes the saved form, as JSON text, from the store's records.
    fn assemble(stored: &mut Stored, out: &mut String);
}

/// A provider's state as the snapshot and the data dir see it: a store behind its lock, read
/// and replaced through its saved form. Every `Mutex<S>` of a store that [`Saves`] is one, so a
/// provider only hands its store over (`Provider::state`).
pub(crate) trait Stateful: Send + Sync {
    /// The whole state as JSON text.
    fn save(&self) -> Box<RawValue>;

    /// A saved state (JSON text), checked and boxed for [`Stateful::restore`]; changes nothing.
    fn prepare(&self, saved: &str) -> Result<Box<dyn Any + Send>, String>;

    /// Puts a prepared state (what [`Stateful::prepare`] boxed) in place.
    fn restore(&self, prepared: Box<dyn Any + Send>);

    /// With a data dir: what changed since the last call, as records.
    fn changes(&self, out: &mut Changes);

    /// Drops what changed without handing it over (the state was just read from the data dir).
    fn forget_changes(&self);

    /// Hands over the whole state at the next [`Stateful::changes`] (a write failed).
    fn rewrite(&self);

    /// Writes the saved state, as JSON text, from its records in the data dir.
    fn assemble(&self, stored: &mut Stored, out: &mut String);
}

impl<S: Saves + Send> Stateful for parking_lot::Mutex<S> {
    fn save(&self) -> Box<RawValue> {
        let saved = self.lock().saved();
        serde_json::value::to_raw_value(&saved)
            // Invariant: saved forms are plain data (string keys, no NaN), which always serialise.
            .expect("a saved store serialises")
    }

    fn prepare(&self, saved: &str) -> Result<Box<dyn Any + Send>, String> {
        let saved: S::Saved = serde_json::from_str(saved).map_err(|e| e.to_string())?;
        S::check(&saved)?;
        Ok(Box::new(saved))
    }

    fn restore(&self, prepared: Box<dyn Any + Send>) {
        if let Ok(saved) = prepared.downcast::<S::Saved>() {
            self.lock().restore(*saved);
        }
    }

    fn changes(&self, out: &mut Changes) {
        self.lock().changes(out);
    }

    fn forget_changes(&self) {
        self.lock().forget_changes();
    }

    fn rewrite(&self) {
        self.lock().rewrite();
    }

    fn assemble(&self, stored: &mut Stored, out: &mut String) {
        S::assemble(stored, out);
    }
}
