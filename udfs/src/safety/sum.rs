//! `sum` that fails on integer overflow instead of wrapping around.
//!
//! DataFusion's `sum` adds `Int64` / `UInt64` values with wrapping arithmetic, so
//! `sum(user_id * 9223372036854775807)` — or any sum of large amounts — silently returns a wrong
//! number. DuckDB and PostgreSQL raise an error instead (PostgreSQL sums `bigint` as `numeric`,
//! DuckDB as `HUGEINT`); we keep DataFusion's result types and raise
//! `integer overflow in sum of Int64` when a running sum leaves the type's range.
//!
//! [`CheckedSum`] is registered under DataFusion's name `sum`, so every query gets it. It
//! delegates everything (signature, coercion, result type, statistics, simplification) to
//! DataFusion's `Sum` and replaces only the accumulators of integer sums: a plain
//! [`Accumulator`], a [`GroupsAccumulator`] for `GROUP BY` (typed arrays, one
//! `overflowing_add` per row, the overflow flags OR-ed and checked once per batch, so the hot
//! loop has no branch) and a sliding accumulator for window frames (an `i128` running sum,
//! checked when the frame's value is read). `sum(DISTINCT …)` of integers keeps DataFusion's
//! distinct accumulator (its set of values, state and merge) and adds the values with checks
//! when the result is read ([`CheckedDistinctSum`]). Floats, decimals, durations and intervals
//! go to DataFusion's accumulators unchanged.
//!
//! A running sum that overflows is an error even if later rows would bring it back into range
//! (PostgreSQL does the same for `int` columns it sums as `bigint`).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::aggregate::sum_checked;
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator};

/// `sum` with overflow-checked integer accumulation; see the module docs.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct CheckedSum {
    inner: Sum,
}

impl CheckedSum {
    /// The checked `sum`.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The integer result types summed here, and how they add.
trait SumInt: ArrowPrimitiveType + std::fmt::Debug + Send + Sync {
    fn overflowing_add(a: Self::Native, b: Self::Native) -> (Self::Native, bool);
    fn to_i128(v: Self::Native) -> i128;
    fn from_i128(v: i128) -> Option<Self::Native>;
    fn scalar(v: Option<Self::Native>) -> ScalarValue;
}

impl SumInt for Int64Type {
    fn overflowing_add(a: i64, b: i64) -> (i64, bool) {
        a.overflowing_add(b)
    }
    fn to_i128(v: i64) -> i128 {
        v.into()
    }
    fn from_i128(v: i128) -> Option<i64> {
        i64::try_from(v).ok()
    }
    fn scalar(v: Option<i64>) -> ScalarValue {
        ScalarValue::Int64(v)
    }
}

impl SumInt for UInt64Type {
    fn overflowing_add(a: u64, b: u64) -> (u64, bool) {
        a.overflowing_add(b)
    }
    fn to_i128(v: u64) -> i128 {
        v.into()
    }
    fn from_i128(v: i128) -> Option<u64> {
        u64::try_from(v).ok()
    }
    fn scalar(v: Option<u64>) -> ScalarValue {
        ScalarValue::UInt64(v)
    }
}

fn overflow<T>(data_type: &DataType) -> Result<T> {
    exec_err!("integer overflow in sum of {data_type}")
}

/// `sum(DISTINCT …)` of integers: DataFusion's distinct accumulator, whose result is computed
/// here from its set of values with overflow checks.
#[derive(Debug)]
struct CheckedDistinctSum {
    inner: Box<dyn Accumulator>,
    data_type: DataType,
}

impl Accumulator for CheckedDistinctSum {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn size(&self) -> usize {
        self.inner.size() + std::mem::size_of::<Self>()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // The state is one list: the distinct values (the state does not consume them).
        let state = self.inner.state()?;
        let Some(ScalarValue::List(list)) = state.first() else {
            return exec_err!("sum(DISTINCT): unexpected state {state:?}");
        };
        if list.is_empty() || list.value(0).is_empty() {
            return ScalarValue::try_from(&self.data_type);
        }
        let values = list.value(0);
        let sum = match self.data_type {
            DataType::Int64 => {
                sum_checked(values.as_primitive::<Int64Type>()).map(ScalarValue::Int64)
            }
            _ => sum_checked(values.as_primitive::<UInt64Type>()).map(ScalarValue::UInt64),
        };
        sum.or_else(|_| overflow(&self.data_type))
    }
}

/// Which checked accumulator a sum with this result type gets (`None`: DataFusion's).
fn checked_type(args: &AccumulatorArgs) -> Option<DataType> {
    if args.is_distinct {
        return None;
    }
    match args.return_field.data_type() {
        t @ (DataType::Int64 | DataType::UInt64) => Some(t.clone()),
        _ => None,
    }
}

#[warn(clippy::missing_trait_methods)] // delegates, so it implements every trait method
impl AggregateUDFImpl for CheckedSum {
    crate::delegate::delegate_aggregate_udf!();

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct
            && matches!(
                args.return_field.data_type(),
                DataType::Int64 | DataType::UInt64
            )
        {
            return Ok(Box::new(CheckedDistinctSum {
                inner: self.inner.accumulator(args.clone())?,
                data_type: args.return_field.data_type().clone(),
            }));
        }
        match checked_type(&args) {
            Some(DataType::Int64) => Ok(Box::new(SumAccumulator::<Int64Type>::default())),
            Some(DataType::UInt64) => Ok(Box::new(SumAccumulator::<UInt64Type>::default())),
            _ => self.inner.accumulator(args),
        }
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        match checked_type(&args) {
            Some(DataType::Int64) => Ok(Box::new(SumGroups::<Int64Type>::default())),
            Some(DataType::UInt64) => Ok(Box::new(SumGroups::<UInt64Type>::default())),
            _ => self.inner.create_groups_accumulator(args),
        }
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        match checked_type(&args) {
            Some(DataType::Int64) => Ok(Box::new(SumAccumulator::<Int64Type>::default())),
            Some(DataType::UInt64) => Ok(Box::new(SumAccumulator::<UInt64Type>::default())),
            _ => self.inner.create_sliding_accumulator(args),
        }
    }
}

