//! Trained models: the artifact types (serialisable, versioned), the [`ModelStore`] trait through
//! which model-backed functions find them, feature encoding, option validation and training.
//!
//! The extension has no file-system policy: whoever builds the session supplies a
//! [`ModelStore`] (the application's on-disk registry, a test's in-memory store, a remote
//! executor's view of shared storage). Functions resolve models **by name at execution time**
//! through it, so a plan never carries weights and runs unchanged on any executor that sees the
//! same store.
//!
//! To add a model type: add a [`ModelBody`] variant in `artifact.rs`, its options in
//! `options.rs`, its training in `train.rs`, and teach the generic functions (`ml_predict`,
//! `ml_evaluate`, `predict_*`) what it outputs.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::common::{Result, plan_err};

pub mod artifact;
pub mod features;
pub mod format;
pub mod options;
pub mod train;

pub use artifact::{Model, ModelBody, ModelType};

/// Where model-backed functions get models from. Implementations cache as they see fit but must
/// return a newly written version as soon as it is visible (invalidate on change).
pub trait ModelStore: Debug + Send + Sync {
    /// The model `name` at `version`, or its latest version when `version` is `None`. The error
    /// names the model (and version) when it does not exist.
    fn get(&self, name: &str, version: Option<u32>) -> Result<Arc<Model>>;
}

/// A model name as written in SQL: `name` (latest version) or `name@N` (version N).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The model's name (case-sensitive as written, validated by [`validate_model_name`]).
    pub name: String,
    /// The version, `None` for the latest.
    pub version: Option<u32>,
}

impl ModelRef {
    /// Parses `name` or `name@N`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let (name, version) = match text.split_once('@') {
            Some((name, v)) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => (name, Some(n)),
                _ => {
                    return plan_err!(
                        "invalid model version in {text:?}: expected name@N with N a positive integer"
                    );
                }
            },
            None => (text, None),
        };
        validate_model_name(name)?;
        Ok(Self {
            name: name.to_string(),
            version,
        })
    }

    /// Resolves this reference in `store`.
    pub fn resolve(&self, store: &dyn ModelStore) -> Result<Arc<Model>> {
        store.get(&self.name, self.version)
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Model names are file names in the registry, so they are restricted to ASCII letters, digits
/// and `_` (not starting with a digit), at most 128 characters.
pub fn validate_model_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        plan_err!(
            "invalid model name {name:?}: use letters, digits and '_' (not starting with a digit), at most 128 characters"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_versions() {
        assert_eq!(
            ModelRef::parse("seg").unwrap(),
            ModelRef {
                name: "seg".into(),
                version: None
            }
        );
        assert_eq!(ModelRef::parse(" seg@12 ").unwrap().version, Some(12));
        assert_eq!(ModelRef::parse("seg@3").unwrap().to_string(), "seg@3");
        for bad in [
            "", "seg@", "seg@0", "seg@x", "1seg", "a-b", "../x", "seg@-1",
        ] {
            let err = ModelRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains("model"), "{bad}: {err}");
        }
    }
}

/// A [`ModelStore`] held by a function. Functions derive `PartialEq`/`Hash` (DataFusion requires
/// it); two handles are equal when they point at the same store.
#[derive(Debug, Clone)]
pub struct StoreHandle(pub Arc<dyn ModelStore>);

impl PartialEq for StoreHandle {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Eq for StoreHandle {}

impl std::hash::Hash for StoreHandle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as *const () as usize).hash(state);
    }
}

impl std::ops::Deref for StoreHandle {
    type Target = dyn ModelStore;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// A store with no models, for sessions built without a registry (and for listing function
/// documentation). Every lookup fails with a message saying so.
#[derive(Debug, Default)]
pub struct NoModelStore;

impl ModelStore for NoModelStore {
    fn get(&self, name: &str, _version: Option<u32>) -> Result<Arc<Model>> {
        plan_err!("model {name:?} not found: this session has no model registry")
    }
}
