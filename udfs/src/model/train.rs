//! Training: stream a query's result into memory ([`collect`]), then fit the model type's kernel
//! and evaluate it on the training data ([`fit`]). The caller (the application's statement
//! layer) runs [`fit`] off the async runtime, accounts memory to its pool and writes the result
//! to its registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::MemoryReservation;
use futures::StreamExt;
use rand::SeedableRng;
use rand::seq::index::sample;

use super::artifact::{
    AutoKStep, BoostedTreeBody, KMeansBody, LogisticBody, Model, ModelBody, NaiveBayesBody,
    TextClassifierBody, TrainingInfo,
};
use super::features::{TrainingCollector, TrainingData};
use super::options::{
    BoostedTreeOptions, ClassWeights, DataSplit, KMeansOptions, LogisticOptions, NaiveBayesOptions,
    NumClusters, TextClassifierOptions, ValidOptions, distance_name,
};
use crate::metrics::davies_bouldin::davies_bouldin;
use crate::metrics::silhouette::silhouette;
use crate::propensity::boosted_tree::{BoostParams, BoostedTrees};
use crate::propensity::logistic::{self, LogisticParams};
use crate::segments::gaussian_nb::GaussianNb;
use crate::segments::kmeans::{self, KMeansDistance, KMeansError, KMeansParams};

/// Rows on which `silhouette` is computed (it is quadratic in the sample size): 5,000 rows give
/// the mean to about ±0.003 and cost 25M distances, a fraction of a second; 10,000 took 74% of
/// CREATE MODEL on 35k users × 9 features.
pub const SILHOUETTE_SAMPLE: usize = 5_000;
/// Rows on which `num_clusters = 'auto'` compares candidate k.
pub const AUTO_K_SAMPLE: usize = 20_000;

/// Live training state, readable from another thread (the shell's progress line).
#[derive(Debug, Default)]
pub struct TrainStatus {
    /// Training rows read so far.
    pub rows_read: AtomicU64,
    /// Current Lloyd iteration (k-means), summed over runs.
    pub iterations: AtomicU64,
    /// Set to stop training (the query was cancelled).
    pub cancel: AtomicBool,
}

