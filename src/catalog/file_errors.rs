//! Errors while reading a table's files name the file (and, for values that do not decode, the
//! column).
//!
//! DataFusion reports a damaged page as the decoder's words ("Data corruption detected",
//! "encountered non UTF-8 data … index 20") without saying which of a table's hundreds of files
//! it was reading. [`NamedFileSource`] wraps a table scan's file source and puts the file's path
//! in front of every error raised while planning or decoding that file; when the error came from
//! decoding values, the file is read again one column at a time (only then, on a blocking
//! thread) to name the column too.
//!
//! The wrapper is put around a scan's source after the file format has built it (DataFusion's
//! Parquet format looks for its own source type while building), and passes every optimizer
//! request (filter, projection and sort pushdown, repartitioning) to the source it wraps,
//! wrapping what comes back.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileScanConfig, FileSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::object_store::ObjectStore;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::physical_expr::{EquivalenceProperties, LexOrdering, PhysicalExpr};
use datafusion::physical_expr_common::sort_expr::PhysicalSortExpr;
use datafusion::physical_plan::filter_pushdown::FilterPushdownPropagation;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExprs;
use datafusion::physical_plan::sort_pushdown::SortOrderPushdownResult;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use datafusion_datasource::morsel::{Morsel, MorselPlan, MorselPlanner, Morselizer};
use futures::StreamExt;
use futures::stream::BoxStream;

/// `plan` with its file source wrapped in a [`NamedFileSource`] when it is a file scan; any
/// other plan (an empty table's) as it is.
pub fn name_file_errors(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    let Some(exec) = plan.downcast_ref::<DataSourceExec>() else {
        return plan;
    };
    let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
        return plan;
    };
    if config.file_source.is::<NamedFileSource>() {
        return plan;
    }
    let mut config = config.clone();
    config.file_source = NamedFileSource::wrap(Arc::clone(&config.file_source));
    DataSourceExec::from_data_source(config)
}

/// See the module documentation.
#[derive(Clone)]
pub struct NamedFileSource {
    inner: Arc<dyn FileSource>,
}

impl NamedFileSource {
    fn wrap(inner: Arc<dyn FileSource>) -> Arc<dyn FileSource> {
        if inner.is::<NamedFileSource>() {
            inner
        } else {
            Arc::new(Self { inner })
        }
    }
}

impl FileSource for NamedFileSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn datafusion::datasource::physical_plan::FileOpener>> {
        self.inner
            .create_file_opener(object_store, base_config, partition)
    }

    fn create_morselizer(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Box<dyn Morselizer>> {
        let inner = self
            .inner
            .create_morselizer(object_store, base_config, partition)?;
        Ok(Box::new(NamedMorselizer { inner }))
    }

    fn table_schema(&self) -> &TableSchema {
        self.inner.table_schema()
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        Self::wrap(self.inner.with_batch_size(batch_size))
    }

    fn filter(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.inner.filter()
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        self.inner.projection()
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        self.inner.metrics()
    }

    fn file_type(&self) -> &str {
        self.inner.file_type()
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_extra(t, f)
    }

    fn supports_repartitioning(&self) -> bool {
        self.inner.supports_repartitioning()
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        repartition_file_min_size: usize,
        output_ordering: Option<LexOrdering>,
        config: &FileScanConfig,
    ) -> Result<Option<FileScanConfig>> {
        self.inner.repartitioned(
            target_partitions,
            repartition_file_min_size,
            output_ordering,
            config,
        )
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn FileSource>>> {
        let mut result = self.inner.try_pushdown_filters(filters, config)?;
        result.updated_node = result.updated_node.map(Self::wrap);
        Ok(result)
    }

    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
        eq_properties: &EquivalenceProperties,
    ) -> Result<SortOrderPushdownResult<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_sort(order, eq_properties)?
            .map(Self::wrap))
    }

    fn reorder_files(&self, files: Vec<PartitionedFile>) -> Vec<PartitionedFile> {
        self.inner.reorder_files(files)
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_projection(projection)?
            .map(Self::wrap))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }
}

/// The file a morsel belongs to.
#[derive(Debug)]
struct FileName {
    /// As the object store names it.
    location: String,
    /// On the local file system (to tell a removed file and to find a bad column).
    local: Option<PathBuf>,
}

impl FileName {
    fn of(file: &PartitionedFile) -> Arc<Self> {
        let location = file.object_meta.location.to_string();
        // Catalog tables are local folders: the object store path is the absolute path
        // without its leading `/`.
        let local = PathBuf::from(format!("/{location}"));
        Arc::new(Self {
            location: local.display().to_string(),
            local: Some(local),
        })
    }

