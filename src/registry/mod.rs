//! The on-disk model registry: the application's [`ModelStore`].
//!
//! ```text
//! <state_dir>/models/<name>/v000001.model    one file per version (format: ecomsql_udfs::model::format)
//! <state_dir>/models/<name>/v000002.model
//! <state_dir>/models/<name>/.v-<pid>-<n>.tmp  a version being written (never read)
//! ```
//!
//! - **Atomic writes**: a version is written to a temporary file in the model's folder, fsynced,
//!   then hard-linked to its final name (which fails if that name exists) and the folder fsynced.
//!   A process killed at any point leaves the previous versions intact and no partial
//!   `v*.model` visible.
//! - **Concurrent writers**: two processes saving the same model race only on the hard link;
//!   the loser retries with the next number, so both versions land and the registry stays valid.
//!   Creating a model that must not exist yet ([`ModelRegistry::save_first`], for plain `CREATE
//!   MODEL` and `IF NOT EXISTS`) is decided by the same hard link: only one writer can create a
//!   model's first version, the others are told it exists and write nothing.
//! - **Reading**: the latest version of a model is cached with its folder's modification time;
//!   every lookup checks that time (one `stat`), so a version written or dropped by any process
//!   is seen at once, and the folder is listed again only when it changed. Parsed models are
//!   cached per (name, version) and revalidated against the file's size and modification time.
//! - **Damage**: a truncated, corrupt or future-format file is an error naming the file; it
//!   never panics and never hides the other models.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use datafusion::error::{DataFusionError, Result};
use ecomsql_udfs::model::format::{decode, encode};
use ecomsql_udfs::model::{Model, ModelStore, validate_model_name};

/// One model as `SHOW MODELS` lists it (its latest version).
#[derive(Debug, Clone)]
pub struct ModelSummary {
    /// Model name.
    pub name: String,
    /// Latest version number.
    pub version: u32,
    /// Number of versions kept.
    pub versions: usize,
    /// The latest version, or why it could not be read.
    pub latest: std::result::Result<Arc<Model>, String>,
}

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// This version was written.
    Created(u32),
    /// Nothing was written: the model already exists, with this latest version.
    Exists(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// A model folder's modification time and the latest version listed in it then.
type LatestVersion = (Option<SystemTime>, Option<u32>);

/// A parsed model and the file state it was parsed from.
type CachedModel = (FileStamp, Arc<Model>);

/// See the module documentation.
#[derive(Debug)]
pub struct ModelRegistry {
    root: PathBuf,
    cache: Mutex<HashMap<(String, u32), CachedModel>>,
    latest: Mutex<HashMap<String, LatestVersion>>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporary files older than this are leftovers of a killed writer and are removed.
const STALE_TMP: Duration = Duration::from_secs(3600);

fn io_error(path: &Path, what: &str, e: std::io::Error) -> DataFusionError {
    DataFusionError::Execution(format!("model registry: {what} {}: {e}", path.display()))
}

fn version_file_name(version: u32) -> String {
    format!("v{version:06}.model")
}

fn parse_version_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('v')?.strip_suffix(".model")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&v| v >= 1)
}

