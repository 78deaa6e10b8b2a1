//! The stop signal shared by a worker's loops (heartbeat, claim loop, run
//! drivers). Injectable: tests stop an in-process worker with
//! [`StopHandle::stop`]; the CLI fires it on SIGTERM or ctrl-c.

use tokio::sync::watch;

/// Observes the signal.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

/// Fires the signal.
#[derive(Clone, Debug)]
pub struct StopHandle(std::sync::Arc<watch::Sender<bool>>);

/// A new, not yet fired, signal.
pub fn stop_pair() -> (StopHandle, Stop) {
    let (tx, rx) = watch::channel(false);
    (StopHandle(std::sync::Arc::new(tx)), Stop(rx))
}

impl StopHandle {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stop {
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once the signal fired (at once if it already has).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}
