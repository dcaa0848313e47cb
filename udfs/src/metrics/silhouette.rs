//! The mean silhouette coefficient of a clustering (scikit-learn's `silhouette_score`), on a
//! uniform random sample of rows: for each sampled row, `a` is its mean distance to the other
//! sampled rows of its cluster, `b` the smallest mean distance to the sampled rows of another
//! cluster, and its silhouette `(b − a) / max(a, b)` (0 for a row alone in its cluster). Quadratic
//! in the sample size, so it is always computed on a sample.

use rand::SeedableRng;
use rand::seq::index::sample;

use crate::segments::kmeans::KMeansDistance;

/// The distance between rows `i` and `j` (Euclidean, or 1 − cosine).
fn distance(columns: &[Vec<f64>], i: usize, j: usize, kind: KMeansDistance) -> f64 {
    match kind {
        KMeansDistance::Euclidean => columns
            .iter()
            .map(|c| (c[i] - c[j]) * (c[i] - c[j]))
            .sum::<f64>()
            .sqrt(),
        KMeansDistance::Cosine => {
            let (mut dot, mut ni, mut nj) = (0.0, 0.0, 0.0);
            for c in columns {
                dot += c[i] * c[j];
                ni += c[i] * c[i];
                nj += c[j] * c[j];
            }
            if ni == 0.0 || nj == 0.0 {
                1.0
            } else {
                1.0 - dot / (ni.sqrt() * nj.sqrt())
            }
        }
    }
}

/// Mean silhouette over at most `sample_size` rows drawn with `seed`; `None` when fewer than two
/// clusters are non-empty in the sample.
pub fn silhouette(
    columns: &[&[f64]],
    labels: &[u32],
    k: usize,
    kind: KMeansDistance,
    sample_size: usize,
    seed: u64,
) -> Option<f64> {
    let n = labels.len();
    let idx: Vec<usize> = if n <= sample_size {
        (0..n).collect()
    } else {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x51_1e77e);
        sample(&mut rng, n, sample_size).into_vec()
    };
    let m = idx.len();
    // Gather the sample contiguously (row access below is random).
    let rows: Vec<Vec<f64>> = columns
        .iter()
        .map(|c| idx.iter().map(|&i| c[i]).collect())
        .collect();
    let lab: Vec<usize> = idx.iter().map(|&i| labels[i] as usize).collect();
    let mut sizes = vec![0usize; k];
    for &l in &lab {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return None;
    }
    let mut sums = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..m {
        sums.fill(0.0);
        for j in 0..m {
            if i != j {
                sums[lab[j]] += distance(&rows, i, j, kind);
            }
        }
        let own = lab[i];
        if sizes[own] <= 1 {
            continue; // a singleton's silhouette is 0
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let s = if a.max(b) > 0.0 {
            (b - a) / a.max(b)
        } else {
            0.0
        };
        total += s;
    }
    Some(total / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        // Points 0, 1 (cluster 0) and 4, 6 (cluster 1) on a line.
        // Row 0: a = 1, b = (4 + 6) / 2 = 5 → 0.8;  row 1: a = 1, b = 4 → 0.75
        // Row 4: a = 2, b = (4 + 3) / 2 = 3.5 → 3/7; row 6: a = 2, b = 5.5 → 7/11
        let x = [0.0, 1.0, 4.0, 6.0];
        let s = silhouette(&[&x], &[0, 0, 1, 1], 2, KMeansDistance::Euclidean, 100, 0).unwrap();
        let want = (0.8 + 0.75 + 1.5 / 3.5 + 3.5 / 5.5) / 4.0;
        assert!((s - want).abs() < 1e-12, "{s} vs {want}");
        assert_eq!(
            silhouette(&[&x], &[0, 0, 0, 0], 2, KMeansDistance::Euclidean, 100, 0),
            None
        );
        // A singleton counts as 0.
        let s = silhouette(&[&x[..3]], &[0, 0, 1], 2, KMeansDistance::Euclidean, 100, 0).unwrap();
        let want = ((4.0 - 1.0) / 4.0 + (3.0 - 1.0) / 3.0 + 0.0) / 3.0;
        assert!((s - want).abs() < 1e-12);
    }

    #[test]
    fn samples_are_deterministic_and_bounded() {
        let x: Vec<f64> = (0..5000)
            .map(|i| (i % 7) as f64 + (i / 2500) as f64 * 100.0)
            .collect();
        let labels: Vec<u32> = (0..5000).map(|i| (i / 2500) as u32).collect();
        let a = silhouette(&[&x], &labels, 2, KMeansDistance::Euclidean, 300, 9).unwrap();
        let b = silhouette(&[&x], &labels, 2, KMeansDistance::Euclidean, 300, 9).unwrap();
        assert_eq!(a, b);
        assert!(a > 0.9, "{a}");
    }
}
