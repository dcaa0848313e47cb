//! `CREATE MODEL … OPTIONS (key = value, …)`: validated once, before any data is read
//! (linfa's `Params → check() → ValidParams` pattern). Every error names the model and the
//! option; unknown options list the accepted ones.

use std::collections::BTreeMap;

use datafusion::common::{Result, plan_err};

use super::artifact::ModelType;
use crate::segments::kmeans::{KMeansDistance, KMeansInit};

/// A value as written in `OPTIONS`.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A quoted string.
    Str(String),
    /// A number, as written.
    Number(String),
    /// `true` / `false`.
    Bool(bool),
}

impl std::fmt::Display for OptionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionValue::Str(s) => write!(f, "'{s}'"),
            OptionValue::Number(n) => f.write_str(n),
            OptionValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `num_clusters`: a number or `'auto'` (search a range).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumClusters {
    /// Exactly k.
    Fixed(usize),
    /// Try every k in `min..=max` on a sample and keep the best silhouette.
    Auto {
        /// Smallest k tried.
        min: usize,
        /// Largest k tried.
        max: usize,
    },
}

/// Validated k-means options.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansOptions {
    /// Number of clusters.
    pub num_clusters: NumClusters,
    /// Standardise numeric features (default true).
    pub standardize: bool,
    /// Initialisation (default k-means++).
    pub init: KMeansInit,
    /// Lloyd iterations per run (default 100).
    pub max_iterations: usize,
    /// Relative tolerance on centroid movement (default 1e-4, as scikit-learn).
    pub tolerance: f64,
    /// Independent runs; the lowest inertia wins (default 1, as scikit-learn with k-means++).
    pub n_init: usize,
    /// Random seed (default 0: training is reproducible unless you change it).
    pub seed: u64,
    /// Distance (default Euclidean).
    pub distance: KMeansDistance,
    /// Past this many rows a uniform sample is used (default 10M).
    pub max_training_rows: usize,
}

/// Validated naive Bayes options.
#[derive(Debug, Clone, PartialEq)]
pub struct NaiveBayesOptions {
    /// The label column.
    pub label: String,
    /// Share of the largest feature variance added to every variance (default 1e-9).
    pub var_smoothing: f64,
    /// Past this many rows a uniform sample is used (default 10M).
    pub max_training_rows: usize,
    /// Seed of the sample (default 0).
    pub seed: u64,
}

/// How training rows are held out for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSplit {
    /// Train and evaluate on every row.
    None,
    /// Hold out this share of rows, chosen by a hash of each row's values (so the split is the
    /// same on every run, whatever the row order).
    Random(f64),
    /// Hold out the rows where this boolean column is true (it is not a feature).
    Column(String),
}

impl std::fmt::Display for DataSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSplit::None => f.write_str("none"),
            DataSplit::Random(x) => write!(f, "random {x}"),
            DataSplit::Column(c) => write!(f, "column {c}"),
        }
    }
}

/// Class weights of a classifier.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassWeights {
    /// Every row weighs 1.
    None,
    /// Each class gets the same total weight (`n / (classes × n_class)`, as scikit-learn).
    Balanced,
    /// Explicit weight per class label, e.g. `'true:5, false:1'`.
    Explicit(Vec<(String, f64)>),
}

/// Validated logistic regression options.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticOptions {
    /// The label column.
    pub label: String,
    /// The positive class (default: the later of the two sorted labels: true, 1, …).
    pub positive_class: Option<String>,
    /// L2 penalty (default 1.0, scikit-learn's C = 1).
    pub l2: f64,
    /// L-BFGS iterations (default 100).
    pub max_iterations: usize,
    /// Gradient tolerance (default 1e-4).
    pub tolerance: f64,
    /// Class weights (default none).
    pub class_weights: ClassWeights,
    /// Standardise numeric features (default true).
    pub standardize: bool,
    /// Held-out rows (default random 0.2).
    pub data_split: DataSplit,
    /// Past this many rows a uniform sample is used (default 10M).
    pub max_training_rows: usize,
    /// Seed of the sample (default 0).
    pub seed: u64,
}

/// Validated boosted-tree options.
#[derive(Debug, Clone, PartialEq)]
pub struct BoostedTreeOptions {
    /// The label column.
    pub label: String,
    /// The positive class (default: the later of the two sorted labels).
    pub positive_class: Option<String>,
    /// The kernel's parameters.
    pub params: crate::propensity::boosted_tree::BoostParams,
    /// Held-out rows (default random 0.2).
    pub data_split: DataSplit,
    /// Past this many rows a uniform sample is used (default 10M).
    pub max_training_rows: usize,
}

