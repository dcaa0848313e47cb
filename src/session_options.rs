//! ecomsql's own session settings, next to DataFusion's: `SET ecomsql.<name> = <value>` in
//! SQL, listed by `SHOW ALL` and `information_schema.df_settings`.

use datafusion::common::extensions_options;
use datafusion::config::ConfigExtension;

extensions_options! {
    /// Settings under the `ecomsql.` prefix.
    pub struct SessionOptions {
        /// Run the partial phase of a `GROUP BY` on one integer column (user ids, dates,
        /// timestamps) on ecomsql's integer-key hash table (`IntKeyAggregateExec`) instead of
        /// DataFusion's generic one. Results are the same; `false` is for comparing the two.
        pub int_key_aggregation: bool, default = true
    }
}

impl ConfigExtension for SessionOptions {
    const PREFIX: &'static str = "ecomsql";
}
