//! `predict_proba('model', f1, …)`: the probability of the positive class (two-class models) or
//! of the predicted class (more classes).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::{class_names, classify_arrays};
use crate::ml::model_args::{coerce_model_and_features, feature_arrays, resolve_model_arg};
use crate::model::{ModelStore, StoreHandle};

/// The `predict_proba` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictProbaFunc {
    signature: Signature,
    store: StoreHandle,
}

impl PredictProbaFunc {
    /// The SQL name.
    pub const NAME: &'static str = "predict_proba";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            // Volatile: never folded at planning time; the model is looked up when the query runs.
            signature: Signature::user_defined(Volatility::Volatile),
            store: StoreHandle(store),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "A probability per row under a classifier: for a two-class model the probability of \
         the positive class (named in ml_model_info: true, 1, or the later of two strings); \
         for more classes the probability of the predicted class (use predict_label_probs for \
         every class). A row with NaN or infinity gets NULL.",
        "predict_proba('model', feature1 [, …])",
    )
    .with_argument(
        "model",
        "Constant string: a classifier's name, optionally with @version.",
    )
    .with_argument("featureN", "The model's features, in training order.")
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, predict_proba('buyer', orders, revenue, views) AS p\n\
           FROM user_features ORDER BY p DESC LIMIT 20;\n\
         ```",
    )
    .build()
});

impl ScalarUDFImpl for PredictProbaFunc {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_model_and_features(Self::NAME, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = resolve_model_arg(Self::NAME, &*self.store, &args)?;
        let arrays = feature_arrays(&args)?;
        let c = classify_arrays(Self::NAME, &model, &arrays, args.number_rows, false)?;
        let (_, positive) = class_names(Self::NAME, &model)?;
        let values: Vec<f64> = (0..args.number_rows)
            .map(|r| c.probability(r, positive))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(Float64Array::new(
            values.into(),
            c.nulls,
        ))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
