//! Limits that keep one query from hurting the others: a cap on queries executing at once with
//! a bounded queue in front of it, a time limit, and a memory pool of its own for each query.
//! Going past one of them fails that query alone with a clear status.
//!
//! The number of running queries is published on a `watch` channel, so tests (and a future
//! status page) can wait for it to change instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use datafusion::execution::TaskContext;
use datafusion::prelude::SessionContext;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::Status;

use crate::config::FlightConfig;

/// The server's query limits.
#[derive(Debug)]
pub struct Limits {
    slots: Arc<Semaphore>,
    max_running: usize,
    max_queued: usize,
    queued: AtomicUsize,
    running: watch::Sender<usize>,
    /// Longest a query may take, queue wait included.
    pub timeout: Option<Duration>,
    /// Memory pool of each query in bytes.
    pub query_memory: Option<usize>,
}

/// A query's slot: while it lives the query counts as running.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
    running: watch::Sender<usize>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.running.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Takes a place in the queue back when the waiting future ends, however it ends.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limits {
    /// Limits from the `[flight]` config.
    pub fn new(config: &FlightConfig) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(config.max_running_queries)),
            max_running: config.max_running_queries,
            max_queued: config.max_queued_queries,
            queued: AtomicUsize::new(0),
            running: watch::channel(0).0,
            timeout: config.query_timeout,
            query_memory: config.query_memory_limit,
        }
    }

    /// Watches the number of running queries.
    pub fn running(&self) -> watch::Receiver<usize> {
        self.running.subscribe()
    }

    /// Waits for a slot. Refuses at once when the queue is full, and with DEADLINE_EXCEEDED when
    /// the wait outlasts the query timeout.
    pub async fn admit(&self) -> Result<Admission, Status> {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
                    self.queued.fetch_sub(1, Ordering::SeqCst);
                    return Err(Status::resource_exhausted(format!(
                        "server busy: {} queries running and {} waiting (flight.max_queued_queries); \
                         try again later",
                        self.max_running, self.max_queued
                    )));
                }
                let _place = QueuePlace(&self.queued);
                let wait = Arc::clone(&self.slots).acquire_owned();
                let acquired = match self.timeout {
                    Some(t) => tokio::time::timeout(t, wait).await.map_err(|_| {
                        Status::deadline_exceeded(format!(
                            "query timed out after {} waiting for one of {} query slots \
                             (flight.query_timeout)",
                            human(t),
                            self.max_running
                        ))
                    })?,
                    None => wait.await,
                };
                acquired.map_err(|_| Status::unavailable("server is shutting down"))?
            }
        };
        self.running.send_modify(|n| *n += 1);
        Ok(Admission {
            _permit: permit,
            running: self.running.clone(),
        })
    }

    /// The context a query executes in: the session's, with a memory pool of its own when
    /// `query_memory_limit` is set (so one query over its limit fails alone).
    pub fn task_ctx(&self, ctx: &SessionContext) -> Arc<TaskContext> {
        let Some(limit) = self.query_memory else {
            return ctx.task_ctx();
        };
        let state = ctx.state();
        let mut runtime = (**state.runtime_env()).clone();
        // Within the session pool's bound on the process's heap, as every query.
        runtime.memory_pool = crate::memory::query_pool(limit, &runtime.memory_pool);
        let mut config = state.config().clone();
        let partitions = config.target_partitions();
        crate::memory::fit_sort_reservation(&mut config.options_mut().execution, limit, partitions);
        Arc::new(
            TaskContext::from(&state)
                .with_runtime(Arc::new(runtime))
                .with_session_config(config),
        )
    }
}

/// "1.5s", "2m", "300ms".
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(120) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{:.1}m", d.as_secs_f64() / 60.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FlightLayer;

    fn limits(running: usize, queued: usize, timeout: Option<&str>) -> Limits {
        Limits::new(
            &FlightLayer {
                max_running_queries: Some(running),
                max_queued_queries: Some(queued),
                query_timeout: timeout.map(str::to_string),
                ..Default::default()
            }
            .check()
            .unwrap(),
        )
    }

    #[tokio::test]
    async fn queue_is_bounded_and_running_is_counted() {
        let l = limits(1, 0, None);
        let running = l.running();
        let a = l.admit().await.unwrap();
        assert_eq!(*running.borrow(), 1);
        let busy = l.admit().await.unwrap_err();
        assert_eq!(busy.code(), tonic::Code::ResourceExhausted);
        assert!(busy.message().contains("server busy"), "{busy}");
        drop(a);
        assert_eq!(*running.borrow(), 0);
        let _b = l.admit().await.unwrap();
    }

    #[tokio::test]
    async fn waiting_past_the_timeout_fails() {
        let l = limits(1, 4, Some("50ms"));
        let _a = l.admit().await.unwrap();
        let late = l.admit().await.unwrap_err();
        assert_eq!(late.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(l.queued.load(Ordering::SeqCst), 0);
    }
}