impl TrainStatus {
    /// Counts one iteration (or tree) and says whether to go on: the observer every kernel's
    /// fit loop calls.
    pub fn tick(&self) -> std::ops::ControlFlow<()> {
        self.iterations.fetch_add(1, Ordering::Relaxed);
        if self.cancel.load(Ordering::Relaxed) {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }
}

/// Streams `input` into a column-major training store, growing `reservation` as rows arrive
/// (so a training set that does not fit the session's memory limit fails with a clear error
/// instead of exhausting the machine).
pub async fn collect(
    model: &str,
    options: &ValidOptions,
    mut input: SendableRecordBatchStream,
    reservation: &mut MemoryReservation,
    status: &TrainStatus,
) -> Result<TrainingData> {
    let (max_rows, seed) = options.sampling();
    let schema = input.schema();
    let standardize = options.standardize();
    let new = if options.text_input() {
        TrainingCollector::try_new_text
    } else {
        TrainingCollector::try_new
    };
    let mut collector = new(
        model,
        &schema,
        options.label(),
        options.split_column(),
        max_rows,
        seed,
    )?;
    while let Some(batch) = input.next().await {
        let batch = batch?;
        let appended = collector.push(&batch)?;
        reservation
            .try_grow(appended)
            .map_err(|e| {
                DataFusionError::ResourcesExhausted(format!(
                    "CREATE MODEL {model}: the training data does not fit the memory limit after {} rows (lower max_training_rows or raise --memory-limit): {e}",
                    collector.rows_kept()
                ))
            })?;
        status
            .rows_read
            .store(collector.rows_seen(), Ordering::Relaxed);
        if status.cancel.load(Ordering::Relaxed) {
            return exec_err!("CREATE MODEL {model}: cancelled");
        }
    }
    // One-hot expansion and imputation happen in place except the one-hot blocks.
    collector.finish(standardize, options.native_encoding())
}

/// Fits the model described by `options` on `data`. `threads` bounds the parallelism.
pub fn fit(
    name: &str,
    query: &str,
    options: &ValidOptions,
    data: TrainingData,
    threads: usize,
    status: &TrainStatus,
) -> Result<Model> {
    let started = Instant::now();
    if data.rows() == 0 {
        return plan_err!(
            "CREATE MODEL {name}: the training query returned no usable rows (empty training set)"
        );
    }
    let mut metrics = std::collections::BTreeMap::new();
    let body = match options {
        ValidOptions::Kmeans(o) => fit_kmeans(name, o, &data, threads, status, &mut metrics)?,
        ValidOptions::NaiveBayes(o) => fit_naive_bayes(name, o, &data, &mut metrics)?,
        ValidOptions::LogisticReg(o) => {
            fit_logistic(name, o, &data, threads, status, &mut metrics)?
        }
        ValidOptions::BoostedTree(o) => fit_boosted(name, o, &data, threads, status, &mut metrics)?,
        ValidOptions::TextClassifier(o) => {
            fit_text_classifier(name, o, &data, threads, status, &mut metrics)?
        }
    };
    // JSON has no NaN or infinity: an undefined metric is left out rather than stored.
    metrics.retain(|_, v| v.is_finite());
    let standardize = options.standardize();
    Ok(Model {
        name: name.to_string(),
        version: 0,
        model_type: options.model_type(),
        options: options.effective(),
        standardize,
        native_encoding: options.native_encoding(),
        features: data.specs,
        training: TrainingInfo {
            query: query.to_string(),
            rows_seen: data.rows_seen,
            rows_used: data.rows_used,
            sampled: data.sampled,
            rows_without_label: data.rows_without_label,
            seconds: started.elapsed().as_secs_f64(),
            fingerprint: data.fingerprint,
        },
        metrics,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ecomsql_version: env!("CARGO_PKG_VERSION").to_string(),
        body,
    })
}

fn kmeans_error(name: &str, e: KMeansError) -> DataFusionError {
    match e {
        KMeansError::TooFewRows { rows, k } => DataFusionError::Plan(format!(
            "CREATE MODEL {name}: num_clusters ({k}) is larger than the number of training rows ({rows})"
        )),
        KMeansError::NoRows => DataFusionError::Plan(format!(
            "CREATE MODEL {name}: the training query returned no rows (empty training set)"
        )),
        KMeansError::Cancelled => {
            DataFusionError::Execution(format!("CREATE MODEL {name}: cancelled"))
        }
    }
}

fn kmeans_params(o: &KMeansOptions, k: usize, threads: usize) -> KMeansParams {
    KMeansParams {
        k,
        init: o.init,
        max_iterations: o.max_iterations,
        tolerance: o.tolerance,
        n_init: o.n_init,
        seed: o.seed,
        distance: o.distance,
        threads,
    }
}

fn run_kmeans(
    name: &str,
    columns: &[&[f64]],
    params: &KMeansParams,
    status: &TrainStatus,
) -> Result<kmeans::KMeansFit> {
    let mut observer = |_p: kmeans::FitProgress| status.tick();
    kmeans::fit(columns, params, &mut observer).map_err(|e| kmeans_error(name, e))
}

/// Picks rows `idx` of every column.
fn take_rows(columns: &[&[f64]], idx: &[usize]) -> Vec<Vec<f64>> {
    columns
        .iter()
        .map(|c| idx.iter().map(|&i| c[i]).collect())
        .collect()
}

fn sample_indices(rows: usize, size: usize, seed: u64) -> Vec<usize> {
    if rows <= size {
        return (0..rows).collect();
    }
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0xa070_4b5e);
    let mut idx = sample(&mut rng, rows, size).into_vec();
    idx.sort_unstable();
    idx
}