    /// `e` with this file in front. Running out of query memory is not about the file and
    /// stays as it is.
    fn name(&self, e: DataFusionError) -> DataFusionError {
        if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
            return e;
        }
        let gone = self.local.as_ref().is_some_and(|p| !p.exists());
        let context = if gone {
            format!(
                "reading file {}: it was removed after the query listed the table's files \
                 (run the query again)",
                self.location
            )
        } else {
            format!("reading file {}", self.location)
        };
        DataFusionError::Context(context, Box::new(e))
    }

    /// As [`Self::name`], and for an error decoding values, the first column of the file that
    /// does not read on its own.
    async fn name_with_column(self: Arc<Self>, e: DataFusionError) -> DataFusionError {
        let decoding = matches!(
            e.find_root(),
            DataFusionError::ParquetError(_) | DataFusionError::ArrowError(..)
        );
        let column = match (&self.local, decoding) {
            (Some(path), true) if path.is_file() => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || first_bad_column(&path))
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        match column {
            Some(column) => DataFusionError::Context(
                format!("reading file {} column {column}", self.location),
                Box::new(e),
            ),
            None => self.name(e),
        }
    }
}

/// The first leaf column of the Parquet file at `path` that fails to read on its own.
fn first_bad_column(path: &std::path::Path) -> Option<String> {
    let open = || ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).ok()?).ok();
    let columns = open()?.parquet_schema().num_columns();
    (0..columns).find_map(|i| {
        let builder = open()?;
        let descr = builder.parquet_schema();
        let name = descr.column(i).path().string();
        let mask = ProjectionMask::leaves(descr, [i]);
        let failed = match builder.with_projection(mask).build() {
            Ok(reader) => reader.into_iter().any(|b| b.is_err()),
            Err(_) => true,
        };
        failed.then_some(name)
    })
}

#[derive(Debug)]
struct NamedMorselizer {
    inner: Box<dyn Morselizer>,
}

impl Morselizer for NamedMorselizer {
    fn plan_file(&self, file: PartitionedFile) -> Result<Box<dyn MorselPlanner>> {
        let name = FileName::of(&file);
        let inner = self.inner.plan_file(file).map_err(|e| name.name(e))?;
        Ok(Box::new(NamedPlanner { inner, name }))
    }
}

#[derive(Debug)]
struct NamedPlanner {
    inner: Box<dyn MorselPlanner>,
    name: Arc<FileName>,
}

impl NamedPlanner {
    fn wrap(inner: Box<dyn MorselPlanner>, name: &Arc<FileName>) -> Box<dyn MorselPlanner> {
        Box::new(Self {
            inner,
            name: Arc::clone(name),
        })
    }
}

impl MorselPlanner for NamedPlanner {
    fn plan(self: Box<Self>) -> Result<Option<MorselPlan>> {
        let name = self.name;
        let Some(mut plan) = self.inner.plan().map_err(|e| name.name(e))? else {
            return Ok(None);
        };
        let morsels = plan
            .take_morsels()
            .into_iter()
            .map(|inner| {
                Box::new(NamedMorsel {
                    inner,
                    name: Arc::clone(&name),
                }) as Box<dyn Morsel>
            })
            .collect();
        let planners = plan
            .take_ready_planners()
            .into_iter()
            .map(|p| NamedPlanner::wrap(p, &name))
            .collect();
        let mut out = MorselPlan::new()
            .with_morsels(morsels)
            .with_planners(planners);
        if let Some(pending) = plan.take_pending_planner() {
            out.set_pending_planner(async move {
                match pending.await {
                    Ok(p) => Ok(NamedPlanner::wrap(p, &name)),
                    Err(e) => Err(name.name(e)),
                }
            });
        }
        Ok(Some(out))
    }
}

#[derive(Debug)]
struct NamedMorsel {
    inner: Box<dyn Morsel>,
    name: Arc<FileName>,
}

impl Morsel for NamedMorsel {
    fn into_stream(self: Box<Self>) -> BoxStream<'static, Result<RecordBatch>> {
        let name = self.name;
        self.inner
            .into_stream()
            .then(move |r| {
                let name = Arc::clone(&name);
                async move {
                    match r {
                        Ok(b) => Ok(b),
                        Err(e) => Err(name.name_with_column(e).await),
                    }
                }
            })
            .boxed()
    }
}

impl fmt::Debug for NamedFileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedFileSource").finish_non_exhaustive()
    }
}
