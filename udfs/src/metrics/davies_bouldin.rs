//! Davies–Bouldin index of a clustering (scikit-learn's `davies_bouldin_score`): plain Rust on
//! column-major slices, no DataFusion types. Lower is better; 0 is the best.
//!
//! For each cluster `i`, its spread `s_i` is the mean Euclidean distance of its rows to its
//! centroid; for each pair, `R_ij = (s_i + s_j) / ‖c_i - c_j‖`. The index is the mean over
//! clusters of `max_{j ≠ i} R_ij`. Empty clusters are left out. As in scikit-learn, the index is
//! 0 when every spread or every centroid distance is within `1e-8` of 0, and a pair of
//! coinciding centroids counts as `R = 0`. Unlike scikit-learn, which recomputes the centroids
//! as the cluster means, the centroids are given (k-means returns the means anyway).

/// The Davies–Bouldin index of the clustering `labels` (`labels[i] < k`) of the rows of
/// `columns` (`columns[j][i]` is feature `j` of row `i`) around `centroids` (`k × d`,
/// row-major). `None` when fewer than two clusters have rows.
///
/// # Panics
/// If a label is not below `k`, `centroids` is not `k × columns.len()` long, or the columns and
/// `labels` differ in length.
pub fn davies_bouldin(
    columns: &[&[f64]],
    labels: &[u32],
    centroids: &[f64],
    k: usize,
) -> Option<f64> {
    let d = columns.len();
    assert_eq!(centroids.len(), k * d, "centroids must be k × dims");
    assert!(
        columns.iter().all(|c| c.len() == labels.len()),
        "columns and labels differ in length"
    );
    let centre = |c: usize| &centroids[c * d..(c + 1) * d];
    let mut spread = vec![0.0; k];
    let mut counts = vec![0u64; k];
    for (i, &label) in labels.iter().enumerate() {
        let c = label as usize;
        assert!(c < k, "label {label} is not below k = {k}");
        let sq: f64 = columns
            .iter()
            .zip(centre(c))
            .map(|(col, &m)| (col[i] - m) * (col[i] - m))
            .sum();
        spread[c] += sq.sqrt();
        counts[c] += 1;
    }
    let present: Vec<usize> = (0..k).filter(|&c| counts[c] > 0).collect();
    if present.len() < 2 {
        return None;
    }
    let spread: Vec<f64> = present
        .iter()
        .map(|&c| spread[c] / counts[c] as f64)
        .collect();
    let distance = |a: usize, b: usize| {
        centre(a)
            .iter()
            .zip(centre(b))
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    };
    // scikit-learn's `np.allclose(…, 0)` guards (absolute tolerance 1e-8).
    let all_pairs_close = present
        .iter()
        .enumerate()
        .all(|(p, &a)| present[p + 1..].iter().all(|&b| distance(a, b) <= 1e-8));
    if spread.iter().all(|s| s.abs() <= 1e-8) || all_pairs_close {
        return Some(0.0);
    }
    let worst: f64 = present
        .iter()
        .enumerate()
        .map(|(p, &a)| {
            present
                .iter()
                .enumerate()
                .filter(|&(q, _)| q != p)
                .map(|(q, &b)| {
                    let dist = distance(a, b);
                    // scikit-learn divides by infinity for coinciding centroids.
                    if dist == 0.0 {
                        0.0
                    } else {
                        (spread[p] + spread[q]) / dist
                    }
                })
                .fold(0.0, f64::max)
        })
        .sum();
    Some(worst / present.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Clusters {0, 2} around 1 (spread 1), {10, 14} around 12 (spread 2), {20} around 20
        // (spread 0). R_01 = 3/11, R_02 = 1/19, R_12 = 2/8: maxima 3/11, 3/11, 1/4.
        let x = [0.0, 2.0, 10.0, 14.0, 20.0];
        let labels = [0, 0, 1, 1, 2];
        let db = davies_bouldin(&[&x], &labels, &[1.0, 12.0, 20.0], 3).unwrap();
        let expected = (3.0 / 11.0 + 3.0 / 11.0 + 0.25) / 3.0;
        assert!((db - expected).abs() < 1e-15, "{db} vs {expected}");

        // An empty fourth cluster (its centroid anywhere) changes nothing.
        let db = davies_bouldin(&[&x], &labels, &[1.0, 12.0, 20.0, 3.0], 4).unwrap();
        assert!((db - expected).abs() < 1e-15);
    }

    #[test]
    fn hand_computed_two_dimensions() {
        // Cluster 0: (0,0), (2,0) around (1,0): spread 1. Cluster 1: (0,4), (0,6) around (0,5):
        // spread 1. Centroid distance √26: both R = 2/√26.
        let x = [0.0, 2.0, 0.0, 0.0];
        let y = [0.0, 0.0, 4.0, 6.0];
        let db = davies_bouldin(&[&x, &y], &[0, 0, 1, 1], &[1.0, 0.0, 0.0, 5.0], 2).unwrap();
        assert!((db - 2.0 / 26f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn degenerate_cases() {
        let x = [1.0, 1.0, 5.0];
        // One non-empty cluster.
        assert_eq!(davies_bouldin(&[&x], &[0, 0, 0], &[2.0, 9.0], 2), None);
        assert_eq!(davies_bouldin(&[&[]], &[], &[2.0, 9.0], 2), None);
        // Every row on its centroid: spreads all 0.
        assert_eq!(davies_bouldin(&[&x], &[0, 0, 1], &[1.0, 5.0], 2), Some(0.0));
        // Coinciding centroids.
        assert_eq!(davies_bouldin(&[&x], &[0, 0, 1], &[3.0, 3.0], 2), Some(0.0));
    }
}
