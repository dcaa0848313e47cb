//! Model features: how query columns become the numeric matrix a model works on, identically at
//! training and at prediction.
//!
//! - Numeric columns (integers, floats, decimals, booleans as 0/1) are read as `f64`. A NULL is
//!   replaced by the training mean (stored in the model, so prediction imputes the same value).
//!   With `standardize`, values become `(x − mean) / std` (population std; a constant column
//!   keeps std 1). NaN or ±infinity is an error at training; at prediction the row's result is
//!   NULL.
//! - String columns are one-hot encoded over the vocabulary seen in training (sorted, stored,
//!   at most [`MAX_VOCABULARY`] values). NULL and values not seen in training encode as all zeros.
//!
//! - Tree models use the *native* encoding instead: numbers as they are (NULL stays missing, as
//!   NaN, and the trees learn where missing values go) and strings as their index in the sorted
//!   training vocabulary (NULL and unseen values missing), one column per feature.
//!
//! - Text models (`text_classifier`) take one string column as *text*: the collector keeps the
//!   strings as they are (NULL as an empty text) and the model featurizes them itself
//!   (hashed n-grams, see `sentiment/text_hashing.rs`); [`encode_batch`] does not handle them.
//!
//! [`TrainingCollector`] streams record batches into a column-major store (optionally a uniform
//! reservoir sample) and [`encode_batch`] encodes prediction inputs.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Schema};
use datafusion::common::{Result, exec_err, plan_err};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Most distinct values a string feature may have (wider one-hot blocks are almost always a
/// mistake, such as an id column left in the query).
pub const MAX_VOCABULARY: usize = 1000;

/// How one input feature is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A number: imputed with `mean`, standardised with `mean` and `std`.
    Numeric {
        /// Training mean (also the NULL imputation value).
        mean: f64,
        /// Training population standard deviation (1 for a constant column).
        std: f64,
        /// Training minimum.
        min: f64,
        /// Training maximum.
        max: f64,
    },
    /// A string, one-hot encoded.
    Categorical {
        /// The training values, sorted; one encoded column each.
        vocabulary: Vec<String>,
    },
    /// Free text, featurized by the model itself (`text_classifier`).
    Text,
}

/// One input feature of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// The column name in the training query (`ml_predict` matches on it).
    pub name: String,
    /// The Arrow type it had in training.
    pub data_type: String,
    /// NULLs seen in training (imputed).
    #[serde(default)]
    pub nulls: u64,
    /// The encoding.
    pub kind: FeatureKind,
}

impl FeatureSpec {
    /// Encoded columns this feature produces (in the native encoding: always 1).
    pub fn width(&self) -> usize {
        match &self.kind {
            FeatureKind::Numeric { .. } => 1,
            FeatureKind::Categorical { vocabulary } => vocabulary.len(),
            FeatureKind::Text => 0,
        }
    }

    /// A one-line description for `ml_model_info`.
    pub fn describe(&self) -> String {
        match &self.kind {
            FeatureKind::Numeric {
                mean,
                std,
                min,
                max,
            } => format!(
                "numeric ({}) mean={mean} std={std} min={min} max={max} nulls_imputed={}",
                self.data_type, self.nulls
            ),
            FeatureKind::Categorical { vocabulary } => format!(
                "one-hot ({}) vocabulary=[{}] nulls={}",
                self.data_type,
                vocabulary.join(", "),
                self.nulls
            ),
            FeatureKind::Text => format!(
                "text ({}) hashed word and character n-grams, nulls={} (trained as empty text)",
                self.data_type, self.nulls
            ),
        }
    }
}

/// The name of each encoded column: the feature for numerics, `feature=value` for one-hot.
pub fn encoded_names(specs: &[FeatureSpec]) -> Vec<String> {
    let mut out = Vec::with_capacity(encoded_width(specs));
    for s in specs {
        match &s.kind {
            FeatureKind::Numeric { .. } => out.push(s.name.clone()),
            FeatureKind::Categorical { vocabulary } => {
                out.extend(vocabulary.iter().map(|v| format!("{}={v}", s.name)));
            }
            FeatureKind::Text => {}
        }
    }
    out
}

