//! The funnel kernel shared by `funnel` (deepest step) and `funnel_steps` (step times): plain
//! Rust over `(timestamp, condition bitmask)` events, no DataFusion types.
//!
//! ## Definition (the contract both SQL functions document)
//!
//! The events of a group are the rows where at least one condition holds and `ts` is not NULL,
//! each as `(t, mask)` with bit `k - 1` set when `cond_k` holds. Rows with the **same timestamp
//! are simultaneous**: [`canonicalize`] sorts by time and ORs their masks, so the input order and
//! the partitioning never matter, and together they may serve several consecutive steps (a row
//! matching several conditions may too), unless `strict_increase` is set.
//!
//! A chain of depth `k` is a list of times `t_1 ≤ t_2 ≤ … ≤ t_k` where some event at `t_j`
//! matches `cond_j` and `t_k - t_1 ≤ window` (inclusive). Modes add constraints:
//!
//! * `strict_increase`: `t_1 < t_2 < … < t_k`.
//! * `strict_order`: no event strictly between `t_j` and `t_{j+1}` matches a condition other than
//!   `cond_j` and `cond_{j+1}` (another step intervening breaks the chain).
//! * `strict_deduplication`: no event strictly between `t_j` and `t_{j+1}` matches any of
//!   `cond_1 … cond_{j+1}`: a repeated step breaks the chain, and each step is taken at its first
//!   occurrence (so `A B B C` reaches 2, as in ClickHouse).
//!
//! [`funnel_depth`] is the largest `k` (0 when `cond_1` never holds). [`funnel_chain`] is the
//! deepest chain's times; among equally deep chains, the one whose times are smallest compared
//! step by step (earliest start, then earliest second step, …).
//!
//! To add a mode: a field in [`FunnelMode`], its name in [`FunnelMode::set`], and its constraint
//! in [`FunnelMode::forbidden`] (or in the `strict_increase` checks), plus the brute-force
//! reference in the tests.

/// The largest number of conditions: one bit each in a `u64`.
pub const MAX_STEPS: usize = 64;

/// The mode names `funnel` accepts, in the order the documentation lists them.
pub const MODE_NAMES: [&str; 3] = ["strict_order", "strict_deduplication", "strict_increase"];

/// The optional strictness modes (any combination).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FunnelMode {
    /// Another step's event between two chain steps breaks the chain.
    pub strict_order: bool,
    /// A repeated step between two chain steps breaks the chain.
    pub strict_deduplication: bool,
    /// Step timestamps must strictly increase.
    pub strict_increase: bool,
}

impl FunnelMode {
    /// Turns on the mode called `name`; `false` when there is no such mode.
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "strict_order" => self.strict_order = true,
            "strict_deduplication" => self.strict_deduplication = true,
            "strict_increase" => self.strict_increase = true,
            _ => return false,
        }
        true
    }

    /// The conditions an event strictly between step `j` (1-based) and step `j + 1` of a chain
    /// must not match, as a mask over `steps` conditions.
    pub fn forbidden(&self, j: usize, steps: usize) -> u64 {
        let all = low_bits(steps);
        let mut f = 0;
        if self.strict_order {
            f |= all & !(bit(j) | bit(j + 1));
        }
        if self.strict_deduplication {
            f |= low_bits((j + 1).min(steps));
        }
        f
    }
}

/// What a funnel is asked: the window in `ts` units, the number of steps, the modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunnelSpec {
    /// Inclusive window from a chain's first step, in the unit of the timestamps.
    pub window: i64,
    /// Number of conditions (1..=64).
    pub steps: usize,
    /// Strictness modes.
    pub mode: FunnelMode,
}

/// Bit of step `j` (1-based); 0 past the 64th step.
#[inline]
fn bit(j: usize) -> u64 {
    if (1..=MAX_STEPS).contains(&j) {
        1 << (j - 1)
    } else {
        0
    }
}

/// The masks of steps `1..=n`.
#[inline]
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

#[inline]
fn within(t: i64, start: i64, window: i64) -> bool {
    (t as i128) - (start as i128) <= window as i128
}

