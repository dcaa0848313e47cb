//! Gradient-boosted decision trees for binary classification: the kernel behind the
//! `boosted_tree` model type (issue #5). Plain slices in, plain numbers out; the SQL functions,
//! the registry and option parsing live elsewhere and call [`BoostedTrees::fit`],
//! [`BoostedTrees::predict_logit`], [`BoostedTrees::contributions`] and
//! [`BoostedTrees::feature_importance`].
//!
//! # Why not a crate
//! Checked on crates.io: `forust-ml` 0.8 (histogram GBM with Shapley contributions, but no
//! categorical splits, `rayon` as a new dependency and min-hessian rather than min-rows leaves),
//! `perpetual` (rand 0.10, a second rand major; a "budget" instead of trees/depth/learning rate),
//! `gbdt` 0.1 (exact splits, no histograms, no early stopping, no contributions), `linfa-trees`
//! and `smartcore` (single trees or forests, no boosting). None fits every need, so this file is
//! the whole algorithm.
//!
//! # Algorithm (LightGBM / scikit-learn `HistGradientBoostingClassifier` style)
//! - **Loss**: binary log loss on the raw score F (log-odds); per row the gradient is
//!   `w (p − y)` and the hessian `w p (1 − p)` with `p = σ(F)`. The initial score is the
//!   weighted log-odds of the positive rate; each tree takes one Newton step per leaf,
//!   `−learning_rate · G / (H + l2)`.
//! - **Bins**: each numeric feature gets at most `max_bins` bins from quantiles of (a sample of
//!   at most 200 000) training values — or one bin per distinct value when there are few.
//!   Bin 255 is reserved for missing (NaN). Splits are "bin ≤ b", stored as the raw threshold
//!   between bins (`x <= threshold` goes left), so a model carries no bin edges and routes raw
//!   values exactly as training routed bins. ±∞ are just the extreme values.
//! - **Missing values**: at every split both directions for the missing bin are tried and the
//!   better one is kept as the node's default direction; "non-missing left, missing right" is a
//!   candidate too, so "is this value missing" is itself learnable. A node that saw no missing
//!   value in training sends missing values to the child with more training rows (as
//!   scikit-learn does).
//! - **Categorical features** hold codes 0, 1, 2, … (as f64). Each code gets its own bin (the
//!   `max_bins − 1` most frequent when there are more; the rest share one "rare" bin). A split
//!   sorts the node's categories by `G / (H + 10)` (LightGBM's `cat_smooth`, which keeps rare
//!   categories from sorting to the ends) and takes the best prefix of that order as the left
//!   set: the optimal partition for a convex loss in one scan, rather than one-vs-rest. Missing
//!   values are one more category. Codes never seen in training (and non-integer or negative
//!   codes at prediction) are treated as missing.
//! - **Growth**: depth-wise to `max_depth`; a node splits if the best split has positive gain
//!   and both children keep `min_rows_per_leaf` rows (and a minimal hessian, so near-pure nodes
//!   cannot produce huge leaf values). Per level, the histograms of the smaller children are
//!   built and each sibling's is the parent's minus it. Row indices, gradients and hessians are
//!   partitioned together (branch-free), so a node's gradients are one contiguous range and the
//!   per-feature histogram loop reads one byte at random per row.
//! - **Sampling**: with `subsample < 1` each tree sees a Bernoulli sample of the training rows.
//! - **Early stopping**: with `early_stop`, a stratified random `validation_fraction` of the rows
//!   (by `seed`) is held out; training stops when the validation log loss has not improved by
//!   1e-7 for `early_stop_rounds` trees, and the model keeps the trees up to the best one.
//!   `best_iteration` is the number of trees kept (0 is possible: then nothing beat the prior).
//!   With too few rows for any to be held out, training runs without early stopping.
//! - **Threads**: with `threads > 1`, binning and histogram building are split over features,
//!   and the gradient pass over row chunks, with `std::thread::scope`. Every number is computed
//!   in the same order whatever the thread count (losses are summed per fixed-size chunk), so a
//!   model depends only on its data, parameters and seed.
//! - **Contributions** are exact path-dependent TreeSHAP (Lundberg et al. 2018, algorithm 2),
//!   with training row counts as node covers. After training every tree is centred on its mean
//!   output over its training rows and that mean is moved into `base_score`; predictions are
//!   unchanged, and `base_score` becomes the SHAP baseline, so
//!   `base_score + Σ contributions = predict_logit` for every row.
//!
//! # Prediction
//! Each block of rows is first binned once per feature against the distinct thresholds the
//! trees use ([`super::cut_search`]), into two 16-bit columns per feature that differ only for a
//! missing value (0 in one, 65535 in the other), so a split's missing direction is the column it
//! reads. Every split is a 32-bit code (column, categorical flag, split bin); a categorical split
//! also has a bit set over the feature's bins, one 32-bit word when the model's sets mention
//! fewer than 32 bins of each feature (bins are renumbered densely), else eight. Trees up to
//! depth 10 are laid out as complete binary trees (children of i at 2i+1 and 2i+2, short
//! branches padded with always-left splits), so every row takes exactly `depth` branch-free
//! steps; with AVX2 (detected at run time) eight rows step per instruction
//! ([`super::heap_walk_avx2`]), otherwise four rows at a time so that their independent steps
//! overlap. Deeper trees keep explicit children. Inputs at prediction: NaN follows the default
//! directions, ±∞ are extreme values, unknown (or negative, fractional) category codes are
//! missing. Prediction and contributions validate the model first (an edited JSON model is an
//! error, not a panic) and return an error for columns or outputs of the wrong shape.
//!
//! To extend: new options go into [`BoostParams`] (checked in `BoostParams::check`); a change to
//! the serialised structs must keep old models loading (add fields with `#[serde(default)]`).

use std::ops::ControlFlow;

use super::cut_search::CutIndex;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use super::heap_walk_avx2;

/// Histogram slots per feature: value bins `0..max_bins` and the missing bin.
const BINS: usize = 256;
/// The bin of missing values (NaN, and unknown category codes).
const MISSING_BIN: u8 = 255;
/// Largest category code accepted (codes index a lookup table).
const MAX_CATEGORY_CODE: usize = 65_535;
/// Numeric bin edges come from at most this many training rows (as in scikit-learn).
const BINNING_SAMPLE: usize = 200_000;
/// Deepest tree allowed (paths longer than this only overfit, and TreeSHAP is O(depth²)).
const MAX_DEPTH: usize = 32;
/// Losses are summed per chunk of this many rows, then chunk sums in order, so that the sum
/// (and early stopping) does not depend on the number of threads.
const LOSS_CHUNK: usize = 8192;
/// Below this many histogram updates a level is built on one thread (spawning costs more).
const PARALLEL_MIN_WORK: usize = 1 << 16;
/// A validation loss must drop by more than this to count as an improvement.
const EARLY_STOP_TOLERANCE: f64 = 1e-7;
/// Smoothing of the category order `G / (H + CAT_SMOOTH)` (LightGBM's `cat_smooth`).
const CAT_SMOOTH: f64 = 10.0;
/// A child needs at least this hessian per average row (scikit-learn uses 1e-3 for unit weights).
const MIN_CHILD_HESSIAN: f64 = 1e-3;
/// The bitset of bins going left in a split.
type BinSet = [u64; 4];

/// Training options (see the module documentation for what each does).
#[derive(Debug, Clone, PartialEq)]
pub struct BoostParams {
    /// Maximum number of trees (fewer with early stopping).
    pub num_trees: usize,
    /// Maximum depth of a tree (1 = stumps), at most 32.
    pub max_depth: usize,
    /// Shrinkage of every leaf value, in (0, ∞).
    pub learning_rate: f64,
    /// Minimum training rows in a leaf, at least 1.
    pub min_rows_per_leaf: usize,
    /// Fraction of training rows each tree sees, in (0, 1].
    pub subsample: f64,
    /// Hold out `validation_fraction` of the rows and stop when their loss stops improving.
    pub early_stop: bool,
    /// Fraction of rows held out for early stopping, in (0, 1).
    pub validation_fraction: f64,
    /// Trees without improvement before stopping, at least 1.
    pub early_stop_rounds: usize,
    /// L2 regularisation of leaf values, ≥ 0.
    pub l2: f64,
    /// Bins per feature, 2..=255.
    pub max_bins: usize,
    /// Seed of the validation split, the binning sample and row subsampling.
    pub seed: u64,
    /// Threads used for training, at least 1.
    pub threads: usize,
}

impl Default for BoostParams {
    fn default() -> Self {
        Self {
            num_trees: 100,
            max_depth: 6,
            learning_rate: 0.1,
            min_rows_per_leaf: 20,
            subsample: 1.0,
            early_stop: true,
            validation_fraction: 0.1,
            early_stop_rounds: 10,
            l2: 1.0,
            max_bins: 255,
            seed: 0,
            threads: 1,
        }
    }
}

impl BoostParams {
    /// Checks every option once, before any work.
    fn check(&self) -> Result<(), String> {
        if self.num_trees == 0 {
            return Err("num_trees must be at least 1".into());
        }
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH {
            return Err(format!(
                "max_depth must be between 1 and {MAX_DEPTH}, got {}",
                self.max_depth
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate must be a positive number, got {}",
                self.learning_rate
            ));
        }
        if self.min_rows_per_leaf == 0 {
            return Err("min_rows_per_leaf must be at least 1".into());
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(format!(
                "subsample must be in (0, 1], got {}",
                self.subsample
            ));
        }
        if self.early_stop {
            if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
                return Err(format!(
                    "validation_fraction must be in (0, 1) when early_stop is on, got {}",
                    self.validation_fraction
                ));
            }
            if self.early_stop_rounds == 0 {
                return Err("early_stop_rounds must be at least 1".into());
            }
        }
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(format!("l2 must be a number ≥ 0, got {}", self.l2));
        }
        if !(2..=255).contains(&self.max_bins) {
            return Err(format!(
                "max_bins must be between 2 and 255, got {}",
                self.max_bins
            ));
        }
        if self.threads == 0 {
            return Err("threads must be at least 1".into());
        }
        Ok(())
    }
}

/// A trained model. `base_score + Σ trees` is the log-odds of the positive class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTrees {
    /// The log-odds every prediction starts from: the mean model output over the training rows,
    /// which is also the baseline of [`BoostedTrees::contributions`].
    pub base_score: f64,
    /// The trees kept (`best_iteration` of them).
    pub trees: Vec<Tree>,
    /// Number of feature columns the model takes.
    pub num_features: usize,
    /// Number of trees kept: the best validation loss with early stopping, else all.
    pub best_iteration: usize,
    /// Mean (weighted) training log loss after each tree built, including trees later dropped.
    pub train_log_loss: Vec<f64>,
    /// Mean (weighted) validation log loss after each tree built (empty without early stopping).
    pub valid_log_loss: Vec<f64>,
    /// Whether each feature is categorical.
    pub categorical: Vec<bool>,
    /// For a categorical feature, its code → bin table (codes not in it, or mapped to 255, are
    /// missing); empty for a numeric feature.
    pub category_bins: Vec<Vec<u8>>,
}

/// One tree as a flat node array; node 0 is the root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes; children always come after their parent.
    pub nodes: Vec<Node>,
    /// Left sets of categorical splits, as bitsets over bins (bit 255 = missing).
    pub category_sets: Vec<[u64; 4]>,
}

/// A tree node. A leaf has `left == right == 0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Split feature (internal nodes).
    pub feature: u32,
    /// Numeric split: `x <= threshold` goes left; `f64::MAX` means every non-missing value.
    pub threshold: f64,
    /// Where missing values go.
    pub default_left: bool,
    /// Categorical split: index into `category_sets`.
    pub category_set: Option<u32>,
    /// Left child.
    pub left: u32,
    /// Right child.
    pub right: u32,
    /// Leaf value (log-odds contribution); 0 for internal nodes.
    pub value: f64,
    /// Training rows that reached the node.
    pub cover: f64,
    /// Loss reduction of the split (internal nodes).
    pub gain: f64,
}

impl Node {
    fn is_leaf(&self) -> bool {
        self.left == 0 && self.right == 0
    }
}

/// Sums of gradients, hessians and rows: one histogram slot, or a node.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bin {
    g: f64,
    h: f64,
    n: f64,
}

impl std::ops::Add for Bin {
    type Output = Bin;
    fn add(self, o: Bin) -> Bin {
        Bin {
            g: self.g + o.g,
            h: self.h + o.h,
            n: self.n + o.n,
        }
    }
}

