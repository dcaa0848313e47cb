//! `predict_label_probs('model', f1, …)`: every class with its probability (BigQuery's
//! `predicted_<label>_probs`), most probable first.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Float64Builder, ListBuilder, StringBuilder, StructBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::doc::DOC_SECTION_MODELS;
use crate::ml::classify::{class_names, classify_arrays};
use crate::ml::model_args::{coerce_model_and_features, feature_arrays, resolve_model_arg};
use crate::model::{ModelStore, StoreHandle};

/// The `predict_label_probs` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PredictLabelProbsFunc {
    signature: Signature,
    store: StoreHandle,
}

impl PredictLabelProbsFunc {
    /// The SQL name.
    pub const NAME: &'static str = "predict_label_probs";

    /// Creates the function reading models from `store`.
    pub fn new(store: Arc<dyn ModelStore>) -> Self {
        Self {
            // Volatile: never folded at planning time; the model is looked up when the query runs.
            signature: Signature::user_defined(Volatility::Volatile),
            store: StoreHandle(store),
        }
    }

    fn item_fields() -> Fields {
        Fields::from(vec![
            Field::new("label", DataType::Utf8, false),
            Field::new("prob", DataType::Float64, false),
        ])
    }

    /// The return type: `List<Struct<label: Utf8, prob: Float64>>`.
    pub fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(Self::item_fields()),
            true,
        )))
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MODELS,
        "Every class of a classifier with its probability for each row, as a list of \
         {label, prob} sorted by probability, highest first. A row with NaN or infinity gets \
         NULL.",
        "predict_label_probs('model', feature1 [, …])",
    )
    .with_argument(
        "model",
        "Constant string: a classifier's name, optionally with @version.",
    )
    .with_argument("featureN", "The model's features, in training order.")
    .with_sql_example(
        "```sql\n\
         > SELECT user_id, predict_label_probs('persona', orders, revenue, views)[1]['label']\n\
           FROM user_features;\n\
         ```",
    )
    .build()
});

impl ScalarUDFImpl for PredictLabelProbsFunc {
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
        Ok(Self::data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = resolve_model_arg(Self::NAME, &*self.store, &args)?;
        let arrays = feature_arrays(&args)?;
        let c = classify_arrays(Self::NAME, &model, &arrays, args.number_rows, false)?;
        let (names, _) = class_names(Self::NAME, &model)?;
        let item = StructBuilder::new(
            Self::item_fields(),
            vec![
                Box::new(StringBuilder::new()),
                Box::new(Float64Builder::new()),
            ],
        );
        let mut out = ListBuilder::new(item).with_field(Arc::new(Field::new(
            "item",
            DataType::Struct(Self::item_fields()),
            true,
        )));
        let mut order: Vec<usize> = (0..c.classes).collect();
        for r in 0..args.number_rows {
            if c.nulls.as_ref().is_some_and(|n| n.is_null(r)) {
                out.append(false);
                continue;
            }
            let p = &c.proba[r * c.classes..(r + 1) * c.classes];
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
            let items = out.values();
            for &k in &order {
                items
                    .field_builder::<StringBuilder>(0)
                    .expect("label builder")
                    .append_value(&names[k]);
                items
                    .field_builder::<Float64Builder>(1)
                    .expect("prob builder")
                    .append_value(p[k]);
                items.append(true);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}
