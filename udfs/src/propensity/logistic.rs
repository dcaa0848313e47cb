//! L2-regularised binary logistic regression, fitted with L-BFGS.
//!
//! Objective (scikit-learn's `LogisticRegression` with `C = 1 / l2`):
//! `Σᵢ wᵢ · log_loss(yᵢ, σ(b + xᵢ·β)) + (l2 / 2) · ‖β‖²` — the intercept `b` is not penalised.
//! Weights `wᵢ` carry `class_weights` ('balanced' gives each class the same total weight).
//!
//! Why not `linfa-logistic`: it takes no sample weights (needed for class weights), wants a
//! row-major `ndarray` copy of the data, and computes the gradient on one thread. This kernel
//! reads the column-major training store directly, splits each gradient pass over threads, and
//! uses the same stopping rule as scikit-learn's lbfgs solver (projected gradient ≤ tolerance).

use std::ops::ControlFlow;

/// Fitting options.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams {
    /// L2 penalty on the coefficients (1.0 = scikit-learn's default C = 1).
    pub l2: f64,
    /// L-BFGS iterations.
    pub max_iterations: usize,
    /// Stop when the largest absolute gradient component is at most this.
    pub tolerance: f64,
    /// Threads for gradient passes (0 or 1: the calling thread).
    pub threads: usize,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            l2: 1.0,
            max_iterations: 100,
            tolerance: 1e-4,
            threads: 1,
        }
    }
}

/// A fitted model: `P(y) = σ(intercept + Σ coefficients[j] · x[j])`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticModel {
    /// One coefficient per encoded feature.
    pub coefficients: Vec<f64>,
    /// The intercept (log-odds at x = 0).
    pub intercept: f64,
    /// L-BFGS iterations used.
    pub iterations: usize,
    /// Whether the gradient tolerance was reached.
    pub converged: bool,
}

#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(z))` without overflow.
#[inline]
fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// The rows the optimiser reads: `x(i)` is row `i` of a matrix with [`Design::width`] columns.
/// Implemented for dense column-major features ([`DenseColumns`], the propensity models) and
/// for sparse rows ([`super::csr::CsrMatrix`], the text classifier), so both share one L-BFGS.
pub trait Design: Sync {
    /// Rows.
    fn rows(&self) -> usize;
    /// Columns (coefficients, without the intercept).
    fn width(&self) -> usize;
    /// `z[i] += x(start + i) · beta` for every `i < z.len()`.
    fn add_products(&self, start: usize, beta: &[f64], z: &mut [f64]);
    /// `g += Σᵢ r[i] · x(start + i)` (the transposed product over the same tile).
    fn add_transposed(&self, start: usize, r: &[f64], g: &mut [f64]);
}

/// Dense features, one slice per column (the training store's layout).
#[derive(Debug, Clone, Copy)]
pub struct DenseColumns<'a>(pub &'a [&'a [f64]]);

impl Design for DenseColumns<'_> {
    fn rows(&self) -> usize {
        self.0.first().map_or(0, |c| c.len())
    }

    fn width(&self) -> usize {
        self.0.len()
    }

    fn add_products(&self, start: usize, beta: &[f64], z: &mut [f64]) {
        let len = z.len();
        for (c, &b) in self.0.iter().zip(beta) {
            for (zi, &x) in z.iter_mut().zip(&c[start..start + len]) {
                *zi += b * x;
            }
        }
    }

    fn add_transposed(&self, start: usize, r: &[f64], g: &mut [f64]) {
        for (c, gj) in self.0.iter().zip(g.iter_mut()) {
            *gj += r
                .iter()
                .zip(&c[start..start + r.len()])
                .map(|(r, x)| r * x)
                .sum::<f64>();
        }
    }
}

struct Problem<'a> {
    x: &'a dyn Design,
    labels: &'a [bool],
    weights: Option<&'a [f64]>,
    l2: f64,
    threads: usize,
}