fn fit_kmeans(
    name: &str,
    o: &KMeansOptions,
    data: &TrainingData,
    threads: usize,
    status: &TrainStatus,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) -> Result<ModelBody> {
    let columns = data.slices();
    let rows = data.rows();
    let mut auto_k = Vec::new();
    let k = match o.num_clusters {
        NumClusters::Fixed(k) => k,
        NumClusters::Auto { min, max } => {
            // Compare candidates on one sample: fit on it, score by silhouette on it.
            let idx = sample_indices(rows, AUTO_K_SAMPLE, o.seed);
            let owned = take_rows(&columns, &idx);
            let sample_cols: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
            let mut best: Option<(f64, usize)> = None;
            for k in min..=max.min(idx.len().saturating_sub(1)) {
                let fit = run_kmeans(name, &sample_cols, &kmeans_params(o, k, threads), status)?;
                let mut labels = vec![0u32; idx.len()];
                let mut dist = vec![0.0; idx.len()];
                kmeans::assign(
                    &sample_cols,
                    &fit.centroids,
                    fit.k,
                    o.distance,
                    &mut labels,
                    &mut dist,
                );
                let s = silhouette(&sample_cols, &labels, k, o.distance, 5_000, o.seed);
                auto_k.push(AutoKStep {
                    k,
                    silhouette: s,
                    inertia: fit.inertia,
                });
                let score = s.unwrap_or(f64::NEG_INFINITY);
                if best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, k));
                }
            }
            match best {
                Some((_, k)) => k,
                None => {
                    return plan_err!(
                        "CREATE MODEL {name}: num_clusters = 'auto' needs more than {min} training rows, got {rows}"
                    );
                }
            }
        }
    };
    let fit = run_kmeans(name, &columns, &kmeans_params(o, k, threads), status)?;
    let mut labels = vec![0u32; rows];
    let mut dist = vec![0.0; rows];
    kmeans::assign(
        &columns,
        &fit.centroids,
        fit.k,
        o.distance,
        &mut labels,
        &mut dist,
    );
    cluster_metrics(
        &columns,
        &labels,
        &dist,
        &fit.centroids,
        k,
        o.distance,
        o.seed,
        metrics,
    );
    metrics.insert("iterations".into(), fit.iterations as f64);
    Ok(ModelBody::Kmeans(KMeansBody {
        k,
        width: columns.len(),
        distance: distance_name(o.distance).to_string(),
        centroids: fit.centroids,
        cluster_sizes: fit.cluster_sizes,
        iterations: fit.iterations,
        converged: fit.converged,
        auto_k,
    }))
}

/// The k-means evaluation shared by training and `ml_evaluate`: inertia, mean squared distance,
/// Davies–Bouldin index and silhouette (on a sample), from rows already assigned.
#[allow(clippy::too_many_arguments)]
pub fn cluster_metrics(
    columns: &[&[f64]],
    labels: &[u32],
    distances: &[f64],
    centroids: &[f64],
    k: usize,
    distance: KMeansDistance,
    seed: u64,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) {
    let rows = labels.len();
    let inertia: f64 = distances.iter().map(|d| d * d).sum();
    metrics.insert("inertia".into(), inertia);
    metrics.insert("mean_squared_distance".into(), inertia / rows.max(1) as f64);
    if let Some(db) = davies_bouldin(columns, labels, centroids, k) {
        metrics.insert("davies_bouldin_index".into(), db);
    }
    if let Some(s) = silhouette(columns, labels, k, distance, SILHOUETTE_SAMPLE, seed) {
        metrics.insert("silhouette".into(), s);
    }
    metrics.insert("rows".into(), rows as f64);
}

