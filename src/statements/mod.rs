//! The statement layer: every entry point (the shell, `sql -c/-f`, the Flight SQL server,
//! scheduled files) plans SQL through [`plan`], so all of them accept the statements ecomsql adds
//! to DataFusion's SQL:
//!
//! - `CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (…) AS <query>` ([`create_model`])
//! - `DROP MODEL [IF EXISTS] name[@N]` ([`drop_model`])
//! - `SHOW MODELS` ([`show_models`])
//!
//! Anything else goes to DataFusion unchanged. Planning ecomsql's statements never changes
//! state; the work (training, dropping) happens when the returned [`Planned`] is executed, so a
//! statement can be planned to learn its schema (Flight SQL does) without side effects.
//! DataFusion's own DDL (CREATE VIEW, SET, …) takes effect when planned, as in
//! `SessionContext::sql`.
//!
//! Callers that restrict what may run (the Flight SQL server's roles) pass a
//! [`StatementPolicy`] to [`plan_logical`]; it sees the logical plan before anything happens.
//! SQL text inside a statement — the query argument of a table function such as
//! `ml_evaluate('m', 'SELECT …')`, or a CREATE MODEL's training query — is planned through this
//! same layer under the same policy ([`InnerQueries`]), and must be a read-only query; every
//! statement first passes the size and shape [`limits`].
//!
//! To add a statement: recognise it in `parser.rs`, give it a file here with a `plan`/`execute`
//! pair, and a [`StatementKind`].

pub mod create_model;
pub mod drop_model;
pub mod limits;
pub mod parser;
pub mod show_models;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionContext;
use ecomsql_udfs::model::train::TrainStatus;
use ecomsql_udfs::query_arg::{PlanQueryText, QueryArgPlanner, non_query_node};

use crate::registry::ModelRegistry;
pub use parser::{Statement, parse};

/// What kind of statement was planned (for logging and permission checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl StatementKind {
    /// The statement as SQL names it: `SQL`, `CREATE MODEL`, `DROP MODEL`, `SHOW MODELS`.
    pub fn sql_name(self) -> &'static str {
        match self {
            StatementKind::Sql => "SQL",
            StatementKind::CreateModel => "CREATE MODEL",
            StatementKind::DropModel => "DROP MODEL",
            StatementKind::ShowModels => "SHOW MODELS",
        }
    }

    /// A short name for logs: `sql`, `create_model`, `drop_model`, `show_models`.
    pub fn name(self) -> &'static str {
        match self {
            StatementKind::Sql => "sql",
            StatementKind::CreateModel => "create_model",
            StatementKind::DropModel => "drop_model",
            StatementKind::ShowModels => "show_models",
        }
    }
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

/// What a caller lets a statement do, checked before anything runs: on DataFusion's logical
/// plan for SQL (so a COPY or DDL is recognised by what it is, not by matching its text) and on
/// the kind for ecomsql's own statements. The shell allows everything ([`AllowAll`]); the Flight
/// SQL server checks the user's role.
pub trait StatementPolicy: Send + Sync {
    /// Accepts or refuses a DataFusion logical plan.
    fn check_plan(&self, plan: &LogicalPlan) -> Result<()>;
    /// Accepts or refuses one of ecomsql's statements.
    fn check_kind(&self, kind: StatementKind) -> Result<()>;
}

/// The policy of the shell and scripts: everything is allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl StatementPolicy for AllowAll {
    fn check_plan(&self, _plan: &LogicalPlan) -> Result<()> {
        Ok(())
    }
    fn check_kind(&self, _kind: StatementKind) -> Result<()> {
        Ok(())
    }
}

/// A statement planned as far as it goes without parameter values: SQL as a DataFusion logical
/// plan (placeholders `$1`, `$2`, … still open), ecomsql's statements as parsed. Prepared
/// statements keep one of these and bind parameters to it for each execution.
#[derive(Debug, Clone)]
pub enum LogicalStatement {
    /// DataFusion SQL.
    Sql(LogicalPlan),
    /// `CREATE MODEL`, `DROP MODEL` or `SHOW MODELS`.
    Ecomsql(Statement),
}

impl LogicalStatement {
    /// What kind of statement this is.
    pub fn kind(&self) -> StatementKind {
        match self {
            LogicalStatement::Sql(_) | LogicalStatement::Ecomsql(Statement::Sql) => {
                StatementKind::Sql
            }
            LogicalStatement::Ecomsql(Statement::CreateModel(_)) => StatementKind::CreateModel,
            LogicalStatement::Ecomsql(Statement::DropModel { .. }) => StatementKind::DropModel,
            LogicalStatement::Ecomsql(Statement::ShowModels) => StatementKind::ShowModels,
        }
    }

    /// The output schema as known before parameters are bound.
    pub fn schema(&self) -> SchemaRef {
        match self {
            LogicalStatement::Sql(p) => Arc::new(p.schema().as_arrow().clone()),
            LogicalStatement::Ecomsql(Statement::CreateModel(_)) => {
                create_model::CreatePlan::schema()
            }
            LogicalStatement::Ecomsql(Statement::DropModel { .. }) => {
                drop_model::DropPlan::schema()
            }
            LogicalStatement::Ecomsql(Statement::ShowModels) => show_models::ShowPlan::schema(),
            LogicalStatement::Ecomsql(Statement::Sql) => {
                Arc::new(datafusion::arrow::datatypes::Schema::empty())
            }
        }
    }

