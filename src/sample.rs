//! The embedded default sample: with no data directory configured, ecomsql generates the
//! default shop logs (20k users, 120 days) into `<state_dir>/sample` on first use, showing
//! progress, and reuses them afterwards. A half-finished generation is never reused: the
//! generator writes to `sample.partial` and renames it when complete.

use std::path::PathBuf;

use crate::Config;
use crate::cli::AppError;
use crate::generator::{GenOptions, generate};

/// The folder holding the default sample, generating it first if it is missing or was made
/// with other parameters.
pub fn ensure_sample(config: &Config) -> Result<PathBuf, AppError> {
    let dir = config.state_dir.join("sample");
    let mut opts = GenOptions::sample(dir.clone());
    let params = dir.join("_truth").join("params.txt");
    if std::fs::read_to_string(&params).is_ok_and(|p| p.trim() == opts.fingerprint()) {
        return Ok(dir);
    }
    opts.force = true;
    tracing::info!(path = %dir.display(), "generating the default sample");
    announce_generation(&dir);
    let summary = generate(&opts)?;
    tracing::info!(events = summary.events, "sample ready");
    Ok(dir)
}

fn announce_generation(dir: &std::path::Path) {
    use std::io::Write;
    // A first run takes a while and must say why: the shell has not started yet, so the notice
    // goes straight to stderr.
    let _ = writeln!(
        std::io::stderr(),
        "No data directory configured: generating the sample shop logs (20,000 users, 120 days) into {} …",
        dir.display()
    );
}
