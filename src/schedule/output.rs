//! Writing a run's result so that readers never see half of it.
//!
//! Every output (and every run-history record) is written to a temporary file in the target
//! folder (`.<name>.tmp-<pid>-<n>`, hidden from the catalog and from Parquet readers that skip
//! dot files), fsynced, renamed over the target, and the folder is fsynced. A process killed at
//! any moment leaves the previous file or the new one; its temporary file is removed by the
//! next write to the same target (or when the writing future is dropped, e.g. on a timeout).
//!
//! Formats by extension: `.parquet`, `.csv` (with a header), `.json` (newline-delimited JSON
//! objects, one per row — what BigQuery and Spark export). Modes:
//! - `overwrite`: the run's file replaces the file at the path; with `{date}` in the path,
//!   re-running a date replaces only that date's file.
//! - `append`: each logical run writes its own file beside the others,
//!   `<stem>-<YYYYMMDDTHHMMSSZ>.<ext>`, so the folder grows into a dataset readable as one
//!   table; re-running the same logical time replaces only its own file.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use futures::StreamExt;

use super::header::{OutputSpec, relative_to_root};
use super::params::ParamValue;
use crate::plain_types::{plain_batch, plain_schema};

/// File format of an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header line.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
}

impl OutputFormat {
    /// The format named by a path's extension.
    pub fn from_path(path: &str) -> Result<Self, String> {
        let ext = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet") => Ok(Self::Parquet),
            Some("csv") => Ok(Self::Csv),
            Some("json") => Ok(Self::Json),
            _ => Err(format!(
                "output {path:?} must end in .parquet, .csv or .json"
            )),
        }
    }
}

/// How a run's file relates to earlier runs' files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the file at the path.
    Overwrite,
    /// A file per logical run beside the earlier ones.
    Append,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The file a run at `logical` writes: `root` joined with the template, placeholders replaced
/// by `values`; in append mode the file name carries the logical time. A value that would
/// leave the output root (a `/` or `..`) is an error.
pub fn resolve(
    root: &Path,
    spec: &OutputSpec,
    mode: WriteMode,
    values: &[(String, ParamValue)],
    logical: DateTime<Utc>,
) -> Result<PathBuf, String> {
    let mut text = String::with_capacity(spec.template.len());
    let mut rest = spec.template.as_str();
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in output path {:?}", spec.template))?;
        let name = &after[..close];
        let (_, v) = values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .ok_or_else(|| format!("no value for {{{name}}} in output path"))?;
        let piece = v.to_path_text();
        if piece.is_empty() || piece.contains(['/', '\\']) || piece == ".." || piece == "." {
            return Err(format!(
                "the value {piece:?} of {{{name}}} cannot be part of an output path"
            ));
        }
        text.push_str(&piece);
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    let rel = relative_to_root(Path::new(&text), root)
        .map_err(|why| format!("output {text:?} is outside the output root: {why}"))?;
    let mut path = root.join(rel);
    if mode == WriteMode::Append {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let ext = path
            .extension()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        path.set_file_name(format!("{stem}-{}.{ext}", logical.format("%Y%m%dT%H%M%SZ")));
    }
    Ok(path)
}

/// A file being written to a temporary name beside its target. [`AtomicFile::commit`] makes
/// it appear at the target in one rename; dropping it uncommitted removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<File>,
    /// Folders this write created (their parents are synced on commit).
    created: Vec<PathBuf>,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

