//! Feature-extraction functions against the plain-SQL formulations an analyst would write
//! without them, on the same generated events.
//!
//! Data size: 35,000 users × 120 days ≈ 10M events (generated once into
//! `target/bench-data/`, seed 42). The funnel pair runs on a tenth of the users (≈1M events)
//! because the join formulation explodes on the full set.
//! Run: `cargo bench --bench features`.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use ecomsql::generator::{GenOptions, generate};

const USERS: u64 = 35_000;
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
const RFM: &str = "
SELECT count(*), max(last_purchase), sum(purchases), sum(revenue) FROM (
  SELECT user_id,
         max(ts) FILTER (WHERE event_type = 'purchase') AS last_purchase,
         count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
         sum(price * quantity) FILTER (WHERE event_type = 'purchase') AS revenue
  FROM events GROUP BY user_id)";

/// Sessions with the window function.
const SESSIONIZE: &str = "
SELECT count(*), sum(s) FROM (
  SELECT sessionize(ts, INTERVAL '30 minutes') OVER (PARTITION BY user_id ORDER BY ts) AS s FROM events)";

/// The same sessions with LAG + running SUM (what DuckDB users write).
const SESSIONIZE_SQL: &str = "
SELECT count(*), sum(s) FROM (
  SELECT sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS s FROM (
    SELECT user_id, ts,
           CASE WHEN lag(ts) OVER (PARTITION BY user_id ORDER BY ts) IS NULL
                  OR ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) > INTERVAL '30 minutes'
                THEN 1 ELSE 0 END AS new_session
    FROM events))";

/// A four-step funnel within a day, with the aggregate.
const FUNNEL: &str = "
SELECT depth, count(*) FROM (
  SELECT user_id, funnel(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                         event_type = 'begin_checkout', event_type = 'purchase') AS depth
  FROM events WHERE user_id % 10 = 0 GROUP BY user_id)
GROUP BY depth ORDER BY depth";

/// The same funnel in plain SQL: every chain by joins, the deepest per user.
const FUNNEL_SQL: &str = "
WITH e AS (SELECT user_id, ts, event_type FROM events WHERE user_id % 10 = 0),
     v AS (SELECT user_id, ts FROM e WHERE event_type = 'view'),
     c AS (SELECT user_id, ts FROM e WHERE event_type = 'add_to_cart'),
     k AS (SELECT user_id, ts FROM e WHERE event_type = 'begin_checkout'),
     p AS (SELECT user_id, ts FROM e WHERE event_type = 'purchase'),
     users AS (SELECT DISTINCT user_id FROM e),
     chains AS (
       SELECT v.user_id,
              max(CASE WHEN p.ts IS NOT NULL THEN 4 WHEN k.ts IS NOT NULL THEN 3
                       WHEN c.ts IS NOT NULL THEN 2 ELSE 1 END) AS depth
       FROM v
       LEFT JOIN c ON c.user_id = v.user_id AND c.ts >= v.ts AND c.ts <= v.ts + INTERVAL '1 day'
       LEFT JOIN k ON k.user_id = v.user_id AND k.ts >= c.ts AND k.ts <= v.ts + INTERVAL '1 day'
       LEFT JOIN p ON p.user_id = v.user_id AND p.ts >= k.ts AND p.ts <= v.ts + INTERVAL '1 day'
       GROUP BY v.user_id)
SELECT depth, count(*) FROM (
  SELECT u.user_id, coalesce(ch.depth, 0) AS depth FROM users u LEFT JOIN chains ch USING (user_id))
GROUP BY depth ORDER BY depth";

