//! `ecomsql schedule DIR`: every `*.sql` file in DIR with a `schedule:` header is a job.
//!
//! - At start, and every [`RESCAN`] after, the folder is read again: added and changed files
//!   are validated (an invalid one is reported with file and line and skipped until it
//!   changes; the other jobs run), removed files stop being scheduled. Files without a
//!   `schedule:` key are not jobs.
//! - A job is due when its latest scheduled time at or before now has not been run
//!   ([`Scheduler::due`]). Catch-up policy for runs missed while no scheduler was up (the
//!   `catchup:` key): `latest` (default) runs only the most recent missed run; `all` runs every
//!   missed run since the last recorded one, oldest first, at most
//!   [`CATCH_UP_CAP`](super::header::CATCH_UP_CAP); `none` runs only times that fall due while
//!   this scheduler is up. A job never run before starts with its most recent scheduled time
//!   (backfill older dates with `ecomsql run --at`).
//! - Each job's runs execute in their own task, so a slow or failing job does not hold up the
//!   others; a job never runs twice at once (in-process bookkeeping, plus the cross-process
//!   lock and history check of [`Runner::run`]).
//! - Shutdown (SIGTERM / Ctrl-C): no new runs start; runs in progress finish (each is bounded
//!   by its timeout). A second signal cancels them, leaving their outputs as they were.
//!
//! Time comes from a [`Clock`], so tests drive days of schedule with [`Scheduler::run_due`]
//! without sleeping.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::clock::Clock;
use super::header::{CATCH_UP_CAP, CatchUp, Job, parse_job};
use super::history::{History, RunRecord};
use super::runner::{RunResult, Runner};

/// How often the folder is read again for added, changed and removed files (and the longest
/// the loop sleeps, so a wall-clock jump is noticed within this time).
pub const RESCAN: Duration = Duration::from_secs(30);

/// A query file as last read.
#[derive(Debug, Clone)]
enum Slot {
    Job { text: String, job: Arc<Job> },
    NotScheduled { text: String },
    Invalid { text: String, error: String },
}

impl Slot {
    fn text(&self) -> &str {
        match self {
            Slot::Job { text, .. } | Slot::NotScheduled { text } | Slot::Invalid { text, .. } => {
                text
            }
        }
    }
}

/// What a rescan found.
#[derive(Debug, Default, Clone)]
pub struct ScanReport {
    /// Jobs new or changed since the last scan.
    pub loaded: Vec<String>,
    /// Files that stopped being jobs (removed, or no longer scheduled).
    pub removed: Vec<PathBuf>,
    /// Invalid files (newly found or changed), with their errors.
    pub invalid: Vec<String>,
}

/// One line of `ecomsql schedule DIR --list`.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// Job name (or the file, for an invalid file).
    pub job: String,
    /// The file.
    pub file: PathBuf,
    /// Schedule and zone, e.g. `0 3 * * * (Asia/Shanghai)`.
    pub schedule: String,
    /// Next scheduled time.
    pub next_run: Option<DateTime<Utc>>,
    /// The most recent attempt.
    pub last: Option<RunRecord>,
    /// Why the file is not scheduled.
    pub error: Option<String>,
}

/// How a scheduled run ended, for callers and tests.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// Job name.
    pub job: String,
    /// Logical time.
    pub logical_time: DateTime<Utc>,
    /// The runner's answer, or the error that kept it from running.
    pub result: Result<RunResult, String>,
}

/// The scheduler over one folder.
pub struct Scheduler {
    dir: PathBuf,
    runner: Runner,
    clock: Arc<dyn Clock>,
    history: History,
    slots: BTreeMap<PathBuf, Slot>,
    started_at: DateTime<Utc>,
    running: JoinSet<Vec<RunEnd>>,
    running_jobs: HashSet<String>,
    task_jobs: HashMap<tokio::task::Id, String>,
    /// Jobs whose last run could not start (another process holds it, or e.g. an unwritable
    /// state directory): not tried again before this instant, so the loop does not spin.
    hold_until: HashMap<String, DateTime<Utc>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("dir", &self.dir).finish()
    }
}

impl Scheduler {
    /// A scheduler for the files in `dir`, running with `runner` (whose config gives the data,
    /// the state directory and the output root) on `clock`.
    pub fn new(dir: &Path, runner: Runner, clock: Arc<dyn Clock>) -> Self {
        let history = runner.history().clone();
        Self {
            dir: dir.to_path_buf(),
            started_at: clock.now(),
            runner,
            clock,
            history,
            slots: BTreeMap::new(),
            running: JoinSet::new(),
            running_jobs: HashSet::new(),
            task_jobs: HashMap::new(),
            hold_until: HashMap::new(),
        }
    }

