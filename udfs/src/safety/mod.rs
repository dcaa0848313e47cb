//! Guards that keep one query from giving wrong numbers or taking the process down:
//! - [`sum`]: `sum` over integers fails on overflow instead of wrapping around (replaces
//!   DataFusion's `sum` under the same name);
//! - [`value_guard`] with its table [`value_bounds`]: built-in scalar functions that can build
//!   a huge value from small arguments (`repeat`, `lpad`, `array_repeat`, `range`, …) check
//!   the size first, against `ecomsql.max_value_bytes`.
//!
//! Integer `+ - *` overflow is handled by the plan rewrites in [`crate::rewrite`].

pub mod sum;
pub mod value_bounds;
pub mod value_guard;

use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Replaces DataFusion's `sum` and size-guards the built-ins of [`value_bounds::GUARDED`].
/// These are replacements of DataFusion's functions, not ecomsql functions of their own, so
/// they are not in [`crate::all_function_docs`].
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(sum::CheckedSum::new()));
    guard_builtins(ctx);
}

/// Replaces each function of [`value_bounds::GUARDED`] registered in `ctx` by its guarded
/// version (same name and aliases). Functions already guarded are left as they are.
pub fn guard_builtins(ctx: &SessionContext) {
    for (name, bound) in value_bounds::GUARDED {
        let Ok(inner) = ctx.udf(name) else {
            continue;
        };
        if inner
            .inner()
            .downcast_ref::<value_guard::SizeGuard>()
            .is_some()
        {
            continue;
        }
        ctx.register_udf(ScalarUDF::new_from_impl(value_guard::SizeGuard::new(
            inner, *bound,
        )));
    }
}
