//! `count` whose `count(DISTINCT x) … GROUP BY` keeps all groups' distinct values in one set
//! that the memory pool sees ([`GroupedDistinct`]).
//!
//! DataFusion 55 has a groups accumulator for `count(DISTINCT)` of integers only; every other
//! type (strings above all: `count(DISTINCT category)`) gets a hash set per group through its
//! adapter. Beside other aggregates — where DataFusion cannot rewrite the query into two
//! `GROUP BY`s — that took 24 GB for 193k users and was killed, whatever the memory limit.
//! [`GroupedCount`] is registered under DataFusion's name `count` and delegates everything to
//! DataFusion's `Count` (signature, `count(*)`, statistics, the single-group and window
//! accumulators, the partial state's type), except the groups accumulator of `count(DISTINCT
//! x)` for the types [`distinct_set::supported`] lists: integers, floats, booleans, dates,
//! times, timestamps, durations, strings and byte strings of every layout, and dictionaries
//! of those.
//!
//! Syntax and results are DataFusion's: `count(DISTINCT x)` counts the distinct non-NULL
//! values of `x` in each group; `FILTER (WHERE …)` leaves rows out.
//!
//! ```sql
//! SELECT user_id, count(*) AS events, count(DISTINCT category) AS categories
//! FROM events GROUP BY user_id;
//! ```

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, internal_err};
use datafusion::functions_aggregate::count::Count;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator};

use super::distinct_set::{self, GroupedDistinct};

/// `count` with a bounded, accounted groups accumulator for `count(DISTINCT x)`; see the
/// module docs.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupedCount {
    inner: Count,
}

impl GroupedCount {
    /// The `count` to register in place of DataFusion's.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The input type of a `count(DISTINCT x)` that [`GroupedDistinct`] takes (`None`: a plain
/// count, several arguments, or a type left to DataFusion).
fn distinct_input(args: &AccumulatorArgs) -> Option<DataType> {
    if !args.is_distinct || args.expr_fields.len() != 1 {
        return None;
    }
    let data_type = args.expr_fields[0].data_type();
    distinct_set::supported(data_type).then(|| data_type.clone())
}

#[warn(clippy::missing_trait_methods)] // delegates, so it implements every trait method
impl AggregateUDFImpl for GroupedCount {
    crate::delegate::delegate_aggregate_udf!();

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        distinct_input(&args).is_some() || self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match distinct_input(&args) {
            Some(data_type) => Ok(Box::new(DistinctCountGroups(GroupedDistinct::try_new(
                &data_type,
            )?))),
            None => self.inner.create_groups_accumulator(args),
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }
}

/// [`GroupedDistinct`] as DataFusion's groups accumulator.
#[derive(Debug)]
struct DistinctCountGroups(GroupedDistinct);

impl GroupsAccumulator for DistinctCountGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [values] = values else {
            return internal_err!("count(DISTINCT) takes one argument, got {}", values.len());
        };
        self.0
            .update(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.0.evaluate(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.0.state(emit_to)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [lists] = values else {
            return internal_err!("count(DISTINCT) has one state column, got {}", values.len());
        };
        self.0.merge(lists, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let [values] = values else {
            return internal_err!("count(DISTINCT) takes one argument, got {}", values.len());
        };
        Ok(vec![self.0.convert_to_state(values, opt_filter)?])
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}