impl std::ops::Sub for Bin {
    type Output = Bin;
    fn sub(self, o: Bin) -> Bin {
        Bin {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

/// How a feature's values become bins.
#[derive(Debug, Clone)]
enum FeatureBins {
    /// Value bin b holds `thresholds[b-1] < x <= thresholds[b]`.
    Numeric { thresholds: Vec<f64> },
    /// `code_bins[code]` is the bin of a category code; `bins` value bins are used.
    Categorical { code_bins: Vec<u8>, bins: usize },
}

impl FeatureBins {
    fn bin(&self, x: f64) -> u8 {
        match self {
            FeatureBins::Numeric { thresholds } => {
                if x.is_nan() {
                    MISSING_BIN
                } else {
                    // At most 254 thresholds, so this fits below the missing bin.
                    thresholds.partition_point(|&t| t < x) as u8
                }
            }
            FeatureBins::Categorical { code_bins, .. } => category_bin(code_bins, x),
        }
    }
}

/// The bin of a category code; anything that is not a known code is missing.
fn category_bin(code_bins: &[u8], x: f64) -> u8 {
    // `as usize` saturates (NaN → 0, so NaN fails `x >= 0` first); a round trip tests integrality
    // without `fract`, which is a libm call on baseline x86-64.
    let c = x as usize;
    if x >= 0.0 && c as f64 == x && c < code_bins.len() {
        code_bins[c]
    } else {
        MISSING_BIN
    }
}

fn set_contains(set: &BinSet, bin: u8) -> bool {
    (set[(bin >> 6) as usize] >> (bin & 63)) & 1 == 1
}

fn set_insert(set: &mut BinSet, bin: u8) {
    set[(bin >> 6) as usize] |= 1 << (bin & 63);
}

/// A split chosen for a node.
#[derive(Debug, Clone)]
struct Split {
    feature: usize,
    gain: f64,
    left: Bin,
    right: Bin,
    /// Bins going left (including the missing bin when missing goes left).
    left_bins: BinSet,
    threshold: f64,
    categorical: bool,
}

/// Everything split finding needs besides the histogram.
struct SplitRules<'a> {
    features: &'a [FeatureBins],
    l2: f64,
    min_rows: f64,
    min_hessian: f64,
}

impl SplitRules<'_> {
    fn score(&self, b: Bin) -> f64 {
        let d = b.h + self.l2;
        if d > 0.0 { b.g * b.g / d } else { 0.0 }
    }

    fn allowed(&self, b: Bin) -> bool {
        b.n >= self.min_rows && b.h >= self.min_hessian
    }

    /// The best split of a node from its histogram (features × `BINS`), if any gains.
    fn best_split(&self, hist: &[Bin], total: Bin) -> Option<Split> {
        if total.n < 2.0 * self.min_rows {
            return None;
        }
        let parent = self.score(total);
        let mut best: Option<Split> = None;
        for (f, (feature, h)) in self
            .features
            .iter()
            .zip(hist.chunks_exact(BINS))
            .enumerate()
        {
            let candidate = match feature {
                FeatureBins::Numeric { thresholds } => {
                    self.numeric_split(f, thresholds, h, total, parent)
                }
                FeatureBins::Categorical { bins, .. } => {
                    self.categorical_split(f, *bins, h, total, parent)
                }
            };
            if let Some(c) = candidate
                && best.as_ref().is_none_or(|b| c.gain > b.gain)
            {
                best = Some(c);
            }
        }
        best
    }

    fn numeric_split(
        &self,
        feature: usize,
        thresholds: &[f64],
        h: &[Bin],
        total: Bin,
        parent: f64,
    ) -> Option<Split> {
        let nb = thresholds.len() + 1;
        let missing = h[MISSING_BIN as usize];
        // (gain, bin, missing goes left, left sums)
        let mut best: Option<(f64, usize, bool, Bin)> = None;
        let mut consider = |left: Bin, bin: usize, missing_left: bool| {
            let right = total - left;
            if !self.allowed(left) || !self.allowed(right) {
                return;
            }
            let gain = self.score(left) + self.score(right) - parent;
            if gain > 0.0 && best.is_none_or(|b| gain > b.0) {
                best = Some((gain, bin, missing_left, left));
            }
        };
        let mut acc = Bin::default();
        for (b, slot) in h.iter().take(nb).enumerate() {
            acc = acc + *slot;
            consider(acc, b, false);
            if missing.n > 0.0 && b + 1 < nb {
                consider(acc + missing, b, true);
            }
        }
        let (gain, bin, missing_left, left) = best?;
        let right = total - left;
        // Without missing values in training, missing goes with the larger child.
        let default_left = if missing.n > 0.0 {
            missing_left
        } else {
            left.n >= right.n
        };
        let mut left_bins = [0u64; 4];
        for b in 0..=bin {
            set_insert(&mut left_bins, b as u8);
        }
        if default_left {
            set_insert(&mut left_bins, MISSING_BIN);
        }
        Some(Split {
            feature,
            gain,
            left,
            right,
            left_bins,
            threshold: thresholds.get(bin).copied().unwrap_or(f64::MAX),
            categorical: false,
        })
    }

    fn categorical_split(
        &self,
        feature: usize,
        bins: usize,
        h: &[Bin],
        total: Bin,
        parent: f64,
    ) -> Option<Split> {
        let mut order: Vec<(f64, u8)> = (0..bins)
            .map(|b| b as u8)
            .chain(std::iter::once(MISSING_BIN))
            .filter(|&b| h[b as usize].n > 0.0)
            .map(|b| {
                let s = h[b as usize];
                (s.g / (s.h + CAT_SMOOTH), b)
            })
            .collect();
        if order.len() < 2 {
            return None;
        }
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut best: Option<(f64, usize, Bin)> = None;
        let mut acc = Bin::default();
        for (k, &(_, b)) in order.iter().enumerate().take(order.len() - 1) {
            acc = acc + h[b as usize];
            let right = total - acc;
            if !self.allowed(acc) || !self.allowed(right) {
                continue;
            }
            let gain = self.score(acc) + self.score(right) - parent;
            if gain > 0.0 && best.is_none_or(|x| gain > x.0) {
                best = Some((gain, k, acc));
            }
        }
        let (gain, k, left) = best?;
        let right = total - left;
        let mut left_bins = [0u64; 4];
        for &(_, b) in &order[..=k] {
            set_insert(&mut left_bins, b);
        }
        // Categories (and missing) this node never saw go with the larger child.
        if left.n >= right.n {
            for b in (0..bins as u8).chain(std::iter::once(MISSING_BIN)) {
                if h[b as usize].n == 0.0 {
                    set_insert(&mut left_bins, b);
                }
            }
        }
        Some(Split {
            feature,
            gain,
            left,
            right,
            left_bins,
            threshold: 0.0,
            categorical: true,
        })
    }
}

/// A tree while training: bins going left per internal node, for routing binned rows.
#[derive(Debug, Default)]
struct GrownTree {
    /// (feature, bins going left, children) per node; leaves have no children.
    routes: Vec<(usize, BinSet, Option<[u32; 2]>)>,
    /// The serialisable tree.
    tree: Tree,
    /// (start, end, value) of every leaf's rows in `rows`.
    leaf_ranges: Vec<(usize, usize, f64)>,
    /// The rows the tree was grown on, partitioned so that each leaf's rows are contiguous.
    rows: Vec<u32>,
}

impl GrownTree {
    /// The leaf value of a binned row.
    fn value(&self, bins: &[Vec<u8>], row: usize) -> f64 {
        let mut i = 0;
        while let Some((f, set, Some(children))) = self.routes.get(i) {
            let left = set_contains(set, bins[*f][row]);
            i = children[usize::from(!left)] as usize;
        }
        self.tree.nodes.get(i).map_or(0.0, |n| n.value)
    }
}

/// A node waiting to be split.
struct OpenNode {
    id: usize,
    start: usize,
    end: usize,
    sums: Bin,
    hist: Vec<Bin>,
}

/// Training data after binning, in training order.
struct TrainSet<'a> {
    bins: Vec<Vec<u8>>,
    labels: Vec<bool>,
    weights: Option<Vec<f64>>,
    rules: SplitRules<'a>,
    params: &'a BoostParams,
}

impl TrainSet<'_> {
    fn rows(&self) -> usize {
        self.labels.len()
    }

    /// Grows one tree on `rows` (indices into the training set) with gradients `g`, `h`.
    fn grow(&self, rows: Vec<u32>, g: &[f64], h: &[f64]) -> GrownTree {
        let nf = self.bins.len();
        let p = self.params;
        let mut nr = NodeRows {
            g: rows.iter().map(|&r| g[r as usize]).collect(),
            h: rows.iter().map(|&r| h[r as usize]).collect(),
            rows,
            scratch: Default::default(),
        };
        let mut out = GrownTree::default();
        let root_sums =
            nr.g.iter()
                .zip(&nr.h)
                .fold(Bin::default(), |a, (&g, &h)| Bin {
                    g: a.g + g,
                    h: a.h + h,
                    n: a.n + 1.0,
                });
        let mut root_hist = vec![Bin::default(); nf * BINS];
        let all = nr.rows.len();
        build_histograms(
            &self.bins,
            &nr,
            &[(0, all)],
            std::slice::from_mut(&mut root_hist),
            p.threads,
        );
        out.push_node(root_sums);
        let mut level = vec![OpenNode {
            id: 0,
            start: 0,
            end: all,
            sums: root_sums,
            hist: root_hist,
        }];
        for depth in 0..p.max_depth {
            let children_split_later = depth + 1 < p.max_depth;
            let mut next: Vec<OpenNode> = Vec::new();
            // (index in `next` of the child to build, of its sibling, parent histogram)
            let mut pending: Vec<(usize, usize, Vec<Bin>)> = Vec::new();
            for node in level {
                let Some(split) = self.rules.best_split(&node.hist, node.sums) else {
                    out.make_leaf(node.id, node.sums, node.start, node.end, p);
                    continue;
                };
                let col = &self.bins[split.feature];
                let mid = nr.partition(node.start, node.end, |r| {
                    set_contains(&split.left_bins, col[r as usize])
                });
                let left = out.push_node(split.left);
                let right = out.push_node(split.right);
                out.set_split(node.id, &split, [left as u32, right as u32]);
                next.push(OpenNode {
                    id: left,
                    start: node.start,
                    end: mid,
                    sums: split.left,
                    hist: Vec::new(),
                });
                next.push(OpenNode {
                    id: right,
                    start: mid,
                    end: node.end,
                    sums: split.right,
                    hist: Vec::new(),
                });
                if children_split_later {
                    let (l, r) = (next.len() - 2, next.len() - 1);
                    let small_left = split.left.n <= split.right.n;
                    let (small, large) = if small_left { (l, r) } else { (r, l) };
                    pending.push((small, large, node.hist));
                }
            }
            if !children_split_later || next.is_empty() {
                for node in next {
                    out.make_leaf(node.id, node.sums, node.start, node.end, p);
                }
                break;
            }
            // Build the smaller children's histograms; each sibling's is the parent's minus it.
            let ranges: Vec<(usize, usize)> = pending
                .iter()
                .map(|(s, _, _)| (next[*s].start, next[*s].end))
                .collect();
            let mut hists = vec![vec![Bin::default(); nf * BINS]; pending.len()];
            build_histograms(&self.bins, &nr, &ranges, &mut hists, p.threads);
            for ((small, large, mut parent), hist) in pending.into_iter().zip(hists) {
                for (p, s) in parent.iter_mut().zip(&hist) {
                    *p = *p - *s;
                }
                next[large].hist = parent;
                next[small].hist = hist;
            }
            level = next;
        }
        out.rows = nr.rows;
        out
    }
}

impl GrownTree {
    fn push_node(&mut self, sums: Bin) -> usize {
        self.tree.nodes.push(Node {
            feature: 0,
            threshold: 0.0,
            default_left: false,
            category_set: None,
            left: 0,
            right: 0,
            value: 0.0,
            cover: sums.n,
            gain: 0.0,
        });
        self.routes.push((0, [0; 4], None));
        self.tree.nodes.len() - 1
    }

    fn set_split(&mut self, id: usize, split: &Split, children: [u32; 2]) {
        let category_set = split.categorical.then(|| {
            self.tree.category_sets.push(split.left_bins);
            (self.tree.category_sets.len() - 1) as u32
        });
        let node = &mut self.tree.nodes[id];
        node.feature = split.feature as u32;
        node.threshold = split.threshold;
        node.default_left = set_contains(&split.left_bins, MISSING_BIN);
        node.category_set = category_set;
        node.left = children[0];
        node.right = children[1];
        node.gain = split.gain;
        self.routes[id] = (split.feature, split.left_bins, Some(children));
    }

    fn make_leaf(&mut self, id: usize, sums: Bin, start: usize, end: usize, p: &BoostParams) {
        let d = sums.h + p.l2;
        let value = if d > 0.0 {
            -p.learning_rate * sums.g / d
        } else {
            0.0
        };
        self.tree.nodes[id].value = value;
        self.leaf_ranges.push((start, end, value));
    }
}

/// Rows of a tree being grown, with their gradients and hessians in the same order, so that
/// every node's rows and gradients are one contiguous range (no gather before a histogram).
struct NodeRows {
    rows: Vec<u32>,
    g: Vec<f64>,
    h: Vec<f64>,
    /// Scratch for the right-hand side of a partition.
    scratch: (Vec<u32>, Vec<f64>, Vec<f64>),
}