fn fit_naive_bayes(
    name: &str,
    o: &NaiveBayesOptions,
    data: &TrainingData,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) -> Result<ModelBody> {
    let Some((labels, classes)) = &data.labels else {
        return exec_err!("CREATE MODEL {name}: no label column was collected");
    };
    if classes.len() < 2 {
        return plan_err!(
            "CREATE MODEL {name}: the label column {:?} has {} distinct value(s) in the training data; a classifier needs at least 2",
            o.label,
            classes.len()
        );
    }
    let columns = data.slices();
    let nb = GaussianNb::fit(&columns, labels, classes.len(), o.var_smoothing)
        .map_err(|e| DataFusionError::Plan(format!("CREATE MODEL {name}: {e}")))?;
    let rows = data.rows();
    let mut proba = vec![0.0; rows * classes.len()];
    nb.predict_proba(&columns, &mut proba);
    classification_metrics(&proba, labels, classes.len(), metrics);
    Ok(ModelBody::NaiveBayes(NaiveBayesBody {
        label: o.label.clone(),
        positive_class: (classes.len() == 2).then(|| classes[1].clone()),
        classes: classes.clone(),
        nb,
    }))
}

/// Multi-class metrics from row-major probabilities: accuracy, log loss, macro precision,
/// recall and F1. Shared by training and `ml_evaluate`.
pub fn classification_metrics(
    proba: &[f64],
    labels: &[u32],
    classes: usize,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) {
    let rows = labels.len();
    let mut correct = 0usize;
    let mut log_loss = 0.0;
    let mut tp = vec![0usize; classes];
    let mut predicted = vec![0usize; classes];
    let mut actual = vec![0usize; classes];
    for (r, &y) in labels.iter().enumerate() {
        let p = &proba[r * classes..(r + 1) * classes];
        let best = argmax(p);
        predicted[best] += 1;
        actual[y as usize] += 1;
        if best == y as usize {
            correct += 1;
            tp[best] += 1;
        }
        log_loss -= p[y as usize].clamp(1e-15, 1.0).ln();
    }
    let n = rows.max(1) as f64;
    metrics.insert("accuracy".into(), correct as f64 / n);
    metrics.insert("log_loss".into(), log_loss / n);
    let (mut precision, mut recall, mut f1) = (0.0, 0.0, 0.0);
    for c in 0..classes {
        let p = if predicted[c] > 0 {
            tp[c] as f64 / predicted[c] as f64
        } else {
            0.0
        };
        let r = if actual[c] > 0 {
            tp[c] as f64 / actual[c] as f64
        } else {
            0.0
        };
        precision += p;
        recall += r;
        f1 += if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
    }
    let c = classes.max(1) as f64;
    metrics.insert("precision".into(), precision / c);
    metrics.insert("recall".into(), recall / c);
    metrics.insert("f1_score".into(), f1 / c);
    metrics.insert("rows".into(), rows as f64);
}

/// The binary labels of `data` (true = positive class) and the class names, or an error
/// naming the label column when it does not have exactly two values.
fn binary_labels(
    name: &str,
    label: &str,
    positive: Option<&str>,
    data: &TrainingData,
) -> Result<(Vec<bool>, Vec<String>, usize)> {
    let Some((codes, classes)) = &data.labels else {
        return exec_err!("CREATE MODEL {name}: no label column was collected");
    };
    if classes.len() != 2 {
        let shown: Vec<&str> = classes.iter().take(5).map(String::as_str).collect();
        return plan_err!(
            "CREATE MODEL {name}: the label column {label:?} must have exactly 2 distinct values (boolean, 0/1 or two strings), got {}: {}{}",
            classes.len(),
            shown.join(", "),
            if classes.len() > 5 { ", …" } else { "" }
        );
    }
    let pos = match positive {
        None => 1,
        Some(p) => match classes.iter().position(|c| c == p) {
            Some(i) => i,
            None => {
                return plan_err!(
                    "CREATE MODEL {name}: positive_class '{p}' is not a value of {label:?} (values: {})",
                    classes.join(", ")
                );
            }
        },
    };
    Ok((
        codes.iter().map(|&c| c as usize == pos).collect(),
        classes.clone(),
        pos,
    ))
}

/// Which kept rows are held out for evaluation.
fn held_out_rows(split: &DataSplit, data: &TrainingData) -> Vec<bool> {
    match split {
        DataSplit::None => vec![false; data.rows()],
        DataSplit::Column(_) => data
            .held_out
            .clone()
            .unwrap_or_else(|| vec![false; data.rows()]),
        DataSplit::Random(fraction) => data
            .row_hashes
            .iter()
            .map(|&h| ((h >> 11) as f64 / (1u64 << 53) as f64) < *fraction)
            .collect(),
    }
}

