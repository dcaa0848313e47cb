//! The DataFusion side shared by `funnel` and `funnel_steps`: argument checking, the
//! intermediate state (two lists per group: event times and condition masks), and the
//! `Accumulator` / `GroupsAccumulator` that collect `(ts, mask)` events per group and hand them
//! to [`funnel_kernel`](super::funnel_kernel) at evaluate time.
//!
//! Arguments: `(window, ts, cond1, …, condN [, mode …])`.
//! * `window`: a constant INTERVAL without months or years, or a constant integer number of
//!   seconds; not negative, not NULL. It is converted to `ts`'s unit (rounded down).
//! * `ts`: any `Timestamp` type; all arithmetic is in its own unit, so nothing is lost; rows with
//!   NULL `ts` are ignored.
//! * `cond_k`: booleans, NULL counts as false; 1 to 64 of them.
//! * `mode`: trailing constant strings, see [`MODE_NAMES`].
//!
//! To add an output kind, add a variant to [`FunnelOutput`] and a branch in `output_array`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, ListArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, TimeUnit, UInt64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, EmitTo, Expr, GroupsAccumulator};
use datafusion::physical_expr::expressions::Literal;

use super::funnel_kernel::{
    FunnelMode, FunnelSpec, MAX_STEPS, MODE_NAMES, canonicalize, funnel_chain, funnel_depth,
};

/// What the aggregate returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FunnelOutput {
    /// `funnel`: the deepest step, Int64.
    Depth,
    /// `funnel_steps`: the best chain's step times, List of this timestamp type.
    Steps(DataType),
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Number of conditions, from the (uncoerced or coerced) argument types; the planning-time
/// type and arity check of both functions.
fn count_conditions(name: &str, types: &[DataType]) -> Result<usize> {
    if types.len() < 3 {
        return plan_err!(
            "{name} expects at least 3 arguments (window, ts, cond1, …), got {}",
            types.len()
        );
    }
    match &types[0] {
        DataType::Interval(_) | DataType::Null => {}
        t if t.is_integer() => {}
        other => {
            return plan_err!(
                "{name} argument 1 (window) must be an INTERVAL or an integer number of seconds, got {other}"
            );
        }
    }
    if !matches!(types[1], DataType::Timestamp(_, _)) {
        return plan_err!(
            "{name} argument 2 (ts) must be a timestamp, got {}",
            types[1]
        );
    }
    let mut conds = 0;
    let mut modes = false;
    for (i, t) in types.iter().enumerate().skip(2) {
        let pos = i + 1;
        match t {
            DataType::Boolean | DataType::Null if !modes => conds += 1,
            t if is_string(t) && conds > 0 => modes = true,
            DataType::Boolean | DataType::Null => {
                return plan_err!(
                    "{name} argument {pos} is a condition after a mode: conditions come first"
                );
            }
            other if modes => {
                return plan_err!("{name} argument {pos} (mode) must be a string, got {other}");
            }
            other => {
                return plan_err!(
                    "{name} argument {pos} (cond{}) must be a boolean, got {other}",
                    conds + 1
                );
            }
        }
    }
    if conds > MAX_STEPS {
        return plan_err!("{name} supports at most {MAX_STEPS} conditions, got {conds}");
    }
    Ok(conds)
}

/// `coerce_types` of both functions: integer windows to Int64, NULL conditions to Boolean.
pub fn coerce_funnel_types(name: &str, types: &[DataType]) -> Result<Vec<DataType>> {
    let conds = count_conditions(name, types)?;
    Ok(types
        .iter()
        .enumerate()
        .map(|(i, t)| match i {
            0 if t.is_integer() => DataType::Int64,
            i if (2..2 + conds).contains(&i) => DataType::Boolean,
            _ => t.clone(),
        })
        .collect())
}

