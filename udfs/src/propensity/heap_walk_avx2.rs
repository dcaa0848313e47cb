//! The complete-layout tree walk of boosted-tree prediction, eight rows per AVX2 instruction.
//!
//! Each step of a tree walk is a chain of dependent loads: the node's code, then the row's bin
//! for the node's column, then (categorical splits) a word of the node's bit set. Scalar code
//! runs four such chains side by side and is bound by instruction count; here eight rows move
//! together. Gathers are slow on the CPUs we measured (AMD Zen 3: about 16 cycles for eight
//! lanes), so only the row's bin is gathered: the codes (and narrow bit sets) of the first six
//! levels, at most 32 nodes per level, are looked up in registers with `vpermd` and blends.
//! The first four levels need no gather at all: a level has at most eight nodes, whose columns
//! are known per tree, so each node's eight bins are one plain load from a column-major copy of
//! the block's bins, and the row's own node is picked with blends on its path bits. Four groups
//! of eight rows are in flight at once to hide the gathers' latency. The encoding
//! (`NodeCode`, two bin columns per feature, per-node bit sets) is the scalar walk's, in
//! `boosted_tree.rs`; both must give identical leaves (a unit test there compares them).

/// A complete-layout tree as the walk reads it.
pub(super) struct HeapView<'a> {
    /// Levels: every row takes exactly this many steps.
    pub depth: usize,
    /// `2^depth − 1` node codes, then at least 8 padding codes.
    pub codes: &'a [u32],
    /// `words` bit-set words per node when the tree has categorical splits, else empty; with
    /// one word per node, at least 8 padding words follow.
    pub sets: &'a [u32],
    /// Bit-set words per node: 1 (narrow) or 8 (wide).
    pub words: usize,
    /// `2^depth` leaf values.
    pub leaves: &'a [f64],
}

/// A block's bins in both layouts the walk reads.
pub(super) struct Bins<'a> {
    /// Row-major: `width` bins per row, plus at least one padding bin at the end.
    pub rows: &'a [u16],
    /// Bins per row (two per feature).
    pub width: usize,
    /// Column-major: column `c` of row `r` at `c * stride + r`.
    pub columns: &'a [u16],
    /// Entries per column of `columns`: at least the block's row count.
    pub stride: usize,
}

/// Adds the tree's leaf values for the first rows of the block to `out`, and returns how many
/// rows it did: a multiple of 32, the rest is left to the scalar walk. Returns 0 without AVX2
/// or for a view that breaks the layout's invariants.
pub(super) fn walk(tree: HeapView<'_>, bins: &Bins<'_>, out: &mut [f64]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && tree.is_consistent(bins, out.len()) {
            // SAFETY: AVX2 is present (checked above) and `is_consistent` established the
            // bounds the kernel relies on.
            return unsafe { x86::walk(&tree, bins, out) };
        }
    }
    let _ = (tree, bins, out);
    0
}

