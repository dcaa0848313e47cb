//! `hash_split(key [, seed])`: a stable pseudo-random number in [0, 1) per key, for
//! reproducible train/test splits and A/B buckets (`WHERE hash_split(user_id) < 0.8`).
//!
//! The value is part of our public contract: it must never change across runs, machines or
//! releases, so the hash is pinned and spelled out here and in the SQL documentation:
//!
//! 1. The key is turned into bytes: strings as their UTF-8 bytes; integers (any width, signed or
//!    unsigned) as their decimal text, so `hash_split(42)`, `hash_split(42::TINYINT)` and
//!    `hash_split('42')` agree and a key survives a change of column type.
//! 2. Those bytes are hashed with XXH64 (xxHash, 64-bit variant, the published specification)
//!    using `seed` (default 0; a negative seed is taken as its two's-complement `u64`).
//! 3. The top 53 bits of the hash are divided by 2^53, giving an `f64` in [0, 1) that is exact.
//!
//! NULL key or NULL seed gives NULL.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Builder, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_FEATURES;

/// Kernel: the split value of one key's bytes. See the module docs for the exact definition.
#[inline]
pub fn hash_split_bytes(key: &[u8], seed: u64) -> f64 {
    let h = xxhash_rust::xxh64::xxh64(key, seed);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Kernel: the split value of an integer key (hashed as its decimal text).
#[inline]
pub fn hash_split_i64(key: i64, seed: u64) -> f64 {
    let mut buf = itoa::Buffer::new();
    hash_split_bytes(buf.format(key).as_bytes(), seed)
}

/// Kernel: the split value of an unsigned integer key (hashed as its decimal text).
#[inline]
pub fn hash_split_u64(key: u64, seed: u64) -> f64 {
    let mut buf = itoa::Buffer::new();
    hash_split_bytes(buf.format(key).as_bytes(), seed)
}

/// The `hash_split` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashSplitFunc {
    signature: Signature,
}

