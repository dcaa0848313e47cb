//! `ts ± INTERVAL 'n days'` as a fixed duration.
//!
//! Event analytics is full of windows such as `e.ts < u.signup_ts + INTERVAL '7 days'`. The SQL
//! parser makes every interval literal a month-day-nanosecond interval, and Arrow adds one to a
//! timestamp row by row through calendar arithmetic, because months have no fixed length: over
//! 10M events each such term costs about 2 s on this machine, against about 0.3 s for adding a
//! fixed `Duration` (a vectorised integer add).
//!
//! When the interval has no months and the timestamp has no time zone, the two are the same
//! thing: a day of a zone-less timestamp is always 86,400 s (there are no daylight-saving
//! changes to skip). This optimizer rule rewrites exactly those cases, after type coercion, to
//! `ts ± Duration(unit)`, and leaves everything else alone:
//! - intervals with months (`INTERVAL '1 month'`), whose length depends on the date;
//! - timestamps with a time zone, where Arrow adds days in local time (a day across a
//!   daylight-saving change is 23 or 25 hours);
//! - intervals not a whole number of the timestamp's unit (`INTERVAL '1 nanosecond'` on a
//!   millisecond timestamp), and intervals longer than [`MAX_DAYS`], where a result could leave
//!   the range of dates Arrow can show (the calendar path reports that as an error; a plain add
//!   would not).
//!
//! The result type is the same timestamp type and the output names are kept, so the plan's
//! schema does not change.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DFSchemaRef, Result, ScalarValue};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The optimizer rule; added to a session by [`crate::register_all`].
#[derive(Debug, Default)]
pub struct FixedIntervalArithmetic;

impl OptimizerRule for FixedIntervalArithmetic {
    fn name(&self) -> &str {
        "ecomsql_fixed_interval_arithmetic"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        // The schema the node's expressions are evaluated against (as SimplifyExpressions
        // finds it): its inputs', or for a scan with pushed-down filters, the table's.
        let schema: DFSchemaRef = if !plan.inputs().is_empty() {
            Arc::new(merge_schema(&plan.inputs()))
        } else if let LogicalPlan::TableScan(scan) = &plan {
            Arc::new(DFSchema::try_from_qualified_schema(
                scan.table_name.clone(),
                &scan.source.schema(),
            )?)
        } else {
            return Ok(Transformed::no(plan));
        };
        // Output names come from the expressions' text: keep the original ones, so the plan's
        // schema is unchanged (as DataFusion's own expression rewrites do).
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| rewrite_expr(e, &schema))?;
            Ok(Transformed::new_transformed(
                name.restore(rewritten.data),
                rewritten.transformed,
            ))
        })
    }
}

/// Rewrites one `timestamp ± interval` (or `interval + timestamp`) node; anything else is
/// returned unchanged.
fn rewrite_expr(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let (ts, interval, ts_on_left) = match (left.as_ref(), right.as_ref()) {
        (ts, Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(i)), _)) => (ts, *i, true),
        (Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(i)), _), ts)
            if *op == Operator::Plus =>
        {
            (ts, *i, false)
        }
        _ => return Ok(Transformed::no(expr)),
    };
    if !matches!(op, Operator::Plus | Operator::Minus) {
        return Ok(Transformed::no(expr));
    }
    // A column the schema cannot resolve (it should not happen after coercion) is left alone.
    let Ok(DataType::Timestamp(unit, None)) = ts.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    let Some(duration) = fixed_duration(interval, unit) else {
        return Ok(Transformed::no(expr));
    };
    let duration = Expr::Literal(duration, None);
    let ts = ts.clone();
    let rewritten = if ts_on_left {
        Expr::BinaryExpr(BinaryExpr::new(Box::new(ts), *op, Box::new(duration)))
    } else {
        Expr::BinaryExpr(BinaryExpr::new(Box::new(duration), *op, Box::new(ts)))
    };
    Ok(Transformed::yes(rewritten))
}

/// Longest interval rewritten: 1,000 years of days.
pub const MAX_DAYS: i128 = 365_250;

