//! `ml_explain_predict('model', 'SELECT …', top_k)`: predictions with their reasons (BigQuery's
//! `ML.EXPLAIN_PREDICT`): the query's rows, the predicted label and probability, the baseline
//! log-odds and the `top_k` features that moved this row's log-odds the most.
//!
//! Contributions are in log-odds and add up exactly: `baseline_logit + Σ contributions (over
//! all features) = logit(probability)`.
//! - `logistic_reg`: coefficient × encoded value per encoded column, summed per feature; numeric
//!   features are standardised, so a value at the training mean contributes 0 and the baseline
//!   is the intercept (a string feature's baseline is "no category").
//! - `boosted_tree`: TreeSHAP values (exact Shapley values of the trees); the baseline is the
//!   mean training log-odds.
//! - `text_classifier`: weight × value per hashed n-gram bucket of the text, named by the text's
//!   n-grams in that bucket ("not good", "ood!"); the baseline is the intercept.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Builder, ListBuilder, RecordBatch, StringBuilder, StructBuilder,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Documentation;
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::{class_names, classify_arrays};
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::{feature_indices, int_literal, string_literal};
use crate::model::features::encode_batch;
use crate::model::{Model, ModelBody, ModelRef, ModelStore, StoreHandle};
use crate::query_arg::plan_query_arg;
use crate::sentiment::text_hashing::HashScratch;

/// The `ml_explain_predict` table function.
#[derive(Debug)]
pub struct MlExplainPredictFunc {
    store: StoreHandle,
}