impl Problem<'_> {
    /// Loss and gradient at `theta` = (β, b).
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.x.width();
        let n = self.labels.len();
        let threads = self.threads.max(1).min(n.max(1));
        let chunk = n.div_ceil(threads);
        let partial = |lo: usize, hi: usize| -> (f64, Vec<f64>) {
            let mut g = vec![0.0; d + 1];
            let mut loss = 0.0;
            const TILE: usize = 512;
            let mut z = [0.0f64; TILE];
            let mut start = lo;
            while start < hi {
                let len = TILE.min(hi - start);
                let z = &mut z[..len];
                z.fill(theta[d]);
                self.x.add_products(start, &theta[..d], z);
                // z becomes the residual weight·(p − y).
                for (i, zi) in z.iter_mut().enumerate() {
                    let r = start + i;
                    let w = self.weights.map_or(1.0, |w| w[r]);
                    let y = self.labels[r];
                    loss += w * if y { softplus(-*zi) } else { softplus(*zi) };
                    *zi = w * (sigmoid(*zi) - if y { 1.0 } else { 0.0 });
                }
                self.x.add_transposed(start, z, &mut g[..d]);
                g[d] += z.iter().sum::<f64>();
                start += len;
            }
            (loss, g)
        };
        let parts: Vec<(f64, Vec<f64>)> = if threads <= 1 {
            vec![partial(0, n)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let lo = (t * chunk).min(n);
                        let hi = ((t + 1) * chunk).min(n);
                        s.spawn(move || partial(lo, hi))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| (f64::NAN, vec![f64::NAN; d + 1]))
                    })
                    .collect()
            })
        };
        grad.fill(0.0);
        let mut loss = 0.0;
        for (l, g) in parts {
            loss += l;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
        }
        for j in 0..d {
            loss += 0.5 * self.l2 * theta[j] * theta[j];
            grad[j] += self.l2 * theta[j];
        }
        loss
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fits the model on dense column-major features. `observer(iteration, loss)` is called after
/// each iteration; `Break` cancels.
pub fn fit(
    columns: &[&[f64]],
    labels: &[bool],
    weights: Option<&[f64]>,
    params: &LogisticParams,
    observer: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<LogisticModel, String> {
    if columns.iter().any(|c| c.len() != labels.len()) {
        return Err("features, labels and weights differ in length".into());
    }
    fit_design(&DenseColumns(columns), labels, weights, params, observer)
}

/// Fits the model on any [`Design`] (dense or sparse rows), as [`fit`].
pub fn fit_design(
    x: &dyn Design,
    labels: &[bool],
    weights: Option<&[f64]>,
    params: &LogisticParams,
    observer: &mut dyn FnMut(usize, f64) -> ControlFlow<()>,
) -> Result<LogisticModel, String> {
    let n = labels.len();
    if n == 0 {
        return Err("no training rows".into());
    }
    if (x.width() > 0 && x.rows() != n) || weights.is_some_and(|w| w.len() != n) {
        return Err("features, labels and weights differ in length".into());
    }
    let positives = labels.iter().filter(|&&y| y).count();
    if positives == 0 || positives == n {
        return Err("the label has a single class in the training data".into());
    }
    let d = x.width();
    let problem = Problem {
        x,
        labels,
        weights,
        l2: params.l2,
        threads: params.threads,
    };
    // Start from the prior log-odds, so an uninformative model is the first iterate.
    let mut theta = vec![0.0; d + 1];
    let (wp, wn) = labels
        .iter()
        .enumerate()
        .fold((0.0, 0.0), |(p, q), (i, &y)| {
            let w = weights.map_or(1.0, |w| w[i]);
            if y { (p + w, q) } else { (p, q + w) }
        });
    theta[d] = (wp / wn).ln();
    let mut grad = vec![0.0; d + 1];
    let mut loss = problem.eval(&theta, &mut grad);
    // L-BFGS two-loop recursion with memory 10 and a backtracking Armijo line search.
    const MEMORY: usize = 10;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut converged = false;
    let mut iterations = 0;
    let mut new_grad = vec![0.0; d + 1];
    let mut candidate = vec![0.0; d + 1];
    for it in 0..params.max_iterations {
        if grad.iter().fold(0.0f64, |m, g| m.max(g.abs())) <= params.tolerance {
            converged = true;
            break;
        }
        let mut q = grad.clone();
        let mut alpha = vec![0.0; s_hist.len()];
        for k in (0..s_hist.len()).rev() {
            let rho = 1.0 / dot(&y_hist[k], &s_hist[k]);
            alpha[k] = rho * dot(&s_hist[k], &q);
            for (qi, yi) in q.iter_mut().zip(&y_hist[k]) {
                *qi -= alpha[k] * yi;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / grad.iter().map(|g| g * g).sum::<f64>().sqrt().max(1.0),
        };
        for qi in &mut q {
            *qi *= gamma;
        }
        for k in 0..s_hist.len() {
            let rho = 1.0 / dot(&y_hist[k], &s_hist[k]);
            let beta = rho * dot(&y_hist[k], &q);
            for (qi, si) in q.iter_mut().zip(&s_hist[k]) {
                *qi += (alpha[k] - beta) * si;
            }
        }
        // Direction is −q; fall back to steepest descent if it is not a descent direction.
        let mut slope = -dot(&grad, &q);
        if slope >= 0.0 || !slope.is_finite() {
            q.clone_from(&grad);
            slope = -dot(&grad, &q);
            s_hist.clear();
            y_hist.clear();
        }
        let mut step = 1.0;
        let mut new_loss;
        loop {
            for ((c, t), qi) in candidate.iter_mut().zip(&theta).zip(&q) {
                *c = t - step * qi;
            }
            new_loss = problem.eval(&candidate, &mut new_grad);
            if new_loss.is_finite() && new_loss <= loss + 1e-4 * step * slope {
                break;
            }
            step *= 0.5;
            if step < 1e-12 {
                break;
            }
        }
        iterations = it + 1;
        if step < 1e-12 {
            // No progress possible along any direction we can find: the optimum to precision.
            converged = true;
            break;
        }
        let s: Vec<f64> = candidate.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = new_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        if dot(&s, &y) > 1e-12 {
            if s_hist.len() == MEMORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let improvement = (loss - new_loss).abs();
        std::mem::swap(&mut theta, &mut candidate);
        std::mem::swap(&mut grad, &mut new_grad);
        loss = new_loss;
        if observer(iterations, loss).is_break() {
            return Err("cancelled".into());
        }
        if improvement <= 1e-12 * loss.abs().max(1.0) {
            converged = true;
            break;
        }
    }
    if theta.iter().any(|t| !t.is_finite()) {
        return Err("the optimisation diverged (non-finite coefficients)".into());
    }
    Ok(LogisticModel {
        intercept: theta[d],
        coefficients: theta[..d].to_vec(),
        iterations,
        converged,
    })
}

impl LogisticModel {
    /// Log-odds per row.
    pub fn predict_logit(&self, columns: &[&[f64]], out: &mut [f64]) {
        out.fill(self.intercept);
        for (c, &beta) in columns.iter().zip(&self.coefficients) {
            for (o, &x) in out.iter_mut().zip(c.iter()) {
                *o += beta * x;
            }
        }
    }

    /// P(positive) per row.
    pub fn predict_proba(&self, columns: &[&[f64]], out: &mut [f64]) {
        self.predict_logit(columns, out);
        for o in out.iter_mut() {
            *o = sigmoid(*o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn synthetic(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
        let (b0, b1, b2) = (-0.5, 2.0, -1.0);
        let mut x1 = Vec::with_capacity(n);
        let mut x2 = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let a: f64 = rng.gen_range(-2.0..2.0);
            let b: f64 = rng.gen_range(-2.0..2.0);
            let p = sigmoid(b0 + b1 * a + b2 * b);
            x1.push(a);
            x2.push(b);
            y.push(rng.r#gen::<f64>() < p);
        }
        (vec![x1, x2], y)
    }

    fn never(_: usize, _: f64) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    #[test]
    fn recovers_the_generating_coefficients() {
        let (x, y) = synthetic(50_000, 1);
        let cols: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
        let params = LogisticParams {
            l2: 0.0,
            threads: 2,
            ..Default::default()
        };
        let m = fit(&cols, &y, None, &params, &mut never).unwrap();
        assert!(m.converged, "{m:?}");
        assert!((m.coefficients[0] - 2.0).abs() < 0.1, "{m:?}");
        assert!((m.coefficients[1] + 1.0).abs() < 0.1, "{m:?}");
        assert!((m.intercept + 0.5).abs() < 0.1, "{m:?}");
        // Thread count does not change the answer beyond rounding.
        let single = fit(
            &cols,
            &y,
            None,
            &LogisticParams {
                threads: 1,
                ..params
            },
            &mut never,
        )
        .unwrap();
        assert!((single.coefficients[0] - m.coefficients[0]).abs() < 1e-6);
    }

    #[test]
    fn the_gradient_is_zero_at_the_optimum_with_weights_and_penalty() {
        let (x, y) = synthetic(2_000, 2);
        let cols: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
        let w: Vec<f64> = y.iter().map(|&p| if p { 3.0 } else { 1.0 }).collect();
        let params = LogisticParams {
            l2: 5.0,
            tolerance: 1e-8,
            max_iterations: 500,
            threads: 1,
        };
        let m = fit(&cols, &y, Some(&w), &params, &mut never).unwrap();
        // Check optimality independently: numerical gradient of the objective.
        let objective = |b: &[f64], c: f64| -> f64 {
            let mut l = 0.5 * params.l2 * b.iter().map(|v| v * v).sum::<f64>();
            for i in 0..y.len() {
                let z = c + b[0] * x[0][i] + b[1] * x[1][i];
                l += w[i] * if y[i] { softplus(-z) } else { softplus(z) };
            }
            l
        };
        let h = 1e-5;
        let base = objective(&m.coefficients, m.intercept);
        for j in 0..2 {
            let mut b = m.coefficients.clone();
            b[j] += h;
            let g = (objective(&b, m.intercept) - base) / h;
            assert!(g.abs() < 1e-2, "d/dβ{j} = {g}");
        }
        let g = (objective(&m.coefficients, m.intercept + h) - base) / h;
        assert!(g.abs() < 1e-2, "d/db = {g}");
    }

    #[test]
    fn separable_data_stays_finite_under_a_penalty() {
        let x = [-2.0, -1.0, 1.0, 2.0];
        let y = [false, false, true, true];
        let m = fit(&[&x], &y, None, &LogisticParams::default(), &mut never).unwrap();
        assert!(m.coefficients[0].is_finite() && m.coefficients[0] > 0.0);
        let mut p = [0.0; 2];
        m.predict_proba(&[&[-10.0, 10.0]], &mut p);
        assert!(p[0] < 0.5 && p[1] > 0.5);
        let mut extreme = [0.0; 2];
        m.predict_proba(&[&[-1e308, 1e308]], &mut extreme);
        assert_eq!(extreme, [0.0, 1.0]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let x = [1.0, 2.0];
        assert!(
            fit(
                &[&x],
                &[true, true],
                None,
                &LogisticParams::default(),
                &mut never
            )
            .unwrap_err()
            .contains("single class")
        );
        assert!(fit(&[&x], &[], None, &LogisticParams::default(), &mut never).is_err());
        assert!(fit(&[&x], &[true], None, &LogisticParams::default(), &mut never).is_err());
        let mut stop = |_: usize, _: f64| ControlFlow::Break(());
        let (x, y) = synthetic(100, 3);
        let cols: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
        assert_eq!(
            fit(&cols, &y, None, &LogisticParams::default(), &mut stop).unwrap_err(),
            "cancelled"
        );
    }
}
