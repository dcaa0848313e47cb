//! The memory pool queries run in when a memory limit is set, shared by the session
//! ([`crate::build_session`]) and the Flight server's per-query pools
//! ([`crate::flight::limits`]).
//!
//! DataFusion's default pool for a limit (`GreedyMemoryPool`) serves reservations first come,
//! first served: with 16 partitions, the sorts of the first partitions took the whole pool and
//! the partition that had to spill could not get the few hundred KiB its merge needs, so the
//! query failed instead of spilling (sessionizing 10M events under 256 MiB, or 287M events
//! under 4 GiB: "Additional allocation failed for ExternalSorterMerge"). A [`FairSpillPool`]
//! gives each spilling operator an even share of what non-spilling reservations leave, so each
//! partition spills when it reaches its share.

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::config::ExecutionOptions;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};

/// A pool of `limit` bytes shared fairly by the operators that can spill; errors name the
/// largest consumers.
pub fn spilling_pool(limit: usize) -> Arc<dyn MemoryPool> {
    Arc::new(TrackConsumersPool::new(
        FairSpillPool::new(limit),
        NonZeroUsize::new(5).expect("5 is not zero"),
    ))
}

/// Scales the memory each sort reserves up front for merging its spill files (10 MiB by
/// default, for each partition) to a pool of `limit` bytes: all partitions' reservations
/// together take at most an eighth of it, so they fit and leave the rest for sorting.
pub fn fit_sort_reservation(exec: &mut ExecutionOptions, limit: usize, partitions: usize) {
    let share = limit / 8 / partitions.max(1);
    exec.sort_spill_reservation_bytes = exec.sort_spill_reservation_bytes.min(share);
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryConsumer;

    #[test]
    fn a_spilling_operator_cannot_take_the_others_share() {
        let pool = spilling_pool(100);
        let first = MemoryConsumer::new("sort 1")
            .with_can_spill(true)
            .register(&pool);
        let second = MemoryConsumer::new("sort 2")
            .with_can_spill(true)
            .register(&pool);
        // With two spilling operators each may hold half: past it, the first must spill.
        first.try_grow(50).unwrap();
        let err = first.try_grow(1).unwrap_err().to_string();
        assert!(err.contains("sort 1"), "{err}");
        // So the second still gets its half (a first-come pool would have none left).
        second.try_grow(50).unwrap();
    }

    #[test]
    fn sort_reservations_take_an_eighth_of_the_pool_in_all() {
        let mut exec = ExecutionOptions::default();
        let default = exec.sort_spill_reservation_bytes;
        fit_sort_reservation(&mut exec, 64 << 20, 16);
        assert_eq!(exec.sort_spill_reservation_bytes, (64 << 20) / 8 / 16);
        let mut exec = ExecutionOptions::default();
        fit_sort_reservation(&mut exec, 64 << 30, 16);
        assert_eq!(exec.sort_spill_reservation_bytes, default);
        let mut exec = ExecutionOptions::default();
        fit_sort_reservation(&mut exec, 1 << 20, 0);
        assert_eq!(exec.sort_spill_reservation_bytes, (1 << 20) / 8);
    }
}
