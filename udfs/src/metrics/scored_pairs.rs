//! The accumulator shared by the metric aggregates (`roc_auc`, `pr_auc`, `log_loss`,
//! `lift_at`): it keeps every (label, score) pair of its group, because the exact ranking
//! metrics need all of them, and hands them to a kernel from [`super::binary`] at the end.
//! Rows where the label or the score is NULL are skipped; NaN scores are skipped too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::Accumulator;

/// Final computation over the collected pairs.
pub type Finish = fn(&[bool], &[f64], f64) -> Option<f64>;

/// `coerce_types` for `f(label, score [, fraction])`: label boolean or integer 0/1, score
/// numeric.
pub fn coerce(name: &str, arg_types: &[DataType], with_fraction: bool) -> Result<Vec<DataType>> {
    let want = if with_fraction { 3 } else { 2 };
    if arg_types.len() != want {
        return plan_err!(
            "{name} expects {want} arguments ({}), got {}",
            if with_fraction {
                "label, score, fraction"
            } else {
                "label, score"
            },
            arg_types.len()
        );
    }
    let label = &arg_types[0];
    if !(matches!(label, DataType::Boolean | DataType::Null) || label.is_integer()) {
        return plan_err!(
            "{name} argument 1 (label) must be boolean or an integer 0/1, got {label}"
        );
    }
    for (i, what) in [(1, "score"), (2, "fraction")].into_iter().take(want - 1) {
        let t = &arg_types[i];
        if !(t.is_numeric() || *t == DataType::Null) {
            return plan_err!(
                "{name} argument {} ({what}) must be numeric, got {t}",
                i + 1
            );
        }
    }
    // Integer labels stay integers so that a value other than 0/1 is reported, not cast.
    let label = if label.is_integer() {
        DataType::Int64
    } else {
        DataType::Boolean
    };
    let mut out = vec![label, DataType::Float64];
    if with_fraction {
        out.push(DataType::Float64);
    }
    Ok(out)
}

/// The state fields: the collected labels and scores as lists (and the fraction).
pub fn state_fields(name: &str, with_fraction: bool) -> Vec<FieldRef> {
    let mut v: Vec<FieldRef> = vec![
        Arc::new(Field::new(
            format!("{name}[labels]"),
            DataType::List(Arc::new(Field::new("item", DataType::Boolean, true))),
            true,
        )),
        Arc::new(Field::new(
            format!("{name}[scores]"),
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            true,
        )),
    ];
    if with_fraction {
        v.push(Arc::new(Field::new(
            format!("{name}[fraction]"),
            DataType::Float64,
            true,
        )));
    }
    v
}

/// Collects pairs, then applies `finish`.
#[derive(Debug)]
pub struct PairsAccumulator {
    name: &'static str,
    labels: Vec<bool>,
    scores: Vec<f64>,
    fraction: Option<f64>,
    with_fraction: bool,
    finish: Finish,
}

impl PairsAccumulator {
    /// A new, empty accumulator.
    pub fn new(name: &'static str, with_fraction: bool, finish: Finish) -> Self {
        Self {
            name,
            labels: Vec::new(),
            scores: Vec::new(),
            fraction: None,
            with_fraction,
            finish,
        }
    }

    fn labels_of(&self, array: &ArrayRef) -> Result<BooleanArray> {
        let a = match array.data_type() {
            DataType::Boolean => array.as_boolean().clone(),
            t if t.is_integer() => {
                let ints = cast(array, &DataType::Int64)?;
                let ints = ints.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                if let Some(bad) = ints.iter().flatten().find(|v| *v != 0 && *v != 1) {
                    return exec_err!("{} argument 1 (label) must be 0 or 1, got {bad}", self.name);
                }
                ints.iter().map(|v| v.map(|v| v == 1)).collect()
            }
            _ => cast(array, &DataType::Boolean)?.as_boolean().clone(),
        };
        Ok(a)
    }
}

