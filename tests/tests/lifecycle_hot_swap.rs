//! Dialer hot swap under load, with real `dialplane worker` processes: while
//! a run of thousands of leads dials at concurrency, a platform engineer
//! activates a new version of the adapter. No call fails or is lost, every
//! lead is called exactly once (counted from the sim dialer's own ledger),
//! and once the first call went out on the new version, the old one places
//! at most the calls that were already in flight. On PostgreSQL the workers
//! learn through `NOTIFY`; on SQLite (another process) through polling.

use std::time::Duration;

use dialplane::builtin;
use dialplane::runtime::PluginKind;
use dialplane::store::{Page, RunStatus};
use dialplane_tests::lifecycle::*;

const WAIT: Duration = Duration::from_secs(180);
const LEADS: usize = 1_200;
const CONCURRENCY: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_hot_swap_under_load() {
    hot_swap_under_load(Db::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_hot_swap_under_load() {
    hot_swap_under_load(Db::Postgres).await
}

async fn hot_swap_under_load(engine: Db) {
    let db = open(engine).await;
    let phones = human_phones(LEADS, 70);
    let mut s = settings(CONCURRENCY);
    // Paced so the run is still dialing well after the swap.
    s.calls_per_second = Some(200.0);
    let (b, run_id, _) = seed_run(&db.store, &phones, Some("Europe/Paris"), s, &[]).await;
    let _w1 = spawn_worker_process(&db.url, "swap-a");
    let _w2 = spawn_worker_process(&db.url, "swap-b");
    wait_for(WAIT, "calls under way on the first version", || async {
        (run_view(&db.store, b, run_id).await.cursor_position >= 200).then_some(())
    })
    .await;

    let v2 = db
        .store
        .insert_plugin_version(
            PluginKind::Dialer,
            None,
            DIALER,
            &component_variant(builtin::SIM_DIALER, "v2"),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    db.store
        .activate_plugin_version(PluginKind::Dialer, None, DIALER, 2)
        .await
        .unwrap();
    let at_activation = run_view(&db.store, b, run_id).await.cursor_position;

    let run = wait_for(WAIT, "the run to end", || async {
        let r = run_view(&db.store, b, run_id).await;
        r.status.is_terminal().then_some(r)
    })
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.cursor_position, run.total_leads);

    // Nothing lost or duplicated, from the provider's side.
    assert_each_called_once(&ledger(&db.store, b).await, &phones);
    // Nothing failed, from ours.
    let jobs = all_pages(
        |page| db.store.list_jobs(b.into(), run_id.into(), page),
        |j| j.id.0,
    )
    .await;
    assert_eq!(jobs.len(), LEADS);
    let bad: Vec<_> = jobs
        .iter()
        .filter(|j| j.status != "completed" || j.outcome.as_deref() != Some("answered-human"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} jobs did not complete: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );

    let attempts = all_pages(
        |page| db.store.list_attempts(b.into(), run_id.into(), page),
        |a| a.id,
    )
    .await;
    let placed: Vec<_> = attempts.iter().filter(|a| a.placed).collect();
    assert_eq!(placed.len(), LEADS, "one placed attempt per lead");
    let on = |v: i64| placed.iter().filter(move |a| a.dialer_version == Some(v));
    let (old, new) = (on(1).count(), on(2).count());
    assert_eq!(
        old + new,
        LEADS,
        "every call names the version that placed it"
    );
    assert!(
        old > 0 && new > 0,
        "calls on both versions: v1 {old}, v2 {new}"
    );
    // After the first call on v2, v1 finishes only what was in flight.
    let first_new = on(2).filter_map(|a| a.placed_at).min().unwrap();
    let late_old = on(1).filter(|a| a.placed_at.unwrap() > first_new).count();
    assert!(
        late_old <= CONCURRENCY as usize,
        "{late_old} calls went out on the old version after the swap"
    );
    eprintln!(
        "hot swap at cursor {at_activation}: {old} calls on v1, {new} on v2, {late_old} v1 calls in flight at the swap"
    );
}

/// Every row of a keyset-paged listing.
async fn all_pages<T, F, Fut>(mut list: F, id: impl Fn(&T) -> i64) -> Vec<T>
where
    F: FnMut(Page) -> Fut,
    Fut: std::future::Future<Output = dialplane::store::StoreResult<Vec<T>>>,
{
    let mut out = Vec::new();
    let mut page = Page::first(dialplane::store::PAGE_LIMIT_MAX);
    loop {
        let rows = list(page).await.unwrap();
        let Some(last) = rows.last() else {
            return out;
        };
        page.after = Some(id(last));
        out.extend(rows);
    }
}