/// The interval as a `Duration` literal in `unit`, when it has a fixed length that `unit`
/// represents exactly: no months, a whole number of units, at most [`MAX_DAYS`] either way.
pub fn fixed_duration(interval: IntervalMonthDayNano, unit: TimeUnit) -> Option<ScalarValue> {
    const DAY: i128 = 86_400_000_000_000;
    if interval.months != 0 {
        return None;
    }
    let nanos = i128::from(interval.days) * DAY + i128::from(interval.nanoseconds);
    if nanos.abs() > MAX_DAYS * DAY {
        return None;
    }
    let per_unit: i128 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    if nanos % per_unit != 0 {
        return None;
    }
    let value = i64::try_from(nanos / per_unit).ok()?;
    Some(match unit {
        TimeUnit::Second => ScalarValue::DurationSecond(Some(value)),
        TimeUnit::Millisecond => ScalarValue::DurationMillisecond(Some(value)),
        TimeUnit::Microsecond => ScalarValue::DurationMicrosecond(Some(value)),
        TimeUnit::Nanosecond => ScalarValue::DurationNanosecond(Some(value)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(months: i32, days: i32, nanoseconds: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano {
            months,
            days,
            nanoseconds,
        }
    }

    #[test]
    fn days_and_time_become_durations_in_the_timestamps_unit() {
        assert_eq!(
            fixed_duration(iv(0, 7, 0), TimeUnit::Microsecond),
            Some(ScalarValue::DurationMicrosecond(Some(7 * 86_400_000_000)))
        );
        assert_eq!(
            fixed_duration(iv(0, 0, 1_800_000_000_000), TimeUnit::Second),
            Some(ScalarValue::DurationSecond(Some(1800)))
        );
        assert_eq!(
            fixed_duration(iv(0, -1, 0), TimeUnit::Nanosecond),
            Some(ScalarValue::DurationNanosecond(Some(-86_400_000_000_000)))
        );
    }

    #[test]
    fn months_fractions_of_the_unit_and_overflow_are_left_alone() {
        assert_eq!(fixed_duration(iv(1, 0, 0), TimeUnit::Microsecond), None);
        assert_eq!(fixed_duration(iv(0, 0, 1), TimeUnit::Millisecond), None);
        // More than 1,000 years: left to the calendar path, which reports out-of-range dates.
        assert_eq!(fixed_duration(iv(0, 365_251, 0), TimeUnit::Second), None);
        assert_eq!(fixed_duration(iv(0, -365_251, 0), TimeUnit::Second), None);
        assert!(fixed_duration(iv(0, 365_250, 0), TimeUnit::Second).is_some());
    }

    /// The optimized plan of `sql` in a session with the rule, as text.
    async fn optimized(sql: &str) -> String {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.add_optimizer_rule(Arc::new(FixedIntervalArithmetic));
        ctx.sql(
            "CREATE TABLE t AS SELECT arrow_cast('2026-01-01T00:00:00', 'Timestamp(Microsecond, None)') AS ts, \
             arrow_cast('2026-01-01T00:00:00', 'Timestamp(Microsecond, Some(\"UTC\"))') AS zoned",
        )
        .await
        .expect("table");
        let df = ctx.sql(sql).await.expect("plan");
        let plan = df.into_optimized_plan().expect("optimize");
        plan.display_indent().to_string()
    }

    #[tokio::test]
    async fn the_plan_adds_a_duration_and_keeps_the_output_name() {
        let plan = optimized("SELECT ts + INTERVAL '7 days', ts - INTERVAL '2 hours' FROM t").await;
        assert!(
            plan.contains(
                "t.ts + DurationMicrosecond(\"604800000000\") AS t.ts + IntervalMonthDayNano"
            ),
            "{plan}"
        );
        assert!(
            plan.contains("t.ts - DurationMicrosecond(\"7200000000\")"),
            "{plan}"
        );
        let plan =
            optimized("SELECT count(*) FROM t a JOIN t b ON b.ts < a.ts + INTERVAL '1 day'").await;
        assert!(
            plan.contains("DurationMicrosecond(\"86400000000\")"),
            "{plan}"
        );
    }

    #[tokio::test]
    async fn months_and_zoned_timestamps_keep_the_calendar() {
        let plan =
            optimized("SELECT ts + INTERVAL '1 month', zoned + INTERVAL '1 day' FROM t").await;
        assert!(!plan.contains("Duration"), "{plan}");
    }
}
