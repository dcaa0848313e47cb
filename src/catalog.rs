//! A data directory becomes tables: each sub-folder (Parquet files, optionally in hive
//! `key=value` partition folders) and each top-level `*.parquet` file is one table named after
//! it. Names starting with `_` or `.` are skipped (`_truth`, `_SUCCESS`, temp files).
//!
//! Every file's footer is read before a table is registered, so a corrupt file or files whose
//! schemas disagree are reported once, naming the path, and that table is left out — the rest of
//! the catalog still loads. Partition columns become real columns with partition pruning.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::parquet::transform_schema_to_view;
use datafusion::parquet::arrow::parquet_to_arrow_schema;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
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

/// Parquet files under `dir`, with their hive partition key/value pairs, sorted by path.
fn list_parquet_files(
    dir: &Path,
    out: &mut Vec<(PathBuf, Vec<(String, String)>)>,
    parts: &[(String, String)],
) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
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
            list_parquet_files(&p, out, &parts);
        } else if n.ends_with(".parquet") {
            out.push((p, parts.to_vec()));
        }
    }
}

fn read_footer(table: &str, path: &Path) -> Result<(SchemaRef, i64), CatalogError> {
    let corrupt = |message: String| CatalogError::Corrupt {
        table: table.to_string(),
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| corrupt(e.to_string()))?;
    let reader = SerializedFileReader::new(file).map_err(|e| corrupt(e.to_string()))?;
    let meta = reader.metadata().file_metadata();
    let schema = parquet_to_arrow_schema(meta.schema_descr(), meta.key_value_metadata())
        .map_err(|e| corrupt(e.to_string()))?;
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

fn same_columns(a: &Schema, b: &Schema) -> bool {
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
) -> Result<TableEntry, CatalogError> {
    let mut files = Vec::new();
    if path.is_dir() {
        list_parquet_files(path, &mut files, &[]);
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
    let Some((_, schema)) = first else {
        return Err(CatalogError::EmptyTable(path.to_path_buf()));
    };
    // As DataFusion does for the tables it infers (`schema_force_view_types`, on by default):
    // strings and binaries are read as views, which decode Parquet without copying the bytes.
    // Results leave the process in plain types (`crate::plain_types`).
    let parquet_options = ctx.state().table_options().parquet.clone();
    let schema = if parquet_options.global.schema_force_view_types {
        Arc::new(transform_schema_to_view(&schema))
    } else {
        schema
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
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|e| register_err(e.to_string()))?;
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
