//! A physical optimizer rule that makes joins yield to the tokio scheduler as they produce
//! output, not only as they read input.
//!
//! DataFusion 55 charges tokio's cooperative budget at scans and exchanges
//! (`EnsureCooperative`), so a task yields after about 128 input batches. A join's output can
//! be far larger than its input: a cross or nested-loop join turns one probe batch into
//! millions of rows, and the aggregation above it pulls them all in one poll. Such a query holds
//! its worker threads for minutes, and every other query on the runtime waits — on the Flight
//! server, other users' small queries (measured: a `SELECT 41 + 1` behind a cross join of the
//! test shop's events did not answer within 30 s). Wrapping each join in DataFusion's own
//! [`CooperativeExec`] charges the budget per output batch too, so the task yields every 128
//! output batches; the join keeps its state across polls, so only scheduling changes.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::execution_plan::{SchedulingType, replace_children_if_necessary};
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, PiecewiseMergeJoinExec, SortMergeJoinExec,
    SymmetricHashJoinExec,
};

/// Wraps every join that does not already charge the budget in a [`CooperativeExec`] (see the
/// module docs). Runs after DataFusion's own rules.
#[derive(Debug, Default)]
pub struct YieldingJoins;

fn is_join(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<NestedLoopJoinExec>()
        || plan.is::<CrossJoinExec>()
        || plan.is::<HashJoinExec>()
        || plan.is::<SortMergeJoinExec>()
        || plan.is::<SymmetricHashJoinExec>()
        || plan.is::<PiecewiseMergeJoinExec>()
}

/// A join that nothing wraps yet, wrapped.
fn wrapped(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    (is_join(plan.as_ref()) && plan.properties().scheduling_type != SchedulingType::Cooperative)
        .then(|| Arc::new(CooperativeExec::new(Arc::clone(plan))) as Arc<dyn ExecutionPlan>)
}

impl PhysicalOptimizerRule for YieldingJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = plan
            .transform_up(|node| {
                // A join already under a CooperativeExec (this rule ran before) stays as is.
                if node.is::<CooperativeExec>() {
                    return Ok(Transformed::no(node));
                }
                let children: Vec<_> = node.children().into_iter().cloned().collect();
                if !children.iter().any(|c| wrapped(c).is_some()) {
                    return Ok(Transformed::no(node));
                }
                let children = children
                    .iter()
                    .map(|c| wrapped(c).unwrap_or_else(|| Arc::clone(c)))
                    .collect();
                Ok(Transformed::yes(replace_children_if_necessary(
                    node, children,
                )?))
            })?
            .data;
        Ok(wrapped(&plan).unwrap_or(plan))
    }

    fn name(&self) -> &str {
        "YieldingJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::displayable;

    use crate::config::Config;

    async fn physical(sql: &str) -> Arc<dyn ExecutionPlan> {
        let ctx = crate::build_session(&Config::default()).unwrap();
        ctx.sql("CREATE TABLE a AS VALUES (1, 'x'), (2, 'y')")
            .await
            .unwrap();
        ctx.sql("CREATE TABLE b AS VALUES (1, 'z')").await.unwrap();
        ctx.sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap()
    }

    fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
        displayable(plan.as_ref()).indent(false).to_string()
    }

    /// The plan's joins, each with its parent operator's name.
    fn joins_with_parents(plan: &Arc<dyn ExecutionPlan>) -> Vec<(String, String)> {
        let mut out = vec![];
        plan.apply(|node| {
            for child in node.children() {
                if is_join(child.as_ref()) {
                    out.push((child.name().to_string(), node.name().to_string()));
                }
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        out
    }

    #[tokio::test]
    async fn every_join_is_wrapped_once() {
        for q in [
            "SELECT count(*) FROM a CROSS JOIN b WHERE a.column1 < b.column1",
            "SELECT a.column2, b.column2 FROM a CROSS JOIN b",
            "SELECT * FROM a JOIN b ON a.column1 = b.column1",
            "SELECT * FROM a LEFT JOIN b ON a.column1 = b.column1 JOIN a c ON c.column2 = b.column2",
        ] {
            let plan = physical(q).await;
            let joins = joins_with_parents(&plan);
            assert!(!joins.is_empty(), "{q}: a join in\n{}", text(&plan));
            for (join, parent) in &joins {
                assert_eq!(parent, "CooperativeExec", "{q}: {join}\n{}", text(&plan));
            }
            // Planned again, a wrapped join is not wrapped twice.
            let again = YieldingJoins
                .optimize(Arc::clone(&plan), &ConfigOptions::default())
                .unwrap();
            assert_eq!(text(&again), text(&plan));
        }
    }

    #[tokio::test]
    async fn plans_without_joins_are_left_alone() {
        let plan = physical("SELECT column2, count(*) FROM a GROUP BY column2").await;
        assert!(!text(&plan).contains("CooperativeExec"), "{}", text(&plan));
    }
}
