//! `segment_distance('model', f1, …)`: each row's distance to the centroid of its segment.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::model_args::{coerce_model_and_features, feature_arrays, resolve_model_arg};
use crate::model::{ModelStore, StoreHandle};
use crate::segments::assign::assign_arrays;

/// The `segment_distance` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentDistanceFunc {
    signature: Signature,
    store: StoreHandle,
}

impl SegmentDistanceFunc {
    /// The SQL name.
    pub const NAME: &'static str = "segment_distance";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Volatile),
            store: StoreHandle(store),
        }
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Distance from each row to the centroid of its segment under a k-means model, measured \
         in the model's encoded feature space (standardised numerics and one-hot strings): \
         Euclidean distance, or 1 − cosine similarity for models trained with distance = \
         'cosine'. Large values mark customers who fit their segment poorly. Same arguments and \
         NULL rules as segment().",
        "segment_distance('model', feature1 [, feature2, …])",
    )
    .with_argument(
        "model",
        "Constant string: a k-means model name, optionally with @version.",
    )
    .with_argument("featureN", "The model's features, in training order.")
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, segment('seg', orders, revenue) AS s,\n\
                  segment_distance('seg', orders, revenue) AS d\n\
           FROM user_features ORDER BY d DESC LIMIT 10;\n\
         ```",
    )
    .build()
});

impl ScalarUDFImpl for SegmentDistanceFunc {
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
        let a = assign_arrays(Self::NAME, &model, &arrays, args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(Float64Array::new(
            a.distances.into(),
            a.nulls,
        ))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
