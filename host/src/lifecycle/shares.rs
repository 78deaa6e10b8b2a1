//! This worker's fractions of the fleet-wide limits (state only: read on
//! every call; [`super::fleet_share`] recomputes it). A tenant's cap on
//! calls in flight and its calls per second, and an adapter account's calls
//! per second, hold for the whole fleet: each worker takes the fraction of
//! the fleet's live runs (of that tenant, or on that adapter) it drives.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::TenantId;
use crate::store::RunLoad;

/// This worker's shares, by tenant and by adapter account.
#[derive(Debug, Default)]
pub struct FleetShare {
    /// std Mutex: read on every call, never held across an await.
    shares: Mutex<Shares>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Shares {
    tenant: HashMap<TenantId, f64>,
    account: HashMap<String, f64>,
}

impl FleetShare {
    /// Recomputes the shares of worker `me` from the fleet's load.
    pub fn apply(&self, me: &str, load: &[RunLoad]) {
        let mut tenant: HashMap<TenantId, (i64, i64)> = HashMap::new();
        let mut account: HashMap<String, (i64, i64)> = HashMap::new();
        for l in load {
            let mine = if l.owner_worker == me { l.runs } else { 0 };
            let t = tenant.entry(l.tenant).or_default();
            t.0 += mine;
            t.1 += l.runs;
            let a = account.entry(l.dialer.clone()).or_default();
            a.0 += mine;
            a.1 += l.runs;
        }
        let ratio = |(mine, all): (i64, i64)| match all {
            0 => 1.0,
            _ => mine as f64 / all as f64,
        };
        let next = Shares {
            tenant: tenant.into_iter().map(|(k, v)| (k, ratio(v))).collect(),
            account: account.into_iter().map(|(k, v)| (k, ratio(v))).collect(),
        };
        *self.shares.lock().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// This worker's fraction of `tenant`'s limits (1 when the fleet shows
    /// no other owner, e.g. right after a claim).
    pub fn tenant(&self, tenant: TenantId) -> f64 {
        let s = self.shares.lock().unwrap_or_else(|p| p.into_inner());
        s.tenant
            .get(&tenant)
            .copied()
            .filter(|f| *f > 0.0)
            .unwrap_or(1.0)
    }

    /// This worker's fraction of adapter account `dialer`'s rate.
    pub fn account(&self, dialer: &str) -> f64 {
        let s = self.shares.lock().unwrap_or_else(|p| p.into_inner());
        s.account
            .get(dialer)
            .copied()
            .filter(|f| *f > 0.0)
            .unwrap_or(1.0)
    }

    /// `cap` scaled to this worker's share, at least 1.
    pub fn tenant_calls(&self, tenant: TenantId, cap: u32) -> usize {
        ((f64::from(cap) * self.tenant(tenant)).floor() as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(b: i64, dialer: &str, owner: &str, runs: i64) -> RunLoad {
        RunLoad {
            tenant: TenantId(b),
            dialer: dialer.into(),
            owner_worker: owner.into(),
            runs,
        }
    }

    #[test]
    fn shares_follow_the_runs_each_worker_drives() {
        let f = FleetShare::default();
        assert_eq!(f.tenant(TenantId(1)), 1.0, "unknown: the whole limit");
        f.apply(
            "me",
            &[
                load(1, "sim", "me", 3),
                load(1, "sim", "other", 1),
                load(2, "sim", "other", 2),
                load(2, "http", "me", 2),
            ],
        );
        assert_eq!(f.tenant(TenantId(1)), 0.75);
        assert_eq!(f.tenant(TenantId(2)), 0.5);
        assert_eq!(f.account("sim"), 0.5);
        assert_eq!(f.account("http"), 1.0);
        assert_eq!(f.tenant_calls(TenantId(1), 10), 7);
        assert_eq!(f.tenant_calls(TenantId(2), 1), 1, "never below one slot");
        // The other worker of tenant 1 died (its lease no longer counts).
        f.apply("me", &[load(1, "sim", "me", 3)]);
        assert_eq!(f.tenant_calls(TenantId(1), 10), 10);
    }
}
