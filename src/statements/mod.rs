//! The statement layer: every entry point (the shell, `sql -c/-f`, the Flight SQL server,
//! scheduled files) plans SQL through [`plan`], so all of them accept the statements ecomsql adds
//! to DataFusion's SQL:
//!
//! - `CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (…) AS <query>` ([`create_model`])
//! - `DROP MODEL [IF EXISTS] name[@N]` ([`drop_model`])
//! - `SHOW MODELS` ([`show_models`])
//!
//! Anything else goes to DataFusion unchanged. Planning never changes state; the work (training,
//! dropping) happens when the returned [`Planned`] is executed, so a statement can be planned
//! to learn its schema (Flight SQL does) without side effects.
//!
//! To add a statement: recognise it in `parser.rs`, give it a file here with a `plan`/`execute`
//! pair, and a [`StatementKind`].

pub mod create_model;
pub mod drop_model;
pub mod parser;
pub mod show_models;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionContext;
use ecomsql_udfs::model::train::TrainStatus;

use crate::registry::ModelRegistry;
pub use parser::{Statement, parse};

/// What kind of statement was planned (for logging and permission checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// A DataFusion statement (query, DDL, …).
    Sql,
    /// `CREATE MODEL`.
    CreateModel,
    /// `DROP MODEL`.
    DropModel,
    /// `SHOW MODELS`.
    ShowModels,
}

enum Work {
    Query(Arc<dyn ExecutionPlan>),
    Create(Box<create_model::CreatePlan>),
    Drop(drop_model::DropPlan),
    Show(show_models::ShowPlan),
}

/// A planned statement: its output schema, and how to run it.
pub struct Planned {
    schema: SchemaRef,
    work: Work,
}

impl std::fmt::Debug for Planned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planned")
            .field("kind", &self.kind())
            .field("schema", &self.schema)
            .finish()
    }
}

impl Planned {
    /// The schema of the rows [`Planned::execute`] streams.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// What kind of statement this is.
    pub fn kind(&self) -> StatementKind {
        match &self.work {
            Work::Query(_) => StatementKind::Sql,
            Work::Create(_) => StatementKind::CreateModel,
            Work::Drop(_) => StatementKind::DropModel,
            Work::Show(_) => StatementKind::ShowModels,
        }
    }

    /// The DataFusion plan doing the reading (the query itself, or a model's training query),
    /// for progress display.
    pub fn physical_plan(&self) -> Option<&Arc<dyn ExecutionPlan>> {
        match &self.work {
            Work::Query(p) => Some(p),
            Work::Create(c) => Some(c.input()),
            _ => None,
        }
    }

    /// Live training progress, for `CREATE MODEL`.
    pub fn train_status(&self) -> Option<Arc<TrainStatus>> {
        match &self.work {
            Work::Create(c) => Some(c.status()),
            _ => None,
        }
    }

    /// Runs the statement. Dropping the stream cancels it (a training stops at its next check).
    pub fn execute(&self, task_ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        match &self.work {
            Work::Query(p) => execute_stream(Arc::clone(p), task_ctx),
            Work::Create(c) => c.execute(task_ctx),
            Work::Drop(d) => d.execute(),
            Work::Show(s) => s.execute(),
        }
    }
}

/// The statements ecomsql adds, with their documentation, for the shell's `\h`.
pub fn docs() -> Vec<(
    &'static str,
    &'static datafusion::logical_expr::Documentation,
)> {
    vec![
        ("create model", create_model::documentation()),
        ("drop model", drop_model::documentation()),
        ("show models", show_models::documentation()),
    ]
}

/// The session's model registry (installed by [`crate::build_session`]).
pub fn registry(ctx: &SessionContext) -> Result<Arc<ModelRegistry>> {
    ctx.state()
        .config()
        .get_extension::<ModelRegistry>()
        .ok_or_else(|| DataFusionError::Plan("this session has no model registry".to_string()))
}

/// Plans one statement.
pub async fn plan(ctx: &SessionContext, sql: &str) -> Result<Planned> {
    match parse(sql)? {
        Statement::Sql => {
            let plan = ctx.sql(sql).await?.create_physical_plan().await?;
            Ok(Planned {
                schema: plan.schema(),
                work: Work::Query(plan),
            })
        }
        Statement::CreateModel(stmt) => {
            let c = create_model::CreatePlan::plan(ctx, registry(ctx)?, stmt).await?;
            Ok(Planned {
                schema: create_model::CreatePlan::schema(),
                work: Work::Create(Box::new(c)),
            })
        }
        Statement::DropModel { model, if_exists } => Ok(Planned {
            schema: drop_model::DropPlan::schema(),
            work: Work::Drop(drop_model::DropPlan {
                registry: registry(ctx)?,
                model,
                if_exists,
            }),
        }),
        Statement::ShowModels => Ok(Planned {
            schema: show_models::ShowPlan::schema(),
            work: Work::Show(show_models::ShowPlan {
                registry: registry(ctx)?,
            }),
        }),
    }
}

/// Plans and runs one statement, collecting its rows (tests and small scripts).
pub async fn run_to_batches(
    ctx: &SessionContext,
    sql: &str,
) -> Result<(SchemaRef, Vec<datafusion::arrow::array::RecordBatch>)> {
    use futures::TryStreamExt;
    let planned = plan(ctx, sql).await?;
    let batches = planned.execute(ctx.task_ctx())?.try_collect().await?;
    Ok((planned.schema(), batches))
}

/// A stream of the single `batch` computed by `work` when first polled.
pub(crate) fn one_batch_stream<F>(schema: SchemaRef, work: F) -> SendableRecordBatchStream
where
    F: std::future::Future<Output = Result<datafusion::arrow::array::RecordBatch>> + Send + 'static,
{
    Box::pin(
        datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(work),
        ),
    )
}
