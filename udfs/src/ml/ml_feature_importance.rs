//! `ml_feature_importance('model')`: how much each input feature drives a propensity model
//! (BigQuery's `ML.FEATURE_IMPORTANCE`), one row per feature, most important first.
//!
//! - `logistic_reg`: the sum of absolute coefficients of the feature's encoded columns. Numeric
//!   features are standardised in training, so their coefficients are per standard deviation and
//!   comparable; a string feature sums its one-hot columns.
//! - `boosted_tree`: the total split gain of the feature over all trees.
//!
//! `share` is the importance divided by the total, so the shares add up to 1.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Documentation;

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::only_model_arg;
use crate::model::{Model, ModelBody, ModelRef, ModelStore, StoreHandle};

/// The `ml_feature_importance` table function.
#[derive(Debug)]
pub struct MlFeatureImportanceFunc {
    store: StoreHandle,
}

impl MlFeatureImportanceFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_feature_importance";

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
        "Table function: the importance of each input feature of a propensity model, most \
         important first: feature, importance and share (of the total, adding up to 1). \
         logistic_reg: sum of absolute coefficients of the feature's encoded columns (numeric \
         features are standardised, so coefficients are per standard deviation); boosted_tree: \
         total split gain over all trees.",
        "ml_feature_importance('model')",
    )
    .with_argument(
        "model",
        "A logistic_reg or boosted_tree model name, optionally with @version.",
    )
    .with_sql_example(
        "```sql\n> SELECT feature, round(share, 3) FROM ml_feature_importance('churn');\n```",
    )
    .build()
});

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("importance", DataType::Float64, false),
        Field::new("share", DataType::Float64, true),
    ]))
}

/// Kernel: (feature, importance) per input feature of `model`, in feature order.
pub fn importances(function: &str, model: &Model) -> Result<Vec<(String, f64)>> {
    match &model.body {
        ModelBody::LogisticReg(b) => {
            let mut out = Vec::with_capacity(model.features.len());
            let mut col = 0;
            for f in &model.features {
                let w = f.width();
                let Some(coefs) = b.model.coefficients.get(col..col + w) else {
                    return exec_err!("{function}: model {} is damaged", model.label());
                };
                out.push((f.name.clone(), coefs.iter().map(|c| c.abs()).sum()));
                col += w;
            }
            Ok(out)
        }
        ModelBody::BoostedTree(b) => Ok(model
            .features
            .iter()
            .map(|f| f.name.clone())
            .zip(b.trees.feature_importance())
            .collect()),
        _ => exec_err!(
            "{function}: model {} is a {} model; feature importance is defined for logistic_reg and boosted_tree",
            model.label(),
            model.model_type.as_str()
        ),
    }
}

impl TableFunctionImpl for MlFeatureImportanceFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let model = only_model_arg(Self::NAME, args.exprs(), "a model name")?;
        Ok(Arc::new(LazyTable(Importance {
            model,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct Importance {
    model: ModelRef,
    store: StoreHandle,
}

#[async_trait]
impl TableComputation for Importance {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    async fn compute(&self, _state: &SessionState) -> Result<RecordBatch> {
        let model = self.model.resolve(&*self.store)?;
        let mut rows = importances(MlFeatureImportanceFunc::NAME, &model)?;
        rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let total: f64 = rows.iter().map(|r| r.1).sum();
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.0.as_str()),
                )),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(
                    rows.iter()
                        .map(|r| (total > 0.0).then(|| r.1 / total))
                        .collect::<Float64Array>(),
                ),
            ],
        )?)
    }
}
