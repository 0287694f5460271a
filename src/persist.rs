//! `--data-dir`: the whole state kept in an embedded SQLite database, so that a restart (or a
//! crash) loses nothing that was acknowledged.
//!
//! **What is written.** Every part of the state keeps track of what it changed (tracked maps,
//! see `crate::bounded`) and hands the changes over as records: one row per object (a link, a
//! message, a delivery, a journal entry, a waiting job, a tenant's settings), keyed by kind and
//! key, plus a few `meta` rows (clock, id stream, scenario, faults). Rows keep the order their
//! objects were made in (`seq`), which the bounded stores need to forget the oldest first.
//!
//! **When.** A request to an emulated API, and every admin call that is not a read, waits for a
//! commit that covers its effects before its answer is sent. Commits are grouped: one writer
//! thread gathers whatever changed since its last pass and writes it in one transaction, however
//! many requests wait for it. Webhook attempts and jobs that run on their own are written by the
//! next commit, or by the writer's own pass every 100 ms.
//!
//! **How durable.** The database runs in WAL mode with `synchronous = NORMAL`: a commit is in
//! the operating system's hands before the answer goes out, so a crash or kill of the process
//! loses nothing acknowledged. A power loss or kernel crash may lose the last commits before the
//! WAL was synced (SQLite syncs it at each checkpoint); the database stays consistent either way.
//!
//! **Restart.** The rows are read back into a snapshot document and loaded through the same
//! checks as `PUT /__sandbox/snapshot` (`crate::snapshot`): jobs and deliveries that fell due
//! while the sandbox was down run at once, in order; the clock keeps its offset.
//!
//! **Ids never repeat.** The id stream's position is reserved ahead ([`ID_HEADROOM`] words past
//! what was drawn) and the reservation is written before it can be reached; a restart resumes
//! at the reservation, past anything drawn before a crash.
//!
//! **Versions.** The schema is versioned with `PRAGMA user_version` and migrated forward on
//! open; a data dir written by a newer version is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::context::Context;
use crate::provider::Provider;
pub(crate) use crate::records::{Changes, Object, Stored, Write, push_array, split_key};

/// The database file inside the data dir.
pub(crate) const FILE: &str = "paylink-sandbox.db";

/// How far ahead of the words drawn the id stream's position is reserved.
pub(crate) const ID_HEADROOM: u128 = 1 << 24;

/// Each migration brings the schema from its index to the next version.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE records (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX records_in_order ON records (kind, seq);
"];

/// The database and the writer's bookkeeping.
#[derive(Debug)]
pub(crate) struct Persist {
    dir: PathBuf,
    conn: parking_lot::Mutex<Connection>,
    next_seq: AtomicU64,
    /// Commits asked for, and the last one written (with the error of a failed one).
    requested: AtomicU64,
    done: tokio::sync::watch::Sender<(u64, Option<String>)>,
    wake: (std::sync::Mutex<bool>, std::sync::Condvar),
    /// What the `meta` rows last said, so that unchanged ones are not written again.
    meta: parking_lot::Mutex<std::collections::HashMap<&'static str, String>>,
    /// The id stream position reserved so far (words).
    reserved_words: parking_lot::Mutex<u128>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot use data dir {dir}: {why}")]
    Dir { dir: String, why: String },
    #[error("data dir {dir}: {source}")]
    Db {
        dir: String,
        source: rusqlite::Error,
    },
    #[error(
        "data dir {dir} was written by a newer paylink-sandbox (schema version {found}; this one \
         reads up to {known})"
    )]
    Newer { dir: String, found: i64, known: i64 },
}