/// One sum (no GROUP BY, or a window frame): an `i128` running sum, which cannot overflow for
/// fewer than 2^63 rows, checked against the result type whenever it is read. Retracting
/// (sliding frames) is exact for the same reason.
#[derive(Debug)]
struct SumAccumulator<T: SumInt> {
    sum: i128,
    /// Non-null values in the sum: no values give NULL.
    count: u64,
    _type: std::marker::PhantomData<T>,
}

impl<T: SumInt> Default for SumAccumulator<T> {
    fn default() -> Self {
        Self {
            sum: 0,
            count: 0,
            _type: std::marker::PhantomData,
        }
    }
}

impl<T: SumInt> SumAccumulator<T> {
    /// The sum of one batch's non-null values, and how many there were.
    fn batch_sum(values: &ArrayRef) -> Result<(i128, u64)> {
        let values = values.as_primitive::<T>();
        let count = (values.len() - values.null_count()) as u64;
        // Arrow's checked kernel first (vectorised); on overflow, the exact sum in i128.
        let sum = match sum_checked(values) {
            Ok(s) => s.map_or(0, T::to_i128),
            Err(_) => values.iter().flatten().map(T::to_i128).sum(),
        };
        Ok((sum, count))
    }

    fn value(&self) -> Result<ScalarValue> {
        if self.count == 0 {
            return Ok(T::scalar(None));
        }
        match T::from_i128(self.sum) {
            Some(v) => Ok(T::scalar(Some(v))),
            None => overflow(&T::DATA_TYPE),
        }
    }
}

impl<T: SumInt> Accumulator for SumAccumulator<T> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (sum, count) = Self::batch_sum(&values[0])?;
        self.sum += sum;
        self.count += count;
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (sum, count) = Self::batch_sum(&values[0])?;
        self.sum -= sum;
        self.count -= count;
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.value()
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

/// Per-group sums for `GROUP BY`: typed vectors indexed by group, no `ScalarValue` per row.
#[derive(Debug)]
struct SumGroups<T: SumInt> {
    sums: Vec<T::Native>,
    /// Whether the group has seen a non-null value (else its sum is NULL).
    seen: Vec<bool>,
}

impl<T: SumInt> Default for SumGroups<T> {
    fn default() -> Self {
        Self {
            sums: Vec::new(),
            seen: Vec::new(),
        }
    }
}

