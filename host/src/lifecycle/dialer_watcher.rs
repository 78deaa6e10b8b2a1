//! Hot swap of dialer adapters: refreshes the worker's
//! [`DialerDirectory`](super::dialer_directory::DialerDirectory) when an
//! activation is announced (PostgreSQL `NOTIFY` from any host; in-process
//! on SQLite) and, because notices can be missed (a reconnect, a second
//! SQLite process), also every [`DIALER_WATCH_INTERVAL_DEFAULT`], which
//! bounds how long any worker keeps dialing on a replaced version.
//!
//! [`DIALER_WATCH_INTERVAL_DEFAULT`]: crate::config::DIALER_WATCH_INTERVAL_DEFAULT

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;

use super::context::WorkerCtx;
use super::dialer_directory::Swap;

/// One look at the active versions; swaps what changed.
pub async fn run_once(ctx: &Arc<WorkerCtx>) -> anyhow::Result<Vec<Swap>> {
    ctx.dialers.refresh().await
}

/// Watches until the worker stops: on each notice, and at least every
/// `dialer_watch_interval`.
pub async fn start(ctx: Arc<WorkerCtx>) {
    let poll = ctx.cfg.dialer_watch_interval;
    let mut notices: Option<BoxStream<'static, ()>> = None;
    loop {
        if notices.is_none() {
            match ctx.store.activation_notices().await {
                Ok(s) => notices = Some(s),
                Err(e) => tracing::warn!("activation notices unavailable, polling only: {e:#}"),
            }
        }
        let notice = async {
            match notices.as_mut() {
                Some(s) => s.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = notice => if n.is_none() { notices = None },
            _ = tokio::time::sleep(poll) => {}
            _ = ctx.stop.wait() => return,
        }
        if let Err(e) = run_once(&ctx).await {
            tracing::warn!(worker = %ctx.cfg.worker_id, "dialer refresh failed: {e:#}");
        }
    }
}
