//! `CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (…) AS <query>`.
//!
//! Planning validates the options (before any data is read) and plans the training query.
//! Executing streams the query into memory accounted to the session's memory pool, fits the
//! model on a blocking thread, and writes it to the registry as a new version:
//!
//! - plain `CREATE MODEL` fails if the model exists;
//! - `OR REPLACE` trains a new version (older versions stay addressable as `name@N`);
//! - `IF NOT EXISTS` does nothing when the model exists.
//!
//! "Exists" is checked before training (to save the work) and decided again by the registry's
//! atomic write of the first version ([`ModelRegistry::save_first`]), so of two sessions or
//! processes creating the same model at once only one writes a version.
//!
//! Dropping the result stream (Ctrl-C in the shell, a client going away) stops reading and
//! makes the fit stop at its next iteration; nothing is written.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionContext;
use ecomsql_udfs::model::options::{ValidOptions, validate};
use ecomsql_udfs::model::train::{self, TrainStatus};

use super::one_batch_stream;
use super::parser::CreateModel;
use crate::registry::{ModelRegistry, Saved};

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        datafusion::logical_expr::Documentation::builder(
            ecomsql_udfs::doc::DOC_SECTION_MODELS,
            "Trains a model on the rows of a query and stores it in the registry as a new \
             version. Every column of the query except the label is a feature: numbers \
             (standardised for kmeans; NULLs imputed with the training mean), booleans (0/1) and \
             strings (one-hot over the training vocabulary). Options are validated before any \
             data is read. Plain CREATE fails if the model exists; OR REPLACE trains a new \
             version (older ones stay addressable as name@N); IF NOT EXISTS does nothing if it \
             exists. kmeans options: num_clusters (number or 'auto' with auto_min_clusters, \
             auto_max_clusters: best silhouette on a 20 000-row sample), standardize (true), init \
             ('kmeans++' or 'random'), max_iterations (100), tolerance (1e-4), n_init (1), seed \
             (0), distance ('euclidean' or 'cosine'), max_training_rows (10M; past it a uniform \
             sample). naive_bayes options: label (required), var_smoothing (1e-9), \
             max_training_rows, seed. logistic_reg options: label (required; boolean, 0/1 or two \
             strings), positive_class, l2 (1.0), max_iterations (100), tolerance (1e-4), \
             class_weights ('balanced' or 'a:w, b:w'), standardize (true), data_split ('random' \
             (default, 20% by row hash) | 'column' | 'none'), data_split_fraction, \
             data_split_column, max_training_rows, seed. boosted_tree options: label, \
             positive_class, num_trees (100), max_depth (6), learning_rate (0.1), \
             min_rows_per_leaf (20), subsample (1.0), early_stop (true), l2 (1.0), the data_split \
             options, max_training_rows, seed; missing values and strings are handled natively. \
             text_classifier (the query returns one string column, the text, besides the label \
             and split column) options: label (required), positive_class, l2 (1.0), \
             max_iterations (100), tolerance (1e-4), class_weights, num_features (262144 hash \
             buckets, 16 to 2097152), word_ngrams (2: words and word pairs; 0 for none), \
             char_ngram_min / char_ngram_max (character n-grams within word boundaries; English \
             2-4 and Chinese 1-3 unless given; char_ngram_max = 0 for none), language ('auto': \
             Chinese character n-grams when the text has Han characters, else English words and \
             characters; 'en'; 'zh'), sublinear_tf (true), idf (true), the data_split options, \
             max_training_rows (1M), seed. NULL text trains as an empty text and predicts NULL.",
            "CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (model_type = '…', key = value, …) AS SELECT …",
        )
        .with_argument("name", "Letters, digits and _ (not starting with a digit).")
        .with_argument("model_type", "'kmeans' (segments), 'naive_bayes' (Gaussian naive Bayes classifier), 'logistic_reg' or 'boosted_tree' (binary propensity), 'text_classifier' (binary classifier of text: hashed word and character n-grams, logistic regression); classifiers need label.")
        .with_sql_example(
            "```sql\n\
             > CREATE OR REPLACE MODEL seg OPTIONS (model_type = 'kmeans', num_clusters = 6)\n\
               AS SELECT orders, revenue, recency_days FROM user_features;\n\
             > SELECT * FROM ml_model_info('seg');\n\
             > CREATE MODEL happy OPTIONS (model_type = 'text_classifier', label = 'good')\n\
               AS SELECT review_text, rating >= 4 AS good FROM reviews WHERE rating <> 3;\n\
             > SELECT predict_proba('happy', 'Arrived broken, waste of money');\n\
             ```",
        )
        .build()
    });

/// The statement's documentation (`\h create model` in the shell).
pub fn documentation() -> &'static datafusion::logical_expr::Documentation {
    &DOCUMENTATION
}

/// A planned `CREATE MODEL`.
#[derive(Debug)]
pub struct CreatePlan {
    stmt: CreateModel,
    options: ValidOptions,
    input: Arc<dyn ExecutionPlan>,
    registry: Arc<ModelRegistry>,
    status: Arc<TrainStatus>,
    threads: usize,
}

/// Sets the cancel flag when the statement's future is dropped before finishing.
struct CancelOnDrop(Arc<TrainStatus>, bool);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancel.store(true, Ordering::Relaxed);
        }
    }
}