/// Sorts events by time and merges simultaneous ones (OR of their masks); drops empty masks.
/// The result depends only on the multiset of events, never on their order.
pub fn canonicalize(events: &mut Vec<(i64, u64)>) {
    events.retain(|e| e.1 != 0);
    events.sort_unstable_by_key(|e| e.0);
    events.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 |= later.1;
        }
        same
    });
}

/// The deepest step reached (0..=steps) over canonical events (see [`canonicalize`]).
///
/// One pass, O(events × steps): for each step it keeps the latest start of a live chain that
/// has reached it, since a later start is never worse for what follows (every live chain at a
/// step faces the same future constraints).
pub fn funnel_depth(events: &[(i64, u64)], spec: &FunnelSpec) -> usize {
    let n = spec.steps;
    let forbidden: Vec<u64> = (1..=n).map(|j| spec.mode.forbidden(j, n)).collect();
    let mut start: Vec<Option<i64>> = vec![None; n];
    let mut depth = 0;
    for &(t, m) in events {
        // `old_prev` / `new_prev`: step j-1 before this time / reached at this time.
        let mut old_prev: Option<i64> = None;
        let mut new_prev: Option<i64> = None;
        for j in 1..=n {
            let old = start[j - 1];
            let mut new = None;
            if m & bit(j) != 0 {
                if j == 1 {
                    new = Some(t);
                } else {
                    let tied = if spec.mode.strict_increase {
                        None
                    } else {
                        new_prev
                    };
                    // Option's order puts None first, so max picks the latest start.
                    if let Some(s) = old_prev.max(tied)
                        && within(t, s, spec.window)
                    {
                        new = Some(s);
                    }
                }
            }
            // An event at `t` is strictly after every older chain step, so it may break them.
            let killed = old.is_some() && m & forbidden[j - 1] != 0;
            start[j - 1] = (if killed { None } else { old }).max(new);
            if new.is_some() {
                depth = depth.max(j);
            }
            old_prev = old;
            new_prev = new;
        }
        if depth == n {
            break;
        }
    }
    depth
}

/// The step times of the deepest chain (earliest step by step among equally deep ones) over
/// canonical events; empty when `cond_1` never holds.
///
/// Tries starts in time order and, from each, follows for every step the smallest live chain
/// prefix; the first start reaching the depth of [`funnel_depth`] wins. Starts that cannot
/// reach every step within the window, and starts whose chains all break, are left early; the
/// worst case stays O(starts × events within one window × steps²).
pub fn funnel_chain(events: &[(i64, u64)], spec: &FunnelSpec) -> Vec<i64> {
    let depth = funnel_depth(events, spec);
    if depth == 0 {
        return Vec::new();
    }
    // Per step, its event times: a start is only tried when every step has an event within
    // the window after it, which skips hopeless starts in O(steps × log events).
    let times: Vec<Vec<i64>> = (2..=depth)
        .map(|k| {
            events
                .iter()
                .filter(|e| e.1 & bit(k) != 0)
                .map(|e| e.0)
                .collect()
        })
        .collect();
    let reachable = |s: i64| {
        times.iter().all(|ts| {
            let i = ts.partition_point(|&t| t < s);
            ts.get(i).is_some_and(|&t| within(t, s, spec.window))
        })
    };
    for (i, e) in events.iter().enumerate() {
        if e.1 & 1 == 0 || !reachable(e.0) {
            continue;
        }
        if let Some(chain) = chain_from(events, i, depth, spec) {
            return chain;
        }
    }
    // Unreachable: the chain funnel_depth found starts at one of the events tried above.
    Vec::new()
}

