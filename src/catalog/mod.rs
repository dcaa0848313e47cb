//! A data directory becomes tables: each sub-folder (Parquet files, optionally in hive
//! `key=value` partition folders) and each top-level `*.parquet` file is one table named after
//! it. Names starting with `_` or `.` are skipped (`_truth`, `_SUCCESS`, temp files).
//!
//! Every file's footer is read before a table is registered, so a corrupt file or files whose
//! schemas disagree are reported once, naming the path, and that table is left out — the rest of
//! the catalog still loads. A file or folder the process may not read is reported as unreadable
//! (with the OS reason), not as corrupt or empty. Partition columns become real columns with
//! partition pruning.
//!
//! Tables are [`CatalogTable`]s: scans read strings as views (see [`crate::plain_types`]), while
//! `INSERT INTO` writes files in the table's on-disk types (plain `Utf8`), so a table written to
//! loads again at the next start. Files are listed on every query (the session keeps no listing
//! cache, see [`crate::build_session`]), so files added or removed under a running server are
//! seen by the next query. Files of one table that differ only in string encoding (`Utf8`,
//! `LargeUtf8`, `Utf8View`, as older inserts wrote) are read as one table. An error while a
//! query reads a file names the file, and the column when a value does not decode
//! ([`file_errors`]).

mod file_errors;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Constraints;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::parquet::transform_schema_to_view;
use datafusion::error::Result;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::parquet::arrow::parquet_to_arrow_schema;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::physical_expr::expressions::{Column, cast};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::prelude::SessionContext;

/// A table the catalog registered.
#[derive(Debug, Clone)]
pub struct TableEntry {
    /// SQL name.
    pub name: String,
    /// Folder or file it reads.
    pub path: PathBuf,
    /// Hive partition columns, in folder order.
    pub partition_cols: Vec<String>,
    /// Number of Parquet files.
    pub files: usize,
    /// Total rows according to the footers.
    pub rows: i64,
}

/// Why (part of) a data directory could not be registered. Each names the path at fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    /// The data directory does not exist.
    #[error("data directory {0} does not exist")]
    MissingDir(PathBuf),
    /// The data directory is a file or unreadable.
    #[error("data directory {path} cannot be read: {message}")]
    Unreadable { path: PathBuf, message: String },
    /// No tables at all.
    #[error(
        "data directory {0} holds no tables (no sub-folders with .parquet files and no .parquet files)"
    )]
    EmptyDir(PathBuf),
    /// A table folder without Parquet files.
    #[error("table folder {0} holds no .parquet files; table skipped")]
    EmptyTable(PathBuf),
    /// A table file or folder the process cannot read (permissions, I/O errors): it may be
    /// perfectly good Parquet, so it is not called corrupt.
    #[error("cannot read {path}: {message}; table {table} skipped")]
    UnreadablePath {
        table: String,
        path: PathBuf,
        message: String,
    },
    /// A file that is not readable Parquet.
    #[error("corrupt Parquet file {path}: {message}; table {table} skipped")]
    Corrupt {
        table: String,
        path: PathBuf,
        message: String,
    },
    /// Files of one table with different schemas.
    #[error(
        "schemas disagree in table {table}: {first} has [{first_schema}] but {other} has [{other_schema}]; table skipped"
    )]
    SchemaMismatch {
        table: String,
        first: PathBuf,
        first_schema: String,
        other: PathBuf,
        other_schema: String,
    },
    /// Hive folders that do not agree on partition keys.
    #[error(
        "inconsistent partition folders in table {table}: {path} has keys [{found}], expected [{expected}]; table skipped"
    )]
    PartitionMismatch {
        table: String,
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// DataFusion refused the table.
    #[error("cannot register table {table} from {path}: {message}")]
    Register {
        table: String,
        path: PathBuf,
        message: String,
    },
}

/// The outcome of loading a data directory: what loaded and what did not.
#[derive(Debug, Default)]
pub struct CatalogReport {
    /// Registered tables, by name.
    pub tables: Vec<TableEntry>,
    /// Problems, one per skipped table or directory.
    pub errors: Vec<CatalogError>,
}

/// Registers every table found in `dir` into `ctx`.
pub async fn register_data_dir(ctx: &SessionContext, dir: &Path) -> CatalogReport {
    let mut report = CatalogReport::default();
    if !dir.exists() {
        report
            .errors
            .push(CatalogError::MissingDir(dir.to_path_buf()));
        return report;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            v
        }
        Err(e) => {
            report.errors.push(CatalogError::Unreadable {
                path: dir.to_path_buf(),
                message: e.to_string(),
            });
            return report;
        }
    };
    for path in entries {
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if file_name.starts_with('_') || file_name.starts_with('.') {
            continue;
        }
        let name = if path.is_dir() {
            file_name.to_string()
        } else if let Some(stem) = file_name.strip_suffix(".parquet") {
            stem.to_string()
        } else {
            continue;
        };
        match register_table(ctx, &name, &path).await {
            Ok(entry) => report.tables.push(entry),
            Err(e) => report.errors.push(e),
        }
    }
    if report.tables.is_empty() && report.errors.is_empty() {
        report
            .errors
            .push(CatalogError::EmptyDir(dir.to_path_buf()));
    }
    report
}

