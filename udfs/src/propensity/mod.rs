//! Propensity models: the kernels behind `model_type = 'logistic_reg'` and `'boosted_tree'`
//! (purchase and churn propensity), and the sparse rows the text classifier feeds the same
//! logistic kernel. Kernels work on column-major `f64` slices (or [`csr::CsrMatrix`] rows) and
//! know nothing of DataFusion; training and prediction go through [`crate::model`] and
//! [`crate::ml`].

pub mod boosted_tree;
pub mod csr;
mod cut_search;
mod heap_walk_avx2;
pub mod logistic;
