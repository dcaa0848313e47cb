//! Making file-system changes survive a crash: a new or renamed directory entry is durable only
//! once its directory is fsynced. Shared by the model registry and the scheduler's outputs and
//! run history (which also fsync the file itself before renaming or linking it into place).

use std::fs::File;
use std::path::Path;

/// Fsyncs `dir` so entries created, renamed or removed in it survive a crash. Not every
/// platform can open a directory for syncing; there it is best-effort.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if cfg!(unix) => Err(e),
        Err(_) => Ok(()),
    }
}
