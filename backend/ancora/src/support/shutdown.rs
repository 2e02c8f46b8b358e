//! A tiny shutdown broadcast: clone it, `wait()` on it, `trigger()` it once. Every long-running
//! task of a process (HTTP server, workers, admission control, session cleanup) holds one.

use std::sync::Arc;
use tokio::sync::watch;

/// Shutdown signal shared by tasks.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A new, untriggered signal.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: Arc::new(tx),
            rx,
        }
    }

    /// Triggers it.
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}
