//! Change notifications for the dashboard: a generation counter that request handling, webhook
//! attempts, timeline jobs and admin actions bump. The admin API streams it to open dashboards
//! (`GET /__sandbox/events`).
//!
//! With no dashboard connected, a bump costs one atomic load: the hot path never pays for a
//! page nobody is looking at.

use tokio::sync::watch;

#[derive(Debug)]
pub(crate) struct Events {
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
    pub(crate) fn changed(&self) {
        if self.generation.receiver_count() > 0 {
            self.generation.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    /// How many dashboards are listening now.
    pub(crate) fn listeners(&self) -> usize {
        self.generation.receiver_count()
    }

    /// A receiver that wakes on every change after this call.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