/// The window as nanoseconds, from the constant argument.
fn window_nanos(name: &str, v: &ScalarValue) -> Result<i128> {
    const DAY: i128 = 86_400_000_000_000;
    let ns = match v {
        v if v.is_null() => return plan_err!("{name} argument 1 (window) must not be NULL"),
        ScalarValue::Int64(Some(s)) => *s as i128 * 1_000_000_000,
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            i.days as i128 * DAY + i.nanoseconds as i128
        }
        ScalarValue::IntervalDayTime(Some(i)) => {
            i.days as i128 * DAY + i.milliseconds as i128 * 1_000_000
        }
        ScalarValue::IntervalYearMonth(Some(0)) => 0,
        ScalarValue::IntervalMonthDayNano(_) | ScalarValue::IntervalYearMonth(_) => {
            return plan_err!(
                "{name} argument 1 (window) must not use months or years (their length varies), got {v}"
            );
        }
        other => {
            return plan_err!(
                "{name} argument 1 (window) must be an INTERVAL or an integer number of seconds, got {}",
                other.data_type()
            );
        }
    };
    if ns < 0 {
        return plan_err!("{name} argument 1 (window) must not be negative, got {v}");
    }
    Ok(ns)
}

fn add_mode(name: &str, pos: usize, v: &ScalarValue, mode: &mut FunnelMode) -> Result<()> {
    let s = match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s,
        _ => return plan_err!("{name} argument {pos} (mode) must be a constant string, got {v}"),
    };
    if !mode.set(s) {
        return plan_err!(
            "{name} argument {pos} (mode) must be one of {}, got '{s}'",
            MODE_NAMES.map(|m| format!("'{m}'")).join(", ")
        );
    }
    Ok(())
}

/// Checks the constant arguments (window and modes) of a logical call whose argument types
/// are `types`: called from `simplify`, so a bad constant is a planning error.
pub fn check_constant_args(name: &str, call: &AggregateFunction, types: &[DataType]) -> Result<()> {
    let steps = count_conditions(name, types)?;
    let args = &call.params.args;
    let literal = |i: usize, what: &str| match args.get(i) {
        Some(Expr::Literal(v, _)) => Ok(v.clone()),
        _ => plan_err!("{name} argument {} ({what}) must be a constant", i + 1),
    };
    window_nanos(name, &literal(0, "window")?)?;
    let mut mode = FunnelMode::default();
    for i in 2 + steps..args.len() {
        add_mode(name, i + 1, &literal(i, "mode")?, &mut mode)?;
    }
    Ok(())
}

/// The spec of a physical call: window converted to `ts`'s unit, number of conditions, modes.
pub fn spec_from_args(name: &str, args: &AccumulatorArgs) -> Result<FunnelSpec> {
    let types: Vec<DataType> = args
        .expr_fields
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let steps = count_conditions(name, &types)?;
    let literal = |i: usize, what: &str| match args.exprs[i].downcast_ref::<Literal>() {
        Some(l) => Ok(l.value().clone()),
        None => plan_err!("{name} argument {} ({what}) must be a constant", i + 1),
    };
    let ns = window_nanos(name, &literal(0, "window")?)?;
    let per_tick: i128 = match &types[1] {
        DataType::Timestamp(TimeUnit::Second, _) => 1_000_000_000,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 1_000_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 1_000,
        _ => 1,
    };
    let window = (ns / per_tick).min(i64::MAX as i128) as i64;
    let mut mode = FunnelMode::default();
    for i in 2 + steps..args.exprs.len() {
        add_mode(name, i + 1, &literal(i, "mode")?, &mut mode)?;
    }
    Ok(FunnelSpec {
        window,
        steps,
        mode,
    })
}

/// The output kind from the argument fields.
pub fn output_of(name: &str, funnel_steps: bool, args: &AccumulatorArgs) -> Result<FunnelOutput> {
    if !funnel_steps {
        return Ok(FunnelOutput::Depth);
    }
    match args.expr_fields.get(1).map(|f| f.data_type()) {
        Some(t @ DataType::Timestamp(_, _)) => Ok(FunnelOutput::Steps(t.clone())),
        other => plan_err!("{name} argument 2 (ts) must be a timestamp, got {other:?}"),
    }
}

/// The state: event times (in `ts` units) and condition masks, one list each per group.
pub fn funnel_state_fields(args: &StateFieldsArgs) -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new(
            format_state_name(args.name, "ts"),
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            true,
        )),
        Arc::new(Field::new(
            format_state_name(args.name, "masks"),
            DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true))),
            true,
        )),
    ]
}

