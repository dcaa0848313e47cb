//! Gaussian naive Bayes (scikit-learn's `GaussianNB`): per class, a prior and an independent
//! normal distribution per feature. `var_smoothing × (largest feature variance)` is added to
//! every variance for stability. Probabilities are computed in log space with log-sum-exp, so
//! extreme inputs give 0/1 rather than NaN.

use serde::{Deserialize, Serialize};

/// A fitted Gaussian naive Bayes model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianNb {
    /// Number of classes.
    pub classes: usize,
    /// Number of features.
    pub dims: usize,
    /// Class priors (training shares).
    pub priors: Vec<f64>,
    /// classes × dims means, row-major.
    pub means: Vec<f64>,
    /// classes × dims variances (smoothed), row-major.
    pub variances: Vec<f64>,
    /// The smoothing share used.
    pub var_smoothing: f64,
}

impl GaussianNb {
    /// Fits on `columns` (column-major) with class index `labels[i] < classes`.
    pub fn fit(
        columns: &[&[f64]],
        labels: &[u32],
        classes: usize,
        var_smoothing: f64,
    ) -> Result<Self, String> {
        let dims = columns.len();
        let n = labels.len();
        let mut counts = vec![0usize; classes];
        let mut means = vec![0.0; classes * dims];
        for (r, &l) in labels.iter().enumerate() {
            let l = l as usize;
            if l >= classes {
                return Err(format!("class index {l} out of range ({classes} classes)"));
            }
            counts[l] += 1;
            for (j, c) in columns.iter().enumerate() {
                means[l * dims + j] += c[r];
            }
        }
        if let Some(empty) = counts.iter().position(|&c| c == 0) {
            return Err(format!("class {empty} has no training rows"));
        }
        for l in 0..classes {
            for j in 0..dims {
                means[l * dims + j] /= counts[l] as f64;
            }
        }
        let mut variances = vec![0.0; classes * dims];
        for (r, &l) in labels.iter().enumerate() {
            let l = l as usize;
            for (j, c) in columns.iter().enumerate() {
                let d = c[r] - means[l * dims + j];
                variances[l * dims + j] += d * d;
            }
        }
        for l in 0..classes {
            for j in 0..dims {
                variances[l * dims + j] /= counts[l] as f64;
            }
        }
        // scikit-learn: epsilon = var_smoothing * max over features of the overall variance.
        let max_var = columns
            .iter()
            .map(|c| {
                let m = c.iter().sum::<f64>() / n.max(1) as f64;
                c.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n.max(1) as f64
            })
            .fold(0.0, f64::max);
        let epsilon = (var_smoothing * max_var).max(f64::MIN_POSITIVE);
        for v in &mut variances {
            *v += epsilon;
        }
        Ok(Self {
            classes,
            dims,
            priors: counts.iter().map(|&c| c as f64 / n as f64).collect(),
            means,
            variances,
            var_smoothing,
        })
    }

    /// Class probabilities per row into `out` (rows × classes, row-major).
    pub fn predict_proba(&self, columns: &[&[f64]], out: &mut [f64]) {
        let n = out.len() / self.classes.max(1);
        // Per class: log prior − ½ Σ log(2π var) — the part that does not depend on the row.
        let base: Vec<f64> = (0..self.classes)
            .map(|l| {
                self.priors[l].ln()
                    - 0.5
                        * self.variances[l * self.dims..(l + 1) * self.dims]
                            .iter()
                            .map(|v| (2.0 * std::f64::consts::PI * v).ln())
                            .sum::<f64>()
            })
            .collect();
        for r in 0..n {
            let row = &mut out[r * self.classes..(r + 1) * self.classes];
            for (l, slot) in row.iter_mut().enumerate() {
                let mut s = base[l];
                for (j, c) in columns.iter().enumerate() {
                    let d = c[r] - self.means[l * self.dims + j];
                    s -= 0.5 * d * d / self.variances[l * self.dims + j];
                }
                *slot = s;
            }
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !max.is_finite() {
                // Squared distances overflowed for every class (|x| near f64::MAX): the class
                // whose largest standardised distance is smallest takes all the probability.
                let worst = |l: usize| {
                    columns
                        .iter()
                        .enumerate()
                        .map(|(j, c)| {
                            (c[r] - self.means[l * self.dims + j]).abs()
                                / self.variances[l * self.dims + j].sqrt()
                        })
                        .fold(0.0, f64::max)
                };
                let best = (0..self.classes)
                    .min_by(|&a, &b| worst(a).total_cmp(&worst(b)))
                    .unwrap_or(0);
                for (l, slot) in row.iter_mut().enumerate() {
                    *slot = if l == best { 1.0 } else { 0.0 };
                }
                continue;
            }
            let total: f64 = row.iter().map(|s| (s - max).exp()).sum();
            for slot in row.iter_mut() {
                *slot = (*slot - max).exp() / total;
            }
        }
    }

