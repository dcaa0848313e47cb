//! `rfm_segment(r_score, f_score, m_score)`: the RFM segment name of integer scores 1..5
//! (recency, frequency, monetary; 5 is best: most recent, most frequent, highest spend).
//!
//! The mapping is the widely used recency × frequency grid (the `seg_map` of the common RFM
//! tutorials: `[1-2][1-2]` Hibernating, `[1-2][3-4]` At Risk, `[1-2]5` Can't Lose Them, `3[1-2]`
//! About to Sleep, `33` Need Attention, `[3-4][4-5]` Loyal Customers, `41` Promising, `51` New
//! Customers, `[4-5][2-3]` Potential Loyalists, `5[4-5]` Champions), with the frequency axis
//! replaced by the F+M average and an eleventh segment, Lost, for the lowest corner:
//!
//! `FM = (f_score + m_score) / 2`, rounded half up (so FM is 1..5 too), then
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | 5 | New Customers | Potential Loyalists | Potential Loyalists | Champions | Champions |
//! | 4 | Promising | Potential Loyalists | Potential Loyalists | Loyal Customers | Loyal Customers |
//! | 3 | About to Sleep | About to Sleep | Need Attention | Loyal Customers | Loyal Customers |
//! | 2 | Hibernating | Hibernating | At Risk | At Risk | Cannot Lose Them |
//! | 1 | Lost | Lost | At Risk | At Risk | Cannot Lose Them |
//!
//! Edge cases: any integer type is accepted (a NULL literal too); NULL in any argument gives
//! NULL; a score outside 1..5 is an execution error naming the argument and the value; a
//! non-integer type is a planning error naming the argument.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_FEATURES;

/// The eleven segment names, best first.
pub const SEGMENTS: [&str; 11] = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
];

const ARG_NAMES: [&str; 3] = ["r_score", "f_score", "m_score"];

/// The grid of the module docs: `GRID[5 - r][fm - 1]`.
const GRID: [[&str; 5]; 5] = [
    [
        "New Customers",
        "Potential Loyalists",
        "Potential Loyalists",
        "Champions",
        "Champions",
    ],
    [
        "Promising",
        "Potential Loyalists",
        "Potential Loyalists",
        "Loyal Customers",
        "Loyal Customers",
    ],
    [
        "About to Sleep",
        "About to Sleep",
        "Need Attention",
        "Loyal Customers",
        "Loyal Customers",
    ],
    [
        "Hibernating",
        "Hibernating",
        "At Risk",
        "At Risk",
        "Cannot Lose Them",
    ],
    ["Lost", "Lost", "At Risk", "At Risk", "Cannot Lose Them"],
];

/// Kernel: the segment of one (r, f, m) triple of scores in 1..=5.
pub fn rfm_segment_kernel(r: i64, f: i64, m: i64) -> Result<&'static str> {
    for (i, v) in [r, f, m].into_iter().enumerate() {
        if !(1..=5).contains(&v) {
            return exec_err!(
                "rfm_segment argument {} ({}) must be between 1 and 5, got {v}",
                i + 1,
                ARG_NAMES[i]
            );
        }
    }
    let fm = (f + m + 1) / 2; // average rounded half up, in 1..=5
    Ok(GRID[(5 - r) as usize][(fm - 1) as usize])
}

/// The `rfm_segment` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmSegmentFunc {
    signature: Signature,
}

