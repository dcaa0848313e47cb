//! Query execution on a tokio runtime of its own, so that CPU-heavy queries cannot starve the
//! server's network tasks (logins, metadata calls, cancels, other clients' small queries).
//!
//! DataFusion runs a query as tokio tasks that each decode and compute for as long as their
//! input is ready; on the runtime that also drives gRPC, a few such queries keep every worker
//! busy and the server stops answering until they end. Measured with ADBC, a second client
//! next to an RFM aggregation over 287M events (debug build): `SELECT 1` took 9.0 s and
//! GetTableTypes 4.1 s (idle: 0.10 s and 0.05 s); on the executor, 0.18 s (median of 29) and
//! 0.05 s. (Release build, before: `SELECT 1` 5.7 s behind a 7 s query.) Here a query's plan is
//! started and polled on the executor's runtime, whose threads the operating system
//! time-slices with the server's; the server only forwards the batches. This is the pattern
//! InfluxDB 3 (`DedicatedExecutor`) and DataFusion's `thread_pools` example use.
//!
//! Dropping the returned stream aborts the forwarding task, which drops DataFusion's stream
//! on the executor and so stops the query's tasks — cancellation and disconnects work as
//! before.

use std::panic::AssertUnwindSafe;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use futures::{FutureExt, StreamExt};
use tokio::runtime::{Handle, Runtime};

/// The stack of every thread that plans or runs statements (this executor's, the shell's, the
/// server's, the scheduler's, the CLI's main work): DataFusion recurses over expression trees
/// and plans, and a tree at the statement limits (`statements::limits`) needs more than the
/// 2 MiB tokio gives its workers. It is address space reserved, not memory used: pages are
/// touched only as deep as a statement goes.
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

/// Batches buffered between the executor and the stream's reader: enough to keep both sides
/// busy, few enough that a slow client holds back the query (backpressure).
const FORWARD_BUFFER: usize = 2;

/// A multi-threaded tokio runtime that runs queries (see the module docs).
pub struct QueryExecutor {
    /// Always `Some` until dropped.
    runtime: Option<Runtime>,
}

impl QueryExecutor {
    /// An executor of `threads` worker threads named `name-N`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<Self> {
        let name = name.to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name_fn(move || {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
            })
            // New queries (and batches the server asks for) arrive in the global queue; check it
            // on every scheduling tick, not every 31 or so, so a small query starts within one
            // poll of the running ones. Measured (debug build, `SELECT 1` next to an RFM
            // aggregation over 287M events): median 0.70 s / max 1.44 s with tokio's default,
            // 0.18 s / 0.36 s with 1; the aggregation's time did not change beyond noise.
            .global_queue_interval(1)
            .thread_stack_size(STACK_BYTES)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .expect("the runtime lives until drop")
            .handle()
    }

    /// Runs `work` — planning a statement — on this executor's threads, whose stacks are sized
    /// for statements at the limits whatever runtime the caller is on, and waits for it. A
    /// panic in it becomes an error.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        match self
            .handle()
            .spawn(AssertUnwindSafe(work).catch_unwind())
            .await
        {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => Err(DataFusionError::Execution(format!(
                "planning panicked: {}",
                crate::panic_message(panic.as_ref()).unwrap_or("(no message)")
            ))),
            Err(stopped) => Err(DataFusionError::Execution(format!(
                "planning stopped: {stopped}"
            ))),
        }
    }

    /// Starts a query with `start` (e.g. `|| execute_stream(plan, task_ctx)`) on this
    /// executor and returns its batches. Errors of `start` (planning-time failures) return at
    /// once; the query's own errors, and its panics as errors, arrive in the stream.
    pub fn execute(
        &self,
        start: impl FnOnce() -> Result<SendableRecordBatchStream>,
    ) -> Result<SendableRecordBatchStream> {
        // Operators that spawn their tasks in `execute` (CoalescePartitionsExec, …) spawn them
        // on the executor too.
        let stream = {
            let _on_executor = self.handle().enter();
            start()?
        };
        let mut forward = RecordBatchReceiverStreamBuilder::new(stream.schema(), FORWARD_BUFFER);
        let tx = forward.tx();
        forward.spawn_on(
            async move {
                let mut stream = stream;
                loop {
                    // A panic in the query (a function's bug; DataFusion's own tasks re-raise
                    // theirs here) becomes the query's error instead of unwinding into the
                    // server's task.
                    let item = match AssertUnwindSafe(stream.next()).catch_unwind().await {
                        Ok(Some(item)) => item,
                        Ok(None) => break,
                        Err(panic) => Err(DataFusionError::Execution(format!(
                            "the query panicked: {}",
                            crate::panic_message(panic.as_ref()).unwrap_or("(no message)")
                        ))),
                    };
                    let failed = item.is_err();
                    // A closed channel: the reader dropped the stream (done, cancelled or
                    // disconnected); dropping ours here stops the query.
                    if tx.send(item).await.is_err() || failed {
                        break;
                    }
                }
                Ok::<(), DataFusionError>(())
            },
            self.handle(),
        );
        Ok(forward.build())
    }
}

