//! Integer `+`, `-` and `*` that fail on overflow instead of wrapping around.
//!
//! DataFusion evaluates `a + b` on integers with wrapping arithmetic unless the physical
//! `BinaryExpr` is built with `fail_on_overflow`, and its planner never sets it: `SELECT
//! user_id * 9223372036854775807` silently returns wrong numbers. DuckDB and PostgreSQL raise
//! an error; so do we (`Arithmetic overflow: Overflow happened on: 9223372036854775807 * 2`).
//!
//! [`CheckedArithmetic`] is a physical optimizer rule that rebuilds every `+ - *`
//! `BinaryExpr` in the expressions of the plan's nodes with `fail_on_overflow`. Floats are
//! unaffected (Arrow's checked float add is the plain one), decimals and durations become
//! checked too. It must run **first** among the physical rules ([`physical_optimizer_rules`]
//! puts it there): the later rules copy expressions into other nodes — projections into the
//! Parquet scan, join keys into repartitioning, filters into scans — and `BinaryExpr` keeps the
//! flag when it is copied, but a scan's pushed-down projection cannot be rewritten afterwards.
//!
//! Nodes it rewrites: projection, filter, aggregate (group keys, arguments, `FILTER`), sort,
//! hash / nested-loop / sort-merge join (keys and join filter). Window functions keep
//! DataFusion's wrapping arithmetic in their arguments (their exec cannot be rebuilt with new
//! expressions from outside DataFusion); constant expressions are checked earlier, by
//! [`super::constant_overflow`].

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::projection::ProjectionExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, PhysicalGroupBy};
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;

/// A join's key pair (left, right).
type JoinKey = (Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>);

/// The physical optimizer rule; see the module docs.
#[derive(Debug, Default)]
pub struct CheckedArithmetic;

/// DataFusion's physical optimizer rules with [`CheckedArithmetic`] first, for
/// `SessionStateBuilder::with_physical_optimizer_rules`.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> =
        vec![Arc::new(CheckedArithmetic)];
    rules.extend(PhysicalOptimizer::new().rules);
    rules
}

impl PhysicalOptimizerRule for CheckedArithmetic {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(plan.transform_up(rewrite_node)?.data)
    }

    fn name(&self) -> &str {
        "ecomsql_checked_arithmetic"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `expr` with every integer-capable `+ - *` failing on overflow.
pub fn checked_expr(expr: &Arc<dyn PhysicalExpr>) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
    Arc::clone(expr).transform_up(|e| {
        let Some(b) = e.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(e));
        };
        if !matches!(
            b.op(),
            Operator::Plus | Operator::Minus | Operator::Multiply
        ) {
            return Ok(Transformed::no(e));
        }
        let checked = BinaryExpr::new(Arc::clone(b.left()), *b.op(), Arc::clone(b.right()))
            .with_fail_on_overflow(true);
        if &checked == b {
            return Ok(Transformed::no(e));
        }
        Ok(Transformed::yes(Arc::new(checked) as Arc<dyn PhysicalExpr>))
    })
}

