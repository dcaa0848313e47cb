//! `roc_auc(label, score)`: exact area under the ROC curve (scikit-learn's roc_auc_score).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::scored_pairs::MetricSpec;
use crate::doc::DOC_SECTION_MODELS;

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Aggregate: the exact area under the ROC curve of scores against binary labels — the probability that a random positive scores above a random negative, ties counting one half (equal to scikit-learn's roc_auc_score). NULL when the group has no rows or a single class.",
        "roc_auc(label, score)",
    )
    .with_argument("label", "Boolean, or integer 0/1 (another integer is an error). NULL rows are skipped.")
    .with_argument("score", "Numeric: a score or probability, higher meaning more likely positive. NULL and NaN rows are skipped.")
    .with_sql_example("```sql\n> SELECT roc_auc(bought, predict_proba('buyer', orders, revenue)) FROM holdout;\n```")
    .build()
});

/// The `roc_auc` aggregate.
pub static SPEC: MetricSpec = MetricSpec {
    name: "roc_auc",
    documentation: &DOCUMENTATION,
    finish: |labels, scores, _fraction| super::binary::roc_auc(labels, scores),
    with_fraction: false,
};
