//! Run history: one small Parquet file per attempt under `<state_dir>/runs/`, written
//! atomically (temporary file, fsync, rename, fsync folder), queryable as the table
//! `ecomsql.runs` in every session ([`register_runs_table`]).
//!
//! A file per attempt needs no read-modify-write, so two scheduler processes (or a scheduler
//! and `ecomsql run`) record concurrently without a lock, and a killed process leaves every
//! earlier record intact. The file name, `<job>.<logical>.<started_ms>.<attempt>.<pid>.parquet`,
//! is an index: the scheduler finds each job's last logical time from the folder listing alone
//! and reads only the newest record when it needs the outcome.
//!
//! A record file that cannot be read (truncated by a full disk, damaged, unreadable) is left out
//! of `ecomsql.runs` with a warning naming it, as the data catalog leaves out a corrupt table:
//! one bad file never hides the rest of the history.
//!
//! Columns: job, file, logical_time, attempt, started, finished, rows, output, outcome
//! (`success`, `failed`, `timeout`), error. To add a column: extend [`schema`], [`RunRecord`]
//! and [`RunRecord::to_batch`] / `from_batch` (old files without it then read as NULL only if
//! the listing schema allows it — prefer new nullable columns at the end).

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;

use chrono::{DateTime, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    Array, AsArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemorySchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;

use super::output::write_parquet_batch;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The output was written.
    Success,
    /// The SQL or the write failed.
    Failed,
    /// The attempt ran past the job's timeout and was cancelled.
    Timeout,
}

impl Outcome {
    /// The name stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
        }
    }

    fn parse(s: &str) -> Outcome {
        match s {
            "success" => Outcome::Success,
            "timeout" => Outcome::Timeout,
            _ => Outcome::Failed,
        }
    }
}

/// One attempt of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Job name.
    pub job: String,
    /// Query file.
    pub file: String,
    /// The run's logical time (its scheduled time, or `--at`).
    pub logical_time: DateTime<Utc>,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// Start of the attempt.
    pub started: DateTime<Utc>,
    /// End of the attempt.
    pub finished: DateTime<Utc>,
    /// Rows written (success only).
    pub rows: Option<u64>,
    /// File written (or that would have been).
    pub output: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// What went wrong.
    pub error: Option<String>,
}

/// The schema of `ecomsql.runs`.
pub fn schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("job", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("logical_time", ts.clone(), false),
        Field::new("attempt", DataType::Int32, false),
        Field::new("started", ts.clone(), false),
        Field::new("finished", ts, false),
        Field::new("rows", DataType::Int64, true),
        Field::new("output", DataType::Utf8, true),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
    ]))
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

impl RunRecord {
    /// The record as a one-row batch of [`schema`].
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let ts = |t: DateTime<Utc>| {
            Arc::new(TimestampMicrosecondArray::from(vec![micros(t)]).with_timezone("UTC"))
                as Arc<dyn Array>
        };
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(vec![self.job.as_str()])),
                Arc::new(StringArray::from(vec![self.file.as_str()])),
                ts(self.logical_time),
                Arc::new(Int32Array::from(vec![self.attempt as i32])),
                ts(self.started),
                ts(self.finished),
                Arc::new(Int64Array::from(vec![self.rows.map(|r| r as i64)])),
                Arc::new(StringArray::from(vec![self.output.as_deref()])),
                Arc::new(StringArray::from(vec![self.outcome.as_str()])),
                Arc::new(StringArray::from(vec![self.error.as_deref()])),
            ],
        )?)
    }

    fn from_batch(b: &RecordBatch, i: usize) -> Option<RunRecord> {
        use datafusion::arrow::datatypes::{Int32Type, Int64Type, TimestampMicrosecondType};
        let s = |c: usize| {
            let a = b.column(c).as_string_opt::<i32>()?;
            a.is_valid(i).then(|| a.value(i).to_string())
        };
        let t = |c: usize| {
            b.column(c)
                .as_primitive_opt::<TimestampMicrosecondType>()
                .map(|a| from_micros(a.value(i)))
        };
        let rows = b.column(6).as_primitive_opt::<Int64Type>()?;
        Some(RunRecord {
            job: s(0)?,
            file: s(1)?,
            logical_time: t(2)?,
            attempt: b.column(3).as_primitive_opt::<Int32Type>()?.value(i) as u32,
            started: t(4)?,
            finished: t(5)?,
            rows: rows.is_valid(i).then(|| rows.value(i) as u64),
            output: s(7),
            outcome: Outcome::parse(&s(8)?),
            error: s(9),
        })
    }
}

/// A record's file, as known from its name.
#[derive(Debug, Clone)]
pub struct RecordFile {
    /// Job name.
    pub job: String,
    /// Logical time.
    pub logical_time: DateTime<Utc>,
    /// Start of the attempt, in ms.
    pub started_ms: i64,
    /// The file.
    pub path: PathBuf,
}

