//! `ml_lift_table('model', 'SELECT …', buckets)`: the rows of a query ranked by a two-class
//! model's probability and cut into equal buckets (deciles for 10), best first — the table a
//! marketer plans a campaign from: who to contact first and how much better than random that is.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Documentation, LogicalPlan};

use crate::doc::DOC_SECTION_MODELS;
use crate::metrics::binary::positives_in_top;
use crate::ml::classify::binary_scores;
use crate::ml::lazy_table::{LazyTable, TableComputation};
use crate::ml::model_args::{int_literal, string_literal};
use crate::model::{ModelRef, ModelStore, StoreHandle};
use crate::query_arg::query_argument;

/// The `ml_lift_table` table function.
#[derive(Debug)]
pub struct MlLiftTableFunc {
    store: StoreHandle,
}

impl MlLiftTableFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_lift_table";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            store: StoreHandle(store),
        }
    }

    /// The in-code documentation.
    pub fn documentation(&self) -> &Documentation {
        &DOCUMENTATION
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Table function: the rows of a query (features and label) ranked by a two-class model's \
         probability and cut into `buckets` equal parts, best first. Per bucket: bucket (1 = \
         highest scores), users, positives, rate (positives / users), lift (rate / overall \
         rate), cumulative_gain (share of all positives found up to this bucket), min_score, \
         max_score. Rows tied at a bucket boundary are shared in proportion, so the table does \
         not depend on row order.",
        "ml_lift_table('model', 'SELECT …', buckets)",
    )
    .with_argument("model", "A two-class model name, optionally with @version.")
    .with_argument("query", "A query returning the model's features and label column by name.")
    .with_argument("buckets", "Number of buckets, 1 to 1000 (10 for deciles).")
    .with_sql_example(
        "```sql\n\
         > SELECT bucket, users, round(rate, 3) AS rate, round(lift, 2) AS lift, round(cumulative_gain, 2) AS gain\n\
           FROM ml_lift_table('churn', 'SELECT * FROM churn_features WHERE held_out', 10);\n\
         ```",
    )
    .build()
});

fn schema() -> SchemaRef {
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        Field::new("bucket", DataType::Int64, false),
        Field::new("users", DataType::Int64, false),
        f("positives"),
        f("rate"),
        f("lift"),
        f("cumulative_gain"),
        f("min_score"),
        f("max_score"),
    ]))
}

impl TableFunctionImpl for MlLiftTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 3 {
            return plan_err!(
                "{} expects 3 arguments (a model name, a query and the number of buckets), got {}",
                Self::NAME,
                args.exprs().len()
            );
        }
        let model = ModelRef::parse(&string_literal(Self::NAME, args.exprs(), 0, "model")?)?;
        let query = query_argument(Self::NAME, &args, 1)?;
        let buckets = int_literal(Self::NAME, args.exprs(), 2, "buckets")?;
        if !(1..=1000).contains(&buckets) {
            return plan_err!(
                "{} argument 3 (buckets) must be from 1 to 1000, got {buckets}",
                Self::NAME
            );
        }
        Ok(Arc::new(LazyTable(LiftTable {
            model,
            query,
            buckets: buckets as usize,
            store: self.store.clone(),
        })))
    }
}

#[derive(Debug)]
struct LiftTable {
    model: ModelRef,
    /// The checked plan of the query argument (see `query_arg`).
    query: LogicalPlan,
    buckets: usize,
    store: StoreHandle,
}

/// One bucket of a lift table.
#[derive(Debug, Clone, PartialEq)]
pub struct LiftRow {
    /// Rows in the bucket.
    pub users: usize,
    /// Expected positives (ties at the boundaries shared in proportion).
    pub positives: f64,
    /// Lowest and highest score in the bucket.
    pub min_score: f64,
    /// Highest score in the bucket.
    pub max_score: f64,
}

/// Kernel: the buckets of a lift table, best first (empty buckets are left out).
pub fn lift_rows(y: &[bool], p: &[f64], buckets: usize) -> Vec<LiftRow> {
    let n = y.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut out = Vec::new();
    let mut prev_k = 0;
    let mut prev_pos = 0.0;
    for b in 1..=buckets {
        let k = (b * n).div_ceil(buckets).min(n);
        if k == prev_k {
            continue;
        }
        let pos = positives_in_top(y, p, &idx, k);
        out.push(LiftRow {
            users: k - prev_k,
            positives: pos - prev_pos,
            min_score: p[idx[k - 1]],
            max_score: p[idx[prev_k]],
        });
        prev_k = k;
        prev_pos = pos;
    }
    out
}

#[async_trait]
impl TableComputation for LiftTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    async fn compute(&self, state: &SessionState) -> Result<RecordBatch> {
        let model = self.model.resolve(&*self.store)?;
        let (y, p) = binary_scores(MlLiftTableFunc::NAME, &model, state, &self.query).await?;
        let rows = lift_rows(&y, &p, self.buckets);
        let total_pos = y.iter().filter(|&&v| v).count() as f64;
        let base = total_pos / y.len().max(1) as f64;
        let mut cumulative = 0.0;
        let mut gain = Vec::with_capacity(rows.len());
        for r in &rows {
            cumulative += r.positives;
            gain.push((total_pos > 0.0).then(|| cumulative / total_pos));
        }
        let rate = |r: &LiftRow| r.positives / r.users as f64;
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(1..=rows.len() as i64)),
                Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| r.users as i64),
                )),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| r.positives),
                )),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(rate))),
                Arc::new(
                    rows.iter()
                        .map(|r| (base > 0.0).then(|| rate(r) / base))
                        .collect::<Float64Array>(),
                ),
                Arc::new(Float64Array::from(gain)),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| r.min_score),
                )),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| r.max_score),
                )),
            ],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_partition_rows_and_positives() {
        let y = [
            true, true, false, true, false, false, false, false, true, false,
        ];
        let p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.3, 0.2, 0.1, 0.05];
        let rows = lift_rows(&y, &p, 4);
        assert_eq!(rows.iter().map(|r| r.users).sum::<usize>(), 10);
        let total: f64 = rows.iter().map(|r| r.positives).sum();
        assert!((total - 4.0).abs() < 1e-12);
        assert_eq!(rows[0].users, 3);
        assert!((rows[0].positives - 2.0).abs() < 1e-12);
        assert_eq!((rows[0].max_score, rows[0].min_score), (0.9, 0.7));
        // More buckets than rows: empty buckets are left out.
        assert_eq!(lift_rows(&y[..2], &p[..2], 10).len(), 2);
    }
}
