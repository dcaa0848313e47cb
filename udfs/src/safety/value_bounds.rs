//! Which built-in functions [`super::value_guard::SizeGuard`] wraps, and an upper bound of the
//! bytes each builds per row, computed from the argument values.
//!
//! To guard another function: add a [`ValueBound`] variant, its row in [`GUARDED`], and its
//! arm in [`ValueBound::row_bytes`]. A bound may overestimate (the guard then refuses a call
//! a little early) but must never underestimate. Functions whose output grows only linearly
//! with their input (`concat`, `overlay`, `to_hex`, `string_to_array`, …) need no guard: the
//! input was already paid for.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::length::length;
use datafusion::arrow::datatypes::{DataType, Int64Type, IntervalMonthDayNanoType, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;

/// How to bound one guarded function's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueBound {
    /// `repeat(text, n)`: `len(text) × n`.
    Repeat,
    /// `lpad` / `rpad(text, n [, fill])`: `n` characters, of 1 byte when the texts are ASCII
    /// and up to 4 otherwise.
    Pad,
    /// `array_repeat(element, n)`: `n × (element + 8)` (DataFusion builds an 8-byte take index
    /// per copy).
    ArrayRepeat,
    /// `array_resize(list, n [, value])`: `n × (element + 8)`.
    ArrayResize,
    /// `range` / `generate_series([start,] stop [, step])`: `(stop − start) / step + 1`
    /// values of 8 bytes; for dates and timestamps the step's shortest possible length.
    Range,
    /// `replace(text, from, to)`: at most `len(text) / len(from) + 1` replacements.
    Replace,
    /// `regexp_replace(text, pattern, replacement [, flags])`: a match at every position at
    /// worst, each back-reference copying up to the whole text.
    RegexpReplace,
}

/// The guarded functions by SQL name (their aliases follow them).
pub const GUARDED: &[(&str, ValueBound)] = &[
    ("repeat", ValueBound::Repeat),
    ("lpad", ValueBound::Pad),
    ("rpad", ValueBound::Pad),
    ("array_repeat", ValueBound::ArrayRepeat),
    ("array_resize", ValueBound::ArrayResize),
    ("range", ValueBound::Range),
    ("generate_series", ValueBound::Range),
    ("replace", ValueBound::Replace),
    ("regexp_replace", ValueBound::RegexpReplace),
];

impl ValueBound {
    /// An upper bound of the bytes each of the `rows` rows would build (0 for rows with a NULL
    /// argument, which give NULL or an empty value).
    pub fn row_bytes(&self, args: &[ColumnarValue], rows: usize) -> Result<Vec<u128>> {
        let arg = |i: usize| args.get(i).map(|a| a.to_array(rows)).transpose();
        let out = match self {
            Self::Repeat => {
                let (Some(text), Some(n)) = (arg(0)?, arg(1)?) else {
                    return Ok(vec![0; rows]);
                };
                zip_mul(&byte_lens(&text)?, &counts(&n)?)
            }
            Self::Pad => {
                let Some(n) = arg(1)? else {
                    return Ok(vec![0; rows]);
                };
                let ascii = [arg(0)?, arg(2)?]
                    .iter()
                    .flatten()
                    .map(is_ascii)
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .all(|a| a);
                let width = if ascii { 1 } else { 4 };
                counts(&n)?.into_iter().map(|n| n * width).collect()
            }
            Self::ArrayRepeat => {
                let (Some(element), Some(n)) = (arg(0)?, arg(1)?) else {
                    return Ok(vec![0; rows]);
                };
                let per = element_bytes(&element)?;
                let n = counts(&n)?;
                per.iter().zip(n).map(|(p, n)| n * (p + 8)).collect()
            }
            Self::ArrayResize => {
                let (Some(list), Some(n)) = (arg(0)?, arg(1)?) else {
                    return Ok(vec![0; rows]);
                };
                let per = match list.data_type() {
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                        fixed_width(f.data_type()).unwrap_or_else(|| average_bytes(&list))
                    }
                    _ => average_bytes(&list),
                };
                counts(&n)?.into_iter().map(|n| n * (per + 8)).collect()
            }
            Self::Range => range_bytes(args, rows)?,
            Self::Replace => {
                let (Some(text), Some(from), Some(to)) = (arg(0)?, arg(1)?, arg(2)?) else {
                    return Ok(vec![0; rows]);
                };
                let (text, from, to) = (byte_lens(&text)?, byte_lens(&from)?, byte_lens(&to)?);
                (0..rows)
                    .map(|i| text[i] + (text[i] / from[i].max(1) + 1) * to[i])
                    .collect()
            }
            Self::RegexpReplace => {
                let (Some(text), Some(repl)) = (arg(0)?, arg(2)?) else {
                    return Ok(vec![0; rows]);
                };
                let (text, repl) = (byte_lens(&text)?, byte_lens(&repl)?);
                (0..rows)
                    .map(|i| text[i] + (text[i] + 1) * repl[i] + repl[i] / 2 * text[i])
                    .collect()
            }
        };
        Ok(out)
    }
}