/// Rows `keep` of every column.
fn select_rows(columns: &[&[f64]], keep: &[bool]) -> Vec<Vec<f64>> {
    columns
        .iter()
        .map(|c| {
            c.iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| *v)
                .collect()
        })
        .collect()
}

/// A kernel's fit error as the statement's error: cancellation is an execution error, anything
/// else (single class, bad shapes) a problem with the training data.
fn kernel_error(name: &str, e: String) -> DataFusionError {
    if e.contains("cancelled") {
        DataFusionError::Execution(format!("CREATE MODEL {name}: cancelled"))
    } else {
        DataFusionError::Plan(format!("CREATE MODEL {name}: {e}"))
    }
}

/// Training and evaluation rows of a binary classifier, split as its `data_split` says.
struct BinarySplit {
    train: Vec<Vec<f64>>,
    train_y: Vec<bool>,
    eval: Vec<Vec<f64>>,
    eval_y: Vec<bool>,
    /// Kept-row numbers of the training and of the evaluation rows (for text models, whose
    /// rows are not in the column store).
    train_rows: Vec<usize>,
    eval_rows: Vec<usize>,
    /// Rows held out (0 when the model is evaluated on its training rows).
    held_out: usize,
}

impl BinarySplit {
    fn new(name: &str, split: &DataSplit, data: &TrainingData, y: &[bool]) -> Result<Self> {
        let held = held_out_rows(split, data);
        let train_mask: Vec<bool> = held.iter().map(|h| !h).collect();
        let held_out = held.iter().filter(|&&h| h).count();
        // Evaluate on the held-out rows, or on the training rows when nothing is held out.
        let eval_mask = if held_out > 0 {
            held
        } else {
            train_mask.clone()
        };
        let columns = data.slices();
        let pick = |mask: &[bool]| -> Vec<bool> {
            y.iter()
                .zip(mask)
                .filter(|(_, k)| **k)
                .map(|(v, _)| *v)
                .collect()
        };
        let train_y = pick(&train_mask);
        if train_y.is_empty() {
            return plan_err!(
                "CREATE MODEL {name}: every row is held out for evaluation; nothing is left to train on"
            );
        }
        let rows_of = |mask: &[bool]| -> Vec<usize> {
            mask.iter()
                .enumerate()
                .filter(|(_, k)| **k)
                .map(|(i, _)| i)
                .collect()
        };
        Ok(Self {
            train: select_rows(&columns, &train_mask),
            train_y,
            eval: select_rows(&columns, &eval_mask),
            eval_y: pick(&eval_mask),
            train_rows: rows_of(&train_mask),
            eval_rows: rows_of(&eval_mask),
            held_out,
        })
    }

    fn train_columns(&self) -> Vec<&[f64]> {
        self.train.iter().map(Vec::as_slice).collect()
    }

    fn eval_columns(&self) -> Vec<&[f64]> {
        self.eval.iter().map(Vec::as_slice).collect()
    }
}

/// The weight of each class (`classes` order) under `weights`, and the per-row weights of the
/// training rows (`None` when every row weighs 1).
fn class_weighting(
    name: &str,
    weights: &ClassWeights,
    label: &str,
    classes: &[String],
    pos: usize,
    train_y: &[bool],
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    let class_weights: Vec<f64> = match weights {
        ClassWeights::None => vec![1.0, 1.0],
        ClassWeights::Balanced => {
            let n = train_y.len() as f64;
            let p = train_y.iter().filter(|&&v| v).count() as f64;
            let by_pos = [n / (2.0 * (n - p).max(1.0)), n / (2.0 * p.max(1.0))];
            (0..2).map(|c| by_pos[usize::from(c == pos)]).collect()
        }
        ClassWeights::Explicit(v) => {
            let mut w = vec![1.0, 1.0];
            for (c, weight) in v {
                match classes.iter().position(|x| x == c) {
                    Some(i) => w[i] = *weight,
                    None => {
                        return plan_err!(
                            "CREATE MODEL {name}: class_weights names '{c}', which is not a value of {:?} (values: {})",
                            label,
                            classes.join(", ")
                        );
                    }
                }
            }
            w
        }
    };
    let weights: Option<Vec<f64>> = (class_weights != [1.0, 1.0]).then(|| {
        train_y
            .iter()
            .map(|&v| class_weights[if v { pos } else { 1 - pos }])
            .collect()
    });
    Ok((class_weights, weights))
}

