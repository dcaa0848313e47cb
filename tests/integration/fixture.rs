//! Shared test data: one generated shop per test binary run (generated once, on first use).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use ecomsql::generator::{GenOptions, generate};

/// A temp folder removed when dropped.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("ecomsql-{label}-"))
        .tempdir()
        .expect("temp dir")
}

/// Options for a small shop at `out`.
pub fn small_opts(out: PathBuf, users: u64, days: u32, threads: usize) -> GenOptions {
    GenOptions {
        users,
        days,
        threads,
        force: true,
        progress: false,
        ..GenOptions::sample(out)
    }
}

/// 2,000 users over 30 days, generated once.
pub fn shop() -> &'static Path {
    static SHOP: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = SHOP.get_or_init(|| {
        let dir = temp_dir("shop");
        let path = dir.path().join("shop");
        generate(&small_opts(path.clone(), 2_000, 30, 2)).expect("generate the test shop");
        (dir, path)
    });
    path
}

/// 3,000 users over 90 days, generated once: long enough for models that take features before
/// a cutoff and a label from the 30 days after it.
pub fn long_shop() -> &'static Path {
    static SHOP: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = SHOP.get_or_init(|| {
        let dir = temp_dir("long-shop");
        let path = dir.path().join("shop");
        generate(&small_opts(path.clone(), 3_000, 90, 2)).expect("generate the long test shop");
        (dir, path)
    });
    path
}

/// A model registry folder for this test run (beside the shared shop, so it never lands in the
/// working directory).
pub fn state_dir() -> PathBuf {
    shop().parent().expect("shop parent").join("state")
}

/// A session over `dir` with every ecomsql function and the run's model registry.
pub async fn session(dir: &Path) -> SessionContext {
    session_with_state(dir, &state_dir()).await
}

/// A session over `dir` with the model registry under `state`.
pub async fn session_with_state(dir: &Path, state: &Path) -> SessionContext {
    let config = ecomsql::Config {
        state_dir: state.to_path_buf(),
        ..ecomsql::Config::default()
    };
    let ctx = ecomsql::build_session(&config).expect("session");
    let report = ecomsql::catalog::register_data_dir(&ctx, dir).await;
    assert!(
        report.errors.is_empty(),
        "catalog errors: {:?}",
        report.errors
    );
    ctx
}

/// Runs a statement through the statement layer (as the shell does) and returns its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    match ecomsql::statements::run_to_batches(ctx, sql).await {
        Ok((_, batches)) => batches,
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// Runs a statement that must fail; returns the error message.
pub async fn query_err(ctx: &SessionContext, sql: &str) -> String {
    match ecomsql::statements::run_to_batches(ctx, sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Runs a query returning one integer.
pub async fn scalar_i64(ctx: &SessionContext, sql: &str) -> i64 {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let batches = query(ctx, sql).await;
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .unwrap_or_else(|| panic!("{sql}: no rows"));
    let col = datafusion::arrow::compute::cast(
        b.column(0),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .expect("cast");
    col.as_primitive::<Int64Type>().value(0)
}
