//! [`IntKeyAggregateExec`]: the partial phase of a `GROUP BY` on one integer column, on the
//! [`IntGroupTable`] kernel and DataFusion's own [`GroupsAccumulator`]s.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayData, ArrayRef, AsArray, BooleanArray, RecordBatch, make_array,
};
use datafusion::arrow::buffer::{Buffer, NullBuffer};
use datafusion::arrow::datatypes::{ArrowNativeType, DataType, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Statistics, internal_datafusion_err};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, aggregate_expressions};
use datafusion::physical_plan::execution_plan::{CardinalityEffect, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements,
    PlanProperties, StatisticsArgs,
};
use futures::StreamExt;

use super::table::{IntGroupTable, IntKey};

/// The partial phase of a hash aggregation whose `GROUP BY` is one integer-backed column
/// (integers, dates, timestamps, times, durations). It computes exactly what the
/// [`AggregateExec`] it replaces computes — same schema, same accumulators, same partial states
/// for the final phase — with group indices from [`IntGroupTable`]:
/// - out of memory, it emits the groups so far and starts over, as DataFusion's partial phase
///   does (the final phase merges them), so it never fails for memory;
/// - once `datafusion.execution.skip_partial_aggregation_probe_rows_threshold` rows have shown
///   more than `…_probe_ratio_threshold` groups per row, it stops aggregating and converts rows
///   to states directly, as DataFusion does.
#[derive(Debug, Clone)]
pub struct IntKeyAggregateExec {
    /// The partial aggregation this replaces: its expressions, schema and plan properties.
    aggregate: AggregateExec,
    metrics: ExecutionPlanMetricsSet,
}

impl IntKeyAggregateExec {
    /// Replaces `aggregate`, which must be a partial aggregation on one integer-backed key
    /// (the rule checks with [`super::replaceable`]).
    pub fn new(aggregate: AggregateExec) -> Self {
        Self {
            aggregate,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for IntKeyAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        /// The replaced aggregation's own description (`AggregateExec: mode=Partial, …`).
        struct Inner<'a>(&'a AggregateExec, DisplayFormatType);
        impl fmt::Display for Inner<'_> {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                self.0.fmt_as(self.1, f)
            }
        }
        let inner = Inner(&self.aggregate, t).to_string();
        match t {
            DisplayFormatType::TreeRender => write!(f, "{inner}"),
            _ => {
                let details = inner.strip_prefix("AggregateExec: ").unwrap_or(&inner);
                write!(f, "IntKeyAggregateExec: {details}")
            }
        }
    }
}