/// Total encoded width of `specs`.
pub fn encoded_width(specs: &[FeatureSpec]) -> usize {
    specs.iter().map(FeatureSpec::width).sum()
}

/// Whether a column of this type can be a numeric feature.
pub fn is_numeric_type(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean | DataType::Null)
}

/// Whether a column of this type can be a categorical feature.
pub fn is_string_type(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string_type(v),
        _ => false,
    }
}

fn to_f64(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(match array.data_type() {
        DataType::Boolean => {
            let b: &BooleanArray = array.as_boolean();
            let v: Vec<Option<f64>> = b.iter().map(|x| x.map(f64::from)).collect();
            std::sync::Arc::new(datafusion::arrow::array::Float64Array::from(v))
        }
        _ => cast(array, &DataType::Float64)?,
    })
}

fn to_utf8(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8)?)
}

/// The encoded rows of one prediction batch: `columns[j][i]`, plus which rows are usable (a row
/// with NaN or infinity in a numeric feature is not: its results are NULL).
#[derive(Debug)]
pub struct EncodedBatch {
    /// Column-major encoded values, one `Vec` per encoded column.
    pub columns: Vec<Vec<f64>>,
    /// `None` when every row is usable.
    pub nulls: Option<NullBuffer>,
    /// Rows in the batch.
    pub rows: usize,
}

impl EncodedBatch {
    /// The columns as slices, as the kernels take them.
    pub fn slices(&self) -> Vec<&[f64]> {
        self.columns.iter().map(Vec::as_slice).collect()
    }
}

/// Encodes `arrays` (one per feature, in model order) for a model with `specs`. `what` names the
/// caller and model for errors (`"segment: model seg@2"`).
pub fn encode_batch(
    what: &str,
    specs: &[FeatureSpec],
    standardize: bool,
    native: bool,
    arrays: &[ArrayRef],
    rows: usize,
) -> Result<EncodedBatch> {
    if arrays.len() != specs.len() {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        return exec_err!(
            "{what} takes {} features ({}), got {}",
            specs.len(),
            names.join(", "),
            arrays.len()
        );
    }
    let mut columns = Vec::with_capacity(encoded_width(specs));
    let mut bad_rows: Option<Vec<bool>> = None;
    for (i, (spec, array)) in specs.iter().zip(arrays).enumerate() {
        match &spec.kind {
            FeatureKind::Text => {
                return exec_err!(
                    "{what}: feature {} ({}) is text, which only its text_classifier model can encode",
                    i + 1,
                    spec.name
                );
            }
            FeatureKind::Numeric { mean, std, .. } => {
                if !is_numeric_type(array.data_type()) {
                    return exec_err!(
                        "{what}: feature {} ({}) must be numeric, got {}",
                        i + 1,
                        spec.name,
                        array.data_type()
                    );
                }
                let values = to_f64(array)?;
                let values = values.as_primitive::<Float64Type>();
                if native {
                    // NULL is missing (NaN), which the trees route; a NaN or infinite input is
                    // not a value the model was trained on: its row's result is NULL, as for
                    // every other model.
                    let mut col = Vec::with_capacity(rows);
                    for (r, v) in values.iter().enumerate() {
                        match v {
                            Some(x) if x.is_finite() => col.push(x),
                            Some(_) => {
                                bad_rows.get_or_insert_with(|| vec![false; rows])[r] = true;
                                col.push(f64::NAN);
                            }
                            None => col.push(f64::NAN),
                        }
                    }
                    columns.push(col);
                    continue;
                }
                let (shift, scale) = if standardize {
                    (*mean, 1.0 / std)
                } else {
                    (0.0, 1.0)
                };
                let fill = (mean - shift) * scale;
                let raw = values.values();
                let mut col: Vec<f64> = raw.iter().map(|&x| (x - shift) * scale).collect();
                if let Some(n) = values.nulls() {
                    for r in n.iter().enumerate().filter(|(_, v)| !v).map(|(r, _)| r) {
                        col[r] = fill;
                    }
                }
                for (r, x) in col.iter().enumerate() {
                    if !x.is_finite() && values.is_valid(r) {
                        bad_rows.get_or_insert_with(|| vec![false; rows])[r] = true;
                    }
                }
                columns.push(col);
            }
            FeatureKind::Categorical { vocabulary } => {
                if !is_string_type(array.data_type())
                    && !array.data_type().is_integer()
                    && array.data_type() != &DataType::Null
                {
                    return exec_err!(
                        "{what}: feature {} ({}) must be a string, got {}",
                        i + 1,
                        spec.name,
                        array.data_type()
                    );
                }
                let strings = to_utf8(array)?;
                let strings = strings.as_string::<i32>();
                let index: HashMap<&str, usize> = vocabulary
                    .iter()
                    .enumerate()
                    .map(|(j, v)| (v.as_str(), j))
                    .collect();
                if native {
                    columns.push(
                        strings
                            .iter()
                            .map(|s| s.and_then(|s| index.get(s)).map_or(f64::NAN, |&j| j as f64))
                            .collect(),
                    );
                    continue;
                }
                let base = columns.len();
                columns.extend((0..vocabulary.len()).map(|_| vec![0.0; rows]));
                for (r, s) in strings.iter().enumerate() {
                    if let Some(j) = s.and_then(|s| index.get(s)) {
                        columns[base + j][r] = 1.0;
                    }
                }
            }
        }
    }
    let nulls = bad_rows.map(|bad| NullBuffer::from(bad.iter().map(|b| !b).collect::<Vec<_>>()));
    Ok(EncodedBatch {
        columns,
        nulls,
        rows,
    })
}

