//! Exact binary-classification metrics over (label, score) pairs, defined as scikit-learn
//! defines them so results agree to rounding:
//!
//! - [`roc_auc`]: `roc_auc_score` — the probability that a random positive scores above a random
//!   negative, ties counting ½ (Mann–Whitney U with average ranks).
//! - [`pr_auc`]: `average_precision_score` — `Σₙ (Rₙ − Rₙ₋₁) Pₙ` over the distinct scores taken
//!   as thresholds from the highest down.
//! - [`log_loss`]: `log_loss` — mean `−[y ln p + (1 − y) ln(1 − p)]`, p clipped to
//!   `[ε, 1 − ε]` with ε = `f64::EPSILON`.
//! - [`brier`]: `brier_score_loss` — mean `(p − y)²`.
//! - [`lift_at`]: positive rate among the top `fraction` of rows by score divided by the overall
//!   positive rate; the top is `⌈fraction · n⌉` rows and rows tied at the cut count in
//!   proportion (so the result does not depend on row order).
//!
//! Each returns `None` when the metric is undefined (no rows, or one class only for the
//! ranking metrics).

/// Indices of `scores` sorted by descending score (NaN last).
fn order_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// Area under the ROC curve.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let n = labels.len();
    let positives = labels.iter().filter(|&&y| y).count();
    let negatives = n - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Walk groups of equal scores from the highest: each positive in a group beats every
    // negative below it and ties with the negatives in its group.
    let idx = order_desc(scores);
    let mut negatives_below = negatives as f64;
    let mut u = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        let (mut p, mut q) = (0.0, 0.0);
        while j < n && scores[idx[j]] == scores[idx[i]] {
            if labels[idx[j]] {
                p += 1.0;
            } else {
                q += 1.0;
            }
            j += 1;
        }
        negatives_below -= q;
        u += p * (negatives_below + 0.5 * q);
        i = j;
    }
    Some(u / (positives as f64 * negatives as f64))
}

/// Average precision (area under the precision–recall curve, step-wise).
pub fn pr_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let n = labels.len();
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == n {
        return None;
    }
    let idx = order_desc(scores);
    let (mut tp, mut seen) = (0.0, 0.0);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && scores[idx[j]] == scores[idx[i]] {
            if labels[idx[j]] {
                tp += 1.0;
            }
            seen += 1.0;
            j += 1;
        }
        let recall = tp / positives as f64;
        ap += (recall - prev_recall) * (tp / seen);
        prev_recall = recall;
        i = j;
    }
    Some(ap)
}

/// Mean log loss of probabilities `p`.
pub fn log_loss(labels: &[bool], p: &[f64]) -> Option<f64> {
    if labels.is_empty() {
        return None;
    }
    let eps = f64::EPSILON;
    let total: f64 = labels
        .iter()
        .zip(p)
        .map(|(&y, &p)| {
            let p = p.clamp(eps, 1.0 - eps);
            -(if y { p.ln() } else { (1.0 - p).ln() })
        })
        .sum();
    Some(total / labels.len() as f64)
}

/// Mean squared error of probabilities `p`.
pub fn brier(labels: &[bool], p: &[f64]) -> Option<f64> {
    if labels.is_empty() {
        return None;
    }
    let total: f64 = labels
        .iter()
        .zip(p)
        .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Some(total / labels.len() as f64)
}

/// Expected positives among the top `k` rows by score (ties at the cut in proportion).
pub fn positives_in_top(labels: &[bool], scores: &[f64], idx: &[usize], k: usize) -> f64 {
    let n = labels.len();
    let mut taken = 0usize;
    let mut positives = 0.0;
    let mut i = 0;
    while i < n && taken < k {
        let mut j = i;
        let mut p = 0.0;
        while j < n && scores[idx[j]] == scores[idx[i]] {
            if labels[idx[j]] {
                p += 1.0;
            }
            j += 1;
        }
        let group = j - i;
        let take = group.min(k - taken);
        positives += p * take as f64 / group as f64;
        taken += take;
        i = j;
    }
    positives
}

/// Lift in the top `fraction` (0 < fraction ≤ 1) of rows by score.
pub fn lift_at(labels: &[bool], scores: &[f64], fraction: f64) -> Option<f64> {
    let n = labels.len();
    let positives = labels.iter().filter(|&&y| y).count();
    if n == 0 || positives == 0 || !(fraction > 0.0 && fraction <= 1.0) {
        return None;
    }
    let k = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    let idx = order_desc(scores);
    let top = positives_in_top(labels, scores, &idx, k);
    Some((top / k as f64) / (positives as f64 / n as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed with scikit-learn 1.9.1 on the same inputs:
    //   y = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    //   s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.05, 0.6, 0.6]
    //   roc_auc_score(y, s)            = 0.74
    //   average_precision_score(y, s)  = 0.7892857142857144
    //   log_loss(y, s)                 = 0.5593185517122319
    //   brier_score_loss(y, s)         = 0.19650000000000004
    const Y: [bool; 10] = [
        false, false, true, true, false, true, true, false, true, false,
    ];
    const S: [f64; 10] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.05, 0.6, 0.6];

    #[test]
    fn match_scikit_learn() {
        assert!((roc_auc(&Y, &S).unwrap() - 0.74).abs() < 1e-12);
        assert!((pr_auc(&Y, &S).unwrap() - 0.789_285_714_285_714_4).abs() < 1e-12);
        assert!((log_loss(&Y, &S).unwrap() - 0.559_318_551_712_231_9).abs() < 1e-12);
        assert!((brier(&Y, &S).unwrap() - 0.196_500_000_000_000_04).abs() < 1e-12);
    }

    /// 1000 rows with many ties, regenerated from a formula; the expected values were computed
    /// with scikit-learn 1.9.1 on the same rows:
    /// `y = [(i*7919 % 13) < 6]`, `s = (i*104729 % 97)/97 * 0.7 + (0.3 if y else 0) * (i%5)/4`.
    #[test]
    fn match_scikit_learn_on_a_thousand_tied_rows() {
        let y: Vec<bool> = (0..1000u64).map(|i| (i * 7919 % 13) < 6).collect();
        let s: Vec<f64> = (0..1000u64)
            .map(|i| {
                let base = (i * 104_729 % 97) as f64 / 97.0;
                base * 0.7 + if y[i as usize] { 0.3 } else { 0.0 } * ((i % 5) as f64 / 4.0)
            })
            .collect();
        assert!((roc_auc(&y, &s).unwrap() - 0.677_949_838_265_823_4).abs() < 1e-9);
        assert!((pr_auc(&y, &s).unwrap() - 0.688_020_222_764_975).abs() < 1e-9);
        assert!((log_loss(&y, &s).unwrap() - 0.722_919_179_304_285_5).abs() < 1e-9);
        assert!((brier(&y, &s).unwrap() - 0.228_666_739_026_464_03).abs() < 1e-9);
    }

    #[test]
    fn lift_counts_ties_in_proportion() {
        // Top 30% = 3 rows: 0.9 (pos), 0.8 (pos), then one of the two 0.6 rows (one pos):
        // 2.5 expected positives of 3 vs a base rate of 0.5.
        let l = lift_at(&Y, &S, 0.3).unwrap();
        assert!((l - (2.5 / 3.0) / 0.5).abs() < 1e-12, "{l}");
        assert!((lift_at(&Y, &S, 1.0).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(lift_at(&Y, &S, 0.0), None);
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(pr_auc(&[], &[]), None);
        assert_eq!(log_loss(&[], &[]), None);
        assert_eq!(roc_auc(&[true, false], &[0.5, 0.5]), Some(0.5));
    }
}
