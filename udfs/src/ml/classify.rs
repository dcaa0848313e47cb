//! Applying a classifier to feature arrays: encode with the model's stored feature
//! specification and compute class probabilities. Shared by `predict_label`, `predict_proba`,
//! `predict_label_probs`, `ml_predict` and `ml_evaluate`, so they always agree.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};

use crate::model::features::encode_batch;
use crate::model::train::argmax;
use crate::model::{Model, ModelBody};

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
        ModelBody::Kmeans(_) => exec_err!(
            "{function}: model {} is a kmeans model, not a classifier; use segment() for k-means models",
            model.label()
        ),
    }
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
    let encoded = encode_batch(&what, &model.features, model.standardize, features, rows)?;
    let classes = names.len();
    let mut proba = vec![0.0; rows * classes];
    match &model.body {
        ModelBody::NaiveBayes(b) => b.nb.predict_proba(&encoded.slices(), &mut proba),
        ModelBody::LogisticReg(b) => {
            let pos = positive.unwrap_or(1);
            let mut p = vec![0.0; rows];
            b.model.predict_proba(&encoded.slices(), &mut p);
            for (r, p) in p.into_iter().enumerate() {
                proba[r * 2 + pos] = p;
                proba[r * 2 + 1 - pos] = 1.0 - p;
            }
        }
        ModelBody::Kmeans(_) => unreachable!("class_names rejected k-means"),
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
