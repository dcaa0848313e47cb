//! Other tools read what `ecomsql gen` writes, as is: DuckDB and pyarrow (from PyPI, installed
//! into a virtualenv under the target folder on first use, so a plain `cargo test` needs nothing
//! installed by hand).

use std::path::PathBuf;
use std::process::Command;

use crate::fixture::shop;

/// A Python with duckdb and pyarrow, created once per target folder.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-venv");
    let py = venv.join("bin").join("python");
    let ready = Command::new(&py)
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(
            made.success(),
            "creating the virtualenv at {} failed",
            venv.display()
        );
        let pip = Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "duckdb", "pyarrow"])
            .status()
            .expect("pip install");
        assert!(
            pip.success(),
            "pip install duckdb pyarrow failed (PyPI must be reachable)"
        );
    }
    py
}

#[test]
fn duckdb_and_pyarrow_read_the_generated_files() {
    let dir = shop();
    let script = r#"
import sys, duckdb, pyarrow.dataset as ds
d = sys.argv[1]
n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{d}/events/*/*.parquet', hive_partitioning = true)").fetchall()[0][0]
days = duckdb.sql(f"SELECT count(DISTINCT dt) FROM read_parquet('{d}/events/*/*.parquet', hive_partitioning = true)").fetchall()[0][0]
t = ds.dataset(f"{d}/events", format="parquet", partitioning="hive").to_table()
orders = duckdb.sql(f"SELECT count(*) FROM '{d}/orders/*.parquet'").fetchall()[0][0]
zh = duckdb.sql(f"SELECT count(*) FROM '{d}/reviews/*.parquet' WHERE language = 'zh'").fetchall()[0][0]
print(n, days, t.num_rows, orders, zh)
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<i64> = stdout
        .split_whitespace()
        .map(|s| s.parse().expect("number"))
        .collect();
    let ctx_counts = tokio::runtime::Runtime::new().expect("rt").block_on(async {
        let ctx = crate::fixture::session(dir).await;
        (
            crate::fixture::scalar_i64(&ctx, "SELECT count(*) FROM events").await,
            crate::fixture::scalar_i64(&ctx, "SELECT count(*) FROM orders").await,
        )
    });
    assert_eq!(v[0], ctx_counts.0, "DuckDB event count");
    assert_eq!(v[1], 30, "DuckDB sees the 30 day partitions");
    assert_eq!(v[2], ctx_counts.0, "pyarrow event count");
    assert_eq!(v[3], ctx_counts.1, "DuckDB order count");
    assert!(v[4] > 0, "Chinese reviews");
}
