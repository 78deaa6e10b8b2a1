//! The sim dialer's own record of the calls it placed: tenant-store entries
//! `call/<idempotency-key>` in the dialer's namespace, each with
//! `placed_at_unix_ms`. The demo counts "calls after cancel" from here, not
//! from the host's job rows, so a bug in the host's bookkeeping cannot hide a
//! call that was really placed.

use crate::model::TenantId;
use crate::runtime::PluginKind;
use crate::store::{KvStore, Page, StoreResult};

/// Namespace of the sim dialer's tenant-store (the runtime's convention
/// `kind:name`, see [`crate::runtime::PluginScope::new`]).
pub fn namespace() -> String {
    format!("{}:{}", PluginKind::Dialer.as_str(), "sim-dialer")
}

/// One placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub idempotency_key: String,
    pub placed_at_unix_ms: i64,
}

/// Every placement of `run_id` (idempotency keys are `run-job-attempt`).
pub async fn placements_of_run(
    store: &dyn KvStore,
    tenant: TenantId,
    run_id: i64,
) -> StoreResult<Vec<Placement>> {
    let ns = namespace();
    let prefix = format!("call/{run_id}-");
    let mut out = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store
            .kv_list(
                tenant,
                Some(&ns),
                after.as_ref().map(|(n, k)| (n.as_str(), k.as_str())),
                Page::first(crate::store::PAGE_LIMIT_MAX),
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.namespace.clone(), last.key.clone()));
        for e in &page {
            if let Some(key) = e.key.strip_prefix(&prefix) {
                out.push(Placement {
                    idempotency_key: format!("{run_id}-{key}"),
                    placed_at_unix_ms: parse_placed_at(&e.value).ok_or_else(|| {
                        crate::store::StoreError::Other(format!(
                            "sim-dialer ledger entry {} has no placed_at_unix_ms",
                            e.key
                        ))
                    })?,
                });
            }
        }
    }
    Ok(out)
}

/// Placements strictly after `t_ms`.
pub fn placed_after(placements: &[Placement], t_ms: i64) -> usize {
    placements
        .iter()
        .filter(|p| p.placed_at_unix_ms > t_ms)
        .count()
}

fn parse_placed_at(value: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    v.get("placed_at_unix_ms")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ledger_timestamp() {
        let v = br#"{"provider_call_id":"sim-1-2-1","to":"+14155550127","placed_at_unix_ms":1700000000123,"report":{},"hung_up":false,"repeats":0}"#;
        assert_eq!(parse_placed_at(v), Some(1_700_000_000_123));
        assert_eq!(parse_placed_at(b"{}"), None);
        assert_eq!(parse_placed_at(b"not json"), None);
    }

    #[test]
    fn counts_only_later_placements() {
        let p = |t| Placement {
            idempotency_key: "k".into(),
            placed_at_unix_ms: t,
        };
        assert_eq!(placed_after(&[p(1), p(5), p(9)], 5), 1);
    }
}
