//! `ml_evaluate('model', 'SELECT …')`: a model's quality on the rows of a query (BigQuery's
//! `ML.EVALUATE`), computed by the same code as the metrics stored at training.
//!
//! - k-means: rows, inertia, mean_squared_distance, davies_bouldin_index, silhouette (on a
//!   sample of 5 000 rows), cluster_sizes.
//! - naive Bayes (the query must also return the label column): rows, accuracy, precision,
//!   recall, f1_score (macro averages over classes), log_loss.
//! - binary classifiers (logistic_reg, boosted_tree): rows, roc_auc, pr_auc, log_loss, brier, and at the 0.5
//!   threshold accuracy, precision, recall, f1_score and positive_rate.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, Int64Builder, ListBuilder, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Documentation, LogicalPlan};
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::labelled_probabilities;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::{feature_indices, string_literal};
use crate::model::train::{binary_metrics, classification_metrics, cluster_metrics};
use crate::model::{Model, ModelBody, ModelRef, ModelStore, ModelType, StoreHandle};
use crate::query_arg::query_argument;
use crate::segments::assign::{assign_arrays, body_distance, kmeans_body};

/// The `ml_evaluate` table function.
#[derive(Debug)]
pub struct MlEvaluateFunc {
    store: StoreHandle,
}

impl MlEvaluateFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_evaluate";

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
        "Table function: one row of quality metrics of a model on the rows of a query. k-means: \
         rows, inertia (sum of squared distances to the assigned centroid, in the encoded \
         space), mean_squared_distance, davies_bouldin_index (lower is better), silhouette \
         (mean over a 5 000-row sample, higher is better) and cluster_sizes. Classifiers (the \
         query must also return the label column): rows, accuracy, precision, recall, f1_score \
         (macro averages) and log_loss. Rows with NaN or infinity in a feature are skipped.",
        "ml_evaluate('model', 'SELECT …')",
    )
    .with_argument("model", "A model name, optionally with @version.")
    .with_argument("query", "A query returning the model's features by name (and the label for classifiers).")
    .with_sql_example(
        "```sql\n\
         > SELECT davies_bouldin_index, silhouette\n\
           FROM ml_evaluate('seg', 'SELECT * FROM user_features WHERE hash_split(user_id) >= 0.8');\n\
         ```",
    )
    .build()
});

/// The columns of a binary classifier's evaluation, in order.
const BINARY_METRICS: [&str; 9] = [
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "accuracy",
    "precision",
    "recall",
    "f1_score",
    "positive_rate",
];

fn schema(model_type: ModelType) -> SchemaRef {
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    let mut fields = vec![Field::new("rows", DataType::Int64, false)];
    match model_type {
        ModelType::Kmeans => {
            fields.extend([
                f("inertia"),
                f("mean_squared_distance"),
                f("davies_bouldin_index"),
                f("silhouette"),
            ]);
            fields.push(Field::new(
                "cluster_sizes",
                DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
                false,
            ));
        }
        ModelType::LogisticReg | ModelType::BoostedTree | ModelType::TextClassifier => {
            fields.extend(BINARY_METRICS.iter().map(|m| f(m)));
        }
        ModelType::NaiveBayes => {
            fields.extend([
                f("accuracy"),
                f("precision"),
                f("recall"),
                f("f1_score"),
                f("log_loss"),
            ]);
        }
    }
    Arc::new(Schema::new(fields))
}

