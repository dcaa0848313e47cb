//! Quality metrics: exact binary-classification metrics (kernels in `binary.rs`, SQL
//! aggregates `roc_auc`, `pr_auc`, `log_loss`, `lift_at` sharing one pair-collecting
//! accumulator in `scored_pairs.rs`) and clustering quality kernels (silhouette,
//! Davies–Bouldin).
//!
//! To add a metric aggregate: a kernel in `binary.rs`, a file with its `MetricSpec`, and a line
//! in [`aggregate_udfs`].

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

pub mod binary;
pub mod davies_bouldin;
pub mod lift_at;
pub mod log_loss;
pub mod pr_auc;
pub mod roc_auc;
pub mod scored_pairs;
pub mod silhouette;

/// The aggregate functions of this family.
pub fn aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    [
        &roc_auc::SPEC,
        &pr_auc::SPEC,
        &log_loss::SPEC,
        &lift_at::SPEC,
    ]
    .into_iter()
    .map(|spec| {
        Arc::new(AggregateUDF::new_from_impl(
            scored_pairs::MetricAggregate::new(spec),
        ))
    })
    .collect()
}