impl ModelRegistry {
    /// A registry rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            cache: Mutex::new(HashMap::new()),
            latest: Mutex::new(HashMap::new()),
        }
    }

    /// The registry folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The file holding `name` at `version`.
    pub fn version_path(&self, name: &str, version: u32) -> PathBuf {
        self.model_dir(name).join(version_file_name(version))
    }

    /// The versions of `name`, ascending (empty when the model does not exist).
    pub fn versions(&self, name: &str) -> Result<Vec<u32>> {
        validate_model_name(name)?;
        let dir = self.model_dir(name);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir, "cannot list", e)),
        };
        let mut versions: Vec<u32> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| parse_version_file_name(&e.file_name().to_string_lossy()))
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// Loads `name` at `version` (cached).
    pub fn load(&self, name: &str, version: u32) -> Result<Arc<Model>> {
        let path = self.version_path(name, version);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataFusionError::Plan(format!(
                    "model {name}@{version} not found{}",
                    self.known_versions_hint(name)
                )));
            }
            Err(e) => return Err(io_error(&path, "cannot read", e)),
        };
        let stamp = FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        let key = (name.to_string(), version);
        if let Ok(cache) = self.cache.lock()
            && let Some((s, m)) = cache.get(&key)
            && *s == stamp
        {
            return Ok(Arc::clone(m));
        }
        let bytes = fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?;
        let mut model = decode(&bytes).map_err(|e| {
            DataFusionError::Execution(format!("model file {}: {e}", path.display()))
        })?;
        // The file name is authoritative (a copied or renamed file still loads as what it is).
        model.name = name.to_string();
        model.version = version;
        let model = Arc::new(model);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (stamp, Arc::clone(&model)));
        }
        Ok(model)
    }

    fn known_versions_hint(&self, name: &str) -> String {
        match self.versions(name) {
            Ok(v) if v.is_empty() => String::new(),
            Ok(v) => format!(
                " (versions: {})",
                v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            ),
            Err(_) => String::new(),
        }
    }

    /// Writes `model` as the next version of its name and returns that version.
    pub fn save(&self, model: Model) -> Result<u32> {
        match self.write_version(model, false)? {
            Saved::Created(v) | Saved::Exists(v) => Ok(v),
        }
    }

    /// Writes `model` as the first version of its name, unless the model has a version already
    /// (or another writer creates one first): then nothing is written and the latest version is
    /// returned as [`Saved::Exists`]. The check and the write are one atomic step (the hard link
    /// of the version file), so of two processes creating the same model at once exactly one
    /// succeeds.
    pub fn save_first(&self, model: Model) -> Result<Saved> {
        self.write_version(model, true)
    }

    fn write_version(&self, mut model: Model, first_only: bool) -> Result<Saved> {
        validate_model_name(&model.name)?;
        let dir = self.model_dir(&model.name);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "cannot create", e))?;
        self.remove_stale_temporaries(&dir);
        let tmp = dir.join(format!(
            ".v-{}-{}.tmp",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            loop {
                let latest = self.versions(&model.name)?.last().copied();
                if first_only && let Some(latest) = latest {
                    return Ok(Saved::Exists(latest));
                }
                let version = latest.unwrap_or(0) + 1;
                model.version = version;
                write_synced(&tmp, &encode(&model))?;
                let target = dir.join(version_file_name(version));
                match fs::hard_link(&tmp, &target) {
                    Ok(()) => {
                        sync_dir(&dir)?;
                        return Ok(Saved::Created(version));
                    }
                    // Another writer took this number first: try the next one (or, for a
                    // first version, report the model as existing on the next pass).
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io_error(&target, "cannot create", e)),
                }
            }
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    fn remove_stale_temporaries(&self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".v-")
                && name.ends_with(".tmp")
                && let Ok(age) = e.metadata().and_then(|m| m.modified()).map(|t| t.elapsed())
                && age.is_ok_and(|a| a > STALE_TMP)
            {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    /// Removes `name` (every version) or one version. Returns the number of versions removed.
    pub fn remove(&self, name: &str, version: Option<u32>) -> Result<usize> {
        let versions = self.versions(name)?;
        let dir = self.model_dir(name);
        let removed = match version {
            Some(v) => {
                if !versions.contains(&v) {
                    return Ok(0);
                }
                let path = self.version_path(name, v);
                fs::remove_file(&path).map_err(|e| io_error(&path, "cannot remove", e))?;
                if versions.len() == 1 {
                    let _ = fs::remove_dir_all(&dir);
                }
                1
            }
            None => {
                if versions.is_empty() {
                    return Ok(0);
                }
                // Rename first so the model disappears at once for every reader, then delete.
                let graveyard = self.root.join(format!(
                    ".dropped-{name}-{}-{}",
                    std::process::id(),
                    TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
                ));
                fs::rename(&dir, &graveyard).map_err(|e| io_error(&dir, "cannot remove", e))?;
                let _ = fs::remove_dir_all(&graveyard);
                versions.len()
            }
        };
        let _ = sync_dir(&self.root);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(n, v), _| n != name || version.is_some_and(|x| x != *v));
        }
        Ok(removed)
    }

    /// Every model with its latest version, sorted by name. A model whose latest file cannot be
    /// read is listed with the reason.
    pub fn list(&self) -> Result<Vec<ModelSummary>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.root, "cannot list", e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| validate_model_name(n).is_ok())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let versions = self.versions(&name)?;
            let Some(&latest) = versions.last() else {
                continue;
            };
            out.push(ModelSummary {
                latest: self
                    .load(&name, latest)
                    .map_err(|e| crate::repl::one_line_error(&e)),
                name,
                version: latest,
                versions: versions.len(),
            });
        }
        Ok(out)
    }
}

impl ModelRegistry {
    /// The latest version of `name`, re-listing its folder only when the folder changed.
    fn latest_version(&self, name: &str) -> Result<Option<u32>> {
        let modified = fs::metadata(self.model_dir(name))
            .and_then(|m| m.modified())
            .ok();
        if let Some(t) = modified
            && let Ok(cache) = self.latest.lock()
            && let Some((seen, latest)) = cache.get(name)
            && *seen == Some(t)
        {
            return Ok(*latest);
        }
        let latest = self.versions(name)?.last().copied();
        if let Ok(mut cache) = self.latest.lock() {
            cache.insert(name.to_string(), (modified, latest));
        }
        Ok(latest)
    }
}

impl ModelStore for ModelRegistry {
    fn get(&self, name: &str, version: Option<u32>) -> Result<Arc<Model>> {
        validate_model_name(name)?;
        let version = match version {
            Some(v) => v,
            None => match self.latest_version(name)? {
                Some(v) => v,
                None => {
                    return Err(DataFusionError::Plan(format!(
                        "model {name} not found (SHOW MODELS lists the models in {})",
                        self.root.display()
                    )));
                }
            },
        };
        self.load(name, version)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| io_error(path, "cannot create", e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_error(path, "cannot write", e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    crate::durable::sync_dir(dir).map_err(|e| io_error(dir, "cannot sync", e))
}
