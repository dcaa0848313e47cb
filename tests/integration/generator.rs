//! The generator: determinism, row counts, referential integrity, schemas, realism checks.

use datafusion::arrow::util::pretty::pretty_format_batches;
use ecomsql::generator::generate;

use crate::fixture::{query, scalar_i64, session, shop, small_opts, temp_dir};

#[tokio::test]
async fn same_flags_give_same_rows_whatever_the_thread_count() {
    let dir = temp_dir("determinism");
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    generate(&small_opts(a.clone(), 400, 20, 1)).expect("first run");
    generate(&small_opts(b.clone(), 400, 20, 3)).expect("second run");
    let (ca, cb) = (session(&a).await, session(&b).await);
    for (table, key) in [
        ("users", "user_id"),
        ("products", "product_id"),
        ("events", "event_id"),
        ("orders", "order_id"),
        ("reviews", "review_id"),
        ("campaigns", "user_id"),
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY {key}");
        let ta = pretty_format_batches(&query(&ca, &sql).await)
            .expect("format")
            .to_string();
        let tb = pretty_format_batches(&query(&cb, &sql).await)
            .expect("format")
            .to_string();
        assert!(ta.lines().count() > 4, "{table} is empty");
        assert!(ta == tb, "{table} differs between runs");
    }
    let other_seed = dir.path().join("c");
    let mut opts = small_opts(other_seed.clone(), 400, 20, 1);
    opts.seed = 7;
    generate(&opts).expect("third run");
    let cc = session(&other_seed).await;
    let sql = "SELECT count(*) FROM events";
    assert_ne!(
        scalar_i64(&ca, sql).await,
        scalar_i64(&cc, sql).await,
        "another seed should give other rows"
    );
}

#[tokio::test]
async fn row_counts_and_foreign_keys() {
    let ctx = session(shop()).await;
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM users").await, 2_000);
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(DISTINCT user_id) FROM users").await,
        2_000
    );
    let events = scalar_i64(&ctx, "SELECT count(*) FROM events").await;
    assert!(
        events > 30_000,
        "only {events} events for 2000 users x 30 days"
    );
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) - count(DISTINCT event_id) FROM events"
        )
        .await,
        0
    );
    for (sql, what) in [
        (
            "SELECT count(*) FROM events e LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
            "events.user_id",
        ),
        (
            "SELECT count(*) FROM events e LEFT JOIN products p ON e.product_id = p.product_id \
             WHERE e.product_id IS NOT NULL AND p.product_id IS NULL",
            "events.product_id",
        ),
        (
            "SELECT count(*) FROM orders o LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
            "orders.user_id",
        ),
        (
            "SELECT count(*) FROM reviews r LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
            "reviews.user_id",
        ),
        (
            "SELECT count(*) FROM reviews r LEFT JOIN products p USING (product_id) WHERE p.product_id IS NULL",
            "reviews.product_id",
        ),
        (
            "SELECT count(*) FROM campaigns c LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL",
            "campaigns.user_id",
        ),
        // Events happen after sign-up and inside their day's partition.
        (
            "SELECT count(*) FROM events e JOIN users u USING (user_id) WHERE e.ts < u.signup_ts",
            "events before sign-up",
        ),
        (
            "SELECT count(*) FROM events WHERE CAST(ts AS DATE) <> dt",
            "events outside their dt partition",
        ),
        // The category and price of an event are the product's.
        (
            "SELECT count(*) FROM events e JOIN products p USING (product_id) \
             WHERE e.category <> p.category OR e.price <> p.price",
            "event product attributes",
        ),
    ] {
        assert_eq!(scalar_i64(&ctx, sql).await, 0, "{what} does not resolve");
    }
}

#[tokio::test]
async fn orders_agree_with_purchase_events() {
    let ctx = session(shop()).await;
    let sql = "WITH p AS (
                 SELECT user_id, ts, sum(price * quantity) AS subtotal, sum(quantity) AS items
                 FROM events WHERE event_type = 'purchase' GROUP BY user_id, ts)
               SELECT count(*) FROM orders o FULL JOIN p ON o.user_id = p.user_id AND o.ts = p.ts
               WHERE o.order_id IS NULL OR p.user_id IS NULL
                  OR abs(o.total_amount + o.discount_amount - p.subtotal) > 0.011
                  OR o.item_count <> p.items";
    assert_eq!(scalar_i64(&ctx, sql).await, 0);
    assert!(scalar_i64(&ctx, "SELECT count(*) FROM orders").await > 100);
    assert!(scalar_i64(&ctx, "SELECT count(DISTINCT status) FROM orders").await == 3);
    assert!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM orders WHERE coupon_code IS NOT NULL AND discount_amount <= 0"
        )
        .await
            == 0
    );
}

