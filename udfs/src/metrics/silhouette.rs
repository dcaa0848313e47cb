//! Mean silhouette coefficient of a clustering (scikit-learn's `silhouette_score`), computed
//! exactly on a uniform sample of rows: plain Rust on column-major slices, no DataFusion types.
//!
//! For a sampled row `i` in cluster `A`: `a(i)` is its mean distance to the other sampled rows
//! of `A`, `b(i)` the smallest mean distance to the sampled rows of another cluster, and
//! `s(i) = (b - a) / max(a, b)`; `s(i) = 0` when `i` is alone in `A` (or `a = b = 0`). The score
//! is the mean of `s` over the sample. Distances are Euclidean (not squared) or `1 - cosine
//! similarity` (1 for a zero row), as in [`KMeansDistance`].
//!
//! All pairs of sampled rows are compared, so the cost is `m² × d` for `m` sampled rows (10,000
//! rows × 8 features: about half a second on one core). The pairs run through the k-means tile
//! kernel ([`crate::segments::kmeans`]), so a new distance is added there first.

use rand::SeedableRng;
use rand::seq::index;
use rand_pcg::Pcg64Mcg;

use crate::segments::kmeans::{
    KMeansDistance, TILE, for_each_tile, multiversion, sq_dist_tile, unit_columns,
};

/// Mean silhouette coefficient over a uniform random sample of at most `sample_size` rows (all
/// rows when there are fewer), drawn with `seed`. `columns[j][i]` is feature `j` of row `i`,
/// finite; `labels[i] < k` is its cluster.
///
/// `None` when fewer than two clusters have rows in the sample.
///
/// # Panics
/// If a label is not below `k` or the columns and `labels` differ in length.
pub fn silhouette(
    columns: &[&[f64]],
    labels: &[u32],
    k: usize,
    distance: KMeansDistance,
    sample_size: usize,
    seed: u64,
) -> Option<f64> {
    let n = labels.len();
    assert!(
        columns.iter().all(|c| c.len() == n),
        "columns and labels differ in length"
    );
    let rows: Vec<usize> = if sample_size >= n {
        (0..n).collect()
    } else {
        let mut rows = index::sample(&mut Pcg64Mcg::seed_from_u64(seed), n, sample_size).into_vec();
        // In row order, so gathering the sample reads the columns forwards.
        rows.sort_unstable();
        rows
    };
    let sample_labels: Vec<u32> = rows.iter().map(|&i| labels[i]).collect();
    let mut counts = vec![0usize; k];
    for &label in &sample_labels {
        assert!((label as usize) < k, "label {label} is not below k = {k}");
        counts[label as usize] += 1;
    }
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    let sample: Vec<Vec<f64>> = columns
        .iter()
        .map(|c| rows.iter().map(|&i| c[i]).collect())
        .collect();
    let sample = match distance {
        KMeansDistance::Euclidean => sample,
        KMeansDistance::Cosine => {
            unit_columns(&sample.iter().map(Vec::as_slice).collect::<Vec<_>>())
        }
    };
    let sample: Vec<&[f64]> = sample.iter().map(Vec::as_slice).collect();
    let cosine = distance == KMeansDistance::Cosine;
    Some(silhouette_sum(&sample, &sample_labels, &counts, cosine) / rows.len() as f64)
}

