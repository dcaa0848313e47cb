//! [`delegate_aggregate_udf!`]: the methods of an `AggregateUDFImpl` that wraps one of
//! DataFusion's aggregates (in a field `inner`) and replaces only its accumulators.

/// Expands, inside `impl AggregateUDFImpl for Wrapper`, to every method except the four that
/// choose accumulators (`accumulator`, `groups_accumulator_supported`,
/// `create_groups_accumulator`, `create_sliding_accumulator`), each passed on to `self.inner`:
/// name, signature, types, display, state fields, statistics, simplification, documentation.
/// `with_beneficial_ordering` returns the wrapper itself, so it is only for order-insensitive
/// aggregates (`sum`, `count`).
///
/// The wrapper writes the accumulator methods itself; put `#[warn(clippy::missing_trait_methods)]`
/// on the impl so a method DataFusion adds is not left at its default instead of delegated.
macro_rules! delegate_aggregate_udf {
    () => {
        fn name(&self) -> &str {
            self.inner.name()
        }

        fn signature(&self) -> &::datafusion::logical_expr::Signature {
            self.inner.signature()
        }

        fn return_type(
            &self,
            arg_types: &[::datafusion::arrow::datatypes::DataType],
        ) -> ::datafusion::common::Result<::datafusion::arrow::datatypes::DataType> {
            self.inner.return_type(arg_types)
        }

        fn aliases(&self) -> &[String] {
            self.inner.aliases()
        }

        fn schema_name(
            &self,
            params: &::datafusion::logical_expr::expr::AggregateFunctionParams,
        ) -> ::datafusion::common::Result<String> {
            self.inner.schema_name(params)
        }

        fn human_display(
            &self,
            params: &::datafusion::logical_expr::expr::AggregateFunctionParams,
        ) -> ::datafusion::common::Result<String> {
            self.inner.human_display(params)
        }

        fn window_function_schema_name(
            &self,
            params: &::datafusion::logical_expr::expr::WindowFunctionParams,
        ) -> ::datafusion::common::Result<String> {
            self.inner.window_function_schema_name(params)
        }

        fn display_name(
            &self,
            params: &::datafusion::logical_expr::expr::AggregateFunctionParams,
        ) -> ::datafusion::common::Result<String> {
            self.inner.display_name(params)
        }

        fn window_function_display_name(
            &self,
            params: &::datafusion::logical_expr::expr::WindowFunctionParams,
        ) -> ::datafusion::common::Result<String> {
            self.inner.window_function_display_name(params)
        }

        fn state_fields(
            &self,
            args: ::datafusion::logical_expr::function::StateFieldsArgs,
        ) -> ::datafusion::common::Result<Vec<::datafusion::arrow::datatypes::FieldRef>> {
            self.inner.state_fields(args)
        }

        fn with_beneficial_ordering(
            self: ::std::sync::Arc<Self>,
            _beneficial_ordering: bool,
        ) -> ::datafusion::common::Result<
            Option<::std::sync::Arc<dyn ::datafusion::logical_expr::AggregateUDFImpl>>,
        > {
            // Order-insensitive, as the wrapped aggregate (which keeps the default).
            Ok(Some(self))
        }

        fn order_sensitivity(
            &self,
        ) -> ::datafusion::logical_expr::utils::AggregateOrderSensitivity {
            self.inner.order_sensitivity()
        }

        fn simplify(
            &self,
        ) -> Option<::datafusion::logical_expr::function::AggregateFunctionSimplification> {
            self.inner.simplify()
        }

        fn simplify_expr_op_literal(
            &self,
            agg_function: &::datafusion::logical_expr::expr::AggregateFunction,
            arg: &::datafusion::logical_expr::Expr,
            op: ::datafusion::logical_expr::Operator,
            lit: &::datafusion::logical_expr::Expr,
            arg_is_left: bool,
        ) -> ::datafusion::common::Result<Option<::datafusion::logical_expr::Expr>> {
            // `sum(x + c)` becomes `sum(x) + c * count(x)`: the new aggregate is the one in
            // `agg_function`, i.e. the wrapper.
            self.inner
                .simplify_expr_op_literal(agg_function, arg, op, lit, arg_is_left)
        }

        fn reverse_expr(&self) -> ::datafusion::logical_expr::ReversedUDAF {
            self.inner.reverse_expr()
        }

        fn coerce_types(
            &self,
            arg_types: &[::datafusion::arrow::datatypes::DataType],
        ) -> ::datafusion::common::Result<Vec<::datafusion::arrow::datatypes::DataType>> {
            self.inner.coerce_types(arg_types)
        }

        fn return_field(
            &self,
            arg_fields: &[::datafusion::arrow::datatypes::FieldRef],
        ) -> ::datafusion::common::Result<::datafusion::arrow::datatypes::FieldRef> {
            self.inner.return_field(arg_fields)
        }

        fn is_nullable(&self) -> bool {
            self.inner.is_nullable()
        }

        fn is_descending(&self) -> Option<bool> {
            self.inner.is_descending()
        }

        fn value_from_stats(
            &self,
            statistics_args: &::datafusion::logical_expr::StatisticsArgs,
        ) -> Option<::datafusion::common::ScalarValue> {
            self.inner.value_from_stats(statistics_args)
        }

        fn default_value(
            &self,
            data_type: &::datafusion::arrow::datatypes::DataType,
        ) -> ::datafusion::common::Result<::datafusion::common::ScalarValue> {
            self.inner.default_value(data_type)
        }

        fn supports_null_handling_clause(&self) -> bool {
            self.inner.supports_null_handling_clause()
        }

        fn supports_within_group_clause(&self) -> bool {
            self.inner.supports_within_group_clause()
        }

        fn set_monotonicity(
            &self,
            data_type: &::datafusion::arrow::datatypes::DataType,
        ) -> ::datafusion::logical_expr::SetMonotonicity {
            self.inner.set_monotonicity(data_type)
        }

        fn documentation(&self) -> Option<&::datafusion::logical_expr::Documentation> {
            self.inner.documentation()
        }
    };
}

pub(crate) use delegate_aggregate_udf;