impl NodeRows {
    /// Moves the rows of `start..end` for which `left` holds to the front, keeping order on
    /// both sides; returns where the right side starts.
    fn partition(&mut self, start: usize, end: usize, left: impl Fn(u32) -> bool) -> usize {
        let len = end - start;
        let (sr, sg, sh) = &mut self.scratch;
        sr.resize(len, 0);
        sg.resize(len, 0.0);
        sh.resize(len, 0.0);
        let rows = &mut self.rows[start..end];
        let g = &mut self.g[start..end];
        let h = &mut self.h[start..end];
        let (mut l, mut r) = (0, 0);
        // Branch-free: every row is written to both sides and only one cursor moves (the write
        // to the left side lands at or before the row being read).
        for k in 0..len {
            let (row, gk, hk) = (rows[k], g[k], h[k]);
            let goes_left = left(row);
            rows[l] = row;
            g[l] = gk;
            h[l] = hk;
            sr[r] = row;
            sg[r] = gk;
            sh[r] = hk;
            l += usize::from(goes_left);
            r += usize::from(!goes_left);
        }
        rows[l..].copy_from_slice(&sr[..r]);
        g[l..].copy_from_slice(&sg[..r]);
        h[l..].copy_from_slice(&sh[..r]);
        start + l
    }
}

/// Fills one histogram per range of `rows` (each `features × BINS`, zeroed), splitting the
/// features over `threads`.
fn build_histograms(
    bins: &[Vec<u8>],
    nr: &NodeRows,
    ranges: &[(usize, usize)],
    hists: &mut [Vec<Bin>],
    threads: usize,
) {
    let nf = bins.len();
    let work: usize = ranges.iter().map(|(s, e)| e - s).sum::<usize>() * nf;
    let threads = if work < PARALLEL_MIN_WORK {
        1
    } else {
        threads.min(nf).max(1)
    };
    let per = nf.div_ceil(threads);
    // Per thread: (range, first feature, its histogram slots).
    let mut tasks: Vec<Vec<(usize, usize, &mut [Bin])>> =
        (0..threads).map(|_| Vec::new()).collect();
    for (ri, hist) in hists.iter_mut().enumerate() {
        for (t, chunk) in hist.chunks_mut(per * BINS).enumerate() {
            tasks[t].push((ri, t * per, chunk));
        }
    }
    let run = |task: Vec<(usize, usize, &mut [Bin])>| {
        for (ri, f0, chunk) in task {
            let (s, e) = ranges[ri];
            for (k, slots) in chunk.chunks_exact_mut(BINS).enumerate() {
                fill_histogram(
                    &bins[f0 + k],
                    &nr.rows[s..e],
                    &nr.g[s..e],
                    &nr.h[s..e],
                    slots,
                );
            }
        }
    };
    if threads == 1 {
        tasks.into_iter().for_each(run);
    } else {
        std::thread::scope(|scope| {
            for task in tasks {
                scope.spawn(|| run(task));
            }
        });
    }
}

fn fill_histogram(col: &[u8], rows: &[u32], og: &[f64], oh: &[f64], slots: &mut [Bin]) {
    let Ok(slots) = <&mut [Bin; BINS]>::try_from(slots) else {
        return;
    };
    for ((&r, &g), &h) in rows.iter().zip(og).zip(oh) {
        let s = &mut slots[col[r as usize] as usize];
        s.g += g;
        s.h += h;
        s.n += 1.0;
    }
}

/// Gradients and hessians of the log loss at scores `f`, and the weighted loss sum (summed per
/// `LOSS_CHUNK` rows in order, whatever the thread count).
fn gradients(
    f: &[f64],
    labels: &[bool],
    weights: Option<&[f64]>,
    g: &mut [f64],
    h: &mut [f64],
    threads: usize,
) -> f64 {
    let n = f.len();
    let threads = if n < 4 * LOSS_CHUNK { 1 } else { threads };
    let per = n.div_ceil(LOSS_CHUNK).div_ceil(threads) * LOSS_CHUNK;
    let work = |start: usize, g: &mut [f64], h: &mut [f64]| -> Vec<f64> {
        g.chunks_mut(LOSS_CHUNK)
            .zip(h.chunks_mut(LOSS_CHUNK))
            .enumerate()
            .map(|(c, (g, h))| {
                let s = start + c * LOSS_CHUNK;
                let e = s + g.len();
                gradient_chunk(&f[s..e], &labels[s..e], weights.map(|w| &w[s..e]), g, h)
            })
            .collect()
    };
    let sums: Vec<f64> = if threads <= 1 {
        work(0, g, h)
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = g
                .chunks_mut(per)
                .zip(h.chunks_mut(per))
                .enumerate()
                .map(|(t, (g, h))| scope.spawn(move || work(t * per, g, h)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    sums.iter().sum()
}

fn gradient_chunk(f: &[f64], y: &[bool], w: Option<&[f64]>, g: &mut [f64], h: &mut [f64]) -> f64 {
    let mut loss = 0.0;
    for (i, (((&f, &y), g), h)) in f
        .iter()
        .zip(y)
        .zip(g.iter_mut())
        .zip(h.iter_mut())
        .enumerate()
    {
        let w = w.map_or(1.0, |w| w[i]);
        let y = f64::from(u8::from(y));
        // One exp for p and the loss: p = σ(f), loss = softplus(f) − y f.
        let e = (-f.abs()).exp();
        let inv = 1.0 / (1.0 + e);
        let p = if f >= 0.0 { inv } else { e * inv };
        *g = w * (p - y);
        *h = w * p * (1.0 - p);
        loss += w * (f.max(0.0) + e.ln_1p() - y * f);
    }
    loss
}

/// Weighted log loss sum at scores `f` (in `LOSS_CHUNK` order, like [`gradients`]).
fn loss_sum(f: &[f64], labels: &[bool], weights: Option<&[f64]>) -> f64 {
    let mut total = 0.0;
    for (c, (f, y)) in f
        .chunks(LOSS_CHUNK)
        .zip(labels.chunks(LOSS_CHUNK))
        .enumerate()
    {
        let mut s = 0.0;
        for (i, (&f, &y)) in f.iter().zip(y).enumerate() {
            let w = weights.map_or(1.0, |w| w[c * LOSS_CHUNK + i]);
            let y = f64::from(u8::from(y));
            s += w * (f.max(0.0) + (-f.abs()).exp().ln_1p() - y * f);
        }
        total += s;
    }
    total
}

/// Bin edges of a numeric feature from (a sample of) its values.
fn numeric_thresholds(mut values: Vec<f64>, max_bins: usize) -> Vec<f64> {
    // ±∞ are the extreme values; clamping keeps every threshold finite (and serialisable).
    for v in &mut values {
        *v = v.clamp(f64::MIN, f64::MAX);
    }
    values.sort_unstable_by(f64::total_cmp);
    let mut distinct = values.clone();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| midpoint(w[0], w[1])).collect();
    }
    let n = values.len();
    let mut thresholds: Vec<f64> = Vec::with_capacity(max_bins);
    for q in 1..max_bins {
        let r = q * n / max_bins;
        let (a, b) = (values[r - 1], values[r]);
        let t = if a < b { midpoint(a, b) } else { a };
        if thresholds.last().is_none_or(|&l| t > l) {
            thresholds.push(t);
        }
    }
    // A threshold at the maximum would leave the last bin empty.
    let max = values[n - 1];
    while thresholds.last().is_some_and(|&t| t >= max) {
        thresholds.pop();
    }
    thresholds
}

/// A threshold strictly between a < b (so b goes right), without overflow.
fn midpoint(a: f64, b: f64) -> f64 {
    let m = a / 2.0 + b / 2.0;
    if m >= a && m < b { m } else { a }
}

/// Category code → bin table of a categorical feature, from the training rows.
fn category_table(col: &[f64], train: &[usize], max_bins: usize) -> Vec<u8> {
    let mut counts: Vec<u64> = Vec::new();
    for &i in train {
        let x = col[i];
        if !x.is_nan() {
            let c = x as usize;
            if c >= counts.len() {
                counts.resize(c + 1, 0);
            }
            counts[c] += 1;
        }
    }
    let mut present: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] > 0).collect();
    present.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let own = if present.len() <= max_bins {
        present.len()
    } else {
        max_bins - 1
    };
    let mut table = vec![MISSING_BIN; counts.len()];
    for (i, &c) in present.iter().enumerate() {
        table[c] = i.min(own) as u8;
    }
    table
}

/// Checks the inputs of `fit` and of the prediction functions.
fn check_columns(columns: &[&[f64]], rows: usize, what: &str) -> Result<(), String> {
    for (j, c) in columns.iter().enumerate() {
        if c.len() != rows {
            return Err(format!(
                "feature column {j} has {} rows but {what} has {rows}",
                c.len()
            ));
        }
    }
    Ok(())
}

/// Splits rows into (train, valid), stratified by label, at random with the seed.
fn split_rows(labels: &[bool], fraction: f64, rng: &mut Pcg64Mcg) -> (Vec<usize>, Vec<usize>) {
    let mut valid = Vec::new();
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(rng);
        // Round down so the training part keeps at least as many rows of each class.
        let k = (idx.len() as f64 * fraction).floor() as usize;
        valid.extend_from_slice(&idx[..k]);
    }
    valid.sort_unstable();
    let mut is_valid = vec![false; labels.len()];
    for &i in &valid {
        is_valid[i] = true;
    }
    let train = (0..labels.len()).filter(|&i| !is_valid[i]).collect();
    (train, valid)
}

/// Runs `work(feature)` for every feature, over `threads`, in feature order.
fn per_feature<T: Send>(nf: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads.min(nf).max(1);
    if threads == 1 {
        return (0..nf).map(work).collect();
    }
    let per = nf.div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(nf))
                        .map(work)
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

