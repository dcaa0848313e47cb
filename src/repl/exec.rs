//! Running one SQL statement through the statement layer ([`crate::statements`]): plan, execute as a stream, hand batches to a sink. Ctrl-C (or a
//! dropped future) cancels the query by dropping its stream; an interactive run that lasts more
//! than a second shows a live progress line on stderr (elapsed time, rows and bytes scanned).
//!
//! Neither Ctrl-C nor the progress line depends on the runtime the query runs on: a query can
//! keep every worker busy for a long time (a cross join polls for seconds between yields), so
//! Ctrl-C is watched by a thread with its own small runtime and the line is drawn by a thread.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Once, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use ecomsql_udfs::model::train::TrainStatus;
use futures::StreamExt;
use tokio::sync::Notify;

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
    // Created before the run starts: a Ctrl-C from here on cancels it.
    let interrupted = interrupts().notified();
    let ticker = progress.then(|| {
        Ticker::start(
            planned.physical_plan().cloned(),
            planned.train_status(),
            started,
        )
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
        _ = interrupted => Ok(Outcome::Cancelled),
    };
    if let Some(t) = ticker {
        t.stop();
        clear_progress_line();
    }
    result
}

/// Ctrl-C presses. The first call starts the watching thread and returns once Ctrl-C is caught
/// (from then on it no longer ends the process); each press wakes every `notified()` future
/// created before it, and none created after, so a press between queries cancels nothing.
fn interrupts() -> &'static Notify {
    static PRESSES: OnceLock<Notify> = OnceLock::new();
    static WATCHER: Once = Once::new();
    let presses = PRESSES.get_or_init(Notify::new);
    WATCHER.call_once(|| {
        let (ready, is_ready) = mpsc::channel::<()>();
        let watcher = std::thread::Builder::new()
            .name("ecomsql-ctrl-c".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let mut press = Box::pin(tokio::signal::ctrl_c());
                    // The handler is installed when the future is first polled.
                    let first = futures::poll!(press.as_mut());
                    let _ = ready.send(());
                    let mut pressed = match first {
                        std::task::Poll::Ready(r) => r,
                        std::task::Poll::Pending => press.await,
                    };
                    while pressed.is_ok() {
                        presses.notify_waiters();
                        pressed = tokio::signal::ctrl_c().await;
                    }
                });
            });
        if watcher.is_ok() {
            // Returns at once if the thread ended without installing the handler.
            let _ = is_ready.recv();
        }
    });
    presses
}

/// The live progress line, drawn by a thread of its own while a query runs.
struct Ticker {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Ticker {
    /// Draws the line every 250 ms once the query has run for a second.
    fn start(
        plan: Option<Arc<dyn ExecutionPlan>>,
        training: Option<Arc<TrainStatus>>,
        started: Instant,
    ) -> Ticker {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut wait = Duration::from_secs(1);
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                draw_progress(plan.as_deref(), training.as_deref(), started);
                wait = Duration::from_millis(250);
            }
        });
        Ticker { stop, thread }
    }

    /// Stops drawing; returns when the thread has ended, so no line is drawn after.
    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

fn clear_progress_line() {
    let mut err = std::io::stderr();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

fn draw_progress(
    plan: Option<&dyn ExecutionPlan>,
    training: Option<&TrainStatus>,
    started: Instant,
) {
    let (rows, bytes) = plan.map_or((0, 0), scanned);
    // While a model trains: the rows it has read, then its iterations.
    let phase = match training {
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
