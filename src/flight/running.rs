//! A query as the server streams it: it holds its [`Admission`] (so it counts as running until
//! the last batch is sent, the client goes away or the query is cancelled), enforces the time
//! limit, counts rows and bytes, and writes the one log line per query when it ends — finished,
//! failed, timed out, or cancelled (the client dropped the stream, or sent CancelFlightInfo /
//! CancelQuery).
//!
//! What a cancel has to reach lives in a shared [`LiveQuery`]: DataFusion's stream and the
//! query's slot, behind a lock the stream holds only while it polls. A cancel sets the flag,
//! wakes the stream and, when the lock is free (the client is not reading at that moment, the
//! usual case), drops DataFusion's stream and the slot itself at once — it does not wait for
//! the client to read again. The stream held is the [`crate::executor`]'s: dropping it aborts
//! the task that drives DataFusion's stream on the executor, which stops the query's tasks and
//! frees its memory at their next await.

use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arrow_flight::error::FlightError;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result as DfResult;
use datafusion::execution::SendableRecordBatchStream;
use futures::Stream;
use futures::task::AtomicWaker;
use tokio::time::Sleep;
use tonic::Status;

use super::errors::to_status;
use super::limits::{Admission, human};
use super::tickets::Registration;
use crate::statements::StatementKind;

/// How a query ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed(String),
    TimedOut,
    Cancelled(String),
}

/// What a running query holds: released together, by whichever comes first of the stream's
/// end and a cancel.
struct Held {
    stream: SendableRecordBatchStream,
    _admission: Admission,
}

/// The part of a query that a cancel reaches (see the module docs). Shared by the DoGet stream
/// ([`RunningQuery`]) and the server's ticket table.
pub struct LiveQuery {
    id: String,
    cancelled_by: OnceLock<String>,
    waker: AtomicWaker,
    held: Mutex<Option<Held>>,
}

impl LiveQuery {
    /// A query known as `id` (its ticket handle) that holds nothing yet.
    pub fn new(id: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            id: id.into(),
            cancelled_by: OnceLock::new(),
            waker: AtomicWaker::new(),
            held: Mutex::new(None),
        })
    }

    /// The query's id: its ticket handle.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Who cancelled the query, if someone did.
    pub fn cancelled_by(&self) -> Option<&str> {
        self.cancelled_by.get().map(String::as_str)
    }

    /// The status a cancelled query ends with.
    pub fn cancelled_status(id: &str, by: &str) -> Status {
        Status::cancelled(format!("query {id} was cancelled by {by}"))
    }

    /// Cancels the query on behalf of `by` (the first cancel wins; later ones change nothing).
    /// Returns whether its stream and slot are released now; `false` when the stream is being
    /// polled at this instant — it then sees the flag as soon as that poll returns.
    pub fn cancel(&self, by: &str) -> bool {
        let _ = self.cancelled_by.set(by.to_string());
        self.waker.wake();
        let held = match self.held.try_lock() {
            Ok(mut guard) => guard.take(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().take(),
            Err(TryLockError::WouldBlock) => return false,
        };
        // Dropped outside the lock: stopping DataFusion's tasks takes a moment.
        drop(held);
        true
    }

    /// Resolves with the canceller's name once the query is cancelled.
    pub async fn cancelled(&self) -> String {
        futures::future::poll_fn(|cx| self.poll_cancelled(cx).map(str::to_string)).await
    }

    fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<&str> {
        self.waker.register(cx.waker());
        match self.cancelled_by() {
            Some(by) => Poll::Ready(by),
            None => Poll::Pending,
        }
    }

    /// Starts holding the executing `stream` and its `admission`; when the query was cancelled
    /// meanwhile they are dropped at once.
    fn hold(&self, stream: SendableRecordBatchStream, admission: Admission) {
        let held = Held {
            stream,
            _admission: admission,
        };
        let mut slot = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if self.cancelled_by().is_none() {
            *slot = Some(held);
            return;
        }
        drop(slot);
        drop(held);
    }

    /// Drops the stream and the slot.
    fn release(&self) {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(held);
    }

    /// Polls DataFusion's stream; `None` once it was released.
    fn poll_stream(&self, cx: &mut Context<'_>) -> Option<Poll<Option<DfResult<RecordBatch>>>> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let held = held.as_mut()?;
        Some(held.stream.as_mut().poll_next(cx))
    }
}

/// A running query's stream of batches (see the module docs).
pub struct RunningQuery {
    live: Arc<LiveQuery>,
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Option<Duration>,
    user: String,
    kind: StatementKind,
    started: Instant,
    rows: u64,
    bytes: u64,
    outcome: Option<Outcome>,
    /// Marks the ticket ended when the stream goes (after the log line).
    _registration: Option<Registration>,
}