impl BoostedTrees {
    /// Trains a model. `columns[j][i]` is feature j of row i (NaN = missing); `categorical[j]`
    /// marks category-code columns; `weights` are per-row (finite, ≥ 0). `observer` is called
    /// after every tree with (tree index, training loss, validation loss) and may stop the
    /// training with `Break`, which returns `Err("cancelled")`.
    pub fn fit(
        columns: &[&[f64]],
        categorical: &[bool],
        labels: &[bool],
        weights: Option<&[f64]>,
        params: &BoostParams,
        observer: &mut dyn FnMut(usize, f64, Option<f64>) -> ControlFlow<()>,
    ) -> Result<Self, String> {
        params.check()?;
        let n = labels.len();
        let nf = columns.len();
        if nf == 0 {
            return Err("no feature columns".into());
        }
        if n == 0 {
            return Err("no training rows".into());
        }
        if n > u32::MAX as usize {
            return Err(format!(
                "too many training rows ({n}); at most {}",
                u32::MAX
            ));
        }
        check_columns(columns, n, "the label")?;
        if categorical.len() != nf {
            return Err(format!(
                "{nf} feature columns but {} categorical flags",
                categorical.len()
            ));
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(format!("{} weights for {n} rows", w.len()));
            }
            if let Some(i) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(format!(
                    "weight of row {i} is {}; weights must be finite and ≥ 0",
                    w[i]
                ));
            }
        }
        for (j, col) in columns.iter().enumerate().filter(|(j, _)| categorical[*j]) {
            let is_code =
                |x: f64| (0.0..=MAX_CATEGORY_CODE as f64).contains(&x) && x.fract() == 0.0;
            if let Some(x) = col.iter().find(|&&x| !x.is_nan() && !is_code(x)) {
                return Err(format!(
                    "categorical feature column {j} holds {x}; category codes must be integers from 0 to {MAX_CATEGORY_CODE} (NaN for missing)"
                ));
            }
        }
        let positives = labels.iter().filter(|&&y| y).count();
        if positives == 0 || positives == n {
            return Err(format!(
                "the label has a single class ({} of {n} rows positive); two classes are needed",
                positives
            ));
        }

        let mut rng = Pcg64Mcg::seed_from_u64(params.seed);
        let (train, valid) = if params.early_stop {
            split_rows(labels, params.validation_fraction, &mut rng)
        } else {
            ((0..n).collect(), Vec::new())
        };
        let pick_w =
            |idx: &[usize]| weights.map(|w| idx.iter().map(|&i| w[i]).collect::<Vec<f64>>());
        let train_w = pick_w(&train);
        let valid_w = pick_w(&valid);
        let weight_sum =
            |w: &Option<Vec<f64>>, len: usize| w.as_ref().map_or(len as f64, |w| w.iter().sum());
        let train_weight = weight_sum(&train_w, train.len());
        let valid_weight = weight_sum(&valid_w, valid.len());
        let (mut wpos, mut wall) = (0.0, 0.0);
        for (k, &i) in train.iter().enumerate() {
            let w = train_w.as_ref().map_or(1.0, |w| w[k]);
            wall += w;
            if labels[i] {
                wpos += w;
            }
        }
        if !(wpos > 0.0 && wpos < wall) {
            return Err(
                "the training rows of one class all have weight 0; two classes are needed".into(),
            );
        }
        let prior = (wpos / wall).clamp(1e-15, 1.0 - 1e-15);
        let base = (prior / (1.0 - prior)).ln();

        // Bin edges from (a sample of) the training rows, then every row binned.
        let sample: Vec<usize> = if train.len() > BINNING_SAMPLE {
            let mut s: Vec<usize> = rand::seq::index::sample(&mut rng, train.len(), BINNING_SAMPLE)
                .into_iter()
                .map(|k| train[k])
                .collect();
            s.sort_unstable();
            s
        } else {
            train.clone()
        };
        let features: Vec<FeatureBins> = per_feature(nf, params.threads, |j| {
            let col = columns[j];
            if categorical[j] {
                let code_bins = category_table(col, &train, params.max_bins);
                let bins = code_bins
                    .iter()
                    .filter(|&&b| b != MISSING_BIN)
                    .map(|&b| usize::from(b) + 1)
                    .max()
                    .unwrap_or(0);
                FeatureBins::Categorical { code_bins, bins }
            } else {
                let values = sample
                    .iter()
                    .map(|&i| col[i])
                    .filter(|x| !x.is_nan())
                    .collect();
                FeatureBins::Numeric {
                    thresholds: numeric_thresholds(values, params.max_bins),
                }
            }
        });
        let bin_rows = |idx: &[usize]| -> Vec<Vec<u8>> {
            per_feature(nf, params.threads, |j| {
                let (col, fb) = (columns[j], &features[j]);
                idx.iter().map(|&i| fb.bin(col[i])).collect()
            })
        };
        // Too few rows (or only zero weights) to hold any out: train without early stopping.
        let valid = if valid_weight > 0.0 {
            valid
        } else {
            Vec::new()
        };
        let valid_bins = bin_rows(&valid);
        let valid_labels: Vec<bool> = valid.iter().map(|&i| labels[i]).collect();
        let set = TrainSet {
            bins: bin_rows(&train),
            labels: train.iter().map(|&i| labels[i]).collect(),
            weights: train_w,
            rules: SplitRules {
                features: &features,
                l2: params.l2,
                min_rows: params.min_rows_per_leaf as f64,
                min_hessian: MIN_CHILD_HESSIAN * 0.25 * train_weight / train.len() as f64,
            },
            params,
        };
        drop(train);

        let nt = set.rows();
        let mut f = vec![base; nt];
        let mut fv = vec![base; valid.len()];
        let mut g = vec![0.0; nt];
        let mut h = vec![0.0; nt];
        gradients(
            &f,
            &set.labels,
            set.weights.as_deref(),
            &mut g,
            &mut h,
            params.threads,
        );

        let mut trees: Vec<Tree> = Vec::new();
        let mut train_log_loss = Vec::new();
        let mut valid_log_loss = Vec::new();
        let mut best = (
            loss_sum(&fv, &valid_labels, valid_w.as_deref()) / valid_weight,
            0usize,
        );
        for t in 0..params.num_trees {
            let rows: Vec<u32> = if params.subsample < 1.0 {
                (0..nt as u32)
                    .filter(|_| rng.gen_bool(params.subsample))
                    .collect()
            } else {
                (0..nt as u32).collect()
            };
            let sampled = rows.len() < nt;
            let grown = set.grow(rows, &g, &h);
            if sampled {
                for (i, fi) in f.iter_mut().enumerate() {
                    *fi += grown.value(&set.bins, i);
                }
            } else {
                // Every row is in exactly one leaf's range: no need to route it again.
                for &(s, e, v) in &grown.leaf_ranges {
                    for &r in &grown.rows[s..e] {
                        f[r as usize] += v;
                    }
                }
            }
            for (i, fi) in fv.iter_mut().enumerate() {
                *fi += grown.value(&valid_bins, i);
            }
            let train_loss = gradients(
                &f,
                &set.labels,
                set.weights.as_deref(),
                &mut g,
                &mut h,
                params.threads,
            ) / train_weight;
            let valid_loss = (!valid_labels.is_empty())
                .then(|| loss_sum(&fv, &valid_labels, valid_w.as_deref()) / valid_weight);
            train_log_loss.push(train_loss);
            if let Some(v) = valid_loss {
                valid_log_loss.push(v);
            }
            trees.push(grown.tree);
            if observer(t, train_loss, valid_loss).is_break() {
                return Err("cancelled".into());
            }
            if let Some(v) = valid_loss {
                if v < best.0 - EARLY_STOP_TOLERANCE {
                    best = (v, t + 1);
                } else if t + 1 - best.1 >= params.early_stop_rounds {
                    break;
                }
            }
        }
        let keep = if valid_labels.is_empty() {
            trees.len()
        } else {
            best.1
        };
        trees.truncate(keep);
        let mut model = BoostedTrees {
            base_score: base,
            trees,
            num_features: nf,
            best_iteration: keep,
            train_log_loss,
            valid_log_loss,
            categorical: categorical.to_vec(),
            category_bins: features
                .into_iter()
                .map(|fb| match fb {
                    FeatureBins::Categorical { code_bins, .. } => code_bins,
                    FeatureBins::Numeric { .. } => Vec::new(),
                })
                .collect(),
        };
        model.centre_trees();
        Ok(model)
    }

    /// Moves each tree's mean output over its training rows into `base_score` (see the module
    /// documentation: this makes `base_score` the TreeSHAP baseline).
    fn centre_trees(&mut self) {
        for tree in &mut self.trees {
            let root = tree.nodes.first().map_or(0.0, |n| n.cover);
            if root <= 0.0 {
                continue;
            }
            let mean = tree
                .nodes
                .iter()
                .filter(|n| n.is_leaf())
                .map(|n| n.cover * n.value)
                .sum::<f64>()
                / root;
            for n in tree.nodes.iter_mut().filter(|n| n.is_leaf()) {
                n.value -= mean;
            }
            self.base_score += mean;
        }
    }

    fn check_input(&self, columns: &[&[f64]], rows: usize, what: &str) -> Result<(), String> {
        if columns.len() != self.num_features {
            return Err(format!(
                "the model takes {} feature columns, got {}",
                self.num_features,
                columns.len()
            ));
        }
        check_columns(columns, rows, what)
    }

    /// Raw log-odds of every row into `out` (one per row). NaN follows each split's default
    /// direction, ±∞ are extreme values, unknown category codes are missing.
    pub fn predict_logit(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), String> {
        self.check_input(columns, out.len(), "the output")?;
        self.compile()?.predict_logit(columns, out)
    }

    /// Probability of the positive class of every row into `out`.
    pub fn predict_proba(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), String> {
        self.check_input(columns, out.len(), "the output")?;
        self.compile()?.predict_proba(columns, out)
    }

    /// The model in prediction form (validated). Compiling 100 trees costs about as much as
    /// scoring a thousand rows: a caller that scores many batches compiles once, for example
    /// through a [`CompiledCache`] kept beside the model.
    pub fn compile(&self) -> Result<CompiledTrees, String> {
        CompiledTrees::new(self)
    }

    /// Per-row TreeSHAP contributions into `out` (rows × `num_features`, row-major): for every
    /// row `base_score + Σ contributions = predict_logit`.
    pub fn contributions(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), String> {
        let nf = self.num_features;
        let rows = out.len().checked_div(nf).unwrap_or(0);
        if nf == 0 || out.len() != rows * nf {
            return Err(format!(
                "the contributions output has {} values, not a multiple of {nf} features",
                out.len()
            ));
        }
        self.check_input(columns, rows, "the contributions output")?;
        self.check_trees()?;
        let depth = self.trees.iter().map(tree_depth).max().unwrap_or(0);
        let mut path = vec![PathElem::default(); (depth + 2) * (depth + 3) / 2 + depth + 4];
        let mut x = vec![0.0; nf];
        for (i, phi) in out.chunks_exact_mut(nf).enumerate() {
            phi.fill(0.0);
            for (xj, col) in x.iter_mut().zip(columns) {
                *xj = col[i];
            }
            for tree in &self.trees {
                let shap = TreeShap {
                    tree,
                    x: &x,
                    category_bins: &self.category_bins,
                };
                shap.recurse(0, phi, &mut path, 0, 0, 1.0, 1.0, usize::MAX);
            }
        }
        Ok(())
    }

    /// Total split gain per feature, normalised to sum to 1 (all zeros without any split).
    pub fn feature_importance(&self) -> Vec<f64> {
        let mut gain = vec![0.0; self.num_features];
        for n in self
            .trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| !n.is_leaf())
        {
            if let Some(g) = gain.get_mut(n.feature as usize) {
                *g += n.gain;
            }
        }
        let total: f64 = gain.iter().sum();
        if total > 0.0 {
            gain.iter_mut().for_each(|g| *g /= total);
        }
        gain
    }

    /// Validates a model's structure (a deserialised model may have been edited): children
    /// after their parent and in range, features, category sets and depth in range, split kinds
    /// matching feature kinds. Prediction relies on all of it.
    fn check_trees(&self) -> Result<(), String> {
        let nf = self.num_features;
        if self.category_bins.len() != nf || self.categorical.len() != nf {
            return Err("the model's feature kinds do not match its number of features".into());
        }
        for (t, tree) in self.trees.iter().enumerate() {
            if tree.nodes.is_empty() {
                return Err(format!("tree {t} has no nodes"));
            }
            // Each node but the root is a child exactly once (a tree, not a graph).
            let mut parents = vec![0u8; tree.nodes.len()];
            for (i, n) in tree.nodes.iter().enumerate() {
                if n.is_leaf() {
                    continue;
                }
                let len = tree.nodes.len();
                for c in [n.left as usize, n.right as usize] {
                    if let Some(p) = parents.get_mut(c) {
                        *p = p.saturating_add(1);
                    }
                }
                let (l, r, f) = (n.left as usize, n.right as usize, n.feature as usize);
                let ok = l > i
                    && r > i
                    && l < len
                    && r < len
                    && f < nf
                    && !n.threshold.is_nan()
                    && n.category_set.is_some() == self.categorical[f]
                    && n.category_set
                        .is_none_or(|c| (c as usize) < tree.category_sets.len());
                if !ok {
                    return Err(format!("tree {t} node {i} is malformed"));
                }
            }
            if parents.iter().skip(1).any(|&p| p != 1) {
                return Err(format!(
                    "tree {t} has a node that is not a child exactly once"
                ));
            }
            if tree_depth(tree) > MAX_DEPTH {
                return Err(format!("tree {t} is deeper than {MAX_DEPTH}"));
            }
        }
        Ok(())
    }
}

/// The depth of a tree whose children come after their parents.
fn tree_depth(tree: &Tree) -> usize {
    let mut depth = vec![0usize; tree.nodes.len()];
    let mut max = 0;
    for (i, n) in tree.nodes.iter().enumerate() {
        if !n.is_leaf() {
            let child_depth = depth[i] + 1;
            for c in [n.left, n.right] {
                if let Some(d) = depth.get_mut(c as usize) {
                    *d = child_depth;
                    max = max.max(child_depth);
                }
            }
        }
    }
    max
}

/// Does a row go left at an internal node?
fn goes_left(node: &Node, tree: &Tree, category_bins: &[Vec<u8>], x: f64) -> bool {
    match node.category_set {
        Some(c) => {
            let bin = category_bins
                .get(node.feature as usize)
                .map_or(MISSING_BIN, |t| category_bin(t, x));
            tree.category_sets
                .get(c as usize)
                .is_some_and(|s| set_contains(s, bin))
        }
        None if x.is_nan() => node.default_left,
        None => x <= node.threshold || node.threshold == f64::MAX,
    }
}

/// Trees up to this depth are predicted in the complete-tree layout (2^depth leaves).
const HEAP_MAX_DEPTH: usize = 10;
/// Prediction bin of a missing numeric value in a feature's first column (its second column
/// holds `u16::MAX`); real bins start at 1.
const MISSING_LOW: u16 = 0;
/// `NodeCode` flag of a categorical split.
const CATEGORICAL_FLAG: u32 = 1 << 15;
/// Largest feature count the node code can address (two bin columns per feature in 15 bits).
const MAX_PREDICT_FEATURES: usize = (CATEGORICAL_FLAG as usize) / 2;
/// Bit-set words (32 bits each) per node of a tree with categorical splits: one when every
/// categorical feature's split sets mention fewer than 32 bins (bins are then renumbered densely,
/// see `Cuts::Categorical`), else eight (all 256 training bins).
const NARROW_WORDS: usize = 1;
const WIDE_WORDS: usize = 8;

/// A split in 32 bits: bits 0–14 the bin column it reads, bit 15 set for a categorical split,
/// bits 16–31 the numeric split bin. Every feature has two bin columns per row that differ only
/// for a missing numeric value (`MISSING_LOW` in the first, `u16::MAX` in the second; real bins
/// are 1..), so a split's missing direction is simply the column it reads. Numeric: go right iff
/// `bin > split`. Categorical: go right iff the bin is not in the node's bit set.
type NodeCode = u32;

/// The bin column a node code reads (bits 0–14).
#[inline(always)]
fn code_column(code: NodeCode) -> usize {
    (code & (CATEGORICAL_FLAG - 1)) as usize
}

/// A padding split that sends every row left (no bin exceeds 65535).
const ALWAYS_LEFT: NodeCode = 0xFFFF << 16;

/// Does a row with bin `bin` at node code `code` go right? `set` is the node's bit set (all
/// zeros for a numeric split). Both tests run and one is selected: which kind of split a row
/// meets depends on its path, so a branch would mispredict.
#[inline(always)]
fn goes_right(code: NodeCode, bin: u16, set: &[u32]) -> bool {
    let bin = u32::from(bin);
    let numeric = bin > code >> 16;
    // A categorical bin is below 32 · set.len() (1 or 8 words); a numeric bin may be larger,
    // and its (unused) word index is wrapped into the set.
    let word = set[(bin as usize >> 5) & (set.len() - 1)];
    let categorical = (word >> (bin & 31)) & 1 == 0;
    if code & CATEGORICAL_FLAG == 0 {
        numeric
    } else {
        categorical
    }
}

