//! Results leave ecomsql in plain Arrow string and binary types.
//!
//! Tables are read with DataFusion's view types (`Utf8View`, `BinaryView`; see
//! [`crate::catalog`]): Parquet strings then decode without being copied, which is most of
//! what a filter such as `event_type = 'purchase'` costs. Programs outside the process do not
//! all read view types: the Flight SQL JDBC and ODBC drivers and pyarrow before 16 expect
//! `Utf8` and `Binary`. So results are converted where they leave: the Flight SQL server and
//! scheduled query outputs. The shell prints views as they are.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

/// `t` with every view type, at any depth, replaced by its plain counterpart.
pub fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(f) => DataType::List(plain_field(f)),
        DataType::LargeList(f) => DataType::LargeList(plain_field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(plain_field(f), *n),
        DataType::Struct(fs) => DataType::Struct(fs.iter().map(plain_field).collect::<Fields>()),
        DataType::Map(f, sorted) => DataType::Map(plain_field(f), *sorted),
        DataType::Dictionary(k, v) => DataType::Dictionary(k.clone(), Box::new(plain_type(v))),
        other => other.clone(),
    }
}

fn plain_field(f: &FieldRef) -> FieldRef {
    let t = plain_type(f.data_type());
    if &t == f.data_type() {
        Arc::clone(f)
    } else {
        Arc::new(Field::clone(f).with_data_type(t))
    }
}

/// `schema` with plain types; the same `Arc` when it has no view types.
pub fn plain_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Fields = schema.fields().iter().map(plain_field).collect();
    if fields == *schema.fields() {
        Arc::clone(schema)
    } else {
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }
}

/// `batch` cast to `plain` (its [`plain_schema`]); only the columns whose type differs are
/// converted.
pub fn plain_batch(batch: RecordBatch, plain: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema().fields() == plain.fields() {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(plain.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(Arc::clone(c))
            } else {
                cast(c, f.data_type()).map_err(|e| {
                    ArrowError::CastError(format!(
                        "column {}: {} to {}: {e}",
                        f.name(),
                        c.data_type(),
                        f.data_type()
                    ))
                })
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(plain), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Array, AsArray, BinaryViewArray, Int64Array, ListBuilder, StringViewArray,
        StringViewBuilder,
    };

    #[test]
    fn views_become_plain_at_any_depth_and_values_survive() {
        let mut list = ListBuilder::new(StringViewBuilder::new());
        list.values()
            .append_value("a long string of more than twelve bytes");
        list.values().append_null();
        list.append(true);
        list.append(false);
        let list = list.finish();
        let batch = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringViewArray::from(vec![Some("purchase"), None])) as _,
            ),
            (
                "b",
                Arc::new(BinaryViewArray::from(vec![Some(&b"\x00\xff"[..]), None])) as _,
            ),
            ("n", Arc::new(Int64Array::from(vec![1, 2])) as _),
            ("l", Arc::new(list) as _),
        ])
        .unwrap();
        let plain = plain_schema(&batch.schema());
        assert_eq!(plain.field(0).data_type(), &DataType::Utf8);
        assert_eq!(plain.field(1).data_type(), &DataType::Binary);
        assert_eq!(plain.field(2).data_type(), &DataType::Int64);
        assert_eq!(
            plain.field(3).data_type(),
            &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
        );
        let out = plain_batch(batch, &plain).unwrap();
        assert_eq!(out.schema(), plain);
        let s = out.column(0).as_string::<i32>();
        assert_eq!((s.value(0), s.is_null(1)), ("purchase", true));
        assert_eq!(out.column(1).as_binary::<i32>().value(0), b"\x00\xff");
        let l = out.column(3).as_list::<i32>();
        assert!(l.is_null(1));
        let inner = l.value(0);
        let inner = inner.as_string::<i32>();
        assert_eq!(inner.value(0), "a long string of more than twelve bytes");
        assert!(inner.is_null(1));
    }

    #[test]
    fn a_plain_schema_is_returned_as_is() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
        assert!(Arc::ptr_eq(&plain_schema(&schema), &schema));
    }
}
