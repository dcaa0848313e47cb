//! Applying a classifier to feature arrays: encode with the model's stored feature
//! specification and compute class probabilities. Shared by `predict_label`, `predict_proba`,
//! `predict_label_probs`, `ml_predict` and `ml_evaluate`, so they always agree.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};

use crate::model::artifact::TextClassifierBody;
use crate::model::features::encode_batch;
use crate::model::train::argmax;
use crate::model::{Model, ModelBody};
use crate::sentiment::text_hashing::HashScratch;

/// Class probabilities of a batch.
#[derive(Debug)]
pub struct Classified {
    /// rows × classes, row-major.
    pub proba: Vec<f64>,
    /// Number of classes.
    pub classes: usize,
    /// Rows without a result (a non-finite feature value).
    pub nulls: Option<NullBuffer>,
    /// Per-row decision threshold for two-class models (`predict_label(…, threshold)`).
    pub threshold: Option<ArrayRef>,
}

/// The class names of a classifier, and the positive class index of a two-class model.
pub fn class_names<'m>(function: &str, model: &'m Model) -> Result<(&'m [String], Option<usize>)> {
    match &model.body {
        ModelBody::NaiveBayes(b) => {
            let positive = b
                .positive_class
                .as_ref()
                .and_then(|p| b.classes.iter().position(|c| c == p));
            Ok((&b.classes, positive))
        }
        ModelBody::LogisticReg(b) => {
            let positive = b.classes.iter().position(|c| *c == b.positive_class);
            Ok((&b.classes, positive))
        }
        ModelBody::BoostedTree(b) => {
            let positive = b.classes.iter().position(|c| *c == b.positive_class);
            Ok((&b.classes, positive))
        }
        ModelBody::TextClassifier(b) => {
            let positive = b.classes.iter().position(|c| *c == b.positive_class);
            Ok((&b.classes, positive))
        }
        ModelBody::Kmeans(_) => exec_err!(
            "{function}: model {} is a kmeans model, not a classifier; use segment() for k-means models",
            model.label()
        ),
    }
}

