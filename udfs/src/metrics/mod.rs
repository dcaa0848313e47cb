//! Quality metrics: clustering quality kernels (silhouette, Davies–Bouldin) and, later, the
//! classification metric aggregates.

pub mod davies_bouldin;
pub mod silhouette;