impl RunningQuery {
    /// Streams `inner`, which runs under `admission` for `user`, as the query `live`;
    /// `timeout` counts from `started` (the request's arrival, so queue time counts too).
    pub fn new(
        live: Arc<LiveQuery>,
        inner: SendableRecordBatchStream,
        admission: Admission,
        user: &str,
        kind: StatementKind,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Self {
        live.hold(inner, admission);
        let deadline = timeout.map(|t| {
            let at = tokio::time::Instant::from_std(started) + t;
            Box::pin(tokio::time::sleep_until(at))
        });
        Self {
            live,
            deadline,
            timeout,
            user: user.to_string(),
            kind,
            started,
            rows: 0,
            bytes: 0,
            outcome: None,
            _registration: None,
        }
    }

    /// Marks the query's ticket ended when the stream goes (DoGet; updates run in DoPut have
    /// no ticket).
    pub fn registered(mut self, registration: Registration) -> Self {
        self._registration = Some(registration);
        self
    }

    /// Rows sent so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Ends the stream with `status` and `outcome`, releasing what the query holds.
    fn end(&mut self, outcome: Outcome, status: Status) -> Poll<Option<<Self as Stream>::Item>> {
        self.live.release();
        self.outcome = Some(outcome);
        Poll::Ready(Some(Err(FlightError::Tonic(Box::new(status)))))
    }

    fn cancelled(&mut self, by: String) -> Poll<Option<<Self as Stream>::Item>> {
        let status = LiveQuery::cancelled_status(self.live.id(), &by);
        self.end(Outcome::Cancelled(status.message().to_string()), status)
    }
}

impl Stream for RunningQuery {
    type Item = Result<RecordBatch, FlightError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.outcome.is_some() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(by) = self.live.poll_cancelled(cx) {
            let by = by.to_string();
            return self.cancelled(by);
        }
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            let t = self.timeout.map(human).unwrap_or_default();
            let status = Status::deadline_exceeded(format!(
                "query timed out after {t} (flight.query_timeout)"
            ));
            return self.end(Outcome::TimedOut, status);
        }
        let Some(polled) = self.live.poll_stream(cx) else {
            // Released between the check above and here: only a cancel does that.
            let by = self.live.cancelled_by().unwrap_or("the server").to_string();
            return self.cancelled(by);
        };
        match polled {
            Poll::Ready(Some(Ok(batch))) => {
                self.rows += batch.num_rows() as u64;
                self.bytes += batch.get_array_memory_size() as u64;
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(Some(Err(e))) => {
                let status = to_status(&e);
                self.end(Outcome::Failed(status.message().to_string()), status)
            }
            Poll::Ready(None) => {
                self.live.release();
                self.outcome = Some(Outcome::Ok);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for RunningQuery {
    fn drop(&mut self) {
        self.live.release();
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let (outcome, error) = match &self.outcome {
            Some(Outcome::Ok) => ("ok", ""),
            Some(Outcome::Failed(msg)) => ("error", msg.as_str()),
            Some(Outcome::TimedOut) => ("timeout", ""),
            Some(Outcome::Cancelled(msg)) => ("cancelled", msg.as_str()),
            None => ("cancelled", "the client closed the stream"),
        };
        tracing::info!(
            target: "ecomsql::flight",
            query = %self.live.id(),
            user = %self.user,
            kind = self.kind.name(),
            rows = self.rows,
            bytes = self.bytes,
            duration_ms,
            outcome,
            error,
            "query"
        );
    }
}

/// The log line of a statement that failed before it ran (bad SQL, refused, server busy).
pub fn log_refused(user: &str, kind: Option<StatementKind>, started: Instant, status: &Status) {
    tracing::info!(
        target: "ecomsql::flight",
        user,
        kind = kind.map_or("unknown", StatementKind::name),
        rows = 0u64,
        bytes = 0u64,
        duration_ms = started.elapsed().as_millis() as u64,
        outcome = "error",
        error = status.message(),
        "query"
    );
}

/// The log line of a query cancelled before it ran (before its DoGet, or waiting for a slot).
pub fn log_cancelled_unrun(
    id: &str,
    user: &str,
    kind: StatementKind,
    started: Instant,
    status: &Status,
) {
    tracing::info!(
        target: "ecomsql::flight",
        query = id,
        user,
        kind = kind.name(),
        rows = 0u64,
        bytes = 0u64,
        duration_ms = started.elapsed().as_millis() as u64,
        outcome = "cancelled",
        error = status.message(),
        "query"
    );
}