const LOGICAL_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The run history under a state directory.
#[derive(Debug, Clone)]
pub struct History {
    dir: PathBuf,
}

impl History {
    /// The history of `state_dir` (its `runs/` folder, created on the first record).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("runs"),
        }
    }

    /// The folder holding the records.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores one record durably.
    pub fn record(&self, r: &RunRecord) -> std::result::Result<(), String> {
        let name = format!(
            "{}.{}.{}.{}.{}.parquet",
            r.job,
            r.logical_time.format(LOGICAL_FORMAT),
            r.started.timestamp_millis(),
            r.attempt,
            std::process::id()
        );
        let batch = r.to_batch().map_err(|e| e.to_string())?;
        write_parquet_batch(&self.dir.join(name), &batch).map_err(|e| format!("run history: {e}"))
    }

    /// Every record file, from the folder listing (unreadable names are skipped).
    pub fn files(&self) -> Vec<RecordFile> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return vec![];
        };
        let mut out = Vec::new();
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".parquet")) else {
                continue;
            };
            let parts: Vec<&str> = stem.split('.').collect();
            let [job, logical, started, _attempt, _pid] = parts[..] else {
                continue;
            };
            let Ok(logical) = NaiveDateTime::parse_from_str(logical, LOGICAL_FORMAT) else {
                continue;
            };
            let Ok(started_ms) = started.parse::<i64>() else {
                continue;
            };
            out.push(RecordFile {
                job: job.to_string(),
                logical_time: logical.and_utc(),
                started_ms,
                path: e.path(),
            });
        }
        out
    }

    /// Each job's latest recorded logical time.
    pub fn last_logical_times(&self) -> HashMap<String, DateTime<Utc>> {
        let mut out: HashMap<String, DateTime<Utc>> = HashMap::new();
        for f in self.files() {
            let e = out.entry(f.job).or_insert(f.logical_time);
            *e = (*e).max(f.logical_time);
        }
        out
    }

    /// Whether any attempt of `job` at `logical` is recorded.
    pub fn has_run(&self, job: &str, logical: DateTime<Utc>) -> bool {
        self.files()
            .iter()
            .any(|f| f.job == job && f.logical_time == logical)
    }

    /// The most recently started attempt of each job.
    pub fn latest_records(&self) -> HashMap<String, RunRecord> {
        let mut newest: HashMap<String, RecordFile> = HashMap::new();
        for f in self.files() {
            match newest.get(&f.job) {
                Some(n) if n.started_ms >= f.started_ms => {}
                _ => {
                    newest.insert(f.job.clone(), f);
                }
            }
        }
        newest
            .into_iter()
            .filter_map(|(job, f)| Some((job, read_record(&f.path)?)))
            .collect()
    }

    /// Every record (oldest first by start), read from the files.
    pub fn all_records(&self) -> Vec<RunRecord> {
        let mut files = self.files();
        files.sort_by_key(|f| f.started_ms);
        files.iter().filter_map(|f| read_record(&f.path)).collect()
    }
}

fn read_record(path: &Path) -> Option<RunRecord> {
    let file = File::open(path).ok()?;
    let mut reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .ok()?
        .build()
        .ok()?;
    let batch = reader.next()?.ok()?;
    (batch.num_rows() > 0)
        .then(|| RunRecord::from_batch(&batch, 0))
        .flatten()
}

/// A record file's size and modification time: a file is checked again when they change.
type FileStamp = (u64, Option<SystemTime>);

/// `ecomsql.runs`: lists the history folder on every query (so new runs show up at once), reads
/// the footer of each file not seen before, and scans the readable ones.
#[derive(Debug)]
pub struct RunsTable {
    history: History,
    /// Files already checked: whether each was readable Parquet of [`schema`].
    checked: Mutex<HashMap<PathBuf, (FileStamp, bool)>>,
}

impl RunsTable {
    /// The run history of `state_dir` as a table.
    pub fn new(state_dir: &Path) -> Result<Self> {
        Ok(Self {
            history: History::new(&std::path::absolute(state_dir)?),
            checked: Mutex::new(HashMap::new()),
        })
    }

    /// The record files a scan reads: every `*.parquet` of the folder whose footer reads as a
    /// run record. Each other file is logged once (per change) with the reason and skipped.
    pub fn readable_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.history.dir()) else {
            return vec![];
        };
        let mut files: Vec<(PathBuf, FileStamp)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.ends_with(".parquet"))
            })
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_file()
                    .then(|| (e.path(), (m.len(), m.modified().ok())))
            })
            .collect();
        files.sort();
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        checked.retain(|p, _| files.iter().any(|(f, _)| f == p));
        files
            .into_iter()
            .filter(|(path, stamp)| match checked.get(path) {
                Some((s, ok)) if s == stamp => *ok,
                _ => {
                    let ok = match check_record_file(path) {
                        Ok(()) => true,
                        Err(reason) => {
                            tracing::warn!("run history: skipping {}: {reason}", path.display());
                            false
                        }
                    };
                    checked.insert(path.clone(), (*stamp, ok));
                    ok
                }
            })
            .map(|(p, _)| p)
            .collect()
    }
}

