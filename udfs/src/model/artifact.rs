//! The model artifact: everything a trained model is, in one serialisable value. The registry
//! stores one per version (see `format.rs` for the bytes); `ml_model_info` shows it.
//!
//! Fields are only ever added (with `#[serde(default)]`), never renamed or removed, so files
//! written by an older ecomsql keep loading; a change that cannot be expressed that way bumps
//! [`super::format::FORMAT_VERSION`] and adds a migration there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::features::FeatureSpec;
use crate::segments::gaussian_nb::GaussianNb;

/// The kinds of model ecomsql trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    /// k-means clustering (customer segments).
    Kmeans,
    /// Gaussian naive Bayes classifier (known segment labels).
    NaiveBayes,
    /// L2-regularised binary logistic regression (propensity).
    LogisticReg,
    /// Gradient-boosted decision trees, binary (propensity).
    BoostedTree,
    /// Binary classifier of free text: hashed n-grams and logistic regression (sentiment on
    /// the user's own labels).
    TextClassifier,
}

impl ModelType {
    /// Every model type, as accepted by `OPTIONS (model_type = …)`.
    pub const ALL: [ModelType; 5] = [
        ModelType::Kmeans,
        ModelType::NaiveBayes,
        ModelType::LogisticReg,
        ModelType::BoostedTree,
        ModelType::TextClassifier,
    ];

    /// The SQL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelType::Kmeans => "kmeans",
            ModelType::NaiveBayes => "naive_bayes",
            ModelType::LogisticReg => "logistic_reg",
            ModelType::BoostedTree => "boosted_tree",
            ModelType::TextClassifier => "text_classifier",
        }
    }

    /// Parses the SQL spelling (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The metric `SHOW MODELS` shows for this type.
    pub fn key_metric(self) -> &'static str {
        match self {
            ModelType::Kmeans => "davies_bouldin_index",
            ModelType::NaiveBayes => "accuracy",
            ModelType::LogisticReg | ModelType::BoostedTree | ModelType::TextClassifier => {
                "roc_auc"
            }
        }
    }
}

/// How the training data was read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// The `AS <query>` text, verbatim.
    pub query: String,
    /// Rows the query returned.
    pub rows_seen: u64,
    /// Rows the model was fitted on (fewer than `rows_seen` when sampled or when rows without a
    /// label were skipped).
    pub rows_used: u64,
    /// Whether a uniform sample (reservoir) of `max_training_rows` was used.
    pub sampled: bool,
    /// Rows skipped because the label was NULL (classifiers).
    #[serde(default)]
    pub rows_without_label: u64,
    /// Wall-clock seconds from the first row read to the model being ready.
    pub seconds: f64,
    /// An order-independent XXH64-based fingerprint of the rows used (hex), to tell whether two
    /// versions were trained on the same data.
    pub fingerprint: String,
}

/// One step of the `num_clusters = 'auto'` search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoKStep {
    /// Number of clusters tried.
    pub k: usize,
    /// Mean silhouette on the selection sample (the criterion; higher is better); `None` when
    /// it is undefined (fewer than two non-empty clusters).
    pub silhouette: Option<f64>,
    /// Inertia on the selection sample.
    pub inertia: f64,
}

/// A fitted k-means model. Centroids live in the encoded feature space (standardised numerics,
/// then one-hot columns), k × width row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansBody {
    /// Number of clusters.
    pub k: usize,
    /// Encoded width (numeric features + one-hot columns).
    pub width: usize,
    /// `euclidean` or `cosine`.
    pub distance: String,
    /// k × width centroids, row-major, in the encoded space.
    pub centroids: Vec<f64>,
    /// Training rows per cluster.
    pub cluster_sizes: Vec<u64>,
    /// Lloyd iterations of the best run.
    pub iterations: usize,
    /// Whether the best run converged before `max_iterations`.
    pub converged: bool,
    /// The `'auto'` search curve (empty when `num_clusters` was a number).
    #[serde(default)]
    pub auto_k: Vec<AutoKStep>,
}

