//! Models end to end: the registry on disk (versions, atomic writes, damage, two processes at
//! once), CREATE/DROP/SHOW MODELS through the statement layer, and k-means segments on the
//! generated shop checked against the planted personas.

use std::process::Command;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use ecomsql::registry::ModelRegistry;
use ecomsql_udfs::model::ModelStore;

use crate::fixture::{query, query_err, session_with_state, shop, temp_dir};

/// Behavioural features per user (the same as queries/customer_segments.sql builds).
const FEATURES_VIEW: &str = "CREATE OR REPLACE VIEW user_features AS
WITH now AS (SELECT max(ts) AS t FROM events),
ev AS (SELECT user_id, count(*) FILTER (WHERE event_type = 'view') AS views,
              count(*) FILTER (WHERE event_type = 'search') AS searches,
              count(*) FILTER (WHERE event_type = 'add_to_cart') AS cart_adds,
              count(DISTINCT date_trunc('day', ts)) AS active_days, max(ts) AS last_seen
       FROM events GROUP BY user_id),
od AS (SELECT user_id, count(*) AS orders, sum(total_amount) AS revenue,
              avg(CASE WHEN coupon_code IS NULL THEN 0.0 ELSE 1.0 END) AS coupon_share
       FROM orders GROUP BY user_id)
SELECT u.user_id, u.country,
       ln(1 + coalesce(ev.views, 0)) AS log_views, ln(1 + coalesce(ev.searches, 0)) AS log_searches,
       CAST(coalesce(ev.cart_adds, 0) AS DOUBLE) / greatest(coalesce(ev.views, 0), 1) AS cart_rate,
       ln(1 + coalesce(od.orders, 0)) AS log_orders,
       coalesce(od.revenue / od.orders, 0) AS avg_order_value,
       coalesce(od.coupon_share, 0) AS coupon_share,
       CAST(coalesce(ev.active_days, 0) AS DOUBLE) AS active_days,
       coalesce(days_between(ev.last_seen, now.t), days_between(u.signup_ts, now.t)) AS recency_days,
       days_between(u.signup_ts, now.t) AS tenure_days
FROM users u LEFT JOIN ev USING (user_id) LEFT JOIN od USING (user_id) CROSS JOIN now";

const FEATURES: &str = "log_views, log_searches, cart_rate, log_orders, avg_order_value, \
                        coupon_share, active_days, recency_days, tenure_days";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

fn f64_at(b: &datafusion::arrow::array::RecordBatch, col: &str, row: usize) -> f64 {
    let c = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    let c = datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Float64)
        .expect("cast");
    c.as_primitive::<Float64Type>().value(row)
}

#[test]
fn create_show_version_drop_through_the_statement_layer() {
    let state = temp_dir("models-ddl");
    rt().block_on(async {
        let ctx = session_with_state(shop(), state.path()).await;
        let create = "CREATE MODEL tiny OPTIONS (model_type = 'kmeans', num_clusters = 2, seed = 1) \
                      AS SELECT * FROM (VALUES (1.0, 'a'), (1.1, 'a'), (9.0, 'b'), (9.2, 'b')) AS t(x, c)";
        let out = query(&ctx, create).await;
        assert_eq!(out[0].column_by_name("version").unwrap().as_primitive::<Int64Type>().value(0), 1);
        // Plain CREATE refuses to overwrite; IF NOT EXISTS is a no-op; OR REPLACE adds a version.
        let err = query_err(&ctx, create).await;
        assert!(err.contains("already exists (latest version 1)"), "{err}");
        let out = query(&ctx, &create.replace("CREATE MODEL", "CREATE MODEL IF NOT EXISTS")).await;
        assert_eq!(out[0].column_by_name("status").unwrap().as_string::<i32>().value(0), "exists");
        let out = query(&ctx, &create.replace("CREATE MODEL", "CREATE OR REPLACE MODEL")).await;
        assert_eq!(out[0].column_by_name("version").unwrap().as_primitive::<Int64Type>().value(0), 2);

        let shown = query(&ctx, "SHOW MODELS").await;
        assert_eq!(shown[0].num_rows(), 1);
        assert_eq!(shown[0].column_by_name("versions").unwrap().as_primitive::<Int64Type>().value(0), 2);

        // Both versions are addressable; the same point lands in the same cluster under each.
        for v in ["tiny", "tiny@1", "tiny@2"] {
            let b = query(&ctx, &format!(
                "SELECT segment('{v}', 1.05, 'a') = segment('{v}', 1.0, 'a') AS same, \
                        segment('{v}', 1.05, 'a') <> segment('{v}', 9.1, 'b') AS apart"
            )).await;
            assert!(b[0].column(0).as_boolean().value(0) && b[0].column(1).as_boolean().value(0), "{v}");
        }
        let info = query(&ctx, "SELECT value FROM ml_model_info('tiny@1') WHERE section = 'feature' AND key = 'c'").await;
        assert!(info[0].column(0).as_string::<i32>().value(0).contains("vocabulary=[a, b]"));

        let err = query_err(&ctx, "SELECT segment('tiny@7', 1.0, 'a')").await;
        assert!(err.contains("model tiny@7 not found (versions: 1, 2)"), "{err}");
        let err = query_err(&ctx, "SELECT segment('nope', 1.0)").await;
        assert!(err.contains("model nope not found"), "{err}");
        let err = query_err(&ctx, "SELECT segment('tiny', 1.0)").await;
        assert!(err.contains("takes 2 features (x, c), got 1"), "{err}");
        let err = query_err(&ctx, "SELECT segment('tiny', 'a', 1.0)").await;
        assert!(err.contains("feature 1 (x) must be numeric"), "{err}");

        query(&ctx, "DROP MODEL tiny@1").await;
        let err = query_err(&ctx, "SELECT segment('tiny@1', 1.0, 'a')").await;
        assert!(err.contains("not found"), "{err}");
        query(&ctx, "DROP MODEL tiny").await;
        let err = query_err(&ctx, "DROP MODEL tiny").await;
        assert!(err.contains("not found"), "{err}");
        query(&ctx, "DROP MODEL IF EXISTS tiny").await;
        assert_eq!(query(&ctx, "SHOW MODELS").await[0].num_rows(), 0);
    });
}

