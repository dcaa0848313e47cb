//! Scheduled query files: `ecomsql run FILE` and `ecomsql schedule DIR`.
//!
//! A query file is SQL whose leading comment lines form a header (`-- schedule: 0 3 * * *`,
//! `-- output: rfm/dt={date}/segments.parquet`, …). The pieces, one concern each:
//!
//! - [`header`]: parsing and validating the header into a [`header::Job`] (errors name the file
//!   and line).
//! - [`cron`]: when a job runs (5-field cron or `@daily`-style nicknames, in a time zone, with
//!   stated daylight-saving rules).
//! - [`params`]: `{date}`, `{run_ts}` and user parameters substituted as typed SQL literals at
//!   the token level.
//! - [`output`]: writing Parquet / CSV / JSON atomically (temporary file, fsync, rename, fsync).
//! - [`runner`]: one run of one file at a logical time, with timeout and retries.
//! - [`history`]: the durable run history, queryable as `ecomsql.runs`.
//! - [`lock`]: one run of a job at a time, across processes.
//! - [`clock`]: time behind a trait, so tests drive the scheduler without sleeping.
//! - [`scheduler`]: the loop over a folder of files (rescans, catch-up, graceful shutdown).
//! - [`commands`]: the `run` and `schedule` subcommands.

pub mod clock;
pub mod commands;
pub mod cron;
pub mod header;
pub mod history;
pub mod lock;
pub mod output;
pub mod params;
pub mod runner;
pub mod scheduler;

use std::path::PathBuf;

/// Errors of the scheduling layer; each names the file or job at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A problem in a query file's header or parameters.
    #[error("{}:{line}: {message}", file.display())]
    Header {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// A run could not be carried out or recorded.
    #[error("job {job}: {message}")]
    Run {
        /// The job.
        job: String,
        /// What happened.
        message: String,
    },
}
