//! Every file in `queries/` runs against the generated test shop, through the same path as
//! `ecomsql sql -f`, and its result is checked. A new query file needs a check here.

use std::process::Command;

use crate::fixture::{shop, temp_dir};

/// Runs a query file as CSV; returns the header and rows of its last result (a file may hold
/// several statements, e.g. CREATE MODEL then a SELECT; each result starts with its header,
/// which the caller's `last_header` names).
fn run_last(file: &std::path::Path, last_header: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let (header, rows) = run(file);
    let mut all = vec![header];
    all.extend(rows);
    let start = all
        .iter()
        .rposition(|r| r.first().is_some_and(|c| c == last_header))
        .unwrap_or_else(|| panic!("{}: no result with header {last_header}", file.display()));
    let mut tail = all.split_off(start).into_iter();
    let header = tail.next().unwrap_or_default();
    (header, tail.collect())
}

/// Runs a query file as CSV; returns the header and rows.
fn run(file: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    run_on(file, shop())
}

/// Runs a query file as CSV against `data`; returns the header and rows.
fn run_on(file: &std::path::Path, data: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let state = temp_dir("queries");
    run_in(&["-f".as_ref(), file.as_os_str()], data, state.path())
}

/// Runs `ecomsql --format csv sql <args>` against `data` with the state directory `state`
/// (models trained by one call are there for the next); returns the header and rows.
fn run_in(
    args: &[&std::ffi::OsStr],
    data: &std::path::Path,
    state: &std::path::Path,
) -> (Vec<String>, Vec<Vec<String>>) {
    let file = args.last().map(|a| a.to_string_lossy().into_owned());
    let file = file.unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_ecomsql"))
        .arg("--data")
        .arg(data)
        .arg("--state-dir")
        .arg(state)
        .args(["--format", "csv", "sql"])
        .args(args)
        .output()
        .expect("run ecomsql");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// One number from the test shop, through the library (an independent path from the CLI).
fn count(sql: &str) -> i64 {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let ctx = crate::fixture::session(shop()).await;
            crate::fixture::scalar_i64(&ctx, sql).await
        })
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn every_query_file_runs_and_its_result_is_checked() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("queries/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("-- schedule:"))
            && name != "campaign_targets"
        {
            // Scheduled files take {date} parameters: schedule.rs runs them with `ecomsql run`.
            // campaign_targets.sql has none (it scores as of the end of the logs): it runs both
            // ways, and its result is checked here.
            continue;
        }
        if name == "churn_model" {
            // Needs 30 days after the cutoff: runs on the 90-day shop.
            let (header, rows) = run_on(&file, crate::fixture::long_shop());
            let (header, rows) = {
                let mut all = vec![header];
                all.extend(rows);
                let start = all
                    .iter()
                    .rposition(|r| r.first().is_some_and(|c| c == "rows"))
                    .expect("the evaluation result");
                let mut tail = all.split_off(start).into_iter();
                (tail.next().unwrap_or_default(), tail.collect::<Vec<_>>())
            };
            assert_eq!(header[1], "roc_auc");
            let r = &rows[0];
            let held_out = num(&r[0]);
            assert!(held_out >= 100.0, "held-out customers: {r:?}");
            let auc = num(&r[1]);
            // Floors: the planted lapsing customers make churn predictable; a model no better
            // than chance (0.5) or an inverted one fails here.
            assert!(auc >= 0.65, "held-out ROC AUC {auc}: {r:?}");
            assert_eq!(r[1], r[7], "ml_evaluate and the roc_auc aggregate agree");
            assert!(num(&r[8]) >= 1.3, "top-decile lift: {r:?}");
            let churn_rate = num(&r[9]);
            assert!(churn_rate > 0.05 && churn_rate < 0.95, "{r:?}");
            continue;
        }
        if name == "purchase_propensity" {
            // 28 days before a cutoff and 14 after: runs on the 90-day shop.
            let (header, rows) = run_on(&file, crate::fixture::long_shop());
            let mut all = vec![header];
            all.extend(rows);
            let start = all
                .iter()
                .rposition(|r| r.first().is_some_and(|c| c == "bucket"))
                .expect("the lift table");
            let rows = all.split_off(start + 1);
            assert_eq!(rows.len(), 10, "deciles: {rows:?}");
            let lift_top = num(&rows[0][4]);
            let lift_bottom = num(&rows[9][4]);
            // Floors: the top decile buys clearly more often than average, the bottom less.
            assert!(lift_top >= 1.5, "top-decile lift {lift_top}: {rows:?}");
            assert!(
                lift_bottom < 1.0,
                "bottom-decile lift {lift_bottom}: {rows:?}"
            );
            assert!(
                (num(&rows[9][5]) - 1.0).abs() < 1e-9,
                "gain ends at 1: {rows:?}"
            );
            let users: f64 = rows.iter().map(|r| num(&r[1])).sum();
            assert!(users >= 200.0, "held-out users: {users}");
            continue;
        }
        if name == "campaign_targets" {
            check_campaign_targets(&file);
            continue;
        }
        if name == "customer_segments" {
            // CREATE VIEW, CREATE MODEL (one row describing the model), then the profile.
            let (model, _) = run_last(&file, "model");
            assert_eq!(model[0], "model");
            let (header, rows) = run_last(&file, "segment");
            assert_eq!(header[1], "users");
            assert_eq!(rows.len(), 6, "six segments: {rows:?}");
            let users: f64 = rows.iter().map(|r| num(&r[1])).sum();
            assert_eq!(users as i64, count("SELECT count(*) FROM users"));
            let revenue: f64 = rows.iter().map(|r| num(&r[4])).sum();
            let all_revenue = count("SELECT CAST(round(sum(total_amount)) AS BIGINT) FROM orders");
            assert!(
                (revenue - all_revenue as f64).abs() <= 1.0 + 1e-6 * revenue,
                "segments partition the revenue: {revenue} vs {all_revenue}"
            );
            let share: f64 = rows.iter().map(|r| num(&r[2])).sum();
            assert!((share - 100.0).abs() < 0.5, "{share}");
            // Segments differ in what they are worth (the point of segmenting).
            let per_user: Vec<f64> = rows.iter().map(|r| num(&r[3])).collect();
            let (lo, hi) = per_user
                .iter()
                .fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(hi > 5.0 * lo.max(1.0), "{per_user:?}");
            continue;
        }
        let (header, rows) = run(&file);
        match name.as_str() {
            "shop_overview" => {
                assert_eq!(header[0], "dt");
                assert_eq!(rows.len(), 30, "one row per generated day");
                for r in &rows {
                    let (views, carts, checkouts) = (num(&r[2]), num(&r[3]), num(&r[4]));
                    assert!(
                        views > carts && carts >= checkouts,
                        "funnel must narrow: {r:?}"
                    );
                    assert!(num(&r[1]) > 0.0);
                }
            }
            "funnel_by_channel" => {
                assert_eq!(header[..3], ["acquisition_channel", "device", "viewed"]);
                let mut purchased = 0.0;
                for r in &rows {
                    let steps: Vec<f64> = r[2..6].iter().map(|v| num(v)).collect();
                    assert!(
                        steps.windows(2).all(|w| w[0] >= w[1]),
                        "a funnel narrows: {r:?}"
                    );
                    for minutes in r[7..10].iter().filter(|v| !v.is_empty()) {
                        assert!(num(minutes) >= 0.0 && num(minutes) <= 24.0 * 60.0, "{r:?}");
                    }
                    purchased += steps[3];
                }
                // The same users, counted with funnel() instead of funnel_steps().
                let expected = count(
                    "SELECT count(*) FROM (SELECT user_id, device, funnel(INTERVAL '1 day', ts, event_type = 'view',
                        event_type = 'add_to_cart', event_type = 'begin_checkout', event_type = 'purchase') AS depth
                     FROM events GROUP BY user_id, device) WHERE depth = 4",
                );
                assert_eq!(purchased as i64, expected);
                assert!(rows.len() >= 12, "6 channels × up to 3 devices");
            }
            "rfm_segments" => {
                assert_eq!(header.last().map(String::as_str), Some("segment"));
                let expected =
                    count("SELECT count(DISTINCT user_id) FROM orders WHERE status <> 'cancelled'");
                assert_eq!(rows.len() as i64, expected, "one row per buying customer");
                const SEGMENTS: [&str; 11] = [
                    "Champions",
                    "Loyal Customers",
                    "Potential Loyalists",
                    "New Customers",
                    "Promising",
                    "Need Attention",
                    "About to Sleep",
                    "At Risk",
                    "Cannot Lose Them",
                    "Hibernating",
                    "Lost",
                ];
                let mut money = std::collections::HashMap::<&str, (f64, f64)>::new();
                for r in &rows {
                    for score in &r[4..7] {
                        assert!((1.0..=5.0).contains(&num(score)), "{r:?}");
                    }
                    let seg = SEGMENTS
                        .iter()
                        .find(|s| **s == r[7])
                        .unwrap_or_else(|| panic!("unknown segment {r:?}"));
                    let e = money.entry(seg).or_default();
                    e.0 += num(&r[3]);
                    e.1 += 1.0;
                }
                let avg = |s: &str| {
                    money
                        .get(s)
                        .map(|(m, n)| m / n)
                        .unwrap_or_else(|| panic!("no {s}"))
                };
                assert!(
                    avg("Champions") > 2.0 * avg("Lost"),
                    "champions must spend more than lost customers"
                );
                assert!(
                    money.len() >= 8,
                    "most segments should be populated: {:?}",
                    money.keys()
                );
            }
            "sessions" => {
                assert_eq!(header[1], "sessions");
                // The same sessions by the LAG + running SUM formulation.
                let expected = count(
                    "SELECT count(*) FROM (SELECT user_id, ts, lag(ts) OVER (PARTITION BY user_id ORDER BY ts) AS prev FROM events)
                     WHERE prev IS NULL OR ts - prev > INTERVAL '30 minutes'",
                );
                let total: f64 = rows.iter().map(|r| num(&r[1])).sum();
                assert_eq!(total as i64, expected);
                assert_eq!(
                    rows.len() as i64,
                    count("SELECT count(DISTINCT user_id) FROM events")
                );
                for r in &rows {
                    assert!(num(&r[2]) >= 0.0 && num(&r[4]) <= num(&r[1]), "{r:?}");
                }
            }
            "cohort_retention" => {
                assert_eq!(header[2], "week_0");
                assert!(rows.len() >= 4, "weekly cohorts over 30 days");
                let users: f64 = rows.iter().map(|r| num(&r[1])).sum();
                assert_eq!(
                    users as i64,
                    count(
                        "SELECT count(DISTINCT u.user_id) FROM users u JOIN events e USING (user_id)
                         WHERE u.signup_ts >= (SELECT min(ts) FROM events)"
                    )
                );
                let mut observed = 0;
                for r in &rows {
                    if r[2].is_empty() {
                        assert!(
                            r[3..].iter().all(String::is_empty),
                            "later weeks cannot be known before week 0: {r:?}"
                        );
                        continue;
                    }
                    observed += 1;
                    let w0 = num(&r[2]);
                    assert!(w0 <= num(&r[1]), "{r:?}");
                    for w in r[3..].iter().filter(|w| !w.is_empty()) {
                        assert!(
                            num(w) <= w0,
                            "returning users are a subset of week-0 users: {r:?}"
                        );
                    }
                }
                assert!(observed >= 2, "some cohorts must be observable");
            }
            "review_sentiment" => {
                assert_eq!(
                    header,
                    [
                        "category",
                        "week",
                        "reviews",
                        "avg_sentiment",
                        "positive_share",
                        "negative_share",
                        "avg_rating"
                    ]
                );
                let mut reviews = 0.0;
                let mut weighted = 0.0;
                for r in &rows {
                    let (n, s, pos, neg) = (num(&r[2]), num(&r[3]), num(&r[4]), num(&r[5]));
                    assert!((-1.0..=1.0).contains(&s), "{r:?}");
                    // Shares are rounded to 3 decimals, so they may add up to 1.001.
                    assert!(pos >= 0.0 && neg >= 0.0 && pos + neg <= 1.002, "{r:?}");
                    reviews += n;
                    weighted += n * s;
                }
                assert_eq!(
                    reviews as i64,
                    count("SELECT count(*) FROM reviews JOIN products USING (product_id)")
                );
                assert!(
                    weighted / reviews > 0.1,
                    "generated ratings lean positive, so must sentiment"
                );
            }
            "negative_reviews" => {
                assert_eq!(
                    header[..5],
                    ["review_id", "rating", "score", "language", "why"]
                );
                assert!(!rows.is_empty() && rows.len() <= 20, "{} rows", rows.len());
                let scores: Vec<f64> = rows.iter().map(|r| num(&r[2])).collect();
                assert!(
                    scores.windows(2).all(|w| w[0] <= w[1]),
                    "most negative first"
                );
                assert!(scores[0] < -0.5, "{scores:?}");
                for r in rows.iter().filter(|r| num(&r[2]) < 0.0) {
                    assert!(
                        !r[4].is_empty(),
                        "a negative score has an explanation: {r:?}"
                    );
                    assert!(num(&r[1]) <= 5.0 && ["en", "zh"].contains(&r[3].as_str()));
                }
            }
            other => {
                panic!("queries/{other}.sql has no result check in tests/integration/queries.rs")
            }
        }
    }
}