/// Parquet files under `dir`, with their hive partition key/value pairs, sorted by path. A
/// folder that cannot be listed is an error naming it (not an empty folder).
fn list_parquet_files(
    dir: &Path,
    out: &mut Vec<(PathBuf, Vec<(String, String)>)>,
    parts: &[(String, String)],
) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    let rd = std::fs::read_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let Some(n) = p.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            let mut parts = parts.to_vec();
            if let Some((k, v)) = n.split_once('=') {
                parts.push((k.to_string(), v.to_string()));
            }
            list_parquet_files(&p, out, &parts)?;
        } else if n.ends_with(".parquet") {
            out.push((p, parts.to_vec()));
        }
    }
    Ok(())
}

/// An I/O error on a table's file or folder: the path cannot be read, which says nothing about
/// whether its contents are good.
fn unreadable(table: &str, path: &Path, e: &std::io::Error) -> CatalogError {
    CatalogError::UnreadablePath {
        table: table.to_string(),
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A Parquet reader's error on `path`: an I/O error underneath is [`unreadable`], anything
/// else means the bytes are not valid Parquet.
fn footer_error(table: &str, path: &Path, e: ParquetError) -> CatalogError {
    if let ParquetError::External(inner) = &e
        && let Some(io) = inner.downcast_ref::<std::io::Error>()
    {
        return unreadable(table, path, io);
    }
    CatalogError::Corrupt {
        table: table.to_string(),
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn read_footer(table: &str, path: &Path) -> std::result::Result<(SchemaRef, i64), CatalogError> {
    let file = File::open(path).map_err(|e| unreadable(table, path, &e))?;
    let reader = SerializedFileReader::new(file).map_err(|e| footer_error(table, path, e))?;
    let meta = reader.metadata().file_metadata();
    let schema = parquet_to_arrow_schema(meta.schema_descr(), meta.key_value_metadata())
        .map_err(|e| footer_error(table, path, e))?;
    Ok((Arc::new(schema), meta.num_rows()))
}

fn describe(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Same column names and types, string and binary encodings aside: every file is read with
/// the table's view types, whichever of `Utf8`, `LargeUtf8` or `Utf8View` it stored.
fn same_columns(a: &Schema, b: &Schema) -> bool {
    let (a, b) = (transform_schema_to_view(a), transform_schema_to_view(b));
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

async fn register_table(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> std::result::Result<TableEntry, CatalogError> {
    let mut files = Vec::new();
    if path.is_dir() {
        list_parquet_files(path, &mut files, &[]).map_err(|(dir, e)| unreadable(name, &dir, &e))?;
    } else {
        files.push((path.to_path_buf(), vec![]));
    }
    if files.is_empty() {
        return Err(CatalogError::EmptyTable(path.to_path_buf()));
    }
    let part_keys: Vec<String> = files[0].1.iter().map(|(k, _)| k.clone()).collect();
    let mut part_values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut first: Option<(PathBuf, SchemaRef)> = None;
    let mut rows = 0i64;
    for (file, parts) in &files {
        let keys: Vec<String> = parts.iter().map(|(k, _)| k.clone()).collect();
        if keys != part_keys {
            return Err(CatalogError::PartitionMismatch {
                table: name.to_string(),
                path: file.clone(),
                found: keys.join(", "),
                expected: part_keys.join(", "),
            });
        }
        for (k, v) in parts {
            part_values.entry(k.clone()).or_default().push(v.clone());
        }
        let (schema, n) = read_footer(name, file)?;
        rows += n;
        match &first {
            None => first = Some((file.clone(), schema)),
            Some((first_path, first_schema)) => {
                if !same_columns(first_schema, &schema) {
                    return Err(CatalogError::SchemaMismatch {
                        table: name.to_string(),
                        first: first_path.clone(),
                        first_schema: describe(first_schema),
                        other: file.clone(),
                        other_schema: describe(&schema),
                    });
                }
            }
        }
    }
    let Some((_, file_schema)) = first else {
        return Err(CatalogError::EmptyTable(path.to_path_buf()));
    };
    // What the table's files hold and what inserts write: plain types, as `ecomsql gen` and
    // every other Parquet writer store strings (a file an older insert wrote with views counts
    // as the same table, see `same_columns`).
    let file_schema = crate::plain_types::plain_schema(&file_schema);
    // As DataFusion does for the tables it infers (`schema_force_view_types`, on by default):
    // strings and binaries are read as views, which decode Parquet without copying the bytes.
    // Results leave the process in plain types (`crate::plain_types`).
    let parquet_options = ctx.state().table_options().parquet.clone();
    let schema = if parquet_options.global.schema_force_view_types {
        Arc::new(transform_schema_to_view(&file_schema))
    } else {
        Arc::clone(&file_schema)
    };
    let register_err = |message: String| CatalogError::Register {
        table: name.to_string(),
        path: path.to_path_buf(),
        message,
    };
    // Dates as partition values become DATE columns so `dt >= DATE '2026-03-01'` prunes folders.
    let partition_cols: Vec<(String, DataType)> = part_keys
        .iter()
        .map(|k| {
            let all_dates = part_values
                .get(k)
                .is_some_and(|vs| vs.iter().all(|v| is_iso_date(v)));
            (
                k.clone(),
                if all_dates {
                    DataType::Date32
                } else {
                    DataType::Utf8
                },
            )
        })
        .collect();
    let mut url_text = path
        .canonicalize()
        .map_err(|e| register_err(e.to_string()))?
        .display()
        .to_string();
    if path.is_dir() && !url_text.ends_with('/') {
        url_text.push('/');
    }
    let url = ListingTableUrl::parse(&url_text).map_err(|e| register_err(e.to_string()))?;
    let format = ParquetFormat::default().with_options(parquet_options);
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let listing = |schema: SchemaRef| {
        let config = ListingTableConfig::new(url.clone())
            .with_listing_options(options.clone())
            .with_schema(schema);
        ListingTable::try_new(config).map_err(|e| register_err(e.to_string()))
    };
    let table = CatalogTable {
        read: listing(schema)?,
        write: listing(file_schema)?,
    };
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| register_err(e.to_string()))?;
    Ok(TableEntry {
        name: name.to_string(),
        path: path.to_path_buf(),
        partition_cols: part_keys,
        files: files.len(),
        rows,
    })
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A catalog table: one folder (or file) of Parquet, read with view types and written with the
/// plain types its files hold.
#[derive(Debug)]
pub struct CatalogTable {
    /// The table as queries see it (strings as `Utf8View`).
    read: ListingTable,
    /// The same files with their on-disk schema; `INSERT INTO` writes through it.
    write: ListingTable,
}

impl CatalogTable {
    /// The schema new files are written with (the files' own types, partition columns last).
    pub fn file_schema(&self) -> SchemaRef {
        self.write.schema()
    }
}

#[async_trait]
impl TableProvider for CatalogTable {
    fn schema(&self) -> SchemaRef {
        self.read.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.read.constraints()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.read.get_column_default(column)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.read.scan(state, projection, filters, limit).await?;
        Ok(file_errors::name_file_errors(plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.read.supports_filters_pushdown(filters)
    }

    /// The rows arrive in the read schema (views); they are cast to the file schema so the new
    /// file matches the others and the table still loads at the next start.
    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let target = self.write.schema();
        let input_schema = input.schema();
        if input_schema.fields().len() != target.fields().len() {
            return datafusion::common::plan_err!(
                "INSERT: {} columns given, the table has {}",
                input_schema.fields().len(),
                target.fields().len()
            );
        }
        let exprs = input_schema
            .fields()
            .iter()
            .zip(target.fields())
            .enumerate()
            .map(|(i, (from, to))| {
                let col = Arc::new(Column::new(from.name(), i)) as _;
                let expr = if from.data_type() == to.data_type() {
                    col
                } else {
                    cast(col, &input_schema, to.data_type().clone())?
                };
                Ok((expr, to.name().clone()))
            })
            .collect::<Result<Vec<_>>>()?;
        let input = Arc::new(ProjectionExec::try_new(exprs, input)?);
        self.write.insert_into(state, input, insert_op).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tests run as root, which reads any file whatever its mode, so a permission-denied file
    // cannot be made with chmod here: these tests give the classification the error the OS
    // returns for one (EACCES) and a folder listing that fails for real (ENOTDIR).

    #[test]
    fn permission_denied_is_unreadable_not_corrupt() {
        let path = Path::new("/data/users/part-0.parquet");
        let denied = std::io::Error::from_raw_os_error(13);
        assert_eq!(denied.kind(), std::io::ErrorKind::PermissionDenied);
        let e = footer_error("users", path, ParquetError::External(Box::new(denied)));
        assert!(matches!(e, CatalogError::UnreadablePath { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("cannot read /data/users/part-0.parquet")
                && msg.contains("ermission denied")
                && !msg.contains("corrupt"),
            "{msg}"
        );
        let e = footer_error("users", path, ParquetError::General("bad footer".into()));
        assert!(matches!(e, CatalogError::Corrupt { .. }), "{e}");
    }

    #[test]
    fn a_folder_that_cannot_be_listed_is_named_not_called_empty() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("dt=2026-01-01");
        std::fs::write(&not_a_dir, b"x").unwrap();
        let mut out = Vec::new();
        let (path, e) = list_parquet_files(&not_a_dir, &mut out, &[]).unwrap_err();
        assert_eq!(path, not_a_dir);
        let msg = unreadable("events", &path, &e).to_string();
        assert!(
            msg.contains("cannot read") && msg.contains("dt=2026-01-01"),
            "{msg}"
        );
        assert!(!msg.contains("holds no .parquet files"), "{msg}");
    }
}