impl<T: SumInt> SumGroups<T> {
    /// Adds `values[i]` to group `group_indices[i]` where the value is non-null and the filter
    /// passes. The overflow flags are OR-ed so the loop has no branch on them.
    fn add(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, T::Native::default());
        self.seen.resize(total_num_groups, false);
        let values = values.as_primitive::<T>();
        let raw = values.values();
        let mut overflowed = false;
        match (values.nulls(), opt_filter) {
            (None, None) => {
                for (&g, &v) in group_indices.iter().zip(raw.iter()) {
                    let (s, o) = T::overflowing_add(self.sums[g], v);
                    self.sums[g] = s;
                    overflowed |= o;
                    self.seen[g] = true;
                }
            }
            (nulls, filter) => {
                for (i, (&g, &v)) in group_indices.iter().zip(raw.iter()).enumerate() {
                    let valid = nulls.is_none_or(|n| n.is_valid(i))
                        && filter.is_none_or(|f| f.is_valid(i) && f.value(i));
                    if valid {
                        let (s, o) = T::overflowing_add(self.sums[g], v);
                        self.sums[g] = s;
                        overflowed |= o;
                        self.seen[g] = true;
                    }
                }
            }
        }
        if overflowed {
            return overflow(&T::DATA_TYPE);
        }
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        let sums = emit_to.take_needed(&mut self.sums);
        let seen = emit_to.take_needed(&mut self.seen);
        Arc::new(PrimitiveArray::<T>::new(
            sums.into(),
            Some(NullBuffer::from(seen)),
        ))
    }
}

impl<T: SumInt> GroupsAccumulator for SumGroups<T> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.emit(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], group_indices, None, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row is its own partial sum; rows the filter drops become NULL.
        let values = values[0].as_primitive::<T>();
        let nulls = match opt_filter {
            None => values.nulls().cloned(),
            Some(f) => {
                let keep =
                    NullBuffer::from(f.iter().map(|b| b == Some(true)).collect::<Vec<bool>>());
                NullBuffer::union(values.nulls(), Some(&keep))
            }
        };
        Ok(vec![Arc::new(PrimitiveArray::<T>::new(
            values.values().clone(),
            nulls,
        ))])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<T::Native>() + self.seen.capacity()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, UInt64Array};

    use super::*;

    #[test]
    fn groups_sum_per_group_and_null_for_empty_groups() -> Result<()> {
        let mut acc = SumGroups::<Int64Type>::default();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(5), Some(7)]));
        acc.update_batch(&[values], &[0, 1, 0, 2], None, 4)?;
        let out = acc.evaluate(EmitTo::All)?;
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(6), None, Some(7), None]
        );
        Ok(())
    }

    #[test]
    fn groups_sum_overflow_is_an_error() {
        let mut acc = SumGroups::<Int64Type>::default();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
        let err = acc.update_batch(&[values], &[0, 0], None, 1).unwrap_err();
        assert!(
            err.to_string().contains("integer overflow in sum of Int64"),
            "{err}"
        );
        // The same rows in different groups do not overflow.
        let mut acc = SumGroups::<Int64Type>::default();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
        acc.update_batch(&[values], &[0, 1], None, 2).unwrap();
    }

    #[test]
    fn groups_filter_and_convert_to_state() -> Result<()> {
        let mut acc = SumGroups::<UInt64Type>::default();
        let values: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 3, 4]));
        let filter = BooleanArray::from(vec![Some(false), Some(true), None]);
        acc.update_batch(&[Arc::clone(&values)], &[0, 0, 0], Some(&filter), 1)?;
        let out = acc.evaluate(EmitTo::All)?;
        assert_eq!(out.as_primitive::<UInt64Type>().value(0), 3);
        let state = acc.convert_to_state(&[values], Some(&filter))?;
        let state = state[0].as_primitive::<UInt64Type>();
        assert_eq!(state.iter().collect::<Vec<_>>(), vec![None, Some(3), None]);
        Ok(())
    }

    #[test]
    fn single_sum_is_exact_until_read() -> Result<()> {
        let mut acc = SumAccumulator::<Int64Type>::default();
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(None));
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, i64::MAX]));
        acc.update_batch(&[Arc::clone(&big)])?;
        let err = acc.evaluate().unwrap_err();
        assert!(
            err.to_string().contains("integer overflow in sum of Int64"),
            "{err}"
        );
        // A sliding frame that drops one of them is back in range.
        acc.retract_batch(&[Arc::new(Int64Array::from(vec![i64::MAX]))])?;
        assert_eq!(acc.evaluate()?, ScalarValue::Int64(Some(i64::MAX)));
        Ok(())
    }
}
