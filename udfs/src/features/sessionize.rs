//! `sessionize(ts, gap) OVER (PARTITION BY user ORDER BY ts)`: a window function numbering the
//! sessions of each partition (1, 2, 3, …).
//!
//! A new session starts when the time since the previous non-NULL timestamp of the partition is
//! **strictly greater** than `gap`. The first non-NULL row of a partition is in session 1.
//!
//! Edge cases (all part of the contract, and tested in `tests/sql/features/sessionize.slt`):
//! - A NULL timestamp gives NULL and neither starts nor breaks a session.
//! - `ts` is any `Timestamp` (any unit, any time zone: the instant is compared, so the zone does
//!   not matter), `Date32` or `Date64`. Dates count in whole days.
//! - `gap` must be a constant: an `INTERVAL` (day/time parts only: a month has no fixed length,
//!   so an interval with months is an error), a `Duration`, or an integer number of **seconds**.
//!   A day counts as 86 400 seconds. A gap finer than the timestamp unit is rounded down to it
//!   (which is exact for the strict comparison: `diff > 1.5 s` ⇔ `diff > 1 s` for whole
//!   seconds). A NULL, negative or non-constant gap is an error naming argument 2.
//! - The `ORDER BY` of the window must be the timestamp, ascending. This is checked while
//!   computing: a timestamp smaller than the previous one of the partition is an execution
//!   error (rather than silently wrong session numbers). Ties are allowed (same session).
//!
//! The function runs in bounded memory (`BoundedWindowAggExec`, one running state per partition)
//! when the input is already sorted, and over whole partitions otherwise; both paths share
//! [`SessionState::step`].

use std::ops::Range;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Field, FieldRef, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{
    ExpressionArgs, PartitionEvaluatorArgs, WindowUDFFieldArgs,
};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDFImpl,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

use crate::doc::DOC_SECTION_FEATURES;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;

/// The running state of one partition: the last non-NULL timestamp and the current session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    last: Option<i64>,
    session: i64,
}

impl SessionState {
    /// Kernel step: the session number of the next non-NULL timestamp `ts` (in the same unit as
    /// `gap`). Returns `Err(previous)` when `ts` is smaller than the previous timestamp.
    #[inline]
    pub fn step(&mut self, ts: i64, gap: i64) -> std::result::Result<i64, i64> {
        match self.last {
            None => self.session = 1,
            Some(last) if ts < last => return Err(last),
            // ts >= last, so the difference fits in u64 even for extreme values.
            Some(last) if ts.abs_diff(last) > gap as u64 => self.session += 1,
            Some(_) => {}
        }
        self.last = Some(ts);
        Ok(self.session)
    }
}

/// Kernel: the session numbers of a run of timestamps (`ts` in the unit of `gap`, `validity`
/// marking the non-NULL ones), continuing from `state`. `gap` must be `>= 0`.
pub fn sessionize_kernel(
    ts: &[i64],
    validity: Option<&NullBuffer>,
    gap: i64,
    state: &mut SessionState,
) -> Result<Int64Array> {
    debug_assert!(gap >= 0);
    let mut out = Vec::with_capacity(ts.len());
    for (i, &t) in ts.iter().enumerate() {
        if validity.is_some_and(|v| v.is_null(i)) {
            out.push(0); // masked by the validity below
            continue;
        }
        match state.step(t, gap) {
            Ok(s) => out.push(s),
            Err(prev) => return out_of_order(t, prev),
        }
    }
    Ok(Int64Array::new(out.into(), validity.cloned()))
}

fn out_of_order<T>(ts: i64, prev: i64) -> Result<T> {
    exec_err!(
        "sessionize argument 1 (ts) must be ascending within the partition (use ORDER BY the \
         timestamp): {ts} came after {prev} (raw values in the timestamp's unit)"
    )
}

