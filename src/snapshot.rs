//! Snapshots: the whole state of the sandbox as one versioned JSON document, and back.
//!
//! A snapshot holds every provider's stores (tenants, links, payments, messages, orders,
//! subscriptions, webhook settings), the tracked tenants, the delivery log with every waiting
//! delivery and its attempts, the journal, the waiting timeline jobs, the scenario, the fault
//! rules, the clock (its time and its offset) and the position of the seeded id stream.
//! Loading one replaces the state as a whole: the id stream goes on from where the saved one
//! stood, so loading a snapshot and replaying the same requests gives the same answers, and an
//! id handed out before the save is never handed out again.
//!
//! The document (`format` [`FORMAT`], `version` [`VERSION`]) is read strictly: a wrong format
//! or version, an unknown or missing field, a provider this sandbox does not have, or a job or
//! delivery that does not parse refuses the whole file with every reason, and changes nothing.
//! It carries the secrets webhooks are signed with; it is a test fixture, not a backup to share.
//!
//! Every part is read under its own lock, one after another, so a snapshot taken while requests
//! are being served may catch a request half done (its message stored, its webhook not yet
//! queued). Take it from a quiet sandbox when exactness matters.
//!
//! Delivery jobs are not saved as jobs: each waiting delivery is scheduled again from its next
//! attempt time, and one that was in flight is sent again at once (same event id).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock::{Millis, rfc3339};
use crate::context::Context;
use crate::faults::FaultConfig;
use crate::ids::ProviderId;
use crate::journal::SavedJournal;
use crate::provider::Provider;
use crate::scenario::ScenarioConfig;
use crate::tenants::SavedTenants;
use crate::timeline::{Job, Payload, Task};
use crate::webhook::saved::SavedWebhooks;

/// What the `format` field of every snapshot says.
pub(crate) const FORMAT: &str = "paylink-sandbox.snapshot";

/// The version this sandbox writes and reads.
pub(crate) const VERSION: u32 = 1;

