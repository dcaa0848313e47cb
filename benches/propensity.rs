//! Propensity kernels: logistic regression and boosted trees, training and scoring, on
//! 1,000,000 generated rows × 10 features (the sizes issue #5 names), plus `predict_proba`
//! through SQL.
//!
//! Data (seed 42, in memory):
//! - logistic: 10 standard-normal features, label drawn from σ(b + x·β) with fixed β
//!   (a problem a linear model can fit; scikit-learn's lbfgs sees the same rows in
//!   `benches/compare/propensity_kernel.py`);
//! - trees: 10 features with a non-linear, interacting log-odds, 10% missing values in one
//!   feature and one categorical feature with 20 levels (handled natively).
//!
//! Settings: logistic — l2 = 1 (C = 1), tolerance 1e-4, at most 100 iterations, 2 threads
//! (scikit-learn's defaults); trees — 100 trees of depth 6, learning rate 0.1, 20 rows per leaf,
//! 255 bins, no early stopping, 2 threads. Scoring kernels run on one thread; the SQL benchmark
//! (`sql_predict_proba_*`) scores 4,000,000 rows from memory with all cores, models looked up
//! in the registry.
//!
//! Run: `cargo bench --bench propensity`. With `PROPENSITY_EXPORT=<dir>` it first writes the
//! training rows, 200,000 held-out rows and our own fit's time and held-out quality
//! (`ours.json`) for `benches/compare/propensity_kernel.py`.

use std::hint::black_box;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

mod common;

use common::BenchSession;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecomsql_udfs::metrics::binary;
use ecomsql_udfs::propensity::boosted_tree::{BoostParams, BoostedTrees};
use ecomsql_udfs::propensity::logistic::{self, LogisticParams};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

const ROWS: usize = 1_000_000;
const TEST_ROWS: usize = 200_000;
const FEATURES: usize = 10;
/// The categorical feature of the tree data (codes 0..20).
const CATEGORICAL: usize = 7;
/// Rows scored by the SQL benchmark.
const SQL_ROWS: usize = 4 * ROWS;

/// Column-major rows and labels.
struct Data {
    columns: Vec<Vec<f64>>,
    labels: Vec<bool>,
}