impl TableFunctionImpl for MlEvaluateFunc {
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
        // The type fixes the output schema; the parameters are read when the query runs.
        let model_type = model.resolve(&*self.store)?.model_type;
        Ok(Arc::new(LazyTable(Evaluate {
            model,
            model_type,
            query,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct Evaluate {
    model: ModelRef,
    model_type: ModelType,
    /// The checked plan of the query argument (see `query_arg`).
    query: LogicalPlan,
    store: StoreHandle,
}

#[async_trait]
impl TableComputation for Evaluate {
    fn schema(&self) -> SchemaRef {
        schema(self.model_type)
    }

    async fn compute(&self, state: &SessionState) -> Result<RecordBatch> {
        let f = MlEvaluateFunc::NAME;
        let model = self.model.resolve(&*self.store)?;
        if model.model_type != self.model_type {
            return exec_err!(
                "{f}: model {} changed type while the query was planned; run it again",
                model.label()
            );
        }
        let physical = state.create_physical_plan(&self.query).await?;
        let idx = feature_indices(f, &model, &physical.schema())?;
        let mut stream = execute_stream(physical, state.task_ctx())?;
        let metrics = match &model.body {
            ModelBody::Kmeans(_) => {
                let mut acc = KMeansAcc::default();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    let arrays: Vec<ArrayRef> =
                        idx.iter().map(|&i| Arc::clone(batch.column(i))).collect();
                    let a = assign_arrays(f, &model, &arrays, batch.num_rows())?;
                    acc.push(a);
                }
                acc.finish(&model)?
            }
            ModelBody::NaiveBayes(_)
            | ModelBody::LogisticReg(_)
            | ModelBody::BoostedTree(_)
            | ModelBody::TextClassifier(_) => {
                let (labels, proba, names, positive) =
                    labelled_probabilities(f, &model, stream, &idx).await?;
                let mut m = BTreeMap::new();
                match (positive, model.model_type) {
                    (
                        Some(pos),
                        ModelType::LogisticReg | ModelType::BoostedTree | ModelType::TextClassifier,
                    ) => {
                        let y: Vec<bool> = labels.iter().map(|&l| l as usize == pos).collect();
                        let p: Vec<f64> = (0..labels.len()).map(|r| proba[r * 2 + pos]).collect();
                        binary_metrics(&y, &p, 0.5, &mut m);
                    }
                    _ if !labels.is_empty() => {
                        classification_metrics(&proba, &labels, names.len(), &mut m);
                    }
                    _ => {}
                }
                m.insert("rows".into(), labels.len() as f64);
                m
            }
        };
        build_row(self.model_type, &metrics)
    }
}

/// Rows of a k-means evaluation, kept for the metrics that need all of them.
#[derive(Default)]
struct KMeansAcc {
    columns: Vec<Vec<f64>>,
    labels: Vec<u32>,
    distances: Vec<f64>,
}

impl KMeansAcc {
    fn push(&mut self, a: crate::segments::assign::Assignment) {
        if self.columns.is_empty() {
            self.columns = vec![Vec::new(); a.encoded.columns.len()];
        }
        for r in 0..a.labels.len() {
            if a.nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                continue;
            }
            for (dst, src) in self.columns.iter_mut().zip(&a.encoded.columns) {
                dst.push(src[r]);
            }
            self.labels.push(a.labels[r]);
            self.distances.push(a.distances[r]);
        }
    }

    fn finish(self, model: &Model) -> Result<BTreeMap<String, f64>> {
        let body = kmeans_body(MlEvaluateFunc::NAME, model)?;
        let mut m = BTreeMap::new();
        let columns: Vec<&[f64]> = self.columns.iter().map(Vec::as_slice).collect();
        if !self.labels.is_empty() {
            cluster_metrics(
                &columns,
                &self.labels,
                &self.distances,
                &body.centroids,
                body.k,
                body_distance(body),
                0,
                &mut m,
            );
        }
        m.insert("rows".into(), self.labels.len() as f64);
        for (c, n) in cluster_counts(&self.labels, body.k).into_iter().enumerate() {
            m.insert(format!("cluster_size_{c}"), n as f64);
        }
        Ok(m)
    }
}

fn cluster_counts(labels: &[u32], k: usize) -> Vec<u64> {
    let mut counts = vec![0u64; k];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

fn build_row(model_type: ModelType, m: &BTreeMap<String, f64>) -> Result<RecordBatch> {
    let schema = schema(model_type);
    let get = |k: &str| -> ArrayRef { Arc::new(Float64Array::from(vec![m.get(k).copied()])) };
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![
        m.get("rows").copied().unwrap_or(0.0) as i64,
    ]))];
    match model_type {
        ModelType::Kmeans => {
            for k in [
                "inertia",
                "mean_squared_distance",
                "davies_bouldin_index",
                "silhouette",
            ] {
                columns.push(get(k));
            }
            let mut sizes = ListBuilder::new(Int64Builder::new());
            let mut c = 0;
            while let Some(n) = m.get(&format!("cluster_size_{c}")) {
                sizes.values().append_value(*n as i64);
                c += 1;
            }
            sizes.append(true);
            columns.push(Arc::new(sizes.finish()));
        }
        ModelType::LogisticReg | ModelType::BoostedTree | ModelType::TextClassifier => {
            for k in BINARY_METRICS {
                columns.push(get(k));
            }
        }
        ModelType::NaiveBayes => {
            for k in ["accuracy", "precision", "recall", "f1_score", "log_loss"] {
                columns.push(get(k));
            }
        }
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}
