//! Running one SQL statement through the statement layer ([`crate::statements`]): plan, execute as a stream, hand batches to a sink. Ctrl-C (or a
//! dropped future) cancels the query by dropping its stream; an interactive run that lasts more
//! than a second shows a live progress line on stderr (elapsed time, rows and bytes scanned).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use ecomsql_udfs::model::train::TrainStatus;
use futures::StreamExt;

/// Receives a query's output as it streams.
pub trait BatchSink {
    /// Called once with the result schema before any batch.
    fn schema(&mut self, schema: &SchemaRef) -> Result<()>;
    /// Called per batch.
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran to the end; rows produced.
    Done(usize),
    /// Interrupted by Ctrl-C.
    Cancelled,
}

/// Plans and runs `sql` (one statement), feeding `sink`. With `progress`, a live line is drawn
/// on stderr for queries running over a second. Ctrl-C cancels the query, not the process.
pub async fn run_statement(
    ctx: &SessionContext,
    sql: &str,
    sink: &mut dyn BatchSink,
    progress: bool,
) -> Result<Outcome> {
    // The statement layer: DataFusion SQL plus CREATE MODEL, DROP MODEL, SHOW MODELS.
    let planned = crate::statements::plan(ctx, sql).await?;
    sink.schema(&planned.schema())?;
    let task_ctx = ctx.task_ctx();
    let started = Instant::now();
    let ticker = progress.then(|| {
        tokio::spawn(show_progress(
            planned.physical_plan().cloned(),
            planned.train_status(),
            started,
        ))
    });
    let run = async {
        let mut stream = planned.execute(task_ctx)?;
        let mut rows = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            sink.batch(&batch)?;
        }
        Ok::<usize, DataFusionError>(rows)
    };
    let result = tokio::select! {
        r = run => r.map(Outcome::Done),
        _ = tokio::signal::ctrl_c() => Ok(Outcome::Cancelled),
    };
    if let Some(t) = ticker {
        t.abort();
        let _ = t.await;
        clear_progress_line();
    }
    result
}

fn clear_progress_line() {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

async fn show_progress(
    plan: Option<Arc<dyn ExecutionPlan>>,
    training: Option<Arc<TrainStatus>>,
    started: Instant,
) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let (rows, bytes) = plan.as_deref().map_or((0, 0), scanned);
        // While a model trains: the rows it has read, then its iterations.
        let phase = match &training {
            Some(t) => match t.iterations.load(Ordering::Relaxed) {
                0 => format!(
                    " · training: {} rows read",
                    human_count(t.rows_read.load(Ordering::Relaxed) as usize)
                ),
                i => format!(" · training: iteration {i}"),
            },
            None => String::new(),
        };
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r\x1b[2K{:.1}s · {} rows scanned · {} read{phase} · Ctrl-C to cancel",
            started.elapsed().as_secs_f64(),
            human_count(rows),
            human_bytes(bytes)
        );
        let _ = err.flush();
    }
}

/// Rows and bytes read so far by the plan's leaves (the scans).
pub fn scanned(plan: &dyn ExecutionPlan) -> (usize, usize) {
    let children = plan.children();
    if children.is_empty() {
        return plan.metrics().map_or((0, 0), |m| {
            (
                m.output_rows().unwrap_or(0),
                m.sum_by_name("bytes_scanned").map_or(0, |v| v.as_usize()),
            )
        });
    }
    children.iter().fold((0, 0), |(r, b), c| {
        let (r2, b2) = scanned(c.as_ref());
        (r + r2, b + b2)
    })
}

/// 1234567 → "1.2M".
pub fn human_count(n: usize) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1}G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.0}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// 1234567 → "1.2 MB".
pub fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
