//! The `run` and `schedule` subcommands: parse their arguments, drive the runner or the
//! scheduler, print one line per run and turn failures into errors (the exit code is decided in
//! `cli.rs`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::ScheduleError;
use super::clock::{Clock, SystemClock};
use super::header::parse_job;
use super::history::Outcome;
use super::params::parse_assignment;
use super::runner::{RunResult, Runner};
use super::scheduler::{JobStatus, RunEnd, Scheduler};
use crate::Config;
use crate::cli::AppError;

/// The logical time given to `--at`: RFC 3339 (`2026-01-05T03:00:00Z`), a local date-time in
/// the job's zone (`2026-01-05 03:00[:00]`, or with `T`), or a date (midnight in the job's zone).
pub fn parse_at(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            format!(
                "invalid --at {t:?}: expected 2026-01-05, \"2026-01-05 03:00\" (in the job's time zone) or 2026-01-05T03:00:00Z"
            )
        })?;
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(d) => Ok(d.with_timezone(&Utc)),
        // A repeated local time (clocks going back): the first of the two, as cron does.
        LocalResult::Ambiguous(a, _) => Ok(a.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "--at {t:?} does not exist in {} (clocks jump forward then)",
            tz.name()
        )),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(crate::executor::STACK_BYTES)
        .enable_all()
        .build()
        .map_err(|e| AppError::DataFusion(format!("cannot start the runtime: {e}")))
}

