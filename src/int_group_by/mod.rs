//! Faster `GROUP BY` on one integer column — the shape of every per-user feature query
//! (`GROUP BY user_id`).
//!
//! DataFusion 55 aggregates in two phases: each input partition aggregates its rows
//! (`AggregateExec: mode=Partial`), the partial states are hash-partitioned by key, and a final
//! phase merges them. The partial phase sees every input row, and on the shop's events profiling
//! showed a quarter to a half of RFM's time in its group lookup (`GroupValuesPrimitive::intern`:
//! a hashbrown entry, then the key in a separate vector, per row). The [`IntKeyAggregation`]
//! rule replaces that phase, when its key is one integer-backed column, with
//! [`IntKeyAggregateExec`]: the same accumulators and output, with group indices from
//! [`IntGroupTable`] (keys in the slots, prefetched probes). The final phase stays
//! DataFusion's.
//!
//! `SET ecomsql.int_key_aggregation = false` turns the rule off for a session.

mod exec;
mod table;

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode};

pub use exec::IntKeyAggregateExec;
pub use table::{IntGroupTable, IntKey};

use crate::session_options::SessionOptions;

/// Replaces partial aggregations on one integer-backed key with [`IntKeyAggregateExec`] (see
/// the module docs). Runs after DataFusion's own rules.
#[derive(Debug, Default)]
pub struct IntKeyAggregation;

/// Whether [`IntKeyAggregateExec`] computes exactly what `aggregate` does: the partial phase of
/// a plain `GROUP BY` on one integer, date, time or timestamp column, over unordered input,
/// without a group limit, with aggregates that have a vectorised (groups) accumulator.
pub fn replaceable(aggregate: &AggregateExec) -> bool {
    let group_by = aggregate.group_expr();
    *aggregate.mode() == AggregateMode::Partial
        && group_by.is_single()
        && group_by.expr().len() == 1
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.limit_options().is_none()
        && aggregate.dynamic_expressions_produced().is_empty()
        && group_by.expr()[0]
            .0
            .data_type(&aggregate.input_schema())
            .is_ok_and(|t| exec::key_width(&t).is_some())
        && aggregate
            .aggr_expr()
            .iter()
            .all(|e| e.groups_accumulator_supported())
}