/// Validated text classifier options.
#[derive(Debug, Clone, PartialEq)]
pub struct TextClassifierOptions {
    /// The label column.
    pub label: String,
    /// The positive class (default: the later of the two sorted labels).
    pub positive_class: Option<String>,
    /// L2 penalty (default 1.0, scikit-learn's C = 1).
    pub l2: f64,
    /// L-BFGS iterations (default 100).
    pub max_iterations: usize,
    /// Gradient tolerance (default 1e-4).
    pub tolerance: f64,
    /// Class weights (default none).
    pub class_weights: ClassWeights,
    /// How texts become features.
    pub hashing: crate::sentiment::text_hashing::TextHashing,
    /// Held-out rows (default random 0.2).
    pub data_split: DataSplit,
    /// Past this many rows a uniform sample is used (default 1M: text rows are large).
    pub max_training_rows: usize,
    /// Seed of the sample (default 0).
    pub seed: u64,
}

/// Options of a model type, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidOptions {
    /// k-means.
    Kmeans(KMeansOptions),
    /// Gaussian naive Bayes.
    NaiveBayes(NaiveBayesOptions),
    /// Logistic regression.
    LogisticReg(LogisticOptions),
    /// Boosted trees.
    BoostedTree(BoostedTreeOptions),
    /// Text classifier.
    TextClassifier(TextClassifierOptions),
}

const KMEANS_KEYS: &[&str] = &[
    "model_type",
    "num_clusters",
    "auto_min_clusters",
    "auto_max_clusters",
    "standardize",
    "init",
    "max_iterations",
    "tolerance",
    "n_init",
    "seed",
    "distance",
    "max_training_rows",
];
const LOGISTIC_KEYS: &[&str] = &[
    "model_type",
    "label",
    "positive_class",
    "l2",
    "max_iterations",
    "tolerance",
    "class_weights",
    "standardize",
    "data_split",
    "data_split_fraction",
    "data_split_column",
    "max_training_rows",
    "seed",
];
const BOOSTED_TREE_KEYS: &[&str] = &[
    "model_type",
    "label",
    "positive_class",
    "num_trees",
    "max_depth",
    "learning_rate",
    "min_rows_per_leaf",
    "subsample",
    "early_stop",
    "l2",
    "data_split",
    "data_split_fraction",
    "data_split_column",
    "max_training_rows",
    "seed",
];
const TEXT_CLASSIFIER_KEYS: &[&str] = &[
    "model_type",
    "label",
    "positive_class",
    "l2",
    "max_iterations",
    "tolerance",
    "class_weights",
    "num_features",
    "word_ngrams",
    "char_ngram_min",
    "char_ngram_max",
    "language",
    "sublinear_tf",
    "idf",
    "data_split",
    "data_split_fraction",
    "data_split_column",
    "max_training_rows",
    "seed",
];
const NAIVE_BAYES_KEYS: &[&str] = &[
    "model_type",
    "label",
    "var_smoothing",
    "max_training_rows",
    "seed",
];

/// Default row cap before sampling.
pub const DEFAULT_MAX_TRAINING_ROWS: usize = 10_000_000;
/// Default row cap of text models (a review's n-grams take a few kilobytes in training).
pub const DEFAULT_MAX_TEXT_ROWS: usize = 1_000_000;

impl ValidOptions {
    /// The model type.
    pub fn model_type(&self) -> ModelType {
        match self {
            ValidOptions::Kmeans(_) => ModelType::Kmeans,
            ValidOptions::NaiveBayes(_) => ModelType::NaiveBayes,
            ValidOptions::LogisticReg(_) => ModelType::LogisticReg,
            ValidOptions::BoostedTree(_) => ModelType::BoostedTree,
            ValidOptions::TextClassifier(_) => ModelType::TextClassifier,
        }
    }

    /// The label column, for supervised types.
    pub fn label(&self) -> Option<&str> {
        match self {
            ValidOptions::Kmeans(_) => None,
            ValidOptions::NaiveBayes(o) => Some(&o.label),
            ValidOptions::LogisticReg(o) => Some(&o.label),
            ValidOptions::BoostedTree(o) => Some(&o.label),
            ValidOptions::TextClassifier(o) => Some(&o.label),
        }
    }

    /// The boolean column marking held-out rows, when the split is by column.
    pub fn split_column(&self) -> Option<&str> {
        match self {
            ValidOptions::LogisticReg(LogisticOptions {
                data_split: DataSplit::Column(c),
                ..
            })
            | ValidOptions::BoostedTree(BoostedTreeOptions {
                data_split: DataSplit::Column(c),
                ..
            })
            | ValidOptions::TextClassifier(TextClassifierOptions {
                data_split: DataSplit::Column(c),
                ..
            }) => Some(c),
            _ => None,
        }
    }

