//! k-means clustering kernel: Lloyd's algorithm with greedy k-means++ (or random) seeding on
//! column-major `f64` slices, plus [`assign`] for scoring rows against fitted centroids. Plain
//! Rust, no DataFusion types; the SQL functions wrapping it live in their own files.
//!
//! ## What it computes (scikit-learn's `KMeans`, algorithm `"lloyd"`)
//!
//! * Seeding: greedy k-means++ (`2 + ln k` local trials per centre, keeping the one that
//!   minimises the potential) or `k` distinct random rows.
//! * Iterations: assign every row to its nearest centroid, move each centroid to the mean of its
//!   rows. Stop when no label changed, or when the sum of squared centroid shifts is at most
//!   `tolerance × mean per-feature variance`, or after `max_iterations`.
//! * An empty cluster takes the row farthest from its centroid (several empty clusters take the
//!   farthest rows in order), as scikit-learn does.
//! * The reported inertia is recomputed against the returned centroids, so it is what
//!   [`assign`] would give: the sum of squared Euclidean distances to the nearest centroid.
//! * [`KMeansDistance::Cosine`] is spherical k-means: rows are L2-normalised (zero rows stay
//!   zero), centroids are re-normalised after each update, and inertia is measured between the
//!   unit vectors.
//!
//! ## Why it is fast
//!
//! Distances are computed directly as `Σ (x - c)²` (no `‖x‖² - 2x·c + ‖c‖²` expansion, which
//! loses precision when the data sit far from the origin) over tiles of `TILE` (8) rows: for each
//! centroid the squared distance of the tile's rows accumulates feature by feature in a
//! `[f64; TILE]` that stays in registers and vectorises across rows, reading the column-major
//! input without copying it. The loops are compiled twice, with and without AVX2 (see
//! `multiversion!`). The centroid sums are accumulated in the same pass, while the tile is still
//! in L1, split over the tile's lanes so that rows of one cluster do not wait on each other's
//! adds. Rows are split into fixed chunks; threads (`std::thread::scope`) take contiguous runs
//! of chunks.
//!
//! ## Determinism
//!
//! Chunk boundaries depend only on the row count, every chunk keeps its own partial sums, and
//! the partials are merged in chunk order, so a fit depends on the seed and the data only: the
//! same centroids, bit for bit, whatever `threads` is and whether the CPU has AVX2. Each of the
//! `n_init` runs draws its own seed from a generator seeded with `seed`.
//!
//! ## How to add to it
//!
//! A new seeding: a [`KMeansInit`] variant and a branch where `fit_data` seeds each run. A new
//! distance: a [`KMeansDistance`] variant, mapped onto squared Euclidean distance between
//! transformed rows (as cosine is), so the Lloyd loop stays one loop; [`assign`] then says how
//! it is reported.

use std::borrow::Borrow;
use std::fmt;
use std::ops::{ControlFlow, Range};

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Defines a function whose body is compiled twice, for the baseline CPU and, on x86-64, with
/// AVX2, the copy being chosen at run time. The distance loops vectorise across the rows of a
/// tile, so 4-wide vectors make them about 1.4× faster than SSE2's 2-wide ones. FMA stays off
/// and every lane does the same operations in the same order, so both copies return the same
/// bits. The body is pasted into both copies (rather than one calling an `#[inline(always)]`
/// other), so each copy has its own closures, compiled with its features. It must not be
/// generic.
macro_rules! multiversion {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) $(-> $ret)? $body

            fn portable($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[cfg(test)]
                let allowed = !$crate::segments::kmeans::PORTABLE_ONLY
                    .load(std::sync::atomic::Ordering::Relaxed);
                #[cfg(not(test))]
                let allowed = true;
                if allowed && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: this CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Set by tests to run the baseline copies of [`multiversion`] functions, to check that both
/// copies agree to the bit.
#[cfg(test)]
pub(crate) static PORTABLE_ONLY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How the first centroids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KMeansInit {
    /// Greedy k-means++ as in scikit-learn: each new centre is the best of `2 + ln k` rows drawn
    /// with probability proportional to their squared distance to the nearest centre so far.
    KMeansPlusPlus,
    /// `k` distinct rows drawn uniformly.
    Random,
}

/// The geometry rows are clustered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KMeansDistance {
    /// Squared Euclidean distance (what k-means minimises); [`assign`] reports its square root.
    Euclidean,
    /// Spherical k-means on L2-normalised rows; [`assign`] reports `1 - cosine similarity`.
    Cosine,
}

/// Options of [`fit`]. The caller validates them (`k >= 1`, a finite non-negative tolerance).
#[derive(Debug, Clone)]
pub struct KMeansParams {
    /// Number of clusters, at least 1.
    pub k: usize,
    /// Seeding method.
    pub init: KMeansInit,
    /// Upper bound on Lloyd iterations per run (0 returns the seeding itself).
    pub max_iterations: usize,
    /// Relative tolerance on the centroid shift (scikit-learn's `tol`, typically `1e-4`).
    pub tolerance: f64,
    /// Number of runs with different seeds; the lowest inertia wins (0 is taken as 1).
    pub n_init: usize,
    /// Seed of the whole fit.
    pub seed: u64,
    /// Distance the clusters are formed with.
    pub distance: KMeansDistance,
    /// Worker threads (0 or 1: the calling thread only). The result does not depend on it.
    pub threads: usize,
}

/// What [`fit`] tells its observer after every Lloyd iteration.
#[derive(Debug, Clone, Copy)]
pub struct FitProgress {
    /// Run index, `0..n_init`.
    pub run: usize,
    /// Iteration within the run, from 1.
    pub iteration: usize,
    /// Sum of squared distances of the rows to the centroids they were just assigned to (the
    /// centroids before this iteration's update). Never increases within a run.
    pub inertia: f64,
}

/// The best of the `n_init` runs.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// `k × dims` row-major; unit vectors (or zero) for [`KMeansDistance::Cosine`].
    pub centroids: Vec<f64>,
    /// Number of features.
    pub dims: usize,
    /// Number of clusters.
    pub k: usize,
    /// Sum of squared distances of the rows to their nearest returned centroid (between
    /// normalised rows and centroids for cosine).
    pub inertia: f64,
    /// Lloyd iterations the best run performed.
    pub iterations: usize,
    /// Whether the best run stopped before `max_iterations` (labels stable or shift within
    /// tolerance).
    pub converged: bool,
    /// Rows nearest to each returned centroid.
    pub cluster_sizes: Vec<u64>,
    /// Index of the best run, `0..n_init`.
    pub best_run: usize,
}

/// Why [`fit`] returned no model.
#[derive(Debug, Clone, PartialEq)]
pub enum KMeansError {
    /// The input has no rows.
    NoRows,
    /// Fewer rows than clusters.
    TooFewRows {
        /// Rows in the input.
        rows: usize,
        /// Clusters asked for.
        k: usize,
    },
    /// The observer asked to stop.
    Cancelled,
}