fn zip_mul(a: &[u128], b: &[u128]) -> Vec<u128> {
    a.iter().zip(b).map(|(a, b)| a * b).collect()
}

/// Each row's integer argument, negatives and NULLs as 0.
fn counts(arr: &ArrayRef) -> Result<Vec<u128>> {
    let ints = cast(arr, &DataType::Int64)?;
    Ok(ints
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map_or(0, |v| v.max(0) as u128))
        .collect())
}

/// Each row's length in bytes (texts, binaries); NULL as 0.
fn byte_lens(arr: &ArrayRef) -> Result<Vec<u128>> {
    let arr = match arr.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => arr.clone(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => arr.clone(),
        _ => cast(arr, &DataType::LargeUtf8)?,
    };
    let lens = cast(&length(&arr)?, &DataType::Int64)?;
    Ok(lens
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.map_or(0, |v| v.max(0) as u128))
        .collect())
}

fn is_ascii(arr: &ArrayRef) -> Result<bool> {
    let text = cast(arr, &DataType::LargeUtf8)?;
    Ok(text.as_string::<i64>().value_data().is_ascii())
}

/// Bytes per value of a fixed-width type.
fn fixed_width(t: &DataType) -> Option<u128> {
    match t {
        DataType::Null => Some(0),
        DataType::Boolean => Some(1),
        t => t.primitive_width().map(|w| w as u128),
    }
}

/// The average bytes per row of `arr` (at least 1).
fn average_bytes(arr: &ArrayRef) -> u128 {
    (arr.get_array_memory_size() as u128 / arr.len().max(1) as u128).max(1)
}

/// Bytes of one copy of each row's value.
fn element_bytes(arr: &ArrayRef) -> Result<Vec<u128>> {
    if let Some(w) = fixed_width(arr.data_type()) {
        return Ok(vec![w; arr.len()]);
    }
    Ok(match arr.data_type() {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => byte_lens(arr)?.into_iter().map(|l| l + 16).collect(),
        _ => vec![average_bytes(arr); arr.len()],
    })
}

/// One argument per row, widened; NULL as `None`.
type Column = Vec<Option<i128>>;

/// `range` / `generate_series`: 1, 2 or 3 arguments, integers or dates / timestamps with an
/// interval step.
fn range_bytes(args: &[ColumnarValue], rows: usize) -> Result<Vec<u128>> {
    let arrays = args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    let temporal = arrays.first().is_some_and(|a| {
        matches!(
            a.data_type(),
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        )
    });
    let (start, stop, step): (Column, Column, Column) = if temporal {
        if arrays.len() < 3 {
            return Ok(vec![0; rows]);
        }
        let ns = |a: &ArrayRef| -> Result<Vec<Option<i128>>> {
            let ts = cast(a, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            let ints = cast(&ts, &DataType::Int64)?;
            Ok(ints
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect())
        };
        let step = match arrays[2].data_type() {
            DataType::Interval(_) => {
                let mdn = cast(
                    &arrays[2],
                    &DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano),
                )?;
                mdn.as_primitive::<IntervalMonthDayNanoType>()
                    .iter()
                    .map(|v| {
                        // The shortest the step can be: 28-day months, 23-hour days.
                        v.map(|v| {
                            const HOUR: i128 = 3_600_000_000_000;
                            i128::from(v.months) * 28 * 24 * HOUR
                                + i128::from(v.days) * 23 * HOUR
                                + i128::from(v.nanoseconds)
                        })
                    })
                    .collect()
            }
            _ => return Ok(vec![0; rows]),
        };
        (ns(&arrays[0])?, ns(&arrays[1])?, step)
    } else {
        let ints = |a: &ArrayRef| -> Result<Vec<Option<i128>>> {
            let ints = cast(a, &DataType::Int64)?;
            Ok(ints
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(i128::from))
                .collect())
        };
        match arrays.len() {
            1 => (vec![Some(0); rows], ints(&arrays[0])?, vec![Some(1); rows]),
            2 => (ints(&arrays[0])?, ints(&arrays[1])?, vec![Some(1); rows]),
            _ => (ints(&arrays[0])?, ints(&arrays[1])?, ints(&arrays[2])?),
        }
    };
    Ok((0..rows)
        .map(|i| match (start[i], stop[i], step[i]) {
            (Some(a), Some(b), Some(s)) if s != 0 && (b - a).signum() * s.signum() >= 0 => {
                (((b - a) / s).unsigned_abs() + 1) * 8
            }
            _ => 0,
        })
        .collect())
}