impl Data {
    fn refs(&self) -> Vec<&[f64]> {
        self.columns.iter().map(Vec::as_slice).collect()
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A linear problem: σ(−0.5 + x·β).
fn linear(rows: usize, rng: &mut Pcg64Mcg) -> Data {
    const BETA: [f64; FEATURES] = [1.2, -0.8, 0.5, 0.0, 0.3, -0.2, 0.9, 0.0, -1.1, 0.4];
    let mut columns: Vec<Vec<f64>> = (0..FEATURES).map(|_| Vec::with_capacity(rows)).collect();
    let mut labels = Vec::with_capacity(rows);
    for _ in 0..rows {
        let mut z = -0.5;
        for (j, col) in columns.iter_mut().enumerate() {
            let v: f64 = rng.sample(StandardNormal);
            z += BETA[j] * v;
            col.push(v);
        }
        labels.push(rng.r#gen::<f64>() < sigmoid(z));
    }
    Data { columns, labels }
}

/// A non-linear problem with interactions, missing values and a categorical feature (the
/// generator of `benches/compare/gbt_kernel.py`).
fn nonlinear(rows: usize, rng: &mut Pcg64Mcg) -> Data {
    // Effect of each category code: evenly spaced in [-1, 1], in a fixed shuffled order.
    let order = [
        13, 2, 17, 8, 0, 11, 19, 5, 14, 3, 9, 16, 1, 7, 18, 4, 12, 6, 15, 10,
    ];
    let cat_effect: Vec<f64> = order
        .iter()
        .map(|&k| -1.0 + 2.0 * k as f64 / 19.0)
        .collect();
    let mut columns: Vec<Vec<f64>> = (0..FEATURES).map(|_| Vec::with_capacity(rows)).collect();
    let mut labels = Vec::with_capacity(rows);
    let mut x = [0.0f64; FEATURES];
    for _ in 0..rows {
        for v in x.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        x[6] = if rng.r#gen::<f64>() < 0.1 {
            f64::NAN
        } else {
            rng.gen_range(-1.0..1.0)
        };
        x[CATEGORICAL] = rng.gen_range(0..20) as f64;
        let z = 1.5 * (2.0 * x[0]).sin() + x[1] * x[2] + if x[3] > 0.5 { 1.0 } else { 0.0 }
            - 0.5 * x[4] * x[4]
            + 0.3 * x[5]
            + if x[6].is_nan() { 1.0 } else { x[6] }
            + cat_effect[x[CATEGORICAL] as usize]
            - 0.3;
        for (col, v) in columns.iter_mut().zip(x) {
            col.push(v);
        }
        labels.push(rng.r#gen::<f64>() < sigmoid(z));
    }
    Data { columns, labels }
}

fn logistic_params() -> LogisticParams {
    LogisticParams {
        threads: 2,
        ..LogisticParams::default()
    }
}

fn boost_params() -> BoostParams {
    BoostParams {
        num_trees: 100,
        max_depth: 6,
        early_stop: false,
        threads: 2,
        ..BoostParams::default()
    }
}

fn categorical() -> Vec<bool> {
    (0..FEATURES).map(|j| j == CATEGORICAL).collect()
}

fn fit_logistic(data: &Data) -> logistic::LogisticModel {
    logistic::fit(
        &data.refs(),
        &data.labels,
        None,
        &logistic_params(),
        &mut |_, _| ControlFlow::Continue(()),
    )
    .expect("logistic fit")
}

fn fit_trees(data: &Data) -> BoostedTrees {
    BoostedTrees::fit(
        &data.refs(),
        &categorical(),
        &data.labels,
        None,
        &boost_params(),
        &mut |_, _, _| ControlFlow::Continue(()),
    )
    .expect("boosted tree fit")
}

/// Writes one data set as `<name>_x.f64` (column after column, little-endian) and `<name>_y.u8`.
fn write_data(dir: &str, name: &str, data: &Data) {
    let mut bytes = Vec::with_capacity(data.labels.len() * FEATURES * 8);
    for col in &data.columns {
        for v in col {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(format!("{dir}/{name}_x.f64"), bytes).expect("write rows");
    let labels: Vec<u8> = data.labels.iter().map(|&b| u8::from(b)).collect();
    std::fs::write(format!("{dir}/{name}_y.u8"), labels).expect("write labels");
}

/// Held-out quality as JSON fields.
fn quality(labels: &[bool], p: &[f64]) -> String {
    format!(
        "\"auc\": {}, \"log_loss\": {}, \"brier\": {}",
        binary::roc_auc(labels, p).unwrap_or(f64::NAN),
        binary::log_loss(labels, p).unwrap_or(f64::NAN),
        binary::brier(labels, p).unwrap_or(f64::NAN)
    )
}

/// Median seconds of `runs` calls of `f`, and the last result.
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last.expect("at least one run"))
}

/// Writes the rows and our fits' times and held-out quality for the scikit-learn comparison.
fn export(dir: &str, sets: &[(&str, &Data, &Data)]) {
    std::fs::create_dir_all(dir).expect("export dir");
    let mut entries = Vec::new();
    for (name, train, test) in sets {
        write_data(dir, &format!("{name}_train"), train);
        write_data(dir, &format!("{name}_test"), test);
        let mut p = vec![0.0; test.labels.len()];
        let (seconds, detail) = if *name == "logistic" {
            let (s, model) = timed(3, || fit_logistic(train));
            model.predict_proba(&test.refs(), &mut p);
            (s, format!("\"iterations\": {}", model.iterations))
        } else {
            let (s, model) = timed(3, || fit_trees(train));
            model.predict_proba(&test.refs(), &mut p).expect("predict");
            (s, format!("\"trees\": {}", model.trees.len()))
        };
        entries.push(format!(
            "\"{name}\": {{\"seconds\": {seconds}, {detail}, {}}}",
            quality(&test.labels, &p)
        ));
    }
    let json = format!(
        "{{\"rows\": {ROWS}, \"test_rows\": {TEST_ROWS}, \"features\": {FEATURES}, \
         \"categorical\": [{CATEGORICAL}], \"threads\": 2, {}}}\n",
        entries.join(", ")
    );
    std::fs::write(format!("{dir}/ours.json"), json).expect("write ours.json");
}

fn bench_kernels(c: &mut Criterion) {
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let lin = linear(ROWS, &mut rng);
    let lin_test = linear(TEST_ROWS, &mut rng);
    let tree = nonlinear(ROWS, &mut rng);
    let tree_test = nonlinear(TEST_ROWS, &mut rng);
    if let Ok(dir) = std::env::var("PROPENSITY_EXPORT") {
        export(
            &dir,
            &[("logistic", &lin, &lin_test), ("trees", &tree, &tree_test)],
        );
    }

    let mut group = c.benchmark_group("logistic_reg");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("fit_1M_rows_10_features_2_threads", |b| {
        b.iter(|| fit_logistic(black_box(&lin)))
    });
    let model = fit_logistic(&lin);
    let refs = lin.refs();
    let mut out = vec![0.0; ROWS];
    group.bench_function("predict_proba_1M_rows_1_thread", |b| {
        b.iter(|| model.predict_proba(black_box(&refs), &mut out))
    });
    group.finish();

    let mut group = c.benchmark_group("boosted_tree");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("fit_1M_rows_10_features_100_trees_depth_6_2_threads", |b| {
        b.iter(|| fit_trees(black_box(&tree)))
    });
    let model = fit_trees(&tree);
    let refs = tree.refs();
    group.bench_function("predict_proba_1M_rows_1_thread", |b| {
        b.iter(|| model.predict_proba(black_box(&refs), &mut out))
    });
    group.finish();
}

/// `predict_proba()` through SQL — the path a query takes: model lookup, feature encoding with
/// the stored scaling, scoring — over 4M rows from memory, all cores.
fn bench_sql(c: &mut Criterion) {
    use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    let mut rng = Pcg64Mcg::seed_from_u64(7);
    let data = nonlinear(ROWS, &mut rng);
    let mut fields: Vec<Field> = (0..FEATURES)
        .map(|j| Field::new(format!("x{j}"), DataType::Float64, true))
        .collect();
    fields.push(Field::new("y", DataType::Boolean, false));
    let schema = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for start in (0..ROWS).step_by(8192) {
        let end = (start + 8192).min(ROWS);
        let mut arrays: Vec<ArrayRef> = data
            .columns
            .iter()
            .map(|c| {
                // Missing values (NaN in the kernels' data) are NULLs in a table.
                let values = c[start..end].iter().map(|v| (!v.is_nan()).then_some(*v));
                Arc::new(values.collect::<Float64Array>()) as ArrayRef
            })
            .collect();
        arrays.push(Arc::new(BooleanArray::from(
            data.labels[start..end].to_vec(),
        )));
        batches.push(RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch"));
    }
    let partitions = vec![batches; SQL_ROWS / ROWS];
    let session = BenchSession::with_table("rows", schema, partitions);
    let features = (0..FEATURES)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(", ");
    for statement in [
        format!(
            "CREATE MODEL lr OPTIONS (model_type = 'logistic_reg', label = 'y', \
             data_split = 'none') AS SELECT {}, y FROM rows LIMIT 200000",
            features.replace("x6", "coalesce(x6, 0) AS x6")
        ),
        format!(
            "CREATE MODEL gbt OPTIONS (model_type = 'boosted_tree', label = 'y', \
             data_split = 'none', num_trees = 100, max_depth = 6, early_stop = false) \
             AS SELECT {features}, y FROM rows LIMIT 200000"
        ),
    ] {
        session.run(&statement);
    }
    let mut group = c.benchmark_group("sql");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SQL_ROWS as u64));
    for model in ["lr", "gbt"] {
        let args = if model == "lr" {
            features.replace("x6", "coalesce(x6, 0)")
        } else {
            features.clone()
        };
        let sql = format!("SELECT sum(predict_proba('{model}', {args})) FROM rows");
        group.bench_function(format!("predict_proba_{model}_4M_rows_all_cores"), |b| {
            b.iter(|| session.run(&sql))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_kernels, bench_sql);
criterion_main!(benches);
