//! [`PauseSwitch`]: pausing an upload lets the chunks in flight finish and starts no new ones.

use std::sync::Arc;

use tokio::sync::watch;

/// Pauses and resumes an upload. Cheap to clone; clones control the same upload.
///
/// While paused, the chunks already in flight finish (their bytes are not wasted) and are
/// reported; no new chunk starts until [`resume`](Self::resume).
#[derive(Debug, Clone)]
pub(crate) struct PauseSwitch {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for PauseSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl PauseSwitch {
    /// A switch in the running position.
    pub(crate) fn new() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Pauses: no new chunk starts.
    pub(crate) fn pause(&self) {
        self.tx.send_replace(true);
    }

    /// Resumes.
    pub(crate) fn resume(&self) {
        self.tx.send_replace(false);
    }

    /// Whether the upload is paused.
    pub(crate) fn is_paused(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the switch is in the running position.
    pub(crate) async fn running(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = rx.wait_for(|paused| !*paused).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn running_waits_for_resume() {
        let switch = PauseSwitch::new();
        switch.running().await;
        switch.pause();
        assert!(switch.is_paused());
        let waiter = tokio::spawn({
            let s = switch.clone();
            async move { s.running().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        switch.resume();
        waiter.await.unwrap();
    }
}
