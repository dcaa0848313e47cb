//! `SHOW MODELS`: one row per model with its latest version — name, type, version, number of
//! versions, created_at, training rows, the type's key metric — and `problem` when the latest
//! file cannot be read (the other models are still listed).

use std::sync::Arc;

use datafusion::arrow::array::{Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;

use super::one_batch_stream;
use crate::registry::ModelRegistry;

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        datafusion::logical_expr::Documentation::builder(
            ecomsql_udfs::doc::DOC_SECTION_MODELS,
            "Lists the models in the registry: name, model_type, latest version, number of \
             versions, created_at, training rows, the type's key metric (davies_bouldin_index \
             for kmeans, accuracy for classifiers) and problem (why a damaged file could not be \
             read; the other models are still listed).",
            "SHOW MODELS",
        )
        .with_sql_example("```sql\n> SHOW MODELS;\n```")
        .build()
    });

/// The statement's documentation (`\h show models` in the shell).
pub fn documentation() -> &'static datafusion::logical_expr::Documentation {
    &DOCUMENTATION
}

/// A planned `SHOW MODELS`.
#[derive(Debug)]
pub struct ShowPlan {
    /// Where models live.
    pub registry: Arc<ModelRegistry>,
}

impl ShowPlan {
    /// The output schema.
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("model_type", DataType::Utf8, true),
            Field::new("version", DataType::Int64, false),
            Field::new("versions", DataType::Int64, false),
            Field::new("created_at", DataType::Utf8, true),
            Field::new("rows", DataType::Int64, true),
            Field::new("key_metric", DataType::Utf8, true),
            Field::new("key_metric_value", DataType::Float64, true),
            Field::new("problem", DataType::Utf8, true),
        ]))
    }

    /// Lists the registry.
    pub fn execute(&self) -> Result<SendableRecordBatchStream> {
        let registry = Arc::clone(&self.registry);
        Ok(one_batch_stream(Self::schema(), async move {
            let models = tokio::task::spawn_blocking(move || registry.list())
                .await
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))??;
            let mut name = StringBuilder::new();
            let mut ty = StringBuilder::new();
            let mut version = Int64Builder::new();
            let mut versions = Int64Builder::new();
            let mut created = StringBuilder::new();
            let mut rows = Int64Builder::new();
            let mut metric = StringBuilder::new();
            let mut value = Float64Builder::new();
            let mut problem = StringBuilder::new();
            for m in models {
                name.append_value(&m.name);
                version.append_value(i64::from(m.version));
                versions.append_value(m.versions as i64);
                match &m.latest {
                    Ok(model) => {
                        let key = model.model_type.key_metric();
                        ty.append_value(model.model_type.as_str());
                        created.append_value(&model.created_at);
                        rows.append_value(model.training.rows_used as i64);
                        metric.append_value(key);
                        value.append_option(model.metrics.get(key).copied());
                        problem.append_null();
                    }
                    Err(e) => {
                        ty.append_null();
                        created.append_null();
                        rows.append_null();
                        metric.append_null();
                        value.append_null();
                        problem.append_value(e);
                    }
                }
            }
            Ok(RecordBatch::try_new(
                Self::schema(),
                vec![
                    Arc::new(name.finish()),
                    Arc::new(ty.finish()),
                    Arc::new(version.finish()),
                    Arc::new(versions.finish()),
                    Arc::new(created.finish()),
                    Arc::new(rows.finish()),
                    Arc::new(metric.finish()),
                    Arc::new(value.finish()),
                    Arc::new(problem.finish()),
                ],
            )?)
        }))
    }
}
