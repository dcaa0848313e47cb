//! Gaussian naive Bayes (scikit-learn's `GaussianNB`): per-class feature means and variances
//! fitted on labelled rows, and class posteriors for new rows. Plain Rust on column-major
//! slices, no DataFusion types; the model is serde-serialisable so SQL functions can store it.
//!
//! ## Model
//!
//! Class `c` has prior `π_c` (its share of the rows) and, per feature `j`, the mean `μ_cj` and
//! population variance `σ²_cj` of its rows, plus `ε = var_smoothing × the largest variance of
//! any feature over all rows` (scikit-learn's stabiliser). A variance that is still 0 (constant
//! features and `var_smoothing = 0`) becomes the smallest positive `f64`, where scikit-learn
//! would divide by zero. Then
//! `ln P(c | x) = ln π_c - ½ Σ_j [ln(2π σ²_cj) + (x_j - μ_cj)² / σ²_cj] - ln Z`, with `Z` from a
//! log-sum-exp over the classes.
//!
//! ## Rows far from every class
//!
//! When every class's log-likelihood underflows to `-∞` (say `x = 1e300` with unit variances),
//! the quadratic term decides, as it does in the limit: the class with the smallest
//! `Σ_j (x_j - μ_cj)² / σ²_cj`, compared in log space so nothing overflows, gets probability 1
//! (tied classes share it). Probabilities are never NaN for finite inputs.
//!
//! ## How to add to it
//!
//! Another likelihood (Bernoulli, multinomial) is another model struct beside this one, reusing
//! `posterior` for the normalisation.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use crate::segments::kmeans::{TILE, column_variance, for_each_tile};

/// A fitted Gaussian naive Bayes model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GaussianNb {
    /// Number of classes; labels are `0..classes`.
    pub classes: usize,
    /// Number of features.
    pub dims: usize,
    /// Share of the training rows in each class.
    pub priors: Vec<f64>,
    /// `classes × dims` row-major: mean of each feature in each class.
    pub means: Vec<f64>,
    /// `classes × dims` row-major: variance of each feature in each class, smoothing included.
    pub variances: Vec<f64>,
    /// The smoothing the model was fitted with.
    pub var_smoothing: f64,
}

impl GaussianNb {
    /// Fits the model on the rows of `columns` (`columns[j][i]` is feature `j` of row `i`,
    /// finite) labelled `labels[i] < classes`. `var_smoothing` (scikit-learn's default is
    /// `1e-9`) must be finite and non-negative; the caller checks it.
    ///
    /// Errors when there is no class or no row, when columns and labels differ in length, when
    /// a label is not below `classes`, or when a class has no rows (naming the class).
    pub fn fit(
        columns: &[&[f64]],
        labels: &[u32],
        classes: usize,
        var_smoothing: f64,
    ) -> Result<Self, String> {
        let (n, d) = (labels.len(), columns.len());
        if classes == 0 {
            return Err("Gaussian naive Bayes needs at least one class".to_string());
        }
        if n == 0 {
            return Err("Gaussian naive Bayes needs at least one labelled row".to_string());
        }
        if columns.iter().any(|c| c.len() != n) {
            return Err("Gaussian naive Bayes: features and labels differ in length".to_string());
        }
        let mut counts = vec![0u64; classes];
        for (i, &label) in labels.iter().enumerate() {
            let Some(count) = counts.get_mut(label as usize) else {
                return Err(format!(
                    "Gaussian naive Bayes: row {i} has label {label}, \
                     not below the number of classes {classes}"
                ));
            };
            *count += 1;
        }
        if let Some(empty) = counts.iter().position(|&c| c == 0) {
            return Err(format!("Gaussian naive Bayes: class {empty} has no rows"));
        }
        let mut means = vec![0.0; classes * d];
        let mut variances = vec![0.0; classes * d];
        let mut sums = vec![0.0; classes];
        for (j, column) in columns.iter().enumerate() {
            // Two passes (mean, then squared deviations), as NumPy's `var`, for accuracy.
            sums.fill(0.0);
            for (&v, &label) in column.iter().zip(labels) {
                sums[label as usize] += v;
            }
            for (c, (&sum, &count)) in sums.iter().zip(&counts).enumerate() {
                means[c * d + j] = sum / count as f64;
            }
            sums.fill(0.0);
            for (&v, &label) in column.iter().zip(labels) {
                let t = v - means[label as usize * d + j];
                sums[label as usize] += t * t;
            }
            for (c, (&sum, &count)) in sums.iter().zip(&counts).enumerate() {
                variances[c * d + j] = sum / count as f64;
            }
        }
        let largest = columns
            .iter()
            .map(|c| column_variance(c))
            .fold(0.0, f64::max);
        let epsilon = var_smoothing * largest;
        for v in &mut variances {
            *v = (*v + epsilon).max(f64::MIN_POSITIVE);
        }
        Ok(GaussianNb {
            classes,
            dims: d,
            priors: counts.iter().map(|&c| c as f64 / n as f64).collect(),
            means,
            variances,
            var_smoothing,
        })
    }

