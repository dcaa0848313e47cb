//! Running one query file once, as of a logical time: `ecomsql run` and every scheduled run.
//!
//! A run takes the job's lock ([`super::lock`]), then makes up to `1 + retries` attempts. Each
//! attempt opens a fresh session (so a view or model created by a failed attempt, or a table
//! that appeared meanwhile, is seen as on a first run), substitutes the parameters
//! ([`super::params`]), runs every statement through the statement layer
//! ([`crate::statements::plan`]) — `CREATE OR REPLACE MODEL …; SELECT …` works as in the shell —
//! and streams the last statement's result into the output ([`super::output`]). An attempt
//! that runs past `timeout` is cancelled (its stream dropped, its temporary file removed).
//! Queries run on a [`QueryExecutor`] of their own, so a CPU-heavy query cannot starve the
//! runtime that fires the timeout and the scheduler's timers.
//! Between attempts the runner waits `10s × 2^(attempt-1)`, at most 10 minutes, on the
//! injectable [`Clock`]. Every attempt is recorded in the run history.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::ScheduleError;
use super::clock::Clock;
use super::header::Job;
use super::history::{History, Outcome, RunRecord};
use super::lock::{LockError, try_lock};
use super::output::{resolve, write_stream};
use super::params::{self, ParamValue};
use crate::Config;
use crate::executor::QueryExecutor;
use crate::repl::one_line_error;
use crate::repl::script::{Piece, split};

/// First wait before a retry; doubled for each later one.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// The wait before attempt `next` (2, 3, …).
pub fn backoff(next: u32) -> Duration {
    let factor = 1u32 << (next.saturating_sub(2)).min(16);
    (BACKOFF_BASE * factor).min(BACKOFF_MAX)
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Job name.
    pub job: String,
    /// Logical time.
    pub logical_time: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Outcome of the last attempt.
    pub outcome: Outcome,
    /// Rows written.
    pub rows: Option<u64>,
    /// File written.
    pub output: Option<PathBuf>,
    /// Error of the last attempt.
    pub error: Option<String>,
}

/// Whether a run happened.
#[derive(Debug, Clone)]
pub enum RunResult {
    /// It ran (successfully or not).
    Ran(RunSummary),
    /// Another run of the job holds its lock.
    Busy {
        /// The lock file.
        lock: PathBuf,
        /// Its holder's process id.
        holder: Option<u32>,
    },
    /// This logical time was already run (checked under the lock; scheduler runs only).
    AlreadyRecorded,
}

/// Runs jobs for one configuration.
#[derive(Clone)]
pub struct Runner {
    config: Config,
    clock: Arc<dyn Clock>,
    history: History,
    /// Where queries run: started with the first attempt, kept for the following ones (and
    /// shared by clones).
    executor: Arc<tokio::sync::OnceCell<QueryExecutor>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("state_dir", &self.config.state_dir)
            .finish()
    }
}

