//! Printing results in the four output formats. The table format keeps only the first
//! `max_rows` rows in memory and counts the rest; CSV, JSON and NDJSON stream every row.

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::{DataFusionError, Result};

use super::exec::BatchSink;
use crate::config::OutputFormat;

fn io_err(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("writing output: {e}"))
}

/// A [`BatchSink`] that prints to `out` in one format.
pub struct Printer<'a> {
    out: &'a mut dyn Write,
    format: OutputFormat,
    max_rows: usize,
    schema: Option<SchemaRef>,
    kept: Vec<RecordBatch>,
    kept_rows: usize,
    total_rows: usize,
    csv_header_written: bool,
    json_started: bool,
}

impl<'a> Printer<'a> {
    /// A printer writing to `out`.
    pub fn new(out: &'a mut dyn Write, format: OutputFormat, max_rows: usize) -> Self {
        Printer {
            out,
            format,
            max_rows,
            schema: None,
            kept: vec![],
            kept_rows: 0,
            total_rows: 0,
            csv_header_written: false,
            json_started: false,
        }
    }

    /// Rows seen.
    pub fn rows(&self) -> usize {
        self.total_rows
    }

    /// Finishes the output; for the table format prints the table and the summary line.
    pub fn finish(self, seconds: f64) -> Result<()> {
        match self.format {
            OutputFormat::Table => {
                let Some(schema) = &self.schema else {
                    return Ok(());
                };
                if schema.fields().is_empty() {
                    writeln!(self.out, "OK ({seconds:.3}s)").map_err(io_err)?;
                    return Ok(());
                }
                let table = if self.kept.is_empty() {
                    pretty_format_batches(&[RecordBatch::new_empty(schema.clone())])?
                } else {
                    pretty_format_batches(&self.kept)?
                };
                writeln!(self.out, "{table}").map_err(io_err)?;
                let shown = if self.total_rows > self.kept_rows {
                    format!(
                        " (first {} shown; use \\format csv or LIMIT to see more)",
                        self.kept_rows
                    )
                } else {
                    String::new()
                };
                let s = if self.total_rows == 1 { "" } else { "s" };
                writeln!(
                    self.out,
                    "{} row{s}{shown} in {seconds:.3}s",
                    self.total_rows
                )
                .map_err(io_err)?;
            }
            OutputFormat::Csv => {
                if !self.csv_header_written
                    && let Some(schema) = &self.schema
                {
                    let names: Vec<&str> =
                        schema.fields().iter().map(|f| f.name().as_str()).collect();
                    if !names.is_empty() {
                        writeln!(self.out, "{}", names.join(",")).map_err(io_err)?;
                    }
                }
            }
            OutputFormat::Json => {
                if self.json_started {
                    writeln!(self.out, "\n]").map_err(io_err)?;
                } else if self.schema.as_ref().is_some_and(|s| !s.fields().is_empty()) {
                    writeln!(self.out, "[]").map_err(io_err)?;
                }
            }
            OutputFormat::Ndjson => {}
        }
        self.out.flush().map_err(io_err)
    }
}

impl BatchSink for Printer<'_> {
    fn schema(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(schema.clone());
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.total_rows += batch.num_rows();
        match self.format {
            OutputFormat::Table => {
                let room = self.max_rows.saturating_sub(self.kept_rows);
                if room > 0 && batch.num_rows() > 0 {
                    let b = batch.slice(0, room.min(batch.num_rows()));
                    self.kept_rows += b.num_rows();
                    self.kept.push(b);
                }
            }
            OutputFormat::Csv => {
                if batch.num_rows() > 0 {
                    // A writer per batch streams rows out; the header goes with the first one.
                    let mut w = datafusion::arrow::csv::WriterBuilder::new()
                        .with_header(!self.csv_header_written)
                        .build(&mut *self.out);
                    w.write(batch)?;
                    self.csv_header_written = true;
                }
            }
            OutputFormat::Json | OutputFormat::Ndjson => {
                let mut buf = Vec::new();
                {
                    let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut buf);
                    w.write(batch)?;
                    w.finish()?;
                }
                if self.format == OutputFormat::Ndjson {
                    self.out.write_all(&buf).map_err(io_err)?;
                } else {
                    for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        self.out
                            .write_all(if self.json_started {
                                b",\n  "
                            } else {
                                b"[\n  "
                            })
                            .map_err(io_err)?;
                        self.json_started = true;
                        self.out.write_all(line).map_err(io_err)?;
                    }
                }
            }
        }
        Ok(())
    }
}