impl CreatePlan {
    /// The output schema: one row describing the result.
    pub fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("version", DataType::Int64, false),
            Field::new("model_type", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("rows_used", DataType::Int64, true),
            Field::new("training_seconds", DataType::Float64, true),
            Field::new("key_metric", DataType::Utf8, false),
            Field::new("key_metric_value", DataType::Float64, true),
        ]))
    }

    /// Validates the options and plans the training query.
    pub async fn plan(
        ctx: &SessionContext,
        registry: Arc<ModelRegistry>,
        stmt: CreateModel,
    ) -> Result<Self> {
        let options = validate(&stmt.name, &stmt.options)?;
        let state = ctx.state();
        let logical = state
            .create_logical_plan(&stmt.query)
            .await
            .map_err(|e| e.context(format!("CREATE MODEL {}: the training query", stmt.name)))?;
        // `plan_logical` refused a non-query already; this keeps the plan itself honest for any
        // other caller.
        if let Some(what) = ecomsql_udfs::query_arg::non_query_node(&logical)? {
            return Err(DataFusionError::Plan(format!(
                "CREATE MODEL {}: AS must be followed by a query (SELECT, WITH or VALUES), not {what}",
                stmt.name
            )));
        }
        let input = state.create_physical_plan(&logical).await?;
        // Training threads: no more than the cores, however many partitions queries use.
        let threads = state
            .config()
            .target_partitions()
            .clamp(1, crate::config::cores());
        Ok(Self {
            stmt,
            options,
            input,
            registry,
            status: Arc::new(TrainStatus::default()),
            threads,
        })
    }

    /// The training query's plan.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    /// Live progress.
    pub fn status(&self) -> Arc<TrainStatus> {
        Arc::clone(&self.status)
    }

    /// Trains and saves the model.
    pub fn execute(&self, task_ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let stmt = self.stmt.clone();
        let options = self.options.clone();
        let input = Arc::clone(&self.input);
        let registry = Arc::clone(&self.registry);
        let status = Arc::clone(&self.status);
        let threads = self.threads;
        Ok(one_batch_stream(Self::schema(), async move {
            let name = stmt.name.clone();
            let key_metric = options.model_type().key_metric();
            let existing = registry.versions(&name)?;
            if let Some(&latest) = existing.last() {
                if stmt.if_not_exists {
                    return result_row(&name, latest, &options, "exists", None, None, None);
                }
                if !stmt.or_replace {
                    return Err(already_exists(&name, latest));
                }
            }
            let mut guard = CancelOnDrop(Arc::clone(&status), false);
            let mut reservation = MemoryConsumer::new(format!("CREATE MODEL {name}"))
                .register(task_ctx.memory_pool());
            let stream = execute_stream(input, task_ctx)?;
            let data = train::collect(&name, &options, stream, &mut reservation, &status).await?;
            let fit_status = Arc::clone(&status);
            let fit_options = options.clone();
            let query = stmt.query.clone();
            let fit_name = name.clone();
            let model = tokio::task::spawn_blocking(move || {
                train::fit(&fit_name, &query, &fit_options, data, threads, &fit_status)
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
            drop(reservation);
            let rows = model.training.rows_used;
            let seconds = model.training.seconds;
            let metric = model.metrics.get(key_metric).copied();
            // Plain CREATE and IF NOT EXISTS decide whether the model exists again, atomically
            // with the write: the check above only saves training time, and another process may
            // have created the model while this one trained.
            let or_replace = stmt.or_replace;
            let saved = tokio::task::spawn_blocking(move || {
                if or_replace {
                    registry.save(model).map(Saved::Created)
                } else {
                    registry.save_first(model)
                }
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
            guard.1 = true;
            let version = match saved {
                Saved::Created(v) => v,
                Saved::Exists(latest) if stmt.if_not_exists => {
                    return result_row(&name, latest, &options, "exists", None, None, None);
                }
                Saved::Exists(latest) => return Err(already_exists(&name, latest)),
            };
            result_row(
                &name,
                version,
                &options,
                "created",
                Some(rows),
                Some(seconds),
                metric,
            )
        }))
    }
}

fn already_exists(name: &str, latest: u32) -> DataFusionError {
    DataFusionError::Plan(format!(
        "CREATE MODEL {name}: model {name} already exists (latest version {latest}); use CREATE OR REPLACE MODEL to train a new version, or DROP MODEL {name}"
    ))
}

fn result_row(
    name: &str,
    version: u32,
    options: &ValidOptions,
    status: &str,
    rows: Option<u64>,
    seconds: Option<f64>,
    metric: Option<f64>,
) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        CreatePlan::schema(),
        vec![
            Arc::new(StringArray::from(vec![name])),
            Arc::new(Int64Array::from(vec![i64::from(version)])),
            Arc::new(StringArray::from(vec![options.model_type().as_str()])),
            Arc::new(StringArray::from(vec![status])),
            Arc::new(Int64Array::from(vec![rows.map(|r| r as i64)])),
            Arc::new(Float64Array::from(vec![seconds])),
            Arc::new(StringArray::from(vec![options.model_type().key_metric()])),
            Arc::new(Float64Array::from(vec![metric])),
        ],
    )?)
}