/// Sum of the per-row bounds, for tests.
#[cfg(test)]
fn total(v: &[u128]) -> u128 {
    v.iter().sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::common::ScalarValue;

    use super::*;

    fn s(v: ScalarValue) -> ColumnarValue {
        ColumnarValue::Scalar(v)
    }

    #[test]
    fn repeat_is_length_times_count() -> Result<()> {
        let args = [
            ColumnarValue::Array(Arc::new(StringArray::from(vec![
                Some("ab"),
                None,
                Some("x"),
            ]))),
            s(ScalarValue::Int64(Some(2_147_483_647))),
        ];
        let b = ValueBound::Repeat.row_bytes(&args, 3)?;
        assert_eq!(b, vec![2 * 2_147_483_647, 0, 2_147_483_647]);
        Ok(())
    }

    #[test]
    fn array_repeat_counts_the_take_index() -> Result<()> {
        let args = [
            s(ScalarValue::Int64(Some(1))),
            s(ScalarValue::Int64(Some(2_000_000_000))),
        ];
        assert_eq!(
            ValueBound::ArrayRepeat.row_bytes(&args, 1)?,
            vec![16 * 2_000_000_000]
        );
        // Negative counts build nothing.
        let args = [
            s(ScalarValue::Int64(Some(1))),
            ColumnarValue::Array(Arc::new(Int64Array::from(vec![-5, 3]))),
        ];
        assert_eq!(ValueBound::ArrayRepeat.row_bytes(&args, 2)?, vec![0, 48]);
        Ok(())
    }

    #[test]
    fn pad_is_wider_for_non_ascii() -> Result<()> {
        let ascii = [s(ScalarValue::from("x")), s(ScalarValue::Int64(Some(10)))];
        assert_eq!(ValueBound::Pad.row_bytes(&ascii, 1)?, vec![10]);
        let wide = [
            s(ScalarValue::from("x")),
            s(ScalarValue::Int64(Some(10))),
            s(ScalarValue::from("é")),
        ];
        assert_eq!(ValueBound::Pad.row_bytes(&wide, 1)?, vec![40]);
        Ok(())
    }

    #[test]
    fn range_counts_values() -> Result<()> {
        let one = [s(ScalarValue::Int64(Some(10)))];
        assert_eq!(total(&ValueBound::Range.row_bytes(&one, 1)?), 11 * 8);
        let three = [
            s(ScalarValue::Int64(Some(0))),
            s(ScalarValue::Int64(Some(i64::MAX))),
            s(ScalarValue::Int64(Some(1))),
        ];
        assert!(total(&ValueBound::Range.row_bytes(&three, 1)?) > 1 << 60);
        // A step pointing away from stop gives an empty list.
        let away = [
            s(ScalarValue::Int64(Some(0))),
            s(ScalarValue::Int64(Some(10))),
            s(ScalarValue::Int64(Some(-1))),
        ];
        assert_eq!(total(&ValueBound::Range.row_bytes(&away, 1)?), 0);
        Ok(())
    }

    #[test]
    fn replace_bounds_empty_pattern() -> Result<()> {
        let args = [
            s(ScalarValue::from("abc")),
            s(ScalarValue::from("")),
            s(ScalarValue::from("xy")),
        ];
        // 'abc' with '' → 'xy' inserted at 4 places: at most 3 + 4 × 2.
        assert_eq!(ValueBound::Replace.row_bytes(&args, 1)?, vec![11]);
        Ok(())
    }
}
