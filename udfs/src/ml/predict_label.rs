//! `predict_label('model', f1, … [, threshold])`: the predicted class of each row.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::StringBuilder;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::{class_names, classify_arrays};
use crate::ml::model_args::{coerce_model_and_features, feature_arrays, resolve_model_arg};
use crate::model::{ModelStore, StoreHandle};

/// The `predict_label` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictLabelFunc {
    signature: Signature,
    store: StoreHandle,
}

impl PredictLabelFunc {
    /// The SQL name.
    pub const NAME: &'static str = "predict_label";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            // Volatile so the optimizer never evaluates it at planning time (the model is looked
            // up when the query runs).
            signature: Signature::user_defined(Volatility::Volatile),
            store: StoreHandle(store),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "The predicted class of each row under a classifier (model_type 'naive_bayes'), as text. \
         For a two-class model an optional last argument sets the probability threshold for \
         the positive class (default: the most probable class). Features are passed in \
         training order and encoded as in training; a row with NaN or infinity gets NULL.",
        "predict_label('model', feature1 [, …] [, threshold])",
    )
    .with_argument("model", "Constant string: a classifier's name, optionally with @version.")
    .with_argument("featureN", "The model's features, in training order.")
    .with_argument("threshold", "Optional, two-class models: predict the positive class when its probability is at least this.")
    .with_sql_example(
        "```sql\n\
         > CREATE MODEL persona OPTIONS (model_type = 'naive_bayes', label = 'persona')\n\
           AS SELECT orders, revenue, views, persona FROM labelled_users;\n\
         > SELECT predict_label('persona', orders, revenue, views) FROM user_features;\n\
         ```",
    )
    .build()
});

impl ScalarUDFImpl for PredictLabelFunc {
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
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = resolve_model_arg(Self::NAME, &*self.store, &args)?;
        let arrays = feature_arrays(&args)?;
        let c = classify_arrays(Self::NAME, &model, &arrays, args.number_rows, true)?;
        let (names, positive) = class_names(Self::NAME, &model)?;
        let mut out = StringBuilder::with_capacity(args.number_rows, args.number_rows * 8);
        for r in 0..args.number_rows {
            if c.nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                out.append_null();
            } else {
                out.append_value(&names[c.predicted(r, positive)]);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