impl Drop for QueryExecutor {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed inside another runtime (where servers
        // end); running queries are stopped at their next await.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Poll;
    use std::time::Duration;

    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use datafusion::prelude::SessionContext;
    use futures::TryStreamExt;

    async fn run(
        exec: &QueryExecutor,
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<SendableRecordBatchStream> {
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let task = ctx.task_ctx();
        exec.execute(|| datafusion::physical_plan::execute_stream(plan, task))
    }

    async fn collect(
        exec: &QueryExecutor,
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<Vec<RecordBatch>> {
        run(exec, ctx, sql).await?.try_collect().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn runs_queries_and_passes_errors_on() {
        let exec = QueryExecutor::new("test-exec", 2).unwrap();
        let ctx = SessionContext::new();
        let sum = "SELECT sum(value) FROM generate_series(1, 100000)";
        let batches = collect(&exec, &ctx, sum).await.unwrap();
        assert_eq!(
            batches[0].column(0).as_primitive::<Int64Type>().value(0),
            5_000_050_000
        );
        let bad = "SELECT CAST('x' || value AS INT) FROM generate_series(1, 3)";
        let err = collect(&exec, &ctx, bad).await.unwrap_err();
        assert!(err.to_string().contains("Cannot cast"), "{err}");
        // A panicking query is an error, and the executor runs on.
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let panics = exec
            .execute(|| {
                let s = futures::stream::poll_fn(|_| -> Poll<Option<Result<RecordBatch>>> {
                    panic!("a bug in a function")
                });
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, s)) as SendableRecordBatchStream)
            })
            .unwrap();
        let err = panics.try_collect::<Vec<_>>().await.unwrap_err();
        assert!(
            err.to_string()
                .contains("the query panicked: a bug in a function"),
            "{err}"
        );
        let again = collect(&exec, &ctx, sum).await.unwrap();
        assert_eq!(again.len(), 1);
        // A failure of `start` itself returns at once.
        let err = exec
            .execute(|| Err(DataFusionError::Plan("no plan".into())))
            .err()
            .expect("an error");
        assert!(err.to_string().contains("no plan"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn dropping_the_stream_stops_the_query() {
        let exec = QueryExecutor::new("test-exec", 2).unwrap();
        let ctx = SessionContext::new();
        // Days of work, and no row before the end.
        let endless =
            "SELECT count(*) FROM generate_series(1, 1000000000000000) WHERE value % 7 = 3";
        let mut stream = run(&exec, &ctx, endless).await.unwrap();
        let polled = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        assert!(polled.is_err(), "the query is still running");
        let metrics = exec.handle().metrics();
        assert!(metrics.num_alive_tasks() > 0);
        drop(stream);
        tokio::time::timeout(Duration::from_secs(30), async {
            while metrics.num_alive_tasks() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the query's tasks stop once its stream is dropped");
    }
}
