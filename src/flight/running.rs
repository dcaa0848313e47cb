//! A query as the server streams it: it holds its [`Admission`] (so it counts as running until
//! the last batch is sent or the client goes away), enforces the time limit, counts rows and
//! bytes, and writes the one log line per query when it ends — finished, failed, timed out, or
//! cancelled because the client dropped the stream. Dropping it drops DataFusion's stream,
//! which stops the query's tasks.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arrow_flight::error::FlightError;
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use futures::Stream;
use tokio::time::Sleep;
use tonic::Status;

use super::errors::to_status;
use super::limits::{Admission, human};
use crate::statements::StatementKind;

/// How a query ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed(String),
    TimedOut,
}

/// A running query's stream of batches (see the module docs).
pub struct RunningQuery {
    inner: SendableRecordBatchStream,
    _admission: Admission,
    deadline: Option<Pin<Box<Sleep>>>,
    timeout: Option<Duration>,
    user: String,
    kind: StatementKind,
    started: Instant,
    rows: u64,
    bytes: u64,
    outcome: Option<Outcome>,
}

impl RunningQuery {
    /// Wraps `inner`, which runs under `admission` for `user`; `timeout` counts from `started`
    /// (the request's arrival, so queue time counts too).
    pub fn new(
        inner: SendableRecordBatchStream,
        admission: Admission,
        user: &str,
        kind: StatementKind,
        started: Instant,
        timeout: Option<Duration>,
    ) -> Self {
        let deadline = timeout.map(|t| {
            let at = tokio::time::Instant::from_std(started) + t;
            Box::pin(tokio::time::sleep_until(at))
        });
        Self {
            inner,
            _admission: admission,
            deadline,
            timeout,
            user: user.to_string(),
            kind,
            started,
            rows: 0,
            bytes: 0,
            outcome: None,
        }
    }

    /// Rows sent so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl Stream for RunningQuery {
    type Item = Result<RecordBatch, FlightError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.outcome.is_some() {
            return Poll::Ready(None);
        }
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.outcome = Some(Outcome::TimedOut);
            let t = self.timeout.map(human).unwrap_or_default();
            return Poll::Ready(Some(Err(FlightError::Tonic(Box::new(
                Status::deadline_exceeded(format!(
                    "query timed out after {t} (flight.query_timeout)"
                )),
            )))));
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                self.rows += batch.num_rows() as u64;
                self.bytes += batch.get_array_memory_size() as u64;
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(Some(Err(e))) => {
                let status = to_status(&e);
                self.outcome = Some(Outcome::Failed(status.message().to_string()));
                Poll::Ready(Some(Err(FlightError::Tonic(Box::new(status)))))
            }
            Poll::Ready(None) => {
                self.outcome = Some(Outcome::Ok);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for RunningQuery {
    fn drop(&mut self) {
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let (outcome, error) = match &self.outcome {
            Some(Outcome::Ok) => ("ok", ""),
            Some(Outcome::Failed(msg)) => ("error", msg.as_str()),
            Some(Outcome::TimedOut) => ("timeout", ""),
            None => ("cancelled", ""),
        };
        tracing::info!(
            target: "ecomsql::flight",
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
