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
//!
//! The pool only knows what operators report, and some of DataFusion's under-report (a hash
//! set per group for `count(DISTINCT)` of strings reported a fraction of the 24 GB it took).
//! So the `ecomsql` program also counts its heap ([`CountingAllocator`], its global allocator)
//! and the pool refuses to grow while the heap is over the limit plus a fixed allowance for
//! what no operator accounts (decoded Parquet pages, batches in flight): [`ProcessBound`]. A spilling operator then spills; one that cannot fails its
//! query with the resources error, before the kernel kills the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use datafusion::common::{Result, resources_datafusion_err};
use datafusion::config::ExecutionOptions;
use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation, TrackConsumersPool,
    human_readable_size,
};

/// The session's pool: `limit` bytes shared fairly by the operators that can spill (errors name
/// the largest consumers), refusing to grow while the process's heap is over what it held when
/// this pool was made, plus `limit`, plus [`HEAP_ALLOWANCE`].
pub fn spilling_pool(limit: usize) -> Arc<dyn MemoryPool> {
    let heap_bound = heap_bytes()
        .saturating_add(limit)
        .saturating_add(HEAP_ALLOWANCE);
    bounded_pool(limit, heap_bound)
}

/// A pool of `limit` bytes for one query, under the same process bound as `session_pool` (a
/// pool from [`spilling_pool`]; any other pool gives the query no process bound).
pub fn query_pool(limit: usize, session_pool: &Arc<dyn MemoryPool>) -> Arc<dyn MemoryPool> {
    let session: &dyn std::any::Any = session_pool.as_ref();
    let heap_bound = session
        .downcast_ref::<ProcessBound>()
        .map_or(usize::MAX, |p| p.heap_bound);
    bounded_pool(limit, heap_bound)
}

fn bounded_pool(limit: usize, heap_bound: usize) -> Arc<dyn MemoryPool> {
    Arc::new(ProcessBound {
        inner: Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            NonZeroUsize::new(5).expect("5 is not zero"),
        )),
        heap_bound,
    })
}

/// Heap the process may hold beyond its memory limit (and what it held before its first
/// query) for what operators do not account: decoded Parquet pages, batches between
/// operators, hash tables of joins being built. The soak suite's bound on peak RSS is the
/// limit + 300 MiB, which also covers the program's code and the allocator's own overhead.
pub const HEAP_ALLOWANCE: usize = 96 << 20;

/// The system's allocator, counting the bytes the process holds; the `ecomsql` program's
/// global allocator (`src/main.rs`). Library users (tests, benches, embedders) that do not
/// install it have a heap count of 0, so only the memory pool's own limit applies to them.
pub struct CountingAllocator;

/// Heap bytes flushed from the threads' counters.
static HEAP: AtomicIsize = AtomicIsize::new(0);

/// A thread's not yet flushed change to [`HEAP`]: one shared atomic add per allocation would
/// make every allocating thread contend for one cache line.
const FLUSH_BYTES: isize = 1 << 20;