impl Accumulator for PairsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let labels = self.labels_of(&values[0])?;
        let scores = cast(&values[1], &DataType::Float64)?;
        let scores = scores.as_primitive::<Float64Type>();
        if let Some(f) = values.get(2) {
            let f = cast(f, &DataType::Float64)?;
            let f = f.as_primitive::<Float64Type>();
            if let Some(v) = f.iter().flatten().next() {
                if !(v > 0.0 && v <= 1.0) {
                    return exec_err!(
                        "{} argument 3 (fraction) must be in (0, 1], got {v}",
                        self.name
                    );
                }
                self.fraction = Some(v);
            }
        }
        for i in 0..labels.len() {
            if labels.is_valid(i) && scores.is_valid(i) && !scores.value(i).is_nan() {
                self.labels.push(labels.value(i));
                self.scores.push(scores.value(i));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let labels = states[0].as_list::<i32>();
        let scores = states[1].as_list::<i32>();
        for i in 0..labels.len() {
            if labels.is_null(i) {
                continue;
            }
            let l = labels.value(i);
            let s = scores.value(i);
            self.labels
                .extend(l.as_boolean().iter().map(|v| v.unwrap_or(false)));
            self.scores
                .extend(s.as_primitive::<Float64Type>().values().iter().copied());
        }
        if let Some(f) = states.get(2) {
            let f = f.as_primitive::<Float64Type>();
            if let Some(v) = f.iter().flatten().next() {
                self.fraction = Some(v);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let offsets = OffsetBuffer::from_lengths([self.labels.len()]);
        let labels = ListArray::new(
            Arc::new(Field::new("item", DataType::Boolean, true)),
            offsets.clone(),
            Arc::new(BooleanArray::from(self.labels.clone())),
            None,
        );
        let scores = ListArray::new(
            Arc::new(Field::new("item", DataType::Float64, true)),
            offsets,
            Arc::new(Float64Array::from(self.scores.clone())),
            None,
        );
        let mut out = vec![
            ScalarValue::List(Arc::new(labels)),
            ScalarValue::List(Arc::new(scores)),
        ];
        if self.with_fraction {
            out.push(ScalarValue::Float64(self.fraction));
        }
        Ok(out)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fraction = self.fraction.unwrap_or(f64::NAN);
        Ok(ScalarValue::Float64((self.finish)(
            &self.labels,
            &self.scores,
            fraction,
        )))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.labels.capacity() + self.scores.capacity() * 8
    }
}

/// One metric aggregate: its SQL name, documentation, kernel and whether it takes a fraction.
#[derive(Debug)]
pub struct MetricSpec {
    /// SQL name.
    pub name: &'static str,
    /// Documentation.
    pub documentation: &'static std::sync::LazyLock<datafusion::logical_expr::Documentation>,
    /// The kernel applied to the collected pairs.
    pub finish: Finish,
    /// `f(label, score, fraction)` rather than `f(label, score)`.
    pub with_fraction: bool,
}

/// A metric aggregate described by a [`MetricSpec`] (each metric's file defines its spec).
#[derive(Debug)]
pub struct MetricAggregate {
    spec: &'static MetricSpec,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for MetricAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}

impl Eq for MetricAggregate {}

impl std::hash::Hash for MetricAggregate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
    }
}

impl MetricAggregate {
    /// The aggregate for `spec`.
    pub fn new(spec: &'static MetricSpec) -> Self {
        Self {
            spec,
            signature: datafusion::logical_expr::Signature::user_defined(
                datafusion::logical_expr::Volatility::Immutable,
            ),
        }
    }
}

impl datafusion::logical_expr::AggregateUDFImpl for MetricAggregate {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.spec.name, arg_types, self.spec.with_fraction)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(
        &self,
        _args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairsAccumulator::new(
            self.spec.name,
            self.spec.with_fraction,
            self.spec.finish,
        )))
    }

    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name, self.spec.with_fraction))
    }

    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(self.spec.documentation)
    }
}
