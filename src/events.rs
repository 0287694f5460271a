//! Change notifications for the dashboard: a generation counter that request handling, webhook
//! attempts, timeline jobs and admin actions bump. The admin API streams it to open dashboards
//! (`GET /__sandbox/events`).
//!
//! With no dashboard connected, a bump costs one atomic load: the hot path never pays for a
//! page nobody is looking at.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

#[derive(Debug)]
pub(crate) struct Events {
    generation: watch::Sender<u64>,
    /// Open dashboards (waiting admin calls also listen, but are not dashboards).
    dashboards: Arc<AtomicUsize>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            generation: watch::channel(0).0,
            dashboards: Arc::default(),
        }
    }
}

/// Counts one open dashboard while it lives.
#[derive(Debug)]
pub(crate) struct Dashboard(Arc<AtomicUsize>);

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
    pub(crate) fn dashboards(&self) -> usize {
        self.dashboards.load(Ordering::Relaxed)
    }

    /// A receiver for a dashboard's change stream, counted while the guard lives.
    pub(crate) fn open_dashboard(&self) -> (watch::Receiver<u64>, Dashboard) {
        self.dashboards.fetch_add(1, Ordering::Relaxed);
        (self.subscribe(), Dashboard(self.dashboards.clone()))
    }

    /// A receiver that wakes on every change after this call.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
