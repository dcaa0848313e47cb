//! Generator throughput: events per second writing zstd Parquet, all cores.
//!
//! Data size: 20,000 users × 30 days (the default sample's user count over a quarter of its
//! days). Target (issue #2): at least 2 million events per second on the 2-core machine.
//! Run: `cargo bench --bench gen`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ecomsql::generator::{GenOptions, generate};

fn opts(out: std::path::PathBuf) -> GenOptions {
    GenOptions {
        users: 20_000,
        days: 30,
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
    group.bench_function(format!("20k_users_30_days_{events}_events"), |b| {
        b.iter(|| generate(&opts(out.clone())).expect("generate"))
    });
    group.finish();
}

criterion_group!(benches, bench_gen);
criterion_main!(benches);
