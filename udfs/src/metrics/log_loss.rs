//! `log_loss(label, p)`: mean log loss of probabilities (scikit-learn's log_loss).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::scored_pairs::MetricSpec;
use crate::doc::DOC_SECTION_MODELS;

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Aggregate: mean log loss −[y ln p + (1 − y) ln(1 − p)] of predicted probabilities against binary labels, p clipped to [ε, 1 − ε] with ε = 2.2e-16 (as scikit-learn's log_loss). NULL for an empty group.",
        "log_loss(label, p)",
    )
    .with_argument("label", "Boolean, or integer 0/1 (another integer is an error). NULL rows are skipped.")
    .with_argument("p", "Numeric probability of the positive class. NULL and NaN rows are skipped.")
    .with_sql_example("```sql\n> SELECT log_loss(bought, predict_proba('buyer', orders, revenue)) FROM holdout;\n```")
    .build()
});

/// The `log_loss` aggregate.
pub static SPEC: MetricSpec = MetricSpec {
    name: "log_loss",
    documentation: &DOCUMENTATION,
    finish: |labels, scores, _fraction| super::binary::log_loss(labels, scores),
    with_fraction: false,
};
