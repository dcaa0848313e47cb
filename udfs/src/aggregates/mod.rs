//! DataFusion aggregates replaced under their own names, so that every query keeps its memory
//! in the pool's sight:
//! - [`count`]: `count(DISTINCT x) … GROUP BY` keeps one set of `(group, value)` pairs for all
//!   groups ([`distinct_set`]) instead of a hash set per group.
//!
//! These are replacements of DataFusion's functions, not ecomsql functions of their own, so
//! they are not in [`crate::all_function_docs`].

pub mod count;
pub mod distinct_set;

use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::SessionContext;

/// Registers the replacements in `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(count::GroupedCount::new()));
}