#[tokio::test]
async fn funnels_leak_and_behaviour_is_realistic() {
    let ctx = session(shop()).await;
    let count = |t: &'static str| {
        let ctx = ctx.clone();
        async move {
            scalar_i64(
                &ctx,
                &format!("SELECT count(*) FROM events WHERE event_type = '{t}'"),
            )
            .await
        }
    };
    let (views, carts, checkouts) = (
        count("view").await,
        count("add_to_cart").await,
        count("begin_checkout").await,
    );
    let orders = scalar_i64(&ctx, "SELECT count(*) FROM orders").await;
    assert!(
        views > 5 * carts && carts > checkouts && checkouts > orders && orders > 0,
        "{views} {carts} {checkouts} {orders}"
    );
    assert!(count("search").await > 0 && count("remove_from_cart").await > 0);
    // Heavy tail: the most active 10% of users produce far more than 10% of events.
    let top_share = scalar_i64(
        &ctx,
        "WITH u AS (SELECT user_id, count(*) AS n FROM events GROUP BY user_id),
              r AS (SELECT n, ntile(10) OVER (ORDER BY n DESC) AS decile FROM u)
         SELECT CAST(100 * sum(CASE WHEN decile = 1 THEN n END) / sum(n) AS BIGINT) FROM r",
    )
    .await;
    assert!(top_share > 30, "top decile share {top_share}%");
    // Weekly cycle: weekend days busier than midweek.
    let ratio = scalar_i64(
        &ctx,
        "SELECT CAST(100 * avg(CASE WHEN extract(dow FROM dt) IN (0, 6) THEN n END) / avg(CASE WHEN extract(dow FROM dt) IN (2, 3) THEN n END) AS BIGINT)
         FROM (SELECT dt, count(*) AS n FROM events GROUP BY dt)",
    )
    .await;
    assert!(ratio > 105, "weekend/midweek ratio {ratio}%");
    // Repeat buyers exist.
    assert!(scalar_i64(&ctx, "SELECT count(*) FROM (SELECT user_id FROM orders GROUP BY user_id HAVING count(*) >= 3)").await > 10);
}

#[tokio::test]
async fn personas_campaign_and_reviews() {
    let dir = shop();
    let ctx = session(dir).await;
    ctx.register_parquet(
        "truth",
        dir.join("_truth")
            .join("users.parquet")
            .to_str()
            .expect("utf8"),
        Default::default(),
    )
    .await
    .expect("truth");
    assert!(scalar_i64(&ctx, "SELECT count(DISTINCT persona) FROM truth").await >= 5);
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM truth").await, 2_000);
    // Personas overlap: no single persona has a disjoint range of activity.
    let overlaps = scalar_i64(
        &ctx,
        "WITH a AS (SELECT t.persona, count(e.event_id) AS n FROM truth t LEFT JOIN events e USING (user_id) GROUP BY t.user_id, t.persona),
              r AS (SELECT persona, min(n) lo, max(n) hi FROM a GROUP BY persona)
         SELECT count(*) FROM r x JOIN r y ON x.persona < y.persona WHERE x.lo <= y.hi AND y.lo <= x.hi",
    )
    .await;
    assert!(
        overlaps >= 10,
        "persona activity ranges overlap in only {overlaps} pairs"
    );
    // Campaign: both arms, and the lift differs by persona.
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(DISTINCT treatment) FROM campaigns").await,
        2
    );
    // Reviews in both languages, tone following the rating.
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(DISTINCT language) FROM reviews").await,
        2
    );
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM reviews WHERE rating < 1 OR rating > 5 OR review_text = ''"
        )
        .await,
        0
    );
    assert!(scalar_i64(&ctx, "SELECT count(DISTINCT rating) FROM reviews").await == 5);
}

#[tokio::test]
async fn schemas_are_as_documented() {
    let ctx = session(shop()).await;
    let batches = query(
        &ctx,
        "SELECT table_name, column_name, data_type FROM information_schema.columns
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .await;
    let text = pretty_format_batches(&batches).expect("format").to_string();
    let text: String = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    // Strings are read as views (catalog: DataFusion's `schema_force_view_types`); the files
    // hold plain UTF-8 byte arrays, and results leave the process as Utf8.
    for expected in [
        "| events | event_id | Int64 |",
        "| events | ts | Timestamp(µs) |",
        "| events | dt | Date32 |",
        "| users | acquisition_channel | Utf8View |",
        "| orders | total_amount | Float64 |",
        "| reviews | review_text | Utf8View |",
        "| campaigns | treatment | Boolean |",
        "| products | brand | Utf8View |",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}