impl fmt::Display for KMeansError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KMeansError::NoRows => write!(f, "k-means needs at least one row, the input has none"),
            KMeansError::TooFewRows { rows, k } => write!(
                f,
                "k-means with k = {k} needs at least {k} rows, the input has {rows}"
            ),
            KMeansError::Cancelled => write!(f, "k-means was cancelled"),
        }
    }
}

impl std::error::Error for KMeansError {}

/// Rows handled together by the distance kernel: 8 `f64` are two AVX or four SSE registers per
/// accumulator, enough to hide the add latency without spilling.
pub(crate) const TILE: usize = 8;

/// Smallest chunk of rows a thread works on (a multiple of [`TILE`]); small enough to balance two
/// threads on 100k rows, large enough that the per-chunk partial sums cost nothing.
const MIN_CHUNK_ROWS: usize = 16 * 1024;

/// Most chunks per pass: bounds the memory of the per-chunk partials (`k × d` sums each).
const MAX_CHUNKS: usize = 256;

/// Chunk length for `n` rows. A function of `n` alone, which makes fits independent of the
/// thread count.
fn chunk_rows(n: usize) -> usize {
    n.div_ceil(MAX_CHUNKS)
        .max(MIN_CHUNK_ROWS)
        .next_multiple_of(TILE)
}

/// Clusters the rows of `columns` (`columns[j][i]` is feature `j` of row `i`; all columns have
/// the same length and finite values) into `params.k` clusters.
///
/// `observer` is called on the calling thread after every Lloyd iteration of every run;
/// returning `ControlFlow::Break(())` abandons the fit with [`KMeansError::Cancelled`].
///
/// # Panics
/// If `params.k` is 0 or the columns differ in length (the caller validates both).
pub fn fit(
    columns: &[&[f64]],
    params: &KMeansParams,
    observer: &mut dyn FnMut(FitProgress) -> ControlFlow<()>,
) -> Result<KMeansFit, KMeansError> {
    let n = columns.first().map_or(0, |c| c.len());
    fit_chunked(columns, params, observer, chunk_rows(n))
}

/// [`fit`] with an explicit chunk length, so tests can spread a small input over many chunks.
fn fit_chunked(
    columns: &[&[f64]],
    params: &KMeansParams,
    observer: &mut dyn FnMut(FitProgress) -> ControlFlow<()>,
    chunk: usize,
) -> Result<KMeansFit, KMeansError> {
    assert!(params.k > 0, "k-means needs k >= 1");
    let n = columns.first().map_or(0, |c| c.len());
    assert!(
        columns.iter().all(|c| c.len() == n),
        "k-means columns differ in length"
    );
    if n == 0 {
        return Err(KMeansError::NoRows);
    }
    if n < params.k {
        return Err(KMeansError::TooFewRows {
            rows: n,
            k: params.k,
        });
    }
    let threads = params.threads.max(1);
    match params.distance {
        KMeansDistance::Euclidean => fit_data(
            &Data {
                columns,
                chunk,
                threads,
            },
            params,
            observer,
        ),
        KMeansDistance::Cosine => {
            let owned = unit_columns(columns);
            let unit: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
            let data = Data {
                columns: &unit,
                chunk,
                threads,
            };
            fit_data(&data, params, observer)
        }
    }
}

/// Scores rows against fitted centroids: `labels[i]` is the nearest centroid and
/// `distances[i]` the distance to it — Euclidean (the square root of the squared L2 distance),
/// or for [`KMeansDistance::Cosine`] `1 - cosine similarity` (1 for a zero row).
///
/// For cosine the rows and centroids are L2-normalised on the fly and the label minimises
/// `‖x̂ - ĉ‖²` (`2 (1 - cos)` for non-zero centroids), exactly as [`fit`] assigns rows, so the
/// labels agree with the fit's cluster sizes. Single-threaded: DataFusion runs one call per
/// partition.
///
/// # Panics
/// If `k` is 0, `centroids` is not `k × columns.len()` long, or a column, `labels` and
/// `distances` differ in length.
pub fn assign(
    columns: &[&[f64]],
    centroids: &[f64],
    k: usize,
    distance: KMeansDistance,
    labels: &mut [u32],
    distances: &mut [f64],
) {
    let n = labels.len();
    let d = columns.len();
    assert!(k > 0, "k-means needs k >= 1");
    assert_eq!(centroids.len(), k * d, "centroids must be k × dims");
    assert_eq!(distances.len(), n, "labels and distances differ in length");
    assert!(
        columns.iter().all(|c| c.len() == n),
        "columns and labels differ in length"
    );
    if d == 0 {
        // No features: every row sits on every centroid.
        labels.fill(0);
        distances.fill(0.0);
        return;
    }
    match distance {
        KMeansDistance::Euclidean => assign_euclidean(columns, centroids, labels, distances),
        KMeansDistance::Cosine => {
            let mut unit_centroids = centroids.to_vec();
            for centre in unit_centroids.chunks_exact_mut(d) {
                normalise(centre);
            }
            assign_cosine(columns, &unit_centroids, labels, distances);
        }
    }
}

multiversion! {
    /// [`assign`] for [`KMeansDistance::Euclidean`].
    fn assign_euclidean(
        columns: &[&[f64]],
        centroids: &[f64],
        labels: &mut [u32],
        distances: &mut [f64],
    ) {
        for_each_tile(columns, 0..labels.len(), |start, len, tile| {
            let (best, nearest) = nearest_tile(tile, centroids);
            labels[start..start + len].copy_from_slice(&nearest[..len]);
            for (out, b) in distances[start..start + len].iter_mut().zip(&best) {
                *out = b.sqrt();
            }
        });
    }
}

multiversion! {
    /// [`assign`] for [`KMeansDistance::Cosine`], the centroids already normalised.
    fn assign_cosine(
        columns: &[&[f64]],
        unit_centroids: &[f64],
        labels: &mut [u32],
        distances: &mut [f64],
    ) {
        let d = columns.len();
        let mut unit = vec![[0.0; TILE]; d];
        for_each_tile(columns, 0..labels.len(), |start, len, tile| {
            unit_tile(tile, &mut unit);
            let (_, nearest) = nearest_tile(&unit, unit_centroids);
            labels[start..start + len].copy_from_slice(&nearest[..len]);
            for (l, out) in distances[start..start + len].iter_mut().enumerate() {
                let c = nearest[l] as usize;
                let centre = &unit_centroids[c * d..(c + 1) * d];
                let cos: f64 = unit.iter().zip(centre).map(|(x, &u)| x[l] * u).sum();
                *out = (1.0 - cos).clamp(0.0, 2.0);
            }
        });
    }
}

/// Population variance of one column (NumPy's `var`, `ddof = 0`), two-pass for accuracy.
pub(crate) fn column_variance(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = lane_sum(values, |v| v) / n;
    lane_sum(values, |v| (v - mean) * (v - mean)) / n
}

/// `Σ f(v)` with [`TILE`] independent accumulators, so the sum is not one long chain of
/// dependent adds.
fn lane_sum(values: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut lanes = [0.0; TILE];
    let mut tiles = values.chunks_exact(TILE);
    for tile in &mut tiles {
        for (lane, &v) in lanes.iter_mut().zip(tile) {
            *lane += f(v);
        }
    }
    lanes.iter().sum::<f64>() + tiles.remainder().iter().map(|&v| f(v)).sum::<f64>()
}

