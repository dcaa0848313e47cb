//! The sqllogictest harness: runs every `tests/sql/**/*.slt` file against a fresh ecomsql
//! session (all ecomsql functions registered through `register_all`, plus a small generated
//! shop data set registered as tables, and an empty model registry). One file, one session.
//! Statements go through `ecomsql::statements`, so `CREATE MODEL` and friends work here.
//!
//! Run one file: `cargo test --test sqllogictests -- features/hash_split`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use ecomsql::generator::{GenOptions, generate};
use sqllogictest::{DBOutput, DefaultColumnType};

struct EcomDb {
    ctx: SessionContext,
}

fn to_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, DataFusionError> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..b.num_rows() {
            rows.push(
                fmts.iter()
                    .map(|f| {
                        let s = f.value(r).to_string();
                        if s.is_empty() {
                            "(empty)".to_string()
                        } else {
                            s
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

#[async_trait]
impl sqllogictest::AsyncDB for EcomDb {
    type Error = DataFusionError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        // Through the statement layer, as every entry point: CREATE MODEL etc. work in .slt.
        let (schema, batches) = ecomsql::statements::run_to_batches(&self.ctx, sql).await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = vec![DefaultColumnType::Any; schema.fields().len()];
        Ok(DBOutput::Rows {
            types,
            rows: to_rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "ecomsql"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            slt_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(p);
        }
    }
}

/// A small shop (300 users, 14 days) generated once per run; `.slt` files may query it.
fn tiny_shop() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecomsql-slt-{}", std::process::id()));
    let opts = GenOptions {
        users: 300,
        days: 14,
        threads: 1,
        force: true,
        progress: false,
        ..GenOptions::sample(dir.clone())
    };
    if let Err(e) = generate(&opts) {
        panic!("generating the slt data set failed: {e}");
    }
    dir
}

fn main() -> ExitCode {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("sql");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    files.retain(|f| {
        filter.is_empty()
            || filter
                .iter()
                .any(|p| f.to_string_lossy().contains(p.as_str()))
    });
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let data = tiny_shop();
    let mut failed = 0;
    for (i, file) in files.iter().enumerate() {
        // A fresh state directory (model registry) per file.
        let state_dir =
            std::env::temp_dir().join(format!("ecomsql-slt-state-{}-{i}", std::process::id()));
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let data = data.clone();
        let config = ecomsql::Config {
            state_dir: state_dir.clone(),
            ..ecomsql::Config::default()
        };
        let result = rt.block_on(async {
            let mut runner = sqllogictest::Runner::new(move || {
                let data = data.clone();
                let config = config.clone();
                async move {
                    let ctx = ecomsql::build_session(&config)?;
                    let report = ecomsql::catalog::register_data_dir(&ctx, &data).await;
                    if let Some(e) = report.errors.first() {
                        return Err(DataFusionError::Execution(e.to_string()));
                    }
                    Ok(EcomDb { ctx })
                }
            });
            runner.run_file_async(file).await
        });
        let _ = std::fs::remove_dir_all(&state_dir);
        match result {
            Ok(()) => println!("slt {rel} ... ok"),
            Err(e) => {
                failed += 1;
                println!("slt {rel} ... FAILED\n{e}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    println!(
        "\ntest result: {}. {} passed; {failed} failed (sqllogictest files)",
        if failed == 0 { "ok" } else { "FAILED" },
        files.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
