//! One run of a job at a time, also across processes: a run holds an exclusive lock on
//! `<state_dir>/locks/<job>.lock` (`File::try_lock`, an advisory `flock` on Unix) for as long as
//! it runs. The operating system releases it when the process ends, even on `kill -9`, so a
//! crashed run never blocks the next one.
//!
//! A lock alone does not stop a second scheduler from running the same logical time right after
//! the first finished; the scheduler therefore checks the run history again while holding the
//! lock (see `runner::run`).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held job lock; dropping it releases the lock.
#[derive(Debug)]
pub struct JobLock {
    file: File,
    path: PathBuf,
}

impl JobLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds it (its process id, if it wrote one).
    Busy { path: PathBuf, holder: Option<u32> },
    /// The lock file could not be opened.
    Io(String),
}

/// The lock file of `job`.
pub fn lock_path(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{job}.lock"))
}

/// Takes `job`'s lock without waiting, or says who holds it.
pub fn try_lock(state_dir: &Path, job: &str) -> Result<JobLock, LockError> {
    let path = lock_path(state_dir, job);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| LockError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| LockError::Io(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {
            // Who holds it, for the message another process shows.
            let _ = file
                .set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| write!(file, "{}", std::process::id()))
                .and_then(|_| file.flush());
            Ok(JobLock { file, path })
        }
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Err(LockError::Busy {
                path,
                holder: text.trim().parse().ok(),
            })
        }
        Err(TryLockError::Error(e)) => Err(LockError::Io(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = try_lock(dir.path(), "job").unwrap();
        match try_lock(dir.path(), "job") {
            Err(LockError::Busy { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        assert!(try_lock(dir.path(), "other").is_ok(), "locks are per job");
        drop(a);
        assert!(try_lock(dir.path(), "job").is_ok());
    }
}