impl Persist {
    /// Opens (creating it if need be) the database in `dir` and brings its schema up to date.
    pub(crate) fn open(dir: &Path) -> Result<Arc<Self>, PersistError> {
        let shown = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| PersistError::Dir {
            dir: shown.clone(),
            why: e.to_string(),
        })?;
        let db = |source| PersistError::Db {
            dir: shown.clone(),
            source,
        };
        let mut conn = Connection::open(dir.join(FILE)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        migrate(&mut conn, &shown)?;
        let next: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM records", [], |r| {
                r.get(0)
            })
            .map_err(db)?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            conn: parking_lot::Mutex::new(conn),
            next_seq: AtomicU64::new(u64::try_from(next).unwrap_or(1)),
            requested: AtomicU64::new(0),
            done: tokio::sync::watch::channel((0, None)).0,
            wake: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
            meta: parking_lot::Mutex::default(),
            reserved_words: parking_lot::Mutex::new(0),
        }))
    }

    /// The data dir.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every stored row, by kind and in order.
    pub(crate) fn read(&self) -> Result<Stored, rusqlite::Error> {
        let conn = self.conn.lock();
        // In the table's own order (by kind and key), then each kind sorted by `seq` in memory:
        // reading through the `seq` index would look every row up a second time.
        let mut statement = conn.prepare("SELECT kind, key, seq, body FROM records")?;
        let mut rows = statement.query([])?;
        let mut kinds: std::collections::BTreeMap<String, Vec<(i64, String, String)>> =
            Default::default();
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            kinds
                .entry(kind)
                .or_default()
                .push((row.get(2)?, row.get(1)?, row.get(3)?));
        }
        let mut stored = Stored::default();
        for (kind, mut list) in kinds {
            list.sort_unstable_by_key(|(seq, _, _)| *seq);
            stored.insert(kind, list.into_iter().map(|(_, k, b)| (k, b)).collect());
        }
        Ok(stored)
    }

    /// Writes `changes` in one transaction.
    fn write(&self, changes: &Changes) -> Result<(), rusqlite::Error> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO records (kind, key, seq, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
            )?;
            let mut delete =
                tx.prepare_cached("DELETE FROM records WHERE kind = ?1 AND key = ?2")?;
            let mut delete_range = tx
                .prepare_cached("DELETE FROM records WHERE kind = ?1 AND key >= ?2 AND key < ?3")?;
            let mut delete_kinds =
                tx.prepare_cached("DELETE FROM records WHERE kind >= ?1 AND kind < ?2")?;
            for w in &changes.writes {
                match w {
                    Write::Put { kind, key, body } => {
                        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
                        put.execute(params![
                            kind,
                            key,
                            i64::try_from(seq).unwrap_or(i64::MAX),
                            body
                        ])?;
                    }
                    Write::Delete { kind, key } => {
                        delete.execute(params![kind, key])?;
                    }
                    Write::DeletePrefix { kind, prefix } => {
                        delete_range.execute(params![kind, prefix, prefix_end(prefix)])?;
                    }
                    Write::DeleteKinds { prefix } => {
                        delete_kinds.execute(params![prefix, prefix_end(prefix)])?;
                    }
                }
            }
        }
        tx.commit()
    }

    /// Waits until everything changed before this call is written. Every request to an emulated
    /// API and every admin change calls this before answering.
    pub(crate) async fn commit(&self) -> Result<(), String> {
        let target = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.done.subscribe();
        self.kick();
        match done.wait_for(|(generation, _)| *generation >= target).await {
            Ok(state) => match &state.1 {
                Some(why) => Err(why.clone()),
                None => Ok(()),
            },
            Err(_) => Err("the data dir writer has stopped".to_string()),
        }
    }

    fn kick(&self) {
        let (lock, wake) = &self.wake;
        if let Ok(mut pending) = lock.lock() {
            *pending = true;
        }
        wake.notify_one();
    }

    /// Waits for a kick, or `period`.
    fn wait(&self, period: Duration) {
        let (lock, wake) = &self.wake;
        let Ok(pending) = lock.lock() else {
            return;
        };
        let Ok((mut pending, _)) = wake.wait_timeout_while(pending, period, |p| !*p) else {
            return;
        };
        *pending = false;
    }

    /// Writes a `meta` row when its value differs from what was last written.
    pub(crate) fn meta(&self, changes: &mut Changes, key: &'static str, value: &impl Serialize) {
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        let mut last = self.meta.lock();
        if last.get(key) != Some(&text) {
            changes.writes.push(Write::Put {
                kind: "meta",
                key: key.to_string(),
                body: text.clone(),
            });
            last.insert(key, text);
        }
    }

    /// The id stream position to resume at, and whether a new reservation must be written
    /// (the stream is `words` in now).
    pub(crate) fn reserve_ids(&self, words: u128) -> Option<u128> {
        let mut reserved = self.reserved_words.lock();
        if words + ID_HEADROOM / 2 > *reserved {
            *reserved = words + ID_HEADROOM;
            Some(*reserved)
        } else {
            None
        }
    }

    /// Forgets what the meta rows said (after a load, every one is written again).
    pub(crate) fn forget_meta(&self) {
        self.meta.lock().clear();
        *self.reserved_words.lock() = 0;
    }
}

