//! `summarize('table')` / `summarize('SELECT …')`: a table function with one row per column of
//! a table or query — type, min, max, approximate distinct count, mean, standard deviation,
//! quartiles, row count and share of NULLs — like DuckDB's `SUMMARIZE`, but usable in `FROM`.
//!
//! The input is planned when the function is called, through [`crate::query_arg`] (so a
//! query given as text passes the same checks as any statement). All statistics come from one
//! aggregate over that plan
//! (`approx_distinct`, `approx_percentile_cont`, `avg`, `stddev`, `min`, `max`), so a
//! summary costs one scan. The work happens when the function's scan is planned, so the output
//! schema is fixed and known at planning time. Quartiles, mean and standard deviation are for
//! numeric columns only (NULL otherwise); min and max are shown as text for every orderable type.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Column, Result, ScalarValue, exec_err, plan_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::SessionState;
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, approx_percentile_cont, avg, count, max, min, stddev,
};
use datafusion::logical_expr::{
    Documentation, Expr, LogicalPlan, LogicalPlanBuilder, TableType, cast as cast_expr, lit,
};
use datafusion::physical_plan::{ExecutionPlan, collect};

use crate::doc::DOC_SECTION_FEATURES;
use crate::query_arg::plan_query_arg;

/// The `summarize` table function.
#[derive(Debug, Default)]
pub struct SummarizeFunc;

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_FEATURES,
        "Table function: one row per column of a table or query with column_name, column_type, \
         min, max, approx_unique, avg, std, q25, q50, q75, count and null_percentage (DuckDB's \
         SUMMARIZE, usable in FROM). Mean, std and quartiles (approximate, t-digest) are for \
         numeric columns only; min and max are shown as text. One scan of the input.",
        "summarize('table_name' | 'SELECT …')",
    )
    .with_argument("input", "A table name, or a query starting with SELECT, WITH or VALUES, as a string literal.")
    .with_sql_example(
        "```sql\n\
         > SELECT column_name, null_percentage, approx_unique FROM summarize('users');\n\
         > SELECT * FROM summarize('SELECT price, quantity FROM events WHERE event_type = ''purchase''');\n\
         ```",
    )
    .build()
});

impl SummarizeFunc {
    /// The SQL name.
    pub const NAME: &'static str = "summarize";

    /// The in-code documentation (table functions have no `documentation()` in DataFusion).
    pub fn documentation(&self) -> &Documentation {
        &DOCUMENTATION
    }
}

/// The fixed output schema (kept stable: downstream queries depend on it).
pub fn summarize_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("column_name", DataType::Utf8, false),
        Field::new("column_type", DataType::Utf8, false),
        Field::new("min", DataType::Utf8, true),
        Field::new("max", DataType::Utf8, true),
        Field::new("approx_unique", DataType::Int64, true),
        Field::new("avg", DataType::Float64, true),
        Field::new("std", DataType::Float64, true),
        Field::new("q25", DataType::Float64, true),
        Field::new("q50", DataType::Float64, true),
        Field::new("q75", DataType::Float64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("null_percentage", DataType::Float64, true),
    ]))
}

impl TableFunctionImpl for SummarizeFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let input = match args.exprs() {
            [
                Expr::Literal(
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::Utf8View(Some(s))
                    | ScalarValue::LargeUtf8(Some(s)),
                    _,
                ),
            ] => s.clone(),
            [other] => {
                return plan_err!(
                    "summarize argument 1 must be a string literal naming a table or holding a query, got {other}"
                );
            }
            args => {
                return plan_err!(
                    "summarize expects 1 argument (a table name or a query), got {}",
                    args.len()
                );
            }
        };
        if input.trim().is_empty() {
            return plan_err!("summarize argument 1 must not be empty");
        }
        let name_chars = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '"');
        let query = if is_query(&input) {
            input
        } else if input.trim().chars().all(name_chars) {
            format!("SELECT * FROM {}", input.trim())
        } else {
            return plan_err!(
                "summarize argument 1 must be a table name or a query starting with SELECT, WITH or VALUES, got {input:?}"
            );
        };
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return plan_err!("summarize needs a DataFusion SessionState to plan its input");
        };
        // Planned now, through the one checked path for SQL inside table-function arguments;
        // the scan aggregates over this plan, never over text.
        let input = plan_query_arg(SummarizeFunc::NAME, 1, state, &query)?;
        Ok(Arc::new(SummarizeTable { input }))
    }
}