/// The raw training store of one column.
#[derive(Debug)]
enum RawColumn {
    /// NULL stored as NaN (real NaN is rejected on arrival).
    Numeric(Vec<f64>),
    /// Code per row into `values`, `u32::MAX` for NULL.
    Categorical {
        codes: Vec<u32>,
        values: Vec<String>,
        lookup: HashMap<String, u32>,
    },
    /// Free text, NULL stored as "".
    Text(Vec<String>),
}

const NULL_CODE: u32 = u32::MAX;

/// The collected, encoded training data.
#[derive(Debug)]
pub struct TrainingData {
    /// One spec per feature column, in query order.
    pub specs: Vec<FeatureSpec>,
    /// Encoded column-major matrix (standardised numerics, one-hot blocks).
    pub columns: Vec<Vec<f64>>,
    /// Class index per row and the class names (sorted), when a label was collected.
    pub labels: Option<(Vec<u32>, Vec<String>)>,
    /// Rows the query returned.
    pub rows_seen: u64,
    /// Rows kept.
    pub rows_used: u64,
    /// Whether the reservoir dropped rows.
    pub sampled: bool,
    /// Rows skipped for a NULL label.
    pub rows_without_label: u64,
    /// Order-independent fingerprint (hex) of the kept rows.
    pub fingerprint: String,
    /// A hash of each kept row's values (deterministic held-out splits).
    pub row_hashes: Vec<u64>,
    /// Per kept row, whether the split column marked it as held out.
    pub held_out: Option<Vec<bool>>,
    /// The text of each kept row, for text models (their `columns` are empty).
    pub texts: Option<Vec<String>>,
}

impl TrainingData {
    /// The encoded columns as slices.
    pub fn slices(&self) -> Vec<&[f64]> {
        self.columns.iter().map(Vec::as_slice).collect()
    }

    /// Rows kept (in the matrix, or texts for text models).
    pub fn rows(&self) -> usize {
        self.row_hashes.len()
    }
}

/// Streams training batches into column-major memory, keeping a uniform reservoir sample of at
/// most `max_rows` rows (Vitter's algorithm R, seeded).
#[derive(Debug)]
pub struct TrainingCollector {
    model: String,
    names: Vec<String>,
    types: Vec<DataType>,
    feature_idx: Vec<usize>,
    label_idx: Option<usize>,
    split_idx: Option<usize>,
    split: Vec<bool>,
    raw: Vec<RawColumn>,
    labels: Option<RawColumn>,
    nulls: Vec<u64>,
    max_rows: usize,
    kept: usize,
    seen: u64,
    rows_without_label: u64,
    rng: rand_pcg::Pcg64Mcg,
}