/// The whole state, as written to a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snapshot {
    pub format: String,
    pub version: u32,
    /// The sandbox time of the save, RFC 3339 (informative; `clock` is what is restored).
    pub saved_at: String,
    pub clock: SavedClock,
    pub ids: SavedIds,
    pub scenario: ScenarioConfig,
    pub faults: FaultConfig,
    pub tenants: SavedTenants,
    pub journal: SavedJournal,
    pub webhooks: SavedWebhooks,
    /// Waiting provider jobs (statuses falling due, expiries, scripted payments), in due order.
    pub jobs: Vec<SavedJob>,
    /// Each provider's own state, by name (kept as text: a provider reads its own).
    pub providers: BTreeMap<String, Box<RawValue>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedClock {
    /// Sandbox time at the save, in milliseconds.
    pub now_ms: Millis,
    /// How far the clock had been advanced.
    pub offset_ms: Millis,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedIds {
    pub seed: u64,
    /// How many 32-bit words the stream had handed out, in decimal (it may pass 2^53).
    pub words: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedJob {
    /// Sandbox time the job falls due, in milliseconds.
    pub due: Millis,
    pub provider: String,
    pub tenant: String,
    /// The object the job belongs to (it goes when the object goes), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub job: Value,
}

/// What a load brought in, for its answer and the start-up line.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Loaded {
    pub version: u32,
    pub deliveries: usize,
    pub journal: usize,
    pub jobs: usize,
    /// Per provider, what its state holds.
    pub providers: BTreeMap<String, Value>,
}

/// The state of `ctx` and `providers` now.
pub(crate) fn save(ctx: &Context, providers: &[Arc<dyn Provider>]) -> Snapshot {
    let (seed, words) = ctx.ids.position();
    let now_ms = ctx.clock.now_ms();
    let jobs = ctx
        .timeline
        .saved(|job| match &job.task {
            Task::Deliver(_) => None,
            Task::Provider(payload) => {
                let p = providers.iter().find(|p| p.id() == job.provider)?;
                Some((
                    job.provider,
                    job.tenant.clone(),
                    p.save_job(payload.as_ref())?,
                ))
            }
        })
        .into_iter()
        .map(|(due, owner, (provider, tenant, job))| SavedJob {
            due,
            provider: provider.as_str().to_string(),
            tenant,
            owner,
            job,
        })
        .collect();
    Snapshot {
        format: FORMAT.to_string(),
        version: VERSION,
        saved_at: rfc3339(now_ms),
        clock: SavedClock {
            now_ms,
            offset_ms: ctx.clock.offset_ms(),
        },
        ids: SavedIds {
            seed,
            words: words.to_string(),
        },
        scenario: ctx.scenario.get(),
        faults: ctx.faults.get(),
        tenants: ctx.tenants.saved(),
        journal: ctx.journal.saved(),
        webhooks: ctx.webhooks.saved(),
        jobs,
        providers: providers
            .iter()
            .map(|p| (p.id().as_str().to_string(), p.state().save()))
            .collect(),
    }
}

/// A snapshot checked in full and turned into the values each part takes, before anything is
/// replaced.
struct Prepared {
    snapshot_version: u32,
    clock: SavedClock,
    seed: u64,
    words: u128,
    scenario: ScenarioConfig,
    faults: FaultConfig,
    tenants: (Vec<(ProviderId, Vec<String>)>, u64),
    journal: (u64, Vec<crate::journal::Entry>),
    webhooks: (Vec<crate::webhook::Delivery>, Vec<(String, String)>, u64),
    jobs: Vec<(Millis, Option<String>, Job)>,
    providers: Vec<(usize, Box<dyn Any + Send>)>,
}

/// Reads `bytes` as a snapshot and checks every part; every problem found, or nothing changed.
fn prepare(
    ctx: &Context,
    providers: &[Arc<dyn Provider>],
    bytes: &[u8],
) -> Result<Prepared, Vec<String>> {
    check_header(bytes)?;
    let snapshot: Snapshot = serde_json::from_slice(bytes).map_err(|e| {
        vec![format!(
            "the snapshot does not have the version {VERSION} shape: {e}"
        )]
    })?;
    let mut problems = Vec::new();
    let names = ctx.providers;
    let prepared_providers =
        prepare_providers(providers, &snapshot.providers, names, &mut problems);
    if let Err(more) = snapshot.faults.validate(names) {
        problems.extend(more.into_iter().map(|p| format!("/faults: {p}")));
    }
    if let Err(more) = snapshot.scenario.validate(ctx.rule_checks) {
        problems.extend(more.into_iter().map(|p| format!("/scenario: {p}")));
    }
    let words = snapshot.ids.words.parse::<u128>().unwrap_or_else(|_| {
        problems.push(format!(
            "/ids/words: {:?} is not a whole number",
            snapshot.ids.words
        ));
        0
    });
    let tenants = collect(
        &mut problems,
        snapshot.tenants.providers.into_iter().map(|(p, list)| {
            ProviderId::known(&p, names)
                .map(|id| (id, list))
                .ok_or_else(|| format!("/tenants/providers/{p}: not a provider of this sandbox"))
        }),
    );
    let entries = collect(
        &mut problems,
        snapshot.journal.entries.into_iter().map(|e| e.entry(names)),
    );
    let make_signer = |id: ProviderId, secret: String| -> Arc<dyn crate::webhook::Sign> {
        // Invariant: `delivery` only calls this with a provider it found among `names`, which
        // are the providers' own names.
        let p = providers
            .iter()
            .find(|p| p.id() == id)
            .expect("a known provider");
        p.signer(secret)
    };
    let deliveries = collect(
        &mut problems,
        snapshot
            .webhooks
            .deliveries
            .into_iter()
            .map(|d| d.delivery(names, &make_signer)),
    );
    let jobs = collect(
        &mut problems,
        snapshot.jobs.into_iter().map(|j| load_job(providers, j)),
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Prepared {
        snapshot_version: snapshot.version,
        clock: snapshot.clock,
        seed: snapshot.ids.seed,
        words,
        scenario: snapshot.scenario,
        faults: snapshot.faults,
        tenants: (tenants, snapshot.tenants.evicted),
        journal: (snapshot.journal.last_id, entries),
        webhooks: (
            deliveries,
            snapshot.webhooks.verified,
            snapshot.webhooks.dropped,
        ),
        jobs,
        providers: prepared_providers,
    })
}

/// Each provider's saved state, checked and readied (by the provider's index); a provider the
/// snapshot has and this sandbox lacks, or the reverse, is a problem.
fn prepare_providers(
    providers: &[Arc<dyn Provider>],
    saved: &BTreeMap<String, Box<RawValue>>,
    names: &[&str],
    problems: &mut Vec<String>,
) -> Vec<(usize, Box<dyn Any + Send>)> {
    for name in saved.keys() {
        if !names.contains(&name.as_str()) {
            problems.push(format!(
                "/providers/{name}: not a provider of this sandbox ({})",
                names.join(", ")
            ));
        }
    }
    let mut ready = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let name = p.id().as_str();
        match saved.get(name) {
            None => problems.push(format!("/providers/{name}: missing")),
            Some(state) => match p.state().prepare(state.get()) {
                Ok(state) => ready.push((i, state)),
                Err(why) => problems.push(format!("/providers/{name}: {why}")),
            },
        }
    }
    ready
}

