//! Customer segments: k-means clustering (and Gaussian naive Bayes for known segment labels).
//!
//! Kernels (`kmeans`, `gaussian_nb`) work on column-major `f64` slices and know nothing of
//! DataFusion; the SQL functions wrapping them live in their own files.

pub mod gaussian_nb;
pub mod kmeans;
