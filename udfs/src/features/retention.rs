//! `retention(cond1, …, condN)`: an aggregate returning `List<Boolean>` of length N, with
//! ClickHouse's semantics:
//!
//! - element 1: `cond1` held for some row of the group;
//! - element i (i > 1): `cond1` held for some row **and** `cond_i` held for some (possibly other)
//!   row of the group.
//!
//! Typical use: `retention(dt = day0, dt = day0 + 1, dt = day0 + 7)` per user, then `sum` the
//! elements over users for a retention curve.
//!
//! Edge cases (part of the contract; tested in `tests/sql/features/retention.slt`):
//! - 1 to 64 conditions (ClickHouse caps at 32); 0 or more than 64 is a planning error naming
//!   the count. Every argument must be boolean (a NULL literal is accepted); another type is a
//!   planning error naming the argument position.
//! - A NULL condition counts as false.
//! - A group whose rows all fail (or were all removed by `FILTER`), and the single row that an
//!   aggregate without `GROUP BY` returns over empty input, give a list of N `false` — never
//!   NULL — as ClickHouse does.
//!
//! State: one `u64` bitmask per group (bit i = `cond_{i+1}` held for some row); the intermediate
//! state is that mask as `UInt64`, merged with bitwise OR. The [`GroupsAccumulator`] keeps a
//! `Vec<u64>` and works on typed `BooleanArray`s.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, ListArray, UInt64Array,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator, Signature, Volatility,
};

use crate::doc::DOC_SECTION_FEATURES;

/// The most conditions one call accepts (one bit each in a `u64`).
pub const MAX_CONDITIONS: usize = 64;

/// Kernel: ORs into `mask` bit `i` for every argument `i` that is true on some row.
/// NULL counts as false.
pub fn retention_update_mask(mask: &mut u64, conds: &[&BooleanArray]) {
    for (i, c) in conds.iter().enumerate() {
        let bit = 1u64 << i;
        if *mask & bit == 0 && c.true_count() > 0 {
            // `true_count` counts only valid true values, so NULL is false.
            *mask |= bit;
        }
    }
}

/// Kernel: the retention list of one mask over `n` conditions.
pub fn retention_from_mask(mask: u64, n: usize) -> impl Iterator<Item = bool> {
    let first = mask & 1 != 0;
    (0..n).map(move |i| first && (mask >> i) & 1 != 0)
}

/// The `retention` SQL aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RetentionFunc {
    signature: Signature,
}