/// Nanoseconds in one unit of the (coerced) timestamp type.
fn nanos_per_unit(t: &DataType) -> Result<i128> {
    Ok(match t {
        DataType::Timestamp(TimeUnit::Second, _) => NANOS_PER_SECOND,
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Date64 => 1_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 1,
        DataType::Date32 => NANOS_PER_DAY,
        other => {
            return exec_err!(
                "sessionize argument 1 (ts) must be a timestamp or a date, got {other}"
            );
        }
    })
}

/// The gap in nanoseconds, validated (constant, not NULL, no months, not negative).
pub fn gap_nanos(gap: &ScalarValue) -> Result<i128> {
    let nanos = match gap {
        ScalarValue::IntervalMonthDayNano(Some(v)) => {
            if v.months != 0 {
                return months_err();
            }
            v.days as i128 * NANOS_PER_DAY + v.nanoseconds as i128
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            v.days as i128 * NANOS_PER_DAY + v.milliseconds as i128 * 1_000_000
        }
        ScalarValue::IntervalYearMonth(Some(_)) => return months_err(),
        ScalarValue::DurationSecond(Some(v)) => *v as i128 * NANOS_PER_SECOND,
        ScalarValue::DurationMillisecond(Some(v)) => *v as i128 * 1_000_000,
        ScalarValue::DurationMicrosecond(Some(v)) => *v as i128 * 1_000,
        ScalarValue::DurationNanosecond(Some(v)) => *v as i128,
        ScalarValue::Int64(Some(v)) => *v as i128 * NANOS_PER_SECOND,
        v if v.is_null() => return exec_err!("sessionize argument 2 (gap) must not be NULL"),
        other => {
            return exec_err!(
                "sessionize argument 2 (gap) must be an interval, a duration or an integer \
                 number of seconds, got {}",
                other.data_type()
            );
        }
    };
    if nanos < 0 {
        return exec_err!("sessionize argument 2 (gap) must not be negative, got {gap}");
    }
    Ok(nanos)
}

fn months_err<T>() -> Result<T> {
    exec_err!(
        "sessionize argument 2 (gap) must not contain months or years (they have no fixed \
         length); use days, e.g. INTERVAL '30 days'"
    )
}

/// The `sessionize` SQL window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionizeFunc {
    signature: Signature,
}