#[test]
fn damaged_files_are_named_and_never_hide_other_models() {
    let state = temp_dir("models-damage");
    rt().block_on(async {
        let ctx = session_with_state(shop(), state.path()).await;
        for name in ["good", "bad"] {
            query(
                &ctx,
                &format!(
                    "CREATE MODEL {name} OPTIONS (model_type = 'kmeans', num_clusters = 2) \
                 AS SELECT * FROM (VALUES (1.0), (2.0), (8.0), (9.0)) AS t(x)"
                ),
            )
            .await;
        }
        let registry = ModelRegistry::new(state.path().join("models"));
        let bad = registry.version_path("bad", 1);
        let bytes = std::fs::read(&bad).unwrap();
        // A writer killed mid-write leaves only a temporary file, which is never read.
        std::fs::write(
            bad.with_file_name(".v-999-0.tmp"),
            &bytes[..bytes.len() / 2],
        )
        .unwrap();
        assert_eq!(registry.versions("bad").unwrap(), vec![1]);
        assert!(registry.get("bad", None).is_ok());

        let cases: Vec<(Vec<u8>, &str)> = vec![
            (bytes[..bytes.len() - 10].to_vec(), "truncated model file"),
            (
                {
                    let mut b = bytes.clone();
                    let n = b.len() - 5;
                    b[n] ^= 1;
                    b
                },
                "checksum mismatch",
            ),
            (
                {
                    let mut b = bytes.clone();
                    b[8] = 99;
                    b
                },
                "newer ecomsql",
            ),
            (b"not a model".to_vec(), "not an ecomsql model file"),
        ];
        for (damaged, want) in cases {
            std::fs::write(&bad, &damaged).unwrap();
            let fresh = ModelRegistry::new(state.path().join("models"));
            let err = fresh.get("bad", None).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("v000001.model"),
                "{want}: {err}"
            );
            let err = query_err(&ctx, "SELECT segment('bad', 1.0)").await;
            assert!(err.contains(want), "{err}");
            // SHOW MODELS still lists both, naming the problem.
            let shown = query(&ctx, "SHOW MODELS").await;
            let b = &shown[0];
            assert_eq!(b.num_rows(), 2);
            let problem = b.column_by_name("problem").unwrap().as_string::<i32>();
            assert!(problem.value(0).contains(want), "{}", problem.value(0)); // "bad" sorts first
            assert!(problem.is_null(1));
            assert!(query(&ctx, "SELECT segment('good', 1.0)").await[0].num_rows() == 1);
        }
    });
}