/// Rewrites a list of expressions; `None` when none changed.
fn checked_all(
    exprs: impl IntoIterator<Item = Arc<dyn PhysicalExpr>>,
) -> Result<Option<Vec<Arc<dyn PhysicalExpr>>>> {
    let mut changed = false;
    let out = exprs
        .into_iter()
        .map(|e| {
            let t = checked_expr(&e)?;
            changed |= t.transformed;
            Ok(t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(changed.then_some(out))
}

fn checked_join_filter(filter: Option<&JoinFilter>) -> Result<Option<Option<JoinFilter>>> {
    let Some(f) = filter else {
        return Ok(None);
    };
    let t = checked_expr(f.expression())?;
    Ok(t.transformed.then(|| {
        Some(JoinFilter::new(
            t.data,
            f.column_indices().to_vec(),
            Arc::clone(f.schema()),
        ))
    }))
}

fn checked_on(on: &[JoinKey]) -> Result<Option<Vec<JoinKey>>> {
    let flat = on.iter().flat_map(|(l, r)| [Arc::clone(l), Arc::clone(r)]);
    Ok(checked_all(flat)?.map(|v| {
        v.chunks(2)
            .map(|p| (Arc::clone(&p[0]), Arc::clone(&p[1])))
            .collect()
    }))
}

fn rewrite_node(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let new: Option<Arc<dyn ExecutionPlan>> = if let Some(p) = node.downcast_ref::<ProjectionExec>()
    {
        match checked_all(p.expr().iter().map(|e| Arc::clone(&e.expr)))? {
            Some(exprs) => {
                let exprs = exprs
                    .into_iter()
                    .zip(p.expr())
                    .map(|(e, old)| ProjectionExpr::new(e, old.alias.clone()));
                Some(Arc::new(ProjectionExec::try_new(
                    exprs,
                    Arc::clone(p.input()),
                )?))
            }
            None => None,
        }
    } else if let Some(f) = node.downcast_ref::<FilterExec>() {
        let t = checked_expr(f.predicate())?;
        if t.transformed {
            Some(Arc::new(
                FilterExecBuilder::from(f).with_predicate(t.data).build()?,
            ))
        } else {
            None
        }
    } else if let Some(a) = node.downcast_ref::<AggregateExec>() {
        rewrite_aggregate(a)?
    } else if let Some(s) = node.downcast_ref::<SortExec>() {
        match checked_all(s.expr().iter().map(|e| Arc::clone(&e.expr)))? {
            Some(exprs) => {
                let ordering = exprs
                    .into_iter()
                    .zip(s.expr().iter())
                    .map(|(e, old)| PhysicalSortExpr::new(e, old.options));
                match LexOrdering::new(ordering) {
                    Some(ordering) => Some(Arc::new(
                        SortExec::new(ordering, Arc::clone(s.input()))
                            .with_preserve_partitioning(s.preserve_partitioning())
                            .with_fetch(s.fetch()),
                    )),
                    None => None,
                }
            }
            None => None,
        }
    } else if let Some(j) = node.downcast_ref::<HashJoinExec>() {
        let on = checked_on(j.on())?;
        let filter = checked_join_filter(j.filter())?;
        if on.is_none() && filter.is_none() {
            None
        } else {
            let mut b = j.builder();
            if let Some(on) = on {
                b = b.with_on(on);
            }
            if let Some(filter) = filter {
                b = b.with_filter(filter);
            }
            Some(Arc::new(b.build()?))
        }
    } else if let Some(j) = node.downcast_ref::<NestedLoopJoinExec>() {
        match checked_join_filter(j.filter())? {
            Some(filter) => Some(Arc::new(
                datafusion::physical_plan::joins::NestedLoopJoinExecBuilder::from(j)
                    .with_filter(filter)
                    .build()?,
            )),
            None => None,
        }
    } else if let Some(j) = node.downcast_ref::<SortMergeJoinExec>() {
        let on = checked_on(j.on())?;
        let filter = checked_join_filter(j.filter.as_ref())?;
        if on.is_none() && filter.is_none() {
            None
        } else {
            Some(Arc::new(SortMergeJoinExec::try_new(
                Arc::clone(j.left()),
                Arc::clone(j.right()),
                on.unwrap_or_else(|| j.on().to_vec()),
                filter.unwrap_or_else(|| j.filter.clone()),
                j.join_type(),
                j.sort_options().to_vec(),
                j.null_equality(),
            )?))
        }
    } else {
        None
    };
    Ok(match new {
        Some(n) => Transformed::yes(n),
        None => Transformed::no(node),
    })
}

fn rewrite_aggregate(a: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let group = a.group_expr();
    let group_exprs = checked_all(group.expr().iter().map(|(e, _)| Arc::clone(e)))?;
    let mut aggr_changed = false;
    let mut aggr = Vec::with_capacity(a.aggr_expr().len());
    for f in a.aggr_expr() {
        let args = checked_all(f.expressions())?;
        let order = checked_all(f.order_bys().iter().map(|s| Arc::clone(&s.expr)))?;
        if args.is_none() && order.is_none() {
            aggr.push(Arc::clone(f));
            continue;
        }
        let args = args.unwrap_or_else(|| f.expressions());
        let order =
            order.unwrap_or_else(|| f.order_bys().iter().map(|s| Arc::clone(&s.expr)).collect());
        match f.with_new_expressions(args, order) {
            Some(new) => {
                aggr.push(Arc::new(new));
                aggr_changed = true;
            }
            None => aggr.push(Arc::clone(f)),
        }
    }
    let mut filter_changed = false;
    let filters = a
        .filter_expr()
        .iter()
        .map(|f| {
            f.as_ref()
                .map(|f| {
                    let t = checked_expr(f)?;
                    filter_changed |= t.transformed;
                    Ok(t.data)
                })
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    if group_exprs.is_none() && !aggr_changed && !filter_changed {
        return Ok(None);
    }
    let group_by = match group_exprs {
        Some(exprs) => PhysicalGroupBy::new(
            exprs
                .into_iter()
                .zip(group.expr())
                .map(|(e, (_, name))| (e, name.clone()))
                .collect(),
            group.null_expr().to_vec(),
            group.groups().to_vec(),
            group.has_grouping_set(),
        ),
        None => group.clone(),
    };
    let new = AggregateExec::try_new(
        *a.mode(),
        group_by,
        aggr,
        filters,
        Arc::clone(a.input()),
        a.input_schema(),
    )?
    .with_limit_options(a.limit_options());
    Ok(Some(Arc::new(new)))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::expressions::{col, lit};

    use super::*;

    #[test]
    fn rewritten_plus_fails_on_overflow() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![1, i64::MAX]))],
        )?;
        let plus: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            col("a", &schema)?,
            Operator::Plus,
            lit(1i64),
        ));
        // DataFusion's default wraps around …
        let wrapped = plus.evaluate(&batch)?.into_array(2)?;
        let wrapped = wrapped.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(wrapped.value(1), i64::MIN);
        // … the rewritten one refuses.
        let checked = checked_expr(&plus)?;
        assert!(checked.transformed);
        let err = checked.data.evaluate(&batch).unwrap_err().to_string();
        assert!(
            err.contains("Overflow happened on: 9223372036854775807 + 1"),
            "{err}"
        );
        // A second pass changes nothing.
        assert!(!checked_expr(&checked.data)?.transformed);
        Ok(())
    }
}
