//! `segment('model', f1, …)`: the customer segment (k-means cluster, 1-based) of each row.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::model_args::{coerce_model_and_features, feature_arrays, resolve_model_arg};
use crate::model::{ModelStore, StoreHandle};
use crate::segments::assign::assign_arrays;

/// The `segment` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentFunc {
    signature: Signature,
    store: StoreHandle,
}

impl SegmentFunc {
    /// The SQL name.
    pub const NAME: &'static str = "segment";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            // Volatile: the model behind a name can change between queries (a new version).
            signature: Signature::user_defined(Volatility::Volatile),
            store: StoreHandle(store),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "The segment (k-means cluster id, 1 to k) of each row under a model trained with \
         CREATE MODEL … OPTIONS (model_type = 'kmeans'). Features are passed in the order of the \
         training query's columns and encoded exactly as in training (NULLs imputed with the \
         training mean, numerics standardised with the stored scaling, strings one-hot encoded; \
         unseen strings encode as zeros). A row with NaN or infinity gets NULL. The model is \
         looked up by name when the query runs: 'name' is the latest version, 'name@N' version N.",
        "segment('model', feature1 [, feature2, …])",
    )
    .with_argument(
        "model",
        "Constant string: a k-means model name, optionally with @version.",
    )
    .with_argument(
        "featureN",
        "The model's features, in training order: numeric, boolean or string.",
    )
    .with_sql_example(
        "```sql\n\
         > CREATE MODEL seg OPTIONS (model_type = 'kmeans', num_clusters = 4)\n\
           AS SELECT orders, revenue, days_since_last FROM user_features;\n\
         > SELECT segment('seg', orders, revenue, days_since_last) AS s, count(*)\n\
           FROM user_features GROUP BY s ORDER BY s;\n\
         ```",
    )
    .build()
});

impl ScalarUDFImpl for SegmentFunc {
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
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = resolve_model_arg(Self::NAME, &*self.store, &args)?;
        let arrays = feature_arrays(&args)?;
        let a = assign_arrays(Self::NAME, &model, &arrays, args.number_rows)?;
        let values: Vec<i64> = a.labels.iter().map(|&l| i64::from(l) + 1).collect();
        Ok(ColumnarValue::Array(Arc::new(Int64Array::new(
            values.into(),
            a.nulls,
        ))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
