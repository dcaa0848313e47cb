//! Sentiment scoring speed: the kernels on one core, and the SQL functions on two.
//!
//! Data size: generated English reviews of 90–110 characters (≈100; 20,000 for the kernels,
//! 400,000 for SQL) and generated Chinese reviews at their natural length (≈21 characters),
//! from `ecomsql::generator::reviews` with a fixed seed. Throughput is reported in reviews/s.
//! Targets (issue #6): ≥ 500k reviews/s on 2 cores for ~100-character reviews; explanations
//! at most 3× slower than scores.
//! Run: `cargo bench --bench sentiment`.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use ecomsql::generator::reviews::{ReviewLanguage, write_review};
use ecomsql_udfs::sentiment::arguments::LanguageArg;
use ecomsql_udfs::sentiment::sentiment::sentiment_array;
use ecomsql_udfs::sentiment::sentiment_explain::sentiment_explain_array;
use ecomsql_udfs::sentiment::sentiment_label::sentiment_label_array;
use rand::{Rng, SeedableRng};

const CATEGORIES: [&str; 8] = [
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
];

/// `n` generated reviews; English ones kept only at 90–110 characters.
fn reviews(n: usize, language: ReviewLanguage, seed: u64) -> Vec<String> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    let mut text = String::new();
    while out.len() < n {
        text.clear();
        let rating = rng.gen_range(1..=5u8);
        let category = CATEGORIES[rng.gen_range(0..CATEGORIES.len())];
        write_review(&mut rng, rating, category, language, &mut text);
        let chars = text.chars().count();
        if language == ReviewLanguage::Zh || (90..=110).contains(&chars) {
            out.push(text.clone());
        }
    }
    out
}

fn bench_kernels(c: &mut Criterion) {
    let en = reviews(20_000, ReviewLanguage::En, 1);
    let zh = reviews(20_000, ReviewLanguage::Zh, 2);
    let mean = |v: &[String]| v.iter().map(|s| s.chars().count()).sum::<usize>() / v.len();
    eprintln!(
        "kernel data: 20,000 English reviews of {} chars on average, 20,000 Chinese of {}",
        mean(&en),
        mean(&zh)
    );
    let en: ArrayRef = Arc::new(StringArray::from(en));
    let zh: ArrayRef = Arc::new(StringArray::from(zh));
    let mut group = c.benchmark_group("sentiment_kernel_1_core");
    group.throughput(Throughput::Elements(20_000));
    group.sample_size(20);
    group.bench_function("sentiment_en_100_chars", |b| {
        b.iter(|| sentiment_array(&en, &LanguageArg::Detect).expect("score"))
    });
    group.bench_function("sentiment_label_en_100_chars", |b| {
        b.iter(|| sentiment_label_array(&en, &LanguageArg::Detect).expect("label"))
    });
    group.bench_function("sentiment_explain_en_100_chars", |b| {
        b.iter(|| sentiment_explain_array(&en, &LanguageArg::Detect).expect("explain"))
    });
    group.bench_function("sentiment_zh_21_chars", |b| {
        b.iter(|| sentiment_array(&zh, &LanguageArg::Detect).expect("score"))
    });
    group.bench_function("sentiment_explain_zh_21_chars", |b| {
        b.iter(|| sentiment_explain_array(&zh, &LanguageArg::Detect).expect("explain"))
    });
    group.finish();
}

fn bench_sql(c: &mut Criterion) {
    const ROWS: usize = 400_000;
    let texts = reviews(ROWS, ReviewLanguage::En, 3);
    let schema = Arc::new(Schema::new(vec![Field::new("t", DataType::Utf8, false)]));
    // Two partitions of 8,192-row batches: both cores work.
    let parts: Vec<Vec<RecordBatch>> = texts
        .chunks(ROWS / 2)
        .map(|part| {
            part.chunks(8192)
                .map(|chunk| {
                    let col: ArrayRef = Arc::new(StringArray::from(chunk.to_vec()));
                    RecordBatch::try_new(schema.clone(), vec![col]).expect("batch")
                })
                .collect()
        })
        .collect();
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    ecomsql_udfs::register_all(&ctx, std::sync::Arc::new(ecomsql_udfs::model::NoModelStore));
    let table = MemTable::try_new(schema, parts).expect("table");
    ctx.register_table("reviews", Arc::new(table))
        .expect("register");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let run = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            ctx.sql(sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("run")
        }
    };
    let mut group = c.benchmark_group("sentiment_sql_2_cores");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function("sentiment_400k_reviews_100_chars", |b| {
        b.to_async(&rt)
            .iter(|| run("SELECT sum(sentiment(t)) FROM reviews"))
    });
    group.bench_function("sentiment_label_400k_reviews_100_chars", |b| {
        b.to_async(&rt)
            .iter(|| run("SELECT sentiment_label(t) AS l, count(*) FROM reviews GROUP BY 1"))
    });
    group.bench_function("sentiment_explain_400k_reviews_100_chars", |b| {
        b.to_async(&rt)
            .iter(|| run("SELECT sum(cardinality(sentiment_explain(t))) FROM reviews"))
    });
    group.finish();
}

criterion_group!(benches, bench_kernels, bench_sql);
criterion_main!(benches);