/// The smallest chain of `depth` steps starting at `events[first]`, if there is one.
fn chain_from(
    events: &[(i64, u64)],
    first: usize,
    depth: usize,
    spec: &FunnelSpec,
) -> Option<Vec<i64>> {
    let s = events[first].0;
    let forbidden: Vec<u64> = (1..=depth)
        .map(|j| spec.mode.forbidden(j, spec.steps))
        .collect();
    // cur[j-1]: the smallest live prefix that has reached step j. Prefixes only grow (in the
    // step-by-step order) as time goes on, so an older live one is always the smaller.
    let mut cur: Vec<Option<Vec<i64>>> = vec![None; depth];
    for &(t, m) in &events[first..] {
        if !within(t, s, spec.window) {
            break;
        }
        let mut old_prev: Option<Vec<i64>> = None;
        let mut new_prev: Option<Vec<i64>> = None;
        for j in 1..=depth {
            let old = cur[j - 1].take();
            let mut new = None;
            if m & bit(j) != 0 {
                if j == 1 {
                    if t == s {
                        new = Some(vec![s]);
                    }
                } else {
                    let tied = if spec.mode.strict_increase {
                        None
                    } else {
                        new_prev.as_ref()
                    };
                    if let Some(p) = old_prev.as_ref().or(tied) {
                        let mut v = Vec::with_capacity(depth);
                        v.extend_from_slice(p);
                        v.push(t);
                        new = Some(v);
                    }
                }
            }
            let killed = old.is_some() && m & forbidden[j - 1] != 0;
            cur[j - 1] = if old.is_some() && !killed {
                old.clone()
            } else {
                new.clone()
            };
            if j == depth && cur[j - 1].is_some() {
                return cur[j - 1].take();
            }
            old_prev = old;
            new_prev = new;
        }
        // Only the first event can start this chain: once every prefix is broken, give up.
        if cur.iter().all(Option::is_none) {
            return None;
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn spec(window: i64, steps: usize, mode: FunnelMode) -> FunnelSpec {
        FunnelSpec {
            window,
            steps,
            mode,
        }
    }

    const ORDER: FunnelMode = FunnelMode {
        strict_order: true,
        strict_deduplication: false,
        strict_increase: false,
    };
    const DEDUP: FunnelMode = FunnelMode {
        strict_order: false,
        strict_deduplication: true,
        strict_increase: false,
    };
    const INCREASE: FunnelMode = FunnelMode {
        strict_order: false,
        strict_deduplication: false,
        strict_increase: true,
    };

    fn run(events: &[(i64, u64)], s: &FunnelSpec) -> (usize, Vec<i64>) {
        let mut e = events.to_vec();
        canonicalize(&mut e);
        (funnel_depth(&e, s), funnel_chain(&e, s))
    }

    #[test]
    fn canonical_form_merges_ties_and_sorts() {
        let mut e = vec![(5, 2), (1, 1), (5, 4), (3, 0), (1, 1)];
        canonicalize(&mut e);
        assert_eq!(e, vec![(1, 1), (5, 6)]);
    }

    #[test]
    fn basic_chain_and_window() {
        let ev = [(0, 1), (5, 2), (9, 4), (20, 8)];
        assert_eq!(
            run(&ev, &spec(10, 4, FunnelMode::default())),
            (3, vec![0, 5, 9])
        );
        assert_eq!(run(&ev, &spec(20, 4, FunnelMode::default())).0, 4);
        // Window is inclusive and measured from the chain's first step.
        assert_eq!(run(&ev, &spec(9, 4, FunnelMode::default())).0, 3);
        assert_eq!(run(&ev, &spec(8, 4, FunnelMode::default())).0, 2);
    }

    #[test]
    fn no_first_step_gives_zero() {
        assert_eq!(
            run(&[(0, 2), (1, 4)], &spec(10, 3, FunnelMode::default())),
            (0, vec![])
        );
        assert_eq!(run(&[], &spec(10, 3, FunnelMode::default())), (0, vec![]));
    }

    #[test]
    fn a_later_start_rescues_the_chain() {
        // Start at 0 cannot reach step 2 at 15 within 10; the start at 8 can.
        let ev = [(0, 1), (8, 1), (15, 2)];
        assert_eq!(
            run(&ev, &spec(10, 2, FunnelMode::default())),
            (2, vec![8, 15])
        );
    }

    #[test]
    fn ties_advance_unless_strict_increase() {
        let ev = [(3, 1), (3, 2), (3, 4)];
        assert_eq!(
            run(&ev, &spec(0, 3, FunnelMode::default())),
            (3, vec![3, 3, 3])
        );
        assert_eq!(run(&ev, &spec(0, 3, INCREASE)), (1, vec![3]));
        // Arrival order never matters.
        let rev = [(3, 4), (3, 2), (3, 1)];
        assert_eq!(run(&rev, &spec(0, 3, FunnelMode::default())).0, 3);
    }

    #[test]
    fn strict_order_breaks_on_another_step() {
        // A B D C D: the first D (step 4) between B and C breaks A→B→C.
        let ev = [(0, 1), (1, 2), (2, 8), (3, 4), (4, 8)];
        assert_eq!(run(&ev, &spec(10, 4, FunnelMode::default())).0, 4);
        assert_eq!(run(&ev, &spec(10, 4, ORDER)), (2, vec![0, 1]));
        // A repeated B is not another step.
        let ev = [(0, 1), (1, 2), (2, 2), (3, 4)];
        assert_eq!(run(&ev, &spec(10, 3, ORDER)).0, 3);
    }

    #[test]
    fn strict_deduplication_breaks_on_a_repeat() {
        let ev = [(0, 1), (1, 2), (2, 2), (3, 4)];
        assert_eq!(run(&ev, &spec(10, 3, FunnelMode::default())).0, 3);
        assert_eq!(run(&ev, &spec(10, 3, DEDUP)), (2, vec![0, 1]));
        // A repeated first step restarts the chain instead.
        let ev = [(0, 1), (1, 1), (2, 2), (3, 4)];
        assert_eq!(run(&ev, &spec(10, 3, DEDUP)), (3, vec![1, 2, 3]));
    }

    #[test]
    fn sixty_four_steps() {
        let ev: Vec<(i64, u64)> = (0..64).map(|k| (k as i64, 1u64 << k)).collect();
        let (d, c) = run(&ev, &spec(100, 64, FunnelMode::default()));
        assert_eq!(d, 64);
        assert_eq!(c, (0..64).collect::<Vec<i64>>());
        assert_eq!(run(&ev, &spec(100, 64, ORDER)).0, 64);
        assert_eq!(run(&ev, &spec(100, 64, DEDUP)).0, 64);
    }

    #[test]
    fn hopeless_starts_are_skipped() {
        // Many starts, only the last ones can reach the final step within the window; and in
        // strict_deduplication every start but the last is broken by the next one.
        let n = 20_000i64;
        let mut ev: Vec<(i64, u64)> = (0..n).map(|t| (t, 1)).collect();
        ev.push((2 * n - 5, 2));
        let (d, c) = run(&ev, &spec(n, 2, FunnelMode::default()));
        assert_eq!((d, c), (2, vec![n - 5, 2 * n - 5]));
        let (d, c) = run(&ev, &spec(2 * n, 2, DEDUP));
        assert_eq!((d, c), (2, vec![n - 1, 2 * n - 5]));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let ev = [(i64::MIN, 1), (i64::MAX, 2)];
        assert_eq!(run(&ev, &spec(i64::MAX, 2, FunnelMode::default())).0, 1);
        let ev = [(-5, 1), (i64::MAX - 10, 2)];
        assert_eq!(run(&ev, &spec(i64::MAX, 2, FunnelMode::default())).0, 2);
    }

    // ---- brute force reference, written from the definition in the module docs ----

    /// Does the event with `mask` break a chain sitting between step `j` and `j + 1`?
    fn breaks(mask: u64, j: usize, steps: usize, mode: FunnelMode) -> bool {
        for k in 1..=steps {
            if (mask >> (k - 1)) & 1 == 0 {
                continue;
            }
            if mode.strict_order && k != j && k != j + 1 {
                return true;
            }
            if mode.strict_deduplication && k <= j + 1 {
                return true;
            }
        }
        false
    }

    /// Enumerates every chain over the raw rows (unsorted, unmerged) and keeps the deepest,
    /// then the smallest.
    fn brute(rows: &[(i64, u64)], s: &FunnelSpec) -> (usize, Vec<i64>) {
        fn extend(
            rows: &[(i64, u64)],
            s: &FunnelSpec,
            chain: &mut Vec<i64>,
            best: &mut (usize, Vec<i64>),
        ) {
            let j = chain.len();
            if j > best.0 || (j == best.0 && *chain < best.1) {
                *best = (j, chain.clone());
            }
            if j == s.steps {
                return;
            }
            let last = chain[j - 1];
            let mut times: Vec<i64> = rows
                .iter()
                .filter(|r| (r.1 >> j) & 1 == 1)
                .map(|r| r.0)
                .filter(|&t| {
                    if s.mode.strict_increase {
                        t > last
                    } else {
                        t >= last
                    }
                })
                .filter(|&t| (t as i128 - chain[0] as i128) <= s.window as i128)
                .filter(|&t| {
                    !rows
                        .iter()
                        .any(|r| r.0 > last && r.0 < t && breaks(r.1, j, s.steps, s.mode))
                })
                .collect();
            times.sort();
            times.dedup();
            for t in times {
                chain.push(t);
                extend(rows, s, chain, best);
                chain.pop();
            }
        }
        let mut best = (0, Vec::new());
        for r in rows {
            if r.1 & 1 == 1 {
                extend(rows, s, &mut vec![r.0], &mut best);
            }
        }
        best
    }

    /// splitmix64: a tiny deterministic generator so failures reproduce.
    pub(crate) struct Rng(pub(crate) u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                let k = self.below(i as u64 + 1) as usize;
                v.swap(i, k);
            }
        }
    }

    fn random_case(rng: &mut Rng) -> (Vec<(i64, u64)>, FunnelSpec) {
        let steps = 1 + rng.below(4) as usize;
        let n = rng.below(9) as usize;
        let span = 1 + rng.below(8) as i64;
        let rows = (0..n)
            .map(|_| {
                let t = rng.below(span as u64) as i64 - 2;
                // Mostly one condition per row, sometimes several, sometimes none.
                let mask = match rng.below(6) {
                    0 => rng.below(1 << steps),
                    1 => 0,
                    _ => 1 << rng.below(steps as u64),
                };
                (t, mask)
            })
            .collect();
        let m = rng.below(8);
        let mode = FunnelMode {
            strict_order: m & 1 != 0,
            strict_deduplication: m & 2 != 0,
            strict_increase: m & 4 != 0,
        };
        (rows, spec(rng.below(6) as i64, steps, mode))
    }

    #[test]
    fn kernel_matches_brute_force() {
        let mut rng = Rng(42);
        for case in 0..20_000 {
            let (rows, s) = random_case(&mut rng);
            let expected = brute(&rows, &s);
            let mut shuffled = rows.clone();
            rng.shuffle(&mut shuffled);
            let got = run(&shuffled, &s);
            assert_eq!(got, expected, "case {case}: rows {rows:?} spec {s:?}");
        }
    }

    #[test]
    fn partitions_merged_in_any_order_agree() {
        let mut rng = Rng(7);
        for case in 0..5_000 {
            let (rows, s) = random_case(&mut rng);
            let whole = run(&rows, &s);
            // Split into random partitions, canonicalize each (a partial state), then merge the
            // states in a random order, as a multi-phase aggregation does.
            let parts = 1 + rng.below(4) as usize;
            let mut states: Vec<Vec<(i64, u64)>> = vec![Vec::new(); parts];
            for r in &rows {
                states[rng.below(parts as u64) as usize].push(*r);
            }
            for st in &mut states {
                canonicalize(st);
            }
            rng.shuffle(&mut states);
            let merged: Vec<(i64, u64)> = states.into_iter().flatten().collect();
            assert_eq!(
                run(&merged, &s),
                whole,
                "case {case}: rows {rows:?} spec {s:?}"
            );
        }
    }
}