/// The first string after every string that starts with `prefix`.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(u32::from(last) + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    // Only a prefix of `char::MAX`es has no successor; nothing sorts after it but itself.
    format!("{prefix}\u{10ffff}")
}

fn migrate(conn: &mut Connection, dir: &str) -> Result<(), PersistError> {
    let db = |source| PersistError::Db {
        dir: dir.to_string(),
        source,
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(PersistError::Newer {
            dir: dir.to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction().map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
    }
    Ok(())
}

/// Gathers every change of `ctx` and `providers` since the last call.
fn gather(persist: &Persist, ctx: &Context, providers: &[Arc<dyn Provider>]) -> Changes {
    let mut changes = Changes::default();
    for p in providers {
        p.state().changes(&mut changes);
    }
    ctx.tenants.changes(&mut changes);
    ctx.journal.changes(&mut changes);
    ctx.webhooks.changes(&mut changes);
    ctx.timeline.changes(&mut changes, |job| {
        let p = providers.iter().find(|p| p.id() == job.provider)?;
        match &job.task {
            crate::timeline::Task::Provider(payload) => p.save_job(payload.as_ref()),
            crate::timeline::Task::Deliver(_) => None,
        }
    });
    let (seed, words) = ctx.ids.position();
    if let Some(reserved) = persist.reserve_ids(words) {
        persist.meta(
            &mut changes,
            "ids",
            &json!({"seed": seed, "words": reserved.to_string()}),
        );
    }
    persist.meta(
        &mut changes,
        "clock",
        &json!({"offset_ms": ctx.clock.offset_ms(), "frozen_at": ctx.clock.is_frozen().then(|| ctx.clock.now_ms())}),
    );
    persist.meta(&mut changes, "scenario", &ctx.scenario.get());
    persist.meta(&mut changes, "faults", &ctx.faults.get());
    persist.meta(
        &mut changes,
        "journal",
        &json!({"last_id": ctx.journal.last_id()}),
    );
    let hooks = ctx.webhooks.saved_meta();
    persist.meta(&mut changes, "webhooks", &hooks);
    persist.meta(
        &mut changes,
        "tenants",
        &json!({"evicted": ctx.tenants.evicted()}),
    );
    changes
}

/// Drops what every part changed without handing it over: the state was just read from the data
/// dir, so the rows already say it.
pub(crate) fn forget_changes(ctx: &Context, providers: &[Arc<dyn Provider>]) {
    for p in providers {
        p.state().forget_changes();
    }
    ctx.tenants.forget_changes();
    ctx.journal.forget_changes();
    ctx.webhooks.forget_changes();
    ctx.timeline.forget_changes();
}

/// Runs the writer until `ctx` shuts down, then writes what is left: gathers the changes of
/// every part each time a commit is asked for (or every 100 ms) and writes them in one
/// transaction.
pub(crate) fn start_writer(
    persist: Arc<Persist>,
    ctx: Arc<Context>,
    providers: Arc<[Arc<dyn Provider>]>,
) -> std::thread::JoinHandle<()> {
    let mut stop = ctx.shutdown_signal();
    let waker = persist.clone();
    // The writer is a plain thread (SQLite blocks); this task wakes it for the last pass.
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        waker.kick();
    });
    std::thread::Builder::new()
        .name("data-dir-writer".into())
        .spawn(move || {
            let stopping = ctx.shutdown_signal();
            loop {
                persist.wait(Duration::from_millis(100));
                let last = *stopping.borrow();
                pass(&persist, &ctx, &providers);
                if last {
                    return;
                }
            }
        })
        // Invariant: spawning a thread fails only when the process is out of resources, in
        // which case the sandbox cannot run anyway.
        .expect("the data dir writer thread starts")
}

