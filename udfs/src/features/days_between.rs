//! `days_between(ts1, ts2)`: the number of whole days from `ts1` to `ts2`, as `Int64` — for
//! recency features such as "days since the last purchase".
//!
//! Definition: elapsed time `ts2 - ts1` divided by 24 hours, **truncated toward zero**, so it is
//! negative when `ts2` is before `ts1` and `days_between(a, b) = -days_between(b, a)`. 23 hours
//! is 0 days. For calendar-day differences (midnight crossings) cast both to `DATE` first:
//! `days_between(CAST(ts1 AS DATE), CAST(ts2 AS DATE))`.
//!
//! Arguments: any `Timestamp` (any unit, any time zone: instants are compared), `Date32` or
//! `Date64`, mixed freely (a date is its midnight UTC). NULL in either argument gives NULL.
//! Another type is a planning error naming the argument.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, Int64Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_FEATURES;

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
const ARG_NAMES: [&str; 2] = ["ts1", "ts2"];

/// Kernel: whole days from `a` to `b` (both in nanoseconds), truncated toward zero.
#[inline]
pub fn days_between_kernel(a_nanos: i128, b_nanos: i128) -> i64 {
    // Inputs come from i64 values of at most one second per unit (or whole days for Date32),
    // so the quotient is below 2^64 s / 1 day and always fits in i64.
    ((b_nanos - a_nanos) / NANOS_PER_DAY) as i64
}

/// Nanoseconds in one unit of a timestamp or date type.
fn nanos_per_unit(t: &DataType, arg: usize) -> Result<i128> {
    Ok(match t {
        DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => 1_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
        DataType::Date32 => NANOS_PER_DAY,
        other => {
            return exec_err!(
                "days_between argument {} ({}) must be a timestamp or a date, got {other}",
                arg + 1,
                ARG_NAMES[arg]
            );
        }
    })
}

/// The `days_between` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DaysBetweenFunc {
    signature: Signature,
}

impl Default for DaysBetweenFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl DaysBetweenFunc {
    /// Creates the function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_FEATURES,
        "Whole days from ts1 to ts2 (Int64): the elapsed time divided by 24 hours, truncated \
         toward zero, so it is negative when ts2 is earlier. For calendar-day differences cast \
         both arguments to DATE first. NULL in either argument gives NULL.",
        "days_between(ts1, ts2)",
    )
    .with_argument(
        "ts1",
        "The start: any Timestamp (any unit or time zone), Date32 or Date64.",
    )
    .with_argument("ts2", "The end: same types as ts1; the two may differ.")
    .with_sql_example(
        "```sql\n\
         > SELECT days_between(DATE '2026-01-01', DATE '2026-01-08');  -- 7\n\
         > SELECT user_id, days_between(max(ts), TIMESTAMP '2026-01-15 00:00:00') AS recency_days\n\
         > FROM orders GROUP BY user_id;\n\
         ```",
    )
    .with_related_udf("date_diff")
    .build()
});

impl ScalarUDFImpl for DaysBetweenFunc {
    fn name(&self) -> &str {
        "days_between"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "days_between expects 2 arguments (ts1, ts2), got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => Ok(t.clone()),
                DataType::Null => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
                other => plan_err!(
                    "days_between argument {} ({}) must be a timestamp or a date, got {other}",
                    i + 1,
                    ARG_NAMES[i]
                ),
            })
            .collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let [a, b] = args.args.as_slice() else {
            return exec_err!(
                "days_between expects 2 arguments (ts1, ts2), got {}",
                args.args.len()
            );
        };
        let (a, b) = (a.to_array(rows)?, b.to_array(rows)?);
        let out = days_between_array(&a, &b)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// The raw values of a timestamp or date array as `i64` in their own unit.
fn raw(arr: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(arr, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

fn days_between_array(a: &ArrayRef, b: &ArrayRef) -> Result<ArrayRef> {
    let (ua, ub) = (
        nanos_per_unit(a.data_type(), 0)?,
        nanos_per_unit(b.data_type(), 1)?,
    );
    let (ra, rb) = (raw(a)?, raw(b)?);
    let mut out = Int64Builder::with_capacity(ra.len());
    for i in 0..ra.len() {
        if ra.is_null(i) || rb.is_null(i) {
            out.append_null();
        } else {
            out.append_value(days_between_kernel(
                ra.value(i) as i128 * ua,
                rb.value(i) as i128 * ub,
            ));
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i128 = 3_600 * 1_000_000_000;

    #[test]
    fn truncates_toward_zero_and_is_antisymmetric() {
        assert_eq!(days_between_kernel(0, 23 * HOUR), 0);
        assert_eq!(days_between_kernel(0, 24 * HOUR), 1);
        assert_eq!(days_between_kernel(0, 49 * HOUR), 2);
        assert_eq!(days_between_kernel(49 * HOUR, 0), -2);
        assert_eq!(days_between_kernel(0, -23 * HOUR), 0);
        for (a, b) in [(0, 100 * HOUR), (5, 7 * HOUR + 3), (-HOUR, 30 * HOUR)] {
            assert_eq!(days_between_kernel(a, b), -days_between_kernel(b, a));
        }
    }

    #[test]
    fn extreme_values_fit() {
        // The widest span: Timestamp(Second) from i64::MIN to i64::MAX.
        let lo = i64::MIN as i128 * 1_000_000_000;
        let hi = i64::MAX as i128 * 1_000_000_000;
        assert_eq!(
            days_between_kernel(lo, hi) as i128,
            ((1i128 << 64) - 1) / 86_400
        );
    }

    #[test]
    fn mixed_units() {
        let d: ArrayRef = Arc::new(datafusion::arrow::array::Date32Array::from(vec![
            Some(1),
            None,
        ]));
        let t: ArrayRef = Arc::new(datafusion::arrow::array::TimestampSecondArray::from(vec![
            Some(86_400 * 3),
            Some(0),
        ]));
        let out = days_between_array(&d, &t).unwrap();
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(out.iter().collect::<Vec<_>>(), vec![Some(2), None]);
    }
}
