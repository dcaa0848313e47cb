//! The Davies–Bouldin index of a clustering (scikit-learn's `davies_bouldin_score`): for each
//! cluster, the worst ratio `(s_i + s_j) / d(c_i, c_j)` over the other clusters, averaged, where
//! `s_i` is the mean Euclidean distance of cluster i's rows to its centroid. Lower is better.
//! Centroids are recomputed as the cluster means of the given rows (as scikit-learn does), so
//! the index describes the rows evaluated, not the training data.

/// The index, or `None` when fewer than two clusters are non-empty.
pub fn davies_bouldin(
    columns: &[&[f64]],
    labels: &[u32],
    _centroids: &[f64],
    k: usize,
) -> Option<f64> {
    let d = columns.len();
    let mut counts = vec![0usize; k];
    let mut means = vec![0.0; k * d];
    for (r, &l) in labels.iter().enumerate() {
        let l = l as usize;
        counts[l] += 1;
        for (j, c) in columns.iter().enumerate() {
            means[l * d + j] += c[r];
        }
    }
    for (l, &n) in counts.iter().enumerate() {
        if n > 0 {
            for v in &mut means[l * d..(l + 1) * d] {
                *v /= n as f64;
            }
        }
    }
    let live: Vec<usize> = (0..k).filter(|&l| counts[l] > 0).collect();
    if live.len() < 2 {
        return None;
    }
    let mut spread = vec![0.0; k];
    for (r, &l) in labels.iter().enumerate() {
        let l = l as usize;
        let dist: f64 = columns
            .iter()
            .enumerate()
            .map(|(j, c)| (c[r] - means[l * d + j]).powi(2))
            .sum::<f64>()
            .sqrt();
        spread[l] += dist;
    }
    for &l in &live {
        spread[l] /= counts[l] as f64;
    }
    let centre_distance = |a: usize, b: usize| -> f64 {
        (0..d)
            .map(|j| (means[a * d + j] - means[b * d + j]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut total = 0.0;
    for &i in &live {
        let worst = live
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| {
                let m = centre_distance(i, j);
                if m > 0.0 {
                    (spread[i] + spread[j]) / m
                } else {
                    f64::INFINITY
                }
            })
            .fold(0.0, f64::max);
        total += worst;
    }
    Some(total / live.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        // Clusters {0, 2} (mean 1, spread 1) and {10, 14} (mean 12, spread 2): (1 + 2) / 11.
        let x = [0.0, 2.0, 10.0, 14.0];
        let db = davies_bouldin(&[&x], &[0, 0, 1, 1], &[], 2).unwrap();
        assert!((db - 3.0 / 11.0).abs() < 1e-12, "{db}");
        assert_eq!(davies_bouldin(&[&x], &[1, 1, 1, 1], &[], 2), None);
        // Three clusters: each takes its worst neighbour.
        let x = [0.0, 2.0, 10.0, 14.0, 30.0, 30.0];
        let db = davies_bouldin(&[&x], &[0, 0, 1, 1, 2, 2], &[], 3).unwrap();
        let want = ((3.0f64 / 11.0) + (3.0f64 / 11.0) + (2.0f64 / 18.0)) / 3.0;
        assert!((db - want).abs() < 1e-12, "{db} vs {want}");
    }
}
