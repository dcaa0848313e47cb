//! SQL text passed to a table function (`ml_evaluate('m', 'SELECT …')`, `summarize('SELECT …')`)
//! becomes a plan here and nowhere else, so a table function cannot forget a check.
//!
//! [`plan_query_arg`]:
//! 1. plans the text through the session's [`QueryArgPlanner`] when the application installed
//!    one (ecomsql's statement layer does, carrying the caller's role: the text then passes the
//!    same statement-size limits and permission checks as a statement typed at the top level),
//!    or with DataFusion's planner otherwise;
//! 2. accepts only a read-only query: a plan holding DDL, DML (`INSERT`), `COPY`, `SET`,
//!    `PREPARE`, `EXPLAIN` or `DESCRIBE` anywhere (subqueries included) is refused, naming the
//!    function, the argument and what was found — whatever the caller's role, since a table
//!    function's argument is a query by definition;
//! 3. plans on a thread of its own with a large stack. Table functions are called while the
//!    outer statement is being planned, from synchronous code, so the (async) planning must be
//!    driven to completion right there; a fresh thread can do that however deeply table
//!    functions are nested in each other's text (`block_on` on the caller's thread cannot when
//!    that thread is itself inside a `block_on`: "cannot execute LocalPool executor from within
//!    another executor").
//!
//! Table functions that compute their rows later (at scan) keep the returned [`LogicalPlan`],
//! never the text, so what runs is what was checked.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, plan_err};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

/// Stack of the thread that plans a table function's query: deep enough for the longest
/// statement the application accepts (planning recurses over expressions and plan nodes).
const PLANNING_STACK_BYTES: usize = 64 * 1024 * 1024;

/// How an application plans SQL text found inside table-function arguments (see the module
/// documentation). Installed as a session config extension through [`QueryArgPlanner`].
#[async_trait]
pub trait PlanQueryText: Send + Sync {
    /// Plans `sql` as the statement layer would plan it at the top level, refusing what the
    /// caller may not run.
    async fn plan_query_text(&self, state: &SessionState, sql: &str) -> Result<LogicalPlan>;
}

/// The session config extension holding the application's [`PlanQueryText`].
#[derive(Clone)]
pub struct QueryArgPlanner(pub Arc<dyn PlanQueryText>);

impl fmt::Debug for QueryArgPlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueryArgPlanner")
    }
}

/// Plans the string literal at `index` (0-based) of a table function's arguments as a read-only
/// query: [`plan_query_arg`] on the session the function is called in.
pub fn query_argument(
    function: &str,
    args: &TableFunctionArgs,
    index: usize,
) -> Result<LogicalPlan> {
    let sql = crate::ml::model_args::string_literal(function, args.exprs(), index, "query")?;
    let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
        return plan_err!("{function} needs a DataFusion SessionState to plan its query");
    };
    plan_query_arg(function, index + 1, state, &sql)
}

/// Plans `sql`, argument `position` (1-based) of table function `function`, as a read-only
/// query (see the module documentation).
pub fn plan_query_arg(
    function: &str,
    position: usize,
    state: &SessionState,
    sql: &str,
) -> Result<LogicalPlan> {
    if sql.trim().trim_end_matches(';').trim().is_empty() {
        return plan_err!("{function} argument {position} (query) is empty");
    }
    let planner = state.config().get_extension::<QueryArgPlanner>();
    let tokio = tokio_handle();
    let planned = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name(format!("plan-{function}"))
            .stack_size(PLANNING_STACK_BYTES)
            .spawn_scoped(scope, || {
                // Table providers may do IO on tokio while resolving names: keep its context.
                let _guard = tokio.as_ref().map(|h| h.enter());
                futures::executor::block_on(async {
                    match &planner {
                        Some(p) => p.0.plan_query_text(state, sql).await,
                        None => state.create_logical_plan(sql).await,
                    }
                })
            })
            .map_err(|e| {
                DataFusionError::Execution(format!("{function}: cannot start planning: {e}"))
            })?;
        worker.join().unwrap_or_else(|panic| {
            let what = crate::panic_message(panic.as_ref()).unwrap_or("a panic");
            Err(DataFusionError::Execution(format!(
                "{function} failed planning its query: {what}"
            )))
        })
    });
    let plan = planned.map_err(|e| {
        e.context(format!(
            "{function} argument {position} (query) could not be planned"
        ))
    })?;
    if let Some(what) = non_query_node(&plan)? {
        return plan_err!(
            "{function} argument {position} (query) must be a query (SELECT, WITH or VALUES), not {what}"
        );
    }
    Ok(plan)
}

/// The first node of `plan` (subqueries included) that is not part of a read-only query.
pub fn non_query_node(plan: &LogicalPlan) -> Result<Option<String>> {
    let mut found = None;
    plan.apply_with_subqueries(|node| {
        let what = match node {
            LogicalPlan::Ddl(ddl) => Some(words_of(ddl.name())),
            LogicalPlan::Dml(dml) => Some(dml.name().to_ascii_uppercase()),
            LogicalPlan::Copy(_) => Some("COPY".to_string()),
            LogicalPlan::Statement(s) => Some(s.name().to_ascii_uppercase()),
            LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) => Some("EXPLAIN".to_string()),
            LogicalPlan::DescribeTable(_) => Some("DESCRIBE".to_string()),
            _ => None,
        };
        if what.is_some() {
            found = what;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// "CreateExternalTable" -> "CREATE EXTERNAL TABLE": DataFusion's names of DDL nodes as SQL.
pub fn words_of(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn tokio_handle() -> Option<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current().ok()
}