impl AtomicFile {
    /// Creates the target's folder if needed, removes temporary files of dead writers of the
    /// same target, and opens a new temporary file.
    pub fn create(target: &Path) -> Result<Self, String> {
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut created = Vec::new();
        let mut missing = dir.to_path_buf();
        while !missing.exists() {
            created.push(missing.clone());
            if !missing.pop() || missing.as_os_str().is_empty() {
                break;
            }
        }
        fs::create_dir_all(dir).map_err(|e| io(dir, "create folder", e))?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("output path {} names no file", target.display()))?;
        let prefix = format!(".{name}.tmp-");
        remove_dead_temporaries(dir, &prefix);
        let tmp = dir.join(format!(
            "{prefix}{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&tmp).map_err(|e| io(&tmp, "create", e))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            file: Some(file),
            created,
        })
    }

    /// A handle to write through (shares the open file).
    pub fn handle(&self) -> Result<File, String> {
        self.file
            .as_ref()
            .expect("open until commit")
            .try_clone()
            .map_err(|e| io(&self.tmp, "open", e))
    }

    /// Fsyncs the file, renames it over the target and fsyncs the folder (and the parents of
    /// folders this write created).
    pub fn commit(mut self) -> Result<PathBuf, String> {
        let file = self.file.take().expect("open until commit");
        file.sync_all().map_err(|e| io(&self.tmp, "sync", e))?;
        drop(file);
        fs::rename(&self.tmp, &self.target).map_err(|e| io(&self.target, "rename into", e))?;
        let dir = self.target.parent().unwrap_or(Path::new("."));
        crate::durable::sync_dir(dir).map_err(|e| io(dir, "sync", e))?;
        for d in &self.created {
            if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
                crate::durable::sync_dir(parent).map_err(|e| io(parent, "sync", e))?;
            }
        }
        self.tmp = PathBuf::new();
        Ok(self.target.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Removes `<prefix><pid>-<n>` files in `dir` whose writing process is gone (Linux: no
/// `/proc/<pid>`). Elsewhere temporaries are left for the user, never removed under a writer.
fn remove_dead_temporaries(dir: &Path, prefix: &str) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive {
            let _ = fs::remove_file(e.path());
        }
    }
}

