//! The bytes of a model file.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"ECSQLMDL"
//! 8       4     format version, u32 little-endian (this build writes FORMAT_VERSION)
//! 12      8     payload length in bytes, u64 LE
//! 20      8     XXH64 (seed 0) of the payload, u64 LE
//! 28      n     payload: the `Model` as JSON (UTF-8)
//! ```
//!
//! The header makes every failure specific: not a model file, written by a newer ecomsql,
//! truncated (fewer payload bytes than announced), corrupt (checksum mismatch) or unreadable
//! JSON. Decoding never panics on any input. Older format versions are upgraded on read in
//! [`decode`] (there is only version 1 so far).

use super::artifact::Model;

/// Magic bytes at the start of every model file.
pub const MAGIC: &[u8; 8] = b"ECSQLMDL";
/// The format version this build writes. Readers accept every version up to this one.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 28;

/// Why bytes could not be read as a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The file does not start with the model magic.
    NotAModel,
    /// Written by a newer ecomsql.
    FutureVersion {
        /// The file's format version.
        found: u32,
    },
    /// Fewer bytes than the header announces.
    Truncated {
        /// Bytes announced.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload's checksum does not match.
    Corrupt,
    /// The payload is not a valid model description.
    Invalid(String),
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::NotAModel => f.write_str("not an ecomsql model file (bad magic bytes)"),
            FormatError::FutureVersion { found } => write!(
                f,
                "written by a newer ecomsql (model format {found}; this build reads formats 1 to {FORMAT_VERSION}): upgrade ecomsql"
            ),
            FormatError::Truncated { expected, found } => write!(
                f,
                "truncated model file ({found} of {expected} payload bytes present)"
            ),
            FormatError::Corrupt => f.write_str("corrupt model file (checksum mismatch)"),
            FormatError::Invalid(e) => write!(f, "invalid model file: {e}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// The bytes of `model` in the current format.
pub fn encode(model: &Model) -> Vec<u8> {
    // Serialising our own plain data types cannot fail (no maps with non-string keys).
    let payload = serde_json::to_vec(model).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh64::xxh64(&payload, 0).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Reads a model from `bytes`, upgrading older formats.
pub fn decode(bytes: &[u8]) -> Result<Model, FormatError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::NotAModel);
    }
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap_or([0; 4]));
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap_or([0; 8]));
    let version = u32_at(8);
    if version > FORMAT_VERSION {
        return Err(FormatError::FutureVersion { found: version });
    }
    if version == 0 {
        return Err(FormatError::Invalid("format version 0".into()));
    }
    let len = u64_at(12);
    let checksum = u64_at(20);
    let payload = &bytes[HEADER_LEN..];
    if (payload.len() as u64) < len {
        return Err(FormatError::Truncated {
            expected: len,
            found: payload.len() as u64,
        });
    }
    if (payload.len() as u64) > len {
        return Err(FormatError::Invalid(format!(
            "{} bytes after the announced payload",
            payload.len() as u64 - len
        )));
    }
    if xxhash_rust::xxh64::xxh64(payload, 0) != checksum {
        return Err(FormatError::Corrupt);
    }
    // Format 1 is the current one; a future format 2 would parse 1 here and upgrade it.
    serde_json::from_slice::<Model>(payload).map_err(|e| FormatError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::artifact::{KMeansBody, ModelBody, ModelType, TrainingInfo};

    pub(crate) fn tiny_model() -> Model {
        Model {
            name: "seg".into(),
            version: 1,
            model_type: ModelType::Kmeans,
            options: [("num_clusters".to_string(), "2".to_string())].into(),
            standardize: false,
            native_encoding: false,
            features: vec![],
            training: TrainingInfo::default(),
            metrics: [("inertia".to_string(), 1.5)].into(),
            created_at: "2026-11-25T00:00:00Z".into(),
            ecomsql_version: "0.1.0".into(),
            body: ModelBody::Kmeans(KMeansBody {
                k: 2,
                width: 1,
                distance: "euclidean".into(),
                centroids: vec![0.0, 1.0],
                cluster_sizes: vec![3, 4],
                iterations: 2,
                converged: true,
                auto_k: vec![],
            }),
        }
    }

    #[test]
    fn round_trips() {
        let m = tiny_model();
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }

    #[test]
    fn every_damage_is_named_and_never_panics() {
        let bytes = encode(&tiny_model());
        assert_eq!(decode(b"hello"), Err(FormatError::NotAModel));
        assert_eq!(decode(&[]), Err(FormatError::NotAModel));
        assert!(matches!(
            decode(&bytes[..bytes.len() - 3]),
            Err(FormatError::Truncated { .. })
        ));
        assert!(matches!(
            decode(&bytes[..20]),
            Err(FormatError::Truncated { .. })
        ));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x20;
        assert_eq!(decode(&flipped), Err(FormatError::Corrupt));
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let err = decode(&future).unwrap_err();
        assert!(err.to_string().contains("newer ecomsql"), "{err}");
        // Every prefix of a valid file is rejected cleanly.
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err());
        }
    }
}