/// A text classifier's probabilities: one string argument, the text; NULL text gives NULL.
fn classify_texts(
    what: &str,
    body: &TextClassifierBody,
    positive: usize,
    arrays: &[ArrayRef],
    rows: usize,
    threshold: Option<ArrayRef>,
) -> Result<Classified> {
    if !body.model.is_consistent() || body.classes.len() != 2 {
        return exec_err!("{what} is damaged: its weights do not match its featurizer");
    }
    let [text] = arrays else {
        return exec_err!("{what} takes 1 feature (the text), got {}", arrays.len());
    };
    if !crate::model::features::is_string_type(text.data_type())
        && text.data_type() != &DataType::Null
    {
        return exec_err!(
            "{what}: feature 1 (the text) must be a string, got {}",
            text.data_type()
        );
    }
    let text = datafusion::arrow::compute::cast(text, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut scratch = HashScratch::default();
    let mut proba = vec![0.0; rows * 2];
    for r in 0..rows {
        if text.is_valid(r) {
            let p = body.model.predict_proba(text.value(r), &mut scratch);
            proba[r * 2 + positive] = p;
            proba[r * 2 + 1 - positive] = 1.0 - p;
        }
    }
    Ok(Classified {
        proba,
        classes: 2,
        nulls: text.logical_nulls(),
        threshold,
    })
}

/// Encodes `arrays` and computes class probabilities. For a two-class model one extra
/// trailing numeric argument is taken as the decision threshold.
pub fn classify_arrays(
    function: &str,
    model: &Model,
    arrays: &[ArrayRef],
    rows: usize,
    allow_threshold: bool,
) -> Result<Classified> {
    let (names, positive) = class_names(function, model)?;
    let mut features = arrays;
    let mut threshold = None;
    if allow_threshold
        && positive.is_some()
        && arrays.len() == model.features.len() + 1
        && let Some(last) = arrays.last()
        && last.data_type().is_numeric()
    {
        threshold = Some(datafusion::arrow::compute::cast(last, &DataType::Float64)?);
        features = &arrays[..arrays.len() - 1];
    }
    let what = format!("{function}: model {}", model.label());
    if let ModelBody::TextClassifier(b) = &model.body {
        return classify_texts(&what, b, positive.unwrap_or(1), features, rows, threshold);
    }
    let encoded = encode_batch(
        &what,
        &model.features,
        model.standardize,
        model.native_encoding,
        features,
        rows,
    )?;
    let classes = names.len();
    let width = encoded.columns.len();
    let fits = match &model.body {
        ModelBody::NaiveBayes(b) => {
            b.nb.dims == width
                && b.nb.classes == classes
                && b.nb.means.len() == classes * width
                && b.nb.variances.len() == classes * width
                && b.nb.priors.len() == classes
        }
        ModelBody::LogisticReg(b) => b.model.coefficients.len() == width && classes == 2,
        ModelBody::BoostedTree(_) => classes == 2, // the kernel checks its own shapes
        ModelBody::Kmeans(_) | ModelBody::TextClassifier(_) => true,
    };
    if !fits {
        return exec_err!(
            "{what} is damaged: its parameters do not match its {width} encoded features"
        );
    }
    let mut proba = vec![0.0; rows * classes];
    match &model.body {
        ModelBody::NaiveBayes(b) => b.nb.predict_proba(&encoded.slices(), &mut proba),
        ModelBody::LogisticReg(_) | ModelBody::BoostedTree(_) => {
            let pos = positive.unwrap_or(1);
            let mut p = vec![0.0; rows];
            match &model.body {
                ModelBody::LogisticReg(b) => b.model.predict_proba(&encoded.slices(), &mut p),
                ModelBody::BoostedTree(b) => b
                    .compiled
                    .get(&b.trees)
                    .and_then(|c| c.predict_proba(&encoded.slices(), &mut p))
                    .map_err(|e| {
                        datafusion::error::DataFusionError::Execution(format!("{what}: {e}"))
                    })?,
                _ => {}
            }
            for (r, p) in p.into_iter().enumerate() {
                proba[r * 2 + pos] = p;
                proba[r * 2 + 1 - pos] = 1.0 - p;
            }
        }
        ModelBody::Kmeans(_) | ModelBody::TextClassifier(_) => {
            unreachable!("class_names rejected k-means; text was classified above")
        }
    }
    Ok(Classified {
        proba,
        classes,
        nulls: encoded.nulls,
        threshold,
    })
}

impl Classified {
    /// The predicted class index of row `r`: the positive class when its probability reaches
    /// the threshold (two-class models with a threshold), otherwise the most probable class.
    pub fn predicted(&self, r: usize, positive: Option<usize>) -> usize {
        let p = &self.proba[r * self.classes..(r + 1) * self.classes];
        if let (Some(pos), Some(t)) = (positive, &self.threshold) {
            let t = t.as_primitive::<Float64Type>();
            if t.is_valid(r) {
                return if p[pos] >= t.value(r) { pos } else { 1 - pos };
            }
        }
        argmax(p)
    }

    /// `predict_proba`'s value for row `r`: P(positive class) for two-class models, otherwise the
    /// probability of the predicted class.
    pub fn probability(&self, r: usize, positive: Option<usize>) -> f64 {
        let p = &self.proba[r * self.classes..(r + 1) * self.classes];
        match positive {
            Some(pos) => p[pos],
            None => p[argmax(p)],
        }
    }
}

/// Streams a query through a classifier and keeps, per row with a label and usable features,
/// the label's class index and the class probabilities (rows × classes). Returns them with the
/// class names and the positive class of a two-class model. A label value the model never saw
/// is an error naming it.
pub async fn labelled_probabilities(
    function: &str,
    model: &Model,
    mut stream: datafusion::execution::SendableRecordBatchStream,
    feature_idx: &[usize],
) -> Result<(Vec<u32>, Vec<f64>, Vec<String>, Option<usize>)> {
    use futures::StreamExt;
    let label_column = match &model.body {
        ModelBody::NaiveBayes(b) => &b.label,
        ModelBody::LogisticReg(b) => &b.label,
        ModelBody::BoostedTree(b) => &b.label,
        ModelBody::TextClassifier(b) => &b.label,
        ModelBody::Kmeans(_) => {
            return exec_err!("{function}: model {} is not a classifier", model.label());
        }
    };
    let Ok(label_idx) = stream.schema().index_of(label_column) else {
        return exec_err!(
            "{function}: model {} is evaluated against its label column {label_column:?}, which the query does not return",
            model.label()
        );
    };
    let (names, positive) = class_names(function, model)?;
    let lookup: std::collections::HashMap<&str, u32> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let (mut proba, mut labels) = (Vec::new(), Vec::new());
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let arrays: Vec<ArrayRef> = feature_idx
            .iter()
            .map(|&i| std::sync::Arc::clone(batch.column(i)))
            .collect();
        let c = classify_arrays(function, model, &arrays, batch.num_rows(), false)?;
        let label = datafusion::arrow::compute::cast(batch.column(label_idx), &DataType::Utf8)?;
        let label = label.as_string::<i32>();
        for r in 0..batch.num_rows() {
            if label.is_null(r) || c.nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                continue;
            }
            let Some(&y) = lookup.get(label.value(r)) else {
                return exec_err!(
                    "{function}: label value {:?} was not a class when model {} was trained (classes: {})",
                    label.value(r),
                    model.label(),
                    names.join(", ")
                );
            };
            labels.push(y);
            proba.extend_from_slice(&c.proba[r * c.classes..(r + 1) * c.classes]);
        }
    }
    Ok((labels, proba, names.to_vec(), positive))
}

/// Plans and runs `query`, scoring it with the two-class `model`: per labelled row, whether it
/// is positive and P(positive). For `ml_roc_curve` and `ml_lift_table`.
pub async fn binary_scores(
    function: &str,
    model: &Model,
    state: &datafusion::execution::SessionState,
    query: &datafusion::logical_expr::LogicalPlan,
) -> Result<(Vec<bool>, Vec<f64>)> {
    let physical = state.create_physical_plan(query).await?;
    let idx = crate::ml::model_args::feature_indices(function, model, &physical.schema())?;
    let stream = datafusion::physical_plan::execute_stream(physical, state.task_ctx())?;
    let (labels, proba, names, positive) =
        labelled_probabilities(function, model, stream, &idx).await?;
    let Some(pos) = positive else {
        return exec_err!(
            "{function}: model {} has {} classes; {function} needs a two-class model",
            model.label(),
            names.len()
        );
    };
    let classes = names.len();
    let y = labels.iter().map(|&l| l as usize == pos).collect();
    let p = (0..labels.len())
        .map(|r| proba[r * classes + pos])
        .collect();
    Ok((y, p))
}
