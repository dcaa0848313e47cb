//! Sparse rows in compressed sparse row (CSR) form, as the logistic kernel's [`Design`]: the
//! text classifier's hashed n-gram rows have a few hundred non-zeros out of 2¹⁸ columns, so a
//! dense copy is out of the question.

use super::logistic::Design;

/// A sparse matrix: row `i` holds `indices[indptr[i]..indptr[i + 1]]` (column numbers, sorted,
/// distinct) with the matching `values`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CsrMatrix {
    /// Row starts in `indices` / `values`; `rows() + 1` entries, starting at 0.
    pub indptr: Vec<usize>,
    /// Column of each stored value.
    pub indices: Vec<u32>,
    /// The stored values.
    pub values: Vec<f32>,
    /// Number of columns.
    pub width: usize,
}

impl CsrMatrix {
    /// An empty matrix with `width` columns.
    pub fn new(width: usize) -> Self {
        Self {
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            width,
        }
    }

    /// Appends a row from `(column, value)` pairs (sorted by column, distinct, each below
    /// `width`; the caller — the featurizer — guarantees it).
    pub fn push_row(&mut self, entries: impl IntoIterator<Item = (u32, f32)>) {
        for (j, v) in entries {
            debug_assert!((j as usize) < self.width);
            self.indices.push(j);
            self.values.push(v);
        }
        self.indptr.push(self.indices.len());
    }

    /// Row `i` as (columns, values).
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (lo, hi) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[lo..hi], &self.values[lo..hi])
    }

    /// Stored values.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Heap bytes held (for memory accounting and reports).
    pub fn bytes(&self) -> usize {
        self.indptr.len() * 8 + self.indices.len() * 4 + self.values.len() * 4
    }
}

impl Design for CsrMatrix {
    fn rows(&self) -> usize {
        self.indptr.len() - 1
    }

    fn width(&self) -> usize {
        self.width
    }

    fn add_products(&self, start: usize, beta: &[f64], z: &mut [f64]) {
        for (i, zi) in z.iter_mut().enumerate() {
            let (idx, val) = self.row(start + i);
            *zi += idx
                .iter()
                .zip(val)
                .map(|(&j, &v)| beta[j as usize] * f64::from(v))
                .sum::<f64>();
        }
    }

    fn add_transposed(&self, start: usize, r: &[f64], g: &mut [f64]) {
        for (i, &ri) in r.iter().enumerate() {
            let (idx, val) = self.row(start + i);
            for (&j, &v) in idx.iter().zip(val) {
                g[j as usize] += ri * f64::from(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propensity::logistic::DenseColumns;

    /// The sparse products equal the dense ones on the same matrix.
    #[test]
    fn products_match_the_dense_matrix() {
        // 3 × 4: [[1,0,2,0],[0,0,0,0],[0,3,0,4]]
        let mut m = CsrMatrix::new(4);
        m.push_row([(0, 1.0), (2, 2.0)]);
        m.push_row([]);
        m.push_row([(1, 3.0), (3, 4.0)]);
        let cols: Vec<Vec<f64>> = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 0.0, 3.0],
            vec![2.0, 0.0, 0.0],
            vec![0.0, 0.0, 4.0],
        ];
        let slices: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let dense = DenseColumns(&slices);
        assert_eq!((m.rows(), m.width(), m.nnz()), (3, 4, 4));
        let beta = [0.5, -1.0, 2.0, 0.25];
        let (mut zs, mut zd) = (vec![1.0; 2], vec![1.0; 2]);
        m.add_products(1, &beta, &mut zs);
        dense.add_products(1, &beta, &mut zd);
        assert_eq!(zs, zd);
        assert_eq!(zs, vec![1.0, 1.0 - 3.0 + 1.0]);
        let (mut gs, mut gd) = (vec![0.0; 4], vec![0.0; 4]);
        m.add_transposed(0, &[1.0, 5.0, -2.0], &mut gs);
        dense.add_transposed(0, &[1.0, 5.0, -2.0], &mut gd);
        assert_eq!(gs, gd);
        assert_eq!(gs, vec![1.0, -6.0, 2.0, -8.0]);
    }

    /// The same data fitted through the sparse and the dense path gives the same model.
    #[test]
    #[allow(clippy::needless_range_loop)] // a matrix filled by (row, column)
    fn sparse_and_dense_fits_agree() {
        use crate::propensity::logistic::{LogisticParams, fit, fit_design};
        let n = 400;
        let mut m = CsrMatrix::new(3);
        let mut cols = vec![vec![0.0; n]; 3];
        let mut y = Vec::new();
        for i in 0..n {
            // Mostly-zero features; the label depends on them and on noise from i.
            let mut row = Vec::new();
            for j in 0..3 {
                if (i * (j + 2)) % 5 < 2 {
                    let v = ((i * 7 + j * 3) % 11) as f32 / 5.0 - 1.0;
                    row.push((j as u32, v));
                    cols[j][i] = f64::from(v);
                }
            }
            m.push_row(row);
            y.push((cols[0][i] - cols[2][i] + ((i * 13) % 7) as f64 / 7.0 - 0.5) > 0.0);
        }
        let slices: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let params = LogisticParams {
            tolerance: 1e-9,
            max_iterations: 500,
            ..LogisticParams::default()
        };
        let mut never = |_: usize, _: f64| std::ops::ControlFlow::Continue(());
        let dense = fit(&slices, &y, None, &params, &mut never).unwrap();
        let sparse = fit_design(&m, &y, None, &params, &mut never).unwrap();
        for (a, b) in dense.coefficients.iter().zip(&sparse.coefficients) {
            assert!((a - b).abs() < 1e-6, "{dense:?} vs {sparse:?}");
        }
        assert!((dense.intercept - sparse.intercept).abs() < 1e-6);
        assert!(
            dense.coefficients[0] > 0.5 && dense.coefficients[2] < -0.5,
            "{dense:?}"
        );
    }
}
