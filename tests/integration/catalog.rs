//! The catalog: corrupt, missing, empty and inconsistent inputs give one clear error naming the
//! path, and the rest still loads; hive partitions prune.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
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

/// Copies a table folder with its hive partition folders.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        if e.path().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

fn footer_rows(file: &Path) -> i64 {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).expect("open")).expect("read");
    reader.metadata().file_metadata().num_rows()
}

async fn column_types(ctx: &datafusion::prelude::SessionContext, table: &str) -> Vec<String> {
    ctx.table(table)
        .await
        .expect("table")
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect()
}

#[tokio::test]
async fn insert_writes_a_file_that_loads_at_the_next_start() {
    let dir = temp_dir("insert");
    copy_table(&shop().join("reviews"), &dir.path().join("reviews"));
    let first = ctx();
    let report = register_data_dir(&first, dir.path()).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let before = scalar_i64(&first, "SELECT count(*) FROM reviews").await;
    let types = column_types(&first, "reviews").await;
    query(&first, "INSERT INTO reviews SELECT * FROM reviews LIMIT 1").await;
    assert_eq!(
        scalar_i64(&first, "SELECT count(*) FROM reviews").await,
        before + 1
    );
    // The next start: the table is still there, with the same schema and one more row.
    let again = ctx();
    let report = register_data_dir(&again, dir.path()).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report
            .tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["reviews"]
    );
    assert_eq!(column_types(&again, "reviews").await, types);
    assert_eq!(
        scalar_i64(&again, "SELECT count(*) FROM reviews").await,
        before + 1
    );
    // The new file stores strings as every other file does.
    let mut plain = 0;
    for e in std::fs::read_dir(dir.path().join("reviews"))
        .unwrap()
        .flatten()
    {
        use datafusion::parquet::arrow::parquet_to_arrow_schema;
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let r = SerializedFileReader::new(std::fs::File::open(e.path()).unwrap()).unwrap();
        let m = r.metadata().file_metadata();
        let s = parquet_to_arrow_schema(m.schema_descr(), m.key_value_metadata()).unwrap();
        let t = s
            .field_with_name("review_text")
            .unwrap()
            .data_type()
            .clone();
        assert_eq!(
            t,
            datafusion::arrow::datatypes::DataType::Utf8,
            "{}",
            e.path().display()
        );
        plain += 1;
    }
    assert!(plain >= 2);
}

#[tokio::test]
async fn files_of_one_table_may_differ_in_string_encoding() {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    let dir = temp_dir("views");
    copy_table(&shop().join("users"), &dir.path().join("users"));
    // A file as an older INSERT wrote it: strings stored as Utf8View.
    let batches = query(&ctx_with(dir.path()).await, "SELECT * FROM users").await;
    let schema = batches[0].schema();
    let views = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Field::new(f.name(), DataType::Utf8View, f.is_nullable()),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let file = std::fs::File::create(dir.path().join("users").join("part-9.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, Arc::clone(&views), None).unwrap();
    for b in &batches {
        let cols = b
            .columns()
            .iter()
            .zip(views.fields())
            .map(|(c, f)| cast(c, f.data_type()).unwrap())
            .collect();
        w.write(&RecordBatch::try_new(Arc::clone(&views), cols).unwrap())
            .unwrap();
    }
    w.close().unwrap();
    let ctx = ctx();
    let report = register_data_dir(&ctx, dir.path()).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM users").await, 4_000);
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(DISTINCT country) FROM users WHERE country > ''"
        )
        .await,
        scalar_i64(
            &ctx_with(shop()).await,
            "SELECT count(DISTINCT country) FROM users WHERE country > ''"
        )
        .await
    );
}

async fn ctx_with(dir: &Path) -> datafusion::prelude::SessionContext {
    let ctx = ctx();
    let report = register_data_dir(&ctx, dir).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    ctx
}

/// A copy of the test shop's `events` in a temp folder: the folder, the table's folder, its day
/// folders in order, and a session over it.
async fn events_copy(
    label: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Vec<std::path::PathBuf>,
    datafusion::prelude::SessionContext,
) {
    let dir = temp_dir(label);
    let events = dir.path().join("events");
    copy_tree(&shop().join("events"), &events);
    let ctx = ctx_with(dir.path()).await;
    let mut days: Vec<_> = std::fs::read_dir(&events)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    days.sort();
    (dir, events, days, ctx)
}