    /// Reads the folder again: validates added and changed files, forgets removed ones.
    pub fn scan(&mut self) -> ScanReport {
        let mut report = ScanReport::default();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "sql") && p.is_file())
                .collect(),
            Err(e) => {
                report
                    .invalid
                    .push(format!("{}: cannot read folder: {e}", self.dir.display()));
                vec![]
            }
        };
        files.sort();
        let gone: Vec<PathBuf> = self
            .slots
            .keys()
            .filter(|p| !files.contains(p))
            .cloned()
            .collect();
        for p in gone {
            if let Some(Slot::Job { job, .. }) = self.slots.remove(&p) {
                tracing::info!(job = %job.name, file = %p.display(), "file removed; job unscheduled");
                report.removed.push(p);
            }
        }
        for path in files {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    // Mid-write or unreadable: keep what we had and try again next scan.
                    tracing::warn!(file = %path.display(), "cannot read: {e}");
                    continue;
                }
            };
            if self.slots.get(&path).is_some_and(|s| s.text() == text) {
                continue;
            }
            let was_job = matches!(self.slots.get(&path), Some(Slot::Job { .. }));
            let slot = match parse_job(&path, &text, &self.runner.config().output_root) {
                Ok(job) if job.schedule.is_some() => {
                    let clash = self.slots.iter().find_map(|(p, s)| match s {
                        Slot::Job { job: other, .. } if other.name == job.name && *p != path => {
                            Some(p.clone())
                        }
                        _ => None,
                    });
                    match clash {
                        Some(other) => Slot::Invalid {
                            text,
                            error: format!(
                                "{}:1: job name {} is already used by {}",
                                path.display(),
                                job.name,
                                other.display()
                            ),
                        },
                        None => {
                            report.loaded.push(job.name.clone());
                            tracing::info!(job = %job.name, file = %path.display(), "job loaded");
                            Slot::Job {
                                text,
                                job: Arc::new(job),
                            }
                        }
                    }
                }
                Ok(_) => Slot::NotScheduled { text },
                Err(e) => Slot::Invalid {
                    text,
                    error: e.to_string(),
                },
            };
            if let Slot::Invalid { error, .. } = &slot {
                tracing::error!("{error}; file skipped until it changes");
                report.invalid.push(error.clone());
            }
            if was_job && !matches!(slot, Slot::Job { .. }) {
                report.removed.push(path.clone());
            }
            self.slots.insert(path, slot);
        }
        report
    }

    /// The jobs currently scheduled.
    pub fn jobs(&self) -> Vec<Arc<Job>> {
        self.slots
            .values()
            .filter_map(|s| match s {
                Slot::Job { job, .. } => Some(job.clone()),
                _ => None,
            })
            .collect()
    }

    /// The logical times of `job` due at `now`, given its last recorded logical time.
    pub fn due(
        &self,
        job: &Job,
        now: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
    ) -> Vec<DateTime<Utc>> {
        let Some(schedule) = &job.schedule else {
            return vec![];
        };
        let Some(latest) = schedule.latest_at_or_before(now) else {
            return vec![];
        };
        if last.is_some_and(|l| l >= latest) {
            return vec![];
        }
        match (job.catch_up, last) {
            (CatchUp::All, Some(l)) => schedule.between(l, now, CATCH_UP_CAP),
            (CatchUp::None, _) if latest < self.started_at => vec![],
            _ => vec![latest],
        }
    }

    /// Starts every due run whose job is not already running here. Returns how many jobs
    /// started.
    pub fn start_due(&mut self) -> usize {
        let now = self.clock.now();
        let last = self.history.last_logical_times();
        let mut started = 0;
        for job in self.jobs() {
            if self.running_jobs.contains(&job.name)
                || self.hold_until.get(&job.name).is_some_and(|t| *t > now)
            {
                continue;
            }
            let times = self.due(&job, now, last.get(&job.name).copied());
            if times.is_empty() {
                continue;
            }
            let runner = self.runner.clone();
            let name = job.name.clone();
            let handle = self.running.spawn(async move {
                let mut ends = Vec::new();
                for t in times {
                    let result = runner
                        .run(&job, t, &[], true)
                        .await
                        .map_err(|e| e.to_string());
                    if let Err(e) = &result {
                        tracing::error!(job = %job.name, "{e}");
                    }
                    let busy = matches!(result, Ok(RunResult::Busy { .. }));
                    ends.push(RunEnd {
                        job: job.name.clone(),
                        logical_time: t,
                        result,
                    });
                    if busy {
                        // Another process is on it; it (or the next tick) will do the rest.
                        break;
                    }
                }
                ends
            });
            self.task_jobs.insert(handle.id(), name.clone());
            self.running_jobs.insert(name);
            started += 1;
        }
        started
    }

    fn finished(&mut self, id: tokio::task::Id, ends: Option<Vec<RunEnd>>) -> Vec<RunEnd> {
        let name = self.task_jobs.remove(&id);
        if let Some(name) = &name {
            self.running_jobs.remove(name);
            // Also a run another process holds: it may take a while, so look again at the
            // next rescan rather than at once.
            let broken = ends.as_ref().is_none_or(|e| {
                e.iter()
                    .any(|e| matches!(e.result, Err(_) | Ok(RunResult::Busy { .. })))
            });
            if broken {
                let until =
                    self.clock.now() + chrono::Duration::from_std(RESCAN).unwrap_or_default();
                self.hold_until.insert(name.clone(), until);
            } else {
                self.hold_until.remove(name);
            }
        }
        ends.unwrap_or_default()
    }

    /// Waits for every run in progress.
    pub async fn wait_idle(&mut self) -> Vec<RunEnd> {
        let mut out = Vec::new();
        while let Some(r) = self.running.join_next_with_id().await {
            out.extend(self.join_result(r));
        }
        out
    }

    fn join_result(
        &mut self,
        r: Result<(tokio::task::Id, Vec<RunEnd>), tokio::task::JoinError>,
    ) -> Vec<RunEnd> {
        match r {
            Ok((id, ends)) => self.finished(id, Some(ends)),
            Err(e) => {
                tracing::error!("a run task ended abnormally: {e}");
                self.finished(e.id(), None)
            }
        }
    }

    /// One round: rescan the folder, start what is due, wait for it. (`--once`, and tests
    /// driving a clock.)
    pub async fn run_due(&mut self) -> Vec<RunEnd> {
        self.scan();
        self.start_due();
        self.wait_idle().await
    }

    /// The next instant anything is due (or the next rescan, whichever is first).
    fn next_wake(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let rescan = now + chrono::Duration::from_std(RESCAN).unwrap_or_default();
        self.jobs()
            .iter()
            .filter(|j| !self.running_jobs.contains(&j.name))
            .filter_map(|j| j.schedule.as_ref()?.next_after(now))
            .fold(rescan, |a, b| a.min(b))
    }

    /// Runs until `shutdown` resolves, then lets runs in progress finish; `abort` (a second
    /// signal) cancels them.
    pub async fn run(
        mut self,
        shutdown: impl Future<Output = ()>,
        abort: impl Future<Output = ()>,
    ) -> Vec<RunEnd> {
        let mut ends = Vec::new();
        let report = self.scan();
        tracing::info!(
            jobs = self.jobs().len(),
            invalid = report.invalid.len(),
            dir = %self.dir.display(),
            "scheduler started"
        );
        tokio::pin!(shutdown);
        loop {
            self.scan();
            self.start_due();
            let now = self.clock.now();
            let wait = (self.next_wake(now) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(200));
            let clock = self.clock.clone();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = clock.sleep(wait) => {}
                Some(r) = self.running.join_next_with_id(), if !self.running.is_empty() => {
                    ends.extend(self.join_result(r));
                }
            }
        }
        tracing::info!(
            running = self.running.len(),
            "stopping: waiting for runs in progress"
        );
        tokio::pin!(abort);
        loop {
            tokio::select! {
                r = self.running.join_next_with_id() => match r {
                    Some(r) => ends.extend(self.join_result(r)),
                    None => break,
                },
                _ = &mut abort => {
                    tracing::warn!("second signal: cancelling runs in progress");
                    self.running.abort_all();
                    while let Some(r) = self.running.join_next_with_id().await {
                        ends.extend(self.join_result(r));
                    }
                    break;
                }
            }
        }
        ends
    }

    /// Every file's job, next run and last outcome (invalid files with their error).
    pub fn status(&self) -> Vec<JobStatus> {
        let now = self.clock.now();
        let latest = self.history.latest_records();
        let mut out = Vec::new();
        for (path, slot) in &self.slots {
            match slot {
                Slot::Job { job, .. } => {
                    let s = job.schedule.as_ref().expect("scheduled");
                    out.push(JobStatus {
                        job: job.name.clone(),
                        file: path.clone(),
                        schedule: format!("{} ({})", s.text(), s.zone().name()),
                        next_run: s.next_after(now),
                        last: latest.get(&job.name).cloned(),
                        error: None,
                    });
                }
                Slot::Invalid { error, .. } => out.push(JobStatus {
                    job: path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string(),
                    file: path.clone(),
                    schedule: String::new(),
                    next_run: None,
                    last: None,
                    error: Some(error.clone()),
                }),
                Slot::NotScheduled { .. } => {}
            }
        }
        out
    }
}
