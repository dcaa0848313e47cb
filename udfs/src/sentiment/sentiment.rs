//! `sentiment(text [, language])`: a score in [−1, 1] for each text, from the lexicon-and-rules
//! scorer of this module (see [`super::score`] for the rules). NULL text gives NULL; empty or
//! whitespace-only text gives 0.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use super::arguments::{self, LanguageArg};
use super::score::score_text;
use super::tokens::Scratch;
use crate::doc::DOC_SECTION_SENTIMENT;

const NAME: &str = "sentiment";

/// Kernel: the score of every row of a string array.
pub fn sentiment_array(text: &ArrayRef, lang: &LanguageArg) -> Result<ArrayRef> {
    let mut out = Float64Builder::with_capacity(text.len());
    let mut scratch = Scratch::default();
    arguments::for_each_text(NAME, text, lang, |t, l| match t {
        Some(t) => out.append_value(score_text(t, l, &mut scratch).score()),
        None => out.append_null(),
    })?;
    Ok(Arc::new(out.finish()))
}

/// The `sentiment` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentFunc {
    signature: Signature,
}

impl Default for SentimentFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentFunc {
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
        "Sentiment of a text as a score in [-1, 1] (negative to positive), in English or Chinese, \
         offline and explainable (see sentiment_explain). A lexicon plus rules: negation and its \
         scope, degree words (very, slightly, 非常, 有点), contrast (the clause after 'but' / \
         '但是' weighs more), ALL CAPS, '!!!', elongation ('sooo'), emoticons and emoji, and shop \
         phrasing ('arrived broken', 'would buy again', 物流很快, 差评). The score is \
         tanh(raw / 4), where raw is the sum of the contributions sentiment_explain lists. NULL \
         text gives NULL; empty or whitespace-only text gives 0.",
        "sentiment(text [, language])",
    )
    .with_argument("text", "The text to score: any string type.")
    .with_argument(
        "language",
        "Optional: 'en' or 'zh' (any case) to force the rules of that language, or a column of \
         such codes. Omitted or NULL detects it per row: Chinese when the text has at least as \
         many Han characters as Latin-script words, else English. Words of the other script are \
         scored either way. Another value is an error naming it.",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT sentiment('Arrived broken, but the seller refunded me quickly.');\n\
         > SELECT sentiment('物流很快，质量非常好！', 'zh');\n\
         > SELECT product_id, avg(sentiment(review_text, language)) FROM reviews GROUP BY 1;\n\
         ```",
    )
    .with_related_udf("sentiment_label")
    .with_related_udf("sentiment_explain")
    .build()
});

impl ScalarUDFImpl for SentimentFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        arguments::check_literal_language(NAME, &args)?;
        Ok(Arc::new(Field::new(NAME, DataType::Float64, true)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arguments::coerce(NAME, arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        arguments::evaluate(NAME, &args.args, args.number_rows, sentiment_array)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{
        Array, AsArray, LargeStringArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Float64Type;

    use super::*;
    use crate::sentiment::score::Language;

    #[test]
    fn every_string_type_and_nulls() {
        let arrays: [ArrayRef; 3] = [
            Arc::new(StringArray::from(vec![
                Some("great"),
                None,
                Some(""),
                Some("awful"),
            ])),
            Arc::new(LargeStringArray::from(vec![
                Some("great"),
                None,
                Some(""),
                Some("awful"),
            ])),
            Arc::new(StringViewArray::from(vec![
                Some("great"),
                None,
                Some(""),
                Some("awful"),
            ])),
        ];
        for a in arrays {
            let out = sentiment_array(&a, &LanguageArg::Detect).unwrap();
            let out = out.as_primitive::<Float64Type>();
            assert!(out.value(0) > 0.3);
            assert!(out.is_null(1));
            assert_eq!(out.value(2), 0.0);
            assert!(out.value(3) < -0.3);
        }
    }

    #[test]
    fn per_row_language_and_its_errors() {
        let text: ArrayRef = Arc::new(StringArray::from(vec!["GOOD", "GOOD", "GOOD"]));
        let langs = LanguageArg::PerRow(StringArray::from(vec![Some("en"), Some("ZH"), None]));
        let out = sentiment_array(&text, &langs).unwrap();
        let out = out.as_primitive::<Float64Type>();
        assert!(out.value(0) > out.value(1), "caps emphasis only in English");
        assert_eq!(
            out.value(0),
            out.value(2),
            "NULL language detects (English)"
        );
        let bad = LanguageArg::PerRow(StringArray::from(vec!["en", "fr", "en"]));
        let e = sentiment_array(&text, &bad).unwrap_err().to_string();
        assert!(e.contains("must be 'en' or 'zh', got 'fr'"), "{e}");
        assert!(matches!(
            LanguageArg::Fixed(Language::Zh),
            LanguageArg::Fixed(Language::Zh)
        ));
    }
}