/// A tree as a complete binary tree (children of node i at 2i+1 and 2i+2): leaves above the
/// full depth are padded with splits that always go left, so every row takes exactly `depth`
/// steps and no child pointer is loaded.
#[derive(Debug)]
struct HeapTree {
    depth: usize,
    codes: Vec<NodeCode>,
    /// `CompiledTrees::words` words per node when any split is categorical, else empty.
    sets: Vec<u32>,
    leaves: Vec<f64>,
}

/// A tree too deep for the complete layout: explicit children, leaves point to themselves.
#[derive(Debug)]
struct FlatTree {
    depth: usize,
    nodes: Vec<(NodeCode, [u32; 2])>,
    /// `words` words per node (zeros for numeric splits and leaves).
    sets: Vec<u32>,
    words: usize,
    values: Vec<f64>,
}

/// How a feature becomes prediction bins.
#[derive(Debug)]
enum Cuts {
    /// Bin = 1 + number of cuts below the value (the distinct thresholds the trees use).
    Numeric(CutIndex),
    /// Bin = `table[training category bin]`: the training bin itself (wide sets), or a dense
    /// number for each bin some split set mentions, and one more for every other bin (narrow).
    Categorical(Vec<u16>),
    /// No tree splits on the feature.
    Unused,
}

/// All trees in prediction form. Each block of rows is first binned once per feature against
/// the thresholds the trees actually use, then every step is a 16-bit compare (or a bit test
/// for a categorical split) on bins that stay in L1. On x86-64 with AVX2 (checked at run time)
/// the complete-layout trees walk eight rows per instruction (`heap_walk_avx2`).
#[derive(Debug)]
pub struct CompiledTrees {
    heap: Vec<HeapTree>,
    flat: Vec<FlatTree>,
    cuts: Vec<Cuts>,
    category_bins: Vec<Vec<u8>>,
    base: f64,
    /// Bit-set words per categorical node: `NARROW_WORDS` or `WIDE_WORDS`.
    words: usize,
    avx2: bool,
}

/// The bit set of a categorical split over prediction bins (`table` maps training bins to them),
/// as `words` 32-bit words.
fn set_words(set: &BinSet, table: &[u16], words: usize) -> [u32; WIDE_WORDS] {
    let mut out = [0; WIDE_WORDS];
    for bin in 0..=255u8 {
        if set_contains(set, bin) {
            let b = table[usize::from(bin)];
            out[usize::from(b >> 5) % words] |= 1 << (b & 31);
        }
    }
    out
}

impl CompiledTrees {
    fn new(model: &BoostedTrees) -> Result<Self, String> {
        model.check_trees()?;
        let nf = model.num_features;
        if nf > MAX_PREDICT_FEATURES {
            return Err(format!(
                "the model has {nf} features; boosted_tree prediction supports at most \
                 {MAX_PREDICT_FEATURES}"
            ));
        }
        let mut cuts: Vec<Vec<f64>> = vec![Vec::new(); nf];
        let mut used = vec![false; nf];
        for n in model
            .trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| !n.is_leaf())
        {
            let f = n.feature as usize;
            used[f] = true;
            // f64::MAX is "every non-missing value": the top bin, not a cut.
            if n.category_set.is_none() && n.threshold != f64::MAX {
                cuts[f].push(n.threshold);
            }
        }
        // Training bins each categorical feature's split sets mention.
        let mut mentioned: Vec<BinSet> = vec![[0; 4]; nf];
        for t in &model.trees {
            for n in t.nodes.iter().filter(|n| !n.is_leaf()) {
                if let Some(set) = n.category_set.and_then(|s| t.category_sets.get(s as usize)) {
                    for (m, w) in mentioned[n.feature as usize].iter_mut().zip(set) {
                        *m |= w;
                    }
                }
            }
        }
        let narrow = mentioned
            .iter()
            .all(|m| m.iter().map(|w| w.count_ones()).sum::<u32>() < 32);
        let words = if narrow { NARROW_WORDS } else { WIDE_WORDS };
        let mut feature_cuts = Vec::with_capacity(nf);
        for (f, mut c) in cuts.into_iter().enumerate() {
            if model.categorical.get(f).copied().unwrap_or(false) {
                feature_cuts.push(if !used[f] {
                    Cuts::Unused
                } else if narrow {
                    // Mentioned bins get 0, 1, …; the rest share the next number, in no set.
                    let mut next = 0;
                    let mut table = vec![0; 256];
                    for bin in 0..=255u8 {
                        if set_contains(&mentioned[f], bin) {
                            table[usize::from(bin)] = next;
                            next += 1;
                        }
                    }
                    for bin in 0..=255u8 {
                        if !set_contains(&mentioned[f], bin) {
                            table[usize::from(bin)] = next;
                        }
                    }
                    Cuts::Categorical(table)
                } else {
                    Cuts::Categorical((0..256).collect())
                });
                continue;
            }
            if c.iter().any(|t| t.is_nan()) {
                return Err(format!("the model has a NaN threshold on feature {f}"));
            }
            c.sort_unstable_by(f64::total_cmp);
            c.dedup();
            // Bins 1..=len+1 must stay below u16::MAX, the second column's missing bin.
            if c.len() + 1 >= usize::from(u16::MAX) {
                return Err(format!("the model has too many thresholds on feature {f}"));
            }
            feature_cuts.push(if used[f] {
                Cuts::Numeric(CutIndex::new(c))
            } else {
                Cuts::Unused
            });
        }
        let mut c = CompiledTrees {
            heap: Vec::new(),
            flat: Vec::new(),
            cuts: feature_cuts,
            category_bins: model.category_bins.clone(),
            base: model.base_score,
            words,
            avx2: avx2_available(),
        };
        for tree in &model.trees {
            let cuts = &c.cuts;
            let code = |n: &Node| -> (NodeCode, [u32; WIDE_WORDS]) {
                let col = 2 * n.feature + u32::from(!n.default_left);
                match (n.category_set, &cuts[n.feature as usize]) {
                    (None, Cuts::Numeric(c)) => {
                        // x <= threshold ⇔ bin <= 1 + its index; "every non-missing value" is
                        // the top bin.
                        let k = c.count_below(n.threshold) as u32;
                        (col | (k + 1) << 16, [0; WIDE_WORDS])
                    }
                    (Some(s), Cuts::Categorical(table)) => {
                        let set = tree
                            .category_sets
                            .get(s as usize)
                            .map_or([0; WIDE_WORDS], |set| set_words(set, table, words));
                        (col | CATEGORICAL_FLAG, set)
                    }
                    // A numeric split on a categorical feature or the reverse (only in an
                    // edited model).
                    _ => (ALWAYS_LEFT, [0; WIDE_WORDS]),
                }
            };
            let depth = tree_depth(tree);
            let categorical = !tree.category_sets.is_empty();
            if depth <= HEAP_MAX_DEPTH {
                let inner = (1 << depth) - 1;
                // Padding after the nodes: the AVX2 walk loads whole registers of a level.
                let mut h = HeapTree {
                    depth,
                    codes: vec![ALWAYS_LEFT; inner + 8],
                    sets: if categorical {
                        vec![0; inner * words + 8]
                    } else {
                        Vec::new()
                    },
                    leaves: vec![0.0; 1 << depth],
                };
                h.place(tree, 0, 0, 0, words, &code);
                c.heap.push(h);
            } else {
                let mut sets = vec![0; tree.nodes.len() * words];
                let mut nodes = Vec::with_capacity(tree.nodes.len());
                for (i, n) in tree.nodes.iter().enumerate() {
                    if n.is_leaf() {
                        nodes.push((ALWAYS_LEFT, [i as u32; 2]));
                    } else {
                        let (k, set) = code(n);
                        sets[i * words..(i + 1) * words].copy_from_slice(&set[..words]);
                        nodes.push((k, [n.left, n.right]));
                    }
                }
                let values = tree
                    .nodes
                    .iter()
                    .map(|n| if n.is_leaf() { n.value } else { 0.0 })
                    .collect();
                c.flat.push(FlatTree {
                    depth,
                    nodes,
                    sets,
                    words,
                    values,
                });
            }
        }
        Ok(c)
    }

    /// Raw log-odds of every row into `out` (one per row), as [`BoostedTrees::predict_logit`].
    pub fn predict_logit(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), String> {
        if columns.len() != self.cuts.len() {
            return Err(format!(
                "the model takes {} feature columns, got {}",
                self.cuts.len(),
                columns.len()
            ));
        }
        check_columns(columns, out.len(), "the output")?;
        let rows = self.block_rows();
        let mut scratch = BlockBins::default();
        for (b, block) in out.chunks_mut(rows).enumerate() {
            self.predict_block(columns, b * rows, block, &mut scratch);
        }
        Ok(())
    }

    /// Probability of the positive class of every row into `out`.
    pub fn predict_proba(&self, columns: &[&[f64]], out: &mut [f64]) -> Result<(), String> {
        self.predict_logit(columns, out)?;
        for v in out.iter_mut() {
            *v = super::logistic::sigmoid(*v);
        }
        Ok(())
    }

    /// Bin columns per row: two per feature.
    fn width(&self) -> usize {
        2 * self.cuts.len()
    }

    /// Rows per block: a block's bins (both layouts) stay in L1.
    fn block_rows(&self) -> usize {
        (8192 / self.width().max(1)).clamp(8, 256)
    }

    /// Log-odds of the rows `start..start + out.len()`; `scratch` holds the block's bins.
    fn predict_block(
        &self,
        columns: &[&[f64]],
        start: usize,
        out: &mut [f64],
        scratch: &mut BlockBins,
    ) {
        let (len, width) = (out.len(), self.width());
        let BlockBins {
            rows: xb,
            columns: xc,
        } = scratch;
        // Column-major first: each feature's two bin columns are filled in one pass.
        xc.clear();
        xc.resize(len * width, 0);
        for (f, (col, cuts)) in columns.iter().zip(&self.cuts).enumerate() {
            let col = &col[start..start + len];
            let (low, high) = xc[2 * f * len..(2 * f + 2) * len].split_at_mut(len);
            match cuts {
                Cuts::Numeric(c) => c.for_each_count(col, |i, count| match count {
                    // At most 65533 cuts (checked in `compile`).
                    Some(k) => (low[i], high[i]) = (1 + k as u16, 1 + k as u16),
                    None => (low[i], high[i]) = (MISSING_LOW, u16::MAX),
                }),
                Cuts::Categorical(table) => {
                    for ((l, h), &v) in low.iter_mut().zip(high.iter_mut()).zip(col) {
                        let bin = table[usize::from(category_bin(&self.category_bins[f], v))];
                        (*l, *h) = (bin, bin);
                    }
                }
                Cuts::Unused => {}
            }
        }
        // Row-major for the scalar walks and the AVX2 walk's gathers, with one padding bin:
        // the AVX2 walk loads 32 bits at a bin's position.
        xb.clear();
        xb.resize(len * width + 1, 0);
        for (c, column) in xc.chunks_exact(len.max(1)).enumerate() {
            for (row, &bin) in xb.chunks_exact_mut(width).zip(column) {
                row[c] = bin;
            }
        }
        let bins = heap_walk_avx2::Bins {
            rows: xb,
            width,
            columns: xc,
            stride: len,
        };
        out.fill(self.base);
        for tree in &self.heap {
            let done = if self.avx2 {
                heap_walk_avx2::walk(tree.view(self.words), &bins, out)
            } else {
                0
            };
            tree.walk(&xb[done * width..], width, self.words, &mut out[done..]);
        }
        for tree in &self.flat {
            tree.walk(xb, width, out);
        }
    }
}

/// Scratch space for one block's bins, kept from block to block.
#[derive(Default)]
struct BlockBins {
    /// Row-major, two columns per feature, plus one padding bin.
    rows: Vec<u16>,
    /// Column-major, the same bins.
    columns: Vec<u16>,
}

/// The prediction form of one model, compiled on first use and kept: put it beside the
/// [`BoostedTrees`] it belongs to, which must not change afterwards (a loaded model never
/// does). Clones start empty; it never affects equality or serialisation of what holds it.
#[derive(Default)]
pub struct CompiledCache(std::sync::OnceLock<Result<CompiledTrees, String>>);

impl CompiledCache {
    /// `model` compiled, the first time by this call.
    pub fn get(&self, model: &BoostedTrees) -> Result<&CompiledTrees, String> {
        self.0
            .get_or_init(|| model.compile())
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Clone for CompiledCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for CompiledCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for CompiledCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.0.get().is_some() {
            "compiled"
        } else {
            "empty"
        };
        write!(f, "CompiledCache({state})")
    }
}