impl TrainingCollector {
    /// Checks the query schema and prepares the store. Every column except `label` and
    /// `split_column` (a boolean marking held-out rows) is a feature. `model` names the model in
    /// errors.
    pub fn try_new(
        model: &str,
        schema: &Schema,
        label: Option<&str>,
        split_column: Option<&str>,
        max_rows: usize,
        seed: u64,
    ) -> Result<Self> {
        Self::build(model, schema, label, split_column, max_rows, seed, false)
    }

    /// As [`TrainingCollector::try_new`] for a text model: the query must have exactly one
    /// column besides the label (and split column), a string, kept as text.
    pub fn try_new_text(
        model: &str,
        schema: &Schema,
        label: Option<&str>,
        split_column: Option<&str>,
        max_rows: usize,
        seed: u64,
    ) -> Result<Self> {
        Self::build(model, schema, label, split_column, max_rows, seed, true)
    }

    fn build(
        model: &str,
        schema: &Schema,
        label: Option<&str>,
        split_column: Option<&str>,
        max_rows: usize,
        seed: u64,
        text: bool,
    ) -> Result<Self> {
        let mut split_idx = None;
        if let Some(c) = split_column {
            match schema.index_of(c) {
                Ok(i) if schema.field(i).data_type() == &DataType::Boolean => split_idx = Some(i),
                Ok(i) => {
                    return plan_err!(
                        "CREATE MODEL {model}: data_split_column {c:?} must be boolean (true marks held-out rows), got {}",
                        schema.field(i).data_type()
                    );
                }
                Err(_) => {
                    return plan_err!(
                        "CREATE MODEL {model}: data_split_column {c:?} is not in the training query (columns: {})",
                        column_list(schema)
                    );
                }
            }
        }
        let mut label_idx = None;
        if let Some(label) = label {
            match schema.index_of(label) {
                Ok(i) => label_idx = Some(i),
                Err(_) => {
                    return plan_err!(
                        "CREATE MODEL {model}: the label column {label:?} is not in the training query (columns: {})",
                        column_list(schema)
                    );
                }
            }
        }
        if text {
            let names: Vec<&str> = schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != label_idx && Some(*i) != split_idx)
                .map(|(_, f)| f.name().as_str())
                .collect();
            if names.len() != 1 {
                return plan_err!(
                    "CREATE MODEL {model}: text_classifier takes exactly one text column besides the label, got {}: {}",
                    names.len(),
                    names.join(", ")
                );
            }
        }
        let mut feature_idx = Vec::new();
        let mut raw = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if Some(i) == label_idx || Some(i) == split_idx {
                continue;
            }
            let t = f.data_type();
            if text {
                if !is_string_type(t) {
                    return plan_err!(
                        "CREATE MODEL {model}: the text column {:?} must be a string, got {t}",
                        f.name()
                    );
                }
                raw.push(RawColumn::Text(Vec::new()));
            } else if is_numeric_type(t) {
                raw.push(RawColumn::Numeric(Vec::new()));
            } else if is_string_type(t) {
                raw.push(RawColumn::Categorical {
                    codes: Vec::new(),
                    values: Vec::new(),
                    lookup: HashMap::new(),
                });
            } else {
                return plan_err!(
                    "CREATE MODEL {model}: feature column {:?} has type {t}; features must be numeric, boolean or string (cast dates and timestamps to numbers, e.g. with days_between)",
                    f.name()
                );
            }
            feature_idx.push(i);
        }
        if feature_idx.is_empty() {
            return plan_err!(
                "CREATE MODEL {model}: the training query has no feature columns (columns: {})",
                column_list(schema)
            );
        }
        let labels = label_idx.map(|_| RawColumn::Categorical {
            codes: Vec::new(),
            values: Vec::new(),
            lookup: HashMap::new(),
        });
        Ok(Self {
            model: model.to_string(),
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            types: schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            nulls: vec![0; feature_idx.len()],
            feature_idx,
            label_idx,
            split_idx,
            split: Vec::new(),
            raw,
            labels,
            max_rows: max_rows.max(1),
            kept: 0,
            seen: 0,
            rows_without_label: 0,
            rng: rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x5eed_5a3b_1e00_0001),
        })
    }

    /// Fixed bytes held per kept row (text adds its length).
    fn bytes_per_row(&self) -> usize {
        self.raw.len() * 8 + if self.labels.is_some() { 4 } else { 0 }
    }

    /// Rows kept so far.
    pub fn rows_kept(&self) -> usize {
        self.kept
    }

    /// Rows seen so far.
    pub fn rows_seen(&self) -> u64 {
        self.seen
    }

    /// Adds one batch. Returns the bytes newly held (rows appended, text included; a replaced
    /// reservoir row is not counted), so the caller can grow its memory reservation.
    pub fn push(&mut self, batch: &datafusion::arrow::array::RecordBatch) -> Result<usize> {
        let n = batch.num_rows();
        // Convert each column once for the whole batch.
        let mut numeric: Vec<Option<ArrayRef>> = Vec::with_capacity(self.raw.len());
        let mut strings: Vec<Option<ArrayRef>> = Vec::with_capacity(self.raw.len());
        for (j, &c) in self.feature_idx.iter().enumerate() {
            let col = batch.column(c);
            match &self.raw[j] {
                RawColumn::Numeric(_) => {
                    let a = to_f64(col)?;
                    let p = a.as_primitive::<Float64Type>();
                    for (r, x) in p.values().iter().enumerate() {
                        if !x.is_finite() && p.is_valid(r) {
                            return exec_err!(
                                "CREATE MODEL {}: column {:?} contains {} in the training data; filter or fix it first",
                                self.model,
                                self.names[c],
                                if x.is_nan() { "NaN" } else { "infinity" }
                            );
                        }
                    }
                    self.nulls[j] += p.null_count() as u64;
                    numeric.push(Some(a));
                    strings.push(None);
                }
                RawColumn::Categorical { .. } | RawColumn::Text(_) => {
                    let a = to_utf8(col)?;
                    self.nulls[j] += a.null_count() as u64;
                    numeric.push(None);
                    strings.push(Some(a));
                }
            }
        }
        let label = match self.label_idx {
            Some(c) => Some(to_utf8(batch.column(c))?),
            None => None,
        };
        let split = self.split_idx.map(|c| batch.column(c).as_boolean().clone());
        let mut appended = 0;
        let mut text_bytes = 0;
        for r in 0..n {
            if let Some(l) = &label
                && l.is_null(r)
            {
                self.rows_without_label += 1;
                continue;
            }
            self.seen += 1;
            let slot = if self.kept < self.max_rows {
                self.kept += 1;
                appended += 1;
                None
            } else {
                let j = self.rng.gen_range(0..self.seen);
                if j >= self.max_rows as u64 {
                    continue;
                }
                Some(j as usize)
            };
            for (j, raw) in self.raw.iter_mut().enumerate() {
                match raw {
                    RawColumn::Numeric(v) => {
                        let a = numeric[j].as_ref().map(|a| a.as_primitive::<Float64Type>());
                        let x =
                            a.map_or(
                                f64::NAN,
                                |a| {
                                    if a.is_valid(r) { a.value(r) } else { f64::NAN }
                                },
                            );
                        match slot {
                            None => v.push(x),
                            Some(s) => v[s] = x,
                        }
                    }
                    RawColumn::Categorical {
                        codes,
                        values,
                        lookup,
                    } => {
                        let a = strings[j].as_ref().map(|a| a.as_string::<i32>());
                        let code = match a {
                            Some(a) if a.is_valid(r) => intern(a.value(r), values, lookup),
                            _ => NULL_CODE,
                        };
                        if values.len() > MAX_VOCABULARY {
                            return exec_err!(
                                "CREATE MODEL {}: string column {:?} has more than {MAX_VOCABULARY} distinct values; one-hot encoding it would be too wide (leave id-like columns out of the training query, or bucket the column)",
                                self.model,
                                self.names[self.feature_idx[j]]
                            );
                        }
                        match slot {
                            None => codes.push(code),
                            Some(s) => codes[s] = code,
                        }
                    }
                    RawColumn::Text(texts) => {
                        let a = strings[j].as_ref().map(|a| a.as_string::<i32>());
                        let t = match a {
                            Some(a) if a.is_valid(r) => a.value(r).to_string(),
                            _ => String::new(),
                        };
                        match slot {
                            None => {
                                text_bytes += t.len();
                                texts.push(t);
                            }
                            Some(s) => texts[s] = t,
                        }
                    }
                }
            }
            if let Some(s) = &split {
                // A NULL in the split column trains on the row.
                let held = s.is_valid(r) && s.value(r);
                match slot {
                    None => self.split.push(held),
                    Some(i) => self.split[i] = held,
                }
            }
            if let (
                Some(l),
                Some(RawColumn::Categorical {
                    codes,
                    values,
                    lookup,
                }),
            ) = (&label, &mut self.labels)
            {
                let code = intern(l.as_string::<i32>().value(r), values, lookup);
                match slot {
                    None => codes.push(code),
                    Some(s) => codes[s] = code,
                }
            }
        }
        Ok(appended * self.bytes_per_row() + text_bytes)
    }

    /// Computes the feature statistics, imputes, standardises and one-hot encodes.
    pub fn finish(self, standardize: bool, native: bool) -> Result<TrainingData> {
        let rows = self.kept;
        let mut specs = Vec::with_capacity(self.raw.len());
        let mut columns = Vec::new();
        let mut texts = None;
        let mut fingerprint_rows = vec![0u64; rows];
        for (j, raw) in self.raw.into_iter().enumerate() {
            let c = self.feature_idx[j];
            let name = self.names[c].clone();
            let data_type = self.types[c].to_string();
            match raw {
                RawColumn::Numeric(mut v) => {
                    let (mut count, mut sum, mut min, mut max) =
                        (0u64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
                    for &x in v.iter().filter(|x| !x.is_nan()) {
                        count += 1;
                        sum += x;
                        min = min.min(x);
                        max = max.max(x);
                    }
                    if count == 0 && rows > 0 {
                        return exec_err!(
                            "CREATE MODEL {}: column {name:?} is NULL in every training row",
                            self.model
                        );
                    }
                    let mean = if count > 0 { sum / count as f64 } else { 0.0 };
                    let var = v
                        .iter()
                        .filter(|x| !x.is_nan())
                        .map(|x| (x - mean) * (x - mean))
                        .sum::<f64>()
                        / count.max(1) as f64;
                    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
                    for (r, x) in v.iter_mut().enumerate() {
                        fingerprint_rows[r] = mix(fingerprint_rows[r], x.to_bits());
                        if native {
                            continue; // missing stays NaN; trees need no scaling
                        }
                        if x.is_nan() {
                            *x = mean;
                        }
                        if standardize {
                            *x = (*x - mean) / std;
                        }
                    }
                    columns.push(v);
                    specs.push(FeatureSpec {
                        name,
                        data_type,
                        nulls: self.nulls[j],
                        kind: FeatureKind::Numeric {
                            mean,
                            std,
                            min: if count > 0 { min } else { 0.0 },
                            max: if count > 0 { max } else { 0.0 },
                        },
                    });
                }
                RawColumn::Text(v) => {
                    for (r, t) in v.iter().enumerate() {
                        fingerprint_rows[r] = mix(
                            fingerprint_rows[r],
                            xxhash_rust::xxh64::xxh64(t.as_bytes(), 13),
                        );
                    }
                    texts = Some(v);
                    specs.push(FeatureSpec {
                        name,
                        data_type,
                        nulls: self.nulls[j],
                        kind: FeatureKind::Text,
                    });
                }
                RawColumn::Categorical { codes, values, .. } => {
                    let (order, vocabulary) = sorted_vocabulary(values);
                    let base = columns.len();
                    if native {
                        columns.push(
                            codes
                                .iter()
                                .map(|&c| {
                                    if c == NULL_CODE {
                                        f64::NAN
                                    } else {
                                        order[c as usize] as f64
                                    }
                                })
                                .collect(),
                        );
                    } else {
                        columns.extend((0..vocabulary.len()).map(|_| vec![0.0; rows]));
                    }
                    for (r, &code) in codes.iter().enumerate() {
                        if code != NULL_CODE {
                            let k = order[code as usize];
                            if !native {
                                columns[base + k][r] = 1.0;
                            }
                            fingerprint_rows[r] = mix(
                                fingerprint_rows[r],
                                xxhash_rust::xxh64::xxh64(vocabulary[k].as_bytes(), 7),
                            );
                        } else {
                            fingerprint_rows[r] = mix(fingerprint_rows[r], u64::MAX);
                        }
                    }
                    specs.push(FeatureSpec {
                        name,
                        data_type,
                        nulls: self.nulls[j],
                        kind: FeatureKind::Categorical { vocabulary },
                    });
                }
            }
        }
        let labels = match self.labels {
            Some(RawColumn::Categorical { codes, values, .. }) => {
                let (order, classes) = sorted_vocabulary(values);
                let codes: Vec<u32> = codes.iter().map(|&c| order[c as usize] as u32).collect();
                for (r, &c) in codes.iter().enumerate() {
                    fingerprint_rows[r] = mix(
                        fingerprint_rows[r],
                        xxhash_rust::xxh64::xxh64(classes[c as usize].as_bytes(), 11),
                    );
                }
                Some((codes, classes))
            }
            _ => None,
        };
        // Order-independent: a wrapping sum of per-row hashes, so the same rows in another
        // order (another partitioning) give the same fingerprint.
        let total = fingerprint_rows
            .iter()
            .fold(0u64, |acc, &h| acc.wrapping_add(finalize(h)));
        Ok(TrainingData {
            specs,
            columns,
            labels,
            rows_seen: self.seen,
            rows_used: rows as u64,
            sampled: self.seen > rows as u64,
            rows_without_label: self.rows_without_label,
            fingerprint: format!("{total:016x}"),
            row_hashes: fingerprint_rows.iter().map(|&h| finalize(h)).collect(),
            held_out: self.split_idx.map(|_| self.split),
            texts,
        })
    }
}

