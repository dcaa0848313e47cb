//! Sentiment of review text in English and Chinese: a lexicon-and-rules scorer and its SQL
//! functions `sentiment`, `sentiment_label` and `sentiment_explain`.
//!
//! Kernels and wrappers are kept apart:
//!
//! | file | holds |
//! |---|---|
//! | `lexicon.rs` | the embedded lexicons (`data/lexicon/*.tsv`) and their lookup tables |
//! | `tokens.rs` | text → tokens: dispatch by script, punctuation, emoji |
//! | `english.rs` | Latin-script words: caps, elongation, phrases |
//! | `chinese.rs` | Han text: longest-match segmentation |
//! | `score.rs` | the rules (negation, degree, contrast, emphasis), score and label |
//! | `arguments.rs` | the `(text [, language])` arguments shared by the SQL functions |
//! | `text_hashing.rs` | text → hashed word and character n-grams (`text_classifier` models) |
//! | `text_classifier.rs` | the `text_classifier` kernel: fit and predict on hashed n-grams |
//! | `sentiment.rs`, `sentiment_label.rs`, `sentiment_explain.rs` | the SQL functions |
//!
//! To add a function, create `<sql_name>.rs` here and list it in [`scalar_udfs`]. To improve
//! the scorer on some phrasing, add lexicon lines first (see `data/README.md`), rules second.

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

pub mod arguments;
pub mod chinese;
pub mod english;
pub mod lexicon;
pub mod score;
// One file per SQL function, named after it (the house rule), even where the family shares the
// name.
#[allow(clippy::module_inception)]
pub mod sentiment;
pub mod sentiment_explain;
pub mod sentiment_label;
pub mod text_classifier;
pub mod text_hashing;
pub mod tokens;

/// The scalar functions of this family.
pub fn scalar_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::new_from_impl(sentiment::SentimentFunc::new())),
        Arc::new(ScalarUDF::new_from_impl(
            sentiment_label::SentimentLabelFunc::new(),
        )),
        Arc::new(ScalarUDF::new_from_impl(
            sentiment_explain::SentimentExplainFunc::new(),
        )),
    ]
}