/// Refuses a document that is not a snapshot, or one of another version, before reading more.
fn check_header(bytes: &[u8]) -> Result<(), Vec<String>> {
    /// The two fields read first; the rest is skipped (but must be JSON).
    #[derive(Deserialize)]
    struct Header {
        format: Option<Value>,
        version: Option<Value>,
    }
    let header: Header = serde_json::from_slice(bytes)
        .map_err(|e| vec![format!("the snapshot is not JSON: {e}")])?;
    let value = serde_json::json!({"format": header.format, "version": header.version});
    let format = value.get("format").and_then(Value::as_str);
    if format != Some(FORMAT) {
        return Err(vec![format!(
            "/format: this is not a paylink-sandbox snapshot (format {}; expected {FORMAT:?})",
            format.map_or_else(|| "missing".to_string(), |f| format!("{f:?}"))
        )]);
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => Ok(()),
        Some(v) if v > u64::from(VERSION) => Err(vec![format!(
            "/version: snapshot version {v} is newer than this sandbox reads ({VERSION}); \
             load it with a newer paylink-sandbox"
        )]),
        Some(v) => Err(vec![format!(
            "/version: snapshot version {v} is not one this sandbox reads ({VERSION})"
        )]),
        None => Err(vec!["/version: missing or not a whole number".to_string()]),
    }
}

/// The values of `items`, pushing every error to `problems`.
fn collect<T>(
    problems: &mut Vec<String>,
    items: impl Iterator<Item = Result<T, String>>,
) -> Vec<T> {
    items
        .filter_map(|r| r.map_err(|why| problems.push(why)).ok())
        .collect()
}

fn load_job(
    providers: &[Arc<dyn Provider>],
    saved: SavedJob,
) -> Result<(Millis, Option<String>, Job), String> {
    let p = providers
        .iter()
        .find(|p| p.id().as_str() == saved.provider)
        .ok_or_else(|| {
            format!(
                "/jobs: provider {:?} is not one of this sandbox",
                saved.provider
            )
        })?;
    let payload = p
        .load_job(saved.job)
        .map_err(|why| format!("/jobs: a {} job: {why}", saved.provider))?;
    Ok((
        saved.due,
        saved.owner,
        Job {
            provider: p.id(),
            tenant: saved.tenant,
            task: Task::Provider(payload),
        },
    ))
}

/// Replaces the state of `ctx` and `providers` with the snapshot in `bytes`; on any problem,
/// returns them all and changes nothing.
pub(crate) async fn load(
    ctx: &Context,
    providers: &[Arc<dyn Provider>],
    bytes: &[u8],
) -> Result<Loaded, Vec<String>> {
    let prepared = prepare(ctx, providers, bytes)?;
    // Nothing runs due jobs while the state is swapped: the timeline is held, as an advance
    // holds it.
    let running = ctx.timeline.take_over().await;
    let loaded = apply(ctx, providers, prepared);
    drop(running);
    ctx.timeline.resume();
    ctx.events.changed();
    Ok(loaded)
}

fn apply(ctx: &Context, providers: &[Arc<dyn Provider>], prepared: Prepared) -> Loaded {
    ctx.timeline.forget(None, None, |_| true);
    ctx.clock
        .restore(prepared.clock.now_ms, prepared.clock.offset_ms);
    ctx.ids.restore(prepared.seed, prepared.words);
    for (i, ready) in prepared.providers {
        providers[i].state().restore(ready);
    }
    let (tenants, evicted) = prepared.tenants;
    ctx.tenants.restore(tenants, evicted);
    ctx.scenario.replace(prepared.scenario);
    // Checked in `prepare` against the same provider names.
    let _ = ctx.faults.replace(prepared.faults, ctx.providers);
    let (last_id, entries) = prepared.journal;
    let journal = entries.len();
    ctx.journal.restore(last_id, entries);
    let (deliveries, verified, dropped) = prepared.webhooks;
    let delivery_count = deliveries.len();
    ctx.webhooks
        .restore(deliveries, verified, dropped, ctx.clock.now_ms());
    let jobs = prepared.jobs.len();
    for (due, owner, job) in prepared.jobs {
        match owner {
            Some(owner) => ctx.timeline.at_for(due, job, owner),
            None => ctx.timeline.at(due, job),
        }
    }
    Loaded {
        version: prepared.snapshot_version,
        deliveries: delivery_count,
        journal,
        jobs,
        providers: providers
            .iter()
            .map(|p| (p.id().as_str().to_string(), p.counts()))
            .collect(),
    }
}

/// A job payload of type `J` as JSON, if it is one.
pub(crate) fn save_job_as<J: Serialize + 'static>(payload: &dyn Payload) -> Option<Value> {
    let any: &dyn Any = payload;
    serde_json::to_value(any.downcast_ref::<J>()?).ok()
}

/// A saved job payload of type `J`.
pub(crate) fn load_job_as<J: DeserializeOwned + Payload>(
    saved: Value,
) -> Result<Box<dyn Payload>, String> {
    serde_json::from_value::<J>(saved)
        .map(|j| Box::new(j) as Box<dyn Payload>)
        .map_err(|e| e.to_string())
}

/// Writes a hash map with its keys in order, so that the same state always saves the same.
pub(crate) fn sorted<S: serde::Serializer, V: Serialize>(
    map: &std::collections::HashMap<String, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let ordered: BTreeMap<&String, &V> = map.iter().collect();
    ordered.serialize(s)
}