/// Times and masks of a batch's rows (mask 0 for rows with no condition or a NULL `ts`).
fn row_events(values: &[ArrayRef], steps: usize) -> Result<(Int64Array, Vec<u64>)> {
    let ts = cast(&values[1], &DataType::Int64)?;
    let ts = ts.as_primitive::<Int64Type>().clone();
    let mut masks = vec![0u64; ts.len()];
    for (k, c) in values[2..2 + steps].iter().enumerate() {
        let c: &BooleanArray = c.as_boolean();
        let bits = match c.nulls() {
            Some(n) => c.values() & n.inner(),
            None => c.values().clone(),
        };
        for i in bits.set_indices() {
            masks[i] |= 1 << k;
        }
    }
    if let Some(n) = ts.nulls() {
        for (i, m) in masks.iter_mut().enumerate() {
            if n.is_null(i) {
                *m = 0;
            }
        }
    }
    Ok((ts, masks))
}

fn list_of<T: Array + 'static>(lengths: Vec<usize>, values: T, item: DataType) -> ArrayRef {
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(item, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None,
    ))
}

/// Canonical events of several groups as the two state lists.
fn state_arrays(groups: &mut [Vec<(i64, u64)>]) -> Vec<ArrayRef> {
    let mut lengths = Vec::with_capacity(groups.len());
    let mut ts = Vec::new();
    let mut masks = Vec::new();
    for g in groups.iter_mut() {
        canonicalize(g);
        lengths.push(g.len());
        ts.extend(g.iter().map(|e| e.0));
        masks.extend(g.iter().map(|e| e.1));
    }
    vec![
        list_of(lengths.clone(), Int64Array::from(ts), DataType::Int64),
        list_of(lengths, UInt64Array::from(masks), DataType::UInt64),
    ]
}

/// Appends the events of state row `row` to `out`.
fn merge_row(ts: &ListArray, masks: &ListArray, row: usize, out: &mut Vec<(i64, u64)>) {
    if ts.is_null(row) || masks.is_null(row) {
        return;
    }
    let t = ts.value(row);
    let m = masks.value(row);
    let t = t.as_primitive::<Int64Type>();
    let m = m.as_primitive::<UInt64Type>();
    out.extend(t.values().iter().copied().zip(m.values().iter().copied()));
}

/// The final values of several groups.
fn output_array(
    groups: &mut [Vec<(i64, u64)>],
    spec: &FunnelSpec,
    output: &FunnelOutput,
) -> Result<ArrayRef> {
    match output {
        FunnelOutput::Depth => Ok(Arc::new(Int64Array::from_iter_values(
            groups.iter_mut().map(|g| {
                canonicalize(g);
                funnel_depth(g, spec) as i64
            }),
        ))),
        FunnelOutput::Steps(ts_type) => {
            let mut lengths = Vec::with_capacity(groups.len());
            let mut times = Vec::new();
            for g in groups.iter_mut() {
                canonicalize(g);
                let chain = funnel_chain(g, spec);
                lengths.push(chain.len());
                times.extend(chain);
            }
            let times = cast(&Int64Array::from(times), ts_type)?;
            Ok(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(ts_type.clone(), true)),
                OffsetBuffer::from_lengths(lengths),
                times,
                None,
            )))
        }
    }
}

/// One group's funnel (used without GROUP BY and in window frames).
#[derive(Debug)]
pub struct FunnelAccumulator {
    spec: FunnelSpec,
    output: FunnelOutput,
    events: Vec<(i64, u64)>,
}

impl FunnelAccumulator {
    /// An empty accumulator.
    pub fn new(spec: FunnelSpec, output: FunnelOutput) -> Self {
        Self {
            spec,
            output,
            events: Vec::new(),
        }
    }
}