/// Weekly retention with the aggregate.
const RETENTION: &str = "
SELECT sum(CASE WHEN r[2] THEN 1 ELSE 0 END), sum(CASE WHEN r[5] THEN 1 ELSE 0 END) FROM (
  SELECT user_id, retention(dt < DATE '2026-01-08',
                            dt >= DATE '2026-01-08' AND dt < DATE '2026-01-15',
                            dt >= DATE '2026-01-15' AND dt < DATE '2026-01-22',
                            dt >= DATE '2026-01-22' AND dt < DATE '2026-01-29',
                            dt >= DATE '2026-01-29' AND dt < DATE '2026-02-05') AS r
  FROM events GROUP BY user_id)";

/// The funnel, funnel_steps and the scalar functions over every event (≈10M rows).
const FUNNEL_ALL: &str = "
SELECT depth, count(*) FROM (
  SELECT user_id, funnel(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                         event_type = 'begin_checkout', event_type = 'purchase') AS depth
  FROM events GROUP BY user_id)
GROUP BY depth ORDER BY depth";
const FUNNEL_STEPS_ALL: &str = "
SELECT cardinality(steps) AS depth, count(*) FROM (
  SELECT user_id, funnel_steps(INTERVAL '1 day', ts, event_type = 'view', event_type = 'add_to_cart',
                               event_type = 'begin_checkout', event_type = 'purchase') AS steps
  FROM events GROUP BY user_id)
GROUP BY 1 ORDER BY 1";
const RFM_SEGMENT: &str = "
SELECT count(DISTINCT rfm_segment(1 + event_id % 5, 1 + user_id % 5, 1 + (event_id / 7) % 5)) FROM events";
/// The RFM group-by with a distinct count of a `Utf8View` column beside it (issue 20's query).
const RFM_DISTINCT: &str = "SELECT user_id, max(ts) AS last_seen, \
     count(*) FILTER (WHERE event_type = 'purchase') AS purchases, \
     round(sum(price * quantity) FILTER (WHERE event_type = 'purchase'), 2) AS revenue, \
     count(DISTINCT category) AS cats \
     FROM events GROUP BY user_id ORDER BY user_id";
const DAYS_BETWEEN: &str =
    "SELECT sum(days_between(ts, TIMESTAMP '2026-06-01 00:00:00')) FROM events";
const HASH_SPLIT: &str = "SELECT count(*) FROM events WHERE hash_split(event_id) < 0.5";
const SUMMARIZE: &str = "SELECT count(*) FROM summarize('events')";

async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    pretty_format_batches(&batches).expect("format").to_string()
}

/// A session over the bench data, after `settings`.
async fn session(dir: &std::path::Path, settings: &[&str]) -> SessionContext {
    let ctx = ecomsql::build_session(&ecomsql::Config::default()).expect("session");
    let report = ecomsql::catalog::register_data_dir(&ctx, dir).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    for setting in settings {
        run(&ctx, setting).await;
    }
    ctx
}

