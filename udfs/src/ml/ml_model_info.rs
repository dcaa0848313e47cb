//! `ml_model_info('model')`: everything known about a model version, one (section, key, value)
//! row per fact: type and version, every option in effect, each feature's encoding (mean and
//! std, or vocabulary), the training query, rows used and sampling, training time, data
//! fingerprint, evaluation metrics, and type-specific details (the `'auto'` k curve, classes).

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Documentation;

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::only_model_arg;
use crate::model::features::encoded_names;
use crate::model::{Model, ModelBody, ModelRef, ModelStore, StoreHandle};

/// The `ml_model_info` table function.
#[derive(Debug)]
pub struct MlModelInfoFunc {
    store: StoreHandle,
}

impl MlModelInfoFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_model_info";

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
        "Table function: everything known about a model version as (section, key, value) rows. \
         Sections: model (type, version, created_at, ecomsql_version), option (every option in \
         effect, defaults included), feature (encoding: mean/std/min/max and imputed NULLs, or \
         the one-hot vocabulary), training (query, rows_seen, rows_used, sampled, seconds, \
         fingerprint), metric (evaluation on the training data), and per type: kmeans (k, \
         iterations, cluster sizes), auto_k (the silhouette curve of num_clusters = 'auto'), \
         class (classes and priors).",
        "ml_model_info('model')",
    )
    .with_argument(
        "model",
        "A model name, optionally with @version (latest by default).",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT key, value FROM ml_model_info('seg') WHERE section = 'metric';\n\
         > SELECT * FROM ml_model_info('seg@1');\n\
         ```",
    )
    .build()
});

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("section", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

impl TableFunctionImpl for MlModelInfoFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let model = only_model_arg(Self::NAME, args.exprs(), "a model name")?;
        Ok(Arc::new(LazyTable(ModelInfo {
            model,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct ModelInfo {
    model: ModelRef,
    store: StoreHandle,
}

#[async_trait]
impl TableComputation for ModelInfo {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    async fn compute(&self, _state: &SessionState) -> Result<RecordBatch> {
        let model = self.model.resolve(&*self.store)?;
        let rows = info_rows(&model);
        let mut s = StringBuilder::new();
        let mut k = StringBuilder::new();
        let mut v = StringBuilder::new();
        for (section, key, value) in rows {
            s.append_value(section);
            k.append_value(key);
            v.append_value(value);
        }
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(s.finish()),
                Arc::new(k.finish()),
                Arc::new(v.finish()),
            ],
        )?)
    }
}

/// The facts of a model, in display order.
pub fn info_rows(m: &Model) -> Vec<(&'static str, String, String)> {
    let mut rows = vec![
        ("model", "name".to_string(), m.name.clone()),
        ("model", "version".into(), m.version.to_string()),
        ("model", "model_type".into(), m.model_type.as_str().into()),
        ("model", "created_at".into(), m.created_at.clone()),
        ("model", "ecomsql_version".into(), m.ecomsql_version.clone()),
    ];
    for (k, v) in &m.options {
        rows.push(("option", k.clone(), v.clone()));
    }
    for f in &m.features {
        rows.push(("feature", f.name.clone(), f.describe()));
    }
    let t = &m.training;
    rows.extend([
        ("training", "query".to_string(), t.query.clone()),
        ("training", "rows_seen".into(), t.rows_seen.to_string()),
        ("training", "rows_used".into(), t.rows_used.to_string()),
        ("training", "sampled".into(), t.sampled.to_string()),
        (
            "training",
            "rows_without_label".into(),
            t.rows_without_label.to_string(),
        ),
        ("training", "seconds".into(), format!("{:.3}", t.seconds)),
        ("training", "fingerprint".into(), t.fingerprint.clone()),
    ]);
    for (k, v) in &m.metrics {
        rows.push(("metric", k.clone(), v.to_string()));
    }
    match &m.body {
        ModelBody::Kmeans(b) => {
            rows.push(("kmeans", "k".into(), b.k.to_string()));
            rows.push(("kmeans", "distance".into(), b.distance.clone()));
            rows.push(("kmeans", "iterations".into(), b.iterations.to_string()));
            rows.push(("kmeans", "converged".into(), b.converged.to_string()));
            let sizes: Vec<String> = b.cluster_sizes.iter().map(u64::to_string).collect();
            rows.push(("kmeans", "cluster_sizes".into(), sizes.join(", ")));
            for s in &b.auto_k {
                rows.push((
                    "auto_k",
                    format!("k={}", s.k),
                    format!(
                        "silhouette={} inertia={}",
                        s.silhouette
                            .map_or("undefined".to_string(), |v| v.to_string()),
                        s.inertia
                    ),
                ));
            }
        }
        ModelBody::LogisticReg(b) => {
            rows.push(("class", "label_column".into(), b.label.clone()));
            rows.push(("class", "positive_class".into(), b.positive_class.clone()));
            for (c, w) in b.classes.iter().zip(&b.class_weights) {
                rows.push(("class", c.clone(), format!("weight={w}")));
            }
            rows.push(("training", "data_split".into(), b.data_split.clone()));
            rows.push(("training", "eval_rows".into(), b.eval_rows.to_string()));
            rows.push((
                "coefficient",
                "(intercept)".into(),
                b.model.intercept.to_string(),
            ));
            for (name, c) in encoded_names(&m.features)
                .into_iter()
                .zip(&b.model.coefficients)
            {
                rows.push(("coefficient", name, c.to_string()));
            }
            rows.push((
                "logistic",
                "iterations".into(),
                b.model.iterations.to_string(),
            ));
            rows.push((
                "logistic",
                "converged".into(),
                b.model.converged.to_string(),
            ));
        }
        ModelBody::BoostedTree(b) => {
            rows.push(("class", "label_column".into(), b.label.clone()));
            rows.push(("class", "positive_class".into(), b.positive_class.clone()));
            rows.push(("training", "data_split".into(), b.data_split.clone()));
            rows.push(("training", "eval_rows".into(), b.eval_rows.to_string()));
            rows.push((
                "boosted_tree",
                "trees".into(),
                b.trees.trees.len().to_string(),
            ));
            rows.push((
                "boosted_tree",
                "base_score".into(),
                b.trees.base_score.to_string(),
            ));
            for (f, g) in m.features.iter().zip(b.trees.feature_importance()) {
                rows.push(("importance", f.name.clone(), g.to_string()));
            }
        }
        ModelBody::TextClassifier(b) => {
            rows.push(("class", "label_column".into(), b.label.clone()));
            rows.push(("class", "positive_class".into(), b.positive_class.clone()));
            for (c, w) in b.classes.iter().zip(&b.class_weights) {
                rows.push(("class", c.clone(), format!("weight={w}")));
            }
            rows.push(("training", "data_split".into(), b.data_split.clone()));
            rows.push(("training", "eval_rows".into(), b.eval_rows.to_string()));
            let k = &b.model;
            rows.push((
                "text_classifier",
                "intercept".into(),
                k.intercept.to_string(),
            ));
            rows.push((
                "text_classifier",
                "nonzero_weights".into(),
                k.nonzero_weights().to_string(),
            ));
            rows.push((
                "text_classifier",
                "training_ngrams".into(),
                k.training_nnz.to_string(),
            ));
            rows.push((
                "text_classifier",
                "iterations".into(),
                k.iterations.to_string(),
            ));
            rows.push((
                "text_classifier",
                "converged".into(),
                k.converged.to_string(),
            ));
        }
        ModelBody::NaiveBayes(b) => {
            rows.push(("class", "label_column".into(), b.label.clone()));
            if let Some(p) = &b.positive_class {
                rows.push(("class", "positive_class".into(), p.clone()));
            }
            for (c, prior) in b.classes.iter().zip(&b.nb.priors) {
                rows.push(("class", c.clone(), format!("prior={prior}")));
            }
        }
    }
    rows
}
