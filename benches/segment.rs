//! Segment kernels: k-means `fit` and `assign` on synthetic Gaussian blobs.
//!
//! Data size: 1,000,000 rows × 8 features drawn around 8 planted centres (uniform in
//! `[-10, 10]^8`, standard deviation [`STD`] per feature, seed 42), generated in memory.
//! `fit`: k = 8, k-means++, one run, at most 50 iterations, 2 threads, once with scikit-learn's
//! default tolerance (1e-4) and once with tolerance 0 (runs until no label changes, or 50
//! iterations: more of the Lloyd loop, less of the seeding). `assign`: the fitted centroids,
//! one thread.
//! `sql_segment`: the SQL function `segment('blobs', c0, …, c7)` end to end (model looked up in
//! a registry, features encoded with the stored scaling, assignment) over 4,000,000 rows (the
//! blobs four times, one partition each) from memory, all cores.
//! Run: `cargo bench --bench segment`.
//!
//! With `SEGMENT_EXPORT=<dir>` it first writes the rows (`blobs_1M_8d.f64`, row-major
//! little-endian `f64`) and, per tolerance, our fits with seeds 0 to 9 (median time and
//! iterations, mean and best inertia, in `ours.json`) for `benches/compare/kmeans_kernel.py`,
//! which runs scikit-learn on the same rows the same way.

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Instant;

mod common;

use common::BenchSession;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecomsql_udfs::segments::kmeans::{KMeansDistance, KMeansInit, KMeansParams, assign, fit};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64Mcg;

const ROWS: usize = 1_000_000;
const DIMS: usize = 8;
const CENTRES: usize = 8;
/// Spread of each blob: wide enough that the blobs touch and Lloyd needs several iterations.
const STD: f64 = 4.0;
/// The two tolerances benchmarked, with their names in benchmark ids and `ours.json`.
const TOLERANCES: [(&str, f64); 2] = [("tol_1e-4", 1e-4), ("tol_0", 0.0)];
/// Seeds per tolerance in the exported comparison.
const SEEDS: u64 = 10;

/// The blobs, column-major.
fn blobs() -> Vec<Vec<f64>> {
    let mut rng = Pcg64Mcg::seed_from_u64(42);
    let centres: Vec<f64> = (0..CENTRES * DIMS)
        .map(|_| rng.gen_range(-10.0..10.0))
        .collect();
    let noise = Normal::new(0.0, STD).expect("valid normal");
    let mut columns: Vec<Vec<f64>> = (0..DIMS).map(|_| Vec::with_capacity(ROWS)).collect();
    for _ in 0..ROWS {
        let c = rng.gen_range(0..CENTRES);
        for (j, col) in columns.iter_mut().enumerate() {
            col.push(centres[c * DIMS + j] + noise.sample(&mut rng));
        }
    }
    columns
}

fn params(tolerance: f64) -> KMeansParams {
    KMeansParams {
        k: 8,
        init: KMeansInit::KMeansPlusPlus,
        max_iterations: 50,
        tolerance,
        n_init: 1,
        seed: 1,
        distance: KMeansDistance::Euclidean,
        threads: 2,
    }
}