impl ExecutionPlan for IntKeyAggregateExec {
    fn name(&self) -> &str {
        "IntKeyAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.aggregate.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.aggregate.input_distribution_requirements()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.aggregate.required_input_ordering()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.aggregate.maintains_input_order()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.aggregate.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.aggregate.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let replaced = Arc::new(self.aggregate.clone()).replace_children(children, options)?;
        let aggregate = replaced
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| internal_datafusion_err!("AggregateExec with new children"))?;
        Ok(Arc::new(Self::new(aggregate.clone())))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::execution_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.aggregate.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.aggregate.statistics_from_inputs(input_stats, args)
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.aggregate.cardinality_effect()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.aggregate.schema();
        let state = PartialAggregation::new(self, partition, &context)?;
        let stream = futures::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            match state.next_batch().await {
                Ok(Some(batch)) => Some((Ok(batch), Some(state))),
                Ok(None) => None,
                // After an error the stream ends; the state (and its memory) goes now.
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The width of a key type's values, for the key types the operator takes.
pub(super) fn key_width(data_type: &DataType) -> Option<usize> {
    use DataType::*;
    match data_type {
        Int8
        | UInt8
        | Int16
        | UInt16
        | Int32
        | UInt32
        | Int64
        | UInt64
        | Date32
        | Date64
        | Time32(_)
        | Time64(_)
        | Timestamp(_, _)
        | Duration(_) => data_type.primitive_width(),
        _ => None,
    }
}

/// The running state of one partition.
struct PartialAggregation {
    input: SendableRecordBatchStream,
    input_done: bool,
    schema: SchemaRef,
    key: Arc<dyn PhysicalExpr>,
    key_type: DataType,
    key_width: usize,
    aggregates: Vec<Aggregate>,
    table: IntGroupTable,
    /// Scratch: the current batch's group indices.
    groups: Vec<usize>,
    /// Emitted groups not yet returned, and how many of their rows were.
    output: Option<(RecordBatch, usize)>,
    batch_size: usize,
    reservation: MemoryReservation,
    skip_probe: Option<SkipProbe>,
    skipping: bool,
    baseline: BaselineMetrics,
    skipped_rows: Count,
    early_emits: Count,
}

/// DataFusion's rule for giving up on partial aggregation: once `rows` rows have been seen,
/// more than `ratio` groups per row.
struct SkipProbe {
    rows: usize,
    ratio: f64,
    seen: usize,
}

impl PartialAggregation {
    fn new(
        exec: &IntKeyAggregateExec,
        partition: usize,
        context: &Arc<TaskContext>,
    ) -> Result<Self> {
        let aggregate = &exec.aggregate;
        let (key, _) = aggregate
            .group_expr()
            .expr()
            .first()
            .ok_or_else(|| internal_datafusion_err!("IntKeyAggregateExec without a key"))?;
        let key_type = key.data_type(&aggregate.input_schema())?;
        let key_width = key_width(&key_type)
            .ok_or_else(|| internal_datafusion_err!("IntKeyAggregateExec on {key_type}"))?;
        let arguments = aggregate_expressions(aggregate.aggr_expr(), &AggregateMode::Partial, 0)?;
        let aggregates = aggregate
            .aggr_expr()
            .iter()
            .zip(arguments)
            .zip(aggregate.filter_expr())
            .map(|((expr, arguments), filter)| {
                Ok(Aggregate {
                    arguments,
                    filter: filter.clone(),
                    accumulator: expr.create_groups_accumulator()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let options = &context.session_config().options().execution;
        let ratio = options.skip_partial_aggregation_probe_ratio_threshold;
        let skip_probe = (ratio < 1.0).then_some(SkipProbe {
            rows: options.skip_partial_aggregation_probe_rows_threshold,
            ratio,
            seen: 0,
        });
        let reservation = MemoryConsumer::new(format!("IntKeyAggregateExec[{partition}]"))
            .with_can_spill(true)
            .register(context.memory_pool());
        Ok(Self {
            input: aggregate.input().execute(partition, Arc::clone(context))?,
            input_done: false,
            schema: aggregate.schema(),
            key: Arc::clone(key),
            key_type,
            key_width,
            aggregates,
            table: IntGroupTable::new(),
            groups: Vec::new(),
            output: None,
            batch_size: context.session_config().batch_size(),
            reservation,
            skip_probe,
            skipping: false,
            baseline: BaselineMetrics::new(&exec.metrics, partition),
            skipped_rows: MetricBuilder::new(&exec.metrics)
                .counter("skipped_aggregation_rows", partition),
            early_emits: MetricBuilder::new(&exec.metrics).counter("early_emits", partition),
        })
    }

    /// The next output batch, or `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(batch) = self.next_output_slice() {
                self.baseline.record_output(batch.num_rows());
                return Ok(Some(batch));
            }
            if self.input_done {
                self.reservation.free();
                return Ok(None);
            }
            let Some(batch) = self.input.next().await.transpose()? else {
                self.input_done = true;
                let elapsed = self.baseline.elapsed_compute().clone();
                let _timer = elapsed.timer();
                self.emit_all()?;
                continue;
            };
            let elapsed = self.baseline.elapsed_compute().clone();
            let _timer = elapsed.timer();
            if self.skipping {
                if batch.num_rows() == 0 {
                    continue;
                }
                self.skipped_rows.add(batch.num_rows());
                let states = self.rows_to_states(&batch)?;
                self.baseline.record_output(states.num_rows());
                return Ok(Some(states));
            }
            self.aggregate_batch(&batch)?;
            if self.should_skip(batch.num_rows()) {
                self.skipping = true;
            } else if self.reservation.try_resize(self.size()).is_ok() {
                continue;
            } else {
                // Out of memory: hand what is aggregated to the final phase and start over.
                self.early_emits.add(1);
            }
            self.emit_all()?;
            self.reservation.resize(self.size());
        }
    }

    /// Bytes held: the table, the accumulators and emitted groups not yet returned.
    fn size(&self) -> usize {
        self.table.size()
            + self.groups.capacity() * size_of::<usize>()
            + self
                .aggregates
                .iter()
                .map(|a| a.accumulator.size())
                .sum::<usize>()
            + self
                .output
                .as_ref()
                .map_or(0, |(batch, _)| batch.get_array_memory_size())
    }

    fn should_skip(&mut self, rows: usize) -> bool {
        let Some(probe) = &mut self.skip_probe else {
            return false;
        };
        probe.seen += rows;
        probe.seen >= probe.rows && self.table.len() as f64 / probe.seen as f64 > probe.ratio
    }

    fn aggregate_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let keys = self.key.evaluate(batch)?.into_array(batch.num_rows())?;
        let data = keys.to_data();
        let nulls = keys.logical_nulls();
        match self.key_width {
            1 => self
                .table
                .intern(data.buffer::<u8>(0), nulls.as_ref(), &mut self.groups),
            2 => self
                .table
                .intern(data.buffer::<u16>(0), nulls.as_ref(), &mut self.groups),
            4 => self
                .table
                .intern(data.buffer::<u32>(0), nulls.as_ref(), &mut self.groups),
            _ => self
                .table
                .intern(data.buffer::<u64>(0), nulls.as_ref(), &mut self.groups),
        }
        let total_groups = self.table.len();
        for aggregate in &mut self.aggregates {
            let (values, filter) = aggregate.evaluate(batch)?;
            let accumulator = &mut aggregate.accumulator;
            accumulator.update_batch(&values, &self.groups, filter.as_ref(), total_groups)?;
        }
        Ok(())
    }

    /// Each row as its own group's state (after giving up on aggregating).
    fn rows_to_states(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mut columns = vec![self.key.evaluate(batch)?.into_array(batch.num_rows())?];
        for aggregate in &mut self.aggregates {
            let (values, filter) = aggregate.evaluate(batch)?;
            columns.extend(
                aggregate
                    .accumulator
                    .convert_to_state(&values, filter.as_ref())?,
            );
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    /// Moves every group so far into the output, to be returned in batches.
    fn emit_all(&mut self) -> Result<()> {
        if self.table.is_empty() {
            return Ok(());
        }
        let len = self.table.len();
        let (values, null_group) = match self.key_width {
            1 => keys_buffer::<u8>(&mut self.table),
            2 => keys_buffer::<u16>(&mut self.table),
            4 => keys_buffer::<u32>(&mut self.table),
            _ => keys_buffer::<u64>(&mut self.table),
        };
        let nulls = null_group.map(|g| NullBuffer::from_iter((0..len).map(|i| i != g)));
        let keys = make_array(
            ArrayData::builder(self.key_type.clone())
                .len(len)
                .add_buffer(values)
                .nulls(nulls)
                .build()?,
        );
        let mut columns = vec![keys];
        for aggregate in &mut self.aggregates {
            columns.extend(aggregate.accumulator.state(EmitTo::All)?);
        }
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.output = Some((batch, 0));
        Ok(())
    }

    fn next_output_slice(&mut self) -> Option<RecordBatch> {
        let (batch, offset) = self.output.as_mut()?;
        let len = self.batch_size.min(batch.num_rows() - *offset);
        let slice = batch.slice(*offset, len);
        *offset += len;
        if *offset == batch.num_rows() {
            self.output = None;
        }
        (len > 0).then_some(slice)
    }
}

/// The table's keys, as a buffer of `K`, and the NULL group's index; the table starts over.
fn keys_buffer<K: IntKey + ArrowNativeType>(table: &mut IntGroupTable) -> (Buffer, Option<usize>) {
    let (keys, null_group) = table.take::<K>();
    (Buffer::from_vec(keys), null_group)
}

/// One aggregate of the query: its argument expressions (with its ORDER BY expressions, as
/// DataFusion passes them), its FILTER and its accumulator.
struct Aggregate {
    arguments: Vec<Arc<dyn PhysicalExpr>>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    accumulator: Box<dyn GroupsAccumulator>,
}

impl Aggregate {
    /// Its arguments and FILTER, evaluated on `batch`.
    fn evaluate(&self, batch: &RecordBatch) -> Result<(Vec<ArrayRef>, Option<BooleanArray>)> {
        let rows = batch.num_rows();
        let values = self
            .arguments
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let filter = match &self.filter {
            None => None,
            Some(f) => {
                let array = f.evaluate(batch)?.into_array(rows)?;
                let filter = array.as_boolean_opt().cloned().ok_or_else(|| {
                    internal_datafusion_err!(
                        "FILTER evaluated to {}, not Boolean",
                        array.data_type()
                    )
                })?;
                Some(filter)
            }
        };
        Ok((values, filter))
    }
}
