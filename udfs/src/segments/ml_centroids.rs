//! `ml_centroids('model')`: the centroids of a k-means model in the features' original units
//! (BigQuery's `ML.CENTROIDS`), with each cluster's size and share of the training rows.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Documentation;

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::only_model_arg;
use crate::model::features::FeatureKind;
use crate::model::{ModelRef, ModelStore, StoreHandle};
use crate::segments::assign::kmeans_body;

/// The `ml_centroids` table function.
#[derive(Debug)]
pub struct MlCentroidsFunc {
    store: StoreHandle,
}

impl MlCentroidsFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_centroids";

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
        "Table function: the centroids of a k-means model, one row per (centroid, feature) — \
         and per category for string features — with centroid_id (1..k, as segment() returns), \
         feature, numerical_value (numeric features, in original units: the stored scaling is \
         undone), category and categorical_value (string features: the centroid's weight for \
         that category, i.e. its share in the cluster), cluster_size and cluster_share of the \
         training rows. For distance = 'cosine' models the values describe the centroid's \
         direction, not an average customer.",
        "ml_centroids('model')",
    )
    .with_argument("model", "A k-means model name, optionally with @version.")
    .with_sql_example(
        "```sql\n\
         > SELECT centroid_id, feature, round(numerical_value, 2) AS value, cluster_share\n\
           FROM ml_centroids('seg') WHERE category IS NULL ORDER BY centroid_id, feature;\n\
         ```",
    )
    .build()
});

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("centroid_id", DataType::Int64, false),
        Field::new("feature", DataType::Utf8, false),
        Field::new("numerical_value", DataType::Float64, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("categorical_value", DataType::Float64, true),
        Field::new("cluster_size", DataType::Int64, false),
        Field::new("cluster_share", DataType::Float64, false),
    ]))
}

impl TableFunctionImpl for MlCentroidsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let model = only_model_arg(Self::NAME, args.exprs(), "a k-means model name")?;
        Ok(Arc::new(LazyTable(Centroids {
            model,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct Centroids {
    model: ModelRef,
    store: StoreHandle,
}

#[async_trait]
impl TableComputation for Centroids {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    async fn compute(&self, _state: &SessionState) -> Result<RecordBatch> {
        let model = self.model.resolve(&*self.store)?;
        let body = kmeans_body(MlCentroidsFunc::NAME, &model)?;
        let total: u64 = body.cluster_sizes.iter().sum();
        let mut id = Int64Builder::new();
        let mut feature = StringBuilder::new();
        let mut num = Float64Builder::new();
        let mut cat = StringBuilder::new();
        let mut cat_value = Float64Builder::new();
        let mut size = Int64Builder::new();
        let mut share = Float64Builder::new();
        for c in 0..body.k {
            let centroid = &body.centroids[c * body.width..(c + 1) * body.width];
            let n = body.cluster_sizes.get(c).copied().unwrap_or(0);
            let mut col = 0;
            for f in &model.features {
                let mut row = |value: Option<f64>, category: Option<&str>, weight: Option<f64>| {
                    id.append_value(c as i64 + 1);
                    feature.append_value(&f.name);
                    num.append_option(value);
                    cat.append_option(category);
                    cat_value.append_option(weight);
                    size.append_value(n as i64);
                    share.append_value(n as f64 / total.max(1) as f64);
                };
                match &f.kind {
                    FeatureKind::Numeric { mean, std, .. } => {
                        let v = centroid[col];
                        let original = if model.standardize { mean + std * v } else { v };
                        row(Some(original), None, None);
                        col += 1;
                    }
                    FeatureKind::Categorical { vocabulary } => {
                        for (j, category) in vocabulary.iter().enumerate() {
                            row(None, Some(category), Some(centroid[col + j]));
                        }
                        col += vocabulary.len();
                    }
                    // k-means never takes text (only text_classifier does).
                    FeatureKind::Text => {}
                }
            }
        }
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(id.finish()),
                Arc::new(feature.finish()),
                Arc::new(num.finish()),
                Arc::new(cat.finish()),
                Arc::new(cat_value.finish()),
                Arc::new(size.finish()),
                Arc::new(share.finish()),
            ],
        )?)
    }
}
