//! `ml_predict('model', 'SELECT …')`: the query's rows with the model's predictions added
//! (BigQuery's `ML.PREDICT`). Features are matched to the query's columns by name; every
//! column of the query is passed through.
//!
//! The result is a plan over the query with the scalar functions (`segment`,
//! `predict_label`, …) applied, so the model is read when the query runs and predictions
//! stream like any projection.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlanBuilder, ScalarUDF, lit};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::model_args::{feature_indices, string_literal};
use crate::ml::{predict_label, predict_label_probs, predict_proba};
use crate::model::{ModelBody, ModelRef, ModelStore, StoreHandle};
use crate::query_arg::plan_query_arg;
use crate::segments::{segment, segment_distance};

/// The `ml_predict` table function.
#[derive(Debug)]
pub struct MlPredictFunc {
    store: StoreHandle,
}

impl MlPredictFunc {
    /// The SQL name.
    pub const NAME: &'static str = "ml_predict";

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
        "Table function: the rows of a query with a model's predictions added. The model's \
         features are taken from the query's columns of the same names; all columns pass \
         through. k-means models add centroid_id (as segment()) and centroid_distance (as \
         segment_distance()); classifiers add predicted_label, probability (as predict_proba()) \
         and predicted_label_probs. A query missing a feature is an error naming it.",
        "ml_predict('model', 'SELECT …')",
    )
    .with_argument("model", "A model name, optionally with @version.")
    .with_argument(
        "query",
        "A query (SELECT, WITH or VALUES) returning the model's feature columns by name.",
    )
    .with_sql_example(
        "```sql\n\
         > SELECT centroid_id, count(*) AS users, avg(revenue) AS revenue\n\
           FROM ml_predict('seg', 'SELECT * FROM user_features')\n\
           GROUP BY centroid_id ORDER BY centroid_id;\n\
         ```",
    )
    .build()
});

impl TableFunctionImpl for MlPredictFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 2 {
            return plan_err!(
                "{} expects 2 arguments (a model name and a query), got {}",
                Self::NAME,
                args.exprs().len()
            );
        }
        let model_text = string_literal(Self::NAME, args.exprs(), 0, "model")?;
        let query = string_literal(Self::NAME, args.exprs(), 1, "query")?;
        let model_ref = ModelRef::parse(&model_text)?;
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return exec_err!("{} needs a DataFusion SessionState", Self::NAME);
        };
        // Only the model's signature (type, feature names) is read now, to fix the output
        // schema; its parameters are read by the scalar functions when the query runs.
        let model = model_ref.resolve(&*self.store)?;
        let input = plan_query_arg(Self::NAME, 2, state, &query)?;
        let arrow_schema = input.schema().as_arrow().clone();
        let idx = feature_indices(Self::NAME, &model, &arrow_schema)?;
        let columns = input.schema().columns();
        let mut call_args = vec![lit(model_text.clone())];
        call_args.extend(idx.iter().map(|&i| Expr::Column(columns[i].clone())));
        let store = Arc::clone(&self.store.0);
        let call = |udf: ScalarUDF, name: &str| {
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), call_args.clone()))
                .alias(name)
        };
        let added: Vec<Expr> = match &model.body {
            ModelBody::Kmeans(_) => vec![
                call(
                    ScalarUDF::new_from_impl(segment::SegmentFunc::new(Arc::clone(&store))),
                    "centroid_id",
                ),
                call(
                    ScalarUDF::new_from_impl(segment_distance::SegmentDistanceFunc::new(
                        Arc::clone(&store),
                    )),
                    "centroid_distance",
                ),
            ],
            ModelBody::NaiveBayes(_)
            | ModelBody::LogisticReg(_)
            | ModelBody::BoostedTree(_)
            | ModelBody::TextClassifier(_) => {
                vec![
                    call(
                        ScalarUDF::new_from_impl(predict_label::PredictLabelFunc::new(Arc::clone(
                            &store,
                        ))),
                        "predicted_label",
                    ),
                    call(
                        ScalarUDF::new_from_impl(predict_proba::PredictProbaFunc::new(Arc::clone(
                            &store,
                        ))),
                        "probability",
                    ),
                    call(
                        ScalarUDF::new_from_impl(predict_label_probs::PredictLabelProbsFunc::new(
                            Arc::clone(&store),
                        )),
                        "predicted_label_probs",
                    ),
                ]
            }
        };
        for e in &added {
            let name = e.schema_name().to_string();
            if arrow_schema.index_of(&name).is_ok() {
                return plan_err!(
                    "{}: the query already has a column named {name}, which ml_predict adds; rename it",
                    Self::NAME
                );
            }
        }
        let mut exprs: Vec<Expr> = columns.into_iter().map(Expr::Column).collect::<Vec<_>>();
        exprs.extend(added);
        let plan = LogicalPlanBuilder::from(input).project(exprs)?.build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
