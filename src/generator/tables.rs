//! The generated tables: their Arrow schemas, batch builders, and the Parquet sink that writes
//! them (zstd, ~1M-row row groups, page statistics, dictionary encoding for low-cardinality
//! strings, temp file + rename so a reader never sees half a file).
//!
//! To add a column: add it to the schema function and to the builder's `append`/`finish`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use super::GenError;

/// Rows per Arrow batch handed to the Parquet writer; memory per open table is bounded by this
/// plus one encoded row group.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// `events` (partitioned by `dt` folders, so `dt` is not stored in the files).
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("ts", ts_type(), false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("product_id", DataType::Int64, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("quantity", DataType::Int32, true),
        Field::new("device", DataType::Utf8, false),
        Field::new("search_query", DataType::Utf8, true),
    ]))
}

/// `users`.
pub fn users_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("signup_ts", ts_type(), false),
        Field::new("country", DataType::Utf8, false),
        Field::new("city_tier", DataType::Int32, false),
        Field::new("age", DataType::Int32, true),
        Field::new("gender", DataType::Utf8, true),
        Field::new("acquisition_channel", DataType::Utf8, false),
        Field::new("language", DataType::Utf8, false),
    ]))
}

/// `products`.
pub fn products_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("product_id", DataType::Int64, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("brand", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
    ]))
}

/// `orders`.
pub fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("ts", ts_type(), false),
        Field::new("total_amount", DataType::Float64, false),
        Field::new("item_count", DataType::Int32, false),
        Field::new("discount_amount", DataType::Float64, false),
        Field::new("coupon_code", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, false),
    ]))
}

/// `reviews`.
pub fn reviews_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("review_id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("product_id", DataType::Int64, false),
        Field::new("ts", ts_type(), false),
        Field::new("rating", DataType::Int32, false),
        Field::new("language", DataType::Utf8, false),
        Field::new("review_text", DataType::Utf8, false),
    ]))
}

/// `campaigns`.
pub fn campaigns_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("campaign_id", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
        Field::new("treatment", DataType::Boolean, false),
        Field::new("converted", DataType::Boolean, false),
    ]))
}

/// `_truth/users`: what the generator planted and knows about each user's future.
pub fn truth_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int64, false),
        Field::new("persona", DataType::Utf8, false),
        Field::new("persona_at_cutoff", DataType::Utf8, false),
        Field::new("drift_ts", ts_type(), true),
        Field::new("planted_sessions_per_day", DataType::Float64, false),
        Field::new("campaign_uplift", DataType::Float64, false),
        Field::new("cutoff_ts", ts_type(), false),
        Field::new("future_days", DataType::Int32, false),
        Field::new("future_sessions", DataType::Int64, false),
        Field::new("future_purchases", DataType::Int64, false),
        Field::new("future_revenue", DataType::Float64, false),
        Field::new("churned", DataType::Boolean, false),
    ]))
}

/// A Parquet file being written to `<dest>.tmp` and renamed into place by [`ParquetSink::finish`].
pub struct ParquetSink {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    dest: PathBuf,
    rows: u64,
}

/// Columns that are unique or near-unique per row: dictionary encoding would only cost time.
const HIGH_CARDINALITY: &[&str] = &[
    "event_id",
    "ts",
    "order_id",
    "review_id",
    "review_text",
    "total_amount",
    "signup_ts",
    "user_id",
];

fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(true)
        .set_created_by(format!("ecomsql gen {}", env!("CARGO_PKG_VERSION")));
    for f in schema.fields() {
        if HIGH_CARDINALITY.contains(&f.name().as_str()) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), false);
        }
    }
    b.build()
}

impl ParquetSink {
    /// Creates `dest`'s folder and starts writing to a temporary file beside it.
    pub fn create(dest: &Path, schema: SchemaRef) -> Result<Self, GenError> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GenError::io(parent, e))?;
        }
        let tmp = dest.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|e| GenError::io(&tmp, e))?;
        let props = writer_properties(&schema);
        let writer = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| GenError::parquet(&tmp, e))?;
        Ok(Self {
            writer,
            tmp,
            dest: dest.to_path_buf(),
            rows: 0,
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), GenError> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|e| GenError::parquet(&self.tmp, e))
    }

    /// Closes the file and renames it into place. Returns the number of rows.
    pub fn finish(self) -> Result<u64, GenError> {
        let file = self
            .writer
            .into_inner()
            .map_err(|e| GenError::parquet(&self.tmp, e))?;
        // No fsync per file: the whole data set stays in `<out>.partial` until it is complete
        // and renamed, and a crash means regenerating it, so per-file durability buys nothing.
        drop(file);
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| GenError::io(&self.dest, e))?;
        Ok(self.rows)
    }
}

