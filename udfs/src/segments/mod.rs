//! Customer segments: k-means clustering (and Gaussian naive Bayes for known segment labels).
//!
//! Kernels (`kmeans`, `gaussian_nb`) work on column-major `f64` slices and know nothing of
//! DataFusion; `assign` applies a stored model to Arrow arrays; the SQL functions wrapping them
//! live in their own files and are listed below.

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::model::ModelStore;

pub mod assign;
pub mod gaussian_nb;
pub mod kmeans;
pub mod ml_centroids;
pub mod segment;
pub mod segment_distance;

/// The scalar functions of this family.
pub fn scalar_udfs(store: &Arc<dyn ModelStore>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(segment::SegmentFunc::new(
            Arc::clone(store),
        ))),
        Arc::new(ScalarUDF::new_from_impl(
            segment_distance::SegmentDistanceFunc::new(Arc::clone(store)),
        )),
    ]
}

/// The table functions of this family: (SQL name, implementation, documentation).
pub fn table_functions(
    store: &Arc<dyn ModelStore>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, Documentation)> {
    let centroids = ml_centroids::MlCentroidsFunc::new(Arc::clone(store));
    let doc = centroids.documentation().clone();
    vec![(
        ml_centroids::MlCentroidsFunc::NAME,
        Arc::new(centroids),
        doc,
    )]
}