impl Accumulator for FunnelAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (ts, masks) = row_events(values, self.spec.steps)?;
        for (i, &m) in masks.iter().enumerate() {
            if m != 0 {
                self.events.push((ts.value(i), m));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let arr = output_array(
            std::slice::from_mut(&mut self.events),
            &self.spec,
            &self.output,
        )?;
        ScalarValue::try_from_array(&arr, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.events.capacity() * size_of::<(i64, u64)>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        state_arrays(std::slice::from_mut(&mut self.events))
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let ts = states[0].as_list::<i32>();
        let masks = states[1].as_list::<i32>();
        for row in 0..ts.len() {
            merge_row(ts, masks, row, &mut self.events);
        }
        Ok(())
    }
}

/// Many groups' funnels: one event list per group.
#[derive(Debug)]
pub struct FunnelGroupsAccumulator {
    spec: FunnelSpec,
    output: FunnelOutput,
    groups: Vec<Vec<(i64, u64)>>,
    /// Events held over all groups, for `size` in O(1). Counted by length, not by the vectors'
    /// capacity (up to twice as much): reporting capacity made each final partition ask its
    /// fair share of the pool for more than it holds at once, and the README funnel failed at
    /// 4 GiB over 57.6M events (issue 20's soak run); the process's heap bound
    /// (`ecomsql::memory`) covers the difference.
    held: usize,
}

impl FunnelGroupsAccumulator {
    /// An empty accumulator.
    pub fn new(spec: FunnelSpec, output: FunnelOutput) -> Self {
        Self {
            spec,
            output,
            groups: Vec::new(),
            held: 0,
        }
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Vec<(i64, u64)>> {
        let taken = emit_to.take_needed(&mut self.groups);
        let n: usize = taken.iter().map(Vec::len).sum();
        self.held = self.held.saturating_sub(n);
        taken
    }
}

impl GroupsAccumulator for FunnelGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Vec::new);
        let (ts, masks) = row_events(values, self.spec.steps)?;
        for (i, &g) in group_indices.iter().enumerate() {
            let m = masks[i];
            if m == 0 || opt_filter.is_some_and(|f| !(f.is_valid(i) && f.value(i))) {
                continue;
            }
            self.groups[g].push((ts.value(i), m));
            self.held += 1;
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut taken = self.take(emit_to);
        output_array(&mut taken, &self.spec, &self.output)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut taken = self.take(emit_to);
        Ok(state_arrays(&mut taken))
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Vec::new);
        let ts = values[0].as_list::<i32>();
        let masks = values[1].as_list::<i32>();
        for (row, &g) in group_indices.iter().enumerate() {
            let before = self.groups[g].len();
            merge_row(ts, masks, row, &mut self.groups[g]);
            self.held += self.groups[g].len() - before;
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let (ts, masks) = row_events(values, self.spec.steps)?;
        let mut lengths = Vec::with_capacity(masks.len());
        let mut out_ts = Vec::new();
        let mut out_masks = Vec::new();
        for (i, &m) in masks.iter().enumerate() {
            let keep = m != 0 && opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
            lengths.push(usize::from(keep));
            if keep {
                out_ts.push(ts.value(i));
                out_masks.push(m);
            }
        }
        Ok(vec![
            list_of(lengths.clone(), Int64Array::from(out_ts), DataType::Int64),
            list_of(lengths, UInt64Array::from(out_masks), DataType::UInt64),
        ])
    }

    fn size(&self) -> usize {
        size_of::<Self>()
            + self.groups.capacity() * size_of::<Vec<(i64, u64)>>()
            + self.held * size_of::<(i64, u64)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::funnel_kernel::tests::Rng;
    use datafusion::arrow::array::TimestampMicrosecondArray;

    const TS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

    /// A test row: group, ts, conditions.
    type Row = (usize, Option<i64>, Vec<Option<bool>>);

    /// One batch of input columns: (window, ts, cond1..condN).
    fn batch(rows: &[Row], steps: usize) -> Vec<ArrayRef> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![0; rows.len()])),
            Arc::new(TimestampMicrosecondArray::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
        ];
        for k in 0..steps {
            cols.push(Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.2[k]).collect::<Vec<_>>(),
            )));
        }
        cols
    }

    fn expected(rows: &[Row], groups: usize, spec: &FunnelSpec, output: &FunnelOutput) -> ArrayRef {
        let mut per: Vec<Vec<(i64, u64)>> = vec![Vec::new(); groups];
        for (g, t, conds) in rows {
            let mask = conds
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == Some(true))
                .fold(0u64, |m, (k, _)| m | (1 << k));
            if let (Some(t), true) = (t, mask != 0) {
                per[*g].push((*t, mask));
            }
        }
        output_array(&mut per, spec, output).unwrap()
    }

    /// Rows split into random partitions, each pre-aggregated (or converted row by row to
    /// state), then merged in a random order: always the same answer as the whole input.
    #[test]
    fn partitioned_groups_accumulator_agrees() {
        let mut rng = Rng(99);
        for case in 0..400 {
            let steps = 1 + rng.below(4) as usize;
            let groups = 1 + rng.below(3) as usize;
            let spec = FunnelSpec {
                window: rng.below(5) as i64,
                steps,
                mode: FunnelMode {
                    strict_order: rng.below(2) == 1,
                    strict_deduplication: rng.below(2) == 1,
                    strict_increase: rng.below(2) == 1,
                },
            };
            let rows: Vec<Row> = (0..rng.below(20))
                .map(|_| {
                    let t = (rng.below(8) != 0).then(|| rng.below(6) as i64);
                    let conds = (0..steps)
                        .map(|_| match rng.below(4) {
                            0 => None,
                            1 => Some(true),
                            _ => Some(false),
                        })
                        .collect();
                    (rng.below(groups as u64) as usize, t, conds)
                })
                .collect();
            for output in [FunnelOutput::Depth, FunnelOutput::Steps(TS)] {
                let want = expected(&rows, groups, &spec, &output);
                let parts = 1 + rng.below(3) as usize;
                let mut split: Vec<Vec<_>> = vec![Vec::new(); parts];
                for r in &rows {
                    split[rng.below(parts as u64) as usize].push(r.clone());
                }
                // Each partial state as (state columns, group of each state row).
                let mut states: Vec<(Vec<ArrayRef>, Vec<usize>)> = Vec::new();
                for part in &split {
                    let cols = batch(part, steps);
                    let gi: Vec<usize> = part.iter().map(|r| r.0).collect();
                    let mut acc = FunnelGroupsAccumulator::new(spec, output.clone());
                    if rng.below(2) == 0 {
                        acc.update_batch(&cols, &gi, None, groups).unwrap();
                        states.push((acc.state(EmitTo::All).unwrap(), (0..groups).collect()));
                    } else {
                        states.push((acc.convert_to_state(&cols, None).unwrap(), gi));
                    }
                }
                rng.shuffle(&mut states);
                let mut fin = FunnelGroupsAccumulator::new(spec, output.clone());
                for (cols, gi) in &states {
                    fin.merge_batch(cols, gi, groups).unwrap();
                }
                fin.merge_batch(&states_empty(), &[], groups).unwrap();
                let got = fin.evaluate(EmitTo::All).unwrap();
                assert_eq!(
                    &got, &want,
                    "case {case} {output:?} rows {rows:?} spec {spec:?}"
                );

                // The single-group Accumulator, fed the same partitions of group 0.
                let mut single = FunnelAccumulator::new(spec, output.clone());
                for part in &split {
                    let mine: Vec<_> = part.iter().filter(|r| r.0 == 0).cloned().collect();
                    let mut partial = FunnelAccumulator::new(spec, output.clone());
                    partial.update_batch(&batch(&mine, steps)).unwrap();
                    let st: Vec<ArrayRef> = partial
                        .state()
                        .unwrap()
                        .iter()
                        .map(|s| s.to_array().unwrap())
                        .collect();
                    single.merge_batch(&st).unwrap();
                }
                let got = single.evaluate().unwrap();
                assert_eq!(
                    got,
                    ScalarValue::try_from_array(&want, 0).unwrap(),
                    "case {case}"
                );
            }
        }
    }

    fn states_empty() -> Vec<ArrayRef> {
        state_arrays(&mut [])
    }

    #[test]
    fn filter_skips_rows() {
        let spec = FunnelSpec {
            window: 10,
            steps: 2,
            mode: FunnelMode::default(),
        };
        let rows = vec![
            (0, Some(1), vec![Some(true), None]),
            (0, Some(2), vec![None, Some(true)]),
        ];
        let cols = batch(&rows, 2);
        let filter = BooleanArray::from(vec![Some(true), None]);
        let mut acc = FunnelGroupsAccumulator::new(spec, FunnelOutput::Depth);
        acc.update_batch(&cols, &[0, 0], Some(&filter), 1).unwrap();
        let got = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(got.as_primitive::<Int64Type>().values(), &[1]);
        let st = acc.convert_to_state(&cols, Some(&filter)).unwrap();
        assert_eq!(st[0].as_list::<i32>().value_length(1), 0);
    }
}