impl Default for SessionizeFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionizeFunc {
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
        "Numbers the sessions of each partition (1, 2, 3, …): a new session starts when the \
         time since the previous non-NULL timestamp is strictly greater than `gap`. A NULL \
         timestamp gives NULL and does not break a session. The window's ORDER BY must be the \
         timestamp, ascending: a timestamp smaller than the previous one is an error. The frame \
         clause is ignored.",
        "sessionize(ts, gap) OVER (PARTITION BY key ORDER BY ts)",
    )
    .with_argument(
        "ts",
        "The event time: any Timestamp (any unit or time zone), Date32 or Date64 (whole days).",
    )
    .with_argument(
        "gap",
        "Constant inactivity limit: an INTERVAL without months or years (a day is 86400 s), a \
         Duration, or an integer number of seconds. Must not be NULL or negative.",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, ts,\n\
         >        sessionize(ts, INTERVAL '30 minutes') OVER (PARTITION BY user_id ORDER BY ts) AS session\n\
         > FROM events;\n\
         > -- the same with the gap in seconds\n\
         > SELECT sessionize(ts, 1800) OVER (PARTITION BY user_id ORDER BY ts) FROM events;\n\
         ```",
    )
    .with_related_udf("lag")
    .build()
});

impl WindowUDFImpl for SessionizeFunc {
    fn name(&self) -> &str {
        "sessionize"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "sessionize expects 2 arguments (ts, gap), got {}",
                arg_types.len()
            );
        }
        let ts = match &arg_types[0] {
            t @ (DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64) => t.clone(),
            DataType::Null => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => {
                return plan_err!(
                    "sessionize argument 1 (ts) must be a timestamp or a date, got {other}"
                );
            }
        };
        let gap = match &arg_types[1] {
            t @ (DataType::Interval(_) | DataType::Duration(_)) => t.clone(),
            t if t.is_integer() => DataType::Int64,
            DataType::Null => DataType::Int64,
            other => {
                return plan_err!(
                    "sessionize argument 2 (gap) must be an interval, a duration or an integer \
                     number of seconds, got {other}"
                );
            }
        };
        Ok(vec![ts, gap])
    }

    /// Only the timestamp is evaluated per batch; the gap is read once from its literal.
    fn expressions(&self, expr_args: ExpressionArgs) -> Vec<Arc<dyn PhysicalExpr>> {
        expr_args.input_exprs().iter().take(1).cloned().collect()
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let (Some(ts_field), Some(gap_expr)) =
            (args.input_fields().first(), args.input_exprs().get(1))
        else {
            return plan_err!(
                "sessionize expects 2 arguments (ts, gap), got {}",
                args.input_exprs().len()
            );
        };
        let Some(gap) = gap_expr.downcast_ref::<Literal>() else {
            return plan_err!(
                "sessionize argument 2 (gap) must be a constant (a literal such as INTERVAL '30 \
                 minutes' or 1800), got {gap_expr}"
            );
        };
        let unit = nanos_per_unit(ts_field.data_type())?;
        let gap = i64::try_from(gap_nanos(gap.value())? / unit).unwrap_or(i64::MAX);
        Ok(Box::new(SessionizeEvaluator {
            gap,
            state: SessionState::default(),
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Int64,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// One partition's evaluator: the gap in the timestamp's unit and the running state.
#[derive(Debug)]
struct SessionizeEvaluator {
    gap: i64,
    state: SessionState,
}

/// The timestamps as raw `i64` in their own unit (Date32 widened to days as `i64`).
fn raw_i64(values: &[ArrayRef]) -> Result<Int64Array> {
    let Some(ts) = values.first() else {
        return exec_err!("sessionize expects 2 arguments (ts, gap), got 0");
    };
    Ok(cast(ts, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

/// One timestamp as a raw `i64` in its own unit, read from the typed array.
fn raw_value(ts: &ArrayRef, idx: usize) -> Result<i64> {
    Ok(match ts.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            ts.as_primitive::<TimestampSecondType>().value(idx)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            ts.as_primitive::<TimestampMillisecondType>().value(idx)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            ts.as_primitive::<TimestampMicrosecondType>().value(idx)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            ts.as_primitive::<TimestampNanosecondType>().value(idx)
        }
        DataType::Date32 => ts.as_primitive::<Date32Type>().value(idx) as i64,
        DataType::Date64 => ts.as_primitive::<Date64Type>().value(idx),
        other => {
            return exec_err!(
                "sessionize argument 1 (ts) must be a timestamp or a date, got {other}"
            );
        }
    })
}

impl PartitionEvaluator for SessionizeEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let ts = raw_i64(values)?;
        let mut state = SessionState::default();
        let out = sessionize_kernel(ts.values(), ts.nulls(), self.gap, &mut state)?;
        Ok(Arc::new(out))
    }

    /// Bounded execution: called once per row, in order, with the state kept between batches.
    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        let Some(ts) = values.first() else {
            return exec_err!("sessionize expects 2 arguments (ts, gap), got 0");
        };
        let idx = range.end - 1;
        if ts.is_null(idx) {
            return Ok(ScalarValue::Int64(None));
        }
        let t = raw_value(ts, idx)?;
        match self.state.step(t, self.gap) {
            Ok(s) => Ok(ScalarValue::Int64(Some(s))),
            Err(prev) => out_of_order(t, prev),
        }
    }

    fn supports_bounded_execution(&self) -> bool {
        true
    }

    /// The session of a row depends only on the rows before it.
    fn is_causal(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::IntervalMonthDayNano;

    fn run(ts: &[Option<i64>], gap: i64) -> Result<Vec<Option<i64>>> {
        let arr = Int64Array::from(ts.to_vec());
        let mut state = SessionState::default();
        let out = sessionize_kernel(arr.values(), arr.nulls(), gap, &mut state)?;
        Ok(out.iter().collect())
    }

    #[test]
    fn new_session_only_when_gap_strictly_exceeded() {
        let out = run(
            &[Some(0), Some(10), Some(20), Some(31), Some(31), Some(100)],
            10,
        )
        .unwrap();
        assert_eq!(
            out,
            vec![Some(1), Some(1), Some(1), Some(2), Some(2), Some(3)]
        );
    }

    #[test]
    fn nulls_give_null_and_do_not_break_sessions() {
        let out = run(&[None, Some(0), None, Some(5), None, Some(50)], 10).unwrap();
        assert_eq!(out, vec![None, Some(1), None, Some(1), None, Some(2)]);
        assert_eq!(run(&[None, None], 10).unwrap(), vec![None, None]);
        assert_eq!(run(&[], 10).unwrap(), vec![]);
    }

    #[test]
    fn zero_gap_splits_every_distinct_timestamp() {
        let out = run(&[Some(1), Some(1), Some(2), Some(3)], 0).unwrap();
        assert_eq!(out, vec![Some(1), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn state_carries_across_batches() {
        let mut state = SessionState::default();
        let a = sessionize_kernel(&[0, 5], None, 10, &mut state).unwrap();
        let b = sessionize_kernel(&[12, 40], None, 10, &mut state).unwrap();
        assert_eq!(a.values().as_ref(), &[1, 1]);
        assert_eq!(b.values().as_ref(), &[1, 2]);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let out = run(&[Some(i64::MIN), Some(i64::MAX)], i64::MAX).unwrap();
        assert_eq!(out, vec![Some(1), Some(2)]);
    }

    #[test]
    fn descending_timestamps_are_an_error() {
        let err = run(&[Some(10), Some(5)], 10).unwrap_err().to_string();
        assert!(
            err.contains("sessionize argument 1 (ts) must be ascending"),
            "{err}"
        );
    }

    /// The whole-partition path and the row-by-row (bounded) path give the same numbers.
    #[test]
    fn evaluate_all_equals_row_by_row() {
        use datafusion::arrow::array::TimestampSecondArray;
        let ts: ArrayRef = Arc::new(TimestampSecondArray::from(vec![
            None,
            Some(0),
            Some(60),
            None,
            Some(200),
            Some(200),
            Some(261),
        ]));
        let values = [Arc::clone(&ts)];
        let mut all = SessionizeEvaluator {
            gap: 60,
            state: SessionState::default(),
        };
        let whole = all.evaluate_all(&values, ts.len()).unwrap();
        let whole = whole.as_primitive::<Int64Type>();
        let mut rows = SessionizeEvaluator {
            gap: 60,
            state: SessionState::default(),
        };
        let one_by_one: Vec<Option<i64>> = (0..ts.len())
            .map(|i| match rows.evaluate(&values, &(i..i + 1)).unwrap() {
                ScalarValue::Int64(v) => v,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(whole.iter().collect::<Vec<_>>(), one_by_one);
        assert_eq!(
            one_by_one,
            vec![None, Some(1), Some(1), None, Some(2), Some(2), Some(3)]
        );
    }

    #[test]
    fn gap_conversion() {
        let mdn =
            |m, d, n| ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(m, d, n)));
        assert_eq!(gap_nanos(&mdn(0, 1, 5)).unwrap(), NANOS_PER_DAY + 5);
        assert_eq!(
            gap_nanos(&ScalarValue::Int64(Some(1800))).unwrap(),
            1800 * NANOS_PER_SECOND
        );
        assert_eq!(
            gap_nanos(&ScalarValue::DurationMillisecond(Some(3))).unwrap(),
            3_000_000
        );
        for bad in [
            mdn(1, 0, 0),
            mdn(0, 0, -1),
            ScalarValue::Int64(None),
            ScalarValue::IntervalYearMonth(Some(12)),
        ] {
            let err = gap_nanos(&bad).unwrap_err().to_string();
            assert!(err.contains("sessionize argument 2 (gap)"), "{err}");
        }
    }
}