fn bench_features(c: &mut Criterion) {
    let dir = data();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ctx = rt.block_on(session(&dir, &[]));
    // RFM again with DataFusion's own partial aggregation, for the side by side.
    let datafusion_partial =
        rt.block_on(session(&dir, &["SET ecomsql.int_key_aggregation = false"]));
    // count(DISTINCT) with DataFusion's own accumulators (a hash set per group for strings).
    let datafusion_count = rt.block_on(session(&dir, &[]));
    datafusion_count.register_udaf(
        datafusion::functions_aggregate::count::count_udaf()
            .as_ref()
            .clone(),
    );
    // The function and the plain-SQL formulation must agree before their times mean anything.
    rt.block_on(async {
        assert_eq!(
            run(&ctx, RFM_DISTINCT).await,
            run(&datafusion_count, RFM_DISTINCT).await,
            "count(DISTINCT) with ecomsql's and DataFusion's accumulators"
        );
        assert_eq!(
            run(&ctx, SESSIONIZE).await,
            run(&ctx, SESSIONIZE_SQL).await,
            "sessionize vs LAG + SUM"
        );
        assert_eq!(
            run(&ctx, FUNNEL).await,
            run(&ctx, FUNNEL_SQL).await,
            "funnel vs joins"
        );
        // Revenue to the cent: float sums differ in their last digits with the order of
        // addition, which changes from run to run with either operator.
        let rfm = RFM.replace("sum(revenue)", "round(sum(revenue), 2)");
        assert_eq!(
            run(&ctx, &rfm).await,
            run(&datafusion_partial, &rfm).await,
            "rfm with and without IntKeyAggregateExec"
        );
    });
    let events = rt.block_on(run(&ctx, "SELECT count(*) FROM events"));
    eprintln!("bench data: {USERS} users x {DAYS} days\n{events}");
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    for (name, sql) in [
        ("rfm_group_by_user_10M_events", RFM),
        ("sessionize_10M_events", SESSIONIZE),
        ("sessionize_lag_sum_sql_10M_events", SESSIONIZE_SQL),
        ("retention_5_weeks_10M_events", RETENTION),
        ("funnel_4_steps_10M_events", FUNNEL_ALL),
        ("funnel_steps_4_steps_10M_events", FUNNEL_STEPS_ALL),
        ("rfm_segment_10M_rows", RFM_SEGMENT),
        ("days_between_10M_rows", DAYS_BETWEEN),
        ("hash_split_10M_rows", HASH_SPLIT),
        ("summarize_events_10M_rows", SUMMARIZE),
        ("funnel_4_steps_1M_events", FUNNEL),
        ("funnel_4_steps_join_sql_1M_events", FUNNEL_SQL),
    ] {
        group.bench_function(name, |b| b.to_async(&rt).iter(|| run(&ctx, sql)));
    }
    group.bench_function("rfm_group_by_user_10M_events_datafusion_partial", |b| {
        b.to_async(&rt).iter(|| run(&datafusion_partial, RFM))
    });
    group.bench_function("rfm_count_distinct_category_10M_events", |b| {
        b.to_async(&rt).iter(|| run(&ctx, RFM_DISTINCT))
    });
    group.bench_function(
        "rfm_count_distinct_category_10M_events_datafusion_count",
        |b| {
            b.to_async(&rt)
                .iter(|| run(&datafusion_count, RFM_DISTINCT))
        },
    );
    group.finish();
}

/// The group lookup alone: 4M Int64 keys drawn uniformly from `distinct` values, interned in
/// 32k-row batches by ecomsql's IntGroupTable and by DataFusion's GroupValues for one Int64
/// column (what its partial aggregation uses).
fn bench_group_lookup(c: &mut Criterion) {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::aggregates::group_values::new_group_values;
    use datafusion::physical_plan::aggregates::order::GroupOrdering;
    use ecomsql::int_group_by::IntGroupTable;
    use rand::{Rng, SeedableRng};

    let mut group = c.benchmark_group("group_lookup_4M_rows");
    group.sample_size(10);
    for distinct in [35_000u64, 1_000_000] {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let batches: Vec<ArrayRef> = (0..128)
            .map(|_| {
                let keys: Int64Array = (0..32 * 1024)
                    .map(|_| rng.gen_range(0..distinct) as i64)
                    .collect();
                Arc::new(keys) as ArrayRef
            })
            .collect();
        group.bench_function(format!("ecomsql_{distinct}_keys"), |b| {
            b.iter(|| {
                let mut table = IntGroupTable::new();
                let mut groups = vec![];
                for keys in &batches {
                    let data = keys.to_data();
                    table.intern(data.buffer::<u64>(0), keys.nulls(), &mut groups);
                }
                table.len()
            })
        });
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)]));
        group.bench_function(format!("datafusion_{distinct}_keys"), |b| {
            b.iter(|| {
                let mut values = new_group_values(Arc::clone(&schema), &GroupOrdering::None)
                    .expect("group values");
                let mut groups = vec![];
                for keys in &batches {
                    values
                        .intern(std::slice::from_ref(keys), &mut groups)
                        .expect("intern");
                }
                values.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_features, bench_group_lookup);
criterion_main!(benches);