    /// The statement's parameters in order (`$1`, `$2`, …) with the type DataFusion inferred
    /// for each, where it could.
    pub fn parameters(&self) -> Result<Vec<(String, Option<DataType>)>> {
        let LogicalStatement::Sql(p) = self else {
            return Ok(vec![]);
        };
        let mut params: Vec<_> = p.get_parameter_types()?.into_iter().collect();
        // `$10` after `$9`: order by number where the names are positional.
        params.sort_by_key(|(name, _)| {
            (
                name.trim_start_matches('$')
                    .parse::<u64>()
                    .unwrap_or(u64::MAX),
                name.clone(),
            )
        });
        Ok(params)
    }

    /// Fills the parameters with `values` (in `$1`, `$2`, … order).
    pub fn bind(self, values: Vec<ScalarValue>) -> Result<Self> {
        match self {
            LogicalStatement::Sql(p) => Ok(LogicalStatement::Sql(p.with_param_values(values)?)),
            other if values.is_empty() => Ok(other),
            other => Err(DataFusionError::Plan(format!(
                "{:?} takes no parameters, got {}",
                other.kind(),
                values.len()
            ))),
        }
    }

    /// Plans the rest of the way. DataFusion's DDL (CREATE VIEW, SET, …) takes effect here, as
    /// it does in `SessionContext::sql`.
    pub async fn into_planned(self, ctx: &SessionContext) -> Result<Planned> {
        match self {
            LogicalStatement::Sql(lp) => {
                let plan = ctx
                    .execute_logical_plan(lp)
                    .await?
                    .create_physical_plan()
                    .await?;
                Ok(Planned {
                    schema: plan.schema(),
                    work: Work::Query(plan),
                })
            }
            LogicalStatement::Ecomsql(Statement::Sql) => Err(DataFusionError::Internal(
                "a DataFusion statement reached the ecomsql planner".to_string(),
            )),
            LogicalStatement::Ecomsql(Statement::CreateModel(stmt)) => {
                let c = create_model::CreatePlan::plan(ctx, registry(ctx)?, stmt).await?;
                Ok(Planned {
                    schema: create_model::CreatePlan::schema(),
                    work: Work::Create(Box::new(c)),
                })
            }
            LogicalStatement::Ecomsql(Statement::DropModel { model, if_exists }) => Ok(Planned {
                schema: drop_model::DropPlan::schema(),
                work: Work::Drop(drop_model::DropPlan {
                    registry: registry(ctx)?,
                    model,
                    if_exists,
                }),
            }),
            LogicalStatement::Ecomsql(Statement::ShowModels) => Ok(Planned {
                schema: show_models::ShowPlan::schema(),
                work: Work::Show(show_models::ShowPlan {
                    registry: registry(ctx)?,
                }),
            }),
        }
    }
}

/// Parses `sql` and plans it to a [`LogicalStatement`], refusing what `policy` refuses before
/// anything takes effect.
pub async fn plan_logical(
    ctx: &SessionContext,
    sql: &str,
    policy: Arc<dyn StatementPolicy>,
) -> Result<LogicalStatement> {
    let inner = InnerQueries(policy);
    let mut state = ctx.state();
    state
        .config_mut()
        .set_extension(Arc::new(QueryArgPlanner(Arc::new(inner.clone()))));
    match parse(sql)? {
        Statement::Sql => Ok(LogicalStatement::Sql(
            plan_sql(&state, sql, &*inner.0).await?,
        )),
        Statement::CreateModel(create) => {
            inner.0.check_kind(StatementKind::CreateModel)?;
            // Options first: they are checked before any table is looked at.
            ecomsql_udfs::model::options::validate(&create.name, &create.options)?;
            // The training query is SQL inside a statement: a read-only query, under the same
            // policy (it is planned again when the statement runs).
            let training = inner
                .plan_query_text(&state, &create.query)
                .await
                .map_err(|e| {
                    e.context(format!("CREATE MODEL {}: the training query", create.name))
                })?;
            if let Some(what) = non_query_node(&training)? {
                return Err(DataFusionError::Plan(format!(
                    "CREATE MODEL {}: AS must be followed by a query (SELECT, WITH or VALUES), not {what}",
                    create.name
                )));
            }
            Ok(LogicalStatement::Ecomsql(Statement::CreateModel(create)))
        }
        other => {
            let stmt = LogicalStatement::Ecomsql(other);
            inner.0.check_kind(stmt.kind())?;
            Ok(stmt)
        }
    }
}

/// Plans DataFusion SQL text within the [`limits`] and checks it against `policy`.
async fn plan_sql(
    state: &SessionState,
    sql: &str,
    policy: &dyn StatementPolicy,
) -> Result<LogicalPlan> {
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect)?;
    limits::check_shape(&statement)?;
    let plan = state.statement_to_plan(statement).await?;
    policy.check_plan(&plan)?;
    Ok(plan)
}

/// Plans the SQL text found inside a statement (table-function query arguments, through
/// [`ecomsql_udfs::query_arg`]) the way the statement itself was planned: within the limits,
/// under the same policy, and only if it is DataFusion SQL — `CREATE MODEL` and the other
/// statements of ours are refused there.
#[derive(Clone)]
pub struct InnerQueries(pub Arc<dyn StatementPolicy>);

#[async_trait::async_trait]
impl PlanQueryText for InnerQueries {
    async fn plan_query_text(&self, state: &SessionState, sql: &str) -> Result<LogicalPlan> {
        match parse(sql)? {
            Statement::Sql => plan_sql(state, sql, &*self.0).await,
            other => Err(DataFusionError::Plan(format!(
                "expected a query (SELECT, WITH or VALUES), not {}",
                LogicalStatement::Ecomsql(other).kind().sql_name()
            ))),
        }
    }
}

/// Plans one statement (everything allowed).
pub async fn plan(ctx: &SessionContext, sql: &str) -> Result<Planned> {
    plan_logical(ctx, sql, Arc::new(AllowAll))
        .await?
        .into_planned(ctx)
        .await
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