fn out(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn read_file(path: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|e| AppError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// `ecomsql run FILE [--at T] [--param k=v]…`: runs the file once; an error unless it succeeded.
pub fn run_file(
    config: &Config,
    file: &Path,
    at: Option<&str>,
    params: &[String],
) -> Result<(), AppError> {
    let text = read_file(file)?;
    let job = parse_job(file, &text, &config.output_root)?;
    let overrides = params
        .iter()
        .map(|p| parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ScheduleError::Run {
            job: job.name.clone(),
            message,
        })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let logical = match at {
        Some(t) => parse_at(t, job.timezone).map_err(|message| ScheduleError::Run {
            job: job.name.clone(),
            message,
        })?,
        None => clock.now(),
    };
    let runner = Runner::new(config.clone(), clock);
    let result = runtime()?.block_on(runner.run(&job, logical, &overrides, false))?;
    match result {
        RunResult::Ran(s) if s.outcome == Outcome::Success => {
            out(&format!(
                "{} {}: {} rows -> {}",
                s.job,
                s.logical_time.to_rfc3339(),
                s.rows.unwrap_or(0),
                s.output
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
            Ok(())
        }
        RunResult::Ran(s) => Err(ScheduleError::Run {
            job: s.job,
            message: format!(
                "{} after {} attempt(s): {}",
                s.outcome.as_str(),
                s.attempts,
                s.error.unwrap_or_default()
            ),
        }
        .into()),
        RunResult::Busy { lock, holder } => Err(ScheduleError::Run {
            job: job.name,
            message: format!(
                "already running (process {} holds {})",
                holder.map_or("?".into(), |p| p.to_string()),
                lock.display()
            ),
        }
        .into()),
        RunResult::AlreadyRecorded => Ok(()),
    }
}

fn describe_end(e: &RunEnd) -> String {
    let at = e.logical_time.to_rfc3339();
    match &e.result {
        Ok(RunResult::Ran(s)) => match s.outcome {
            Outcome::Success => format!(
                "{} {at}: success, {} rows -> {}",
                e.job,
                s.rows.unwrap_or(0),
                s.output
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            o => format!(
                "{} {at}: {} after {} attempt(s): {}",
                e.job,
                o.as_str(),
                s.attempts,
                s.error.as_deref().unwrap_or_default()
            ),
        },
        Ok(RunResult::Busy { holder, .. }) => format!(
            "{} {at}: skipped, running in process {}",
            e.job,
            holder.map_or("?".into(), |p| p.to_string())
        ),
        Ok(RunResult::AlreadyRecorded) => format!("{} {at}: skipped, already run", e.job),
        Err(err) => format!("{} {at}: error: {err}", e.job),
    }
}

fn print_status(rows: &[JobStatus]) {
    let mut table = vec![[
        "job".to_string(),
        "schedule".to_string(),
        "next run (UTC)".to_string(),
        "last run".to_string(),
        "outcome".to_string(),
    ]];
    for r in rows {
        let last = r.last.as_ref();
        table.push([
            r.job.clone(),
            if r.error.is_some() {
                "invalid".to_string()
            } else {
                r.schedule.clone()
            },
            r.next_run
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
            last.map(|l| l.logical_time.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            match (&r.error, last) {
                (Some(e), _) => e.clone(),
                (None, Some(l)) => match &l.error {
                    None => format!("{} ({} rows)", l.outcome.as_str(), l.rows.unwrap_or(0)),
                    Some(e) => format!("{} (attempt {}): {e}", l.outcome.as_str(), l.attempt),
                },
                (None, None) => "-".into(),
            },
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in &table {
        let mut line = String::new();
        for (c, w) in widths.iter().enumerate() {
            line.push_str(&format!("{:<w$}  ", r[c]));
        }
        line.push_str(&r[4]);
        out(&line);
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C), twice: the first sends `stop`, the second `abort`.
/// The handlers are installed before this returns, so a signal sent as soon as the scheduler
/// logs anything is never the default (killing) action.
fn watch_signals(
    stop: tokio::sync::oneshot::Sender<()>,
    abort: tokio::sync::oneshot::Sender<()>,
) -> Result<(), AppError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind| {
            signal(kind).map_err(|e| AppError::DataFusion(format!("cannot watch signals: {e}")))
        };
        let mut term = install(SignalKind::terminate())?;
        let mut int = install(SignalKind::interrupt())?;
        tokio::spawn(async move {
            for tx in [stop, abort] {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                let _ = tx.send(());
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        for tx in [stop, abort] {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(());
        }
    });
    Ok(())
}

/// `ecomsql schedule DIR [--list | --once]`.
pub fn schedule_dir(config: &Config, dir: &Path, list: bool, once: bool) -> Result<(), AppError> {
    if !dir.is_dir() {
        return Err(AppError::Io {
            path: dir.to_path_buf(),
            message: "not a folder of query files".into(),
        });
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let runner = Runner::new(config.clone(), clock.clone());
    let mut scheduler = Scheduler::new(dir, runner, clock);
    let report = scheduler.scan();
    for e in &report.invalid {
        let _ = writeln!(std::io::stderr(), "invalid: {e} (skipped)");
    }
    if list {
        print_status(&scheduler.status());
        return Ok(());
    }
    let rt = runtime()?;
    if once {
        let ends = rt.block_on(scheduler.run_due());
        for e in &ends {
            out(&describe_end(e));
        }
        let failed = ends.iter().any(|e| {
            !matches!(&e.result, Ok(RunResult::Ran(s)) if s.outcome == Outcome::Success)
                && !matches!(
                    &e.result,
                    Ok(RunResult::Busy { .. } | RunResult::AlreadyRecorded)
                )
        });
        return if failed {
            Err(AppError::StatementsFailed(1))
        } else {
            Ok(())
        };
    }
    print_status(&scheduler.status());
    rt.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (abort_tx, abort_rx) = tokio::sync::oneshot::channel::<()>();
        watch_signals(stop_tx, abort_tx)?;
        let ends = scheduler
            .run(
                async move {
                    let _ = stop_rx.await;
                },
                async move {
                    let _ = abort_rx.await;
                },
            )
            .await;
        tracing::info!(runs = ends.len(), "scheduler stopped");
        Ok::<(), AppError>(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_accepts_dates_local_times_and_instants() {
        let sh: Tz = "Asia/Shanghai".parse().unwrap();
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_at("2026-01-05", sh).unwrap(),
            utc("2026-01-04T16:00:00Z")
        );
        assert_eq!(
            parse_at("2026-01-05 03:00", sh).unwrap(),
            utc("2026-01-04T19:00:00Z")
        );
        assert_eq!(
            parse_at("2026-01-05T03:00:00Z", sh).unwrap(),
            utc("2026-01-05T03:00:00Z")
        );
        let ny: Tz = "America/New_York".parse().unwrap();
        assert!(
            parse_at("2026-03-08 02:30", ny)
                .unwrap_err()
                .contains("does not exist")
        );
        assert_eq!(
            parse_at("2026-11-01 01:30", ny).unwrap(),
            utc("2026-11-01T05:30:00Z"),
            "the first 01:30 (EDT)"
        );
        assert!(parse_at("yesterday", ny).is_err());
    }
}