/// One pass of the writer: gather, write, report.
fn pass(persist: &Persist, ctx: &Context, providers: &[Arc<dyn Provider>]) {
    let target = persist.requested.load(Ordering::SeqCst);
    let changes = gather(persist, ctx, providers);
    let outcome = if changes.is_empty() {
        None
    } else {
        let started = Instant::now();
        match persist.write(&changes) {
            Ok(()) => {
                tracing::trace!(
                    writes = changes.len(),
                    took_us = started.elapsed().as_micros(),
                    "data dir commit"
                );
                None
            }
            Err(e) => {
                tracing::error!("data dir write failed: {e}");
                // What failed to be written is written again in full by the next pass.
                persist.forget_meta();
                for p in providers {
                    p.state().rewrite();
                }
                Some(format!("the data dir could not be written: {e}"))
            }
        }
    };
    persist.done.send_replace((target, outcome));
}

/// The stored state as a snapshot document (`crate::snapshot`), with the number of rows, or
/// `None` for an empty data dir.
pub(crate) fn as_snapshot(
    mut stored: Stored,
    ctx: &Context,
    providers: &[Arc<dyn Provider>],
) -> Result<Option<(String, usize)>, String> {
    if stored.is_empty() {
        return Ok(None);
    }
    let rows = stored.count();
    let (head, journal, hooks) = head(&mut stored, ctx)?;
    let mut document = String::new();
    let mut doc = Object::open(&mut document, &head.to_string());
    let mut o = Object::open(doc.field("journal"), &journal.to_string());
    // Journal rows are keyed by id; their order of writing is their order.
    push_array(o.field("entries"), texts(stored.take("journal")));
    o.close();
    let mut o = Object::open(doc.field("webhooks"), &hooks.to_string());
    push_array(o.field("deliveries"), texts(stored.take("delivery")));
    o.close();
    push_array(doc.field("jobs"), texts(stored.take("job")));
    let mut o = Object::open(doc.field("providers"), "{}");
    for p in providers {
        p.state().assemble(&mut stored, o.field(p.id().as_str()));
    }
    o.close();
    doc.close();
    Ok(Some((document, rows)))
}

/// The bodies of `rows`.
fn texts(rows: Vec<(String, String)>) -> Vec<String> {
    rows.into_iter().map(|(_, body)| body).collect()
}

/// The small parts of the stored snapshot, from the `meta` and `tenant` rows: its head (format,
/// clock, ids, scenario, faults, tenants), and the journal's and the delivery log's own fields.
fn head(stored: &mut Stored, ctx: &Context) -> Result<(Value, Value, Value), String> {
    let meta = |stored: &mut Stored, key: &str| -> Value {
        stored
            .one("meta", key)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    let clock = meta(stored, "clock");
    let now_ms = clock["frozen_at"]
        .as_i64()
        .unwrap_or_else(|| ctx.clock.now_ms());
    let ids = meta(stored, "ids");
    if ids.is_null() {
        return Err("the data dir has state but no id stream position".into());
    }
    let or = |v: Value, default: Value| if v.is_null() { default } else { v };
    let scenario = or(meta(stored, "scenario"), json!(ctx.scenario.get()));
    let faults = or(meta(stored, "faults"), json!(ctx.faults.get()));
    let journal = meta(stored, "journal");
    let hooks = or(
        meta(stored, "webhooks"),
        json!({"dropped": 0, "verified": []}),
    );
    let tenants_meta = meta(stored, "tenants");
    let mut tenants: std::collections::BTreeMap<String, Vec<(u64, String)>> = Default::default();
    for (key, seq) in stored.take("tenant") {
        let (provider, tenant) = split_key(&key);
        tenants
            .entry(provider.to_string())
            .or_default()
            .push((seq.parse().unwrap_or(0), tenant.to_string()));
    }
    let tenants: Map<String, Value> = tenants
        .into_iter()
        .map(|(p, mut list)| {
            list.sort();
            (
                p,
                json!(list.into_iter().map(|(_, t)| t).collect::<Vec<_>>()),
            )
        })
        .collect();
    let head = json!({
        "format": crate::snapshot::FORMAT,
        "version": crate::snapshot::VERSION,
        "saved_at": crate::clock::rfc3339(now_ms),
        "clock": {"now_ms": now_ms, "offset_ms": clock["offset_ms"].as_i64().unwrap_or(0)},
        "ids": ids,
        "scenario": scenario,
        "faults": faults,
        "tenants": {"providers": tenants, "evicted": tenants_meta["evicted"].as_u64().unwrap_or(0)},
    });
    Ok((
        head,
        json!({"last_id": journal["last_id"].as_u64().unwrap_or(0)}),
        json!({"dropped": hooks["dropped"], "verified": hooks["verified"]}),
    ))
}
