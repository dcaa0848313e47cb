//! Feature-extraction functions: turning raw shop events into per-user features.
//!
//! To add one, create `<sql_name>.rs` here and list it in the matching function below.

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};

pub mod funnel;
pub mod funnel_accumulator;
pub mod funnel_kernel;
pub mod funnel_steps;
pub mod hash_split;

/// The scalar functions of this family.
pub fn scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![Arc::new(ScalarUDF::new_from_impl(
        hash_split::HashSplitFunc::new(),
    ))]
}

/// The aggregate functions of this family.
pub fn aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::new_from_impl(funnel::FunnelFunc::new())),
        Arc::new(AggregateUDF::new_from_impl(
            funnel_steps::FunnelStepsFunc::new(),
        )),
    ]
}

/// The window functions of this family.
pub fn window_udfs() -> Vec<Arc<WindowUDF>> {
    vec![]
}