/// A fitted Gaussian naive Bayes classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveBayesBody {
    /// The label column's name in the training query.
    pub label: String,
    /// Class labels (as text), sorted; class i of the kernel is `classes[i]`.
    pub classes: Vec<String>,
    /// The class whose probability `predict_proba` returns for a two-class model (the second
    /// in sort order: `true`, `1`, or the later string).
    pub positive_class: Option<String>,
    /// The fitted kernel.
    pub nb: GaussianNb,
}

/// A fitted binary logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticBody {
    /// The label column's name in the training query.
    pub label: String,
    /// The two class labels (as text), sorted.
    pub classes: Vec<String>,
    /// The class whose probability the model predicts.
    pub positive_class: String,
    /// Weight given to each class in training (`classes` order).
    pub class_weights: Vec<f64>,
    /// How rows were held out for evaluation (`none`, `random 0.2`, `column c`).
    pub data_split: String,
    /// Rows held out (the stored metrics are computed on them; on the training rows when 0).
    pub eval_rows: u64,
    /// The fitted kernel (coefficients on the encoded, standardised features).
    pub model: crate::propensity::logistic::LogisticModel,
}

/// A fitted boosted-tree classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTreeBody {
    /// The label column's name in the training query.
    pub label: String,
    /// The two class labels (as text), sorted.
    pub classes: Vec<String>,
    /// The class whose probability the model predicts.
    pub positive_class: String,
    /// How rows were held out for evaluation.
    pub data_split: String,
    /// Rows held out (the stored metrics are computed on them; on the training rows when 0).
    pub eval_rows: u64,
    /// The fitted trees (on the native encoding).
    pub trees: crate::propensity::boosted_tree::BoostedTrees,
    /// `trees` in prediction form, compiled by the first prediction and reused by every batch
    /// after it (not stored).
    #[serde(skip)]
    pub compiled: crate::propensity::boosted_tree::CompiledCache,
}

/// A fitted text classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifierBody {
    /// The label column's name in the training query.
    pub label: String,
    /// The two class labels (as text), sorted.
    pub classes: Vec<String>,
    /// The class whose probability the model predicts.
    pub positive_class: String,
    /// Weight given to each class in training (`classes` order).
    pub class_weights: Vec<f64>,
    /// How rows were held out for evaluation.
    pub data_split: String,
    /// Rows held out (the stored metrics are computed on them; on the training rows when 0).
    pub eval_rows: u64,
    /// The fitted kernel: featurizer settings, idf, weights per hash bucket.
    pub model: crate::sentiment::text_classifier::TextClassifier,
}

/// The fitted part of a model, by type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelBody {
    /// k-means.
    Kmeans(KMeansBody),
    /// Gaussian naive Bayes.
    NaiveBayes(NaiveBayesBody),
    /// Logistic regression.
    LogisticReg(LogisticBody),
    /// Boosted trees.
    BoostedTree(BoostedTreeBody),
    /// Text classifier.
    TextClassifier(TextClassifierBody),
}

/// A trained model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The model's name.
    pub name: String,
    /// Its version (1, 2, …), assigned by the store when written.
    pub version: u32,
    /// What kind of model it is.
    pub model_type: ModelType,
    /// Every option in effect, defaults included, as text (`ml_model_info` shows them).
    pub options: BTreeMap<String, String>,
    /// Whether numeric features were standardised.
    pub standardize: bool,
    /// Whether features use the native encoding (tree models: raw numbers with missing values
    /// kept, strings as vocabulary indices) instead of imputed numbers and one-hot strings.
    #[serde(default)]
    pub native_encoding: bool,
    /// The input features, in the order functions take them.
    pub features: Vec<FeatureSpec>,
    /// How the training data was read.
    pub training: TrainingInfo,
    /// Evaluation on the training data (or on a held-out part when the type supports it).
    pub metrics: BTreeMap<String, f64>,
    /// RFC 3339 UTC time of training.
    pub created_at: String,
    /// The ecomsql version that trained it.
    pub ecomsql_version: String,
    /// The fitted parameters.
    pub body: ModelBody,
}

impl Model {
    /// `name@version`, for messages.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}