#[test]
fn two_processes_creating_the_same_model_both_land() {
    let state = temp_dir("models-race");
    let sql = "CREATE OR REPLACE MODEL raced OPTIONS (model_type = 'kmeans', num_clusters = 3) \
               AS SELECT price, quantity FROM events";
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_ecomsql"))
            .arg("--data")
            .arg(shop())
            .arg("--state-dir")
            .arg(state.path())
            .args(["--format", "csv", "sql", "-c", sql])
            .spawn()
            .expect("spawn ecomsql")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
    }
    let registry = ModelRegistry::new(state.path().join("models"));
    assert_eq!(registry.versions("raced").unwrap(), vec![1, 2]);
    for v in [1, 2] {
        let m = registry.get("raced", Some(v)).expect("both versions load");
        assert_eq!(m.version, v);
    }
    let leftovers: Vec<_> = std::fs::read_dir(state.path().join("models").join("raced"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Adjusted Rand index between two labelings, from their contingency table.
fn adjusted_rand_index(pairs: &[(i64, String)]) -> f64 {
    use std::collections::HashMap;
    let c2 = |n: f64| n * (n - 1.0) / 2.0;
    let mut cells: HashMap<(i64, &str), f64> = HashMap::new();
    let mut rows: HashMap<i64, f64> = HashMap::new();
    let mut cols: HashMap<&str, f64> = HashMap::new();
    for (a, b) in pairs {
        *cells.entry((*a, b.as_str())).or_default() += 1.0;
        *rows.entry(*a).or_default() += 1.0;
        *cols.entry(b.as_str()).or_default() += 1.0;
    }
    let index: f64 = cells.values().map(|&n| c2(n)).sum();
    let a: f64 = rows.values().map(|&n| c2(n)).sum();
    let b: f64 = cols.values().map(|&n| c2(n)).sum();
    let expected = a * b / c2(pairs.len() as f64);
    (index - expected) / (0.5 * (a + b) - expected)
}

#[test]
fn adjusted_rand_index_matches_known_values() {
    let same: Vec<(i64, String)> = (0..6).map(|i| (i / 2, format!("p{}", i / 2))).collect();
    assert!((adjusted_rand_index(&same) - 1.0).abs() < 1e-12);
    // scikit-learn: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714285714285715
    let v = vec![
        (0, "a".into()),
        (0, "a".into()),
        (1, "b".into()),
        (1, "c".into()),
    ];
    assert!((adjusted_rand_index(&v) - 0.571_428_571_428_571_5).abs() < 1e-12);
}

#[test]
fn segments_recover_planted_personas_and_every_view_agrees() {
    let state = temp_dir("models-seg");
    rt().block_on(async {
        let ctx = session_with_state(shop(), state.path()).await;
        query(&ctx, FEATURES_VIEW).await;
        query(&ctx, &format!(
            "CREATE MODEL seg OPTIONS (model_type = 'kmeans', num_clusters = 6, n_init = 4, seed = 7) \
             AS SELECT {FEATURES} FROM user_features"
        )).await;
        let truth = shop().join("_truth").join("users.parquet");
        query(&ctx, &format!(
            "CREATE EXTERNAL TABLE truth STORED AS PARQUET LOCATION '{}'",
            truth.display()
        )).await;
        let b = query(&ctx, &format!(
            "SELECT segment('seg', {FEATURES}) AS s, t.persona \
             FROM user_features f JOIN truth t USING (user_id)"
        )).await;
        let mut pairs = Vec::new();
        for batch in &b {
            let s = batch.column(0).as_primitive::<Int64Type>();
            let p = datafusion::arrow::compute::cast(batch.column(1), &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
            let p = p.as_string::<i32>();
            for r in 0..batch.num_rows() {
                pairs.push((s.value(r), p.value(r).to_string()));
            }
        }
        assert_eq!(pairs.len(), 2_000);
        let ari = adjusted_rand_index(&pairs);
        // scikit-learn's KMeans on the same features scores about the same (see
        // benches/compare/RESULTS.md); this guards against regressions in the pipeline.
        assert!(ari > 0.10, "adjusted Rand index vs personas: {ari}");

        // segment() and ml_predict agree row for row; segment_distance is consistent with inertia.
        let b = query(&ctx, &format!(
            "SELECT count(*) AS n, \
                    sum(CASE WHEN centroid_id = segment('seg', {FEATURES}) THEN 1 ELSE 0 END) AS same, \
                    sum(centroid_distance * centroid_distance) AS inertia \
             FROM ml_predict('seg', 'SELECT * FROM user_features')"
        )).await;
        assert_eq!(f64_at(&b[0], "n", 0), f64_at(&b[0], "same", 0));
        let inertia = f64_at(&b[0], "inertia", 0);
        let stored = query(&ctx, "SELECT CAST(value AS DOUBLE) FROM ml_model_info('seg') WHERE section = 'metric' AND key = 'inertia'").await;
        let stored = stored[0].column(0).as_primitive::<Float64Type>().value(0);
        assert!((inertia - stored).abs() <= 1e-6 * stored, "{inertia} vs {stored}");
        let eval = query(&ctx, "SELECT * FROM ml_evaluate('seg', 'SELECT * FROM user_features')").await;
        assert!((f64_at(&eval[0], "inertia", 0) - stored).abs() <= 1e-6 * stored);
        assert_eq!(f64_at(&eval[0], "rows", 0), 2_000.0);

        // Centroids: k × features rows, shares summing to 1, values in original units.
        let c = query(&ctx, "SELECT count(*) AS n, count(DISTINCT centroid_id) AS k, \
                                    sum(cluster_share) / 9 AS share, \
                                    min(numerical_value) FILTER (WHERE feature = 'tenure_days') AS tmin \
                             FROM ml_centroids('seg')").await;
        assert_eq!(f64_at(&c[0], "n", 0), 54.0);
        assert_eq!(f64_at(&c[0], "k", 0), 6.0);
        assert!((f64_at(&c[0], "share", 0) - 1.0).abs() < 1e-9);
        assert!(f64_at(&c[0], "tmin", 0) > 1.0, "tenure in days, not standardised");

        // ml_predict needs every feature by name.
        let err = query_err(&ctx, "SELECT * FROM ml_predict('seg', 'SELECT log_views FROM user_features')").await;
        assert!(err.contains("needs feature \"log_searches\""), "{err}");
    });
}

#[test]
fn model_files_of_format_1_keep_loading() {
    // tests/fixtures/models holds files written by the first release of the format. A newer
    // ecomsql must keep reading them: never regenerate these files; add new ones beside them.
    let state = temp_dir("models-format1");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
    for name in ["seg_format1", "nb_format1"] {
        let dir = state.path().join("models").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            fixtures.join(format!("{name}.model")),
            dir.join("v000001.model"),
        )
        .unwrap();
    }
    rt().block_on(async {
        let ctx = session_with_state(shop(), state.path()).await;
        let b = query(
            &ctx,
            "SELECT segment('seg_format1', 1.1, 'a') AS a, segment('seg_format1', 8.2, 'b') AS b, \
                    predict_label('nb_format1', 1.5) AS l, round(predict_proba('nb_format1', 5.0), 6) AS p",
        )
        .await;
        assert_eq!(f64_at(&b[0], "a", 0), 2.0);
        assert_eq!(f64_at(&b[0], "b", 0), 1.0);
        assert_eq!(b[0].column_by_name("l").unwrap().as_string::<i32>().value(0), "lo");
        assert_eq!(f64_at(&b[0], "p", 0), 0.5);
        let shown = query(&ctx, "SHOW MODELS").await;
        assert_eq!(shown[0].num_rows(), 2);
        assert!(shown[0].column_by_name("problem").unwrap().is_null(0));
    });
}

#[test]
fn a_hand_edited_model_with_a_valid_checksum_is_an_error_not_a_panic() {
    let state = temp_dir("models-edited");
    rt().block_on(async {
        let ctx = session_with_state(shop(), state.path()).await;
        for (name, sql) in [
            ("km", "CREATE MODEL km OPTIONS (model_type = 'kmeans', num_clusters = 2) AS SELECT * FROM (VALUES (1.0), (2.0), (8.0), (9.0)) AS t(x)"),
            ("nb", "CREATE MODEL nb OPTIONS (model_type = 'naive_bayes', label = 'y') AS SELECT * FROM (VALUES (1.0, 'a'), (2.0, 'a'), (8.0, 'b'), (9.0, 'b')) AS t(x, y)"),
            ("lr", "CREATE MODEL lr OPTIONS (model_type = 'logistic_reg', label = 'y', data_split = 'none') AS SELECT * FROM (VALUES (1.0, false), (2.0, true), (8.0, false), (9.0, true)) AS t(x, y)"),
            ("tc", "CREATE MODEL tc OPTIONS (model_type = 'text_classifier', label = 'y', data_split = 'none') AS SELECT * FROM (VALUES ('good', true), ('bad', false)) AS t(x, y)"),
        ] {
            query(&ctx, sql).await;
            let registry = ModelRegistry::new(state.path().join("models"));
            let mut model = (*registry.get(name, None).unwrap()).clone();
            match &mut model.body {
                ecomsql_udfs::model::ModelBody::Kmeans(b) => b.centroids.push(1.0),
                ecomsql_udfs::model::ModelBody::NaiveBayes(b) => b.nb.means.pop().map(|_| ()).unwrap_or(()),
                ecomsql_udfs::model::ModelBody::LogisticReg(b) => b.model.coefficients.push(0.5),
                ecomsql_udfs::model::ModelBody::TextClassifier(b) => {
                    b.model.weights.values.pop();
                }
                ecomsql_udfs::model::ModelBody::BoostedTree(_) => unreachable!(),
            }
            // Re-encoded with a correct checksum: only the shapes are wrong.
            std::fs::write(
                registry.version_path(name, 1),
                ecomsql_udfs::model::format::encode(&model),
            )
            .unwrap();
            let f = if name == "km" { "segment" } else { "predict_proba" };
            let err = query_err(&ctx, &format!("SELECT {f}('{name}', 1.0)")).await;
            assert!(err.contains("is damaged"), "{name}: {err}");
        }
    });
}

#[test]
fn concurrent_creates_without_replace_write_one_version() {
    let state = temp_dir("models-create-race");
    rt().block_on(async {
        let a = session_with_state(shop(), state.path()).await;
        let b = session_with_state(shop(), state.path()).await;
        for (prefix, name) in [
            ("CREATE MODEL IF NOT EXISTS", "ne"),
            ("CREATE MODEL", "plain"),
        ] {
            let sql = format!(
                "{prefix} {name} OPTIONS (model_type = 'kmeans', num_clusters = 2) \
                 AS SELECT price, quantity FROM events"
            );
            // Both statements check the registry before either has trained: only the atomic
            // write of the first version can tell them apart.
            let (ra, rb) = tokio::join!(
                ecomsql::statements::run_to_batches(&a, &sql),
                ecomsql::statements::run_to_batches(&b, &sql)
            );
            let registry = ModelRegistry::new(state.path().join("models"));
            assert_eq!(registry.versions(name).unwrap(), vec![1], "{sql}");
            let statuses: Vec<String> = [ra, rb]
                .into_iter()
                .map(|r| match r {
                    Ok((_, batches)) => {
                        let b = &batches[0];
                        let status = b.column_by_name("status").expect("status");
                        let status = datafusion::arrow::compute::cast(
                            status,
                            &datafusion::arrow::datatypes::DataType::Utf8,
                        )
                        .expect("cast");
                        status.as_string::<i32>().value(0).to_string()
                    }
                    Err(e) => e.to_string(),
                })
                .collect();
            assert!(statuses.iter().any(|s| s == "created"), "{statuses:?}");
            let loser = statuses.iter().find(|s| *s != "created").expect("a loser");
            if name == "ne" {
                assert_eq!(loser, "exists", "{statuses:?}");
            } else {
                assert!(loser.contains("already exists"), "{statuses:?}");
            }
        }
    });
}

#[test]
fn save_first_lets_one_of_many_threads_create_a_model() {
    let state = temp_dir("models-save-first");
    let model = {
        rt().block_on(async {
            let ctx = session_with_state(shop(), state.path()).await;
            query(
                &ctx,
                "CREATE MODEL seed OPTIONS (model_type = 'kmeans', num_clusters = 2) \
                 AS SELECT price FROM events",
            )
            .await;
        });
        let m = ModelRegistry::new(state.path().join("models"))
            .get("seed", None)
            .expect("seed model");
        let mut m = (*m).clone();
        m.name = "raced".into();
        m
    };
    let barrier = std::sync::Barrier::new(8);
    let outcomes: Vec<ecomsql::registry::Saved> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (model, barrier) = (model.clone(), &barrier);
                let root = state.path().join("models");
                s.spawn(move || {
                    // A registry per thread, as separate processes would have.
                    let registry = ModelRegistry::new(root);
                    barrier.wait();
                    registry.save_first(model).expect("save_first")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    use ecomsql::registry::Saved;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Saved::Created(1)))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Saved::Created(1) | Saved::Exists(1))),
        "{outcomes:?}"
    );
    let registry = ModelRegistry::new(state.path().join("models"));
    assert_eq!(registry.versions("raced").unwrap(), vec![1]);
}
