//! `funnel(window, ts, cond1, …, condN [, mode …])`: the deepest step of a conversion funnel
//! reached per group, with ClickHouse `windowFunnel` semantics made order-independent.
//!
//! The chain definition, the tie rule and the modes are in
//! [`funnel_kernel`](super::funnel_kernel); argument rules and the accumulators (shared with
//! `funnel_steps`) in [`funnel_accumulator`](super::funnel_accumulator).

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, Signature, Volatility,
};

use super::funnel_accumulator::{
    FunnelAccumulator, FunnelGroupsAccumulator, FunnelOutput, check_constant_args,
    coerce_funnel_types, funnel_state_fields, spec_from_args,
};
use crate::doc::DOC_SECTION_FEATURES;
use datafusion::arrow::datatypes::FieldRef;

const NAME: &str = "funnel";

/// The `funnel` SQL aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FunnelFunc {
    signature: Signature,
}

impl Default for FunnelFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl FunnelFunc {
    /// Creates the function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The argument and mode documentation shared with `funnel_steps`.
pub(super) fn with_funnel_arguments(
    b: datafusion::logical_expr::DocumentationBuilder,
) -> datafusion::logical_expr::DocumentationBuilder {
    b.with_argument(
        "window",
        "Constant INTERVAL without months or years (e.g. INTERVAL '1 day'), or a constant integer \
         number of seconds. Inclusive, measured from the chain's first step. Converted to ts's \
         unit, rounded down.",
    )
    .with_argument(
        "ts",
        "Event time: any TIMESTAMP unit or time zone; computed in its own unit. Rows with NULL ts \
         are ignored.",
    )
    .with_argument(
        "cond1, …, condN",
        "1 to 64 boolean step conditions; NULL counts as false. Rows with the same ts are \
         simultaneous: together (or one row matching several conditions) they can advance the \
         chain several steps, unless 'strict_increase'. So the result never depends on row order \
         or partitioning.",
    )
    .with_argument(
        "mode",
        "Optional trailing constant strings, combinable: 'strict_order' (an event matching a \
         condition other than the current and next step, strictly between two chain steps, \
         breaks the chain), 'strict_deduplication' (an event matching an already reached step \
         or the next step strictly between two chain steps breaks the chain: each step is taken \
         at its first occurrence, so A B B C reaches 2), 'strict_increase' (step times must \
         strictly increase). Rows matching no condition never break a chain.",
    )
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    with_funnel_arguments(Documentation::builder(
        DOC_SECTION_FEATURES,
        "The deepest step of a conversion funnel reached per group (ClickHouse windowFunnel): \
         the largest k such that events matching cond1, cond2, …, condk happen in time order \
         (equal times allowed), all within `window` of the first. 0 when cond1 never holds, \
         including empty input; never NULL. Use funnel_steps for the step times.",
        "funnel(window, ts, cond1, …, condN [, mode …])",
    ))
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, funnel(INTERVAL '1 day', ts,\n\
         >     event_type = 'view', event_type = 'add_to_cart',\n\
         >     event_type = 'begin_checkout', event_type = 'purchase') AS depth\n\
         > FROM events GROUP BY user_id;\n\
         > SELECT funnel(3600, ts, a, b, 'strict_order', 'strict_increase') FROM t;\n\
         ```",
    )
    .with_related_udf("funnel_steps")
    .build()
});

impl AggregateUDFImpl for FunnelFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_funnel_types(NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let spec = spec_from_args(NAME, &args)?;
        Ok(Box::new(FunnelAccumulator::new(spec, FunnelOutput::Depth)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(funnel_state_fields(&args))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let spec = spec_from_args(NAME, &args)?;
        Ok(Box::new(FunnelGroupsAccumulator::new(
            spec,
            FunnelOutput::Depth,
        )))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        // Not a rewrite: checks the constant arguments while planning, so a bad window or mode
        // is a planning error rather than a failure when execution starts.
        Some(Box::new(|call, info| {
            let types = call
                .params
                .args
                .iter()
                .map(|a| info.get_data_type(a))
                .collect::<Result<Vec<_>>>()?;
            check_constant_args(NAME, &call, &types)?;
            Ok(Expr::AggregateFunction(call))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