/// The input is a query if it starts with one of these words; otherwise a table name.
fn is_query(input: &str) -> bool {
    let first = input
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "WITH" | "VALUES" | "(") || first.starts_with('(')
}

/// The table provider a `summarize(…)` call returns.
#[derive(Debug)]
struct SummarizeTable {
    /// The checked plan of the input (see `query_arg`).
    input: LogicalPlan,
}

fn is_orderable(t: &DataType) -> bool {
    !matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::Struct(_)
            | DataType::Map(..)
            | DataType::Union(..)
            | DataType::Null
    )
}

/// The aggregate expressions of the one-pass summary of `input` (columns of the relation
/// `__input`), named as [`summary_rows`] reads them.
pub fn summary_exprs(schema: &Schema) -> Vec<Expr> {
    let mut select = vec![count_all().alias("__rows")];
    for (i, f) in schema.fields().iter().enumerate() {
        let c = Expr::Column(Column::new(Some(INPUT), f.name()));
        let t = f.data_type();
        select.push(count(c.clone()).alias(format!("n{i}")));
        if is_orderable(t) {
            // approx_distinct (HyperLogLog) takes integers and strings; others go through text.
            let key = if t.is_integer()
                || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            {
                c.clone()
            } else {
                cast_expr(c.clone(), DataType::Utf8)
            };
            select.push(approx_distinct(key).alias(format!("d{i}")));
            select.push(cast_expr(min(c.clone()), DataType::Utf8).alias(format!("lo{i}")));
            select.push(cast_expr(max(c.clone()), DataType::Utf8).alias(format!("hi{i}")));
        }
        if t.is_numeric() {
            let x = cast_expr(c, DataType::Float64);
            select.push(avg(x.clone()).alias(format!("avg{i}")));
            select.push(stddev(x.clone()).alias(format!("std{i}")));
            for (q, name) in [(0.25, "qa"), (0.5, "qb"), (0.75, "qc")] {
                select.push(
                    approx_percentile_cont(x.clone().sort(true, false), lit(q), None)
                        .alias(format!("{name}{i}")),
                );
            }
        }
    }
    select
}

/// The name the input relation has in the summary's aggregate.
const INPUT: &str = "__input";

#[async_trait]
impl TableProvider for SummarizeTable {
    fn schema(&self) -> SchemaRef {
        summarize_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(state) = session.as_any().downcast_ref::<SessionState>() else {
            return exec_err!("summarize needs a DataFusion SessionState to run its input query");
        };
        let input_schema = self.input.schema().as_arrow().clone();
        let plan = LogicalPlanBuilder::from(self.input.clone())
            .alias(INPUT)?
            .aggregate(Vec::<Expr>::new(), summary_exprs(&input_schema))?
            .build()?;
        let physical = state.create_physical_plan(&plan).await?;
        let batches = collect(physical, state.task_ctx()).await?;
        let batch = summary_rows(&input_schema, batches.first())?;
        let projection = projection.cloned();
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            summarize_schema(),
            projection,
        )?)
    }
}