/// The rows a fit works on (already normalised for cosine) and how passes over them split.
struct Data<'a> {
    columns: &'a [&'a [f64]],
    /// Rows per chunk (see [`chunk_rows`]).
    chunk: usize,
    /// Threads per pass, at least 1.
    threads: usize,
}

impl Data<'_> {
    fn rows(&self) -> usize {
        self.columns[0].len()
    }

    fn dims(&self) -> usize {
        self.columns.len()
    }

    fn chunks(&self) -> usize {
        self.rows().div_ceil(self.chunk)
    }

    fn chunk_range(&self, c: usize) -> Range<usize> {
        c * self.chunk..((c + 1) * self.chunk).min(self.rows())
    }

    fn row(&self, i: usize) -> impl Iterator<Item = f64> + '_ {
        self.columns.iter().map(move |c| c[i])
    }
}

/// All `n_init` runs; the first run with the lowest inertia wins.
fn fit_data(
    data: &Data<'_>,
    params: &KMeansParams,
    observer: &mut dyn FnMut(FitProgress) -> ControlFlow<()>,
) -> Result<KMeansFit, KMeansError> {
    let mut variances = vec![0.0; data.dims()];
    par_for_each(data.threads, &mut variances, |j, v| {
        *v = column_variance(data.columns[j]);
    });
    // scikit-learn's `_tolerance`: the tolerance is relative to the spread of the data.
    let tolerance = params.tolerance * variances.iter().sum::<f64>() / data.dims() as f64;
    let mut seeds = Pcg64Mcg::seed_from_u64(params.seed);
    let mut best: Option<KMeansFit> = None;
    for run in 0..params.n_init.max(1) {
        let mut rng = Pcg64Mcg::seed_from_u64(seeds.r#gen());
        let initial = match params.init {
            KMeansInit::KMeansPlusPlus => kmeans_plus_plus(data, params.k, &mut rng),
            KMeansInit::Random => index::sample(&mut rng, data.rows(), params.k)
                .into_iter()
                .flat_map(|i| data.row(i))
                .collect(),
        };
        let fit = lloyd(data, initial, params, tolerance, run, observer)?;
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    Ok(best.expect("at least one run"))
}

/// One run of Lloyd's algorithm from `centroids`.
fn lloyd(
    data: &Data<'_>,
    mut centroids: Vec<f64>,
    params: &KMeansParams,
    tolerance: f64,
    run: usize,
    observer: &mut dyn FnMut(FitProgress) -> ControlFlow<()>,
) -> Result<KMeansFit, KMeansError> {
    let (d, k) = (data.dims(), params.k);
    // `u32::MAX` is no label, so the first pass counts every row as changed.
    let mut labels = vec![u32::MAX; data.rows()];
    let mut tallies: Vec<Tally> = (0..data.chunks()).map(|_| Tally::new(k, d)).collect();
    let mut iterations = 0;
    let mut converged = false;
    while iterations < params.max_iterations {
        iterations += 1;
        let pass = assign_pass(data, &centroids, &mut labels, &mut tallies);
        let progress = FitProgress {
            run,
            iteration: iterations,
            inertia: pass.inertia,
        };
        if observer(progress).is_break() {
            return Err(KMeansError::Cancelled);
        }
        if pass.changed == 0 {
            // Same labels, same means: the centroids would not move.
            converged = true;
            break;
        }
        let shift = update_centroids(data, &mut centroids, &labels, pass, params.distance);
        if shift <= tolerance {
            converged = true;
            break;
        }
    }
    // Score against the centroids returned, so inertia and sizes match what `assign` gives.
    let last = assign_pass(data, &centroids, &mut labels, &mut tallies);
    Ok(KMeansFit {
        centroids,
        dims: d,
        k,
        inertia: last.inertia,
        iterations,
        converged,
        cluster_sizes: last.counts,
        best_run: run,
    })
}

/// What one assignment pass learns about a chunk (or, merged, about all rows).
#[derive(Debug, Clone)]
struct Tally {
    /// Per-cluster sums of the rows, `k × d`.
    sums: Vec<f64>,
    /// Rows per cluster.
    counts: Vec<u64>,
    /// Sum of squared distances to the nearest centroid.
    inertia: f64,
    /// Rows whose label changed.
    changed: u64,
}

impl Tally {
    fn new(k: usize, d: usize) -> Self {
        Tally {
            sums: vec![0.0; k * d],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        }
    }

    fn clear(&mut self) {
        self.sums.fill(0.0);
        self.counts.fill(0);
        self.inertia = 0.0;
        self.changed = 0;
    }

    fn add(&mut self, other: &Tally) {
        for (s, o) in self.sums.iter_mut().zip(&other.sums) {
            *s += o;
        }
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
    }
}

/// Labels every row with its nearest centroid and tallies the clusters, chunks in parallel,
/// merged in chunk order.
fn assign_pass(
    data: &Data<'_>,
    centroids: &[f64],
    labels: &mut [u32],
    tallies: &mut [Tally],
) -> Tally {
    let mut work: Vec<(&mut [u32], &mut Tally)> = labels
        .chunks_mut(data.chunk)
        .zip(tallies.iter_mut())
        .collect();
    par_for_each(data.threads, &mut work, |c, (labels, tally)| {
        assign_chunk(data.columns, data.chunk_range(c), centroids, labels, tally);
    });
    let mut total = Tally::new(tallies[0].counts.len(), data.dims());
    for tally in tallies.iter() {
        total.add(tally);
    }
    total
}

/// Largest `k × d` for which [`assign_chunk`] splits the cluster sums over [`TILE`] lanes (lane
/// `l` takes the tile's row `l`): consecutive rows of one cluster then add into different
/// memory and do not wait on each other's store. 512 sums × 8 lanes × 8 bytes stay within L1;
/// beyond, rows add straight into the sums (with many features the adds of one row overlap).
const MAX_LANED_SUMS: usize = 512;

multiversion! {
    /// [`assign_pass`] on the rows of one chunk (`labels` is that chunk's slice).
    fn assign_chunk(
        columns: &[&[f64]],
        rows: Range<usize>,
        centroids: &[f64],
        labels: &mut [u32],
        tally: &mut Tally,
    ) {
        let d = columns.len();
        let k = tally.counts.len();
        let first = rows.start;
        tally.clear();
        let laned = k * d <= MAX_LANED_SUMS;
        let mut sum_lanes = vec![[0.0; TILE]; if laned { k * d } else { 0 }];
        let mut count_lanes = vec![[0u64; TILE]; k];
        let mut inertia = [0.0; TILE];
        let mut changed = 0;
        let sums = &mut tally.sums[..];
        for_each_tile(columns, rows, |start, len, tile| {
            let (best, nearest) = nearest_tile(tile, centroids);
            let nearest = &nearest[..len];
            for (l, (old, &new)) in labels[start - first..start - first + len]
                .iter_mut()
                .zip(nearest)
                .enumerate()
            {
                changed += u64::from(*old != new);
                *old = new;
                count_lanes[new as usize][l] += 1;
            }
            // Sum while the tile is still in L1.
            if laned {
                for (j, x) in tile.iter().enumerate() {
                    for (l, (&v, &c)) in x.iter().zip(nearest).enumerate() {
                        sum_lanes[c as usize * d + j][l] += v;
                    }
                }
            } else {
                for (l, &c) in nearest.iter().enumerate() {
                    let sum = &mut sums[c as usize * d..(c as usize + 1) * d];
                    for (s, x) in sum.iter_mut().zip(tile) {
                        *s += x[l];
                    }
                }
            }
            for (lane, &b) in inertia.iter_mut().zip(&best[..len]) {
                *lane += b;
            }
        });
        if laned {
            for (s, lanes) in sums.iter_mut().zip(&sum_lanes) {
                *s = lanes.iter().sum();
            }
        }
        for (count, lanes) in tally.counts.iter_mut().zip(&count_lanes) {
            *count = lanes.iter().sum();
        }
        tally.inertia = inertia.iter().sum();
        tally.changed = changed;
    }
}

/// Moves every centroid to the mean of its rows (re-normalised for cosine) after relocating
/// empty clusters; returns the sum of squared shifts.
fn update_centroids(
    data: &Data<'_>,
    centroids: &mut [f64],
    labels: &[u32],
    mut tally: Tally,
    distance: KMeansDistance,
) -> f64 {
    let d = data.dims();
    if tally.counts.contains(&0) {
        relocate_empty(data, centroids, labels, &mut tally);
    }
    let mut shift = 0.0;
    let mut mean = vec![0.0; d];
    let clusters = centroids
        .chunks_exact_mut(d)
        .zip(tally.sums.chunks_exact(d))
        .zip(&tally.counts);
    for ((centre, sum), &count) in clusters {
        if count == 0 {
            // Emptied by a relocation (its only row moved on): keep it where it was.
            continue;
        }
        for (m, s) in mean.iter_mut().zip(sum) {
            *m = s / count as f64;
        }
        if distance == KMeansDistance::Cosine {
            normalise(&mut mean);
        }
        for (c, m) in centre.iter_mut().zip(&mean) {
            shift += (m - *c) * (m - *c);
            *c = *m;
        }
    }
    shift
}

/// scikit-learn's `_relocate_empty_clusters`: the i-th empty cluster takes the i-th farthest
/// row from its centroid, whose contribution leaves its old cluster.
fn relocate_empty(data: &Data<'_>, centroids: &[f64], labels: &[u32], tally: &mut Tally) {
    let d = data.dims();
    let empty: Vec<usize> = (0..tally.counts.len())
        .filter(|&c| tally.counts[c] == 0)
        .collect();
    let far = farthest_rows(data, centroids, labels, empty.len());
    for (&e, &i) in empty.iter().zip(&far) {
        let old = labels[i] as usize;
        for (j, v) in data.row(i).enumerate() {
            tally.sums[old * d + j] -= v;
            tally.sums[e * d + j] = v;
        }
        tally.counts[old] -= 1;
        tally.counts[e] = 1;
    }
}

/// The `m` rows farthest from their assigned centroid, farthest first, earlier rows first
/// among equals. Only runs when a cluster is empty, so a scalar scan is fine.
fn farthest_rows(data: &Data<'_>, centroids: &[f64], labels: &[u32], m: usize) -> Vec<usize> {
    let d = data.dims();
    let mut far: Vec<(f64, usize)> = Vec::with_capacity(m + 1);
    for (i, &label) in labels.iter().enumerate() {
        let centre = &centroids[label as usize * d..(label as usize + 1) * d];
        let dist: f64 = data
            .row(i)
            .zip(centre)
            .map(|(v, c)| (v - c) * (v - c))
            .sum();
        if far.len() < m || far.last().is_some_and(|&(f, _)| dist > f) {
            let at = far.partition_point(|&(f, _)| f >= dist);
            far.insert(at, (dist, i));
            far.truncate(m);
        }
    }
    far.into_iter().map(|(_, i)| i).collect()
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`): a uniform first centre, then for each
/// next one `2 + ln k` candidates drawn with probability proportional to their squared
/// distance to the nearest centre so far, keeping the candidate that leaves the smallest
/// potential (sum of those distances).
fn kmeans_plus_plus(data: &Data<'_>, k: usize, rng: &mut Pcg64Mcg) -> Vec<f64> {
    let (n, d) = (data.rows(), data.dims());
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(k * d);
    centroids.extend(data.row(rng.gen_range(0..n)));
    let mut closest = vec![f64::INFINITY; n];
    let mut potentials = vec![0.0; data.chunks()];
    tighten(data, &centroids, &mut closest, &mut potentials);
    while centroids.len() < k * d {
        let total: f64 = potentials.iter().sum();
        let candidates: Vec<f64> = (0..trials)
            .map(|_| {
                let target = rng.r#gen::<f64>() * total;
                draw_by_potential(target, &closest, &potentials, data.chunk)
            })
            .flat_map(|i| data.row(i))
            .collect();
        let per_chunk = trial_potentials(data, &candidates, &closest);
        let mut best = (0, f64::INFINITY);
        for t in 0..trials {
            let potential: f64 = per_chunk.iter().map(|p| p[t]).sum();
            if potential < best.1 {
                best = (t, potential);
            }
        }
        let centre = &candidates[best.0 * d..(best.0 + 1) * d];
        tighten(data, centre, &mut closest, &mut potentials);
        centroids.extend_from_slice(centre);
    }
    centroids
}

/// `closest[i] = min(closest[i], ‖x_i - centre‖²)`, and each chunk's potential summed in row
/// order — the order [`draw_by_potential`] scans in, so the two agree to the last bit.
fn tighten(data: &Data<'_>, centre: &[f64], closest: &mut [f64], potentials: &mut [f64]) {
    let mut work: Vec<(&mut [f64], &mut f64)> = closest
        .chunks_mut(data.chunk)
        .zip(potentials.iter_mut())
        .collect();
    par_for_each(data.threads, &mut work, |c, (closest, potential)| {
        **potential = tighten_chunk(data.columns, data.chunk_range(c), centre, closest);
    });
}

multiversion! {
    /// [`tighten`] on the rows of one chunk (`closest` is that chunk's slice); returns its
    /// potential.
    fn tighten_chunk(
        columns: &[&[f64]],
        rows: Range<usize>,
        centre: &[f64],
        closest: &mut [f64],
    ) -> f64 {
        let first = rows.start;
        for_each_tile(columns, rows, |start, len, tile| {
            let dist = sq_dist_tile(tile, centre);
            let closest = &mut closest[start - first..start - first + len];
            for (cl, &dd) in closest.iter_mut().zip(&dist) {
                if dd < *cl {
                    *cl = dd;
                }
            }
        });
        closest.iter().sum()
    }
}

/// The first row whose running sum of `closest` exceeds `target` (`searchsorted` on the
/// cumulative potential), found through the chunk potentials.
fn draw_by_potential(target: f64, closest: &[f64], potentials: &[f64], chunk: usize) -> usize {
    let mut before = 0.0;
    for (c, &potential) in potentials.iter().enumerate() {
        if before + potential > target {
            let rows = &closest[c * chunk..((c + 1) * chunk).min(closest.len())];
            let local = target - before;
            let mut running = 0.0;
            for (i, &v) in rows.iter().enumerate() {
                running += v;
                if running > local {
                    return c * chunk + i;
                }
            }
            // Rounding between the two sums: the chunk's last row that is not a centre.
            if let Some(i) = rows.iter().rposition(|&v| v > 0.0) {
                return c * chunk + i;
            }
        }
        before += potential;
    }
    // Zero potential: every row already coincides with a centre, any row will do.
    closest.iter().rposition(|&v| v > 0.0).unwrap_or(0)
}

/// For each candidate centre (`candidates` is `trials × d`), the potential per chunk if it were
/// added: `Σ min(closest[i], ‖x_i - candidate‖²)`. All candidates in one pass over the rows.
fn trial_potentials(data: &Data<'_>, candidates: &[f64], closest: &[f64]) -> Vec<Vec<f64>> {
    let d = data.dims();
    let trials = candidates.len() / d;
    let mut per_chunk = vec![vec![0.0; trials]; data.chunks()];
    par_for_each(data.threads, &mut per_chunk, |c, potentials| {
        trial_chunk(
            data.columns,
            data.chunk_range(c),
            candidates,
            closest,
            potentials,
        );
    });
    per_chunk
}

multiversion! {
    /// [`trial_potentials`] on the rows of one chunk (`closest` covers all rows).
    fn trial_chunk(
        columns: &[&[f64]],
        rows: Range<usize>,
        candidates: &[f64],
        closest: &[f64],
        potentials: &mut [f64],
    ) {
        let d = columns.len();
        let mut lanes = vec![[0.0; TILE]; potentials.len()];
        for_each_tile(columns, rows, |start, len, tile| {
            let closest = &closest[start..start + len];
            for (lane, centre) in lanes.iter_mut().zip(candidates.chunks_exact(d)) {
                let dist = sq_dist_tile(tile, centre);
                for ((a, &dd), &cl) in lane.iter_mut().zip(&dist).zip(closest) {
                    *a += if dd < cl { dd } else { cl };
                }
            }
        });
        for (p, lane) in potentials.iter_mut().zip(&lanes) {
            *p = lane.iter().sum();
        }
    }
}

/// Runs `work(index, item)` for every item, the items split into `threads` contiguous runs
/// (the calling thread takes the first). Results must not depend on the split: each item is
/// worked on by exactly one thread, in the same way whichever it is.
pub(crate) fn par_for_each<T: Send>(
    threads: usize,
    items: &mut [T],
    work: impl Fn(usize, &mut T) + Sync,
) {
    let per_thread = items.len().div_ceil(threads.max(1)).max(1);
    if per_thread >= items.len() {
        for (i, item) in items.iter_mut().enumerate() {
            work(i, item);
        }
        return;
    }
    let work = &work;
    std::thread::scope(|scope| {
        let mut runs = items.chunks_mut(per_thread).enumerate();
        let own = runs.next();
        for (r, run) in runs {
            scope.spawn(move || {
                for (i, item) in run.iter_mut().enumerate() {
                    work(r * per_thread + i, item);
                }
            });
        }
        if let Some((_, run)) = own {
            for (i, item) in run.iter_mut().enumerate() {
                work(i, item);
            }
        }
    });
}

/// Calls `f(first_row, rows, tile)` for consecutive runs of [`TILE`] rows of `rows`, where
/// `tile[j]` holds feature `j` of those rows, read in place from the columns. A last, shorter
/// run is copied into a zero-padded tile, so every row goes through the same arithmetic; `f`
/// must ignore the lanes from `rows` on. `f` is called from one place only, so that it is
/// inlined into the loop.
#[inline(always)]
pub(crate) fn for_each_tile(
    columns: &[&[f64]],
    rows: Range<usize>,
    mut f: impl FnMut(usize, usize, &[&[f64; TILE]]),
) {
    let whole_end = rows.start + (rows.end - rows.start) / TILE * TILE;
    let padded: Vec<[f64; TILE]> = if whole_end < rows.end {
        let len = rows.end - whole_end;
        columns
            .iter()
            .map(|c| {
                let mut lanes = [0.0; TILE];
                lanes[..len].copy_from_slice(&c[whole_end..rows.end]);
                lanes
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut tile: Vec<&[f64; TILE]> = Vec::with_capacity(columns.len());
    for start in rows.clone().step_by(TILE) {
        tile.clear();
        let len =
            if start < whole_end {
                tile.extend(columns.iter().map(|c| {
                    <&[f64; TILE]>::try_from(&c[start..start + TILE]).expect("a whole tile")
                }));
                TILE
            } else {
                tile.extend(padded.iter());
                rows.end - start
            };
        f(start, len, &tile);
    }
}

/// Squared Euclidean distance of each row of a tile to `centre`, accumulated feature by
/// feature in registers.
#[inline(always)]
pub(crate) fn sq_dist_tile<T: Borrow<[f64; TILE]>>(tile: &[T], centre: &[f64]) -> [f64; TILE] {
    let mut acc = [0.0; TILE];
    for (x, &c) in tile.iter().zip(centre) {
        for (a, &v) in acc.iter_mut().zip(x.borrow()) {
            let t = v - c;
            *a += t * t;
        }
    }
    acc
}

/// Nearest centroid (`centroids` is `k × tile.len()` row-major, `tile` not empty) of each row
/// of a tile and its squared distance; the lowest index wins ties.
#[inline(always)]
fn nearest_tile<T: Borrow<[f64; TILE]>>(
    tile: &[T],
    centroids: &[f64],
) -> ([f64; TILE], [u32; TILE]) {
    let mut best = [f64::INFINITY; TILE];
    let mut nearest = [0u32; TILE];
    for (c, centre) in centroids.chunks_exact(tile.len()).enumerate() {
        let dist = sq_dist_tile(tile, centre);
        let c = c as u32;
        // Branch-free selects, so the comparison vectorises too.
        for ((b, l), &dd) in best.iter_mut().zip(nearest.iter_mut()).zip(&dist) {
            let closer = dd < *b;
            *b = if closer { dd } else { *b };
            *l = if closer { c } else { *l };
        }
    }
    (best, nearest)
}

/// Writes the L2-normalised rows of `tile` into `out` (zero rows stay zero). [`fit`] and
/// [`assign`] both normalise through here, so they see the same unit vectors to the bit.
#[inline(always)]
pub(crate) fn unit_tile<T: Borrow<[f64; TILE]>>(tile: &[T], out: &mut [[f64; TILE]]) {
    let mut norm = [0.0; TILE];
    for x in tile {
        for (s, &v) in norm.iter_mut().zip(x.borrow()) {
            *s += v * v;
        }
    }
    let norm = norm.map(f64::sqrt);
    for (o, x) in out.iter_mut().zip(tile) {
        for ((o, &v), &s) in o.iter_mut().zip(x.borrow()).zip(&norm) {
            *o = if s > 0.0 { v / s } else { 0.0 };
        }
    }
}

/// The rows of `columns`, L2-normalised, as new columns.
pub(crate) fn unit_columns(columns: &[&[f64]]) -> Vec<Vec<f64>> {
    let n = columns.first().map_or(0, |c| c.len());
    let mut out: Vec<Vec<f64>> = (0..columns.len()).map(|_| Vec::with_capacity(n)).collect();
    let mut unit = vec![[0.0; TILE]; columns.len()];
    for_each_tile(columns, 0..n, |_, len, tile| {
        unit_tile(tile, &mut unit);
        for (o, u) in out.iter_mut().zip(&unit) {
            o.extend_from_slice(&u[..len]);
        }
    });
    out
}

/// Scales `v` to unit L2 norm (a zero vector stays zero).
fn normalise(v: &mut [f64]) {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(k: usize) -> KMeansParams {
        KMeansParams {
            k,
            init: KMeansInit::KMeansPlusPlus,
            max_iterations: 300,
            tolerance: 1e-4,
            n_init: 1,
            seed: 7,
            distance: KMeansDistance::Euclidean,
            threads: 1,
        }
    }

    fn go_on(_: FitProgress) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn slices(columns: &[Vec<f64>]) -> Vec<&[f64]> {
        columns.iter().map(Vec::as_slice).collect()
    }

    /// `n × d` uniform values in `[0, 1)`, column-major.
    fn uniform(n: usize, d: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        (0..d)
            .map(|_| (0..n).map(|_| rng.r#gen::<f64>()).collect())
            .collect()
    }

    /// `per` rows around each centre (uniform noise of half-width `spread`), interleaved so
    /// clusters are not contiguous; returns the columns and the planted labels.
    fn blobs(centres: &[&[f64]], per: usize, spread: f64, seed: u64) -> (Vec<Vec<f64>>, Vec<u32>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let d = centres[0].len();
        let mut columns = vec![Vec::new(); d];
        let mut planted = Vec::new();
        for i in 0..per * centres.len() {
            let c = i % centres.len();
            for (col, &x) in columns.iter_mut().zip(centres[c]) {
                col.push(x + spread * (2.0 * rng.r#gen::<f64>() - 1.0));
            }
            planted.push(c as u32);
        }
        (columns, planted)
    }

    /// Whether two labelings are the same partition (equal up to renaming the clusters).
    fn same_partition(a: &[u32], b: &[u32]) -> bool {
        let mut forward = std::collections::HashMap::new();
        let mut backward = std::collections::HashMap::new();
        a.iter().zip(b).all(|(&x, &y)| {
            *forward.entry(x).or_insert(y) == y && *backward.entry(y).or_insert(x) == x
        })
    }

    fn labels_of(columns: &[&[f64]], fit: &KMeansFit, distance: KMeansDistance) -> Vec<u32> {
        let n = columns[0].len();
        let (mut labels, mut distances) = (vec![0; n], vec![0.0; n]);
        assign(
            columns,
            &fit.centroids,
            fit.k,
            distance,
            &mut labels,
            &mut distances,
        );
        labels
    }

    /// Row-by-row nearest centroid: (label, squared distance), lowest index on ties.
    fn naive_nearest(row: &[f64], centroids: &[f64]) -> (u32, f64) {
        let mut best = (0, f64::INFINITY);
        for (c, centre) in centroids.chunks_exact(row.len()).enumerate() {
            let dist: f64 = row.iter().zip(centre).map(|(x, c)| (x - c) * (x - c)).sum();
            if dist < best.1 {
                best = (c as u32, dist);
            }
        }
        best
    }

    fn rows_of(columns: &[Vec<f64>]) -> Vec<Vec<f64>> {
        (0..columns[0].len())
            .map(|i| columns.iter().map(|c| c[i]).collect())
            .collect()
    }

    /// Textbook Lloyd on row-major data for `iterations` steps (an empty cluster keeps its
    /// centroid); returns the centroids and their inertia.
    fn naive_lloyd(
        rows: &[Vec<f64>],
        mut centroids: Vec<f64>,
        iterations: usize,
    ) -> (Vec<f64>, f64) {
        let d = rows[0].len();
        let k = centroids.len() / d;
        for _ in 0..iterations {
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0usize; k];
            for row in rows {
                let (c, _) = naive_nearest(row, &centroids);
                counts[c as usize] += 1;
                for (j, x) in row.iter().enumerate() {
                    sums[c as usize * d + j] += x;
                }
            }
            for c in 0..k {
                if counts[c] > 0 {
                    for j in 0..d {
                        centroids[c * d + j] = sums[c * d + j] / counts[c] as f64;
                    }
                }
            }
        }
        let inertia = rows.iter().map(|r| naive_nearest(r, &centroids).1).sum();
        (centroids, inertia)
    }

    const FOUR_CENTRES: [&[f64]; 4] = [
        &[0.0, 0.0, 0.0],
        &[10.0, 0.0, 0.0],
        &[0.0, 10.0, 5.0],
        &[-8.0, -6.0, 10.0],
    ];

    #[test]
    fn recovers_well_separated_blobs() {
        let (columns, planted) = blobs(&FOUR_CENTRES, 250, 1.0, 1);
        let columns = slices(&columns);
        for init in [KMeansInit::KMeansPlusPlus, KMeansInit::Random] {
            for threads in [1, 3] {
                let p = KMeansParams {
                    init,
                    threads,
                    n_init: 3,
                    ..params(4)
                };
                let fit = fit_chunked(&columns, &p, &mut go_on, 64).unwrap();
                let labels = labels_of(&columns, &fit, KMeansDistance::Euclidean);
                assert!(
                    same_partition(&labels, &planted),
                    "{init:?}, {threads} threads"
                );
                assert!(fit.converged);
                assert_eq!(fit.cluster_sizes, vec![250; 4]);
                assert_eq!((fit.dims, fit.k, fit.centroids.len()), (3, 4, 12));
                // Each centroid lands within the noise of a planted centre.
                for centre in fit.centroids.chunks_exact(3) {
                    let near = FOUR_CENTRES
                        .iter()
                        .any(|p| p.iter().zip(centre).all(|(a, b)| (a - b).abs() < 0.2));
                    assert!(near, "{centre:?}");
                }
            }
        }
    }

    #[test]
    fn kmeans_plus_plus_seeds_one_centre_per_blob() {
        let (columns, planted) = blobs(&FOUR_CENTRES, 100, 1.0, 2);
        let columns = slices(&columns);
        let p = KMeansParams {
            max_iterations: 0,
            ..params(4)
        };
        let fit = fit(&columns, &p, &mut go_on).unwrap();
        assert_eq!((fit.iterations, fit.converged), (0, false));
        let rows = rows_of(&columns.iter().map(|c| c.to_vec()).collect::<Vec<_>>());
        let mut blobs_hit: Vec<u32> = fit
            .centroids
            .chunks_exact(3)
            .map(|c| {
                let i = rows
                    .iter()
                    .position(|r| r == c)
                    .expect("centroids are rows");
                planted[i]
            })
            .collect();
        blobs_hit.sort_unstable();
        assert_eq!(blobs_hit, vec![0, 1, 2, 3]);
    }

    #[test]
    fn inertia_never_increases() {
        let columns = uniform(2000, 3, 3);
        let columns = slices(&columns);
        for distance in [KMeansDistance::Euclidean, KMeansDistance::Cosine] {
            let p = KMeansParams {
                init: KMeansInit::Random,
                tolerance: 0.0,
                distance,
                ..params(7)
            };
            let mut seen = Vec::new();
            let fit = fit(&columns, &p, &mut |progress| {
                seen.push(progress.inertia);
                ControlFlow::Continue(())
            })
            .unwrap();
            assert!(
                seen.len() > 5,
                "{distance:?}: only {} iterations",
                seen.len()
            );
            assert_eq!(seen.len(), fit.iterations);
            for w in seen.windows(2) {
                assert!(w[1] <= w[0] * (1.0 + 1e-12), "{distance:?}: {seen:?}");
            }
            assert!(fit.inertia <= seen[seen.len() - 1] * (1.0 + 1e-12));
        }
    }

    #[test]
    fn same_seed_same_fit_whatever_the_threads() {
        let columns = uniform(3001, 4, 4);
        let columns = slices(&columns);
        for distance in [KMeansDistance::Euclidean, KMeansDistance::Cosine] {
            let p = |threads| KMeansParams {
                threads,
                n_init: 3,
                distance,
                ..params(5)
            };
            let one = fit_chunked(&columns, &p(1), &mut go_on, 64).unwrap();
            for threads in [2, 3, 8] {
                let many = fit_chunked(&columns, &p(threads), &mut go_on, 64).unwrap();
                assert_eq!(one.centroids, many.centroids, "{threads} threads");
                assert_eq!(one.inertia.to_bits(), many.inertia.to_bits());
                assert_eq!(
                    (one.iterations, one.best_run, &one.cluster_sizes),
                    (many.iterations, many.best_run, &many.cluster_sizes)
                );
            }
            let again = fit_chunked(&columns, &p(1), &mut go_on, 64).unwrap();
            assert_eq!(one.centroids, again.centroids);
            let other_seed = KMeansParams { seed: 8, ..p(1) };
            let other = fit_chunked(&columns, &other_seed, &mut go_on, 64).unwrap();
            assert_ne!(one.centroids, other.centroids);
        }
    }

    #[test]
    fn more_runs_never_fit_worse() {
        let columns = uniform(1500, 2, 5);
        let columns = slices(&columns);
        let one = fit(&columns, &params(9), &mut go_on).unwrap();
        let p = KMeansParams {
            n_init: 6,
            ..params(9)
        };
        let mut runs = std::collections::BTreeSet::new();
        let six = fit(&columns, &p, &mut |progress| {
            runs.insert(progress.run);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(runs.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
        assert!(six.inertia <= one.inertia);
        assert!(six.best_run < 6);
    }

    #[test]
    fn too_few_rows_or_none() {
        let columns = uniform(3, 2, 6);
        let columns = slices(&columns);
        let err = fit(&columns, &params(4), &mut go_on).unwrap_err();
        assert_eq!(err, KMeansError::TooFewRows { rows: 3, k: 4 });
        assert_eq!(
            err.to_string(),
            "k-means with k = 4 needs at least 4 rows, the input has 3"
        );
        let empty: [&[f64]; 2] = [&[], &[]];
        let err = fit(&empty, &params(1), &mut go_on).unwrap_err();
        assert_eq!(err, KMeansError::NoRows);
        assert_eq!(
            err.to_string(),
            "k-means needs at least one row, the input has none"
        );
        assert!(fit(&[], &params(1), &mut go_on).is_err());
        // k = n is enough.
        let fit = fit(&columns, &params(3), &mut go_on).unwrap();
        assert_eq!(fit.cluster_sizes, vec![1, 1, 1]);
        assert_eq!(fit.inertia, 0.0);
    }

    #[test]
    fn observer_can_cancel() {
        let columns = uniform(500, 2, 7);
        let columns = slices(&columns);
        let p = KMeansParams {
            tolerance: 0.0,
            init: KMeansInit::Random,
            ..params(6)
        };
        let mut calls = 0;
        let err = fit(&columns, &p, &mut |progress| {
            calls += 1;
            assert_eq!((progress.run, progress.iteration), (0, calls));
            if calls == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap_err();
        assert_eq!((err, calls), (KMeansError::Cancelled, 2));
        assert_eq!(KMeansError::Cancelled.to_string(), "k-means was cancelled");
    }

    #[test]
    fn empty_cluster_takes_the_farthest_row() {
        // Rows 0, 1, 10, 11 and a third centroid far away: it gets no row in the first pass.
        let column = [0.0, 1.0, 10.0, 11.0];
        let columns: [&[f64]; 1] = [&column];
        let data = Data {
            columns: &columns,
            chunk: 8,
            threads: 1,
        };
        let p = KMeansParams {
            tolerance: 0.0,
            ..params(3)
        };
        let fit = lloyd(&data, vec![0.5, 10.5, 100.0], &p, 0.0, 0, &mut go_on).unwrap();
        // All rows are 0.5 from their centroid; the earliest, row 0, moves to the empty
        // cluster and leaves row 1 alone in cluster 0.
        assert_eq!(fit.centroids, vec![1.0, 10.5, 0.0]);
        assert_eq!(fit.cluster_sizes, vec![1, 2, 1]);
        assert_eq!(fit.inertia, 0.5);
        assert!(fit.converged);

        // Fewer distinct rows than clusters: the fit still ends, every row counted once.
        let column = [0.0, 0.0, 0.0, 5.0, 5.0, 5.0];
        let columns: [&[f64]; 1] = [&column];
        let fit = super::fit(&columns, &params(3), &mut go_on).unwrap();
        assert_eq!(fit.cluster_sizes.iter().sum::<u64>(), 6);
        assert_eq!(fit.inertia, 0.0);
    }

    #[test]
    fn cosine_groups_rows_by_direction() {
        // Three directions, magnitudes from 0.1 to 100: Euclidean k-means splits by magnitude,
        // spherical k-means by direction.
        let directions = [[1.0, 0.2, 0.0], [0.0, 1.0, 0.3], [0.4, 0.0, 1.0]];
        let mut rng = Pcg64Mcg::seed_from_u64(8);
        let mut columns = vec![Vec::new(); 3];
        let mut planted = Vec::new();
        for i in 0..600 {
            let c = i % 3;
            let magnitude = 0.1 + 99.9 * rng.r#gen::<f64>();
            for (col, &x) in columns.iter_mut().zip(&directions[c]) {
                col.push(magnitude * (x + 0.05 * (2.0 * rng.r#gen::<f64>() - 1.0)));
            }
            planted.push(c as u32);
        }
        let columns = slices(&columns);
        let cosine = KMeansParams {
            distance: KMeansDistance::Cosine,
            ..params(3)
        };
        let fit = fit(&columns, &cosine, &mut go_on).unwrap();
        let labels = labels_of(&columns, &fit, KMeansDistance::Cosine);
        assert!(same_partition(&labels, &planted));
        assert_eq!(fit.cluster_sizes, vec![200; 3]);
        for centre in fit.centroids.chunks_exact(3) {
            let norm: f64 = centre.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-12);
        }
        let euclidean = super::fit(&columns, &params(3), &mut go_on).unwrap();
        let labels = labels_of(&columns, &euclidean, KMeansDistance::Euclidean);
        assert!(!same_partition(&labels, &planted));
    }

    #[test]
    fn assign_matches_naive_reference() {
        let (n, d, k) = (1003, 5, 6);
        let mut columns = uniform(n, d, 9);
        for col in &mut columns {
            // Some negative values for cosine, and one zero row.
            for v in col.iter_mut() {
                *v -= 0.3;
            }
            col[17] = 0.0;
        }
        let centroids: Vec<f64> = uniform(k * d, 1, 10)[0].iter().map(|v| v - 0.3).collect();
        let rows = rows_of(&columns);
        let columns = slices(&columns);
        let (mut labels, mut distances) = (vec![0; n], vec![0.0; n]);

        assign(
            &columns,
            &centroids,
            k,
            KMeansDistance::Euclidean,
            &mut labels,
            &mut distances,
        );
        for (i, row) in rows.iter().enumerate() {
            let (label, dist) = naive_nearest(row, &centroids);
            assert_eq!(labels[i], label, "row {i}");
            assert!((distances[i] - dist.sqrt()).abs() < 1e-12, "row {i}");
        }

        assign(
            &columns,
            &centroids,
            k,
            KMeansDistance::Cosine,
            &mut labels,
            &mut distances,
        );
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for (i, row) in rows.iter().enumerate() {
            let mut best = (0, f64::INFINITY);
            for (c, centre) in centroids.chunks_exact(d).enumerate() {
                let dot: f64 = row.iter().zip(centre).map(|(x, y)| x * y).sum();
                let nr = norm(row);
                let cos = if nr > 0.0 {
                    dot / (nr * norm(centre))
                } else {
                    0.0
                };
                if 1.0 - cos < best.1 {
                    best = (c as u32, 1.0 - cos);
                }
            }
            if i != 17 {
                assert_eq!(labels[i], best.0, "row {i}");
            }
            assert!((distances[i] - best.1).abs() < 1e-12, "row {i}");
        }
        // A zero row is equally far from every centroid (up to rounding of their norms).
        assert_eq!(distances[17], 1.0);

        // No features: everything is at distance 0 of centroid 0.
        assign(
            &[],
            &[],
            2,
            KMeansDistance::Euclidean,
            &mut labels[..3],
            &mut distances[..3],
        );
        assert_eq!(
            (&labels[..3], &distances[..3]),
            (&[0, 0, 0][..], &[0.0; 3][..])
        );
    }

    #[test]
    fn lloyd_matches_naive_reference() {
        let columns = uniform(777, 3, 11);
        let rows = rows_of(&columns);
        let columns = slices(&columns);
        let data = Data {
            columns: &columns,
            chunk: 64,
            threads: 2,
        };
        let initial: Vec<f64> = [5, 100, 300, 500, 700]
            .iter()
            .flat_map(|&i| rows[i].clone())
            .collect();
        for iterations in [1, 4, 30] {
            let p = KMeansParams {
                max_iterations: iterations,
                tolerance: 0.0,
                ..params(5)
            };
            let fit = lloyd(&data, initial.clone(), &p, 0.0, 0, &mut go_on).unwrap();
            let (centroids, inertia) = naive_lloyd(&rows, initial.clone(), fit.iterations);
            assert!(fit.iterations <= iterations);
            for (a, b) in fit.centroids.iter().zip(&centroids) {
                assert!((a - b).abs() < 1e-12, "{iterations}: {a} vs {b}");
            }
            assert!(
                (fit.inertia - inertia).abs() < 1e-9 * inertia,
                "{iterations}"
            );
        }
    }

    #[test]
    fn fit_inertia_is_that_of_the_returned_centroids() {
        let columns = uniform(900, 4, 12);
        let rows = rows_of(&columns);
        let columns = slices(&columns);
        let p = KMeansParams {
            max_iterations: 3,
            ..params(4)
        };
        let fit = fit(&columns, &p, &mut go_on).unwrap();
        let inertia: f64 = rows
            .iter()
            .map(|r| naive_nearest(r, &fit.centroids).1)
            .sum();
        assert!((fit.inertia - inertia).abs() < 1e-9 * inertia);
        let labels = labels_of(&columns, &fit, KMeansDistance::Euclidean);
        let mut sizes = vec![0u64; 4];
        for l in labels {
            sizes[l as usize] += 1;
        }
        assert_eq!(sizes, fit.cluster_sizes);
    }

    #[test]
    fn many_clusters_and_features_sum_unlaned() {
        // k × d = 600 > MAX_LANED_SUMS: rows add straight into the cluster sums.
        let (k, d) = (30, 20);
        let columns = uniform(400, d, 13);
        let rows = rows_of(&columns);
        let columns = slices(&columns);
        let data = Data {
            columns: &columns,
            chunk: 64,
            threads: 2,
        };
        let initial: Vec<f64> = (0..k).flat_map(|c| rows[c * 13].clone()).collect();
        let p = KMeansParams {
            max_iterations: 5,
            tolerance: 0.0,
            ..params(k)
        };
        let fit = lloyd(&data, initial.clone(), &p, 0.0, 0, &mut go_on).unwrap();
        let (centroids, inertia) = naive_lloyd(&rows, initial, fit.iterations);
        for (a, b) in fit.centroids.iter().zip(&centroids) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert!((fit.inertia - inertia).abs() < 1e-9 * inertia);
    }

    #[test]
    fn baseline_and_avx2_copies_give_the_same_bits() {
        use std::sync::atomic::Ordering::Relaxed;
        let columns = uniform(2001, 5, 14);
        let columns = slices(&columns);
        let run = |portable: bool| {
            PORTABLE_ONLY.store(portable, Relaxed);
            let mut out = Vec::new();
            for distance in [KMeansDistance::Euclidean, KMeansDistance::Cosine] {
                let p = KMeansParams {
                    distance,
                    threads: 2,
                    ..params(6)
                };
                let fit = fit_chunked(&columns, &p, &mut go_on, 64).unwrap();
                let (mut labels, mut distances) = (vec![0; 2001], vec![0.0; 2001]);
                assign(
                    &columns,
                    &fit.centroids,
                    6,
                    distance,
                    &mut labels,
                    &mut distances,
                );
                out.push((fit.centroids, fit.inertia.to_bits(), labels, distances));
            }
            PORTABLE_ONLY.store(false, Relaxed);
            out
        };
        assert_eq!(run(true), run(false));
    }

    #[test]
    fn chunks_depend_on_rows_only() {
        assert_eq!(chunk_rows(10), MIN_CHUNK_ROWS);
        assert_eq!(chunk_rows(1_000_000), MIN_CHUNK_ROWS);
        let big = chunk_rows(100_000_000);
        assert!(big.is_multiple_of(TILE) && 100_000_000usize.div_ceil(big) <= MAX_CHUNKS);
    }
}
