//! Feature-extraction functions: turning raw shop events into per-user features.
//!
//! To add one, create `<sql_name>.rs` here and list it in the matching function below.

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};

pub mod days_between;
pub mod funnel;
pub mod funnel_accumulator;
pub mod funnel_kernel;
pub mod funnel_steps;
pub mod hash_split;
pub mod retention;
pub mod rfm_segment;
pub mod sessionize;
pub mod summarize;

/// The scalar functions of this family.
pub fn scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(
            days_between::DaysBetweenFunc::new(),
        )),
        Arc::new(ScalarUDF::new_from_impl(hash_split::HashSplitFunc::new())),
        Arc::new(ScalarUDF::new_from_impl(rfm_segment::RfmSegmentFunc::new())),
    ]
}

/// The aggregate functions of this family.
pub fn aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::new_from_impl(funnel::FunnelFunc::new())),
        Arc::new(AggregateUDF::new_from_impl(
            funnel_steps::FunnelStepsFunc::new(),
        )),
        Arc::new(AggregateUDF::new_from_impl(retention::RetentionFunc::new())),
    ]
}

/// The window functions of this family.
pub fn window_udfs() -> Vec<Arc<WindowUDF>> {
    vec![Arc::new(WindowUDF::new_from_impl(
        sessionize::SessionizeFunc::new(),
    ))]
}

/// The table functions of this family: (SQL name, implementation, documentation).
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, Documentation)> {
    let summarize = summarize::SummarizeFunc;
    let doc = summarize.documentation().clone();
    vec![(summarize::SummarizeFunc::NAME, Arc::new(summarize), doc)]
}