#[tokio::test]
async fn a_long_lived_session_sees_files_removed_and_added() {
    let (_dir, events, days, ctx) = events_copy("relist").await;
    let total = scalar_i64(&ctx, "SELECT count(*) FROM events").await;
    scalar_i64(&ctx, "SELECT CAST(sum(price) AS BIGINT) FROM events").await;
    let gone = days[0].join("part-0.parquet");
    let gone_rows = footer_rows(&gone);
    std::fs::remove_file(&gone).unwrap();
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(*) FROM events").await,
        total - gone_rows
    );
    scalar_i64(&ctx, "SELECT CAST(sum(price) AS BIGINT) FROM events").await;
    // A new day appears.
    let new_day = events.join("dt=2030-01-01");
    std::fs::create_dir_all(&new_day).unwrap();
    let added = days[1].join("part-0.parquet");
    std::fs::copy(&added, new_day.join("part-0.parquet")).unwrap();
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(*) FROM events").await,
        total - gone_rows + footer_rows(&added)
    );
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM events WHERE dt = DATE '2030-01-01'"
        )
        .await,
        footer_rows(&added)
    );
}

#[tokio::test]
async fn a_file_removed_while_a_query_runs_is_named() {
    let (_dir, _events, days, ctx) = events_copy("vanish").await;
    // Planned (files listed), then a file goes before it is read.
    let df = ctx.sql("SELECT sum(price) FROM events").await.unwrap();
    let plan = df.create_physical_plan().await.unwrap();
    let gone = days[3].join("part-0.parquet");
    std::fs::remove_file(&gone).unwrap();
    let err = datafusion::physical_plan::collect(plan, ctx.task_ctx())
        .await
        .expect_err("a file is gone");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("reading file {}", gone.display())) && msg.contains("was removed"),
        "{msg}"
    );
}

/// A one-file table `t` with an integer column `n` and a string column `s`, written plainly
/// (no dictionary) with `compression`, so its bytes can be damaged on purpose.
fn write_damageable(
    dir: &Path,
    compression: datafusion::parquet::basic::Compression,
) -> std::path::PathBuf {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    let t = dir.join("t");
    std::fs::create_dir_all(&t).unwrap();
    let n: Vec<i64> = (0..20_000).map(|i| (i * 7919) % 100_003).collect();
    let s: Vec<String> = (0..20_000).map(|i| format!("MARKER{i:08}")).collect();
    let batch = RecordBatch::try_from_iter([
        ("n", Arc::new(Int64Array::from(n)) as _),
        ("s", Arc::new(StringArray::from(s)) as _),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_dictionary_enabled(false)
        .set_compression(compression)
        .set_statistics_enabled(datafusion::parquet::file::properties::EnabledStatistics::None)
        .build();
    let path = t.join("part-0.parquet");
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}

#[tokio::test]
async fn invalid_utf8_in_a_file_names_the_file_and_column() {
    let dir = temp_dir("utf8");
    let path = write_damageable(
        dir.path(),
        datafusion::parquet::basic::Compression::UNCOMPRESSED,
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"MARKER00000020")
        .expect("the value is stored as is");
    bytes[at] = 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let ctx = ctx_with(dir.path()).await;
    let err = crate::fixture::query_err(&ctx, "SELECT max(s) FROM t").await;
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("column s"), "{err}");
    assert!(
        err.contains("UTF-8") || err.contains("utf8") || err.contains("utf-8"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bit_flipped_file_names_the_file() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = temp_dir("bitflip");
    let path = write_damageable(
        dir.path(),
        datafusion::parquet::basic::Compression::ZSTD(Default::default()),
    );
    let (start, len) = {
        let r = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let c = r.metadata().row_group(0).column(0);
        (c.data_page_offset() as usize, c.compressed_size() as usize)
    };
    let mut bytes = std::fs::read(&path).unwrap();
    // The second half of column n's compressed pages, well past the page header.
    for b in &mut bytes[start + len / 2..start + len] {
        *b = !*b;
    }
    std::fs::write(&path, &bytes).unwrap();
    let ctx = ctx_with(dir.path()).await;
    let err = crate::fixture::query_err(&ctx, "SELECT sum(n), max(s) FROM t").await;
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("column n"), "{err}");
}