/// Whether this CPU can run `heap_walk_avx2`.
fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl HeapTree {
    /// Places tree node `i` at heap position `h`, `level` deep.
    fn place(
        &mut self,
        tree: &Tree,
        i: usize,
        h: usize,
        level: usize,
        words: usize,
        code: &impl Fn(&Node) -> (NodeCode, [u32; WIDE_WORDS]),
    ) {
        let n = &tree.nodes[i];
        if level == self.depth {
            self.leaves[h + 1 - (1 << self.depth)] = n.value;
        } else if n.is_leaf() {
            // Padding: both children repeat the leaf, whichever way a row goes.
            self.place(tree, i, 2 * h + 1, level + 1, words, code);
            self.place(tree, i, 2 * h + 2, level + 1, words, code);
        } else {
            let (k, set) = code(n);
            self.codes[h] = k;
            if !self.sets.is_empty() {
                self.sets[h * words..(h + 1) * words].copy_from_slice(&set[..words]);
            }
            self.place(tree, n.left as usize, 2 * h + 1, level + 1, words, code);
            self.place(tree, n.right as usize, 2 * h + 2, level + 1, words, code);
        }
    }

    fn view(&self, words: usize) -> heap_walk_avx2::HeapView<'_> {
        heap_walk_avx2::HeapView {
            depth: self.depth,
            codes: &self.codes,
            sets: &self.sets,
            words,
            leaves: &self.leaves,
        }
    }

    /// Adds this tree's leaf values for the rows of `xb` (`width` bins each) to `out`.
    fn walk(&self, xb: &[u16], width: usize, words: usize, out: &mut [f64]) {
        if self.sets.is_empty() {
            self.walk_rows::<false>(xb, width, words, out);
        } else {
            self.walk_rows::<true>(xb, width, words, out);
        }
    }

    /// `CATEGORICAL` false promises a tree of numeric splits only.
    #[inline(always)]
    fn walk_rows<const CATEGORICAL: bool>(
        &self,
        xb: &[u16],
        width: usize,
        words: usize,
        out: &mut [f64],
    ) {
        let first_leaf = (1 << self.depth) - 1;
        let step = |i: usize, x: &[u16]| {
            let code = self.codes[i];
            let bin = x[code_column(code)];
            let right = if CATEGORICAL {
                goes_right(code, bin, &self.sets[i * words..(i + 1) * words])
            } else {
                u32::from(bin) > code >> 16
            };
            2 * i + 1 + usize::from(right)
        };
        // Four rows at a time: the four paths are independent, so their steps overlap.
        let quads = xb.chunks_exact(4 * width);
        let mut outs = out.chunks_exact_mut(4);
        for (q, o) in quads.zip(&mut outs) {
            let (x0, rest) = q.split_at(width);
            let (x1, rest) = rest.split_at(width);
            let (x2, x3) = rest.split_at(width);
            let (mut i0, mut i1, mut i2, mut i3) = (0, 0, 0, 0);
            for _ in 0..self.depth {
                i0 = step(i0, x0);
                i1 = step(i1, x1);
                i2 = step(i2, x2);
                i3 = step(i3, x3);
            }
            for (o, i) in o.iter_mut().zip([i0, i1, i2, i3]) {
                *o += self.leaves[i - first_leaf];
            }
        }
        let done = out.len() / 4 * 4;
        for (o, x) in out[done..]
            .iter_mut()
            .zip(xb[done * width..].chunks_exact(width))
        {
            let mut i = 0;
            for _ in 0..self.depth {
                i = step(i, x);
            }
            *o += self.leaves[i - first_leaf];
        }
    }
}

impl FlatTree {
    /// Adds this tree's leaf values for the rows of `xb` (`width` bins each) to `out`, one
    /// level of every row at a time.
    fn walk(&self, xb: &[u16], width: usize, out: &mut [f64]) {
        let mut idx = vec![0u32; out.len()];
        for _ in 0..self.depth {
            for (i, x) in idx.iter_mut().zip(xb.chunks_exact(width)) {
                let n = *i as usize;
                let (code, children) = self.nodes[n];
                let bin = x[code_column(code)];
                let set = &self.sets[n * self.words..(n + 1) * self.words];
                *i = children[usize::from(goes_right(code, bin, set))];
            }
        }
        for (o, &i) in out.iter_mut().zip(&idx) {
            *o += self.values[i as usize];
        }
    }
}

/// One element of a TreeSHAP path.
#[derive(Debug, Clone, Copy, Default)]
struct PathElem {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// TreeSHAP of one row through one tree (Lundberg, Erion & Lee 2018, algorithm 2; the
/// structure follows the `shap` package's C++ `tree_shap_recursive`).
struct TreeShap<'a> {
    tree: &'a Tree,
    x: &'a [f64],
    category_bins: &'a [Vec<u8>],
}

impl TreeShap<'_> {
    /// `buf[parent..]` holds the parent's path of `depth + 1` elements; this node's path is
    /// written right after it.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &self,
        node: usize,
        phi: &mut [f64],
        buf: &mut [PathElem],
        parent: usize,
        mut depth: usize,
        zero: f64,
        one: f64,
        feature: usize,
    ) {
        let cur = parent + depth + 1;
        buf.copy_within(parent..parent + depth + 1, cur);
        let path = &mut buf[cur..];
        extend_path(path, depth, zero, one, feature);
        let n = &self.tree.nodes[node];
        if n.is_leaf() {
            for i in 1..=depth {
                let w = unwound_path_sum(path, depth, i);
                let e = path[i];
                if let Some(p) = phi.get_mut(e.feature) {
                    *p += w * (e.one - e.zero) * n.value;
                }
            }
            return;
        }
        let f = n.feature as usize;
        let left = goes_left(n, self.tree, self.category_bins, self.x[f]);
        let (hot, cold) = if left {
            (n.left, n.right)
        } else {
            (n.right, n.left)
        };
        let (hot, cold) = (hot as usize, cold as usize);
        let cover = n.cover;
        let hot_zero = self.tree.nodes[hot].cover / cover;
        let cold_zero = self.tree.nodes[cold].cover / cover;
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        // A feature met again on the path is unwound first, so it counts once.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == f) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind_path(path, depth, k);
            depth -= 1;
        }
        self.recurse(hot, phi, buf, cur, depth + 1, hot_zero * in_zero, in_one, f);
        self.recurse(cold, phi, buf, cur, depth + 1, cold_zero * in_zero, 0.0, f);
    }
}

/// `RECIP[k] = 1 / k`: TreeSHAP's weights divide by small integers, and multiplying by a
/// reciprocal is several times faster than dividing.
const RECIP: [f64; MAX_DEPTH + 3] = {
    let mut r = [0.0; MAX_DEPTH + 3];
    let mut k = 1;
    while k < r.len() {
        r[k] = 1.0 / k as f64;
        k += 1;
    }
    r
};

fn extend_path(p: &mut [PathElem], depth: usize, zero: f64, one: f64, feature: usize) {
    p[depth] = PathElem {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let inv_d1 = RECIP[depth + 1];
    for i in (0..depth).rev() {
        p[i + 1].weight += one * p[i].weight * (i + 1) as f64 * inv_d1;
        p[i].weight = zero * p[i].weight * (depth - i) as f64 * inv_d1;
    }
}

fn unwind_path(p: &mut [PathElem], depth: usize, k: usize) {
    let (one, zero) = (p[k].one, p[k].zero);
    let d1 = (depth + 1) as f64;
    let inv_d1 = RECIP[depth + 1];
    let mut next = p[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = p[i].weight;
            p[i].weight = next * d1 * RECIP[i + 1] / one;
            next = tmp - p[i].weight * zero * (depth - i) as f64 * inv_d1;
        } else {
            p[i].weight = p[i].weight * d1 * RECIP[depth - i] / zero;
        }
    }
    for i in k..depth {
        p[i].feature = p[i + 1].feature;
        p[i].zero = p[i + 1].zero;
        p[i].one = p[i + 1].one;
    }
}