/// Builders for a batch of `events` rows.
pub struct EventBuilder {
    pub event_id: Int64Builder,
    pub user_id: Int64Builder,
    pub ts: TimestampMicrosecondBuilder,
    pub event_type: StringBuilder,
    pub product_id: Int64Builder,
    pub category: StringBuilder,
    pub price: Float64Builder,
    pub quantity: Int32Builder,
    pub device: StringBuilder,
    pub search_query: StringBuilder,
    len: usize,
}

impl Default for EventBuilder {
    fn default() -> Self {
        let n = BATCH_ROWS;
        Self {
            event_id: Int64Builder::with_capacity(n),
            user_id: Int64Builder::with_capacity(n),
            ts: TimestampMicrosecondBuilder::with_capacity(n),
            event_type: StringBuilder::with_capacity(n, n * 8),
            product_id: Int64Builder::with_capacity(n),
            category: StringBuilder::with_capacity(n, n * 8),
            price: Float64Builder::with_capacity(n),
            quantity: Int32Builder::with_capacity(n),
            device: StringBuilder::with_capacity(n, n * 7),
            search_query: StringBuilder::with_capacity(n / 4, n * 4),
            len: 0,
        }
    }
}

/// One event row, borrowed.
pub struct EventRow<'a> {
    pub event_id: i64,
    pub user_id: i64,
    pub ts: i64,
    pub event_type: &'a str,
    pub product: Option<(i64, &'a str, f64)>,
    pub quantity: Option<i32>,
    pub device: &'a str,
    pub search_query: Option<&'a str>,
}

impl EventBuilder {
    /// Appends a row.
    #[inline]
    pub fn append(&mut self, r: EventRow<'_>) {
        self.event_id.append_value(r.event_id);
        self.user_id.append_value(r.user_id);
        self.ts.append_value(r.ts);
        self.event_type.append_value(r.event_type);
        match r.product {
            Some((id, cat, price)) => {
                self.product_id.append_value(id);
                self.category.append_value(cat);
                self.price.append_value(price);
            }
            None => {
                self.product_id.append_null();
                self.category.append_null();
                self.price.append_null();
            }
        }
        self.quantity.append_option(r.quantity);
        self.device.append_value(r.device);
        self.search_query.append_option(r.search_query);
        self.len += 1;
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes the buffered rows as a batch.
    pub fn finish(&mut self) -> Result<RecordBatch, GenError> {
        self.len = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.product_id.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.price.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.device.finish()),
            Arc::new(self.search_query.finish()),
        ];
        RecordBatch::try_new(events_schema(), cols).map_err(GenError::arrow)
    }
}

/// Builders for a batch of `orders` rows.
#[derive(Default)]
pub struct OrderBuilder {
    pub order_id: Int64Builder,
    pub user_id: Int64Builder,
    pub ts: TimestampMicrosecondBuilder,
    pub total_amount: Float64Builder,
    pub item_count: Int32Builder,
    pub discount_amount: Float64Builder,
    pub coupon_code: StringBuilder,
    pub status: StringBuilder,
}

impl OrderBuilder {
    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.order_id.values_slice().len()
    }

    /// True when no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the buffered rows as a batch.
    pub fn finish(&mut self) -> Result<RecordBatch, GenError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.order_id.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.total_amount.finish()),
            Arc::new(self.item_count.finish()),
            Arc::new(self.discount_amount.finish()),
            Arc::new(self.coupon_code.finish()),
            Arc::new(self.status.finish()),
        ];
        RecordBatch::try_new(orders_schema(), cols).map_err(GenError::arrow)
    }
}

/// Builders for a batch of `reviews` rows.
#[derive(Default)]
pub struct ReviewBuilder {
    pub review_id: Int64Builder,
    pub user_id: Int64Builder,
    pub product_id: Int64Builder,
    pub ts: TimestampMicrosecondBuilder,
    pub rating: Int32Builder,
    pub language: StringBuilder,
    pub review_text: StringBuilder,
}

impl ReviewBuilder {
    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.review_id.values_slice().len()
    }

    /// True when no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the buffered rows as a batch.
    pub fn finish(&mut self) -> Result<RecordBatch, GenError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.review_id.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.product_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.rating.finish()),
            Arc::new(self.language.finish()),
            Arc::new(self.review_text.finish()),
        ];
        RecordBatch::try_new(reviews_schema(), cols).map_err(GenError::arrow)
    }
}

/// Builders for `campaigns` rows.
#[derive(Default)]
pub struct CampaignBuilder {
    pub user_id: Int64Builder,
    pub campaign_id: StringBuilder,
    pub ts: TimestampMicrosecondBuilder,
    pub treatment: BooleanBuilder,
    pub converted: BooleanBuilder,
}

impl CampaignBuilder {
    /// Takes the buffered rows as a batch.
    pub fn finish(&mut self) -> Result<RecordBatch, GenError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.user_id.finish()),
            Arc::new(self.campaign_id.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.treatment.finish()),
            Arc::new(self.converted.finish()),
        ];
        RecordBatch::try_new(campaigns_schema(), cols).map_err(GenError::arrow)
    }
}