fn fit_logistic(
    name: &str,
    o: &LogisticOptions,
    data: &TrainingData,
    threads: usize,
    status: &TrainStatus,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) -> Result<ModelBody> {
    let (y, classes, pos) = binary_labels(name, &o.label, o.positive_class.as_deref(), data)?;
    let split = BinarySplit::new(name, &o.data_split, data, &y)?;
    let train_cols = split.train_columns();
    let train_y = &split.train_y;
    let (class_weights, weights) =
        class_weighting(name, &o.class_weights, &o.label, &classes, pos, train_y)?;
    let params = LogisticParams {
        l2: o.l2,
        max_iterations: o.max_iterations,
        tolerance: o.tolerance,
        threads,
    };
    let mut observer = |_it: usize, _loss: f64| status.tick();
    let model = logistic::fit(
        &train_cols,
        train_y,
        weights.as_deref(),
        &params,
        &mut observer,
    )
    .map_err(|e| kernel_error(name, e))?;
    let eval_cols = split.eval_columns();
    let mut p = vec![0.0; split.eval_y.len()];
    model.predict_proba(&eval_cols, &mut p);
    binary_metrics(&split.eval_y, &p, 0.5, metrics);
    metrics.insert("iterations".into(), model.iterations as f64);
    Ok(ModelBody::LogisticReg(LogisticBody {
        label: o.label.clone(),
        positive_class: classes[pos].clone(),
        classes,
        class_weights,
        data_split: o.data_split.to_string(),
        eval_rows: split.held_out as u64,
        model,
    }))
}

fn fit_boosted(
    name: &str,
    o: &BoostedTreeOptions,
    data: &TrainingData,
    threads: usize,
    status: &TrainStatus,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) -> Result<ModelBody> {
    let (y, classes, pos) = binary_labels(name, &o.label, o.positive_class.as_deref(), data)?;
    let split = BinarySplit::new(name, &o.data_split, data, &y)?;
    let train_cols = split.train_columns();
    let train_y = &split.train_y;
    // String features arrive as vocabulary indices and are split on natively.
    let categorical: Vec<bool> = data
        .specs
        .iter()
        .map(|s| matches!(s.kind, super::features::FeatureKind::Categorical { .. }))
        .collect();
    let params = BoostParams {
        threads,
        ..o.params.clone()
    };
    let mut observer = |_tree: usize, _train: f64, _valid: Option<f64>| status.tick();
    let trees = BoostedTrees::fit(
        &train_cols,
        &categorical,
        train_y,
        None,
        &params,
        &mut observer,
    )
    .map_err(|e| kernel_error(name, e))?;
    let eval_cols = split.eval_columns();
    let mut p = vec![0.0; split.eval_y.len()];
    trees
        .predict_proba(&eval_cols, &mut p)
        .map_err(|e| DataFusionError::Execution(format!("CREATE MODEL {name}: {e}")))?;
    binary_metrics(&split.eval_y, &p, 0.5, metrics);
    metrics.insert("trees".into(), trees.trees.len() as f64);
    Ok(ModelBody::BoostedTree(BoostedTreeBody {
        label: o.label.clone(),
        positive_class: classes[pos].clone(),
        classes,
        data_split: o.data_split.to_string(),
        eval_rows: split.held_out as u64,
        trees,
        compiled: Default::default(),
    }))
}