impl MlExplainPredictFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_explain_predict";

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
        "Table function: the rows of a query with a propensity model's prediction and its \
         reasons: predicted_label, probability, baseline_logit and top_feature_attributions, a \
         list of the top_k {feature, contribution} pairs by absolute contribution (in log-odds). \
         Over all features, baseline_logit + the contributions = logit(probability). \
         logistic_reg: coefficient × standardised value; boosted_tree: TreeSHAP values; \
         text_classifier: the text's word and character n-grams, weight × value each.",
        "ml_explain_predict('model', 'SELECT …', top_k)",
    )
    .with_argument(
        "model",
        "A logistic_reg, boosted_tree or text_classifier model name, optionally with @version.",
    )
    .with_argument(
        "query",
        "A query returning the model's features by name; other columns pass through.",
    )
    .with_argument("top_k", "How many features to list per row, 1 to 1000.")
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, probability, top_feature_attributions\n\
           FROM ml_explain_predict('churn', 'SELECT * FROM churn_features WHERE held_out', 3)\n\
           ORDER BY probability DESC LIMIT 10;\n\
         ```",
    )
    .build()
});

fn attribution_fields() -> Fields {
    Fields::from(vec![
        Field::new("feature", DataType::Utf8, false),
        Field::new("contribution", DataType::Float64, false),
    ])
}

fn attribution_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(attribution_fields()),
        true,
    )))
}

impl TableFunctionImpl for MlExplainPredictFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 3 {
            return plan_err!(
                "{} expects 3 arguments (a model name, a query and top_k), got {}",
                Self::NAME,
                args.exprs().len()
            );
        }
        let f = Self::NAME;
        let model_ref = ModelRef::parse(&string_literal(f, args.exprs(), 0, "model")?)?;
        let query = string_literal(f, args.exprs(), 1, "query")?;
        let top_k = int_literal(f, args.exprs(), 2, "top_k")?;
        if !(1..=1000).contains(&top_k) {
            return plan_err!("{f} argument 3 (top_k) must be from 1 to 1000, got {top_k}");
        }
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return exec_err!("{f} needs a DataFusion SessionState");
        };
        let model = model_ref.resolve(&*self.store)?;
        if !matches!(
            model.body,
            ModelBody::LogisticReg(_) | ModelBody::BoostedTree(_) | ModelBody::TextClassifier(_)
        ) {
            return plan_err!(
                "{f}: model {} is a {} model; explanations are defined for logistic_reg, boosted_tree and text_classifier",
                model.label(),
                model.model_type.as_str()
            );
        }
        let input = plan_query_arg(f, 2, state, &query)?;
        let input_schema = input.schema().as_arrow().clone();
        feature_indices(f, &model, &input_schema)?;
        let mut fields: Vec<Field> = input_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for (name, t) in [
            ("predicted_label", DataType::Utf8),
            ("probability", DataType::Float64),
            ("baseline_logit", DataType::Float64),
            ("top_feature_attributions", attribution_type()),
        ] {
            if input_schema.index_of(name).is_ok() {
                return plan_err!(
                    "{f}: the query already has a column named {name}, which {f} adds; rename it"
                );
            }
            fields.push(Field::new(name, t, true));
        }
        Ok(Arc::new(LazyTable(Explain {
            model: model_ref,
            query,
            top_k: top_k as usize,
            schema: Arc::new(Schema::new(fields)),
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct Explain {
    model: ModelRef,
    query: String,
    top_k: usize,
    schema: SchemaRef,
    store: StoreHandle,
}

/// Kernel: per-row (baseline, contributions per input feature) of `model` on `arrays`.
pub fn contributions(
    function: &str,
    model: &Model,
    arrays: &[ArrayRef],
    rows: usize,
) -> Result<(f64, Vec<f64>)> {
    let what = format!("{function}: model {}", model.label());
    let encoded = encode_batch(
        &what,
        &model.features,
        model.standardize,
        model.native_encoding,
        arrays,
        rows,
    )?;
    let nf = model.features.len();
    let mut out = vec![0.0; rows * nf];
    match &model.body {
        ModelBody::LogisticReg(b) => {
            let mut col = 0;
            for (j, f) in model.features.iter().enumerate() {
                for c in col..col + f.width() {
                    let beta = b.model.coefficients.get(c).copied().unwrap_or(0.0);
                    for (r, x) in encoded.columns[c].iter().enumerate() {
                        out[r * nf + j] += beta * x;
                    }
                }
                col += f.width();
            }
            Ok((b.model.intercept, out))
        }
        ModelBody::BoostedTree(b) => {
            b.trees
                .contributions(&encoded.slices(), &mut out)
                .map_err(|e| DataFusionError::Execution(format!("{what}: {e}")))?;
            Ok((b.trees.base_score, out))
        }
        _ => exec_err!("{what}: explanations are defined for logistic_reg and boosted_tree"),
    }
}

#[async_trait]
impl TableComputation for Explain {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    async fn compute(&self, state: &SessionState) -> Result<RecordBatch> {
        let f = MlExplainPredictFunc::NAME;
        let model = self.model.resolve(&*self.store)?;
        let plan = state
            .create_logical_plan(&self.query)
            .await
            .map_err(|e| e.context(format!("{f} could not plan its query")))?;
        let physical = state.create_physical_plan(&plan).await?;
        let idx = feature_indices(f, &model, &physical.schema())?;
        let (names, positive) = class_names(f, &model)?;
        let nf = model.features.len();
        let mut stream = execute_stream(physical, state.task_ctx())?;
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let rows = batch.num_rows();
            let arrays: Vec<ArrayRef> = idx.iter().map(|&i| Arc::clone(batch.column(i))).collect();
            let c = classify_arrays(f, &model, &arrays, rows, false)?;
            let text_model = match &model.body {
                ModelBody::TextClassifier(b) => Some(&b.model),
                _ => None,
            };
            let (baseline, contrib) = match text_model {
                Some(m) => (m.intercept, Vec::new()),
                None => contributions(f, &model, &arrays, rows)?,
            };
            let texts = match text_model {
                Some(_) => Some(datafusion::arrow::compute::cast(
                    &arrays[0],
                    &DataType::Utf8,
                )?),
                None => None,
            };
            let mut scratch = HashScratch::default();
            let mut label = StringBuilder::new();
            let mut prob = Float64Builder::new();
            let mut base = Float64Builder::new();
            let mut top = ListBuilder::new(StructBuilder::new(
                attribution_fields(),
                vec![
                    Box::new(StringBuilder::new()),
                    Box::new(Float64Builder::new()),
                ],
            ))
            .with_field(Arc::new(Field::new(
                "item",
                DataType::Struct(attribution_fields()),
                true,
            )));
            for r in 0..rows {
                if c.nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                    label.append_null();
                    prob.append_null();
                    base.append_null();
                    top.append(false);
                    continue;
                }
                label.append_value(&names[c.predicted(r, positive)]);
                prob.append_value(c.probability(r, positive));
                base.append_value(baseline);
                let mut attributions: Vec<(String, f64)> = match (text_model, &texts) {
                    (Some(m), Some(t)) => {
                        m.attributions(t.as_string::<i32>().value(r), &mut scratch)
                    }
                    _ => model
                        .features
                        .iter()
                        .zip(&contrib[r * nf..(r + 1) * nf])
                        .map(|(f, c)| (f.name.clone(), *c))
                        .collect(),
                };
                // Stable: ties keep feature (or bucket) order.
                attributions.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
                let items = top.values();
                for (name, value) in attributions.iter().take(self.top_k) {
                    items
                        .field_builder::<StringBuilder>(0)
                        .expect("feature builder")
                        .append_value(name);
                    items
                        .field_builder::<Float64Builder>(1)
                        .expect("contribution builder")
                        .append_value(*value);
                    items.append(true);
                }
                top.append(true);
            }
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns.push(Arc::new(label.finish()));
            columns.push(Arc::new(prob.finish()));
            columns.push(Arc::new(base.finish()));
            columns.push(Arc::new(top.finish()));
            out.push(RecordBatch::try_new(Arc::clone(&self.schema), columns)?);
        }
        if out.is_empty() {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.schema)));
        }
        Ok(concat_batches(&self.schema, &out)?)
    }
}
