//! # ecomsql-udfs — the SQL functions of ecomsql, as a DataFusion extension
//!
//! One call, [`register_all`], adds every ecomsql function to a DataFusion
//! [`SessionContext`]. The shell, the Flight SQL server, the scheduler, the tests and the
//! benchmarks all use it, so a function is never listed twice.
//!
//! | family | module | functions |
//! |---|---|---|
//! | features | [`features`] | `hash_split`, `days_between`, `rfm_segment`, `sessionize` (window), `funnel`, `funnel_steps`, `retention` (aggregates), `summarize` (table) |
//! | segments | [`segments`] | `segment`, `segment_distance`, `ml_centroids` (table); kernels: k-means, Gaussian naive Bayes |
//! | models | [`ml`], [`model`], [`propensity`] | `predict_label`, `predict_proba`, `predict_label_probs`; tables `ml_predict`, `ml_evaluate`, `ml_model_info`, `ml_feature_importance`, `ml_explain_predict`, `ml_roc_curve`, `ml_lift_table`; the [`model::ModelStore`] trait, artifacts, training; kernels: logistic regression (dense or sparse CSR rows), boosted trees |
//! | metrics | [`metrics`] | `roc_auc`, `pr_auc`, `log_loss`, `lift_at` (exact aggregates); clustering quality kernels (silhouette, Davies–Bouldin) |
//! | sentiment | [`sentiment`] | `sentiment`, `sentiment_label`, `sentiment_explain`; the `text_classifier` model type's kernels (hashed n-grams, fit/predict) |
//! | plan rewrites | [`rewrite`] | optimizer rule: `timestamp ± INTERVAL 'n days'` as a fixed duration; integer `+ - *` that fails on overflow (an analyzer rule for constants, a physical rule that must run first: [`rewrite::physical_optimizer_rules`]) |
//! | memory | [`aggregates`] | `count` whose `count(DISTINCT x) … GROUP BY` keeps its values in one accounted set (replaces DataFusion's under the same name) |
//! | safety | [`safety`] | `sum` that fails on integer overflow; size guards on `repeat`, `lpad`, `rpad`, `array_repeat`, `array_resize`, `range`, `generate_series`, `replace`, `regexp_replace` (setting `ecomsql.max_value_bytes`) |
//!
//! Model-backed functions take the session's [`model::ModelStore`] from [`register_all`] and
//! look models up by name when a query runs.
//!
//! A table function that takes SQL text (`ml_evaluate('m', 'SELECT …')`) turns it into a plan
//! only through [`query_arg::plan_query_arg`]: the application's planner (and its permission
//! checks) when one is installed, and a read-only query in any case.
//!
//! ## How to add a function
//! 1. Create `src/<family>/<sql_name>.rs` holding one struct (`HashSplitFunc` for `hash_split`)
//!    that implements the DataFusion UDF trait, with its Arrow kernel as a separate plain function
//!    unit-tested in the same file, and its [`Documentation`] (syntax, arguments, example).
//! 2. List it in the family's `mod.rs` (`scalar_udfs()`, `aggregate_udfs()`, …).
//! 3. Add `tests/sql/<family>/<sql_name>.slt` with the happy path, NULLs, empty input and every
//!    error message. `\h <sql_name>` in the shell then shows its documentation.

#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

use crate::model::ModelStore;

pub mod aggregates;
mod delegate;
pub mod doc;
pub mod features;
pub mod metrics;
pub mod ml;
pub mod model;
pub mod propensity;
pub mod query_arg;
pub mod rewrite;
pub mod safety;
pub mod segments;
pub mod sentiment;

/// Every scalar function ecomsql adds; model-backed ones read models from `store`.
pub fn all_scalar_udfs(store: &Arc<dyn ModelStore>) -> Vec<Arc<ScalarUDF>> {
    let mut v = features::scalar_udfs();
    v.extend(segments::scalar_udfs(store));
    v.extend(ml::scalar_udfs(store));
    v.extend(sentiment::scalar_udfs());
    v
}

/// Every aggregate function ecomsql adds.
pub fn all_aggregate_udfs() -> Vec<Arc<AggregateUDF>> {
    let mut v = features::aggregate_udfs();
    v.extend(metrics::aggregate_udfs());
    v
}

/// Every window function ecomsql adds.
pub fn all_window_udfs() -> Vec<Arc<WindowUDF>> {
    features::window_udfs()
}

/// Every table function ecomsql adds: (SQL name, implementation, documentation). DataFusion's
/// table functions carry no documentation, so ours travels beside them.
pub fn all_table_functions(
    store: &Arc<dyn ModelStore>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, Documentation)> {
    let mut v = features::table_functions();
    v.extend(segments::table_functions(store));
    v.extend(ml::table_functions(store));
    v
}

/// The text a panic was raised with, when it was raised with text (`panic!("…")`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// One ecomsql function as the shell's `\h` lists it.
#[derive(Debug, Clone)]
pub struct FunctionHelp {
    /// SQL name.
    pub name: String,
    /// `scalar`, `aggregate`, `window` or `table`.
    pub kind: &'static str,
    /// The in-code documentation.
    pub documentation: Documentation,
}

/// The documentation of every ecomsql function, sorted by name.
pub fn all_function_docs() -> Vec<FunctionHelp> {
    let store: Arc<dyn ModelStore> = Arc::new(model::NoModelStore);
    let mut out = Vec::new();
    for f in all_scalar_udfs(&store) {
        if let Some(d) = f.documentation() {
            out.push(FunctionHelp {
                name: f.name().to_string(),
                kind: "scalar",
                documentation: d.clone(),
            });
        }
    }
    for f in all_aggregate_udfs() {
        if let Some(d) = f.documentation() {
            out.push(FunctionHelp {
                name: f.name().to_string(),
                kind: "aggregate",
                documentation: d.clone(),
            });
        }
    }
    for f in all_window_udfs() {
        if let Some(d) = f.documentation() {
            out.push(FunctionHelp {
                name: f.name().to_string(),
                kind: "window",
                documentation: d.clone(),
            });
        }
    }
    for (name, _, documentation) in all_table_functions(&store) {
        out.push(FunctionHelp {
            name: name.to_string(),
            kind: "table",
            documentation,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Registers every ecomsql function into `ctx`; model-backed functions read models from
/// `store` (pass `Arc::new(model::NoModelStore)` for a session without models). Checked
/// integer arithmetic at run time also needs the session built with
/// [`rewrite::physical_optimizer_rules`].
pub fn register_all(ctx: &SessionContext, store: Arc<dyn ModelStore>) {
    for f in all_scalar_udfs(&store) {
        ctx.register_udf(f.as_ref().clone());
    }
    for f in all_aggregate_udfs() {
        ctx.register_udaf(f.as_ref().clone());
    }
    for f in all_window_udfs() {
        ctx.register_udwf(f.as_ref().clone());
    }
    for (name, f, _) in all_table_functions(&store) {
        ctx.register_udtf(name, f);
    }
    for rule in rewrite::all_optimizer_rules() {
        ctx.add_optimizer_rule(rule);
    }
    for rule in rewrite::all_analyzer_rules() {
        ctx.add_analyzer_rule(rule);
    }
    safety::register(ctx);
    aggregates::register(ctx);
}
