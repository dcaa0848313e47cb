//! `sentiment_explain(text [, language])`: why a text got its score, as a list of
//! `{token, contribution}` structs in text order. `token` quotes the text a contribution comes
//! from, with the words that changed it ("not very good", "!!!"); the contributions already
//! include negation, degree, emphasis and contrast weights and add up to the raw score, of
//! which `sentiment` is `tanh(raw / 4)`. NULL text gives NULL; text with no sentiment gives an
//! empty list.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Builder, ListArray, StringBuilder, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};

use super::arguments::{self, LanguageArg};
use super::score::{contributions, score_text};
use super::tokens::Scratch;
use crate::doc::DOC_SECTION_SENTIMENT;

const NAME: &str = "sentiment_explain";

fn struct_fields() -> Fields {
    Fields::from(vec![
        Field::new("token", DataType::Utf8, false),
        Field::new("contribution", DataType::Float64, false),
    ])
}

fn item_field() -> FieldRef {
    Arc::new(Field::new_list_field(
        DataType::Struct(struct_fields()),
        false,
    ))
}

/// The return type: `List<Struct{token: Utf8, contribution: Float64}>`.
pub fn explain_type() -> DataType {
    DataType::List(item_field())
}

/// Kernel: the explanation of every row of a string array.
pub fn sentiment_explain_array(text: &ArrayRef, lang: &LanguageArg) -> Result<ArrayRef> {
    let n = text.len();
    let mut tokens = StringBuilder::with_capacity(n * 4, n * 64);
    let mut values = Float64Builder::with_capacity(n * 4);
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    let mut valid: Vec<bool> = Vec::with_capacity(n);
    offsets.push(0);
    let mut len: i32 = 0;
    let mut scratch = Scratch::default();
    arguments::for_each_text(NAME, text, lang, |t, l| {
        if let Some(t) = t {
            score_text(t, l, &mut scratch);
            for ((a, b), v) in contributions(&scratch) {
                tokens.append_value(&t[a..b]);
                values.append_value(v);
                len += 1;
            }
        }
        valid.push(t.is_some());
        offsets.push(len);
    })?;
    let items = StructArray::try_new(
        struct_fields(),
        vec![Arc::new(tokens.finish()), Arc::new(values.finish())],
        None,
    )?;
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
    let list = ListArray::try_new(
        item_field(),
        OffsetBuffer::new(offsets.into()),
        Arc::new(items),
        nulls,
    )?;
    Ok(Arc::new(list))
}

/// The `sentiment_explain` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentExplainFunc {
    signature: Signature,
}

impl Default for SentimentExplainFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentExplainFunc {
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
        "Why a text got its sentiment score: a list of {token, contribution} structs in text \
         order. Each token quotes the text the contribution comes from, with the words that \
         changed it ('not very good', 'but it broke', '!!!'); contributions already include \
         negation, degree, emphasis and contrast weights, and they add up to the raw score of \
         which sentiment(text) is tanh(raw / 4). NULL text gives NULL; text with no sentiment \
         word gives an empty list.",
        "sentiment_explain(text [, language])",
    )
    .with_argument("text", "The text to explain: any string type.")
    .with_argument(
        "language",
        "Optional: 'en' or 'zh' to force the rules of that language, or a column of such codes; \
         omitted or NULL detects it per row. Another value is an error naming it.",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT sentiment_explain('Not very good, but it works!!');\n\
         > SELECT e.token, e.contribution\n\
         \x20 FROM (SELECT unnest(sentiment_explain('质量很好，就是物流有点慢')) AS e);\n\
         ```",
    )
    .with_related_udf("sentiment")
    .with_related_udf("sentiment_label")
    .build()
});

impl ScalarUDFImpl for SentimentExplainFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(explain_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        arguments::check_literal_language(NAME, &args)?;
        Ok(Arc::new(Field::new(NAME, explain_type(), true)))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arguments::coerce(NAME, arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        arguments::evaluate(NAME, &args.args, args.number_rows, sentiment_explain_array)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray, StringArray};
    use datafusion::arrow::datatypes::Float64Type;

    use super::*;
    use crate::sentiment::score::normalize;
    use crate::sentiment::sentiment::sentiment_array;

    #[test]
    fn contributions_sum_to_the_raw_score() {
        let texts = vec![
            Some("Great phone!!! But the battery is NOT very good :("),
            None,
            Some(""),
            Some("虽然物流有点慢，但是质量非常好！！"),
        ];
        let text: ArrayRef = Arc::new(StringArray::from(texts));
        let out = sentiment_explain_array(&text, &LanguageArg::Detect).unwrap();
        let scores = sentiment_array(&text, &LanguageArg::Detect).unwrap();
        let scores = scores.as_primitive::<Float64Type>();
        let list = out.as_list::<i32>();
        assert_eq!(list.len(), 4);
        assert!(list.is_null(1));
        assert_eq!(list.value(2).len(), 0);
        for row in [0, 3] {
            let items = list.value(row);
            let items = items.as_struct();
            let contrib = items.column(1).as_primitive::<Float64Type>();
            let raw: f64 = contrib.values().iter().sum();
            assert_eq!(normalize(raw), scores.value(row), "row {row}");
            assert!(items.len() >= 2);
        }
        let first = list.value(0);
        let tokens = first.as_struct().column(0).as_string::<i32>().clone();
        let tokens: Vec<&str> = tokens.iter().flatten().collect();
        assert_eq!(tokens, ["Great", "!!!", "NOT very good", ":("]);
    }
}
