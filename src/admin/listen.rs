//! `GET /__sandbox/listen`: the live feed (see [`crate::feed`]) as server-sent events, one
//! `event: request` or `event: webhook` per item with its JSON as data, filtered by `provider`
//! and `tenant`. A listener that falls behind gets `event: lagged` with how many items it missed.

use std::convert::Infallible;
use std::time::Duration;

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::AdminState;
use crate::reply::{AdminError, AdminQuery};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenFilter {
    pub provider: Option<String>,
    pub tenant: Option<String>,
}

pub(crate) async fn listen(
    State(admin): State<AdminState>,
    AdminQuery(filter): AdminQuery<ListenFilter>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, AdminError> {
    if let Some(p) = filter.provider.as_deref()
        && admin.provider(p).is_none()
    {
        return Err(AdminError::bad_request(format!(
            "provider {p:?} is not one of {}",
            admin.ctx.providers.join(", ")
        )));
    }
    let rx = admin.ctx.feed.subscribe();
    let shutdown = admin.ctx.shutdown_signal();
    // The first event says the feed is open, so a client knows from when it sees everything.
    let hello = Event::default().event("ready").data("{}");
    let stream = futures_util::stream::unfold(
        (rx, shutdown, filter, Some(hello)),
        |(mut rx, mut shutdown, filter, hello)| async move {
            if let Some(hello) = hello {
                return Some((Ok(hello), (rx, shutdown, filter, None)));
            }
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                };
                let event = match received {
                    Ok(item) => {
                        let wanted = filter
                            .provider
                            .as_deref()
                            .is_none_or(|p| item.provider().as_str() == p)
                            && filter
                                .tenant
                                .as_deref()
                                .is_none_or(|t| item.tenant() == Some(t));
                        if !wanted {
                            continue;
                        }
                        Event::default()
                            .event(item.kind())
                            .data(serde_json::to_string(&*item).unwrap_or_default())
                    }
                    Err(RecvError::Lagged(missed)) => Event::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{missed}}}")),
                    Err(RecvError::Closed) => return None,
                };
                return Some((Ok(event), (rx, shutdown, filter, None)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
