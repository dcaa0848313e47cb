//! What the SQL benchmarks share: an ecomsql session (its own temporary state directory, so
//! models trained by a benchmark land in its own registry) holding one in-memory table.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

/// A session built by [`ecomsql::build_session`] with one registered table.
pub struct BenchSession {
    pub rt: tokio::runtime::Runtime,
    pub ctx: SessionContext,
    /// Kept alive for the session's registry.
    _state: tempfile::TempDir,
}

impl BenchSession {
    /// A session whose table `name` holds `partitions` (one partition per inner `Vec`).
    pub fn with_table(name: &str, schema: SchemaRef, partitions: Vec<Vec<RecordBatch>>) -> Self {
        let state = tempfile::tempdir().expect("temp dir");
        let config = ecomsql::Config {
            state_dir: state.path().to_path_buf(),
            ..ecomsql::Config::default()
        };
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let ctx = ecomsql::build_session(&config).expect("session");
        ctx.register_table(
            name,
            Arc::new(MemTable::try_new(schema, partitions).expect("table")),
        )
        .expect("register");
        Self {
            rt,
            ctx,
            _state: state,
        }
    }

    /// Runs one statement through ecomsql's statement layer (CREATE MODEL included).
    pub fn run(&self, sql: &str) -> Vec<RecordBatch> {
        self.rt
            .block_on(ecomsql::statements::run_to_batches(&self.ctx, sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .1
    }
}
