//! Sentiment on generated reviews: `sentiment_label` must agree with the rating's polarity
//! (1–2 stars negative, 4–5 positive; 3 stars left out) on at least 85% of the reviews of each
//! language (issue #6). The shop is the shared test shop (2,000 users, 30 days, seed 42); the
//! lexicons were written while reading a different generated shop (seed 7), see data/README.md.

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Float64Type, Int64Type};

use crate::fixture::{long_shop, query, session, session_with_state, shop, temp_dir};

/// (language, agreement, reviews, neutral share), per language.
async fn agreement(sql_language: &str) -> Vec<(String, f64, i64, f64)> {
    let ctx = session(shop()).await;
    let sql = format!(
        "SELECT language,
                avg(CASE WHEN (rating <= 2 AND l = 'negative') OR (rating >= 4 AND l = 'positive')
                         THEN 1.0 ELSE 0.0 END) AS agree,
                count(*) AS n,
                avg(CASE WHEN l = 'neutral' THEN 1.0 ELSE 0.0 END) AS neutral
         FROM (SELECT language, rating, sentiment_label(review_text{sql_language}) AS l
               FROM reviews WHERE rating <> 3)
         GROUP BY language ORDER BY language"
    );
    let mut out = Vec::new();
    for b in query(&ctx, &sql).await {
        let lang = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let lang = lang.as_string::<i32>();
        let agree = b.column(1).as_primitive::<Float64Type>();
        let n = b.column(2).as_primitive::<Int64Type>();
        let neutral = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((
                lang.value(i).to_string(),
                agree.value(i),
                n.value(i),
                neutral.value(i),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_agree_with_ratings_in_each_language() {
    for (how, arg) in [("detected", ""), ("from the language column", ", language")] {
        let rows = agreement(arg).await;
        let langs: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(langs, ["en", "zh"], "both languages are generated");
        for (lang, agree, n, neutral) in rows {
            // Printed so that `cargo test -- --nocapture` shows the numbers the README quotes.
            println!(
                "sentiment agreement ({how}) {lang}: {:.1}% of {n} reviews ({:.1}% neutral)",
                agree * 100.0,
                neutral * 100.0
            );
            assert!(n >= 100, "{lang}: only {n} reviews");
            assert!(
                agree >= 0.85,
                "{lang} ({how}): sentiment_label agrees with the rating on {:.1}% < 85%",
                agree * 100.0
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explanations_add_up_on_every_review() {
    let ctx = session(shop()).await;
    let batches = query(
        &ctx,
        "WITH items AS (SELECT review_id, unnest(sentiment_explain(review_text)) AS e FROM reviews),
              raw AS (SELECT review_id, sum(e['contribution']) AS raw FROM items GROUP BY review_id)
         SELECT count(*) FILTER (WHERE abs(sentiment(r.review_text) - tanh(coalesce(raw.raw, 0) / 4)) > 1e-9),
                count(*)
         FROM reviews r LEFT JOIN raw USING (review_id)",
    )
    .await;
    let b = &batches[0];
    let bad = b.column(0).as_primitive::<Int64Type>().value(0);
    let all = b.column(1).as_primitive::<Int64Type>().value(0);
    assert!(all > 300, "{all} reviews");
    assert_eq!(
        bad, 0,
        "{bad} of {all} explanations do not add up to the score"
    );
}

/// `text_classifier` on generated reviews (issue #6): trained on the 80% of reviews outside a
/// hashed 20% (ratings 4–5 positive, 1–2 negative, 3 left out), it must rank the held-out
/// reviews of each language well. The floor is below what it reaches (about 0.94 English,
/// 0.97 Chinese on a shop of this size) so that generator changes do not make it flaky, and
/// far above chance, so a broken featurizer or optimiser fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_classifier_ranks_held_out_reviews_in_each_language() {
    let state = temp_dir("text-classifier");
    let ctx = session_with_state(long_shop(), state.path()).await;
    query(
        &ctx,
        "CREATE MODEL happy OPTIONS (model_type = 'text_classifier', label = 'good',
                data_split = 'column', data_split_column = 'held')
         AS SELECT review_text, rating >= 4 AS good, hash_split(review_id) < 0.2 AS held
            FROM reviews WHERE rating <> 3",
    )
    .await;
    for lang in ["en", "zh"] {
        let batches = query(
            &ctx,
            &format!(
                "SELECT rows, roc_auc FROM ml_evaluate('happy', 'SELECT review_text, rating >= 4 AS good
                   FROM reviews WHERE rating <> 3 AND hash_split(review_id) < 0.2 AND language = ''{lang}''')"
            ),
        )
        .await;
        let rows = batches[0].column(0).as_primitive::<Int64Type>().value(0);
        let auc = batches[0].column(1).as_primitive::<Float64Type>().value(0);
        println!("text_classifier held-out ROC AUC {lang}: {auc:.3} on {rows} reviews");
        assert!(rows >= 50, "{lang}: only {rows} held-out reviews");
        assert!(
            auc >= 0.85,
            "{lang}: held-out ROC AUC {auc:.3} is below the 0.85 floor"
        );
    }
}
