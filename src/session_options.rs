//! ecomsql's own session settings, next to DataFusion's: `SET ecomsql.<name> = <value>` in
//! SQL, shown by `SHOW ecomsql.<name>`, `SHOW ALL` and `information_schema.df_settings`.
//!
//! Written out rather than with DataFusion's `extensions_options!` macro, whose entries drop the
//! `ecomsql.` prefix (so `SHOW` could not find them and `df_settings` listed bare names).

use std::any::Any;

use datafusion::common::config_err;
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::Result;

const INT_KEY_AGGREGATION: &str = "int_key_aggregation";
const INT_KEY_AGGREGATION_DOC: &str = "Run the partial phase of a GROUP BY on one integer, \
     date or timestamp column on ecomsql's integer-key hash table (IntKeyAggregateExec) instead \
     of DataFusion's generic one. Results are the same; false is for comparing the two.";

const MAX_VALUE_BYTES: &str = "max_value_bytes";
const MAX_VALUE_BYTES_DOC: &str = "The most bytes one call of repeat, lpad, rpad, array_repeat, \
     array_resize, range, generate_series, replace or regexp_replace may build (for one value, \
     and for one batch of rows); a call that would build more is an error. Scalar functions \
     cannot see the memory pool, so this setting keeps them from building values that would \
     take the process down. Default: 1 GiB, or half the memory limit when that is smaller.";

/// Settings under the `ecomsql.` prefix.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// See `INT_KEY_AGGREGATION_DOC`; read by [`crate::int_group_by::IntKeyAggregation`].
    pub int_key_aggregation: bool,
    /// See `MAX_VALUE_BYTES_DOC`; read by the extension's size guards
    /// ([`ecomsql_udfs::safety::value_guard`]) through the key `ecomsql.max_value_bytes`.
    pub max_value_bytes: u64,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            int_key_aggregation: true,
            max_value_bytes: ecomsql_udfs::safety::value_guard::DEFAULT_MAX_VALUE_BYTES,
        }
    }
}

impl SessionOptions {
    /// The defaults for a session whose memory pool holds `memory_limit` bytes: one value may
    /// take at most half of it (and at most the 1 GiB default).
    pub fn for_memory_limit(memory_limit: Option<usize>) -> Self {
        let mut options = Self::default();
        if let Some(limit) = memory_limit {
            options.max_value_bytes = options.max_value_bytes.min(limit as u64 / 2);
        }
        options
    }
}

impl ConfigExtension for SessionOptions {
    const PREFIX: &'static str = "ecomsql";
}

impl ExtensionOptions for SessionOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            INT_KEY_AGGREGATION => {
                self.int_key_aggregation = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return config_err!("ecomsql.{key} is true or false, not '{value}'");
                    }
                }
            }
            MAX_VALUE_BYTES => {
                self.max_value_bytes = value.trim().parse().map_err(|_| {
                    datafusion::error::DataFusionError::Configuration(format!(
                        "ecomsql.{key} is a number of bytes, not '{value}'"
                    ))
                })?;
            }
            _ => {
                return config_err!(
                    "unknown setting ecomsql.{key}; ecomsql's settings are: \
                     ecomsql.{INT_KEY_AGGREGATION}, ecomsql.{MAX_VALUE_BYTES}"
                );
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![
            ConfigEntry {
                key: format!("{}.{INT_KEY_AGGREGATION}", Self::PREFIX),
                value: Some(self.int_key_aggregation.to_string()),
                description: INT_KEY_AGGREGATION_DOC,
            },
            ConfigEntry {
                key: format!("{}.{MAX_VALUE_BYTES}", Self::PREFIX),
                value: Some(self.max_value_bytes.to_string()),
                description: MAX_VALUE_BYTES_DOC,
            },
        ]
    }
}