/// Writes the rows and our fit's numbers for the scikit-learn comparison.
fn export(dir: &str, columns: &[&[f64]]) {
    std::fs::create_dir_all(dir).expect("export dir");
    let mut bytes = Vec::with_capacity(ROWS * DIMS * 8);
    for i in 0..ROWS {
        for col in columns {
            bytes.extend_from_slice(&col[i].to_le_bytes());
        }
    }
    std::fs::write(format!("{dir}/blobs_1M_8d.f64"), bytes).expect("write rows");
    let mut entries = Vec::new();
    for (name, tolerance) in TOLERANCES {
        // Seeds 0 to SEEDS - 1, as the script does for scikit-learn: medians of time and
        // iterations; mean and best inertia (single runs land in different local optima).
        let (mut times, mut iterations, mut inertias) = (Vec::new(), Vec::new(), Vec::new());
        for seed in 0..SEEDS {
            let p = KMeansParams {
                seed,
                ..params(tolerance)
            };
            let start = Instant::now();
            let model = fit(columns, &p, &mut |_| ControlFlow::Continue(())).expect("fit");
            times.push(start.elapsed().as_secs_f64());
            iterations.push(model.iterations);
            inertias.push(model.inertia);
        }
        let mean = inertias.iter().sum::<f64>() / inertias.len() as f64;
        let best = inertias.iter().copied().fold(f64::INFINITY, f64::min);
        let (all_times, all_iterations) = (times.clone(), iterations.clone());
        times.sort_by(f64::total_cmp);
        iterations.sort_unstable();
        entries.push(format!(
            concat!(
                "\"{}\": {{\"tolerance\": {}, \"seconds\": {}, \"mean_inertia\": {}, ",
                "\"best_inertia\": {}, \"iterations\": {}, \"all_iterations\": {:?}, ",
                "\"all_seconds\": {:?}}}"
            ),
            name,
            tolerance,
            times[times.len() / 2],
            mean,
            best,
            iterations[iterations.len() / 2],
            all_iterations,
            all_times
        ));
    }
    let json = format!("{{{}}}\n", entries.join(", "));
    std::fs::write(format!("{dir}/ours.json"), json).expect("write ours.json");
}

fn bench_segment(c: &mut Criterion) {
    let columns = blobs();
    let columns: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    if let Ok(dir) = std::env::var("SEGMENT_EXPORT") {
        export(&dir, &columns);
    }
    let model = fit(&columns, &params(1e-4), &mut |_| ControlFlow::Continue(())).expect("fit");

    let mut group = c.benchmark_group("kmeans");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, tolerance) in TOLERANCES {
        group.bench_function(format!("fit_1M_rows_8d_k8_{name}_2_threads"), |b| {
            b.iter(|| {
                let p = params(tolerance);
                fit(black_box(&columns), &p, &mut |_| ControlFlow::Continue(()))
            })
        });
    }
    let mut labels = vec![0u32; ROWS];
    let mut distances = vec![0.0; ROWS];
    group.bench_function("assign_1M_rows_8d_k8_1_thread", |b| {
        b.iter(|| {
            assign(
                black_box(&columns),
                &model.centroids,
                model.k,
                KMeansDistance::Euclidean,
                &mut labels,
                &mut distances,
            )
        })
    });
    group.finish();
}

/// `segment()` through SQL: the path a query takes, not just the kernel.
fn bench_sql_segment(c: &mut Criterion) {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    let columns = blobs();
    let schema = Arc::new(Schema::new(
        (0..DIMS)
            .map(|j| Field::new(format!("c{j}"), DataType::Float64, false))
            .collect::<Vec<_>>(),
    ));
    let mut batches = Vec::new();
    for start in (0..ROWS).step_by(8192) {
        let end = (start + 8192).min(ROWS);
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|c| Arc::new(Float64Array::from(c[start..end].to_vec())) as ArrayRef)
            .collect();
        batches.push(RecordBatch::try_new(Arc::clone(&schema), arrays).expect("batch"));
    }
    let partitions = vec![batches; 4];
    let session = BenchSession::with_table("blobs", schema, partitions);
    let features = (0..DIMS)
        .map(|j| format!("c{j}"))
        .collect::<Vec<_>>()
        .join(", ");
    session.run(&format!(
        "CREATE MODEL blobs OPTIONS (model_type = 'kmeans', num_clusters = 8, \
         max_training_rows = 1000000) AS SELECT {features} FROM blobs"
    ));
    let sql = format!("SELECT count(segment('blobs', {features})) FROM blobs");
    let mut group = c.benchmark_group("kmeans");
    group.sample_size(10);
    group.throughput(Throughput::Elements(4 * ROWS as u64));
    group.bench_function("sql_segment_4M_rows_8d_k8_all_cores", |b| {
        b.iter(|| session.run(&sql))
    });
    group.finish();
}

criterion_group!(benches, bench_segment, bench_sql_segment);
criterion_main!(benches);
