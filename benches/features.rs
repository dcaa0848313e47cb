//! Feature-extraction queries over generated events.
//!
//! Data size: 100,000 users × 120 days (generated once into `target/bench-data/`, seed 42).
//! Run: `cargo bench --bench features`.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::prelude::SessionContext;
use ecomsql::generator::{GenOptions, generate};

const USERS: u64 = 100_000;
const DAYS: u32 = 120;

/// The bench data set, generated on first use and reused afterwards.
fn data() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-data")
        .join(format!("shop-{USERS}u-{DAYS}d"));
    let opts = GenOptions {
        users: USERS,
        days: DAYS,
        force: true,
        progress: false,
        ..GenOptions::sample(dir.clone())
    };
    let params = dir.join("_truth").join("params.txt");
    if std::fs::read_to_string(&params)
        .map(|p| p.trim() != opts.fingerprint())
        .unwrap_or(true)
    {
        generate(&opts).expect("generate bench data");
    }
    dir
}

/// RFM features per user: last purchase, purchase count, revenue.
const RFM_SQL: &str = "
SELECT user_id,
       max(ts) FILTER (WHERE event_type = 'purchase') AS last_purchase,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS revenue
FROM events
GROUP BY user_id";

fn bench_rfm(c: &mut Criterion) {
    let dir = data();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ctx: SessionContext = rt.block_on(async {
        let ctx = ecomsql::build_session(&ecomsql::Config::default()).expect("session");
        let report = ecomsql::catalog::register_data_dir(&ctx, &dir).await;
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        ctx
    });
    let events: i64 = rt.block_on(async {
        use datafusion::arrow::array::AsArray;
        let b = ctx
            .sql("SELECT count(*) FROM events")
            .await
            .expect("sql")
            .collect()
            .await
            .expect("count");
        b[0].column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0)
    });
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events as u64));
    group.bench_function(format!("rfm_group_by_user_{USERS}u_{events}_events"), |b| {
        b.to_async(&rt).iter(|| async {
            let rows = ctx
                .sql(RFM_SQL)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("run");
            assert!(!rows.is_empty());
        })
    });
    group.finish();
}

criterion_group!(benches, bench_rfm);
criterion_main!(benches);