    /// Whether numeric features are standardised.
    pub fn standardize(&self) -> bool {
        match self {
            ValidOptions::Kmeans(o) => o.standardize,
            ValidOptions::NaiveBayes(_) => false,
            ValidOptions::LogisticReg(o) => o.standardize,
            ValidOptions::BoostedTree(_) | ValidOptions::TextClassifier(_) => false,
        }
    }

    /// Whether the model uses the native feature encoding (trees).
    pub fn native_encoding(&self) -> bool {
        matches!(self, ValidOptions::BoostedTree(_))
    }

    /// Whether the model takes one text column (kept as text, featurized by the model).
    pub fn text_input(&self) -> bool {
        matches!(self, ValidOptions::TextClassifier(_))
    }

    /// Row cap and sampling seed.
    pub fn sampling(&self) -> (usize, u64) {
        match self {
            ValidOptions::Kmeans(o) => (o.max_training_rows, o.seed),
            ValidOptions::NaiveBayes(o) => (o.max_training_rows, o.seed),
            ValidOptions::LogisticReg(o) => (o.max_training_rows, o.seed),
            ValidOptions::BoostedTree(o) => (o.max_training_rows, o.params.seed),
            ValidOptions::TextClassifier(o) => (o.max_training_rows, o.seed),
        }
    }

