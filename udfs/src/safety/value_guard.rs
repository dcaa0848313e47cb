//! A size guard around scalar functions that can build a huge value from small arguments.
//!
//! `array_repeat(1, 2000000000)` asks DataFusion for 16 GB in one allocation, and `repeat('x',
//! 2147483647)` for 2 GiB; neither is charged to the memory pool, so `--memory-limit` does not
//! stop them: the process is OOM-killed, or aborts on the failed allocation (taking a Flight
//! server and every other user's queries with it).
//!
//! [`SizeGuard`] wraps such a function under its own name and aliases (so
//! [`crate::register_all`] replaces DataFusion's built-in). Before each call it computes an
//! upper bound of the bytes the call would build, from the argument values
//! ([`super::value_bounds`] holds the table of functions and their bounds), and refuses with an
//! error naming the function, its arguments and the size when the bound is over the limit —
//! per value, and for the whole batch of rows.
//!
//! The limit is the session setting `ecomsql.max_value_bytes` ([`MAX_VALUE_BYTES_KEY`], default
//! [`DEFAULT_MAX_VALUE_BYTES`]): in DataFusion 55 a scalar function sees only the session's
//! `ConfigOptions`, not its memory pool, so it cannot ask the pool for room; a setting is what
//! it can read. The application defines the `ecomsql` settings and may set it from its memory
//! limit; this crate only reads the key, from whichever `ecomsql` extension is registered, and
//! uses the default when there is none.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{ExprSchema, Result, ScalarValue, exec_err};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, StructFieldMapping,
};

use super::value_bounds::ValueBound;

/// The setting that caps the bytes one guarded call may build.
pub const MAX_VALUE_BYTES_KEY: &str = "ecomsql.max_value_bytes";

/// The cap when no `ecomsql.max_value_bytes` setting is registered: 1 GiB.
pub const DEFAULT_MAX_VALUE_BYTES: u64 = 1 << 30;

/// The session's `ecomsql.max_value_bytes`, or [`DEFAULT_MAX_VALUE_BYTES`].
pub fn max_value_bytes(config: &ConfigOptions) -> u64 {
    let (prefix, name) = MAX_VALUE_BYTES_KEY
        .split_once('.')
        .unwrap_or(("", MAX_VALUE_BYTES_KEY));
    config
        .extensions
        .iter()
        .filter(|(p, _)| *p == prefix)
        .flat_map(|(_, ext)| ext.entries())
        .find(|e| e.key == MAX_VALUE_BYTES_KEY || e.key == name)
        .and_then(|e| e.value?.parse().ok())
        .unwrap_or(DEFAULT_MAX_VALUE_BYTES)
}

/// A scalar function whose output size is checked before it runs; see the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SizeGuard {
    inner: Arc<ScalarUDF>,
    bound: ValueBound,
}

impl SizeGuard {
    /// Guards `inner` with `bound`.
    pub fn new(inner: Arc<ScalarUDF>, bound: ValueBound) -> Self {
        Self { inner, bound }
    }

    /// Errors when the call would build more than the session allows.
    fn check(&self, args: &ScalarFunctionArgs) -> Result<()> {
        let limit = u128::from(max_value_bytes(&args.config_options));
        let rows = self.bound.row_bytes(&args.args, args.number_rows)?;
        let (mut total, mut worst, mut worst_row) = (0u128, 0u128, 0usize);
        for (i, &b) in rows.iter().enumerate() {
            total = total.saturating_add(b);
            if b > worst {
                (worst, worst_row) = (b, i);
            }
        }
        if total <= limit {
            return Ok(());
        }
        let call = self.describe_row(args, worst_row);
        if worst > limit {
            exec_err!(
                "{call} would build a value of {worst} bytes, more than the {limit} bytes one \
                 value may take (SET {MAX_VALUE_BYTES_KEY} to change it)"
            )
        } else {
            exec_err!(
                "{} would build {total} bytes for {} rows (the largest, {call}, {worst} bytes), \
                 more than the {limit} bytes one call may take (SET {MAX_VALUE_BYTES_KEY} to \
                 change it)",
                self.inner.name(),
                rows.len()
            )
        }
    }

    /// `repeat('x', 2147483647)`: the call as it was made for one row, long texts shortened.
    fn describe_row(&self, args: &ScalarFunctionArgs, row: usize) -> String {
        let shown: Vec<String> = args
            .args
            .iter()
            .map(|a| {
                let v = match a {
                    ColumnarValue::Scalar(s) => Ok(s.clone()),
                    ColumnarValue::Array(arr) => ScalarValue::try_from_array(arr, row),
                };
                match v {
                    Ok(v) if v.is_null() => "NULL".to_string(),
                    Ok(v) => {
                        let text = v.to_string();
                        let quoted = matches!(
                            v.data_type(),
                            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                        );
                        let short: String = text.chars().take(20).collect();
                        let more = if short.len() < text.len() { "…" } else { "" };
                        if quoted {
                            format!("'{short}{more}'")
                        } else {
                            format!("{short}{more}")
                        }
                    }
                    Err(_) => "?".to_string(),
                }
            })
            .collect();
        format!("{}({})", self.inner.name(), shown.join(", "))
    }
}

#[warn(clippy::missing_trait_methods)] // delegates, so it implements every trait method
impl ScalarUDFImpl for SizeGuard {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn display_name(&self, args: &[Expr]) -> Result<String> {
        #[expect(deprecated)]
        self.inner.inner().display_name(args)
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.inner().return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.inner().return_field_from_args(args)
    }

    fn is_nullable(&self, args: &[Expr], schema: &dyn ExprSchema) -> bool {
        #[expect(deprecated)]
        self.inner.inner().is_nullable(args, schema)
    }

    fn is_strict(&self) -> bool {
        self.inner.inner().is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.check(&args)?;
        self.inner.invoke_with_args(args)
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.inner.inner().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(Self::new(
            Arc::new(updated),
            self.bound,
        )))
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.inner().simplify(args, info)
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> Result<PreimageResult> {
        self.inner.inner().preimage(args, lit_expr, info)
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.inner().conditional_arguments(args)
    }

    fn short_circuits(&self) -> bool {
        self.inner.inner().short_circuits()
    }

    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.inner.inner().evaluate_bounds(input)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> Result<Option<Vec<Interval>>> {
        self.inner.inner().propagate_constraints(interval, inputs)
    }

    fn struct_field_mapping(
        &self,
        literal_args: &[Option<ScalarValue>],
    ) -> Option<StructFieldMapping> {
        self.inner.inner().struct_field_mapping(literal_args)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.inner().output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.inner().preserves_lex_ordering(inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.inner().strictly_order_preserving(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.inner.inner().placement(args)
    }
}