impl Default for HashSplitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl HashSplitFunc {
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
        "A stable pseudo-random number in [0, 1) for each key, for reproducible train/test \
         splits and experiment buckets. The same key and seed give the same value on every run, \
         machine and release: XXH64 of the key's bytes (strings as UTF-8, integers as decimal \
         text) with the seed, top 53 bits divided by 2^53. NULL key or seed gives NULL.",
        "hash_split(key [, seed])",
    )
    .with_argument("key", "The value to hash: any integer or string type (integers hash as their decimal text, so 42 and '42' agree).")
    .with_argument("seed", "Optional integer (default 0). Change it to draw an independent split.")
    .with_sql_example(
        "```sql\n\
         > SELECT hash_split('user_1');\n\
         > SELECT user_id FROM users WHERE hash_split(user_id, 7) < 0.8; -- 80% training set\n\
         ```",
    )
    .with_related_udf("random")
    .build()
});

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ScalarUDFImpl for HashSplitFunc {
    fn name(&self) -> &str {
        "hash_split"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() || arg_types.len() > 2 {
            return plan_err!(
                "hash_split expects 1 or 2 arguments (key [, seed]), got {}",
                arg_types.len()
            );
        }
        let key = match &arg_types[0] {
            t if t.is_signed_integer() => DataType::Int64,
            t if t.is_unsigned_integer() => DataType::UInt64,
            t if is_string(t) => t.clone(),
            DataType::Null => DataType::Utf8,
            DataType::Dictionary(_, v) if is_string(v) || is_integer(v) => {
                if v.is_unsigned_integer() {
                    DataType::UInt64
                } else if v.is_signed_integer() {
                    DataType::Int64
                } else {
                    DataType::Utf8
                }
            }
            other => {
                return plan_err!(
                    "hash_split argument 1 (key) must be an integer or a string, got {other}"
                );
            }
        };
        let mut out = vec![key];
        if let Some(seed) = arg_types.get(1) {
            if !(is_integer(seed) || seed == &DataType::Null) {
                return plan_err!("hash_split argument 2 (seed) must be an integer, got {seed}");
            }
            out.push(DataType::Int64);
        }
        Ok(out)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let keys = args.args[0].to_array(rows)?;
        let seeds = match args.args.get(1) {
            None => Seeds::Const(Some(0)),
            Some(ColumnarValue::Scalar(s)) => match s {
                ScalarValue::Int64(v) => Seeds::Const(v.map(|v| v as u64)),
                ScalarValue::Null => Seeds::Const(None),
                other => {
                    return exec_err!(
                        "hash_split argument 2 (seed) must be an integer, got {}",
                        other.data_type()
                    );
                }
            },
            Some(ColumnarValue::Array(a)) => Seeds::Array(a.as_primitive::<Int64Type>().clone()),
        };
        let out = hash_split_array(&keys, &seeds)?;
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

enum Seeds {
    Const(Option<u64>),
    Array(Int64Array),
}

impl Seeds {
    #[inline]
    fn get(&self, i: usize) -> Option<u64> {
        match self {
            Seeds::Const(s) => *s,
            Seeds::Array(a) => a.is_valid(i).then(|| a.value(i) as u64),
        }
    }
}

/// Applies the kernel to a whole key array (already coerced by `coerce_types`).
fn hash_split_array(keys: &ArrayRef, seeds: &Seeds) -> Result<ArrayRef> {
    let n = keys.len();
    let mut out = Float64Builder::with_capacity(n);
    macro_rules! fill {
        ($arr:expr, $f:expr) => {{
            let arr = $arr;
            for i in 0..n {
                match (arr.is_valid(i), seeds.get(i)) {
                    (true, Some(seed)) => out.append_value($f(arr.value(i), seed)),
                    _ => out.append_null(),
                }
            }
        }};
    }
    match keys.data_type() {
        DataType::Int64 => fill!(keys.as_primitive::<Int64Type>(), hash_split_i64),
        DataType::UInt64 => fill!(keys.as_primitive::<UInt64Type>(), hash_split_u64),
        DataType::Utf8 => fill!(keys.as_string::<i32>(), |s: &str, seed| hash_split_bytes(
            s.as_bytes(),
            seed
        )),
        DataType::LargeUtf8 => fill!(keys.as_string::<i64>(), |s: &str, seed| hash_split_bytes(
            s.as_bytes(),
            seed
        )),
        DataType::Utf8View => fill!(keys.as_string_view(), |s: &str, seed| hash_split_bytes(
            s.as_bytes(),
            seed
        )),
        DataType::Null => out.append_nulls(n),
        other => {
            return exec_err!(
                "hash_split argument 1 (key) must be an integer or a string, got {other}"
            );
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values, computed independently with Python's `xxhash` package
    /// (`(xxh64_intdigest(key, seed) >> 11) / 2**53`). If one of these changes, every user's
    /// saved split changes: never update them to make a test pass.
    #[test]
    fn pinned_values_never_change() {
        let cases: [(&str, u64, f64); 6] = [
            ("", 0, 0.9346749315317059),
            ("user_1", 0, 0.356586586707784),
            ("42", 0, 0.42930542315920395),
            ("42", 7, 0.05868625947428607),
            ("-5", 0, 0.7047626046580162),
            ("中文", 0, 0.653755964589661),
        ];
        for (key, seed, expected) in cases {
            assert_eq!(
                hash_split_bytes(key.as_bytes(), seed),
                expected,
                "key {key:?} seed {seed}"
            );
        }
        assert_eq!(hash_split_i64(42, 7), 0.05868625947428607);
        assert_eq!(hash_split_i64(-5, 0), 0.7047626046580162);
    }

    #[test]
    fn integers_hash_as_decimal_text() {
        assert_eq!(hash_split_i64(42, 3), hash_split_bytes(b"42", 3));
        assert_eq!(hash_split_u64(42, 3), hash_split_bytes(b"42", 3));
        assert_eq!(hash_split_i64(-5, 0), hash_split_bytes(b"-5", 0));
    }

    #[test]
    fn uniform_enough() {
        let n = 100_000;
        let below = (0..n).filter(|&i| hash_split_i64(i, 0) < 0.3).count();
        let share = below as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.01, "share below 0.3 was {share}");
    }
}
