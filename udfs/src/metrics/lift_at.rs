//! `lift_at(label, score, fraction)`: lift in the top fraction of rows by score.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::scored_pairs::MetricSpec;
use crate::doc::DOC_SECTION_MODELS;

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Aggregate: the positive rate among the top fraction of rows by score divided by the overall positive rate — how much better than random a campaign to the top-scored customers does. The top is ceil(fraction × rows) rows; rows tied at the cut count in proportion, so the result does not depend on row order. NULL for an empty group or no positives.",
        "lift_at(label, score, fraction)",
    )
    .with_argument("label", "Boolean, or integer 0/1 (another integer is an error). NULL rows are skipped.")
    .with_argument("score", "Numeric: a score or probability, higher meaning more likely positive. NULL and NaN rows are skipped.")
    .with_argument("fraction", "Constant in (0, 1], e.g. 0.1 for the top decile.")
    .with_sql_example("```sql\n> SELECT lift_at(bought, p, 0.1) AS top_decile_lift FROM scored;\n```")
    .build()
});

/// The `lift_at` aggregate.
pub static SPEC: MetricSpec = MetricSpec {
    name: "lift_at",
    documentation: &DOCUMENTATION,
    finish: |labels, scores, _fraction| super::binary::lift_at(labels, scores, _fraction),
    with_fraction: true,
};