fn unwound_path_sum(p: &[PathElem], depth: usize, k: usize) -> f64 {
    let (one, zero) = (p[k].one, p[k].zero);
    let d1 = (depth + 1) as f64;
    let inv_d1 = RECIP[depth + 1];
    let mut total = 0.0;
    if one != 0.0 {
        let scale = d1 / one;
        let mut next = p[depth].weight;
        for i in (0..depth).rev() {
            let tmp = next * scale * RECIP[i + 1];
            total += tmp;
            next = p[i].weight - tmp * zero * (depth - i) as f64 * inv_d1;
        }
    } else {
        let scale = d1 / zero;
        for i in (0..depth).rev() {
            total += p[i].weight * scale * RECIP[depth - i];
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_observer() -> impl FnMut(usize, f64, Option<f64>) -> ControlFlow<()> {
        |_, _, _| ControlFlow::Continue(())
    }

    fn fit(
        columns: &[Vec<f64>],
        categorical: &[bool],
        labels: &[bool],
        params: &BoostParams,
    ) -> BoostedTrees {
        let cols: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        BoostedTrees::fit(&cols, categorical, labels, None, params, &mut no_observer())
            .expect("fit")
    }

    fn predict(model: &BoostedTrees, columns: &[Vec<f64>]) -> Vec<f64> {
        let cols: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let mut out = vec![0.0; columns[0].len()];
        model.predict_proba(&cols, &mut out).expect("predict");
        out
    }

    /// ROC AUC with ties counted half.
    fn auc(labels: &[bool], scores: &[f64]) -> f64 {
        let mut idx: Vec<usize> = (0..labels.len()).collect();
        idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let (mut rank_sum, mut i) = (0.0, 0);
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
                j += 1;
            }
            let rank = (i + j) as f64 / 2.0 + 1.0;
            rank_sum += rank * idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
            i = j + 1;
        }
        let pos = labels.iter().filter(|&&y| y).count() as f64;
        let neg = labels.len() as f64 - pos;
        (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
    }

    /// `n` rows of `nf` uniform(−1, 1) features and labels from `rule`.
    fn data(
        n: usize,
        nf: usize,
        seed: u64,
        rule: impl Fn(&[f64]) -> bool,
    ) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let mut cols = vec![Vec::with_capacity(n); nf];
        let mut labels = Vec::with_capacity(n);
        let mut row = vec![0.0; nf];
        for _ in 0..n {
            for (c, x) in cols.iter_mut().zip(row.iter_mut()) {
                *x = rng.gen_range(-1.0..1.0);
                c.push(*x);
            }
            labels.push(rule(&row));
        }
        (cols, labels)
    }

    #[test]
    fn learns_a_threshold() {
        let rule = |x: &[f64]| x[0] > 0.3;
        let (cols, labels) = data(5000, 3, 1, rule);
        let model = fit(&cols, &[false; 3], &labels, &BoostParams::default());
        let (test, test_labels) = data(2000, 3, 2, rule);
        let p = predict(&model, &test);
        let correct = p
            .iter()
            .zip(&test_labels)
            .filter(|(p, y)| (**p > 0.5) == **y)
            .count();
        assert!(correct as f64 / 2000.0 > 0.99, "accuracy {correct}/2000");
        let imp = model.feature_importance();
        assert!(imp[0] > 0.95, "{imp:?}");
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            model
                .train_log_loss
                .windows(2)
                .all(|w| w[1] <= w[0] + 1e-12)
        );
    }

    #[test]
    fn learns_xor() {
        let rule = |x: &[f64]| (x[0] > 0.0) ^ (x[1] > 0.0);
        let (cols, labels) = data(8000, 4, 3, rule);
        let params = BoostParams {
            max_depth: 3,
            ..BoostParams::default()
        };
        let model = fit(&cols, &[false; 4], &labels, &params);
        let (test, test_labels) = data(2000, 4, 4, rule);
        let a = auc(&test_labels, &predict(&model, &test));
        assert!(a > 0.99, "auc {a}");
    }

    #[test]
    fn learns_from_missingness() {
        // Feature 0 is missing exactly when the label is true; feature 1 is noise.
        let (mut cols, labels) = data(4000, 2, 5, |x| x[1] > 0.9 || x[0] > 0.0);
        for (x, &y) in cols[0].iter_mut().zip(&labels) {
            if y {
                *x = f64::NAN;
            }
        }
        let model = fit(&cols, &[false; 2], &labels, &BoostParams::default());
        let p = predict(
            &model,
            &[vec![f64::NAN, 0.0, 0.5, -0.5], vec![0.0, 0.0, 0.0, 0.0]],
        );
        assert!(
            p[0] > 0.95 && p[1] < 0.05 && p[2] < 0.05 && p[3] < 0.05,
            "{p:?}"
        );
        assert!(model.feature_importance()[0] > 0.95);
        // A feature never missing in training sends NaN somewhere without failing.
        let p = predict(&model, &[vec![0.5], vec![f64::NAN]]);
        assert!(p[0].is_finite());
    }

    #[test]
    fn uses_a_categorical_feature() {
        // Categories 1, 4 and 7 of ten are positive: no single threshold on the code separates
        // them, a categorical split does.
        let mut rng = Pcg64Mcg::seed_from_u64(6);
        let codes: Vec<f64> = (0..5000)
            .map(|_| f64::from(rng.gen_range(0u8..10)))
            .collect();
        let noise: Vec<f64> = (0..5000).map(|_| rng.r#gen::<f64>()).collect();
        let labels: Vec<bool> = codes
            .iter()
            .map(|&c| [1.0, 4.0, 7.0].contains(&c))
            .collect();
        // One stump at full learning rate: a single categorical split must do it all.
        let params = BoostParams {
            max_depth: 1,
            num_trees: 1,
            learning_rate: 1.0,
            early_stop: false,
            ..BoostParams::default()
        };
        let cols = vec![codes.clone(), noise.clone()];
        let model = fit(&cols, &[true, false], &labels, &params);
        assert!(model.feature_importance()[0] > 0.99);
        let p = predict(&model, &[(0..10).map(f64::from).collect(), vec![0.5; 10]]);
        for (c, p) in p.iter().enumerate() {
            assert_eq!(*p > 0.5, [1, 4, 7].contains(&c), "category {c}: {p}");
        }
        // The same codes as numbers cannot be separated by one stump.
        let numeric = fit(&cols, &[false, false], &labels, &params);
        let a = auc(&labels, &predict(&numeric, &cols));
        assert!(a < 0.8, "numeric auc {a}");
        // Unknown, negative, fractional and missing codes are missing: no panic, a probability.
        let p = predict(
            &model,
            &[vec![11.0, -1.0, 2.5, f64::NAN, 1e300], vec![0.5; 5]],
        );
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
    }

    #[test]
    fn many_categories_share_a_rare_bin() {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let codes: Vec<f64> = (0..6000)
            .map(|_| f64::from(rng.gen_range(0u16..600)))
            .collect();
        let labels: Vec<bool> = codes.iter().map(|&c| c < 100.0).collect();
        let params = BoostParams {
            max_bins: 32,
            ..BoostParams::default()
        };
        let model = fit(std::slice::from_ref(&codes), &[true], &labels, &params);
        assert!(
            model.category_bins[0]
                .iter()
                .all(|&b| b < 32 || b == MISSING_BIN)
        );
        let p = predict(&model, &[codes]);
        assert!(auc(&labels, &p) > 0.5);
    }

    /// Exact Shapley values of one tree's path-dependent expectation, by enumerating subsets.
    fn brute_force_shap(model: &BoostedTrees, x: &[f64]) -> Vec<f64> {
        fn expect(tree: &Tree, cats: &[Vec<u8>], i: usize, x: &[f64], known: u32) -> f64 {
            let n = &tree.nodes[i];
            if n.is_leaf() {
                return n.value;
            }
            if known >> n.feature & 1 == 1 {
                let left = goes_left(n, tree, cats, x[n.feature as usize]);
                return expect(
                    tree,
                    cats,
                    if left { n.left } else { n.right } as usize,
                    x,
                    known,
                );
            }
            let (l, r) = (&tree.nodes[n.left as usize], &tree.nodes[n.right as usize]);
            (l.cover * expect(tree, cats, n.left as usize, x, known)
                + r.cover * expect(tree, cats, n.right as usize, x, known))
                / n.cover
        }
        let m = x.len();
        let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
        let mut phi = vec![0.0; m];
        for tree in &model.trees {
            for (j, p) in phi.iter_mut().enumerate() {
                for s in 0u32..(1 << m) {
                    if s >> j & 1 == 1 {
                        continue;
                    }
                    let k = s.count_ones() as usize;
                    let w = fact(k) * fact(m - k - 1) / fact(m);
                    let cats = &model.category_bins;
                    *p += w * (expect(tree, cats, 0, x, s | 1 << j) - expect(tree, cats, 0, x, s));
                }
            }
        }
        phi
    }

    #[test]
    fn contributions_add_up_and_are_exact_shapley_values() {
        let (mut cols, labels) = data(3000, 4, 8, |x| x[0] * x[1] > 0.0 || x[2] > 0.7);
        for (i, x) in cols[3].iter_mut().enumerate() {
            // A categorical column, with missing values, that matters a little.
            *x = if i % 7 == 0 {
                f64::NAN
            } else {
                f64::from(u8::from(labels[i] && i % 3 == 0)) + (i % 4) as f64
            };
        }
        for x in cols[1].iter_mut().step_by(5) {
            *x = f64::NAN;
        }
        let params = BoostParams {
            num_trees: 30,
            max_depth: 4,
            min_rows_per_leaf: 5,
            ..BoostParams::default()
        };
        let model = fit(&cols, &[false, false, false, true], &labels, &params);
        assert!(
            model
                .trees
                .iter()
                .any(|t| t.nodes.iter().any(|n| n.category_set.is_some()))
        );
        let (test, _) = data(200, 4, 9, |_| false);
        let mut test = test;
        test[3] = (0..200)
            .map(|i| if i % 9 == 0 { f64::NAN } else { (i % 6) as f64 })
            .collect();
        test[1][0] = f64::NAN;
        let refs: Vec<&[f64]> = test.iter().map(Vec::as_slice).collect();
        let mut logit = vec![0.0; 200];
        model.predict_logit(&refs, &mut logit).unwrap();
        let mut phi = vec![0.0; 200 * 4];
        model.contributions(&refs, &mut phi).unwrap();
        for (i, row) in phi.chunks(4).enumerate() {
            let sum = model.base_score + row.iter().sum::<f64>();
            assert!(
                (sum - logit[i]).abs() < 1e-9,
                "row {i}: {sum} vs {}",
                logit[i]
            );
        }
        for i in 0..10 {
            let x: Vec<f64> = test.iter().map(|c| c[i]).collect();
            let exact = brute_force_shap(&model, &x);
            for (a, b) in exact.iter().zip(&phi[i * 4..(i + 1) * 4]) {
                assert!(
                    (a - b).abs() < 1e-9,
                    "row {i}: {exact:?} vs {:?}",
                    &phi[i * 4..(i + 1) * 4]
                );
            }
        }
    }

    #[test]
    fn early_stopping_triggers_on_noise() {
        let (cols, _) = data(5000, 5, 10, |_| false);
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let labels: Vec<bool> = (0..5000).map(|_| rng.gen_bool(0.3)).collect();
        let params = BoostParams {
            num_trees: 200,
            ..BoostParams::default()
        };
        let mut calls = 0;
        let cols_ref: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let model = BoostedTrees::fit(
            &cols_ref,
            &[false; 5],
            &labels,
            None,
            &params,
            &mut |t, _, v| {
                assert_eq!(t, calls);
                assert!(v.is_some());
                calls += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert!(
            model.valid_log_loss.len() < 50,
            "built {}",
            model.valid_log_loss.len()
        );
        assert_eq!(model.valid_log_loss.len(), calls);
        assert_eq!(model.trees.len(), model.best_iteration);
        assert_eq!(
            model.valid_log_loss.len(),
            model.best_iteration + params.early_stop_rounds
        );
        // Whatever was kept predicts close to the base rate.
        let p = predict(&model, &cols);
        assert!(p.iter().all(|p| (0.1..0.5).contains(p)));
    }

    #[test]
    fn early_stopping_keeps_the_best_iteration() {
        let (cols, labels) = data(4000, 3, 12, |x| x[0] + 0.5 * x[1] > 0.0);
        let params = BoostParams {
            num_trees: 40,
            ..BoostParams::default()
        };
        let model = fit(&cols, &[false; 3], &labels, &params);
        let best = model.valid_log_loss[..]
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i + 1)
            .unwrap();
        assert!(model.best_iteration >= 20);
        // The kept trees end at (within tolerance of) the best validation loss.
        let kept = model.valid_log_loss[model.best_iteration - 1];
        assert!(kept <= model.valid_log_loss[best - 1] + EARLY_STOP_TOLERANCE * 40.0);
    }

    #[test]
    fn is_deterministic_for_any_thread_count() {
        let (mut cols, labels) = data(40_000, 4, 13, |x| x[0] * x[1] + x[2] > 0.1);
        for x in cols[2].iter_mut().step_by(11) {
            *x = f64::NAN;
        }
        let base = BoostParams {
            num_trees: 15,
            subsample: 0.7,
            seed: 5,
            ..BoostParams::default()
        };
        let a = fit(&cols, &[false; 4], &labels, &base);
        let b = fit(&cols, &[false; 4], &labels, &base);
        assert!(a == b);
        let c = fit(
            &cols,
            &[false; 4],
            &labels,
            &BoostParams {
                threads: 3,
                ..base.clone()
            },
        );
        assert!(a == c);
        let d = fit(
            &cols,
            &[false; 4],
            &labels,
            &BoostParams { seed: 6, ..base },
        );
        assert!(a != d);
    }

    #[test]
    fn serde_round_trip() {
        let (cols, labels) = data(2000, 3, 14, |x| x[0] > x[1]);
        let model = fit(
            &cols,
            &[false, false, true].map(|_| false),
            &labels,
            &BoostParams::default(),
        );
        let json = serde_json::to_string(&model).unwrap();
        let back: BoostedTrees = serde_json::from_str(&json).unwrap();
        // serde_json parses floats exactly only with its `float_roundtrip` feature; without it a
        // value may come back one ulp off, so compare structure exactly and numbers closely.
        assert_eq!(model.trees.len(), back.trees.len());
        for (a, b) in model.trees.iter().zip(&back.trees) {
            assert_eq!(a.nodes.len(), b.nodes.len());
            for (a, b) in a.nodes.iter().zip(&b.nodes) {
                assert_eq!(
                    (a.feature, a.left, a.right, a.default_left),
                    (b.feature, b.left, b.right, b.default_left)
                );
                assert!((a.threshold - b.threshold).abs() <= 1e-15 * a.threshold.abs());
            }
        }
        for (a, b) in predict(&model, &cols).iter().zip(predict(&back, &cols)) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn weights_shift_the_prior() {
        let (cols, labels) = data(2000, 2, 15, |x| x[0] > 0.0);
        let weights: Vec<f64> = labels.iter().map(|&y| if y { 3.0 } else { 1.0 }).collect();
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let params = BoostParams {
            num_trees: 1,
            early_stop: false,
            ..BoostParams::default()
        };
        let plain = BoostedTrees::fit(
            &refs,
            &[false; 2],
            &labels,
            None,
            &params,
            &mut no_observer(),
        )
        .unwrap();
        let weighted = BoostedTrees::fit(
            &refs,
            &[false; 2],
            &labels,
            Some(&weights),
            &params,
            &mut no_observer(),
        )
        .unwrap();
        assert!(weighted.base_score > plain.base_score + 0.5);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let cols = [vec![1.0, 2.0, 3.0, 4.0]];
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let labels = [true, false, true, false];
        let p = BoostParams::default();
        let fit_err =
            |cols: &[&[f64]], cat: &[bool], labels: &[bool], w: Option<&[f64]>, p: &BoostParams| {
                BoostedTrees::fit(cols, cat, labels, w, p, &mut no_observer()).unwrap_err()
            };
        assert!(fit_err(&[], &[], &labels, None, &p).contains("no feature"));
        assert!(fit_err(&[&[]], &[false], &[], None, &p).contains("no training rows"));
        assert!(fit_err(&refs, &[false], &[true; 4], None, &p).contains("single class"));
        assert!(fit_err(&refs, &[false], &[false; 4], None, &p).contains("single class"));
        assert!(fit_err(&refs, &[false], &labels[..3], None, &p).contains("rows"));
        assert!(fit_err(&refs, &[false, true], &labels, None, &p).contains("categorical flags"));
        assert!(fit_err(&refs, &[false], &labels, Some(&[1.0]), &p).contains("weights"));
        assert!(
            fit_err(&refs, &[false], &labels, Some(&[1.0, -1.0, 1.0, 1.0]), &p)
                .contains("weight of row 1")
        );
        assert!(
            fit_err(&refs, &[false], &labels, Some(&[0.0, 1.0, 0.0, 1.0]), &p).contains("weight 0")
        );
        assert!(
            fit_err(&[&[0.5, 1.0, 2.0, 3.0]], &[true], &labels, None, &p)
                .contains("category codes")
        );
        assert!(
            fit_err(&[&[-1.0, 1.0, 2.0, 3.0]], &[true], &labels, None, &p)
                .contains("category codes")
        );
        for bad in [
            BoostParams {
                num_trees: 0,
                ..p.clone()
            },
            BoostParams {
                max_depth: 0,
                ..p.clone()
            },
            BoostParams {
                max_depth: 33,
                ..p.clone()
            },
            BoostParams {
                learning_rate: f64::NAN,
                ..p.clone()
            },
            BoostParams {
                min_rows_per_leaf: 0,
                ..p.clone()
            },
            BoostParams {
                subsample: 0.0,
                ..p.clone()
            },
            BoostParams {
                validation_fraction: 1.0,
                ..p.clone()
            },
            BoostParams {
                early_stop_rounds: 0,
                ..p.clone()
            },
            BoostParams {
                l2: -1.0,
                ..p.clone()
            },
            BoostParams {
                max_bins: 256,
                ..p.clone()
            },
            BoostParams {
                max_bins: 1,
                ..p.clone()
            },
            BoostParams {
                threads: 0,
                ..p.clone()
            },
        ] {
            assert!(!fit_err(&refs, &[false], &labels, None, &bad).is_empty());
        }
        // Tiny data trains (to a model without splits) rather than failing.
        let model =
            BoostedTrees::fit(&refs, &[false], &labels, None, &p, &mut no_observer()).unwrap();
        let mut out = vec![0.0; 4];
        assert!(
            model
                .predict_logit(&[], &mut out)
                .unwrap_err()
                .contains("feature columns")
        );
        assert!(
            model
                .predict_logit(&[&[1.0]], &mut out)
                .unwrap_err()
                .contains("rows")
        );
        assert!(model.contributions(&refs, &mut out[..3]).is_err());
        assert!(model.predict_proba(&refs, &mut out).is_ok());
        // A corrupt model (e.g. edited JSON) is an error at prediction.
        let (cols, labels) = data(500, 1, 16, |x| x[0] > 0.0);
        let mut model = fit(&cols, &[false], &labels, &p);
        model.trees[0].nodes[0].left = 999;
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let mut out = vec![0.0; 500];
        assert!(
            model
                .predict_logit(&refs, &mut out)
                .unwrap_err()
                .contains("malformed")
        );
        let mut phi = vec![0.0; 500];
        assert!(model.contributions(&refs, &mut phi).is_err());
    }

    #[test]
    fn observer_can_cancel() {
        let (cols, labels) = data(1000, 2, 17, |x| x[0] > 0.0);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let err = BoostedTrees::fit(
            &refs,
            &[false; 2],
            &labels,
            None,
            &BoostParams::default(),
            &mut |t, _, _| {
                if t == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err, "cancelled");
    }

    #[test]
    fn infinities_are_extreme_values() {
        let mut x: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        x[999] = f64::INFINITY;
        x[0] = f64::NEG_INFINITY;
        let labels: Vec<bool> = (0..1000).map(|i| i >= 500).collect();
        let model = fit(&[x], &[false], &labels, &BoostParams::default());
        serde_json::to_string(&model).expect("every threshold is finite");
        let p = predict(
            &model,
            &[vec![f64::INFINITY, f64::NEG_INFINITY, f64::MAX, 10.0]],
        );
        assert!(
            p[0] > 0.9 && p[1] < 0.1 && p[2] > 0.9 && p[3] < 0.1,
            "{p:?}"
        );
    }

    /// Trees deeper than the complete layout allows are predicted through explicit children,
    /// and agree with the raw-threshold routing of the contributions.
    #[test]
    fn deep_trees_predict_like_shallow_ones() {
        let (mut cols, labels) = data(3000, 3, 18, |x| {
            (x[0] * 40.0).sin() * (x[1] * 30.0).cos() > 0.0
        });
        for x in cols[2].iter_mut().step_by(4) {
            *x = f64::NAN;
        }
        let params = BoostParams {
            num_trees: 5,
            max_depth: 16,
            min_rows_per_leaf: 1,
            l2: 0.0,
            early_stop: false,
            ..BoostParams::default()
        };
        let model = fit(&cols, &[false; 3], &labels, &params);
        assert!(model.trees.iter().any(|t| tree_depth(t) > HEAP_MAX_DEPTH));
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let mut logit = vec![0.0; 3000];
        model.predict_logit(&refs, &mut logit).unwrap();
        let mut phi = vec![0.0; 3000 * 3];
        model.contributions(&refs, &mut phi).unwrap();
        for (row, l) in phi.chunks(3).zip(&logit) {
            let sum = model.base_score + row.iter().sum::<f64>();
            assert!((sum - l).abs() < 1e-9, "{sum} vs {l}");
        }
        // Deep trees fit most of their (wiggly) training rows even after five small steps.
        let fitted = logit
            .iter()
            .zip(&labels)
            .filter(|(l, y)| (**l > 0.0) == **y)
            .count();
        assert!(fitted > 2700, "{fitted}");
    }

    /// Random small problems with NaN, ±∞, constant and categorical columns and random options:
    /// training never panics, and every model predicts finite values whose contributions add up.
    #[test]
    fn random_inputs_train_and_explain() {
        let mut rng = Pcg64Mcg::seed_from_u64(99);
        for case in 0..60 {
            let n = rng.gen_range(2..400);
            let nf = rng.gen_range(1..5);
            let categorical: Vec<bool> = (0..nf).map(|_| rng.gen_bool(0.3)).collect();
            let cols: Vec<Vec<f64>> = categorical
                .iter()
                .map(|&cat| {
                    let kind = rng.gen_range(0..4);
                    (0..n)
                        .map(|_| match (cat, kind, rng.gen_range(0..10)) {
                            (_, _, 0) => f64::NAN,
                            (true, _, _) => f64::from(rng.gen_range(0u8..6)),
                            (false, 0, _) => 1.0,
                            (false, 1, 1) => f64::INFINITY,
                            (false, 1, 2) => f64::NEG_INFINITY,
                            _ => rng.gen_range(-3.0..3.0f64).round(),
                        })
                        .collect()
                })
                .collect();
            let labels: Vec<bool> = (0..n).map(|i| i % 2 == 0 || rng.gen_bool(0.2)).collect();
            let params = BoostParams {
                num_trees: rng.gen_range(1..15),
                max_depth: rng.gen_range(1..12),
                min_rows_per_leaf: rng.gen_range(1..10),
                subsample: if rng.gen_bool(0.5) { 1.0 } else { 0.5 },
                early_stop: rng.gen_bool(0.5),
                max_bins: rng.gen_range(2..=255),
                l2: if rng.gen_bool(0.5) { 0.0 } else { 1.0 },
                threads: rng.gen_range(1..4),
                seed: case,
                ..BoostParams::default()
            };
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let model = match BoostedTrees::fit(
                &refs,
                &categorical,
                &labels,
                None,
                &params,
                &mut no_observer(),
            ) {
                Ok(m) => m,
                Err(e) => {
                    assert!(e.contains("single class"), "case {case}: {e}");
                    continue;
                }
            };
            let mut logit = vec![0.0; n];
            model.predict_logit(&refs, &mut logit).unwrap();
            let mut phi = vec![0.0; n * nf];
            model.contributions(&refs, &mut phi).unwrap();
            for (row, l) in phi.chunks(nf).zip(&logit) {
                assert!(l.is_finite(), "case {case}");
                let sum = model.base_score + row.iter().sum::<f64>();
                assert!(
                    (sum - l).abs() < 1e-9 * (1.0 + l.abs()),
                    "case {case}: {sum} vs {l}"
                );
            }
            let imp = model.feature_importance();
            assert_eq!(imp.len(), nf);
        }
    }

    /// A model's log-odds by walking the raw values down the trees, node by node: the routing
    /// of training and TreeSHAP, independent of the binned prediction layout.
    fn raw_logit(model: &BoostedTrees, columns: &[Vec<f64>], row: usize) -> f64 {
        let mut sum = model.base_score;
        for tree in &model.trees {
            let mut n = &tree.nodes[0];
            while !n.is_leaf() {
                let x = columns[n.feature as usize][row];
                let next = if goes_left(n, tree, &model.category_bins, x) {
                    n.left
                } else {
                    n.right
                };
                n = &tree.nodes[next as usize];
            }
            sum += n.value;
        }
        sum
    }

    /// The AVX2 walk (when this CPU has it) and the scalar walk give the raw routing's log-odds
    /// for narrow (< 32 bins mentioned) and wide categorical sets, NaN in both directions,
    /// trees shallower than the directly loaded levels and deeper than the register-table
    /// levels, and row counts off the 32-row groups.
    #[test]
    fn simd_and_scalar_walks_agree_with_raw_routing() {
        for (case, (codes, depth)) in [(12u16, 6), (12, 9), (200, 6), (200, 8), (12, 3), (200, 2)]
            .into_iter()
            .enumerate()
        {
            let mut rng = Pcg64Mcg::seed_from_u64(40 + case as u64);
            let n = 3000 + 13;
            let code_col: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 17 == 0 {
                        f64::NAN
                    } else {
                        f64::from(rng.gen_range(0..codes))
                    }
                })
                .collect();
            let (mut cols, _) = data(n, 3, 50 + case as u64, |_| false);
            for x in cols[1].iter_mut().step_by(7) {
                *x = f64::NAN;
            }
            cols.push(code_col);
            let labels: Vec<bool> = (0..n)
                .map(|i| {
                    let c = cols[3][i];
                    let odd = !c.is_nan() && (c as u32 * 7919) % 5 < 2;
                    (odd ^ (cols[0][i] > 0.2)) || cols[1][i].is_nan() && rng.gen_bool(0.7)
                })
                .collect();
            let params = BoostParams {
                num_trees: 12,
                max_depth: depth,
                min_rows_per_leaf: 2,
                early_stop: false,
                ..BoostParams::default()
            };
            let model = fit(&cols, &[false, false, false, true], &labels, &params);
            let compiled = CompiledTrees::new(&model).unwrap();
            assert_eq!(compiled.words == WIDE_WORDS, codes > 32, "case {case}");
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let expected: Vec<f64> = (0..n).map(|r| raw_logit(&model, &cols, r)).collect();
            for avx2 in [false, avx2_available()] {
                let c = CompiledTrees {
                    avx2,
                    ..CompiledTrees::new(&model).unwrap()
                };
                let (rows, mut scratch) = (c.block_rows(), BlockBins::default());
                let mut out = vec![0.0; n];
                for (b, block) in out.chunks_mut(rows).enumerate() {
                    c.predict_block(&refs, b * rows, block, &mut scratch);
                }
                for (r, (o, e)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (o - e).abs() < 1e-9,
                        "case {case}, avx2 {avx2}, row {r}: {o} vs {e}"
                    );
                }
            }
        }
    }

    /// The cache compiles once, predicts what the model predicts, and clones start empty.
    #[test]
    fn compiled_cache_compiles_once() {
        let (cols, labels) = data(500, 2, 21, |x| x[0] > x[1]);
        let model = fit(&cols, &[false; 2], &labels, &BoostParams::default());
        let cache = CompiledCache::default();
        let first: *const CompiledTrees = cache.get(&model).unwrap();
        let second: *const CompiledTrees = cache.get(&model).unwrap();
        assert_eq!(first, second);
        assert_eq!(format!("{:?}", cache.clone()), "CompiledCache(empty)");
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let (mut a, mut b) = (vec![0.0; 500], vec![0.0; 500]);
        model.predict_proba(&refs, &mut a).unwrap();
        cache
            .get(&model)
            .unwrap()
            .predict_proba(&refs, &mut b)
            .unwrap();
        assert_eq!(a, b);
        let err = cache.get(&model).unwrap().predict_proba(&refs[..1], &mut b);
        assert_eq!(err.unwrap_err(), "the model takes 2 feature columns, got 1");
    }

    /// The kernel's half of `benches/compare/gbt_kernel.py` (which writes the data, sets
    /// `GBT_COMPARE_DIR` and runs this); writes `ours.json` there. Does nothing otherwise.
    #[test]
    #[ignore = "run by benches/compare/gbt_kernel.py"]
    fn compare_with_sklearn_data() {
        use std::time::Instant;
        let Ok(dir) = std::env::var("GBT_COMPARE_DIR") else {
            return;
        };
        let dir = std::path::Path::new(&dir);
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
        let get = |k: &str| meta[k].as_u64().unwrap() as usize;
        let (nf, threads) = (get("features"), get("threads"));
        let mut categorical = vec![false; nf];
        for c in meta["categorical"].as_array().unwrap() {
            categorical[c.as_u64().unwrap() as usize] = true;
        }
        let read = |name: &str, rows: usize| -> (Vec<Vec<f64>>, Vec<bool>) {
            let x = std::fs::read(dir.join(format!("{name}_x.f64"))).unwrap();
            let x: Vec<f64> = x
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            let y = std::fs::read(dir.join(format!("{name}_y.u8"))).unwrap();
            (
                x.chunks(rows).map(<[f64]>::to_vec).collect(),
                y.iter().map(|&b| b == 1).collect(),
            )
        };
        let (train, labels) = read("train", get("rows"));
        let (test, _) = read("test", get("test_rows"));
        let params = BoostParams {
            num_trees: get("trees"),
            early_stop: false,
            threads,
            ..BoostParams::default()
        };
        let refs: Vec<&[f64]> = train.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        let model = BoostedTrees::fit(
            &refs,
            &categorical,
            &labels,
            None,
            &params,
            &mut no_observer(),
        )
        .unwrap();
        let train_s = t.elapsed().as_secs_f64();
        let test_proba = predict(&model, &test);
        // Scoring as SQL does it: one batch stream per core.
        let mut out = vec![0.0; labels.len()];
        let t = Instant::now();
        let per = labels.len().div_ceil(threads);
        std::thread::scope(|s| {
            for (k, chunk) in out.chunks_mut(per).enumerate() {
                let cols: Vec<&[f64]> = refs
                    .iter()
                    .map(|c| &c[k * per..k * per + chunk.len()])
                    .collect();
                let model = &model;
                s.spawn(move || {
                    for (b, batch) in chunk.chunks_mut(8192).enumerate() {
                        let bc: Vec<&[f64]> = cols
                            .iter()
                            .map(|c| &c[b * 8192..b * 8192 + batch.len()])
                            .collect();
                        model.predict_logit(&bc, batch).unwrap();
                    }
                });
            }
        });
        let predict_rows_per_s = labels.len() as f64 / t.elapsed().as_secs_f64();
        let rows = 20_000;
        let cols: Vec<&[f64]> = refs.iter().map(|c| &c[..rows]).collect();
        let mut phi = vec![0.0; rows * nf];
        let t = Instant::now();
        model.contributions(&cols, &mut phi).unwrap();
        let contributions_rows_per_s = rows as f64 / t.elapsed().as_secs_f64();
        let json = serde_json::json!({
            "train_s": train_s,
            "trees": model.trees.len(),
            "predict_rows_per_s": predict_rows_per_s,
            "contributions_rows_per_s": contributions_rows_per_s,
            "test_proba": test_proba,
        });
        std::fs::write(dir.join("ours.json"), json.to_string()).unwrap();
    }
}
