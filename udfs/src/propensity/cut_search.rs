//! How many of a feature's sorted split thresholds lie below a value: the bin a boosted-tree
//! prediction walks with (`boosted_tree::CompiledTrees`). A binary search takes about eight
//! dependent, unpredictable steps per value; this index answers with two fixed-size counts
//! instead, which the compiler vectorises and which overlap from one value to the next.
//!
//! Layout: the cuts are padded with `+∞` to whole blocks of [`BLOCK`]; `seps` holds the last
//! cut of every block but the final one (also padded with `+∞`). The number of separators
//! below `v` is the block `v` falls in, and the count inside that block finishes the answer.
//! Up to `BLOCK * BLOCK` cuts are indexed (a model trained with `max_bins ≤ 255` has at most
//! 254 per feature); an edited model with more falls back to the binary search.

/// Cuts per block, and separators per index.
const BLOCK: usize = 16;

/// The sorted cuts of one feature, laid out for [`CutIndex::count_below`].
#[derive(Debug, Clone)]
pub struct CutIndex {
    seps: [f64; BLOCK],
    /// The cuts; when `indexed`, padded with `+∞` to a multiple of [`BLOCK`] (padding is never
    /// below a value, so it counts nothing).
    cuts: Vec<f64>,
    /// Whether `seps` index `cuts` (at most `BLOCK * BLOCK` cuts), else binary search.
    indexed: bool,
    /// Whether this CPU has AVX2 and POPCNT.
    avx2: bool,
}

impl CutIndex {
    /// `cuts` must be sorted ascending, without NaN.
    pub fn new(mut cuts: Vec<f64>) -> Self {
        debug_assert!(cuts.is_sorted_by(|a, b| a <= b));
        let mut seps = [f64::INFINITY; BLOCK];
        let indexed = cuts.len() <= BLOCK * BLOCK;
        if indexed {
            let n_blocks = cuts.len().div_ceil(BLOCK).max(1);
            cuts.resize(n_blocks * BLOCK, f64::INFINITY);
            for (k, sep) in seps.iter_mut().enumerate().take(n_blocks - 1) {
                *sep = cuts[k * BLOCK + BLOCK - 1];
            }
        }
        #[cfg(target_arch = "x86_64")]
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        CutIndex {
            seps,
            cuts,
            indexed,
            avx2,
        }
    }

    /// Number of cuts `t` with `t < v`, for any `v` that is not NaN (a NaN counts no cut).
    #[inline(always)]
    pub fn count_below(&self, v: f64) -> usize {
        if !self.indexed {
            return self.cuts.partition_point(|&t| t < v);
        }
        // Separators past the last block are +∞, never below v, so `block` names a real block.
        let block = count_in(&self.seps, v);
        let start = block * BLOCK;
        match self.cuts.get(start..start + BLOCK) {
            Some(cuts) => start + count_in(cuts.try_into().expect("a whole block"), v),
            None => unreachable!("separator count past the last block"),
        }
    }

    /// `put(i, count)` for every value: the number of cuts below `values[i]`, or `None` for
    /// NaN. With AVX2 and POPCNT (checked at run time) a block is four 256-bit compares and one
    /// population count.
    pub fn for_each_count(&self, values: &[f64], put: impl FnMut(usize, Option<usize>)) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: the CPU has AVX2 and POPCNT (checked in `new`).
            return unsafe { self.for_each_count_avx2(values, put) };
        }
        self.for_each_count_in(values, put)
    }

    /// [`Self::for_each_count`] compiled for AVX2 and POPCNT.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn for_each_count_avx2(&self, values: &[f64], put: impl FnMut(usize, Option<usize>)) {
        self.for_each_count_in(values, put)
    }

    #[inline(always)]
    fn for_each_count_in(&self, values: &[f64], mut put: impl FnMut(usize, Option<usize>)) {
        for (i, &v) in values.iter().enumerate() {
            put(i, (!v.is_nan()).then(|| self.count_below(v)));
        }
    }
}

/// Number of entries of `a` below `v`: sixteen independent compares, summed without branches.
#[inline(always)]
fn count_in(a: &[f64; BLOCK], v: f64) -> usize {
    a.iter().map(|&t| u64::from(t < v)).sum::<u64>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cuts: Vec<f64>, probes: &[f64]) {
        let index = CutIndex::new(cuts.clone());
        for &v in probes {
            assert_eq!(
                index.count_below(v),
                cuts.partition_point(|&t| t < v),
                "value {v} against {} cuts",
                cuts.len()
            );
        }
    }

    fn probes_around(cuts: &[f64]) -> Vec<f64> {
        let mut p = vec![f64::NEG_INFINITY, f64::INFINITY, -1e300, 1e300, 0.0, -0.0];
        for &t in cuts {
            p.extend([t, t.next_down(), t.next_up()]);
        }
        p
    }

    #[test]
    fn matches_binary_search_at_every_size() {
        // Sizes around block and index boundaries, and past the indexed maximum (fallback).
        for n in [
            0, 1, 2, 15, 16, 17, 31, 32, 33, 200, 254, 255, 256, 257, 600,
        ] {
            let cuts: Vec<f64> = (0..n).map(|i| (i as f64 - 100.0) * 0.37).collect();
            let probes = probes_around(&cuts);
            check(cuts, &probes);
        }
    }

    #[test]
    fn infinite_cuts_and_values() {
        let cuts = vec![f64::NEG_INFINITY, -3.0, 0.0, 2.5, f64::MAX, f64::INFINITY];
        let probes = probes_around(&cuts);
        check(cuts, &probes);
    }

    #[test]
    fn for_each_count_matches_count_below() {
        let cuts: Vec<f64> = (0..100).map(|i| f64::from(i).sqrt()).collect();
        let index = CutIndex::new(cuts.clone());
        let mut values = probes_around(&cuts);
        values.extend([f64::NAN, 3.3, f64::NAN]);
        let mut seen = Vec::new();
        index.for_each_count(&values, |i, c| seen.push((i, c)));
        let expected: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i, (!v.is_nan()).then(|| cuts.partition_point(|&t| t < v))))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn nan_counts_no_cut() {
        let index = CutIndex::new(vec![1.0, 2.0, 3.0]);
        assert_eq!(index.count_below(f64::NAN), 0);
    }
}