    /// Class probabilities of the rows of `columns`: `out` is `rows × classes` row-major.
    ///
    /// # Panics
    /// If `columns` does not have `dims` columns of `out.len() / classes` rows.
    pub fn predict_proba(&self, columns: &[&[f64]], out: &mut [f64]) {
        let k = self.classes;
        assert_eq!(out.len() % k, 0, "out must be rows × classes");
        self.posteriors(columns, out.len() / k, |i, p| {
            out[i * k..(i + 1) * k].copy_from_slice(p)
        });
    }

    /// The most probable class of each row of `columns` (the lowest on ties), the argmax of
    /// [`GaussianNb::predict_proba`].
    ///
    /// # Panics
    /// If `columns` does not have `dims` columns of `out.len()` rows.
    pub fn predict(&self, columns: &[&[f64]], out: &mut [u32]) {
        self.posteriors(columns, out.len(), |i, p| {
            let mut best = 0;
            for (c, &v) in p.iter().enumerate() {
                if v > p[best] {
                    best = c;
                }
            }
            out[i] = best as u32;
        });
    }

    /// Calls `emit(row, probabilities)` for each of the `n` rows of `columns`.
    fn posteriors(&self, columns: &[&[f64]], n: usize, mut emit: impl FnMut(usize, &[f64])) {
        let (k, d) = (self.classes, self.dims);
        assert_eq!(columns.len(), d, "the model has {d} features");
        assert!(
            columns.iter().all(|c| c.len() == n),
            "columns and output differ in length"
        );
        // ln π_c - ½ Σ_j ln(2π σ²_cj), the part that does not depend on the row.
        let base: Vec<f64> = (0..k)
            .map(|c| {
                let spread: f64 = self
                    .class_variances(c)
                    .iter()
                    .map(|v| (2.0 * PI * v).ln())
                    .sum();
                self.priors[c].ln() - 0.5 * spread
            })
            .collect();
        let mut log_likelihood = vec![[0.0; TILE]; k];
        let mut row_log_likelihood = vec![0.0; k];
        let mut probabilities = vec![0.0; k];
        let mut row = vec![0.0; d];
        for_each_tile(columns, 0..n, |start, len, tile| {
            for (c, lanes) in log_likelihood.iter_mut().enumerate() {
                let mut quadratic = [0.0; TILE];
                for ((x, &mean), &var) in tile
                    .iter()
                    .zip(self.class_means(c))
                    .zip(self.class_variances(c))
                {
                    for (q, &v) in quadratic.iter_mut().zip(x.iter()) {
                        let t = v - mean;
                        *q += t * t / var;
                    }
                }
                for (ll, q) in lanes.iter_mut().zip(quadratic) {
                    *ll = base[c] - 0.5 * q;
                }
            }
            for l in 0..len {
                for (r, lanes) in row_log_likelihood.iter_mut().zip(&log_likelihood) {
                    *r = lanes[l];
                }
                if !posterior(&row_log_likelihood, &mut probabilities) {
                    for (r, x) in row.iter_mut().zip(tile) {
                        *r = x[l];
                    }
                    let scores: Vec<f64> = (0..k).map(|c| self.log_quadratic(c, &row)).collect();
                    nearest_share(&scores, &mut probabilities);
                }
                emit(start + l, &probabilities);
            }
        });
    }

    fn class_means(&self, c: usize) -> &[f64] {
        &self.means[c * self.dims..(c + 1) * self.dims]
    }

    fn class_variances(&self, c: usize) -> &[f64] {
        &self.variances[c * self.dims..(c + 1) * self.dims]
    }

