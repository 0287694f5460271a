//! Records: the changes a part of the state hands to the data dir (`crate::persist`), one row
//! per object, keyed by kind and key. Kernel: knows no provider and no database.

use serde::Serialize;

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