impl Runner {
    /// A runner over `config`'s data, state directory and output root.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Self {
        let history = History::new(&config.state_dir);
        Self {
            config,
            clock,
            history,
            executor: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The run history it records to.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs `job` at `logical` with `overrides` (`--param`). With `skip_if_recorded`, a logical
    /// time that the history already holds is not run again (the scheduler's guard against
    /// double runs; `ecomsql run` re-runs on purpose).
    pub async fn run(
        &self,
        job: &Job,
        logical: DateTime<Utc>,
        overrides: &[(String, ParamValue)],
        skip_if_recorded: bool,
    ) -> Result<RunResult, ScheduleError> {
        let extra: Vec<String> = overrides.iter().map(|(k, _)| k.clone()).collect();
        job.check_placeholders(&extra)?;
        if job.output.is_none() {
            return Err(job.error(
                1,
                "no output: header; add one (e.g. `-- output: report/dt={date}/part.parquet`) or run the file with `ecomsql sql -f`".into(),
            ));
        }
        let _lock = match try_lock(&self.config.state_dir, &job.name) {
            Ok(l) => l,
            Err(LockError::Busy { path, holder }) => {
                tracing::info!(job = %job.name, "already running elsewhere; not started");
                return Ok(RunResult::Busy { lock: path, holder });
            }
            Err(LockError::Io(message)) => {
                return Err(ScheduleError::Run {
                    job: job.name.clone(),
                    message,
                });
            }
        };
        if skip_if_recorded && self.history.has_run(&job.name, logical) {
            return Ok(RunResult::AlreadyRecorded);
        }
        tracing::info!(job = %job.name, logical = %logical, "lock taken; running");
        let mut values = params::builtins(logical, job.timezone);
        values.extend(job.params.iter().cloned());
        values.extend(overrides.iter().cloned());
        let attempts = 1 + job.retries;
        let mut attempt = 1;
        loop {
            let started = self.clock.now();
            let result = match tokio::time::timeout(
                job.timeout,
                self.attempt(job, logical, &values),
            )
            .await
            {
                Ok(Ok(done)) => Ok(done),
                Ok(Err((path, e))) => Err((Outcome::Failed, path, e)),
                Err(_) => Err((
                    Outcome::Timeout,
                    None,
                    format!("timed out after {}", humantime(job.timeout)),
                )),
            };
            let finished = self.clock.now();
            let (outcome, rows, output, error) = match &result {
                Ok((rows, path)) => (Outcome::Success, Some(*rows), Some(path.clone()), None),
                Err((o, path, e)) => (*o, None, path.clone(), Some(e.clone())),
            };
            let record = RunRecord {
                job: job.name.clone(),
                file: job.file.display().to_string(),
                logical_time: logical,
                attempt,
                started,
                finished,
                rows,
                output: output.as_ref().map(|p| p.display().to_string()),
                outcome,
                error: error.clone(),
            };
            self.history
                .record(&record)
                .map_err(|message| ScheduleError::Run {
                    job: job.name.clone(),
                    message,
                })?;
            match &error {
                None => {
                    tracing::info!(job = %job.name, logical = %logical, attempt, rows, "run succeeded")
                }
                Some(e) => {
                    tracing::warn!(job = %job.name, logical = %logical, attempt, "attempt {}: {e}", outcome.as_str())
                }
            }
            if outcome == Outcome::Success || attempt >= attempts {
                return Ok(RunResult::Ran(RunSummary {
                    job: job.name.clone(),
                    logical_time: logical,
                    attempts: attempt,
                    outcome,
                    rows,
                    output,
                    error,
                }));
            }
            attempt += 1;
            self.clock.sleep(backoff(attempt)).await;
        }
    }

    /// One attempt: rows written and the file, or the error (and the file it was writing).
    async fn attempt(
        &self,
        job: &Job,
        logical: DateTime<Utc>,
        values: &[(String, ParamValue)],
    ) -> Result<(u64, PathBuf), (Option<PathBuf>, String)> {
        let spec = job.output.as_ref().expect("checked by run");
        let path = resolve(&self.config.output_root, spec, job.mode, values, logical)
            .map_err(|e| (None, format!("{}:{}: {e}", job.file.display(), spec.line)))?;
        let fail = |e: String| (Some(path.clone()), e);
        let sql = params::substitute(&job.sql, values)
            .map_err(|(line, e)| fail(format!("{}:{line}: {e}", job.file.display())))?;
        let (pieces, rest) = split(&sql);
        let mut statements = Vec::new();
        for p in pieces {
            match p {
                Piece::Sql(s) => statements.push(s),
                Piece::Command(c) => {
                    return Err(fail(format!(
                        "shell commands such as \\{c} cannot run in a query file"
                    )));
                }
            }
        }
        if !rest.trim().is_empty() {
            statements.push(rest);
        }
        if statements.is_empty() {
            return Err(fail(format!(
                "{} holds no SQL statement",
                job.file.display()
            )));
        }
        let executor = self
            .executor
            .get_or_try_init(|| async { QueryExecutor::new("ecomsql-run", crate::config::cores()) })
            .await
            .map_err(|e| fail(format!("query executor: {e}")))?;
        let (ctx, report) = crate::open(&self.config)
            .await
            .map_err(|e| fail(e.to_string()))?;
        for e in &report.errors {
            tracing::warn!(job = %job.name, "catalog: {e}");
        }
        let n = statements.len();
        for (i, sql) in statements.iter().enumerate() {
            let which = |e: String| fail(format!("statement {} of {n}: {e}", i + 1));
            let planned = crate::statements::plan(&ctx, sql)
                .await
                .map_err(|e| which(one_line_error(&e)))?;
            let stream = executor
                .execute(|| planned.execute(ctx.task_ctx()))
                .map_err(|e| which(one_line_error(&e)))?;
            if i + 1 < n {
                let mut stream = stream;
                while let Some(b) = stream.next().await {
                    b.map_err(|e| which(one_line_error(&e)))?;
                }
            } else {
                let rows = write_stream(&path, spec.format, stream)
                    .await
                    .map_err(which)?;
                return Ok((rows, path));
            }
        }
        unreachable!("the last statement returns")
    }
}

/// `5400s` → `1h30m`.
pub fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(20));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(11), BACKOFF_MAX);
        assert_eq!(humantime(Duration::from_secs(5400)), "1h30m");
        assert_eq!(humantime(Duration::from_secs(45)), "45s");
    }
}