impl PhysicalOptimizerRule for IntKeyAggregation {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let enabled = config
            .extensions
            .get::<SessionOptions>()
            .is_none_or(|o| o.int_key_aggregation);
        if !enabled {
            return Ok(plan);
        }
        Ok(plan
            .transform_up(|node| match node.downcast_ref::<AggregateExec>() {
                Some(aggregate) if replaceable(aggregate) => Ok(Transformed::yes(Arc::new(
                    IntKeyAggregateExec::new(aggregate.clone()),
                )
                    as Arc<dyn ExecutionPlan>)),
                _ => Ok(Transformed::no(node)),
            })?
            .data)
    }

    fn name(&self) -> &str {
        "IntKeyAggregation"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::config::Config;

    /// 200k rows with an Int64 key (negative values, NULLs), narrower and temporal keys,
    /// values with NULLs, and a string column for FILTERs; `settings` are applied first.
    async fn session(config: &Config, settings: &[&str]) -> SessionContext {
        let ctx = crate::build_session(config).unwrap();
        for setting in settings {
            ctx.sql(setting).await.unwrap();
        }
        ctx.sql(
            "CREATE TABLE t AS SELECT
               CASE WHEN value % 97 = 0 THEN NULL ELSE (value * 7919) % 5003 - 2500 END AS k,
               CAST(value % 300 - 150 AS INT) AS k32,
               arrow_cast(value % 1000, 'UInt16') AS k16,
               arrow_cast(value % 200 - 100, 'Int8') AS k8,
               arrow_cast(value * 7, 'UInt64') AS unique_key,
               to_timestamp_seconds(1700000000 + (value % 777) * 3600) AS ts,
               CAST(to_timestamp_seconds(1700000000 + (value % 777) * 86400) AS DATE) AS d,
               value * 0.5 AS x,
               CASE WHEN value % 5 = 0 THEN 'purchase' ELSE 'view' END AS kind,
               CASE WHEN value % 11 = 0 THEN NULL ELSE value END AS v
             FROM range(200000)",
        )
        .await
        .unwrap();
        ctx
    }

    /// Aggregates with groups accumulators, so the rule applies (results that depend on input
    /// order, like `array_agg(v)`, are left out: they differ between runs of either).
    const AGGREGATES: &str = "count(*), count(v), sum(x), avg(x), min(kind), max(v), \
         count(DISTINCT v), count(DISTINCT kind), sum(x) FILTER (WHERE kind = 'purchase'), \
         count(*) FILTER (WHERE kind = 'purchase'), first_value(v ORDER BY x), \
         round(stddev(x), 6), bool_or(v > 100000), median(x), approx_distinct(v)";

    /// The queries compared, each ordered so results are deterministic.
    fn queries() -> Vec<String> {
        let mut queries: Vec<String> = ["k", "k32", "k16", "k8", "ts", "d", "k % 10", "unique_key"]
            .iter()
            .map(|key| format!("SELECT {key} AS g, {AGGREGATES} FROM t GROUP BY {key} ORDER BY g"))
            .collect();
        queries.extend([
            "SELECT k, count(*) FROM t WHERE x < 0 GROUP BY k".to_string(),
            "SELECT k, count(*) FROM t WHERE k IS NULL GROUP BY k".to_string(),
            "SELECT count(*), sum(n) FROM (SELECT k, count(*) AS n FROM t GROUP BY k HAVING count(*) > 30)"
                .to_string(),
        ]);
        queries
    }

    async fn run(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    async fn physical_plan(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
        let frame = ctx.sql(sql).await.unwrap();
        frame.create_physical_plan().await.unwrap()
    }

    async fn plan_text(ctx: &SessionContext, sql: &str) -> String {
        let plan = physical_plan(ctx, sql).await;
        displayable(plan.as_ref()).indent(false).to_string()
    }

    /// Every query's result with the rule on equals DataFusion's own, under `settings`.
    async fn assert_same_results(config: &Config, settings: &[&str]) {
        let ctx = session(config, settings).await;
        for sql in queries() {
            ctx.sql("SET ecomsql.int_key_aggregation = true")
                .await
                .unwrap();
            assert!(
                plan_text(&ctx, &sql).await.contains("IntKeyAggregateExec"),
                "{sql}: {}",
                plan_text(&ctx, &sql).await
            );
            let ours = run(&ctx, &sql).await;
            ctx.sql("SET ecomsql.int_key_aggregation = false")
                .await
                .unwrap();
            assert!(!plan_text(&ctx, &sql).await.contains("IntKeyAggregateExec"));
            let theirs = run(&ctx, &sql).await;
            assert_eq!(ours, theirs, "{sql} with {settings:?}");
        }
    }

    #[tokio::test]
    async fn results_equal_datafusions() {
        assert_same_results(&Config::default(), &[]).await;
    }

    #[tokio::test]
    async fn results_equal_datafusions_when_partial_aggregation_is_skipped() {
        // Every key is judged not worth aggregating after 1,000 rows (of batches of 4,096).
        assert_same_results(
            &Config::default(),
            &[
                "SET datafusion.execution.batch_size = 4096",
                "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 1000",
                "SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 0.0",
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn results_equal_datafusions_with_small_batches() {
        assert_same_results(
            &Config::default(),
            &["SET datafusion.execution.batch_size = 100"],
        )
        .await;
    }

    /// The metric `name` of the plan's IntKeyAggregateExec, summed over partitions, after
    /// running `sql`.
    async fn run_and_read_metric(ctx: &SessionContext, sql: &str, name: &str) -> usize {
        let plan = physical_plan(ctx, sql).await;
        collect(Arc::clone(&plan), ctx.task_ctx()).await.unwrap();
        let mut value = None;
        plan.apply(|node| {
            if node.is::<IntKeyAggregateExec>() {
                value = node
                    .metrics()
                    .unwrap()
                    .sum_by_name(name)
                    .map(|v| v.as_usize());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        value.unwrap()
    }

    #[tokio::test]
    async fn a_full_memory_pool_emits_early_instead_of_failing() {
        // 200k distinct keys do not fit the partial phase's share of 16 MB: it hands groups on
        // early, and the final phase (DataFusion's, which spills) still gets every row.
        let config = Config {
            memory_limit: Some(16 << 20),
            target_partitions: 2,
            ..Config::default()
        };
        let ctx = session(&config, &[]).await;
        let sql = "SELECT count(*), sum(n), sum(s) FROM \
                   (SELECT unique_key, count(*) AS n, sum(x) AS s FROM t GROUP BY unique_key)";
        // With skipping disabled, only memory pressure can make the partial phase emit early.
        ctx.sql("SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 1.0")
            .await
            .unwrap();
        assert!(run_and_read_metric(&ctx, sql, "early_emits").await > 0);
        let result = run(&ctx, sql).await;
        let values: Vec<&str> = result
            .lines()
            .nth(3)
            .unwrap()
            .split('|')
            .map(str::trim)
            .collect();
        assert_eq!(
            values,
            ["", "200000", "200000", "9999950000.0", ""],
            "{result}"
        );
    }

    #[tokio::test]
    async fn skipping_is_counted() {
        let ctx = session(
            &Config::default(),
            &[
                "SET datafusion.execution.batch_size = 4096",
                "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 1000",
            ],
        )
        .await;
        let sql = "SELECT count(*) FROM (SELECT unique_key FROM t GROUP BY unique_key)";
        assert!(run_and_read_metric(&ctx, sql, "skipped_aggregation_rows").await > 0);
    }

    #[tokio::test]
    async fn other_aggregations_are_left_to_datafusion() {
        let ctx = session(&Config::default(), &[]).await;
        for sql in [
            "SELECT kind, count(*) FROM t GROUP BY kind",
            "SELECT k, kind, count(*) FROM t GROUP BY k, kind",
            "SELECT x, count(*) FROM t GROUP BY x",
            "SELECT sum(x) FROM t",
            "SELECT k, last_value(v) FROM t GROUP BY k",
            "SELECT k, array_agg(v ORDER BY x) FROM t GROUP BY k",
            "SELECT k, count(*) FROM t GROUP BY GROUPING SETS ((k), ())",
        ] {
            let plan = plan_text(&ctx, sql).await;
            assert!(!plan.contains("IntKeyAggregateExec"), "{sql}: {plan}");
            assert!(plan.contains("AggregateExec"), "{sql}: {plan}");
        }
    }

    #[tokio::test]
    async fn the_plan_shows_the_replaced_aggregation() {
        let ctx = session(&Config::default(), &[]).await;
        let plan = plan_text(
            &ctx,
            "SELECT k, count(*) FILTER (WHERE kind = 'purchase') FROM t GROUP BY k",
        )
        .await;
        assert!(
            plan.contains(
                "IntKeyAggregateExec: mode=Partial, gby=[k@0 as k], aggr=[count(Int64(1)) FILTER"
            ),
            "{plan}"
        );
        assert!(
            plan.contains("AggregateExec: mode=FinalPartitioned"),
            "{plan}"
        );
    }
}
