//! A table provider whose one batch is computed when the query runs (in `scan`), not when it is
//! planned: model-backed table functions use it so that models are read at execution time and
//! a plan never carries a model's contents.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, exec_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

/// What a [`LazyTable`] computes.
#[async_trait]
pub trait TableComputation: Debug + Send + Sync {
    /// The output schema (fixed at planning; must equal the computed batch's schema).
    fn schema(&self) -> SchemaRef;
    /// Computes the rows.
    async fn compute(&self, state: &SessionState) -> Result<RecordBatch>;
}

/// See the module documentation.
#[derive(Debug)]
pub struct LazyTable<T>(pub T);

#[async_trait]
impl<T: TableComputation + 'static> TableProvider for LazyTable<T> {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(state) = session.as_any().downcast_ref::<SessionState>() else {
            return exec_err!("ecomsql table functions need a DataFusion SessionState");
        };
        let batch = self.0.compute(state).await?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.0.schema(),
            projection.cloned(),
        )?)
    }
}