multiversion! {
    /// Sum of `s(i)` over all rows of `columns` (already normalised for cosine); `counts` are
    /// the rows per cluster.
    fn silhouette_sum(columns: &[&[f64]], labels: &[u32], counts: &[usize], cosine: bool) -> f64 {
        let m = labels.len();
        let mut row = vec![0.0; columns.len()];
        // Per-cluster distance sums from row `i`, split over lanes so that consecutive rows of
        // one cluster do not wait on each other's add.
        let mut lanes = vec![[0.0; TILE]; counts.len()];
        let mut total = 0.0;
        for (i, &own) in labels.iter().enumerate() {
            for (r, c) in row.iter_mut().zip(columns) {
                *r = c[i];
            }
            lanes.fill([0.0; TILE]);
            for_each_tile(columns, 0..m, |start, len, tile| {
                let dist = if cosine {
                    let mut dot = [0.0; TILE];
                    for (x, &u) in tile.iter().zip(&row) {
                        for (a, &v) in dot.iter_mut().zip(x.iter()) {
                            *a += v * u;
                        }
                    }
                    dot.map(|c| (1.0 - c).clamp(0.0, 2.0))
                } else {
                    sq_dist_tile(tile, &row).map(f64::sqrt)
                };
                for (l, (&dd, &label)) in dist.iter().zip(&labels[start..start + len]).enumerate() {
                    // The row itself is at distance 0, also when cosine would say 1.
                    lanes[label as usize][l] += if start + l == i { 0.0 } else { dd };
                }
            });
            let own = own as usize;
            if counts[own] < 2 {
                continue;
            }
            let mean = |c: usize| lanes[c].iter().sum::<f64>() / counts[c] as f64;
            let a = lanes[own].iter().sum::<f64>() / (counts[own] - 1) as f64;
            let b = (0..counts.len())
                .filter(|&c| c != own && counts[c] > 0)
                .map(mean)
                .fold(f64::INFINITY, f64::min);
            let scale = a.max(b);
            if scale > 0.0 {
                total += (b - a) / scale;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    fn naive_distance(x: &[f64], y: &[f64], distance: KMeansDistance) -> f64 {
        match distance {
            KMeansDistance::Euclidean => x
                .iter()
                .zip(y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt(),
            KMeansDistance::Cosine => {
                let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
                let (nx, ny) = (norm(x), norm(y));
                if nx == 0.0 || ny == 0.0 {
                    return 1.0;
                }
                let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
                (1.0 - dot / (nx * ny)).clamp(0.0, 2.0)
            }
        }
    }

    /// Textbook silhouette on row-major data.
    fn naive_silhouette(
        rows: &[Vec<f64>],
        labels: &[u32],
        k: usize,
        distance: KMeansDistance,
    ) -> f64 {
        let mut total = 0.0;
        for (i, x) in rows.iter().enumerate() {
            let mut sums = vec![0.0; k];
            let mut counts = vec![0usize; k];
            for (j, y) in rows.iter().enumerate() {
                counts[labels[j] as usize] += 1;
                if i != j {
                    sums[labels[j] as usize] += naive_distance(x, y, distance);
                }
            }
            let own = labels[i] as usize;
            if counts[own] == 1 {
                continue;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if a.max(b) > 0.0 {
                total += (b - a) / a.max(b);
            }
        }
        total / rows.len() as f64
    }

    #[test]
    fn hand_computed_one_dimension() {
        // Clusters {0, 1}, {4, 6}, {20}:
        //   row 0: a = 1, b = 5   -> 4/5      row 1: a = 1, b = 4   -> 3/4
        //   row 4: a = 2, b = 3.5 -> 3/7      row 6: a = 2, b = 5.5 -> 7/11
        //   row 20: alone -> 0
        let x = [0.0, 1.0, 4.0, 6.0, 20.0];
        let labels = [0, 0, 1, 1, 2];
        let score = silhouette(&[&x], &labels, 3, KMeansDistance::Euclidean, 100, 0).unwrap();
        let expected = (0.8 + 0.75 + 3.0 / 7.0 + 7.0 / 11.0) / 5.0;
        assert!((score - expected).abs() < 1e-15, "{score} vs {expected}");
    }

    #[test]
    fn hand_computed_cosine() {
        // Two directions, any magnitudes: within-cluster distance 0, across 1, so every s = 1;
        // the zero row (label 0) is at distance 1 from everything: a = 1, b = 1, s = 0.
        let x = [1.0, 3.0, 0.0, 0.0, 0.0];
        let y = [0.0, 0.0, 2.0, 0.5, 0.0];
        let labels = [0, 0, 1, 1, 0];
        let score = silhouette(&[&x, &y], &labels, 2, KMeansDistance::Cosine, 5, 0).unwrap();
        // Rows 0 and 1: a = (0 + 1) / 2, b = 1 -> 1/2. Rows 2 and 3: a = 0, b = (1 + 1 + 1) / 3
        // -> 1. Row 4: a = 1, b = 1 -> 0.
        assert!(
            (score - (0.5 + 0.5 + 1.0 + 1.0 + 0.0) / 5.0).abs() < 1e-15,
            "{score}"
        );
    }

    #[test]
    fn matches_brute_force_on_random_data() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let (n, d, k) = (203, 3, 4);
        let columns: Vec<Vec<f64>> = (0..d)
            .map(|_| (0..n).map(|_| rng.r#gen::<f64>() - 0.4).collect())
            .collect();
        // Labels loosely tied to the first feature, plus noise, and one singleton cluster.
        let mut labels: Vec<u32> = (0..n)
            .map(|i| ((columns[0][i] + 0.4) * 2.0 + rng.r#gen::<f64>()) as u32 % (k as u32 - 1))
            .collect();
        labels[50] = 3;
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| columns.iter().map(|c| c[i]).collect())
            .collect();
        let slices: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        for distance in [KMeansDistance::Euclidean, KMeansDistance::Cosine] {
            let all = silhouette(&slices, &labels, k, distance, n, 9).unwrap();
            let expected = naive_silhouette(&rows, &labels, k, distance);
            assert!(
                (all - expected).abs() < 1e-12,
                "{distance:?}: {all} vs {expected}"
            );

            // A sample: the same rows as drawn with the seed, scored by brute force.
            let sampled = silhouette(&slices, &labels, k, distance, 60, 9).unwrap();
            let picked = index::sample(&mut Pcg64Mcg::seed_from_u64(9), n, 60).into_vec();
            let sub_rows: Vec<Vec<f64>> = picked.iter().map(|&i| rows[i].clone()).collect();
            let sub_labels: Vec<u32> = picked.iter().map(|&i| labels[i]).collect();
            let expected = naive_silhouette(&sub_rows, &sub_labels, k, distance);
            assert!(
                (sampled - expected).abs() < 1e-12,
                "{distance:?}: {sampled} vs {expected}"
            );
            assert_eq!(
                sampled,
                silhouette(&slices, &labels, k, distance, 60, 9).unwrap()
            );
        }
    }

    #[test]
    fn needs_two_clusters_in_the_sample() {
        let x = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(
            silhouette(&[&x], &[1, 1, 1, 1], 3, KMeansDistance::Euclidean, 10, 0),
            None
        );
        assert_eq!(
            silhouette(&[&[]], &[], 3, KMeansDistance::Euclidean, 10, 0),
            None
        );
        // One row of another cluster: it is alone (s = 0), the others see it as b.
        let score = silhouette(&[&x], &[0, 0, 0, 1], 2, KMeansDistance::Euclidean, 10, 0);
        assert!(score.is_some());
        // A sample of one row holds one cluster only.
        assert_eq!(
            silhouette(&[&x], &[0, 1, 0, 1], 2, KMeansDistance::Euclidean, 1, 0),
            None
        );
    }
}
