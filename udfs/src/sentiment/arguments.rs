//! The `(text [, language])` arguments shared by `sentiment`, `sentiment_label` and
//! `sentiment_explain`: type checks at planning time, the language argument, and the loop that
//! hands each row's text to a kernel.
//!
//! * `text`: any string type (Utf8, LargeUtf8, Utf8View; dictionary-encoded strings are cast to
//!   Utf8). NULL text gives a NULL result.
//! * `language`: `'en'` or `'zh'` (case-insensitive) forces the rules of that language; omitted
//!   or NULL detects it per row. It may be a column (the `reviews.language` column works as is);
//!   a literal that is not a known code is a planning error, a column value that is not one is an
//!   execution error, both naming the value.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ReturnFieldArgs};

use super::score::Language;

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// `coerce_types` for the three functions.
pub fn coerce(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if arg_types.is_empty() || arg_types.len() > 2 {
        return plan_err!(
            "{name} expects 1 or 2 arguments (text [, language]), got {}",
            arg_types.len()
        );
    }
    let text = match &arg_types[0] {
        t if is_string(t) => t.clone(),
        DataType::Null => DataType::Utf8,
        DataType::Dictionary(_, v) if is_string(v) => DataType::Utf8,
        other => return plan_err!("{name} argument 1 (text) must be a string, got {other}"),
    };
    let mut out = vec![text];
    if let Some(lang) = arg_types.get(1) {
        match lang {
            t if is_string(t) || t == &DataType::Null => out.push(DataType::Utf8),
            DataType::Dictionary(_, v) if is_string(v) => out.push(DataType::Utf8),
            other => {
                return plan_err!(
                    "{name} argument 2 (language) must be a string ('en' or 'zh'), got {other}"
                );
            }
        }
    }
    Ok(out)
}

/// Parses a language code.
pub fn parse_language(name: &str, code: &str) -> Result<Language> {
    if code.eq_ignore_ascii_case("en") {
        Ok(Language::En)
    } else if code.eq_ignore_ascii_case("zh") {
        Ok(Language::Zh)
    } else {
        exec_err!("{name} argument 2 (language) must be 'en' or 'zh', got '{code}'")
    }
}

fn scalar_str(v: &ScalarValue) -> Option<Option<&str>> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
            Some(s.as_deref())
        }
        ScalarValue::Null => Some(None),
        _ => None,
    }
}

/// Planning-time check of a literal language argument, so `sentiment(t, 'fr')` fails before it
/// runs.
pub fn check_literal_language(name: &str, args: &ReturnFieldArgs) -> Result<()> {
    if let Some(Some(v)) = args.scalar_arguments.get(1)
        && let Some(Some(code)) = scalar_str(v)
        && parse_language(name, code).is_err()
    {
        return plan_err!("{name} argument 2 (language) must be 'en' or 'zh', got '{code}'");
    }
    Ok(())
}

/// The language argument of one call.
pub enum LanguageArg {
    /// Omitted or NULL: detect per row.
    Detect,
    /// A literal.
    Fixed(Language),
    /// A column (Utf8 after coercion): per row, NULL detects.
    PerRow(StringArray),
}

impl LanguageArg {
    /// Reads the (optional) second argument.
    pub fn from_args(name: &str, args: &[ColumnarValue], rows: usize) -> Result<LanguageArg> {
        match args.get(1) {
            None => Ok(LanguageArg::Detect),
            Some(ColumnarValue::Scalar(v)) => match scalar_str(v) {
                Some(None) => Ok(LanguageArg::Detect),
                Some(Some(code)) => Ok(LanguageArg::Fixed(parse_language(name, code)?)),
                None => exec_err!(
                    "{name} argument 2 (language) must be a string ('en' or 'zh'), got {}",
                    v.data_type()
                ),
            },
            Some(ColumnarValue::Array(a)) => {
                let a = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
                debug_assert_eq!(a.len(), rows);
                Ok(LanguageArg::PerRow(a.as_string::<i32>().clone()))
            }
        }
    }

    #[inline]
    fn get(&self, name: &str, row: usize) -> Result<Option<Language>> {
        match self {
            LanguageArg::Detect => Ok(None),
            LanguageArg::Fixed(l) => Ok(Some(*l)),
            LanguageArg::PerRow(a) => {
                if a.is_null(row) {
                    Ok(None)
                } else {
                    parse_language(name, a.value(row)).map(Some)
                }
            }
        }
    }
}

/// Calls `f(row text, language)` for each row of the text array (`None` text for NULL).
pub fn for_each_text(
    name: &str,
    text: &ArrayRef,
    lang: &LanguageArg,
    mut f: impl FnMut(Option<&str>, Option<Language>),
) -> Result<()> {
    macro_rules! rows {
        ($arr:expr) => {{
            let arr = $arr;
            for i in 0..arr.len() {
                if arr.is_null(i) {
                    f(None, None);
                } else {
                    f(Some(arr.value(i)), lang.get(name, i)?);
                }
            }
        }};
    }
    match text.data_type() {
        DataType::Utf8 => rows!(text.as_string::<i32>()),
        DataType::LargeUtf8 => rows!(text.as_string::<i64>()),
        DataType::Utf8View => rows!(text.as_string_view()),
        DataType::Null => (0..text.len()).for_each(|_| f(None, None)),
        other => return exec_err!("{name} argument 1 (text) must be a string, got {other}"),
    }
    Ok(())
}

/// Evaluates a function over its arguments: turns scalars into one-row arrays, runs `kernel` on
/// the text array, and turns the result back into a scalar when every argument was one.
pub fn evaluate(
    name: &str,
    args: &[ColumnarValue],
    number_rows: usize,
    kernel: impl FnOnce(&ArrayRef, &LanguageArg) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { number_rows };
    let text = args[0].to_array(rows)?;
    let lang = LanguageArg::from_args(name, args, rows)?;
    let out = kernel(&text, &lang)?;
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}
