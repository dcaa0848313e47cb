//! `funnel_steps(window, ts, cond1, …, condN [, mode …])`: the step timestamps of the best
//! funnel chain per group, so step-to-step times are one query away (what ClickHouse users ask
//! of `windowFunnel`).
//!
//! Same chain semantics and arguments as `funnel` (see
//! [`funnel_kernel`](super::funnel_kernel)); the best chain is the deepest, then the one whose
//! step times are earliest compared step by step.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, Signature, Volatility,
};

use super::funnel::with_funnel_arguments;
use super::funnel_accumulator::{
    FunnelAccumulator, FunnelGroupsAccumulator, check_constant_args, coerce_funnel_types,
    funnel_state_fields, output_of, spec_from_args,
};
use crate::doc::DOC_SECTION_FEATURES;

const NAME: &str = "funnel_steps";

/// The `funnel_steps` SQL aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FunnelStepsFunc {
    signature: Signature,
}

impl Default for FunnelStepsFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl FunnelStepsFunc {
    /// Creates the function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    with_funnel_arguments(Documentation::builder(
        DOC_SECTION_FEATURES,
        "The step times of the best conversion-funnel chain per group, as a list of timestamps \
         of ts's type: element k is when step k+1 was reached. The best chain is the deepest \
         (its length is what funnel returns); among equally deep chains, the one with the \
         earliest first step, then the earliest second step, and so on. An empty list (never \
         NULL) when cond1 never holds, including empty input.",
        "funnel_steps(window, ts, cond1, …, condN [, mode …])",
    ))
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, s[2] - s[1] AS view_to_cart\n\
         > FROM (SELECT user_id, funnel_steps(INTERVAL '1 day', ts,\n\
         >     event_type = 'view', event_type = 'add_to_cart') AS s\n\
         >     FROM events GROUP BY user_id)\n\
         > WHERE cardinality(s) = 2;\n\
         ```",
    )
    .with_related_udf("funnel")
    .build()
});

impl AggregateUDFImpl for FunnelStepsFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_funnel_types(NAME, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.get(1) {
            Some(t @ DataType::Timestamp(_, _)) => Ok(DataType::List(Arc::new(
                Field::new_list_field(t.clone(), true),
            ))),
            other => plan_err!("{NAME} argument 2 (ts) must be a timestamp, got {other:?}"),
        }
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        match data_type {
            DataType::List(f) => Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &[],
                f.data_type(),
            ))),
            other => ScalarValue::try_from(other),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let spec = spec_from_args(NAME, &args)?;
        Ok(Box::new(FunnelAccumulator::new(
            spec,
            output_of(NAME, true, &args)?,
        )))
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
            output_of(NAME, true, &args)?,
        )))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        // Not a rewrite: checks the constant arguments while planning (see `funnel`).
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
