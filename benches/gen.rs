//! Generator throughput: events per second writing zstd Parquet, all cores.
//!
//! Data size: the default sample, 20,000 users × 120 days (≈5.8M events; the generator also
//! simulates 28 days past the logs for `_truth`, which are not counted as events).
//! Target (issue #2): at least 2 million events per second on the 2-core machine.
//! Run: `cargo bench --bench gen`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecomsql::generator::{GenOptions, generate};

fn opts(out: std::path::PathBuf) -> GenOptions {
    GenOptions {
        force: true,
        progress: false,
        ..GenOptions::sample(out)
    }
}

fn bench_gen(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("shop");
    let events = generate(&opts(out.clone())).expect("warm-up run").events;
    let mut group = c.benchmark_group("gen");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function(format!("sample_20k_users_120_days_{events}_events"), |b| {
        b.iter(|| generate(&opts(out.clone())).expect("generate"))
    });
    group.finish();
}

criterion_group!(benches, bench_gen);
criterion_main!(benches);