/// Turns the one-row aggregate result into one row per input column.
fn summary_rows(schema: &Schema, row: Option<&RecordBatch>) -> Result<RecordBatch> {
    let Some(row) = row else {
        return exec_err!("summarize: the aggregate query returned no rows");
    };
    let get = |name: &str| -> Option<ArrayRef> { row.column_by_name(name).cloned() };
    let as_i64 = |name: &str| -> Result<Option<i64>> {
        let Some(a) = get(name) else { return Ok(None) };
        let a = cast(&a, &DataType::Int64)?;
        let a = a.as_primitive::<Int64Type>();
        Ok(a.is_valid(0).then(|| a.value(0)))
    };
    let as_f64 = |name: &str| -> Result<Option<f64>> {
        let Some(a) = get(name) else { return Ok(None) };
        let a = cast(&a, &DataType::Float64)?;
        let a = a.as_primitive::<Float64Type>();
        Ok(a.is_valid(0).then(|| a.value(0)))
    };
    let as_str = |name: &str| -> Result<Option<String>> {
        let Some(a) = get(name) else { return Ok(None) };
        let a = cast(&a, &DataType::Utf8)?;
        let a = a.as_string::<i32>();
        Ok(a.is_valid(0).then(|| a.value(0).to_string()))
    };
    let rows = as_i64("__rows")?.unwrap_or(0);
    let n = schema.fields().len();
    let mut name = StringBuilder::with_capacity(n, n * 16);
    let mut ty = StringBuilder::with_capacity(n, n * 16);
    let mut lo = StringBuilder::new();
    let mut hi = StringBuilder::new();
    let mut distinct = Int64Builder::with_capacity(n);
    let (mut avg, mut std, mut q25, mut q50, mut q75) = (
        Float64Builder::new(),
        Float64Builder::new(),
        Float64Builder::new(),
        Float64Builder::new(),
        Float64Builder::new(),
    );
    let mut count = Int64Builder::with_capacity(n);
    let mut nulls = Float64Builder::with_capacity(n);
    for (i, f) in schema.fields().iter().enumerate() {
        name.append_value(f.name());
        ty.append_value(f.data_type().to_string());
        lo.append_option(as_str(&format!("lo{i}"))?);
        hi.append_option(as_str(&format!("hi{i}"))?);
        distinct.append_option(as_i64(&format!("d{i}"))?);
        avg.append_option(as_f64(&format!("avg{i}"))?);
        std.append_option(as_f64(&format!("std{i}"))?);
        q25.append_option(as_f64(&format!("qa{i}"))?);
        q50.append_option(as_f64(&format!("qb{i}"))?);
        q75.append_option(as_f64(&format!("qc{i}"))?);
        count.append_value(rows);
        let non_null = as_i64(&format!("n{i}"))?.unwrap_or(0);
        nulls.append_option((rows > 0).then(|| 100.0 * (rows - non_null) as f64 / rows as f64));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(name.finish()),
        Arc::new(ty.finish()),
        Arc::new(lo.finish()),
        Arc::new(hi.finish()),
        Arc::new(distinct.finish()),
        Arc::new(avg.finish()),
        Arc::new(std.finish()),
        Arc::new(q25.finish()),
        Arc::new(q50.finish()),
        Arc::new(q75.finish()),
        Arc::new(count.finish()),
        Arc::new(nulls.finish()),
    ];
    Ok(RecordBatch::try_new(summarize_schema(), cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_table_names_are_told_apart() {
        assert!(is_query("select 1"));
        assert!(is_query("  WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(is_query("(SELECT 1)"));
        assert!(!is_query("events"));
        assert!(!is_query("\"select\""));
    }

    #[test]
    fn one_pass_summary_covers_every_column() {
        let schema = Schema::new(vec![
            Field::new("a b", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "l",
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                true,
            ),
        ]);
        let names: Vec<String> = summary_exprs(&schema)
            .iter()
            .map(|e| e.schema_name().to_string())
            .collect();
        // Every statistic of a numeric column, counts and text statistics of a string one, and
        // only the count of a list.
        for n in [
            "__rows", "n0", "d0", "lo0", "hi0", "avg0", "std0", "qa0", "qb0", "qc0",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        for n in ["n1", "d1", "lo1", "hi1", "n2"] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        for n in ["avg1", "d2", "lo2"] {
            assert!(!names.iter().any(|x| x == n), "{n} in {names:?}");
        }
    }
}