thread_local! {
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

#[inline]
fn count(delta: isize) {
    let flush = PENDING.try_with(|pending| {
        let now = pending.get() + delta;
        if now.abs() >= FLUSH_BYTES {
            pending.set(0);
            now
        } else {
            pending.set(now);
            0
        }
    });
    match flush {
        Ok(0) => {}
        Ok(bytes) => {
            HEAP.fetch_add(bytes, Ordering::Relaxed);
        }
        // The thread's counter is gone (thread exit): count directly.
        Err(_) => {
            HEAP.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// Tunes glibc's malloc so freed memory goes back to the OS instead of staying resident: two
/// arenas (not 8 per core), and a fixed 4 MiB threshold for returning memory (trim) and for
/// serving a block by its own mapping (glibc raises it up to 32 MiB as blocks are freed, and
/// then keeps them). Call before any thread starts.
///
/// Measured on the issue-20 data under a 1 GiB limit: a per-user `array_agg` of structs peaked
/// at 1.95 GB RSS untuned and 1.35 GB tuned; the RFM query with a distinct count at 567 and
/// 510 MB; the same speed (4.91 / 4.83 s, 3.52 / 3.32 s). mimalloc was tried in its place and
/// kept more resident (1.55 GB for the RFM query), so the system's allocator stays.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
    }
}

/// Bytes the process holds on the heap (as the allocator's blocks, headers included), within
/// 1 MiB per thread.
pub fn heap_bytes() -> usize {
    HEAP.load(Ordering::Relaxed).max(0) as usize
}

/// The allocator underneath (glibc's malloc on Linux, tuned by [`tune_allocator`]).
static INNER: System = System;

/// Bytes a block at `ptr` of `layout` takes from the system: with glibc, its usable size plus
/// the chunk header, since small blocks take more than their layout (a 20-byte row key takes a
/// 32-byte chunk). Counting layouts, `LIMIT 10 OFFSET 1000000` over 57.6M events (16M top-k
/// row keys) peaked at 5.2 GB RSS under a 4 GiB limit; counting blocks, at 4.3 GB. Elsewhere,
/// the layout's size.
#[inline]
fn block_bytes(ptr: *mut u8, layout: Layout) -> isize {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let _ = layout;
        // SAFETY: `ptr` is a live block from glibc's allocator (through `System`).
        (unsafe { libc::malloc_usable_size(ptr.cast()) } + size_of::<usize>()) as isize
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = ptr;
        layout.size() as isize
    }
}

// SAFETY: every call goes to `INNER` with the caller's arguments unchanged; counting touches
// only an atomic and a thread-local `Cell` without destructor, reads a live block's size, and
// never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::alloc`, passed on.
        let ptr = unsafe { INNER.alloc(layout) };
        if !ptr.is_null() {
            count(block_bytes(ptr, layout));
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { INNER.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(block_bytes(ptr, layout));
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-block_bytes(ptr, layout));
        // SAFETY: `ptr` was allocated by `INNER` (through this allocator) with `layout`.
        unsafe { INNER.dealloc(ptr, layout) };
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = block_bytes(ptr, layout);
        // SAFETY: as `dealloc`, and the caller's contract for `new_size`.
        let new = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // SAFETY: `new_size` is valid for `layout`'s alignment (the caller's contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            count(block_bytes(new, new_layout) - old);
        }
        new
    }
}

/// A pool that refuses to grow while the process's heap ([`heap_bytes`]) is over a bound,
/// whatever its inner pool still has; see the module docs.
#[derive(Debug)]
pub struct ProcessBound {
    inner: Arc<dyn MemoryPool>,
    heap_bound: usize,
}

impl std::fmt::Display for ProcessBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (while the heap is under {})",
            self.inner,
            human_readable_size(self.heap_bound)
        )
    }
}

impl MemoryPool for ProcessBound {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let heap = heap_bytes();
        if heap.saturating_add(additional) > self.heap_bound {
            return Err(resources_datafusion_err!(
                "Failed to allocate additional {} for {}: the process holds {} of heap, more \
                 than its memory limit allows ({} with the allowance for unaccounted buffers); \
                 raise memory_limit (--memory-limit) or narrow the query",
                human_readable_size(additional),
                reservation.consumer().name(),
                human_readable_size(heap),
                human_readable_size(self.heap_bound)
            ));
        }
        self.inner.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
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
    fn the_heap_counter_sees_a_large_allocation_come_and_go() {
        // (Not this test binary's global allocator: called directly.)
        let layout = Layout::from_size_align(256 << 20, 8).unwrap();
        let before = heap_bytes();
        // SAFETY: a non-zero layout; freed below with the same layout.
        let ptr = unsafe { CountingAllocator.alloc(layout) };
        assert!(!ptr.is_null());
        let during = heap_bytes();
        // SAFETY: allocated above by the same allocator with `layout`.
        unsafe { CountingAllocator.dealloc(ptr, layout) };
        let after = heap_bytes();
        // Another test's direct allocations may come and go meanwhile: allow 64 MiB either way.
        assert!(during >= before + (192 << 20), "{before} -> {during}");
        assert!(after + (192 << 20) <= during, "{during} -> {after}");
    }

    #[test]
    fn a_heap_over_the_process_limit_stops_growth_with_the_resources_error() {
        // A heap bound of 0 bytes: any growth is over it.
        let pool = bounded_pool(1 << 40, 0);
        let sort = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&pool);
        let err = sort.try_grow(1024).unwrap_err().to_string();
        assert!(err.starts_with("Resources exhausted"), "{err}");
        assert!(err.contains("ExternalSorter[0]"), "{err}");
        assert!(err.contains("memory_limit"), "{err}");
        assert_eq!(pool.reserved(), 0);
        // A query's pool keeps its session's bound.
        let query = query_pool(1 << 40, &pool);
        let join = MemoryConsumer::new("HashJoinInput").register(&query);
        assert!(join.try_grow(1).is_err());
        // Within the bound, the pool's own limit applies as before.
        let pool = bounded_pool(1 << 20, usize::MAX);
        let agg = MemoryConsumer::new("agg").register(&pool);
        agg.try_grow(1 << 20).unwrap();
        assert!(agg.try_grow(1).is_err());
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