impl HeapView<'_> {
    /// The invariants that keep every load of the kernel inside its slice: complete-layout
    /// sizes with padding, node columns inside a row, a padding bin after the last row, whole
    /// columns in the column-major copy, and indices that fit 32 bits.
    fn is_consistent(&self, bins: &Bins<'_>, rows: usize) -> bool {
        let (xb, width) = (bins.rows, bins.width);
        let inner = (1usize << self.depth.min(20)) - 1;
        let sets_ok = match self.words {
            _ if self.sets.is_empty() => true,
            1 => self.sets.len() >= inner + 8,
            8 => self.sets.len() >= inner * 8,
            _ => false,
        };
        self.depth <= 16
            && self.codes.len() >= inner + 8
            && self.leaves.len() == inner + 1
            && sets_ok
            && self.codes[..inner]
                .iter()
                .all(|&c| ((c & 0x7FFF) as usize) < width)
            && xb.len() > rows * width
            && xb.len() < i32::MAX as usize
            && bins.stride >= rows
            && bins.columns.len() >= width * bins.stride
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Bins, HeapView};
    use std::arch::x86_64::*;

    /// Groups of eight rows walked together.
    const GROUPS: usize = 4;
    /// Levels whose nodes (at most 32) are looked up in registers rather than gathered.
    const TABLE_LEVELS: usize = 6;
    /// Levels whose bins are loaded per node and blended rather than gathered: 2^level loads
    /// and 2^level − 1 blends, cheaper than one gather up to eight nodes.
    const DIRECT_LEVELS: usize = 4;

    /// Selects `b` where bit `k` of `local` is set, else `a` (blendv reads each lane's sign).
    #[inline(always)]
    fn pick<const SHIFT: i32>(a: __m256i, b: __m256i, local: __m256i) -> __m256i {
        // SAFETY: register-only AVX2 operations; callers run with AVX2 enabled.
        unsafe {
            let mask = _mm256_castsi256_ps(_mm256_slli_epi32::<SHIFT>(local));
            _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(a),
                _mm256_castsi256_ps(b),
                mask,
            ))
        }
    }

    /// `table[i]` for node indices `i` on `level` (< `TABLE_LEVELS`), from registers.
    ///
    /// # Safety
    /// AVX2; `table` holds the level's nodes followed by at least 8 readable values.
    #[inline(always)]
    unsafe fn level_lookup(table: *const u32, level: usize, i: __m256i) -> __m256i {
        let first = (1usize << level) - 1;
        // SAFETY: the level spans first..2·first+1; loads of 8 from first + 8j stay inside it
        // or inside the 8 padding values (levels below 3).
        unsafe {
            let local = _mm256_sub_epi32(i, _mm256_set1_epi32(first as i32));
            let part = |j: usize| {
                let t = _mm256_loadu_si256(table.add(first + 8 * j) as *const __m256i);
                _mm256_permutevar8x32_epi32(t, local)
            };
            match level {
                0..=3 => part(0),
                4 => pick::<28>(part(0), part(1), local),
                _ => {
                    let low = pick::<28>(part(0), part(1), local);
                    let high = pick::<28>(part(2), part(3), local);
                    pick::<27>(low, high, local)
                }
            }
        }
    }

    /// The bins of eight consecutive rows, column-major, zero-extended to 32 bits.
    ///
    /// # Safety
    /// AVX2; eight readable `u16` at `at`.
    #[inline(always)]
    unsafe fn load8(at: *const u16) -> __m256i {
        // SAFETY: the caller guarantees the 16 bytes.
        unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(at as *const __m128i)) }
    }

    /// Each lane's bin at its node on `level` (< `DIRECT_LEVELS`): one load per node of the
    /// level, at `at + column_offset[node]`, blended on the lane's path bits `local`.
    ///
    /// # Safety
    /// AVX2; eight readable `u16` at `at + offset` for the level's offsets.
    #[inline(always)]
    unsafe fn direct_bins(
        at: *const u16,
        offsets: &[usize],
        level: usize,
        local: __m256i,
    ) -> __m256i {
        // SAFETY: the caller guarantees every load; the rest is register-only.
        unsafe {
            let l = |n: usize| load8(at.add(offsets[n]));
            let pair = |n: usize| pick::<31>(l(n), l(n + 1), local);
            let quad = |n: usize| pick::<30>(pair(n), pair(n + 2), local);
            match level {
                0 => l(0),
                1 => pair(0),
                2 => quad(0),
                _ => pick::<29>(quad(0), quad(4), local),
            }
        }
    }

    /// # Safety
    /// Needs AVX2 and `tree.is_consistent(bins, out.len())`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn walk(tree: &HeapView<'_>, bins: &Bins<'_>, out: &mut [f64]) -> usize {
        let (xb, width) = (bins.rows, bins.width);
        let rows = out.len() / (8 * GROUPS) * (8 * GROUPS);
        let categorical = !tree.sets.is_empty();
        let narrow = tree.words == 1;
        let first_leaf = _mm256_set1_epi32((1 << tree.depth) - 1);
        let one = _mm256_set1_epi32(1);
        let col_mask = _mm256_set1_epi32(0x7FFF);
        let flag = _mm256_set1_epi32(0x8000);
        let bin_mask = _mm256_set1_epi32(0xFFFF);
        let bit_mask = _mm256_set1_epi32(31);
        let word_mask = _mm256_set1_epi32(7);
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let stride = _mm256_mullo_epi32(lanes, _mm256_set1_epi32(width as i32));
        let codes = tree.codes.as_ptr();
        let sets = tree.sets.as_ptr();
        let row_bins = xb.as_ptr() as *const i32;
        // Where each node of the direct levels finds its column in the column-major copy.
        let direct = DIRECT_LEVELS.min(tree.depth);
        let mut offsets = [0usize; (1 << DIRECT_LEVELS) - 1];
        for (n, o) in offsets.iter_mut().enumerate().take((1 << direct) - 1) {
            *o = (tree.codes[n] & 0x7FFF) as usize * bins.stride;
        }
        let columns = bins.columns.as_ptr();
        for start in (0..rows).step_by(8 * GROUPS) {
            let mut idx = [_mm256_setzero_si256(); GROUPS];
            let mut base = [_mm256_setzero_si256(); GROUPS];
            for (g, b) in base.iter_mut().enumerate() {
                *b = _mm256_add_epi32(stride, _mm256_set1_epi32(((start + 8 * g) * width) as i32));
            }
            for level in 0..tree.depth {
                for g in 0..GROUPS {
                    let i = idx[g];
                    // SAFETY (every load below): before step `level`, i < 2^(level+1) − 1 ≤
                    // 2^depth − 1 nodes; columns are < width; rows < out.len() ≤ stride, so a
                    // direct load of 8 rows stays inside its column; xb has a padding bin after
                    // the last row, so each 32-bit bin load ends inside xb; narrow sets and
                    // codes have 8 padding values for the register tables.
                    let code = if level < TABLE_LEVELS {
                        unsafe { level_lookup(codes, level, i) }
                    } else {
                        unsafe { _mm256_i32gather_epi32::<4>(codes as *const i32, i) }
                    };
                    let bin = if level < DIRECT_LEVELS {
                        let first = (1 << level) - 1;
                        let local = _mm256_sub_epi32(i, _mm256_set1_epi32(first as i32));
                        // Rows start + 8g .. + 8 of a column: inside it, as rows ≤ stride.
                        let at = unsafe { columns.add(start + 8 * g) };
                        unsafe { direct_bins(at, &offsets[first..], level, local) }
                    } else {
                        let pos = _mm256_add_epi32(base[g], _mm256_and_si256(code, col_mask));
                        _mm256_and_si256(
                            unsafe { _mm256_i32gather_epi32::<2>(row_bins, pos) },
                            bin_mask,
                        )
                    };
                    let mut right = _mm256_cmpgt_epi32(bin, _mm256_srli_epi32::<16>(code));
                    if categorical {
                        let word = if narrow && level < TABLE_LEVELS {
                            unsafe { level_lookup(sets, level, i) }
                        } else if narrow {
                            unsafe { _mm256_i32gather_epi32::<4>(sets as *const i32, i) }
                        } else {
                            // A numeric split's bin may exceed 255: its word index wraps (the
                            // result is not used).
                            let at = _mm256_add_epi32(
                                _mm256_slli_epi32::<3>(i),
                                _mm256_and_si256(_mm256_srli_epi32::<5>(bin), word_mask),
                            );
                            unsafe { _mm256_i32gather_epi32::<4>(sets as *const i32, at) }
                        };
                        let bit = _mm256_and_si256(
                            _mm256_srlv_epi32(word, _mm256_and_si256(bin, bit_mask)),
                            one,
                        );
                        let not_in_set = _mm256_cmpeq_epi32(bit, _mm256_setzero_si256());
                        let is_cat = _mm256_cmpeq_epi32(_mm256_and_si256(code, flag), flag);
                        right = _mm256_blendv_epi8(right, not_in_set, is_cat);
                    }
                    // Children of i: 2i + 1 (left) and 2i + 2 (right; `right` is −1 there).
                    idx[g] = _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(i, i), one), right);
                }
            }
            for (g, i) in idx.iter().enumerate() {
                let leaf = _mm256_sub_epi32(*i, first_leaf);
                // SAFETY: leaf < 2^depth = leaves.len(); start + 8g + 8 <= rows <= out.len().
                unsafe {
                    let leaves = tree.leaves.as_ptr();
                    let lo = _mm256_i32gather_pd::<8>(leaves, _mm256_castsi256_si128(leaf));
                    let hi = _mm256_i32gather_pd::<8>(leaves, _mm256_extracti128_si256::<1>(leaf));
                    let o = out.as_mut_ptr().add(start + 8 * g);
                    _mm256_storeu_pd(o, _mm256_add_pd(_mm256_loadu_pd(o), lo));
                    _mm256_storeu_pd(o.add(4), _mm256_add_pd(_mm256_loadu_pd(o.add(4)), hi));
                }
            }
        }
        rows
    }
}
