//! Waits instead of sleeps, for the admin lists: `GET /__sandbox/webhooks`, `/__sandbox/requests` and
//! `/__sandbox/whatsapp/messages` take `wait` (`5s`, `500ms`) and `count` (default 1). The call
//! holds until at least `count` entries match its filters or the wait runs out, then answers with
//! what matched and a `wait` object saying whether the count was reached. When it was not, the
//! status is 408 and the body still lists what did arrive, so a test's failure message shows it.
//!
//! Without `wait` the call answers at once, as before. The wait is capped below the request
//! deadline; it wakes on every change the dashboard hears about (a request, a webhook attempt, a
//! timeline job), re-reads the list, and holds no lock while it sleeps.

use std::time::{Duration, Instant};

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::parse_duration;
use crate::context::Context;
use crate::reply::AdminError;

/// The longest a single call may wait.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// `wait` and `count`, read beside each list's own filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WaitQuery {
    pub wait: Option<String>,
    pub count: Option<usize>,
}

impl WaitQuery {
    /// How long to wait, if at all; an unreadable or oversized `wait` is refused by name.
    fn duration(&self, ctx: &Context) -> Result<Option<Duration>, AdminError> {
        let Some(text) = self.wait.as_deref() else {
            if self.count.is_some() {
                return Err(AdminError::bad_request(
                    "count needs wait (such as wait=5s): without a wait the list answers at once",
                ));
            }
            return Ok(None);
        };
        let wait = parse_duration(text).ok_or_else(|| {
            AdminError::bad_request(format!(
                "wait {text:?} is not a duration such as 5s, 500ms or 1m"
            ))
        })?;
        let cap = MAX_WAIT.min(
            ctx.limits
                .request_timeout
                .saturating_sub(Duration::from_secs(1)),
        );
        if wait > cap {
            return Err(AdminError::bad_request(format!(
                "wait {text:?} is longer than the {} s a call may wait",
                cap.as_secs()
            )));
        }
        if self.count == Some(0) {
            return Err(AdminError::bad_request("count must be at least 1"));
        }
        Ok(Some(wait))
    }
}

/// Answers `{key: [...]}` from `list` (all matching entries, oldest first), waiting as `q` asks.
/// `limit` keeps the newest N in the answer; `count` is checked against every match.
pub(crate) async fn answer(
    ctx: &Context,
    q: &WaitQuery,
    key: &str,
    limit: Option<usize>,
    list: impl Fn() -> Vec<Value>,
) -> Result<Response, AdminError> {
    answer_with(ctx, q, key, limit, &Value::Null, list).await
}

/// [`answer`], with the keys of `extra` (an object) added beside the list.
pub(crate) async fn answer_with(
    ctx: &Context,
    q: &WaitQuery,
    key: &str,
    limit: Option<usize>,
    extra: &Value,
    list: impl Fn() -> Vec<Value>,
) -> Result<Response, AdminError> {
    let with_extra = |mut body: Value| {
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e.clone());
        }
        body
    };
    let trim = |mut items: Vec<Value>| {
        if let Some(limit) = limit
            && items.len() > limit
        {
            items.drain(..items.len() - limit);
        }
        items
    };
    let Some(wait) = q.duration(ctx)? else {
        return Ok(Json(with_extra(json!({ key: trim(list()) }))).into_response());
    };
    let wanted = q.count.unwrap_or(1);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + wait;
    // Subscribed before the first read, so a change between the read and the sleep still wakes.
    let mut changes = ctx.events.subscribe();
    let mut shutdown = ctx.shutdown_signal();
    let items = loop {
        let items = list();
        if items.len() >= wanted {
            break items;
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break items },
            () = tokio::time::sleep_until(deadline) => break list(),
            _ = shutdown.wait_for(|stop| *stop) => break list(),
        }
    };
    let matched = items.len();
    let reached = matched >= wanted;
    let mut body = json!({
        key: trim(items),
        "wait": {
            "reached": reached,
            "wanted": wanted,
            "matched": matched,
            "waited_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
    });
    body = with_extra(body);
    if reached {
        return Ok(Json(body).into_response());
    }
    body["error"] = json!({
        "code": "wait_timed_out",
        "message": format!(
            "waited {} for {wanted} matching {key}; {matched} arrived",
            q.wait.as_deref().unwrap_or_default()
        ),
    });
    Ok((StatusCode::REQUEST_TIMEOUT, Json(body)).into_response())
}
