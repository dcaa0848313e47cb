//! Model-generic functions: prediction with classifiers (`predict_label`, `predict_proba`,
//! `predict_label_probs`) and the table functions that work on any model (`ml_predict`,
//! `ml_evaluate`, `ml_model_info`) or on two-class models (`ml_roc_curve`, `ml_lift_table`). Every one reads its model from the session's
//! [`ModelStore`](crate::model::ModelStore) when the query runs.
//!
//! To add a function: one file here named after it, listed below. Shared argument handling is
//! in `model_args.rs`, classifier application in `classify.rs`.

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::model::ModelStore;

pub mod classify;
pub mod lazy_table;
pub mod ml_evaluate;
pub mod ml_explain_predict;
pub mod ml_feature_importance;
pub mod ml_lift_table;
pub mod ml_model_info;
pub mod ml_predict;
pub mod ml_roc_curve;
pub mod model_args;
pub mod predict_label;
pub mod predict_label_probs;
pub mod predict_proba;

/// The scalar functions of this family.
pub fn scalar_udfs(store: &Arc<dyn ModelStore>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(
            predict_label::PredictLabelFunc::new(Arc::clone(store)),
        )),
        Arc::new(ScalarUDF::new_from_impl(
            predict_label_probs::PredictLabelProbsFunc::new(Arc::clone(store)),
        )),
        Arc::new(ScalarUDF::new_from_impl(
            predict_proba::PredictProbaFunc::new(Arc::clone(store)),
        )),
    ]
}

/// The table functions of this family: (SQL name, implementation, documentation).
pub fn table_functions(
    store: &Arc<dyn ModelStore>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>, Documentation)> {
    let evaluate = ml_evaluate::MlEvaluateFunc::new(Arc::clone(store));
    let info = ml_model_info::MlModelInfoFunc::new(Arc::clone(store));
    let predict = ml_predict::MlPredictFunc::new(Arc::clone(store));
    let lift = ml_lift_table::MlLiftTableFunc::new(Arc::clone(store));
    let roc = ml_roc_curve::MlRocCurveFunc::new(Arc::clone(store));
    let importance = ml_feature_importance::MlFeatureImportanceFunc::new(Arc::clone(store));
    let explain = ml_explain_predict::MlExplainPredictFunc::new(Arc::clone(store));
    vec![
        (
            ml_evaluate::MlEvaluateFunc::NAME,
            evaluate.documentation().clone(),
            Arc::new(evaluate) as Arc<dyn TableFunctionImpl>,
        ),
        (
            ml_model_info::MlModelInfoFunc::NAME,
            info.documentation().clone(),
            Arc::new(info),
        ),
        (
            ml_predict::MlPredictFunc::NAME,
            predict.documentation().clone(),
            Arc::new(predict),
        ),
        (
            ml_lift_table::MlLiftTableFunc::NAME,
            lift.documentation().clone(),
            Arc::new(lift),
        ),
        (
            ml_roc_curve::MlRocCurveFunc::NAME,
            roc.documentation().clone(),
            Arc::new(roc),
        ),
        (
            ml_feature_importance::MlFeatureImportanceFunc::NAME,
            importance.documentation().clone(),
            Arc::new(importance),
        ),
        (
            ml_explain_predict::MlExplainPredictFunc::NAME,
            explain.documentation().clone(),
            Arc::new(explain),
        ),
    ]
    .into_iter()
    .map(|(name, doc, f)| (name, f, doc))
    .collect()
}