    /// Every option in effect (defaults included), as text, for `ml_model_info`.
    pub fn effective(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("model_type", self.model_type().as_str().to_string());
        match self {
            ValidOptions::Kmeans(o) => {
                match o.num_clusters {
                    NumClusters::Fixed(k) => put("num_clusters", k.to_string()),
                    NumClusters::Auto { min, max } => {
                        put("num_clusters", "auto".into());
                        put("auto_min_clusters", min.to_string());
                        put("auto_max_clusters", max.to_string());
                    }
                }
                put("standardize", o.standardize.to_string());
                put(
                    "init",
                    match o.init {
                        KMeansInit::KMeansPlusPlus => "kmeans++",
                        KMeansInit::Random => "random",
                    }
                    .into(),
                );
                put("max_iterations", o.max_iterations.to_string());
                put("tolerance", o.tolerance.to_string());
                put("n_init", o.n_init.to_string());
                put("seed", o.seed.to_string());
                put("distance", distance_name(o.distance).into());
                put("max_training_rows", o.max_training_rows.to_string());
            }
            ValidOptions::LogisticReg(o) => {
                put("label", o.label.clone());
                if let Some(p) = &o.positive_class {
                    put("positive_class", p.clone());
                }
                put("l2", o.l2.to_string());
                put("max_iterations", o.max_iterations.to_string());
                put("tolerance", o.tolerance.to_string());
                put("class_weights", class_weights_text(&o.class_weights));
                put("standardize", o.standardize.to_string());
                put("data_split", o.data_split.to_string());
                put("max_training_rows", o.max_training_rows.to_string());
                put("seed", o.seed.to_string());
            }
            ValidOptions::BoostedTree(o) => {
                put("label", o.label.clone());
                if let Some(p) = &o.positive_class {
                    put("positive_class", p.clone());
                }
                let p = &o.params;
                put("num_trees", p.num_trees.to_string());
                put("max_depth", p.max_depth.to_string());
                put("learning_rate", p.learning_rate.to_string());
                put("min_rows_per_leaf", p.min_rows_per_leaf.to_string());
                put("subsample", p.subsample.to_string());
                put("early_stop", p.early_stop.to_string());
                put("l2", p.l2.to_string());
                put("data_split", o.data_split.to_string());
                put("max_training_rows", o.max_training_rows.to_string());
                put("seed", p.seed.to_string());
            }
            ValidOptions::TextClassifier(o) => {
                put("label", o.label.clone());
                if let Some(p) = &o.positive_class {
                    put("positive_class", p.clone());
                }
                put("l2", o.l2.to_string());
                put("max_iterations", o.max_iterations.to_string());
                put("tolerance", o.tolerance.to_string());
                put("class_weights", class_weights_text(&o.class_weights));
                let h = &o.hashing;
                put("num_features", h.num_features.to_string());
                put("word_ngrams", h.word_ngrams.to_string());
                let range = |[lo, hi]: [usize; 2]| {
                    if hi == 0 {
                        "none".to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                };
                put(
                    "char_ngrams",
                    format!(
                        "en {}, zh {}",
                        range(h.en_char_ngrams),
                        range(h.zh_char_ngrams)
                    ),
                );
                put("language", h.language.as_str().into());
                put("sublinear_tf", h.sublinear_tf.to_string());
                put("idf", h.idf.to_string());
                put("data_split", o.data_split.to_string());
                put("max_training_rows", o.max_training_rows.to_string());
                put("seed", o.seed.to_string());
            }
            ValidOptions::NaiveBayes(o) => {
                put("label", o.label.clone());
                put("var_smoothing", o.var_smoothing.to_string());
                put("max_training_rows", o.max_training_rows.to_string());
                put("seed", o.seed.to_string());
            }
        }
        m
    }
}

fn class_weights_text(w: &ClassWeights) -> String {
    match w {
        ClassWeights::None => "none".into(),
        ClassWeights::Balanced => "balanced".into(),
        ClassWeights::Explicit(v) => v
            .iter()
            .map(|(c, w)| format!("{c}:{w}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The SQL spelling of a distance.
pub fn distance_name(d: KMeansDistance) -> &'static str {
    match d {
        KMeansDistance::Euclidean => "euclidean",
        KMeansDistance::Cosine => "cosine",
    }
}

/// Parses a stored distance name.
pub fn parse_distance(s: &str) -> Option<KMeansDistance> {
    match s.to_ascii_lowercase().as_str() {
        "euclidean" => Some(KMeansDistance::Euclidean),
        "cosine" => Some(KMeansDistance::Cosine),
        _ => None,
    }
}

struct Reader<'a> {
    model: &'a str,
    values: BTreeMap<String, OptionValue>,
}

impl Reader<'_> {
    fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.values.remove(key) {
            None => Ok(None),
            Some(OptionValue::Str(s)) => Ok(Some(s)),
            Some(other) => plan_err!(
                "CREATE MODEL {}: option {key} must be a quoted string, got {other}",
                self.model
            ),
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.values.remove(key) {
            None => Ok(default),
            Some(OptionValue::Bool(b)) => Ok(b),
            Some(OptionValue::Str(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(OptionValue::Str(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => plan_err!(
                "CREATE MODEL {}: option {key} must be true or false, got {other}",
                self.model
            ),
        }
    }

    fn float(&mut self, key: &str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        let v = match self.values.remove(key) {
            None => return Ok(default),
            Some(OptionValue::Number(n)) => n.parse::<f64>().ok(),
            Some(other) => {
                return plan_err!(
                    "CREATE MODEL {}: option {key} must be a number, got {other}",
                    self.model
                );
            }
        };
        match v {
            Some(v) if v.is_finite() && v >= lo && v <= hi => Ok(v),
            _ => plan_err!(
                "CREATE MODEL {}: option {key} must be a number between {lo} and {hi}",
                self.model
            ),
        }
    }

    fn int(&mut self, key: &str, default: u64, lo: u64, hi: u64) -> Result<u64> {
        let v = match self.values.remove(key) {
            None => return Ok(default),
            Some(OptionValue::Number(n)) => n.parse::<u64>().ok(),
            Some(other) => {
                return plan_err!(
                    "CREATE MODEL {}: option {key} must be an integer, got {other}",
                    self.model
                );
            }
        };
        match v {
            Some(v) if v >= lo && v <= hi => Ok(v),
            _ => plan_err!(
                "CREATE MODEL {}: option {key} must be an integer between {lo} and {hi}",
                self.model
            ),
        }
    }
}

/// Validates `options` for a `CREATE MODEL model`.
pub fn validate(model: &str, options: &[(String, OptionValue)]) -> Result<ValidOptions> {
    let mut values = BTreeMap::new();
    for (k, v) in options {
        let key = k.to_ascii_lowercase();
        if values.insert(key.clone(), v.clone()).is_some() {
            return plan_err!("CREATE MODEL {model}: option {key} is given twice");
        }
    }
    let mut r = Reader { model, values };
    let Some(type_text) = r.string("model_type")? else {
        return plan_err!(
            "CREATE MODEL {model}: OPTIONS must include model_type (one of {})",
            type_list()
        );
    };
    let Some(model_type) = ModelType::parse(&type_text) else {
        return plan_err!(
            "CREATE MODEL {model}: unknown model_type '{type_text}' (expected one of {})",
            type_list()
        );
    };
    let allowed = match model_type {
        ModelType::Kmeans => KMEANS_KEYS,
        ModelType::NaiveBayes => NAIVE_BAYES_KEYS,
        ModelType::LogisticReg => LOGISTIC_KEYS,
        ModelType::BoostedTree => BOOSTED_TREE_KEYS,
        ModelType::TextClassifier => TEXT_CLASSIFIER_KEYS,
    };
    if let Some(unknown) = r.values.keys().find(|k| !allowed.contains(&k.as_str())) {
        return plan_err!(
            "CREATE MODEL {model}: unknown option {unknown} for model_type '{}' (accepted: {})",
            model_type.as_str(),
            allowed.join(", ")
        );
    }
    let max_rows = |r: &mut Reader| -> Result<usize> {
        Ok(r.int(
            "max_training_rows",
            DEFAULT_MAX_TRAINING_ROWS as u64,
            1,
            1 << 40,
        )? as usize)
    };
    Ok(match model_type {
        ModelType::Kmeans => {
            let auto_min = r.int("auto_min_clusters", 2, 2, 100)? as usize;
            let auto_max = r.int("auto_max_clusters", 10, 2, 100)? as usize;
            let num_clusters = match r.values.remove("num_clusters") {
                None => {
                    return plan_err!(
                        "CREATE MODEL {model}: kmeans needs num_clusters (a number from 1 to 10000, or 'auto')"
                    );
                }
                Some(OptionValue::Str(s)) if s.eq_ignore_ascii_case("auto") => {
                    if auto_min > auto_max {
                        return plan_err!(
                            "CREATE MODEL {model}: auto_min_clusters ({auto_min}) is larger than auto_max_clusters ({auto_max})"
                        );
                    }
                    NumClusters::Auto {
                        min: auto_min,
                        max: auto_max,
                    }
                }
                Some(OptionValue::Number(n)) => match n.parse::<usize>() {
                    Ok(k) if (1..=10_000).contains(&k) => NumClusters::Fixed(k),
                    _ => {
                        return plan_err!(
                            "CREATE MODEL {model}: option num_clusters must be an integer from 1 to 10000 or 'auto', got {n}"
                        );
                    }
                },
                Some(other) => {
                    return plan_err!(
                        "CREATE MODEL {model}: option num_clusters must be an integer from 1 to 10000 or 'auto', got {other}"
                    );
                }
            };
            let init = match r.string("init")?.as_deref().map(str::to_ascii_lowercase) {
                None => KMeansInit::KMeansPlusPlus,
                Some(s) if s == "kmeans++" || s == "k-means++" => KMeansInit::KMeansPlusPlus,
                Some(s) if s == "random" => KMeansInit::Random,
                Some(s) => {
                    return plan_err!(
                        "CREATE MODEL {model}: option init must be 'kmeans++' or 'random', got '{s}'"
                    );
                }
            };
            let distance = match r.string("distance")? {
                None => KMeansDistance::Euclidean,
                Some(s) => match parse_distance(&s) {
                    Some(d) => d,
                    None => {
                        return plan_err!(
                            "CREATE MODEL {model}: option distance must be 'euclidean' or 'cosine', got '{s}'"
                        );
                    }
                },
            };
            ValidOptions::Kmeans(KMeansOptions {
                num_clusters,
                standardize: r.bool("standardize", true)?,
                init,
                max_iterations: r.int("max_iterations", 100, 1, 100_000)? as usize,
                tolerance: r.float("tolerance", 1e-4, 0.0, 1.0)?,
                n_init: r.int("n_init", 1, 1, 1000)? as usize,
                seed: r.int("seed", 0, 0, u64::MAX)?,
                distance,
                max_training_rows: max_rows(&mut r)?,
            })
        }
        ModelType::LogisticReg => {
            let Some(label) = r.string("label")? else {
                return plan_err!(
                    "CREATE MODEL {model}: logistic_reg needs label = '<column>' naming the binary label column of the training query"
                );
            };
            let class_weights = class_weights_option(model, &mut r)?;
            let data_split = data_split_option(model, &mut r)?;
            ValidOptions::LogisticReg(LogisticOptions {
                label,
                positive_class: r.string("positive_class")?,
                l2: r.float("l2", 1.0, 0.0, 1e12)?,
                max_iterations: r.int("max_iterations", 100, 1, 100_000)? as usize,
                tolerance: r.float("tolerance", 1e-4, 0.0, 1.0)?,
                class_weights,
                standardize: r.bool("standardize", true)?,
                data_split,
                max_training_rows: max_rows(&mut r)?,
                seed: r.int("seed", 0, 0, u64::MAX)?,
            })
        }
        ModelType::BoostedTree => {
            let Some(label) = r.string("label")? else {
                return plan_err!(
                    "CREATE MODEL {model}: boosted_tree needs label = '<column>' naming the binary label column of the training query"
                );
            };
            let data_split = data_split_option(model, &mut r)?;
            let defaults = crate::propensity::boosted_tree::BoostParams::default();
            let params = crate::propensity::boosted_tree::BoostParams {
                num_trees: r.int("num_trees", defaults.num_trees as u64, 1, 100_000)? as usize,
                max_depth: r.int("max_depth", defaults.max_depth as u64, 1, 16)? as usize,
                learning_rate: r.float("learning_rate", defaults.learning_rate, 1e-6, 1.0)?,
                min_rows_per_leaf: r.int(
                    "min_rows_per_leaf",
                    defaults.min_rows_per_leaf as u64,
                    1,
                    1 << 40,
                )? as usize,
                subsample: r.float("subsample", defaults.subsample, 0.01, 1.0)?,
                early_stop: r.bool("early_stop", defaults.early_stop)?,
                l2: r.float("l2", defaults.l2, 0.0, 1e12)?,
                seed: r.int("seed", 0, 0, u64::MAX)?,
                ..defaults
            };
            ValidOptions::BoostedTree(BoostedTreeOptions {
                label,
                positive_class: r.string("positive_class")?,
                params,
                data_split,
                max_training_rows: max_rows(&mut r)?,
            })
        }
        ModelType::TextClassifier => {
            let Some(label) = r.string("label")? else {
                return plan_err!(
                    "CREATE MODEL {model}: text_classifier needs label = '<column>' naming the binary label column of the training query (for example rating >= 4)"
                );
            };
            let class_weights = class_weights_option(model, &mut r)?;
            let data_split = data_split_option(model, &mut r)?;
            let hashing = text_hashing_option(model, &mut r)?;
            ValidOptions::TextClassifier(TextClassifierOptions {
                label,
                positive_class: r.string("positive_class")?,
                l2: r.float("l2", 1.0, 0.0, 1e12)?,
                max_iterations: r.int("max_iterations", 100, 1, 100_000)? as usize,
                tolerance: r.float("tolerance", 1e-4, 0.0, 1.0)?,
                class_weights,
                hashing,
                data_split,
                max_training_rows: r.int(
                    "max_training_rows",
                    DEFAULT_MAX_TEXT_ROWS as u64,
                    1,
                    1 << 40,
                )? as usize,
                seed: r.int("seed", 0, 0, u64::MAX)?,
            })
        }
        ModelType::NaiveBayes => {
            let Some(label) = r.string("label")? else {
                return plan_err!(
                    "CREATE MODEL {model}: naive_bayes needs label = '<column>' naming the class column of the training query"
                );
            };
            ValidOptions::NaiveBayes(NaiveBayesOptions {
                label,
                var_smoothing: r.float("var_smoothing", 1e-9, 0.0, 1.0)?,
                max_training_rows: max_rows(&mut r)?,
                seed: r.int("seed", 0, 0, u64::MAX)?,
            })
        }
    })
}

/// `class_weights` (binary classifiers).
fn class_weights_option(model: &str, r: &mut Reader) -> Result<ClassWeights> {
    Ok(match r.string("class_weights")? {
        None => ClassWeights::None,
        Some(s) if s.eq_ignore_ascii_case("balanced") => ClassWeights::Balanced,
        Some(s) if s.eq_ignore_ascii_case("none") => ClassWeights::None,
        Some(s) => {
            let mut v = Vec::new();
            for part in s.split(',') {
                let parsed = part
                    .rsplit_once(':')
                    .and_then(|(c, w)| Some((c.trim().to_string(), w.trim().parse::<f64>().ok()?)))
                    .filter(|(c, w)| !c.is_empty() && w.is_finite() && *w > 0.0);
                match parsed {
                    Some(p) => v.push(p),
                    None => {
                        return plan_err!(
                            "CREATE MODEL {model}: option class_weights must be 'balanced' or 'class:weight, class:weight' with positive weights, got '{s}'"
                        );
                    }
                }
            }
            ClassWeights::Explicit(v)
        }
    })
}

/// `num_features`, `word_ngrams`, `char_ngram_min`, `char_ngram_max`, `language`,
/// `sublinear_tf`, `idf` (text classifiers). The character n-gram range applies to both
/// analyses when given; an end not given keeps each analysis' default (English 2–4, Chinese
/// 1–3). `char_ngram_max = 0` turns character n-grams off.
fn text_hashing_option(
    model: &str,
    r: &mut Reader,
) -> Result<crate::sentiment::text_hashing::TextHashing> {
    use crate::sentiment::text_classifier::MAX_FEATURES;
    use crate::sentiment::text_hashing::{TextHashing, TextLanguage};
    let d = TextHashing::default();
    let num_features = r.int(
        "num_features",
        d.num_features as u64,
        16,
        MAX_FEATURES as u64,
    )? as usize;
    let word_ngrams = r.int("word_ngrams", d.word_ngrams as u64, 0, 4)? as usize;
    let lo = r
        .values
        .contains_key("char_ngram_min")
        .then(|| r.int("char_ngram_min", 1, 1, 8))
        .transpose()?;
    let hi = r
        .values
        .contains_key("char_ngram_max")
        .then(|| r.int("char_ngram_max", 4, 0, 8))
        .transpose()?;
    let range = |[dlo, dhi]: [usize; 2]| -> Result<[usize; 2]> {
        let (lo, hi) = (
            lo.map_or(dlo, |v| v as usize),
            hi.map_or(dhi, |v| v as usize),
        );
        if hi > 0 && lo > hi {
            return plan_err!(
                "CREATE MODEL {model}: char_ngram_min ({lo}) is larger than char_ngram_max ({hi})"
            );
        }
        Ok([lo, hi])
    };
    let en_char_ngrams = range(d.en_char_ngrams)?;
    let zh_char_ngrams = range(d.zh_char_ngrams)?;
    let language = match r.string("language")? {
        None => d.language,
        Some(s) => match TextLanguage::parse(&s) {
            Some(l) => l,
            None => {
                return plan_err!(
                    "CREATE MODEL {model}: option language must be 'auto', 'en' or 'zh', got '{s}'"
                );
            }
        },
    };
    if language != TextLanguage::Zh && word_ngrams == 0 && en_char_ngrams[1] == 0 {
        return plan_err!(
            "CREATE MODEL {model}: word_ngrams = 0 and char_ngram_max = 0 leave English text without features"
        );
    }
    if language != TextLanguage::En && zh_char_ngrams[1] == 0 {
        return plan_err!(
            "CREATE MODEL {model}: char_ngram_max = 0 leaves Chinese text without features (Chinese uses character n-grams only; set language = 'en' to use words)"
        );
    }
    Ok(TextHashing {
        num_features,
        word_ngrams,
        en_char_ngrams,
        zh_char_ngrams,
        language,
        sublinear_tf: r.bool("sublinear_tf", d.sublinear_tf)?,
        idf: r.bool("idf", d.idf)?,
    })
}

/// `data_split`, `data_split_fraction`, `data_split_column` (binary classifiers).
fn data_split_option(model: &str, r: &mut Reader) -> Result<DataSplit> {
    let fraction = r.float("data_split_fraction", 0.2, 0.0, 0.9)?;
    let column = r.string("data_split_column")?;
    let data_split = match r.string("data_split")?.map(|s| s.to_ascii_lowercase()) {
        None if column.is_some() => DataSplit::Column(column.clone().unwrap_or_default()),
        None => DataSplit::Random(fraction),
        Some(s) if s == "random" => DataSplit::Random(fraction),
        Some(s) if s == "none" || s == "no_split" => DataSplit::None,
        Some(s) if s == "column" => match column.clone() {
            Some(c) => DataSplit::Column(c),
            None => {
                return plan_err!(
                    "CREATE MODEL {model}: data_split = 'column' needs data_split_column = '<boolean column>' (true marks held-out rows)"
                );
            }
        },
        Some(s) => {
            return plan_err!(
                "CREATE MODEL {model}: option data_split must be 'random', 'column' or 'none', got '{s}'"
            );
        }
    };
    if matches!(data_split, DataSplit::Random(f) if f == 0.0) {
        return plan_err!(
            "CREATE MODEL {model}: data_split_fraction must be above 0 for data_split = 'random' (use data_split = 'none' to train on every row)"
        );
    }
    Ok(data_split)
}

fn type_list() -> String {
    ModelType::ALL
        .iter()
        .map(|t| format!("'{}'", t.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> Vec<(String, OptionValue)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    fn s(x: &str) -> OptionValue {
        OptionValue::Str(x.into())
    }
    fn n(x: &str) -> OptionValue {
        OptionValue::Number(x.into())
    }

    #[test]
    fn kmeans_defaults_and_values() {
        let v = validate(
            "seg",
            &opts(&[("MODEL_TYPE", s("KMeans")), ("num_clusters", n("6"))]),
        )
        .unwrap();
        let ValidOptions::Kmeans(k) = v else { panic!() };
        assert_eq!(k.num_clusters, NumClusters::Fixed(6));
        assert!(k.standardize);
        assert_eq!(k.max_training_rows, DEFAULT_MAX_TRAINING_ROWS);
        let v = validate(
            "seg",
            &opts(&[
                ("model_type", s("kmeans")),
                ("num_clusters", s("auto")),
                ("distance", s("cosine")),
                ("standardize", OptionValue::Bool(false)),
            ]),
        )
        .unwrap();
        assert_eq!(v.effective()["num_clusters"], "auto");
        assert_eq!(v.effective()["distance"], "cosine");
    }

    #[test]
    fn text_classifier_defaults_and_values() {
        let v = validate(
            "tc",
            &opts(&[("model_type", s("text_classifier")), ("label", s("good"))]),
        )
        .unwrap();
        assert!(v.text_input());
        let e = v.effective();
        assert_eq!(e["num_features"], "262144");
        assert_eq!(e["char_ngrams"], "en 2-4, zh 1-3");
        assert_eq!(e["language"], "auto");
        assert_eq!(e["max_training_rows"], DEFAULT_MAX_TEXT_ROWS.to_string());
        let v = validate(
            "tc",
            &opts(&[
                ("model_type", s("text_classifier")),
                ("label", s("good")),
                ("char_ngram_max", n("3")),
                ("word_ngrams", n("1")),
                ("language", s("ZH")),
                ("num_features", n("1024")),
                ("class_weights", s("balanced")),
            ]),
        )
        .unwrap();
        let ValidOptions::TextClassifier(o) = v else {
            panic!()
        };
        assert_eq!(o.hashing.en_char_ngrams, [2, 3]);
        assert_eq!(o.hashing.zh_char_ngrams, [1, 3]);
        assert_eq!(o.hashing.word_ngrams, 1);
        assert_eq!(o.hashing.num_features, 1024);
        assert_eq!(o.class_weights, ClassWeights::Balanced);
    }

    #[test]
    fn every_mistake_is_named() {
        let cases: Vec<(Vec<(String, OptionValue)>, &str)> = vec![
            (opts(&[]), "must include model_type"),
            (
                opts(&[("model_type", s("svm"))]),
                "unknown model_type 'svm'",
            ),
            (opts(&[("model_type", s("kmeans"))]), "needs num_clusters"),
            (
                opts(&[("model_type", s("kmeans")), ("num_clusters", n("0"))]),
                "num_clusters must be an integer from 1 to 10000",
            ),
            (
                opts(&[
                    ("model_type", s("kmeans")),
                    ("num_clusters", n("3")),
                    ("colour", s("red")),
                ]),
                "unknown option colour for model_type 'kmeans'",
            ),
            (
                opts(&[
                    ("model_type", s("kmeans")),
                    ("num_clusters", n("3")),
                    ("tolerance", n("-1")),
                ]),
                "tolerance must be a number between 0 and 1",
            ),
            (
                opts(&[
                    ("model_type", s("kmeans")),
                    ("num_clusters", n("3")),
                    ("init", s("magic")),
                ]),
                "init must be 'kmeans++' or 'random'",
            ),
            (
                opts(&[
                    ("model_type", s("kmeans")),
                    ("num_clusters", n("3")),
                    ("n_init", s("3")),
                ]),
                "n_init must be an integer",
            ),
            (
                opts(&[("model_type", s("kmeans")), ("model_type", s("kmeans"))]),
                "given twice",
            ),
            (opts(&[("model_type", s("naive_bayes"))]), "needs label"),
            (opts(&[("model_type", s("text_classifier"))]), "needs label"),
            (
                opts(&[
                    ("model_type", s("text_classifier")),
                    ("label", s("y")),
                    ("language", s("fr")),
                ]),
                "language must be 'auto', 'en' or 'zh', got 'fr'",
            ),
            (
                opts(&[
                    ("model_type", s("text_classifier")),
                    ("label", s("y")),
                    ("char_ngram_min", n("5")),
                ]),
                "char_ngram_min (5) is larger than char_ngram_max (4)",
            ),
            (
                opts(&[
                    ("model_type", s("text_classifier")),
                    ("label", s("y")),
                    ("num_features", n("8")),
                ]),
                "num_features must be an integer between 16 and 2097152",
            ),
            (
                opts(&[
                    ("model_type", s("text_classifier")),
                    ("label", s("y")),
                    ("char_ngram_max", n("0")),
                ]),
                "leaves Chinese text without features",
            ),
            (
                opts(&[
                    ("model_type", s("text_classifier")),
                    ("label", s("y")),
                    ("standardize", OptionValue::Bool(true)),
                ]),
                "unknown option standardize for model_type 'text_classifier'",
            ),
        ];
        for (o, want) in cases {
            let err = validate("seg", &o).unwrap_err().to_string();
            assert!(err.contains(want), "want {want:?} in {err}");
            assert!(err.contains("seg"), "{err}");
        }
    }
}