enum Writer {
    Parquet(ArrowWriter<File>),
    Csv(datafusion::arrow::csv::Writer<BufWriter<File>>),
    Json(datafusion::arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

impl Writer {
    fn new(format: OutputFormat, file: File, schema: SchemaRef) -> Result<Self, String> {
        Ok(match format {
            OutputFormat::Parquet => Writer::Parquet(
                ArrowWriter::try_new(file, schema, None).map_err(|e| e.to_string())?,
            ),
            OutputFormat::Csv => Writer::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(BufWriter::new(file)),
            ),
            OutputFormat::Json => Writer::Json(datafusion::arrow::json::LineDelimitedWriter::new(
                BufWriter::new(file),
            )),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        match self {
            Writer::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            Writer::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
            Writer::Json(w) => w.write(batch).map_err(|e| e.to_string()),
        }
    }

    fn finish(self, schema: &SchemaRef) -> Result<(), String> {
        match self {
            Writer::Parquet(w) => w.close().map(|_| ()).map_err(|e| e.to_string()),
            Writer::Csv(mut w) => {
                // An empty result still gets its header line.
                w.write(&RecordBatch::new_empty(schema.clone()))
                    .map_err(|e| e.to_string())?;
                w.into_inner().flush().map_err(|e| e.to_string())
            }
            Writer::Json(mut w) => {
                w.finish().map_err(|e| e.to_string())?;
                w.into_inner().flush().map_err(|e| e.to_string())
            }
        }
    }
}

/// Streams `stream` into `target` in `format`, atomically. Returns the number of rows. Dropping
/// the future before it finishes leaves the target as it was.
pub async fn write_stream(
    target: &Path,
    format: OutputFormat,
    mut stream: SendableRecordBatchStream,
) -> Result<u64, String> {
    let file = AtomicFile::create(target)?;
    // Plain types, which every reader of the file understands (`crate::plain_types`).
    let schema = plain_schema(&stream.schema());
    let mut writer = Writer::new(format, file.handle()?, schema.clone())?;
    let mut rows = 0u64;
    let mut batches = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| crate::repl::one_line_error(&e))?;
        let batch = plain_batch(batch, &schema).map_err(|e| e.to_string())?;
        writer
            .write(&batch)
            .map_err(|e| format!("writing {}: {e}", target.display()))?;
        rows += batch.num_rows() as u64;
        batches += 1;
        tracing::debug!(target: "ecomsql::schedule::output", batches, rows, "wrote a batch");
    }
    writer
        .finish(&schema)
        .map_err(|e| format!("writing {}: {e}", target.display()))?;
    let path = file.commit()?;
    tracing::debug!(target: "ecomsql::schedule::output", path = %path.display(), rows, "output committed");
    Ok(rows)
}

/// Writes one batch to `target` as Parquet, atomically (run-history records).
pub fn write_parquet_batch(target: &Path, batch: &RecordBatch) -> Result<(), String> {
    let file = AtomicFile::create(target)?;
    let mut w =
        ArrowWriter::try_new(file.handle()?, batch.schema(), None).map_err(|e| e.to_string())?;
    w.write(batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    file.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec(t: &str) -> OutputSpec {
        OutputSpec {
            template: t.into(),
            format: OutputFormat::from_path(t).unwrap(),
            line: 1,
        }
    }

    #[test]
    fn paths_resolve_under_the_root() {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 3, 0, 0).unwrap();
        let values = vec![
            ("date".to_string(), ParamValue::infer("2026-01-05")),
            ("region".to_string(), ParamValue::infer("eu")),
            ("bad".to_string(), ParamValue::infer("../../etc")),
        ];
        let root = Path::new("/srv/out");
        assert_eq!(
            resolve(
                root,
                &spec("rfm/dt={date}/seg.parquet"),
                WriteMode::Overwrite,
                &values,
                at
            )
            .unwrap(),
            PathBuf::from("/srv/out/rfm/dt=2026-01-05/seg.parquet")
        );
        assert_eq!(
            resolve(
                root,
                &spec("r/{region}.csv"),
                WriteMode::Append,
                &values,
                at
            )
            .unwrap(),
            PathBuf::from("/srv/out/r/eu-20260105T030000Z.csv")
        );
        assert!(
            resolve(
                root,
                &spec("r/{bad}.csv"),
                WriteMode::Overwrite,
                &values,
                at
            )
            .unwrap_err()
            .contains("cannot be part of an output path")
        );
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing_and_a_commit_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/out.csv");
        {
            let f = AtomicFile::create(&target).unwrap();
            f.handle().unwrap().write_all(b"partial").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(fs::read_dir(target.parent().unwrap()).unwrap().count(), 0);
        let f = AtomicFile::create(&target).unwrap();
        f.handle().unwrap().write_all(b"x\n1\n").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "x\n1\n");
    }

    #[test]
    fn dead_writers_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 is never a user process.
        let stale = dir.path().join(".out.csv.tmp-0-7");
        fs::write(&stale, b"junk").unwrap();
        let f = AtomicFile::create(&dir.path().join("out.csv")).unwrap();
        f.commit().unwrap();
        if cfg!(target_os = "linux") {
            assert!(!stale.exists());
        }
    }

    #[tokio::test]
    async fn view_types_are_written_plain() {
        use datafusion::arrow::array::{Array, AsArray, StringViewArray};
        use datafusion::arrow::datatypes::DataType;
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

        let dir = tempfile::tempdir().unwrap();
        let batch = RecordBatch::try_from_iter([(
            "event_type",
            std::sync::Arc::new(StringViewArray::from(vec![Some("purchase"), None])) as _,
        )])
        .unwrap();
        let stream =
            RecordBatchStreamAdapter::new(batch.schema(), futures::stream::iter([Ok(batch)]));
        let target = dir.path().join("out.parquet");
        let rows = write_stream(&target, OutputFormat::Parquet, Box::pin(stream))
            .await
            .unwrap();
        assert_eq!(rows, 2);
        let mut read = ParquetRecordBatchReaderBuilder::try_new(File::open(&target).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let back = read.next().unwrap().unwrap();
        assert_eq!(back.schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(back.column(0).as_string::<i32>().value(0), "purchase");
        assert!(back.column(0).is_null(1));
    }
}
