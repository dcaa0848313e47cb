//! Every file in `queries/` runs against the generated test shop, through the same path as
//! `ecomsql sql -f`, and its result is checked. A new query file needs a check here.

use std::process::Command;

use crate::fixture::{shop, temp_dir};

/// Runs a query file as CSV; returns the header and rows.
fn run(file: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let state = temp_dir("queries");
    let out = Command::new(env!("CARGO_BIN_EXE_ecomsql"))
        .arg("--data")
        .arg(shop())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--format", "csv", "sql", "-f"])
        .arg(file)
        .output()
        .expect("run ecomsql");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
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
            other => {
                panic!("queries/{other}.sql has no result check in tests/integration/queries.rs")
            }
        }
    }
}
