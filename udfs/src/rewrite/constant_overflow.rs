//! Constant integer arithmetic that overflows is an error at planning time.
//!
//! DataFusion folds constant expressions in its optimizer (`SimplifyExpressions`' constant
//! evaluator) by building and evaluating its own physical expressions, with wrapping integer
//! arithmetic: `SELECT 9223372036854775807 + 1` is folded to `-9223372036854775808` before any
//! physical optimizer rule (such as [`super::checked_arithmetic`]) sees the plan.
//!
//! [`ConstantOverflowCheck`] is an analyzer rule, so it runs after type coercion and before
//! the optimizer. It evaluates every constant `+ - *` on integers or decimals (no columns,
//! variables, placeholders, subqueries, aggregates or volatile functions below it) with
//! checked arithmetic, and refuses the statement when one overflows:
//! `Int64 overflow: 9223372036854775807 + 1`. It changes nothing in the plan; whatever does
//! not overflow is left for DataFusion to fold, which then gives the same value.
//!
//! As in PostgreSQL, which also folds constants while planning, this applies even inside a
//! branch that would never run (`CASE WHEN false THEN 9223372036854775807 + 1 END`). An
//! evaluation that fails for another reason (a division by zero inside a `CASE`, say) is left
//! to run time, as DataFusion does; the parts below it are still checked.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator, Volatility};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr::create_physical_expr;

use super::checked_arithmetic::checked_expr;

/// The analyzer rule; added to a session by [`crate::register_all`].
#[derive(Debug, Default)]
pub struct ConstantOverflowCheck;

impl AnalyzerRule for ConstantOverflowCheck {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let mut props: Option<ExecutionProps> = None;
        plan.apply_with_subqueries(|node| {
            node.apply_expressions(|e| {
                e.apply(|e| check(e, config, &mut props))?;
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "ecomsql_constant_overflow_check"
    }
}

/// Checks one expression node: a constant integer `+ - *` is evaluated with checked
/// arithmetic; one that evaluates cleanly needs no look at its parts.
fn check(
    e: &Expr,
    config: &ConfigOptions,
    props: &mut Option<ExecutionProps>,
) -> Result<TreeNodeRecursion> {
    let Expr::BinaryExpr(b) = e else {
        return Ok(TreeNodeRecursion::Continue);
    };
    if !matches!(b.op, Operator::Plus | Operator::Minus | Operator::Multiply) || !is_constant(e)? {
        return Ok(TreeNodeRecursion::Continue);
    }
    let empty = DFSchema::empty();
    let Ok(data_type) = e.get_type(&empty) else {
        return Ok(TreeNodeRecursion::Continue);
    };
    if !(data_type.is_integer() || data_type.is_decimal()) {
        return Ok(TreeNodeRecursion::Continue);
    }
    let props = props.get_or_insert_with(|| {
        let mut p = ExecutionProps::new();
        p.config_options = Some(Arc::new(config.clone()));
        p
    });
    match evaluate_checked(e, &empty, props) {
        Ok(()) => Ok(TreeNodeRecursion::Jump),
        Err(err) => match overflow_detail(&err) {
            Some(detail) => Err(DataFusionError::Execution(format!(
                "{data_type} overflow: {detail}"
            ))),
            None => Ok(TreeNodeRecursion::Continue),
        },
    }
}

/// Whether `e` can be computed without any input row (as DataFusion's constant evaluator
/// decides, minus volatile functions).
fn is_constant(e: &Expr) -> Result<bool> {
    let mut constant = true;
    e.apply(|e| {
        let ok = match e {
            Expr::Column(_)
            | Expr::OuterReferenceColumn(..)
            | Expr::ScalarVariable(..)
            | Expr::Placeholder(_)
            | Expr::AggregateFunction(_)
            | Expr::WindowFunction(_)
            | Expr::Exists(_)
            | Expr::InSubquery(_)
            | Expr::SetComparison(_)
            | Expr::ScalarSubquery(_)
            | Expr::GroupingSet(_)
            | Expr::Lambda(_)
            | Expr::LambdaVariable(_)
            | Expr::HigherOrderFunction(_)
            | Expr::Unnest(_) => false,
            #[expect(deprecated)]
            Expr::Wildcard { .. } => false,
            Expr::ScalarFunction(f) => f.func.signature().volatility != Volatility::Volatile,
            _ => true,
        };
        constant &= ok;
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(constant)
}

fn evaluate_checked(e: &Expr, empty: &DFSchema, props: &ExecutionProps) -> Result<()> {
    let phys = create_physical_expr(e, empty, props, &PhysicalPlanningContext::default())?;
    let phys = checked_expr(&phys)?.data;
    // One row and no columns, so the expression yields one value.
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    phys.evaluate(&batch)?;
    Ok(())
}

/// `9223372036854775807 + 1` from Arrow's "Overflow happened on: …", when `err` is an
/// arithmetic overflow.
fn overflow_detail(err: &DataFusionError) -> Option<String> {
    match err.find_root() {
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::ArithmeticOverflow(msg) => Some(
                msg.strip_prefix("Overflow happened on: ")
                    .unwrap_or(msg)
                    .to_string(),
            ),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use super::*;

    fn run(e: Expr) -> Result<TreeNodeRecursion> {
        let mut props = None;
        check(&e, &ConfigOptions::default(), &mut props)
    }

    #[test]
    fn overflowing_constant_is_refused() {
        let err = run(lit(i64::MAX) + lit(1i64)).unwrap_err().to_string();
        assert!(
            err.contains("Int64 overflow: 9223372036854775807 + 1"),
            "{err}"
        );
        let err = run(lit(i32::MIN) - lit(1i32)).unwrap_err().to_string();
        assert!(err.contains("Int32 overflow"), "{err}");
    }

    #[test]
    fn fitting_constant_and_columns_pass() -> Result<()> {
        assert_eq!(run(lit(i64::MAX) - lit(1i64))?, TreeNodeRecursion::Jump);
        assert_eq!(run(lit(1.0e308) * lit(10.0))?, TreeNodeRecursion::Continue);
        let col = datafusion::logical_expr::col("a") + lit(i64::MAX);
        assert_eq!(run(col)?, TreeNodeRecursion::Continue);
        Ok(())
    }

    #[test]
    fn other_errors_are_left_to_run_time() -> Result<()> {
        // 1 / 0 fails, but not by overflow: the parts are looked at one by one.
        let e = lit(1i64) / lit(0i64) + lit(1i64);
        assert_eq!(run(e)?, TreeNodeRecursion::Continue);
        Ok(())
    }
}
