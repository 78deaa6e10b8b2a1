//! [`Lease`]: what a fenced write presents to prove it still owns the run.

use serde::{Deserialize, Serialize};

use super::ids::{LeaseGeneration, RunId, WorkerId};

/// A worker's hold on one run at one lease generation. Every worker write
/// is fenced on `run` and `generation` (`AND lease_generation = $g`), so a
/// worker whose lease was taken over writes nothing; one value instead of
/// three loose arguments keeps them from being swapped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    pub run: RunId,
    pub generation: LeaseGeneration,
    pub worker: WorkerId,
}

impl Lease {
    pub fn new(
        run: impl Into<RunId>,
        generation: impl Into<LeaseGeneration>,
        worker: impl Into<WorkerId>,
    ) -> Self {
        Lease {
            run: run.into(),
            generation: generation.into(),
            worker: worker.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keeps_each_part_in_its_slot() {
        let lease = Lease::new(3, 9, "w-1");
        assert_eq!(lease.run, RunId(3));
        assert_eq!(lease.generation, LeaseGeneration(9));
        assert_eq!(lease.worker.as_str(), "w-1");
        assert_eq!(
            serde_json::to_value(&lease).unwrap(),
            serde_json::json!({"run": 3, "generation": 9, "worker": "w-1"})
        );
    }
}