fn fit_text_classifier(
    name: &str,
    o: &TextClassifierOptions,
    data: &TrainingData,
    threads: usize,
    status: &TrainStatus,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) -> Result<ModelBody> {
    use crate::sentiment::text_classifier::{self, TextFitParams};
    use crate::sentiment::text_hashing::HashScratch;
    let Some(texts) = &data.texts else {
        return exec_err!("CREATE MODEL {name}: no text column was collected");
    };
    let (y, classes, pos) = binary_labels(name, &o.label, o.positive_class.as_deref(), data)?;
    let split = BinarySplit::new(name, &o.data_split, data, &y)?;
    let train_y = &split.train_y;
    let (class_weights, weights) =
        class_weighting(name, &o.class_weights, &o.label, &classes, pos, train_y)?;
    let train_texts: Vec<&str> = split
        .train_rows
        .iter()
        .map(|&i| texts[i].as_str())
        .collect();
    let params = TextFitParams {
        hashing: o.hashing.clone(),
        logistic: LogisticParams {
            l2: o.l2,
            max_iterations: o.max_iterations,
            tolerance: o.tolerance,
            threads,
        },
    };
    let mut observer = |_it: usize, _loss: f64| status.tick();
    let model = text_classifier::fit(
        &train_texts,
        train_y,
        weights.as_deref(),
        &params,
        &mut observer,
    )
    .map_err(|e| kernel_error(name, e))?;
    let mut scratch = HashScratch::default();
    let p: Vec<f64> = split
        .eval_rows
        .iter()
        .map(|&i| model.predict_proba(&texts[i], &mut scratch))
        .collect();
    binary_metrics(&split.eval_y, &p, 0.5, metrics);
    metrics.insert("iterations".into(), model.iterations as f64);
    metrics.insert("nonzero_weights".into(), model.nonzero_weights() as f64);
    Ok(ModelBody::TextClassifier(TextClassifierBody {
        label: o.label.clone(),
        positive_class: classes[pos].clone(),
        classes,
        class_weights,
        data_split: o.data_split.to_string(),
        eval_rows: split.held_out as u64,
        model,
    }))
}

/// Binary classification metrics at `threshold`, shared by training and `ml_evaluate`:
/// roc_auc, pr_auc, log_loss, brier, accuracy, precision, recall, f1_score, positive_rate
/// (share predicted positive), rows.
pub fn binary_metrics(
    y: &[bool],
    p: &[f64],
    threshold: f64,
    metrics: &mut std::collections::BTreeMap<String, f64>,
) {
    use crate::metrics::binary;
    let mut put = |k: &str, v: Option<f64>| {
        if let Some(v) = v {
            metrics.insert(k.to_string(), v);
        }
    };
    put("roc_auc", binary::roc_auc(y, p));
    put("pr_auc", binary::pr_auc(y, p));
    put("log_loss", binary::log_loss(y, p));
    put("brier", binary::brier(y, p));
    let (mut tp, mut fp, mut fneg, mut tn) = (0.0, 0.0, 0.0, 0.0);
    for (&t, &q) in y.iter().zip(p) {
        match (q >= threshold, t) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            (false, false) => tn += 1.0,
        }
    }
    let n: f64 = tp + fp + fneg + tn;
    if n > 0.0 {
        put("accuracy", Some((tp + tn) / n));
        put("positive_rate", Some((tp + fp) / n));
    }
    let precision = (tp + fp > 0.0).then(|| tp / (tp + fp));
    let recall = (tp + fneg > 0.0).then(|| tp / (tp + fneg));
    put("precision", precision);
    put("recall", recall);
    if let (Some(pr), Some(rc)) = (precision, recall) {
        put(
            "f1_score",
            Some(if pr + rc > 0.0 {
                2.0 * pr * rc / (pr + rc)
            } else {
                0.0
            }),
        );
    }
    put("rows", Some(n));
}

/// Index of the largest value (first on ties).
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

/// Shares a `TrainStatus` between the training task and whoever displays progress.
pub type SharedStatus = Arc<TrainStatus>;
