//! `sentiment_label(text [, language])`: 'positive', 'neutral' or 'negative' for each text: the
//! score of `sentiment` cut at the documented thresholds ([`POSITIVE_AT`], [`NEGATIVE_AT`]).
//! NULL text gives NULL; empty or whitespace-only text gives 'neutral'.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use super::arguments::{self, LanguageArg};
use super::score::{NEGATIVE_AT, POSITIVE_AT, score_text};
use super::tokens::Scratch;
use crate::doc::DOC_SECTION_SENTIMENT;

const NAME: &str = "sentiment_label";

/// Kernel: the label of every row of a string array.
pub fn sentiment_label_array(text: &ArrayRef, lang: &LanguageArg) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(text.len(), text.len() * 8);
    let mut scratch = Scratch::default();
    arguments::for_each_text(NAME, text, lang, |t, l| match t {
        Some(t) => out.append_value(score_text(t, l, &mut scratch).label()),
        None => out.append_null(),
    })?;
    Ok(Arc::new(out.finish()))
}

/// The `sentiment_label` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentLabelFunc {
    signature: Signature,
}

impl Default for SentimentLabelFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentLabelFunc {
    /// Creates the function.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_SENTIMENT,
        format!(
            "The sentiment of a text as a label: 'positive' when sentiment(text) >= {POSITIVE_AT}, \
             'negative' when it is <= {NEGATIVE_AT}, else 'neutral' (text with no sentiment word \
             scores exactly 0). Same rules, languages and arguments as sentiment. NULL text \
             gives NULL; empty or whitespace-only text gives 'neutral'."
        ),
        "sentiment_label(text [, language])",
    )
    .with_argument("text", "The text to label: any string type.")
    .with_argument(
        "language",
        "Optional: 'en' or 'zh' to force the rules of that language, or a column of such codes; \
         omitted or NULL detects it per row. Another value is an error naming it.",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT sentiment_label('Would not buy again.');\n\
         > SELECT sentiment_label(review_text, language) AS label, count(*) FROM reviews GROUP BY 1;\n\
         ```",
    )
    .with_related_udf("sentiment")
    .with_related_udf("sentiment_explain")
    .build()
});

impl ScalarUDFImpl for SentimentLabelFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        arguments::check_literal_language(NAME, &args)?;
        Ok(Arc::new(Field::new(NAME, DataType::Utf8, true)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arguments::coerce(NAME, arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        arguments::evaluate(NAME, &args.args, args.number_rows, sentiment_label_array)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray, StringArray};

    use super::*;

    #[test]
    fn labels_and_nulls() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("Would buy again"),
            Some("  "),
            None,
            Some("差评"),
            Some("the box is blue"),
        ]));
        let out = sentiment_label_array(&text, &LanguageArg::Detect).unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "positive");
        assert_eq!(out.value(1), "neutral");
        assert!(out.is_null(2));
        assert_eq!(out.value(3), "negative");
        assert_eq!(out.value(4), "neutral");
    }
}
