//! Scheduled query files end to end: every `queries/*.sql` with a `-- schedule:` header run by
//! `ecomsql run` and its output checked; the scheduler driven by a test clock (catch-up after
//! downtime, retry then success, a failing job beside good ones, added/changed/removed files);
//! two real processes against one state directory (no double runs); `kill -9` during a write
//! (never a partial output); SIGTERM (the run in progress finishes); bad headers from the CLI.

use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ecomsql::schedule::clock::Clock;
use ecomsql::schedule::history::{History, Outcome};
use ecomsql::schedule::runner::{RunResult, Runner};
use ecomsql::schedule::scheduler::{RunEnd, Scheduler};

use crate::fixture::{long_shop, scalar_i64, session, shop, temp_dir};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ecomsql"))
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// A clock the test sets; sleeping jumps it forward at once (and may run a hook).
struct TestClock {
    now: Mutex<DateTime<Utc>>,
    slept: Mutex<Vec<Duration>>,
    on_sleep: Mutex<Option<Box<dyn FnMut() + Send>>>,
}

impl TestClock {
    fn at(s: &str) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(utc(s)),
            slept: Mutex::new(vec![]),
            on_sleep: Mutex::new(None),
        })
    }

    fn set(&self, s: &str) {
        *self.now.lock().unwrap() = utc(s);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        *self.now.lock().unwrap() += chrono::Duration::from_std(d).unwrap();
        self.slept.lock().unwrap().push(d);
        if let Some(hook) = self.on_sleep.lock().unwrap().as_mut() {
            hook();
        }
        Box::pin(async {})
    }
}

fn config(data: &Path, state: &Path) -> ecomsql::Config {
    ecomsql::Config {
        data_dir: Some(data.to_path_buf()),
        state_dir: state.join("state"),
        output_root: state.join("out"),
        ..ecomsql::Config::default()
    }
}

/// Rows of a Parquet file, reading every batch (a partial file fails here).
fn parquet_rows(path: &Path) -> Result<usize, String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let mut n = 0;
    for b in reader {
        n += b.map_err(|e| e.to_string())?.num_rows();
    }
    Ok(n)
}

fn parquet_batches(path: &Path) -> Vec<RecordBatch> {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn f64s(batches: &[RecordBatch], col: &str) -> Vec<f64> {
    let mut out = vec![];
    for b in batches {
        let c = b
            .column_by_name(col)
            .unwrap_or_else(|| panic!("no column {col}"));
        let c = datafusion::arrow::compute::cast(c, &DataType::Float64).unwrap();
        let c = c.as_primitive::<Float64Type>();
        out.extend((0..c.len()).map(|i| c.value(i)));
    }
    out
}

fn strings(batches: &[RecordBatch], col: &str) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column_by_name(col).unwrap(), &DataType::Utf8)
            .unwrap();
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

fn count(data: &Path, sql: &str) -> i64 {
    rt().block_on(async {
        let ctx = session(data).await;
        scalar_i64(&ctx, sql).await
    })
}

fn run_cli(data: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--data")
        .arg(data)
        .arg("--state-dir")
        .arg(state.join("state"))
        .arg("--output-root")
        .arg(state.join("out"))
        .args(args)
        .output()
        .expect("run ecomsql")
}

