//! The catalog: corrupt, missing, empty and inconsistent inputs give one clear error naming the
//! path, and the rest still loads; hive partitions prune.

use std::path::Path;

use datafusion::arrow::util::pretty::pretty_format_batches;
use ecomsql::catalog::{CatalogError, register_data_dir};

use crate::fixture::{query, scalar_i64, shop, temp_dir};

fn copy_table(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn ctx() -> datafusion::prelude::SessionContext {
    ecomsql::build_session(&ecomsql::Config::default()).expect("session")
}

#[tokio::test]
async fn corrupt_file_is_named_and_the_rest_loads() {
    let dir = temp_dir("corrupt");
    copy_table(&shop().join("users"), &dir.path().join("users"));
    copy_table(&shop().join("products"), &dir.path().join("products"));
    let bad = dir.path().join("products").join("part-1.parquet");
    std::fs::write(&bad, b"PAR1 this is not parquet at all").expect("write");
    let ctx = ctx();
    let report = register_data_dir(&ctx, dir.path()).await;
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    let msg = report.errors[0].to_string();
    assert!(
        matches!(report.errors[0], CatalogError::Corrupt { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("products"),
        "{msg}"
    );
    assert_eq!(report.tables.len(), 1);
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM users").await, 2_000);
    let err = ctx
        .sql("SELECT * FROM products")
        .await
        .expect_err("products must not be registered");
    assert!(err.to_string().contains("products"), "{err}");
}

#[tokio::test]
async fn truncated_file_is_named() {
    let dir = temp_dir("truncated");
    copy_table(&shop().join("users"), &dir.path().join("users"));
    let file = dir.path().join("users").join("part-0.parquet");
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    let report = register_data_dir(&ctx(), dir.path()).await;
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0]
            .to_string()
            .contains(&file.display().to_string()),
        "{}",
        report.errors[0]
    );
}

#[tokio::test]
async fn missing_and_empty_directories() {
    let dir = temp_dir("missing");
    let missing = dir.path().join("nope");
    let report = register_data_dir(&ctx(), &missing).await;
    assert!(matches!(report.errors.as_slice(), [CatalogError::MissingDir(p)] if p == &missing));
    let report = register_data_dir(&ctx(), dir.path()).await;
    assert!(
        matches!(report.errors.as_slice(), [CatalogError::EmptyDir(_)]),
        "{:?}",
        report.errors
    );
    std::fs::create_dir_all(dir.path().join("hollow")).expect("mkdir");
    let report = register_data_dir(&ctx(), dir.path()).await;
    assert!(
        matches!(report.errors.as_slice(), [CatalogError::EmptyTable(_)]),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn disagreeing_schemas_name_both_files() {
    let dir = temp_dir("mismatch");
    let t = dir.path().join("mixed");
    std::fs::create_dir_all(&t).expect("mkdir");
    std::fs::copy(
        shop().join("users").join("part-0.parquet"),
        t.join("a.parquet"),
    )
    .expect("copy");
    std::fs::copy(
        shop().join("products").join("part-0.parquet"),
        t.join("b.parquet"),
    )
    .expect("copy");
    let report = register_data_dir(&ctx(), dir.path()).await;
    let msg = report
        .errors
        .first()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("a.parquet") && msg.contains("b.parquet") && msg.contains("mixed"),
        "{msg}"
    );
}

#[tokio::test]
async fn hive_partitions_are_columns_and_prune() {
    let ctx = ctx();
    let report = register_data_dir(&ctx, shop()).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let events = report
        .tables
        .iter()
        .find(|t| t.name == "events")
        .expect("events table");
    assert_eq!(events.partition_cols, vec!["dt".to_string()]);
    assert!(
        !report.tables.iter().any(|t| t.name.starts_with('_')),
        "_truth must not be registered"
    );
    let one_day = scalar_i64(
        &ctx,
        "SELECT count(*) FROM events WHERE dt = DATE '2026-01-03'",
    )
    .await;
    let by_ts = scalar_i64(
        &ctx,
        "SELECT count(*) FROM events WHERE CAST(ts AS DATE) = DATE '2026-01-03'",
    )
    .await;
    assert_eq!(one_day, by_ts);
    let plan = pretty_format_batches(
        &query(
            &ctx,
            "EXPLAIN SELECT count(DISTINCT user_id) FROM events WHERE dt = DATE '2026-01-03'",
        )
        .await,
    )
    .expect("format")
    .to_string();
    assert!(plan.contains("dt=2026-01-03"), "{plan}");
    assert!(
        !plan.contains("dt=2026-01-04"),
        "partition pruning did not prune:\n{plan}"
    );
}
