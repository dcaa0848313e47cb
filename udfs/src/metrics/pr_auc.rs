//! `pr_auc(label, score)`: exact average precision (scikit-learn's average_precision_score).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::scored_pairs::MetricSpec;
use crate::doc::DOC_SECTION_MODELS;

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Aggregate: average precision of scores against binary labels — the area under the step-wise precision-recall curve, sum over thresholds of (recall gain × precision), equal to scikit-learn's average_precision_score. NULL when the group has no rows or a single class.",
        "pr_auc(label, score)",
    )
    .with_argument("label", "Boolean, or integer 0/1 (another integer is an error). NULL rows are skipped.")
    .with_argument("score", "Numeric: a score or probability, higher meaning more likely positive. NULL and NaN rows are skipped.")
    .with_sql_example("```sql\n> SELECT segment_name, pr_auc(churned, p) FROM scored GROUP BY segment_name;\n```")
    .build()
});

/// The `pr_auc` aggregate.
pub static SPEC: MetricSpec = MetricSpec {
    name: "pr_auc",
    documentation: &DOCUMENTATION,
    finish: |labels, scores, _fraction| super::binary::pr_auc(labels, scores),
    with_fraction: false,
};