#[test]
fn every_scheduled_query_file_runs_and_its_output_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("queries/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .any(|l| l.trim_start().starts_with("-- schedule:"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    // The 90-day shop starts 2026-01-01: a run on 2026-03-30 has 30 days before and after
    // any 30-day training cutoff.
    let data = long_shop();
    let at = "2026-03-30";
    let state = temp_dir("scheduled-queries");
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let out = run_cli(
            data,
            state.path(),
            &["run", file.to_str().unwrap(), "--at", at],
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = PathBuf::from(
            stdout
                .trim()
                .rsplit(" -> ")
                .next()
                .unwrap_or_else(|| panic!("{name}: {stdout}")),
        );
        assert!(written.starts_with(state.path().join("out")), "{written:?}");
        // Every scheduled file: a readable, non-empty output.
        let lines = || std::fs::read_to_string(&written).unwrap().lines().count();
        let rows = match written.extension().and_then(|e| e.to_str()) {
            Some("parquet") => parquet_rows(&written).unwrap(),
            Some("csv") => lines().saturating_sub(1),
            Some("json") => lines(),
            other => panic!("{name}: unexpected output type {other:?}"),
        };
        assert!(rows > 0, "{name}: empty output");
        if written.extension().is_some_and(|e| e == "parquet") {
            // Plain string types, which every reader understands (tables read views).
            let schema = parquet_batches(&written)[0].schema();
            assert!(
                schema
                    .fields()
                    .iter()
                    .all(|f| !matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView)),
                "{name}: {schema:?}"
            );
        }
        match name.as_str() {
            "daily_rfm_segments" => {
                assert!(written.ends_with(format!("rfm/dt={at}/segments.parquet")));
                let b = parquet_batches(&written);
                let expected = count(
                    data,
                    "SELECT count(DISTINCT user_id) FROM orders WHERE status <> 'cancelled' AND ts < TIMESTAMP '2026-03-31 00:00:00'",
                );
                assert_eq!(rows as i64, expected, "one row per buying customer");
                assert!(strings(&b, "snapshot_date").iter().all(|d| d == at));
                let monetary = f64s(&b, "monetary");
                let segments = strings(&b, "segment");
                let avg = |seg: &str| {
                    let v: Vec<f64> = segments
                        .iter()
                        .zip(&monetary)
                        .filter(|(s, _)| *s == seg)
                        .map(|(_, m)| *m)
                        .collect();
                    assert!(!v.is_empty(), "no {seg}");
                    v.iter().sum::<f64>() / v.len() as f64
                };
                assert!(avg("Champions") > 2.0 * avg("Lost"));
                // Re-running the same date replaces that date's file; another date adds one.
                let again = run_cli(
                    data,
                    state.path(),
                    &["run", file.to_str().unwrap(), "--at", at],
                );
                assert!(again.status.success());
                assert_eq!(
                    std::fs::read_dir(written.parent().unwrap())
                        .unwrap()
                        .count(),
                    1
                );
                let earlier = run_cli(
                    data,
                    state.path(),
                    &["run", file.to_str().unwrap(), "--at", "2026-02-01"],
                );
                assert!(earlier.status.success());
                let feb = written.to_string_lossy().replace(at, "2026-02-01");
                let feb_rows = parquet_rows(Path::new(&feb)).unwrap();
                assert!(
                    feb_rows < rows,
                    "fewer customers by Feb 1: {feb_rows} vs {rows}"
                );
                assert_eq!(
                    parquet_rows(&written).unwrap(),
                    rows,
                    "March file untouched"
                );
            }
            "daily_review_sentiment" => {
                let text = std::fs::read_to_string(&written).unwrap();
                let mut lines = text.lines();
                let header: Vec<&str> = lines.next().unwrap().split(',').collect();
                assert_eq!(header[..4], ["dt", "category", "language", "reviews"]);
                let mut reviews = 0i64;
                for l in lines {
                    let r: Vec<&str> = l.split(',').collect();
                    assert_eq!(r[0], at);
                    reviews += r[3].parse::<i64>().unwrap();
                    let s: f64 = r[4].parse().unwrap();
                    assert!((-1.0..=1.0).contains(&s), "{l}");
                    assert!(["en", "zh"].contains(&r[2]), "{l}");
                }
                assert_eq!(
                    reviews,
                    count(
                        data,
                        "SELECT count(*) FROM reviews JOIN products USING (product_id)
                         WHERE ts >= TIMESTAMP '2026-03-24 00:00:00' AND ts < TIMESTAMP '2026-03-31 00:00:00'"
                    ),
                    "the 7 days ending with the run's date"
                );
            }
            "weekly_churn_scores" => {
                let b = parquet_batches(&written);
                let expected = count(
                    data,
                    "SELECT count(DISTINCT user_id) FROM orders WHERE status <> 'cancelled' AND ts < TIMESTAMP '2026-03-30 00:00:00'",
                );
                assert_eq!(rows as i64, expected, "one score per customer");
                let p = f64s(&b, "churn_probability");
                assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
                assert!(p.windows(2).all(|w| w[0] >= w[1]), "highest first");
                // Customers long gone score higher than recent buyers (the planted lapsers).
                let days = f64s(&b, "days_since_last_order");
                let mean = |pred: &dyn Fn(f64) -> bool| {
                    let v: Vec<f64> = days
                        .iter()
                        .zip(&p)
                        .filter(|(d, _)| pred(**d))
                        .map(|(_, p)| *p)
                        .collect();
                    v.iter().sum::<f64>() / v.len().max(1) as f64
                };
                let (gone, recent) = (mean(&|d| d >= 30.0), mean(&|d| d <= 7.0));
                assert!(gone > recent + 0.2, "gone {gone} vs recent {recent}");
                // The model was retrained and stored in the state directory's registry.
                let show = bin()
                    .arg("--data")
                    .arg(data)
                    .arg("--state-dir")
                    .arg(state.path().join("state"))
                    .args(["--format", "csv", "sql", "-c", "SHOW MODELS"])
                    .output()
                    .unwrap();
                assert!(String::from_utf8_lossy(&show.stdout).contains("weekly_churn"));
            }
            _ => {} // A new scheduled file gets the generic checks above.
        }
    }
    // Every run is in the history, queryable as ecomsql.runs.
    let out = bin()
        .arg("--data")
        .arg(data)
        .arg("--state-dir")
        .arg(state.path().join("state"))
        .args([
            "--format",
            "csv",
            "sql",
            "-c",
            "SELECT count(*) AS n, count(*) FILTER (WHERE outcome = 'success') AS ok FROM ecomsql.runs",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let runs =
        files.len() + usize::from(files.iter().any(|f| f.ends_with("daily_rfm_segments.sql"))) * 2;
    assert_eq!(
        stdout.lines().nth(1),
        Some(format!("{runs},{runs}").as_str()),
        "{stdout}"
    );
}

fn job(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn outputs(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn catch_up_after_downtime_follows_each_jobs_policy() {
    let tmp = temp_dir("catch-up");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let body = "SELECT {date} AS d, count(*) AS users FROM users;\n";
    for (name, policy) in [("latest", "latest"), ("all", "all"), ("none", "none")] {
        job(
            &jobs,
            &format!("{name}.sql"),
            &format!(
                "-- schedule: 0 3 * * *\n-- catchup: {policy}\n-- output: {name}/dt={{date}}.csv\n{body}"
            ),
        );
    }
    let cfg = config(shop(), tmp.path());
    let root = cfg.output_root.clone();
    rt().block_on(async {
        // First start, before 03:00: every job that may catch up runs its most recent time.
        let clock = TestClock::at("2026-01-05T02:00:00Z");
        let mut s = Scheduler::new(
            &jobs,
            Runner::new(cfg.clone(), clock.clone()),
            clock.clone(),
        );
        let ends = s.run_due().await;
        assert_eq!(ends.len(), 2, "{ends:?}");
        // 03:00 passes: all three run the 5th.
        clock.set("2026-01-05T03:00:05Z");
        assert_eq!(s.run_due().await.len(), 3);
        assert!(s.run_due().await.is_empty(), "nothing runs twice");
        drop(s);

        // Down until the 8th, 10:00; a new scheduler process (same state directory).
        let clock = TestClock::at("2026-01-08T10:00:00Z");
        let mut s = Scheduler::new(
            &jobs,
            Runner::new(cfg.clone(), clock.clone()),
            clock.clone(),
        );
        s.run_due().await;
        assert_eq!(
            outputs(&root),
            [
                "all/dt=2026-01-04.csv",
                "all/dt=2026-01-05.csv",
                "all/dt=2026-01-06.csv",
                "all/dt=2026-01-07.csv",
                "all/dt=2026-01-08.csv",
                "latest/dt=2026-01-04.csv",
                "latest/dt=2026-01-05.csv",
                "latest/dt=2026-01-08.csv",
                "none/dt=2026-01-05.csv",
            ]
        );
        // `none` resumes with the first run that falls due while the scheduler is up.
        clock.set("2026-01-09T03:00:00Z");
        s.run_due().await;
        assert!(outputs(&root).contains(&"none/dt=2026-01-09.csv".to_string()));
        let status = s.status();
        assert_eq!(status.len(), 3);
        for st in status {
            assert_eq!(st.next_run, Some(utc("2026-01-10T03:00:00Z")));
            let last = st.last.expect("a last run");
            assert_eq!(last.outcome, Outcome::Success);
            assert_eq!(last.logical_time, utc("2026-01-09T03:00:00Z"));
        }
    });
    let users = std::fs::read_to_string(root.join("all/dt=2026-01-06.csv")).unwrap();
    assert_eq!(
        users.lines().nth(1).unwrap(),
        format!("2026-01-06,{}", count(shop(), "SELECT count(*) FROM users"))
    );
}

fn write_parquet(path: &Path, n: i64) {
    let batch = RecordBatch::try_from_iter([(
        "x",
        Arc::new(datafusion::arrow::array::Int64Array::from_iter_values(0..n)) as Arc<dyn Array>,
    )])
    .unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn a_retry_succeeds_and_a_failing_job_does_not_stop_the_others() {
    let tmp = temp_dir("retry");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    write_parquet(&data.join("base.parquet"), 3);
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    // Reads a table that only appears while the runner waits to retry.
    job(
        &jobs,
        "late.sql",
        "-- schedule: @daily\n-- retries: 2\n-- output: late/{date}.parquet\nSELECT sum(x) AS s FROM late;\n",
    );
    job(
        &jobs,
        "broken.sql",
        "-- schedule: @daily\n-- output: broken/{date}.parquet\nSELECT * FROM no_such_table;\n",
    );
    job(
        &jobs,
        "good.sql",
        "-- schedule: @daily\n-- output: good/{date}.json\nSELECT count(*) AS n FROM base;\n",
    );
    job(
        &jobs,
        "invalid.sql",
        "-- schedule: @daily\n-- output: x/{date}.csv\n-- colour: red\nSELECT 1;\n",
    );
    let cfg = config(&data, tmp.path());
    let clock = TestClock::at("2026-02-01T00:30:00Z");
    let late = data.join("late.parquet");
    *clock.on_sleep.lock().unwrap() = Some(Box::new(move || {
        if !late.exists() {
            write_parquet(&late, 5);
        }
    }));
    let history = History::new(&cfg.state_dir);
    rt().block_on(async {
        let mut s = Scheduler::new(
            &jobs,
            Runner::new(cfg.clone(), clock.clone()),
            clock.clone(),
        );
        let report = s.scan();
        assert_eq!(report.invalid.len(), 1, "{report:?}");
        assert!(
            report.invalid[0].contains("invalid.sql:3: unknown header key \"colour\""),
            "{report:?}"
        );
        let ends = s.run_due().await;
        assert_eq!(ends.len(), 3, "three valid jobs ran: {ends:?}");
    });
    let records = history.all_records();
    let of = |job: &str| -> Vec<_> { records.iter().filter(|r| r.job == job).collect() };
    let late = of("late");
    assert_eq!(late.len(), 2, "{late:?}");
    assert_eq!(late[0].outcome, Outcome::Failed);
    assert!(
        late[0].error.as_deref().unwrap().contains("late"),
        "{late:?}"
    );
    assert_eq!((late[1].attempt, late[1].outcome), (2, Outcome::Success));
    assert_eq!(late[1].rows, Some(1));
    let broken = of("broken");
    assert_eq!(broken.len(), 1, "no retries: {broken:?}");
    assert_eq!(broken[0].outcome, Outcome::Failed);
    assert!(
        broken[0]
            .error
            .as_deref()
            .unwrap()
            .contains("no_such_table"),
        "{broken:?}"
    );
    let good = of("good");
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].outcome, Outcome::Success);
    assert_eq!(
        std::fs::read_to_string(cfg.output_root.join("good/2026-02-01.json")).unwrap(),
        "{\"n\":3}\n"
    );
    assert!(
        !cfg.output_root.join("broken").exists(),
        "nothing written for a failed job"
    );
    // The backoff wait before late's retry, on the test clock.
    let slept = clock.slept.lock().unwrap().clone();
    assert_eq!(slept, [Duration::from_secs(10)]);
}

#[test]
fn added_changed_and_removed_files_are_picked_up() {
    let tmp = temp_dir("rescan");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let cfg = config(shop(), tmp.path());
    let clock = TestClock::at("2026-02-01T12:00:00Z");
    let mut s = Scheduler::new(
        &jobs,
        Runner::new(cfg.clone(), clock.clone()),
        clock.clone(),
    );
    job(
        &jobs,
        "a.sql",
        "-- schedule: @hourly\n-- output: a/{date}.csv\nSELECT 1 AS one;\n",
    );
    job(&jobs, "notes.sql", "-- name: notes\nSELECT 2;\n");
    let r = s.scan();
    assert_eq!(r.loaded, ["a"], "files without a schedule are not jobs");
    assert!(
        s.scan().loaded.is_empty(),
        "unchanged files are not reloaded"
    );
    job(
        &jobs,
        "a.sql",
        "-- schedule: @daily\n-- output: a/{date}.csv\nSELECT 1 AS one;\n",
    );
    job(
        &jobs,
        "b.sql",
        "-- schedule: @weekly\n-- output: b/{date}.csv\nSELECT 2 AS two;\n",
    );
    let r = s.scan();
    assert_eq!(r.loaded, ["a", "b"]);
    assert_eq!(s.jobs()[0].schedule.as_ref().unwrap().text(), "@daily");
    // b.sql turns invalid: reported, and b stops being scheduled until it is fixed.
    job(
        &jobs,
        "b.sql",
        "-- schedule: @weekly\n-- output: ../b.csv\nSELECT 2;\n",
    );
    let r = s.scan();
    assert_eq!(r.invalid.len(), 1);
    assert!(r.invalid[0].contains("b.sql:2: output \"../b.csv\" is outside the output root"));
    assert_eq!(r.removed.len(), 1);
    std::fs::remove_file(jobs.join("a.sql")).unwrap();
    let r = s.scan();
    assert_eq!(r.removed, [jobs.join("a.sql")]);
    assert!(s.jobs().is_empty());
    // Two files may not claim one job name.
    job(
        &jobs,
        "c.sql",
        "-- name: same\n-- schedule: @daily\n-- output: c.csv\nSELECT 1;\n",
    );
    job(
        &jobs,
        "d.sql",
        "-- name: same\n-- schedule: @daily\n-- output: d.csv\nSELECT 1;\n",
    );
    let r = s.scan();
    assert_eq!(r.loaded, ["same"]);
    assert!(r.invalid[0].contains("already used by"), "{r:?}");
}

#[test]
fn bad_headers_are_reported_with_file_and_line() {
    let tmp = temp_dir("bad-headers");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let cases = [
        (
            "unknown.sql",
            "-- name: u\n-- colour: red\nSELECT 1;\n",
            "unknown.sql:2: unknown header key",
        ),
        (
            "cron.sql",
            "-- schedule: 0 3 * *\n-- output: a.csv\nSELECT 1;\n",
            "cron.sql:1: invalid schedule",
        ),
        (
            "path.sql",
            "\n\n-- output: a/b.xlsx\nSELECT 1;\n",
            "path.sql:3: output \"a/b.xlsx\" must end in .parquet, .csv or .json",
        ),
        (
            "root.sql",
            "-- output: /etc/passwd.csv\nSELECT 1;\n",
            "root.sql:1: output \"/etc/passwd.csv\" is outside the output root",
        ),
        (
            "param.sql",
            "-- output: a.csv\nSELECT\n  {nope};\n",
            "param.sql:3: unknown parameter {nope}",
        ),
    ];
    for (file, text, want) in cases {
        job(&jobs, file, text);
        let out = run_cli(
            shop(),
            tmp.path(),
            &["run", jobs.join(file).to_str().unwrap()],
        );
        assert!(!out.status.success(), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{file}: want {want:?} in {stderr}");
    }
    // The scheduler reports them too, and still lists the good job.
    job(
        &jobs,
        "good.sql",
        "-- schedule: @daily\n-- output: g.csv\nSELECT 1 AS one;\n",
    );
    let out = run_cli(
        shop(),
        tmp.path(),
        &["schedule", jobs.to_str().unwrap(), "--list"],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("good") && stdout.contains("@daily (UTC)"),
        "{stdout}"
    );
    assert!(stderr.contains("cron.sql:1: invalid schedule"), "{stderr}");
    // A typed --param fills a placeholder, and bad --at is refused.
    let ok = run_cli(
        shop(),
        tmp.path(),
        &[
            "run",
            jobs.join("param.sql").to_str().unwrap(),
            "--param",
            "nope='it''s'",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = std::fs::read_to_string(tmp.path().join("out/a.csv")).unwrap();
    assert_eq!(text.lines().nth(1), Some("it's"));
    let bad = run_cli(
        shop(),
        tmp.path(),
        &[
            "run",
            jobs.join("good.sql").to_str().unwrap(),
            "--at",
            "tomorrow",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid --at"));
    // A run whose SQL fails exits non-zero and says why.
    job(
        &jobs,
        "fails.sql",
        "-- output: f.csv\nSELECT * FROM no_such_table;\n",
    );
    let fails = run_cli(
        shop(),
        tmp.path(),
        &["run", jobs.join("fails.sql").to_str().unwrap()],
    );
    assert!(!fails.status.success());
    let stderr = String::from_utf8_lossy(&fails.stderr);
    assert!(
        stderr.contains("job fails: failed after 1 attempt(s): statement 1 of 1:")
            && stderr.contains("no_such_table"),
        "{stderr}"
    );
}

/// A job writing `rows` rows of Parquet (big enough to take a while in a debug build).
fn big_job(dir: &Path, name: &str, schedule: &str) -> PathBuf {
    let path = dir.join(format!("{name}.sql"));
    std::fs::write(
        &path,
        format!(
            "-- schedule: {schedule}\n-- output: {name}/big.parquet\n-- param: rows = 1000\n\
             SELECT value AS id, value * 3 AS triple, value % 7 AS bucket FROM generate_series(1, {{rows}});\n"
        ),
    )
    .unwrap();
    path
}

fn spawn_cli(data: &Path, state: &Path, args: &[&str]) -> Child {
    bin()
        .env("ECOMSQL_LOG", "ecomsql::schedule=debug")
        .arg("--data")
        .arg(data)
        .arg("--state-dir")
        .arg(state.join("state"))
        .arg("--output-root")
        .arg(state.join("out"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ecomsql")
}

/// Reads the child's stderr until a line containing `what` has been seen `times` times;
/// false if the child ended first.
fn wait_for_line(lines: &mut impl Iterator<Item = String>, what: &str, times: usize) -> bool {
    let mut seen = 0;
    for l in lines {
        if l.contains(what) {
            seen += 1;
            if seen >= times {
                return true;
            }
        }
    }
    false
}

#[test]
fn kill_9_during_a_write_never_leaves_a_partial_output() {
    let tmp = temp_dir("kill9");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let file = big_job(&jobs, "big", "@daily");
    let target = tmp.path().join("out/big/big.parquet");
    let first = run_cli(
        shop(),
        tmp.path(),
        &["run", file.to_str().unwrap(), "--param", "rows=1000"],
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(parquet_rows(&target).unwrap(), 1000);
    const NEW: usize = 2_500_000;
    let rows_arg = format!("rows={NEW}");
    let mut completed = 0;
    let mut killed_mid_write = 0;
    // Kill points: as the run starts, after the first batch, mid-way, near the end.
    for (what, times) in [
        ("lock taken", 1),
        ("wrote a batch", 1),
        ("wrote a batch", 150),
        ("wrote a batch", 300),
    ] {
        let mut child = spawn_cli(
            shop(),
            tmp.path(),
            &["run", file.to_str().unwrap(), "--param", &rows_arg],
        );
        let mut lines = BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok);
        let reached = wait_for_line(&mut lines, what, times);
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        let rows = parquet_rows(&target)
            .unwrap_or_else(|e| panic!("after kill at {what} x{times}: unreadable output: {e}"));
        assert!(
            rows == 1000 || rows == NEW,
            "after kill at {what} x{times}: {rows} rows"
        );
        if rows == NEW {
            completed += 1;
        }
        let temporaries = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".big.parquet.tmp-")
            })
            .count();
        if temporaries > 0 {
            killed_mid_write += 1;
        }
        assert!(
            reached || status.success(),
            "the run ended before {what} x{times}"
        );
    }
    assert!(completed < 4, "at least one kill beat the commit");
    assert!(
        killed_mid_write >= 1,
        "at least one kill left a half-written temporary file (hidden from readers)"
    );
    // The next complete run leaves only the output (dead writers' temporaries removed).
    let last = run_cli(
        shop(),
        tmp.path(),
        &["run", file.to_str().unwrap(), "--param", "rows=7"],
    );
    assert!(last.status.success());
    assert_eq!(parquet_rows(&target).unwrap(), 7);
    let left: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["big.parquet"], "{left:?}");
}

#[test]
fn two_processes_never_run_a_job_twice() {
    let tmp = temp_dir("two-processes");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    // Yearly at New Year: both schedulers see the same latest run (2026-01-01 00:00 UTC).
    let file = big_job(&jobs, "yearly", "0 0 1 1 *");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("rows = 1000", "rows = 1500000");
    std::fs::write(&file, text).unwrap();

    // `ecomsql run` while another run holds the job's lock: refused, non-zero.
    // (Logical time before the schedulers' run below, which they then still owe.)
    let mut holder = spawn_cli(
        shop(),
        tmp.path(),
        &["run", file.to_str().unwrap(), "--at", "2025-06-01"],
    );
    let mut lines = BufReader::new(holder.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    assert!(wait_for_line(&mut lines, "lock taken", 1));
    let second = run_cli(
        shop(),
        tmp.path(),
        &["run", file.to_str().unwrap(), "--at", "2025-06-01"],
    );
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&holder.id().to_string()),
        "names the holder: {err}"
    );
    lines.for_each(drop);
    assert!(holder.wait().unwrap().success());

    // Two schedulers at once on the same state directory: the yearly run happens once.
    let a = spawn_cli(
        shop(),
        tmp.path(),
        &["schedule", jobs.to_str().unwrap(), "--once"],
    );
    let b = spawn_cli(
        shop(),
        tmp.path(),
        &["schedule", jobs.to_str().unwrap(), "--once"],
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for o in [&a, &b] {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let history = History::new(&tmp.path().join("state"));
    let scheduled: Vec<_> = history
        .all_records()
        .into_iter()
        .filter(|r| r.logical_time == utc("2026-01-01T00:00:00Z"))
        .collect();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(scheduled[0].outcome, Outcome::Success);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert_eq!(said.matches("success").count(), 1, "{said}");
    assert_eq!(said.matches("skipped").count(), 1, "{said}");
}

#[test]
fn sigterm_lets_the_run_in_progress_finish() {
    let tmp = temp_dir("sigterm");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let file = big_job(&jobs, "minutely", "* * * * *");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("rows = 1000", "rows = 1000000");
    std::fs::write(&file, text).unwrap();
    let mut child = spawn_cli(shop(), tmp.path(), &["schedule", jobs.to_str().unwrap()]);
    let mut lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    assert!(wait_for_line(&mut lines, "lock taken", 1));
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    lines.for_each(drop);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        parquet_rows(&tmp.path().join("out/minutely/big.parquet")).unwrap(),
        1_000_000
    );
    let records = History::new(&tmp.path().join("state")).all_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].outcome, Outcome::Success);
}

#[test]
fn runs_table_is_queryable_in_a_session() {
    let tmp = temp_dir("runs-table");
    let cfg = config(shop(), tmp.path());
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    job(&jobs, "one.sql", "-- output: one.parquet\nSELECT 1 AS x;\n");
    rt().block_on(async {
        let clock = TestClock::at("2026-03-01T00:00:00Z");
        let runner = Runner::new(cfg.clone(), clock.clone());
        let text = std::fs::read_to_string(jobs.join("one.sql")).unwrap();
        let job = ecomsql::schedule::header::parse_job(&jobs.join("one.sql"), &text, &cfg.output_root)
            .unwrap();
        let r = runner.run(&job, clock.now(), &[], false).await.unwrap();
        assert!(matches!(r, RunResult::Ran(ref s) if s.outcome == Outcome::Success), "{r:?}");
        let ctx = crate::fixture::session_with_state(shop(), &cfg.state_dir).await;
        let n = scalar_i64(
            &ctx,
            "SELECT count(*) FROM ecomsql.runs WHERE job = 'one' AND rows = 1 AND outcome = 'success' \
             AND CAST(logical_time AS DATE) = DATE '2026-03-01'",
        )
        .await;
        assert_eq!(n, 1);
        let batches = crate::fixture::query(&ctx, "SELECT attempt FROM ecomsql.runs").await;
        assert_eq!(batches[0].column(0).as_primitive::<Int32Type>().value(0), 1);
    });
}

#[test]
fn an_attempt_past_its_timeout_is_cancelled_and_recorded() {
    let tmp = temp_dir("timeout");
    let cfg = config(shop(), tmp.path());
    let file = tmp.path().join("endless.sql");
    // Counting a trillion rows never finishes here: only the timeout ends it.
    std::fs::write(
        &file,
        "-- output: endless.csv\n-- timeout: 1s\nSELECT count(*) AS n FROM generate_series(1, 1000000000000);\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let job = ecomsql::schedule::header::parse_job(&file, &text, &cfg.output_root).unwrap();
    let clock = TestClock::at("2026-03-01T00:00:00Z");
    let r = rt()
        .block_on(Runner::new(cfg.clone(), clock.clone()).run(&job, clock.now(), &[], false))
        .unwrap();
    let RunResult::Ran(s) = r else {
        panic!("{r:?}")
    };
    assert_eq!(s.outcome, Outcome::Timeout);
    assert_eq!(s.error.as_deref(), Some("timed out after 1s"));
    assert!(!cfg.output_root.join("endless.csv").exists());
    let left: Vec<_> = std::fs::read_dir(&cfg.output_root)
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "the temporary file is removed: {left:?}");
    let records = History::new(&cfg.state_dir).all_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::Timeout);
}

#[test]
fn append_mode_adds_a_file_per_logical_run_and_replaces_only_its_own() {
    let tmp = temp_dir("append");
    let cfg = config(shop(), tmp.path());
    let file = tmp.path().join("daily_count.sql");
    std::fs::write(
        &file,
        "-- output: counts/users.csv\n-- mode: append\n-- param: k = 1\nSELECT {date} AS d, {k} AS k;\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let job = ecomsql::schedule::header::parse_job(&file, &text, &cfg.output_root).unwrap();
    let clock = TestClock::at("2026-03-01T00:00:00Z");
    let runner = Runner::new(cfg.clone(), clock.clone());
    rt().block_on(async {
        for (at, k) in [
            ("2026-03-01T03:00:00Z", 1),
            ("2026-03-02T03:00:00Z", 1),
            ("2026-03-01T03:00:00Z", 2),
        ] {
            let k = ecomsql::schedule::params::ParamValue::Int(k);
            let r = runner
                .run(&job, utc(at), &[("k".to_string(), k)], false)
                .await
                .unwrap();
            assert!(
                matches!(r, RunResult::Ran(ref s) if s.outcome == Outcome::Success),
                "{r:?}"
            );
        }
    });
    let dir = cfg.output_root.join("counts");
    assert_eq!(
        outputs(&dir),
        ["users-20260301T030000Z.csv", "users-20260302T030000Z.csv"]
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(
        read("users-20260301T030000Z.csv"),
        "d,k\n2026-03-01,2\n",
        "re-run replaced its own file"
    );
    assert_eq!(read("users-20260302T030000Z.csv"), "d,k\n2026-03-02,1\n");
}

#[test]
fn a_job_that_cannot_start_waits_for_the_next_rescan_instead_of_spinning() {
    let tmp = temp_dir("cannot-start");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    job(
        &jobs,
        "a.sql",
        "-- schedule: @hourly\n-- output: a.csv\nSELECT 1 AS one;\n",
    );
    let mut cfg = config(shop(), tmp.path());
    // A state "directory" that is a file: no lock can be taken, no history written.
    cfg.state_dir = tmp.path().join("not-a-dir");
    std::fs::write(&cfg.state_dir, b"x").unwrap();
    let clock = TestClock::at("2026-02-01T12:30:00Z");
    rt().block_on(async {
        let mut s = Scheduler::new(
            &jobs,
            Runner::new(cfg.clone(), clock.clone()),
            clock.clone(),
        );
        let ends = s.run_due().await;
        assert_eq!(ends.len(), 1);
        let err = ends[0].result.as_ref().unwrap_err();
        assert!(err.contains("job a:") && err.contains("not-a-dir"), "{err}");
        assert!(s.run_due().await.is_empty(), "held until the next rescan");
        clock.set("2026-02-01T12:31:00Z");
        assert_eq!(s.run_due().await.len(), 1, "tried again after it");
    });
}

#[test]
fn a_job_running_in_another_process_is_looked_at_again_only_at_the_next_rescan() {
    let tmp = temp_dir("held-elsewhere");
    let jobs = tmp.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    job(
        &jobs,
        "a.sql",
        "-- schedule: @hourly\n-- output: a.csv\nSELECT 1 AS one;\n",
    );
    let cfg = config(shop(), tmp.path());
    let clock = TestClock::at("2026-02-01T12:30:00Z");
    // Another run holds the job's lock.
    let held = ecomsql::schedule::lock::try_lock(&cfg.state_dir, "a").unwrap();
    rt().block_on(async {
        let mut s = Scheduler::new(&jobs, Runner::new(cfg.clone(), clock.clone()), clock.clone());
        let ends = s.run_due().await;
        assert!(matches!(ends[..], [RunEnd { result: Ok(RunResult::Busy { .. }), .. }]), "{ends:?}");
        assert!(s.run_due().await.is_empty(), "not asked again at once");
        drop(held);
        clock.set("2026-02-01T12:31:00Z");
        let ends = s.run_due().await;
        assert!(
            matches!(&ends[..], [RunEnd { result: Ok(RunResult::Ran(r)), .. }] if r.outcome == Outcome::Success),
            "{ends:?}"
        );
    });
}

#[test]
fn a_truncated_run_record_does_not_break_ecomsql_runs() {
    let state = temp_dir("runs-truncated");
    let history = History::new(state.path());
    let at = utc("2026-03-01T00:00:00Z");
    for (job, attempt) in [("a", 1), ("b", 1), ("b", 2)] {
        history
            .record(&ecomsql::schedule::history::RunRecord {
                job: job.into(),
                file: format!("{job}.sql"),
                logical_time: at,
                attempt,
                started: at + chrono::Duration::seconds(attempt as i64),
                finished: at + chrono::Duration::seconds(attempt as i64),
                rows: Some(1),
                output: None,
                outcome: Outcome::Success,
                error: None,
            })
            .unwrap();
    }
    let mut files: Vec<PathBuf> = history.files().into_iter().map(|f| f.path).collect();
    files.sort();
    // A disk that filled up mid-write (or a copy cut short) leaves half a file.
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() / 3]).unwrap();
    rt().block_on(async {
        let ctx = crate::fixture::session_with_state(shop(), state.path()).await;
        assert_eq!(
            scalar_i64(&ctx, "SELECT count(*) FROM ecomsql.runs").await,
            2
        );
        assert_eq!(
            scalar_i64(
                &ctx,
                "SELECT max(attempt) FROM ecomsql.runs WHERE job = 'b'"
            )
            .await,
            2
        );
        // A new record is seen by the same session.
        history
            .record(&ecomsql::schedule::history::RunRecord {
                job: "c".into(),
                file: "c.sql".into(),
                logical_time: at,
                attempt: 1,
                started: at,
                finished: at,
                rows: None,
                output: None,
                outcome: Outcome::Failed,
                error: Some("boom".into()),
            })
            .unwrap();
        assert_eq!(
            scalar_i64(&ctx, "SELECT count(*) FROM ecomsql.runs").await,
            3
        );
    });
}
