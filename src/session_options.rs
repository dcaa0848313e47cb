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

/// Settings under the `ecomsql.` prefix.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// See `INT_KEY_AGGREGATION_DOC`; read by [`crate::int_group_by::IntKeyAggregation`].
    pub int_key_aggregation: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            int_key_aggregation: true,
        }
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
            _ => {
                return config_err!(
                    "unknown setting ecomsql.{key}; ecomsql's settings are: \
                     ecomsql.{INT_KEY_AGGREGATION}"
                );
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: format!("{}.{INT_KEY_AGGREGATION}", Self::PREFIX),
            value: Some(self.int_key_aggregation.to_string()),
            description: INT_KEY_AGGREGATION_DOC,
        }]
    }
}