/// Whether `path` is a readable Parquet file whose columns are the history's.
fn check_record_file(path: &Path) -> std::result::Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| e.to_string())?;
    let meta = reader.metadata().file_metadata();
    let found = datafusion::parquet::arrow::parquet_to_arrow_schema(
        meta.schema_descr(),
        meta.key_value_metadata(),
    )
    .map_err(|e| e.to_string())?;
    let expected = schema();
    let same = found.fields().len() == expected.fields().len()
        && found
            .fields()
            .iter()
            .zip(expected.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err("not a run record (its columns differ from ecomsql.runs)".to_string())
    }
}

#[async_trait]
impl TableProvider for RunsTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.readable_files();
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(schema().project(p)?),
                None => schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let urls = files
            .iter()
            .map(|f| ListingTableUrl::parse(f.display().to_string()))
            .collect::<Result<Vec<_>>>()?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema());
        ListingTable::try_new(config)?
            .scan(state, projection, filters, limit)
            .await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }
}

/// Registers `ecomsql.runs` (the run history of `state_dir`) in `ctx`'s default catalog, as a
/// [`RunsTable`].
pub fn register_runs_table(ctx: &SessionContext, state_dir: &Path) -> Result<()> {
    let table = RunsTable::new(state_dir)?;
    let catalog = ctx
        .catalog("ecomsql")
        .ok_or_else(|| datafusion::error::DataFusionError::Plan("no catalog ecomsql".into()))?;
    let schema = match catalog.schema("ecomsql") {
        Some(s) => s,
        None => {
            let s = Arc::new(MemorySchemaProvider::new());
            catalog.register_schema("ecomsql", s.clone())?;
            s
        }
    };
    schema.register_table("runs".to_string(), Arc::new(table))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn records_round_trip_and_index_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 3, 0, 0).unwrap();
        let mut r = RunRecord {
            job: "daily-x_1".into(),
            file: "q/x.sql".into(),
            logical_time: at,
            attempt: 1,
            started: at + chrono::Duration::seconds(2),
            finished: at + chrono::Duration::seconds(3),
            rows: None,
            output: Some("out/x.parquet".into()),
            outcome: Outcome::Failed,
            error: Some("boom".into()),
        };
        h.record(&r).unwrap();
        r.attempt = 2;
        r.started += chrono::Duration::seconds(10);
        r.outcome = Outcome::Success;
        r.rows = Some(7);
        r.error = None;
        h.record(&r).unwrap();
        assert_eq!(h.files().len(), 2);
        assert_eq!(h.last_logical_times()["daily-x_1"], at);
        assert!(h.has_run("daily-x_1", at));
        assert!(!h.has_run("daily-x_1", at + chrono::Duration::days(1)));
        assert_eq!(h.latest_records()["daily-x_1"], r);
        assert_eq!(h.all_records().len(), 2);
        assert_eq!(h.all_records()[0].error.as_deref(), Some("boom"));
    }
}

#[cfg(test)]
mod damaged_files {
    use super::*;
    use chrono::TimeZone;
    use std::io::Write;

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_truncated_record_is_skipped_with_a_warning_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::new(dir.path());
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 3, 0, 0).unwrap();
        let mut r = RunRecord {
            job: "daily".into(),
            file: "q/daily.sql".into(),
            logical_time: at,
            attempt: 1,
            started: at,
            finished: at,
            rows: Some(3),
            output: None,
            outcome: Outcome::Success,
            error: None,
        };
        h.record(&r).unwrap();
        r.logical_time += chrono::Duration::days(1);
        r.started = r.logical_time;
        h.record(&r).unwrap();
        let mut files: Vec<PathBuf> = h.files().into_iter().map(|f| f.path).collect();
        files.sort();
        let bad = files[1].clone();
        let bytes = fs::read(&bad).unwrap();
        fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();

        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .with_ansi(false)
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let counts = tracing::subscriber::with_default(subscriber, || {
            rt.block_on(async {
                let ctx = SessionContext::new_with_config(
                    datafusion::prelude::SessionConfig::new()
                        .with_default_catalog_and_schema("ecomsql", "public"),
                );
                register_runs_table(&ctx, dir.path()).unwrap();
                let mut counts = Vec::new();
                // Twice: the second query must not fail either (nor warn again).
                for _ in 0..2 {
                    let batches = ctx
                        .sql("SELECT count(*), min(job) FROM ecomsql.runs")
                        .await
                        .unwrap()
                        .collect()
                        .await
                        .expect("the history still answers");
                    counts.push(
                        batches[0]
                            .column(0)
                            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                            .value(0),
                    );
                }
                counts
            })
        });
        assert_eq!(counts, vec![1, 1]);
        let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            logs.matches(&bad.display().to_string()).count(),
            1,
            "{logs}"
        );
        assert!(logs.contains("WARN"), "{logs}");
    }
}