    /// `ln Σ_j (x_j - μ_cj)² / σ²_cj`, computed in log space so that it stays finite where the
    /// sum itself overflows.
    fn log_quadratic(&self, c: usize, row: &[f64]) -> f64 {
        let terms: Vec<f64> = row
            .iter()
            .zip(self.class_means(c))
            .zip(self.class_variances(c))
            .map(|((&x, &mean), &var)| {
                // Halves first: `x - mean` itself may overflow.
                2.0 * ((0.5 * x - 0.5 * mean).abs().ln() + 2f64.ln()) - var.ln()
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// Normalises log-likelihoods into probabilities with log-sum-exp. `false` (and `out`
/// untouched) when every log-likelihood is `-∞`.
pub(crate) fn posterior(log_likelihood: &[f64], out: &mut [f64]) -> bool {
    let max = log_likelihood
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return false;
    }
    let mut total = 0.0;
    for (p, &ll) in out.iter_mut().zip(log_likelihood) {
        *p = (ll - max).exp();
        total += *p;
    }
    for p in out.iter_mut() {
        *p /= total;
    }
    true
}

/// Probability 1 shared by the classes with the smallest score.
fn nearest_share(scores: &[f64], out: &mut [f64]) {
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    let tied = scores.iter().filter(|&&s| s == min).count() as f64;
    for (p, &s) in out.iter_mut().zip(scores) {
        *p = if s == min { 1.0 / tied } else { 0.0 };
    }
}

/// `ln Σ exp(t)`, `-∞` for no terms or all `-∞`.
fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    use super::*;

    /// scikit-learn's `GaussianNB` docstring example.
    const X1: [f64; 6] = [-1.0, -2.0, -3.0, 1.0, 2.0, 3.0];
    const X2: [f64; 6] = [-1.0, -1.0, -2.0, 1.0, 1.0, 2.0];
    const Y: [u32; 6] = [0, 0, 0, 1, 1, 1];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn hand_computed_example() {
        let model = GaussianNb::fit(&[&X1, &X2], &Y, 2, 0.0).unwrap();
        assert_eq!((model.classes, model.dims), (2, 2));
        assert_eq!(model.priors, vec![0.5, 0.5]);
        // Class 0: x1 in {-1, -2, -3}: mean -2, variance 2/3; x2 in {-1, -1, -2}: mean -4/3,
        // variance 2/9. Class 1 mirrors it.
        let expected_means = [-2.0, -4.0 / 3.0, 2.0, 4.0 / 3.0];
        let expected_vars = [2.0 / 3.0, 2.0 / 9.0, 2.0 / 3.0, 2.0 / 9.0];
        for (a, b) in model.means.iter().zip(expected_means) {
            assert!(close(*a, b), "{a} vs {b}");
        }
        for (a, b) in model.variances.iter().zip(expected_vars) {
            assert!(close(*a, b), "{a} vs {b}");
        }
        // x = (-0.8, -1): equal priors and variances, so only the quadratic terms differ:
        // class 0: ½ (1.2² · 3/2 + (1/3)² · 9/2) = 1.33, class 1: ½ (2.8² · 3/2 + (7/3)² · 9/2)
        // = 18.13, so P(1) = 1 / (1 + e^16.8).
        let (x1, x2) = ([-0.8], [-1.0]);
        let mut proba = [0.0; 2];
        model.predict_proba(&[&x1, &x2], &mut proba);
        let p1 = 1.0 / (1.0 + 16.8f64.exp());
        assert!(close(proba[1], p1), "{proba:?}");
        assert!(close(proba[0], 1.0 - p1), "{proba:?}");
        let mut label = [9];
        model.predict(&[&x1, &x2], &mut label);
        assert_eq!(label, [0]);

        // scikit-learn's documented output with the default smoothing.
        let model = GaussianNb::fit(&[&X1, &X2], &Y, 2, 1e-9).unwrap();
        model.predict_proba(&[&x1, &x2], &mut proba);
        assert!((proba[1] - 5.05653254e-08).abs() < 1e-15, "{proba:?}");
    }

    #[test]
    fn smoothing_adds_a_share_of_the_largest_variance() {
        // Feature variances over all rows: x1 14/3, x2 2, so ε = 0.5 · 14/3 = 7/3.
        let model = GaussianNb::fit(&[&X1, &X2], &Y, 2, 0.5).unwrap();
        assert!(close(model.variances[0], 2.0 / 3.0 + 7.0 / 3.0));
        assert!(close(model.variances[1], 2.0 / 9.0 + 7.0 / 3.0));
        assert_eq!(model.var_smoothing, 0.5);
    }

    #[test]
    fn probabilities_sum_to_one_and_predict_is_their_argmax() {
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let (n, d, k) = (501, 4, 3);
        let labels: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
        let columns: Vec<Vec<f64>> = (0..d)
            .map(|j| {
                labels
                    .iter()
                    .map(|&c| (c as f64) * (j as f64 + 1.0) + 3.0 * rng.r#gen::<f64>())
                    .collect()
            })
            .collect();
        let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let model = GaussianNb::fit(&columns, &labels, k, 1e-9).unwrap();
        let mut proba = vec![0.0; n * k];
        model.predict_proba(&columns, &mut proba);
        let mut predicted = vec![0; n];
        model.predict(&columns, &mut predicted);
        let mut right = 0;
        for i in 0..n {
            let p = &proba[i * k..(i + 1) * k];
            assert!(
                (p.iter().sum::<f64>() - 1.0).abs() < 1e-12,
                "row {i}: {p:?}"
            );
            let best = (0..k).fold(0, |b, c| if p[c] > p[b] { c } else { b });
            assert_eq!(predicted[i] as usize, best);
            right += usize::from(predicted[i] == labels[i]);
        }
        assert!(right > n * 8 / 10, "{right} of {n} right");
    }

    #[test]
    fn extreme_values_give_no_nan() {
        // Class 0 narrow around 0, class 1 wide around 0, class 2 narrow around 1e6.
        let x = [-1.0, 1.0, -100.0, 100.0, 1e6 - 1.0, 1e6 + 1.0];
        let labels = [0, 0, 1, 1, 2, 2];
        let model = GaussianNb::fit(&[&x], &labels, 3, 1e-12).unwrap();
        let rows = [1e300, -1e300, 1e-300, f64::MAX, -f64::MAX, 0.0, 5e5];
        let mut proba = vec![0.0; rows.len() * 3];
        model.predict_proba(&[&rows], &mut proba);
        for p in proba.chunks_exact(3) {
            assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0), "{p:?}");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{p:?}");
        }
        // Far out, the widest class wins, as in the limit.
        for row in proba.chunks_exact(3).take(2) {
            assert_eq!(row, [0.0, 1.0, 0.0]);
        }
        let mut predicted = vec![0; rows.len()];
        model.predict(&[&rows], &mut predicted);
        assert_eq!(predicted, [1, 1, 0, 1, 1, 0, 1]);

        // A constant feature and no smoothing: variance 0 becomes the smallest positive f64.
        let constant = [2.0, 2.0, 2.0, 2.0];
        let model = GaussianNb::fit(&[&constant], &[0, 0, 1, 1], 2, 0.0).unwrap();
        assert_eq!(model.variances, vec![f64::MIN_POSITIVE; 2]);
        let rows = [2.0, 3.0];
        let mut proba = vec![0.0; 4];
        model.predict_proba(&[&rows], &mut proba);
        assert_eq!(proba, vec![0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn no_features_predicts_the_priors() {
        let model = GaussianNb::fit(&[], &[0, 1, 1, 1], 2, 1e-9).unwrap();
        let mut proba = vec![0.0; 4];
        model.predict_proba(&[], &mut proba);
        for (p, expected) in proba.iter().zip([0.25, 0.75, 0.25, 0.75]) {
            assert!(close(*p, expected), "{proba:?}");
        }
    }

    #[test]
    fn fit_errors_name_the_problem() {
        let x = [1.0, 2.0, 3.0];
        let err = GaussianNb::fit(&[&x], &[0, 2, 2], 3, 1e-9).unwrap_err();
        assert_eq!(err, "Gaussian naive Bayes: class 1 has no rows");
        let err = GaussianNb::fit(&[&x], &[0, 3, 1], 3, 1e-9).unwrap_err();
        assert_eq!(
            err,
            "Gaussian naive Bayes: row 1 has label 3, not below the number of classes 3"
        );
        assert!(GaussianNb::fit(&[&x], &[0, 1, 0], 0, 1e-9).is_err());
        assert!(GaussianNb::fit(&[&[]], &[], 2, 1e-9).is_err());
        assert!(GaussianNb::fit(&[&x], &[0, 1], 2, 1e-9).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let model = GaussianNb::fit(&[&X1, &X2], &Y, 2, 1e-9).unwrap();
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<GaussianNb>(&json).unwrap(), model);
    }
}
