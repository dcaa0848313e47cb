//! `ml_roc_curve('model', 'SELECT …')`: the ROC and precision–recall curve of a two-class model
//! on the rows of a query (BigQuery's `ML.ROC_CURVE`), one row per distinct score used as the
//! threshold, from the highest down: predicting positive when P(positive) ≥ threshold.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Documentation, LogicalPlan};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::binary_scores;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::string_literal;
use crate::model::{ModelRef, ModelStore, StoreHandle};
use crate::query_arg::query_argument;

/// The `ml_roc_curve` table function.
#[derive(Debug)]
pub struct MlRocCurveFunc {
    store: StoreHandle,
}

impl MlRocCurveFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_roc_curve";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            store: StoreHandle(store),
        }
    }

    /// The in-code documentation.
    pub fn documentation(&self) -> &Documentation {
        &DOCUMENTATION
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Table function: the ROC and precision-recall curve of a two-class model on the rows of \
         a query that returns the model's features and its label column. One row per distinct \
         predicted probability, highest first, taken as the threshold (positive when \
         P(positive) >= threshold): threshold, tpr (= recall), fpr, precision, recall, \
         true_positives, false_positives. Rows with a NULL label are skipped.",
        "ml_roc_curve('model', 'SELECT …')",
    )
    .with_argument("model", "A two-class model name (logistic_reg, or naive_bayes with two classes), optionally with @version.")
    .with_argument("query", "A query returning the model's features and label column by name.")
    .with_sql_example(
        "```sql\n\
         > SELECT threshold, tpr, fpr FROM ml_roc_curve('churn', 'SELECT * FROM churn_features WHERE held_out');\n\
         ```",
    )
    .build()
});

fn schema() -> SchemaRef {
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        f("threshold"),
        f("tpr"),
        f("fpr"),
        f("precision"),
        f("recall"),
        Field::new("true_positives", DataType::Int64, false),
        Field::new("false_positives", DataType::Int64, false),
    ]))
}

impl TableFunctionImpl for MlRocCurveFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 2 {
            return plan_err!(
                "{} expects 2 arguments (a model name and a query), got {}",
                Self::NAME,
                args.exprs().len()
            );
        }
        let model = ModelRef::parse(&string_literal(Self::NAME, args.exprs(), 0, "model")?)?;
        let query = query_argument(Self::NAME, &args, 1)?;
        Ok(Arc::new(LazyTable(RocCurve {
            model,
            query,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct RocCurve {
    model: ModelRef,
    /// The checked plan of the query argument (see `query_arg`).
    query: LogicalPlan,
    store: StoreHandle,
}

/// Kernel: (threshold, true positives, false positives) at each distinct score, highest first.
pub fn roc_points(y: &[bool], p: &[f64]) -> Vec<(f64, u64, u64)> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut i = 0;
    while i < idx.len() {
        let t = p[idx[i]];
        while i < idx.len() && p[idx[i]] == t {
            if y[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        out.push((t, tp, fp));
    }
    out
}

#[async_trait]
impl TableComputation for RocCurve {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    async fn compute(&self, state: &SessionState) -> Result<RecordBatch> {
        let model = self.model.resolve(&*self.store)?;
        let (y, p) = binary_scores(MlRocCurveFunc::NAME, &model, state, &self.query).await?;
        let positives = y.iter().filter(|&&v| v).count() as f64;
        let negatives = y.len() as f64 - positives;
        let points = roc_points(&y, &p);
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        let col = |f: &dyn Fn(&(f64, u64, u64)) -> Option<f64>| -> Arc<Float64Array> {
            Arc::new(points.iter().map(f).collect())
        };
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                col(&|x| Some(x.0)),
                col(&|x| ratio(x.1 as f64, positives)),
                col(&|x| ratio(x.2 as f64, negatives)),
                col(&|x| ratio(x.1 as f64, (x.1 + x.2) as f64)),
                col(&|x| ratio(x.1 as f64, positives)),
                Arc::new(Int64Array::from_iter_values(
                    points.iter().map(|x| x.1 as i64),
                )),
                Arc::new(Int64Array::from_iter_values(
                    points.iter().map(|x| x.2 as i64),
                )),
            ],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_group_ties_and_accumulate() {
        let y = [true, false, true, false];
        let p = [0.9, 0.9, 0.5, 0.1];
        assert_eq!(
            roc_points(&y, &p),
            vec![(0.9, 1, 1), (0.5, 2, 1), (0.1, 2, 2)]
        );
    }
}
