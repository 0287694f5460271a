//! Change notifications for the dashboard: a generation counter that request handling, webhook
//! attempts, timeline jobs and admin actions bump, and `GET /__sandbox/events`, a server-sent
//! event stream that tells each open dashboard "something changed" at most ten times a second.
//!
//! With no dashboard connected, a bump costs one atomic load: the hot path never pays for a
//! page nobody is looking at.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    response::sse::{Event, KeepAlive, Sse},
};
use tokio::sync::watch;

use crate::app::AppState;

/// How long the stream gathers changes before it sends one event.
const COALESCE: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct Events {
    generation: watch::Sender<u64>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            generation: watch::channel(0).0,
        }
    }
}

impl Events {
    /// Says that something a dashboard shows has changed.
    pub fn changed(&self) {
        if self.generation.receiver_count() > 0 {
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    /// How many dashboards are listening now.
    pub fn listeners(&self) -> usize {
        self.generation.receiver_count()
    }

    /// A receiver that wakes on every change after this call.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

/// `GET /__sandbox/events`: `event: change` with the generation as data, once on connect and
/// then after each burst of changes; a comment every 15 s keeps proxies from closing it.
pub async fn stream(
    State(app): State<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = app.events.subscribe();
    let shutdown = app.shutdown_signal();
    let stream = futures_util::stream::unfold(
        (rx, shutdown, true),
        |(mut rx, mut shutdown, first)| async move {
            if !first {
                tokio::select! {
                    changed = rx.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
                tokio::time::sleep(COALESCE).await;
            }
            let g = *rx.borrow_and_update();
            Some((Ok(change(g)), (rx, shutdown, false)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn change(generation: u64) -> Event {
    Event::default()
        .event("change")
        .data(generation.to_string())
}