fn column_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn intern(s: &str, values: &mut Vec<String>, lookup: &mut HashMap<String, u32>) -> u32 {
    if let Some(&c) = lookup.get(s) {
        return c;
    }
    let c = values.len() as u32;
    values.push(s.to_string());
    lookup.insert(s.to_string(), c);
    c
}

/// Sorts interned values; returns old code → new position, and the sorted values.
fn sorted_vocabulary(values: Vec<String>) -> (Vec<usize>, Vec<String>) {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].cmp(&values[b]));
    let mut order = vec![0; values.len()];
    for (pos, &old) in idx.iter().enumerate() {
        order[old] = pos;
    }
    let sorted = idx.iter().map(|&i| values[i].clone()).collect();
    (order, sorted)
}

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

#[inline]
fn finalize(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Field;

    use super::*;

    fn batch(xs: Vec<Option<f64>>, cats: Vec<Option<&str>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("c", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(xs)),
                Arc::new(StringArray::from(cats)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn imputes_standardises_and_one_hot_encodes() {
        let b = batch(
            vec![Some(1.0), None, Some(3.0)],
            vec![Some("b"), Some("a"), None],
        );
        let mut c = TrainingCollector::try_new("m", &b.schema(), None, None, 100, 0).unwrap();
        c.push(&b).unwrap();
        let d = c.finish(true, false).unwrap();
        assert_eq!(d.rows_used, 3);
        assert_eq!(d.columns.len(), 3); // x, c=a, c=b
        assert_eq!(d.columns[0], vec![-1.0, 0.0, 1.0]); // mean 2, std 1 over non-null values
        assert_eq!(d.columns[1], vec![0.0, 1.0, 0.0]);
        assert_eq!(d.columns[2], vec![1.0, 0.0, 0.0]);
        assert_eq!(
            d.specs[1].kind,
            FeatureKind::Categorical {
                vocabulary: vec!["a".into(), "b".into()]
            }
        );
        // Prediction encodes the same way, unseen values as zeros.
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![Some(3), None])),
            Arc::new(StringArray::from(vec![Some("zzz"), Some("b")])),
        ];
        let e = encode_batch("t", &d.specs, true, false, &arrays, 2).unwrap();
        assert_eq!(
            e.columns,
            vec![vec![1.0, 0.0], vec![0.0, 0.0], vec![0.0, 1.0]]
        );
        let err = encode_batch("segment: model m@1", &d.specs, true, false, &arrays[..1], 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes 2 features (x, c), got 1"), "{err}");
    }

    #[test]
    fn text_models_keep_one_string_column_as_text() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("review", DataType::Utf8, true),
            Field::new("good", DataType::Boolean, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("great"), None, Some("bad")])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            ],
        )
        .unwrap();
        let mut c =
            TrainingCollector::try_new_text("m", &schema, Some("good"), None, 100, 0).unwrap();
        // Bytes held: 2 rows × (8 + 4) plus the text ("great" and the empty NULL text).
        assert_eq!(c.push(&b).unwrap(), 2 * 12 + 5);
        let d = c.finish(false, false).unwrap();
        assert_eq!(d.texts, Some(vec!["great".to_string(), String::new()]));
        assert!(d.columns.is_empty());
        assert_eq!((d.rows(), d.rows_without_label), (2, 1));
        assert_eq!(d.specs[0].kind, FeatureKind::Text);
        assert_eq!(d.specs[0].nulls, 1);
        // Encoding text the numeric way is refused by name.
        let err = encode_batch("t", &d.specs, false, false, &[b.column(0).clone()], 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("feature 1 (review) is text"), "{err}");
        // Exactly one string column.
        let err = TrainingCollector::try_new_text("m", &b.schema(), None, None, 10, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exactly one text column besides the label, got 2"),
            "{err}"
        );
        let numbers = Schema::new(vec![Field::new("x", DataType::Float64, true)]);
        let err = TrainingCollector::try_new_text("m", &numbers, None, None, 10, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the text column \"x\" must be a string, got Float64"),
            "{err}"
        );
    }

    #[test]
    fn rejects_non_finite_training_values_naming_the_column() {
        let b = batch(vec![Some(f64::NAN)], vec![Some("a")]);
        let mut c = TrainingCollector::try_new("m", &b.schema(), None, None, 100, 0).unwrap();
        let err = c.push(&b).unwrap_err().to_string();
        assert!(err.contains("\"x\" contains NaN"), "{err}");
    }

    #[test]
    fn samples_uniformly_and_fingerprints_order_independently() {
        let xs: Vec<Option<f64>> = (0..1000).map(|i| Some(i as f64)).collect();
        let b = batch(xs.clone(), vec![Some("a"); 1000]);
        let mut c = TrainingCollector::try_new("m", &b.schema(), None, None, 100, 1).unwrap();
        c.push(&b).unwrap();
        let d = c.finish(false, false).unwrap();
        assert_eq!((d.rows_seen, d.rows_used, d.sampled), (1000, 100, true));
        let mean = d.columns[0].iter().sum::<f64>() / 100.0;
        assert!((mean - 499.5).abs() < 90.0, "sample mean {mean}");

        let fp = |xs: Vec<Option<f64>>| {
            let b = batch(xs, vec![Some("a"); 3]);
            let mut c = TrainingCollector::try_new("m", &b.schema(), None, None, 10, 0).unwrap();
            c.push(&b).unwrap();
            c.finish(false, false).unwrap().fingerprint
        };
        assert_eq!(
            fp(vec![Some(1.0), Some(2.0), None]),
            fp(vec![None, Some(2.0), Some(1.0)])
        );
        assert_ne!(
            fp(vec![Some(1.0), Some(2.0), None]),
            fp(vec![Some(1.0), Some(2.5), None])
        );
    }
}
