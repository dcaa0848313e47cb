//! Applying a k-means model to feature arrays: encode with the model's stored feature
//! specification, then assign each row to its nearest centroid. Shared by `segment`,
//! `segment_distance`, `ml_predict` and `ml_evaluate`, so they always agree.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::buffer::NullBuffer;
use datafusion::common::{Result, exec_err};

use crate::model::artifact::KMeansBody;
use crate::model::features::{EncodedBatch, encode_batch};
use crate::model::options::parse_distance;
use crate::model::{Model, ModelBody};
use crate::segments::kmeans::{self, KMeansDistance};

/// Cluster (0-based) and distance per row, and which rows have a result.
#[derive(Debug)]
pub struct Assignment {
    /// Nearest centroid, 0-based.
    pub labels: Vec<u32>,
    /// Distance to it in the encoded feature space.
    pub distances: Vec<f64>,
    /// Rows without a result (a non-finite feature value).
    pub nulls: Option<NullBuffer>,
    /// The encoded rows (for metrics).
    pub encoded: EncodedBatch,
}

/// The k-means part of `model`, or an error naming the function and model.
pub fn kmeans_body<'m>(function: &str, model: &'m Model) -> Result<&'m KMeansBody> {
    match &model.body {
        // A file that passed its checksum can still have been edited by hand: check the shapes
        // the kernel relies on rather than let it panic.
        ModelBody::Kmeans(k)
            if k.k == 0
                || k.centroids.len() != k.k * k.width
                || k.cluster_sizes.len() != k.k
                || k.centroids.iter().any(|c| !c.is_finite()) =>
        {
            exec_err!(
                "{function}: model {} is damaged: {} centroids of width {} do not match its {} values",
                model.label(),
                k.k,
                k.width,
                k.centroids.len()
            )
        }
        ModelBody::Kmeans(k) => Ok(k),
        _ => exec_err!(
            "{function}: model {} is a {} model; {function} needs a kmeans model",
            model.label(),
            model.model_type.as_str()
        ),
    }
}

/// The distance a k-means body was trained with.
pub fn body_distance(body: &KMeansBody) -> KMeansDistance {
    parse_distance(&body.distance).unwrap_or(KMeansDistance::Euclidean)
}

/// Encodes `arrays` for `model` and assigns every row.
pub fn assign_arrays(
    function: &str,
    model: &Model,
    arrays: &[ArrayRef],
    rows: usize,
) -> Result<Assignment> {
    let body = kmeans_body(function, model)?;
    let what = format!("{function}: model {}", model.label());
    let encoded = encode_batch(
        &what,
        &model.features,
        model.standardize,
        model.native_encoding,
        arrays,
        rows,
    )?;
    if encoded.columns.len() != body.width {
        return exec_err!(
            "{what} is damaged: its features encode to {} columns but its centroids have {}",
            encoded.columns.len(),
            body.width
        );
    }
    let mut labels = vec![0u32; rows];
    let mut distances = vec![0.0; rows];
    kmeans::assign(
        &encoded.slices(),
        &body.centroids,
        body.k,
        body_distance(body),
        &mut labels,
        &mut distances,
    );
    Ok(Assignment {
        labels,
        distances,
        nulls: encoded.nulls.clone(),
        encoded,
    })
}