impl Default for RfmSegmentFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmSegmentFunc {
    /// Creates the function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_FEATURES,
        "The RFM segment of a customer from recency, frequency and monetary scores 1..5 (5 is \
         best). FM = (f_score + m_score) / 2 rounded half up, then by R (rows) and FM \
         (columns 1..5):\n\
         R=5: New Customers | Potential Loyalists | Potential Loyalists | Champions | Champions\n\
         R=4: Promising | Potential Loyalists | Potential Loyalists | Loyal Customers | Loyal Customers\n\
         R=3: About to Sleep | About to Sleep | Need Attention | Loyal Customers | Loyal Customers\n\
         R=2: Hibernating | Hibernating | At Risk | At Risk | Cannot Lose Them\n\
         R=1: Lost | Lost | At Risk | At Risk | Cannot Lose Them\n\
         NULL in any argument gives NULL; a score outside 1..5 is an error.",
        "rfm_segment(r_score, f_score, m_score)",
    )
    .with_argument(
        "r_score",
        "Recency score, an integer 1..5 (5 = bought most recently).",
    )
    .with_argument(
        "f_score",
        "Frequency score, an integer 1..5 (5 = most orders).",
    )
    .with_argument(
        "m_score",
        "Monetary score, an integer 1..5 (5 = highest spend).",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT rfm_segment(5, 4, 5);  -- Champions\n\
         > SELECT user_id, rfm_segment(\n\
         >          ntile(5) OVER (ORDER BY max(ts)),\n\
         >          ntile(5) OVER (ORDER BY count(*)),\n\
         >          ntile(5) OVER (ORDER BY sum(total_amount)))\n\
         > FROM orders GROUP BY user_id;\n\
         ```",
    )
    .with_related_udf("ntile")
    .build()
});

impl ScalarUDFImpl for RfmSegmentFunc {
    fn name(&self) -> &str {
        "rfm_segment"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!(
                "rfm_segment expects 3 arguments (r_score, f_score, m_score), got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                t if t.is_integer() => Ok(DataType::Int64),
                DataType::Null => Ok(DataType::Int64),
                DataType::Dictionary(_, v) if v.is_integer() => Ok(DataType::Int64),
                other => plan_err!(
                    "rfm_segment argument {} ({}) must be an integer, got {other}",
                    i + 1,
                    ARG_NAMES[i]
                ),
            })
            .collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let out = rfm_segment_array(&arrays)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Applies the kernel to three Int64 arrays (already coerced).
fn rfm_segment_array(arrays: &[ArrayRef]) -> Result<ArrayRef> {
    let [r, f, m] = arrays else {
        return exec_err!(
            "rfm_segment expects 3 arguments (r_score, f_score, m_score), got {}",
            arrays.len()
        );
    };
    let (r, f, m) = (
        r.as_primitive_opt::<Int64Type>(),
        f.as_primitive_opt::<Int64Type>(),
        m.as_primitive_opt::<Int64Type>(),
    );
    let (Some(r), Some(f), Some(m)) = (r, f, m) else {
        return exec_err!("rfm_segment arguments must be integers (coerced to Int64)");
    };
    let n = r.len();
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        if r.is_null(i) || f.is_null(i) || m.is_null(i) {
            out.append_null();
        } else {
            out.append_value(rfm_segment_kernel(r.value(i), f.value(i), m.value(i))?);
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn all_125_combinations_map_to_the_11_segments_and_each_is_reachable() {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let s = rfm_segment_kernel(r, f, m).unwrap();
                    assert!(SEGMENTS.contains(&s), "{s} is not a known segment");
                    *seen.entry(s).or_default() += 1;
                }
            }
        }
        assert_eq!(seen.values().sum::<usize>(), 125);
        for s in SEGMENTS {
            assert!(seen.contains_key(s), "{s} is never produced");
        }
        assert_eq!(seen.len(), 11);
    }

    #[test]
    fn corners_and_known_cells() {
        assert_eq!(rfm_segment_kernel(5, 5, 5).unwrap(), "Champions");
        assert_eq!(rfm_segment_kernel(1, 1, 1).unwrap(), "Lost");
        assert_eq!(rfm_segment_kernel(5, 1, 1).unwrap(), "New Customers");
        assert_eq!(rfm_segment_kernel(1, 5, 5).unwrap(), "Cannot Lose Them");
        assert_eq!(rfm_segment_kernel(3, 3, 3).unwrap(), "Need Attention");
        assert_eq!(rfm_segment_kernel(4, 1, 1).unwrap(), "Promising");
        // FM rounds half up: (3 + 4) / 2 = 3.5 -> 4.
        assert_eq!(rfm_segment_kernel(5, 3, 4).unwrap(), "Champions");
        assert_eq!(rfm_segment_kernel(5, 3, 3).unwrap(), "Potential Loyalists");
        // The average is symmetric in f and m.
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    assert_eq!(
                        rfm_segment_kernel(r, f, m).unwrap(),
                        rfm_segment_kernel(r, m, f).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn out_of_range_names_argument_and_value() {
        let e = rfm_segment_kernel(3, 7, 1).unwrap_err().to_string();
        assert!(
            e.contains("rfm_segment argument 2 (f_score) must be between 1 and 5, got 7"),
            "{e}"
        );
        let e = rfm_segment_kernel(0, 1, 1).unwrap_err().to_string();
        assert!(e.contains("argument 1 (r_score)"), "{e}");
        let e = rfm_segment_kernel(1, 1, -3).unwrap_err().to_string();
        assert!(
            e.contains("argument 3 (m_score)") && e.contains("got -3"),
            "{e}"
        );
    }
}