/// The last result in `all` (CSV rows of several results) whose header starts with `first`,
/// up to the next row starting with one of `next` (the first cells of the later headers).
fn result_starting(
    all: &[Vec<String>],
    first: &str,
    next: &[&str],
) -> (Vec<String>, Vec<Vec<String>>) {
    let start = all
        .iter()
        .rposition(|r| r.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no result with header {first}"));
    let end = all[start + 1..]
        .iter()
        .position(|r| r.first().is_some_and(|c| next.contains(&c.as_str())))
        .map_or(all.len(), |p| start + 1 + p);
    (all[start].clone(), all[start + 1..end].to_vec())
}

/// `campaign_targets.sql` on the 90-day shop: every target is in the chosen segment (as
/// `rfm_segments.sql` scores it, independently), has not bought in 14 days, and is in the top
/// decile of the eligible customers; the model behind it clears a held-out AUC floor.
fn check_campaign_targets(file: &std::path::Path) {
    let data = crate::fixture::long_shop();
    let state = temp_dir("campaign");
    // The file, then two checks that need its views (views live for one session).
    let script = state.path().join("campaign_targets_checked.sql");
    let body = std::fs::read_to_string(file).expect("read the query file");
    std::fs::write(
        &script,
        format!(
            "{body}\nSELECT avg(probability) AS eligible_mean, count(*) AS eligible \
             FROM ml_predict('campaign_propensity', 'SELECT * FROM campaign_eligible');\n\
             SELECT key AS metric, value FROM ml_model_info('campaign_propensity') \
             WHERE section = 'metric' AND key IN ('roc_auc', 'rows') ORDER BY key;\n"
        ),
    )
    .expect("write the checked script");
    let (header, rows) = run_in(&["-f".as_ref(), script.as_os_str()], data, state.path());
    let mut all = vec![header];
    all.extend(rows);
    let (header, targets) = result_starting(&all, "user_id", &["eligible_mean"]);
    assert_eq!(
        header,
        [
            "user_id",
            "segment",
            "propensity",
            "reason_1",
            "effect_1",
            "reason_2",
            "effect_2",
            "reason_3",
            "effect_3"
        ]
    );
    let (_, eligible) = result_starting(&all, "eligible_mean", &["metric"]);
    let (mean, eligible) = (num(&eligible[0][0]), num(&eligible[0][1]));
    let (_, metrics) = result_starting(&all, "metric", &[]);

    // Top decile of the eligible (ntile(10): the first tile has ceil(n / 10) rows).
    assert!(eligible >= 50.0, "eligible customers: {eligible}");
    assert_eq!(
        targets.len(),
        (eligible / 10.0).ceil() as usize,
        "{targets:?}"
    );

    // The segment, scored by the RFM query file itself.
    let rfm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/rfm_segments.sql");
    let (rfm_header, rfm_rows) = run_on(&rfm, data);
    assert_eq!(rfm_header[7], "segment");
    let segment_of: std::collections::HashMap<&str, &str> = rfm_rows
        .iter()
        .map(|r| (r[0].as_str(), r[7].as_str()))
        .collect();
    let features = [
        "views",
        "searches",
        "carts",
        "checkouts",
        "active_days",
        "days_since_last_event",
        "orders",
        "avg_order_value",
        "coupon_share",
        "days_since_last_order",
        "acquisition_channel",
    ];
    let mut last = f64::INFINITY;
    for t in &targets {
        assert_eq!(segment_of.get(t[0].as_str()), Some(&"At Risk"), "{t:?}");
        assert_eq!(t[1], "At Risk");
        let p = num(&t[2]);
        assert!(
            p > 0.0 && p < 1.0 && p <= last,
            "ordered by propensity: {t:?}"
        );
        last = p;
        // Three distinct reasons, strongest first.
        let reasons = [&t[3], &t[5], &t[7]];
        assert!(
            reasons.iter().all(|r| features.contains(&r.as_str())),
            "{t:?}"
        );
        assert!(reasons[0] != reasons[1] && reasons[1] != reasons[2] && reasons[0] != reasons[2]);
        let effects = [num(&t[4]).abs(), num(&t[6]).abs(), num(&t[8]).abs()];
        assert!(
            effects[0] + 1e-3 >= effects[1] && effects[1] + 1e-3 >= effects[2],
            "{t:?}"
        );
    }
    let top = targets.iter().map(|t| num(&t[2])).sum::<f64>() / targets.len() as f64;
    assert!(top >= 1.5 * mean, "top decile {top} vs eligible {mean}");

    // Nobody on the list bought in the 14 days before the end of the logs.
    let ids: Vec<&str> = targets.iter().map(|t| t[0].as_str()).collect();
    let sql = format!(
        "SELECT count(*) AS n FROM orders WHERE status <> 'cancelled' \
         AND ts >= (SELECT max(ts) FROM events) - INTERVAL '14 days' AND user_id IN ({})",
        ids.join(",")
    );
    let (_, recent) = run_in(&["-c".as_ref(), sql.as_ref()], data, state.path());
    assert_eq!(recent[0][0], "0", "targets who bought recently");

    // The model the list comes from clears held-out floors.
    assert_eq!(metrics[0][0], "roc_auc");
    let auc = num(&metrics[0][1]);
    assert!(auc >= 0.72, "held-out ROC AUC {auc}");
    assert!(num(&metrics[1][1]) >= 300.0, "held-out rows {metrics:?}");
}