    /// The most probable class per row.
    pub fn predict(&self, columns: &[&[f64]], out: &mut [u32]) {
        let mut proba = vec![0.0; out.len() * self.classes];
        self.predict_proba(columns, &mut proba);
        for (r, o) in out.iter_mut().enumerate() {
            let p = &proba[r * self.classes..(r + 1) * self.classes];
            *o = crate::model::train::argmax(p) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_and_predicts_like_the_textbook() {
        // One feature: class 0 around 0 (var 1), class 1 around 10 (var 1).
        let x = [-1.0, 0.0, 1.0, 9.0, 10.0, 11.0];
        let nb = GaussianNb::fit(&[&x], &[0, 0, 0, 1, 1, 1], 2, 0.0).unwrap();
        assert_eq!(nb.means, vec![0.0, 10.0]);
        assert!((nb.variances[0] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(nb.priors, vec![0.5, 0.5]);
        let q = [0.0, 5.0, 10.0, 1e300, -1e300];
        let mut p = vec![0.0; q.len() * 2];
        nb.predict_proba(&[&q], &mut p);
        assert!(p[0] > 0.999 && p[5] > 0.999);
        assert!(
            (p[2] - 0.5).abs() < 1e-12,
            "equal variances: the midpoint is a tie"
        );
        for row in p.chunks(2) {
            assert!(row.iter().all(|v| v.is_finite()));
            assert!((row[0] + row[1] - 1.0).abs() < 1e-12);
        }
        let mut labels = vec![0u32; q.len()];
        nb.predict(&[&q], &mut labels);
        assert_eq!(labels[0], 0);
        assert_eq!(labels[2], 1);
    }

    #[test]
    fn matches_a_hand_computed_posterior() {
        // Class 0: x = {0, 2} (mean 1, var 1); class 1: x = {4} (mean 4, var 0 + ε).
        let x = [0.0, 2.0, 4.0, 5.0];
        let nb = GaussianNb::fit(&[&x], &[0, 0, 1, 1], 2, 1e-9).unwrap();
        // At x = 3: log N(3; 1, 1) + ln ½ vs log N(3; 4.5, 0.25) + ln ½.
        let l0 = -0.5 * (2.0 * std::f64::consts::PI * nb.variances[0]).ln()
            - 0.5 * 4.0 / nb.variances[0];
        let l1 = -0.5 * (2.0 * std::f64::consts::PI * nb.variances[1]).ln()
            - 0.5 * 2.25 / nb.variances[1];
        let want = l0.exp() / (l0.exp() + l1.exp());
        let mut p = [0.0; 2];
        nb.predict_proba(&[&[3.0]], &mut p);
        assert!((p[0] - want).abs() < 1e-12, "{} vs {want}", p[0]);
    }

    #[test]
    fn a_class_without_rows_is_an_error() {
        let err = GaussianNb::fit(&[&[1.0, 2.0]], &[0, 0], 2, 1e-9).unwrap_err();
        assert!(err.contains("class 1 has no training rows"), "{err}");
    }
}
