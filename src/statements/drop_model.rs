//! `DROP MODEL [IF EXISTS] name[@N]`: removes every version of a model, or one version. The
//! model disappears for every reader at once (its folder is renamed before it is deleted).

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use ecomsql_udfs::model::ModelRef;

use super::one_batch_stream;
use crate::registry::ModelRegistry;

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        datafusion::logical_expr::Documentation::builder(
            ecomsql_udfs::doc::DOC_SECTION_MODELS,
            "Removes every version of a model, or one version with name@N. Without IF EXISTS a \
             missing model is an error.",
            "DROP MODEL [IF EXISTS] name[@version]",
        )
        .with_sql_example("```sql\n> DROP MODEL seg@1;\n> DROP MODEL IF EXISTS seg;\n```")
        .build()
    });

/// The statement's documentation (`\h drop model` in the shell).
pub fn documentation() -> &'static datafusion::logical_expr::Documentation {
    &DOCUMENTATION
}

/// A planned `DROP MODEL`.
#[derive(Debug)]
pub struct DropPlan {
    /// Where models live.
    pub registry: Arc<ModelRegistry>,
    /// The model (and optionally one version).
    pub model: ModelRef,
    /// `IF EXISTS`.
    pub if_exists: bool,
}

impl DropPlan {
    /// The output schema: the model and how many versions were removed.
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("versions_dropped", DataType::Int64, false),
        ]))
    }

    /// Removes the model.
    pub fn execute(&self) -> Result<SendableRecordBatchStream> {
        let registry = Arc::clone(&self.registry);
        let model = self.model.clone();
        let if_exists = self.if_exists;
        Ok(one_batch_stream(Self::schema(), async move {
            let m = model.clone();
            let removed = tokio::task::spawn_blocking(move || registry.remove(&m.name, m.version))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??;
            if removed == 0 && !if_exists {
                return Err(DataFusionError::Plan(format!(
                    "DROP MODEL: model {model} not found (use DROP MODEL IF EXISTS to ignore this)"
                )));
            }
            Ok(RecordBatch::try_new(
                Self::schema(),
                vec![
                    Arc::new(StringArray::from(vec![model.to_string()])),
                    Arc::new(Int64Array::from(vec![removed as i64])),
                ],
            )?)
        }))
    }
}