impl Default for RetentionFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RetentionFunc {
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
        "Retention flags of a group, as in ClickHouse: a list of N booleans where element 1 is \
         true when cond1 held for some row, and element i (i > 1) is true when cond1 held for \
         some row and cond_i held for some row. NULL conditions count as false. Over no rows \
         (or when no row matches) the result is N times false, never NULL.",
        "retention(cond1[, cond2, …, condN])",
    )
    .with_argument(
        "cond1",
        "Boolean: the entry condition (e.g. the first visit day). Every condition must be \
         boolean; 1 to 64 conditions.",
    )
    .with_argument(
        "cond2, …, condN",
        "Booleans: the return conditions (e.g. active on day 1, on day 7).",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT user_id,\n\
         >        retention(dt = DATE '2026-01-01', dt = DATE '2026-01-02', dt = DATE '2026-01-08') AS r\n\
         > FROM events GROUP BY user_id;\n\
         > -- a retention curve: how many users came back\n\
         > SELECT sum(CASE WHEN r[1] THEN 1 ELSE 0 END), sum(CASE WHEN r[2] THEN 1 ELSE 0 END)\n\
         > FROM (SELECT retention(dt = DATE '2026-01-01', dt = DATE '2026-01-02') AS r\n\
         >       FROM events GROUP BY user_id);\n\
         ```",
    )
    .with_related_udf("bool_or")
    .build()
});

fn item_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Boolean, false))
}

fn return_type() -> DataType {
    DataType::List(item_field())
}

/// Builds the `List<Boolean>` result of a run of masks.
fn lists_from_masks(masks: &[u64], n: usize) -> ArrayRef {
    let mut values = BooleanBuilder::with_capacity(masks.len() * n);
    for &m in masks {
        for b in retention_from_mask(m, n) {
            values.append_value(b);
        }
    }
    let offsets = OffsetBuffer::from_repeated_length(n, masks.len());
    Arc::new(ListArray::new(
        item_field(),
        offsets,
        Arc::new(values.finish()),
        None,
    ))
}

/// The rows that are true and not NULL.
fn true_bits(b: &BooleanArray) -> BooleanBuffer {
    match b.nulls() {
        Some(n) => b.values() & n.inner(),
        None => b.values().clone(),
    }
}

fn bool_args(values: &[ArrayRef]) -> Result<Vec<&BooleanArray>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| match v.as_boolean_opt() {
            Some(b) => Ok(b),
            None => exec_err!(
                "retention argument {} must be boolean, got {}",
                i + 1,
                v.data_type()
            ),
        })
        .collect()
}

impl AggregateUDFImpl for RetentionFunc {
    fn name(&self) -> &str {
        "retention"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > MAX_CONDITIONS {
            return plan_err!(
                "retention expects 1 to {MAX_CONDITIONS} conditions, got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                DataType::Boolean | DataType::Null => Ok(DataType::Boolean),
                other => plan_err!("retention argument {} must be boolean, got {other}", i + 1),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RetentionAccumulator {
            n: acc_args.exprs.len(),
            mask: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[mask]", args.name),
            DataType::UInt64,
            false,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(RetentionGroupsAccumulator {
            n: args.exprs.len(),
            masks: Vec::new(),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// The per-group accumulator (used without GROUP BY and as DataFusion's fallback).
#[derive(Debug)]
struct RetentionAccumulator {
    n: usize,
    mask: u64,
}

impl Accumulator for RetentionAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        retention_update_mask(&mut self.mask, &bool_args(values)?);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let list = lists_from_masks(&[self.mask], self.n);
        Ok(ScalarValue::List(Arc::new(list.as_list::<i32>().clone())))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::UInt64(Some(self.mask))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let masks = states[0].as_primitive::<UInt64Type>();
        for m in masks.iter().flatten() {
            self.mask |= m;
        }
        Ok(())
    }
}

/// The grouped accumulator: one `u64` mask per group.
#[derive(Debug)]
struct RetentionGroupsAccumulator {
    n: usize,
    masks: Vec<u64>,
}

impl GroupsAccumulator for RetentionGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.masks.resize(total_num_groups, 0);
        let conds = bool_args(values)?;
        for (i, c) in conds.iter().enumerate() {
            let bit = 1u64 << i;
            // Only rows that are true (valid and set) and pass the filter contribute.
            let set = match opt_filter {
                Some(f) => &true_bits(c) & &true_bits(f),
                None => true_bits(c),
            };
            for row in set.set_indices() {
                self.masks[group_indices[row]] |= bit;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let masks = emit_to.take_needed(&mut self.masks);
        Ok(lists_from_masks(&masks, self.n))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let masks = emit_to.take_needed(&mut self.masks);
        Ok(vec![Arc::new(UInt64Array::from(masks))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.masks.resize(total_num_groups, 0);
        let masks = values[0].as_primitive::<UInt64Type>();
        for (&g, &m) in group_indices.iter().zip(masks.values().iter()) {
            self.masks[g] |= m;
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let conds = bool_args(values)?;
        let rows = values.first().map_or(0, |v| v.len());
        let mut masks = vec![0u64; rows];
        let keep = opt_filter.map(true_bits);
        for (i, c) in conds.iter().enumerate() {
            let bit = 1u64 << i;
            let set = match &keep {
                Some(k) => &true_bits(c) & k,
                None => true_bits(c),
            };
            for row in set.set_indices() {
                masks[row] |= bit;
            }
        }
        Ok(vec![Arc::new(UInt64Array::from(masks))])
    }

    fn size(&self) -> usize {
        self.masks.capacity() * size_of::<u64>() + size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_of(rows: &[&[Option<bool>]]) -> u64 {
        // rows[i] = the values of condition i
        let arrays: Vec<BooleanArray> = rows
            .iter()
            .map(|r| BooleanArray::from(r.to_vec()))
            .collect();
        let refs: Vec<&BooleanArray> = arrays.iter().collect();
        let mut m = 0;
        retention_update_mask(&mut m, &refs);
        m
    }

    #[test]
    fn clickhouse_semantics() {
        // cond1 never true: everything false, even if cond2 held.
        let m = mask_of(&[&[Some(false), None], &[Some(true), Some(true)]]);
        assert_eq!(
            retention_from_mask(m, 2).collect::<Vec<_>>(),
            vec![false, false]
        );
        // cond1 true on one row, cond3 on another, cond2 never.
        let m = mask_of(&[
            &[Some(true), Some(false)],
            &[None, Some(false)],
            &[Some(false), Some(true)],
        ]);
        assert_eq!(
            retention_from_mask(m, 3).collect::<Vec<_>>(),
            vec![true, false, true]
        );
    }

    #[test]
    fn nulls_are_false_and_empty_is_all_false() {
        let m = mask_of(&[&[None, None], &[None, None]]);
        assert_eq!(m, 0);
        assert_eq!(
            retention_from_mask(0, 3).collect::<Vec<_>>(),
            vec![false; 3]
        );
    }

    #[test]
    fn sixty_four_conditions_fit() {
        let all = retention_from_mask(u64::MAX, 64).collect::<Vec<_>>();
        assert_eq!(all, vec![true; 64]);
        let last_only = retention_from_mask(1 | (1 << 63), 64).collect::<Vec<_>>();
        assert!(last_only[0] && last_only[63] && !last_only[1..63].iter().any(|&b| b));
    }

    #[test]
    fn groups_accumulator_matches_accumulator() {
        let c1: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(true),
            None,
            Some(false),
            Some(true),
        ]));
        let c2: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(false),
            Some(true),
            Some(true),
            None,
        ]));
        let groups = [0usize, 1, 1, 0];
        let mut g = RetentionGroupsAccumulator {
            n: 2,
            masks: vec![],
        };
        g.update_batch(&[Arc::clone(&c1), Arc::clone(&c2)], &groups, None, 2)
            .unwrap();
        assert_eq!(g.masks, vec![0b01, 0b10]);
        // Filter out row 0: group 0 keeps row 3 (cond1 true).
        let filter = BooleanArray::from(vec![false, true, true, true]);
        let mut f = RetentionGroupsAccumulator {
            n: 2,
            masks: vec![],
        };
        f.update_batch(
            &[Arc::clone(&c1), Arc::clone(&c2)],
            &groups,
            Some(&filter),
            2,
        )
        .unwrap();
        assert_eq!(f.masks, vec![0b01, 0b10]);
        // convert_to_state then merge gives the same masks.
        let state = g.convert_to_state(&[c1, c2], None).unwrap();
        let mut m = RetentionGroupsAccumulator {
            n: 2,
            masks: vec![],
        };
        m.merge_batch(&state, &groups, 2).unwrap();
        assert_eq!(m.masks, g.masks);
        let out = m.evaluate(EmitTo::All).unwrap();
        let list = out.as_list::<i32>();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list.value(0).as_boolean(),
            &BooleanArray::from(vec![true, false])
        );
        assert_eq!(
            list.value(1).as_boolean(),
            &BooleanArray::from(vec![false, false])
        );
    }
}
