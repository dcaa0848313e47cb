//! Argument handling shared by every model-backed function: the model name (a constant string,
//! `name` or `name@N`) and the feature arguments that follow it.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarFunctionArgs};

use crate::model::features::{is_numeric_type, is_string_type};
use crate::model::{Model, ModelRef, ModelStore};

/// `coerce_types` for `f('model', feature1, …)`: the model name must be a string and every
/// feature numeric, boolean or string; types are kept as given.
pub fn coerce_model_and_features(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if arg_types.len() < 2 {
        return plan_err!(
            "{name} expects a model name and at least one feature: {name}('model', feature1, …), got {} argument(s)",
            arg_types.len()
        );
    }
    if !is_string_type(&arg_types[0]) && arg_types[0] != DataType::Null {
        return plan_err!(
            "{name} argument 1 (model) must be a string naming a model, got {}",
            arg_types[0]
        );
    }
    for (i, t) in arg_types.iter().enumerate().skip(1) {
        if !is_numeric_type(t) && !is_string_type(t) {
            return plan_err!(
                "{name} argument {} (feature) must be numeric, boolean or string, got {t}",
                i + 1
            );
        }
    }
    Ok(arg_types.to_vec())
}

/// The model named by the first argument, resolved now (at execution) from `store`.
pub fn resolve_model_arg(
    name: &str,
    store: &dyn ModelStore,
    args: &ScalarFunctionArgs,
) -> Result<Arc<Model>> {
    let text = match args.args.first() {
        Some(ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        )) => s.clone(),
        Some(ColumnarValue::Scalar(_)) => {
            return exec_err!("{name} argument 1 (model) must not be NULL");
        }
        _ => {
            return exec_err!(
                "{name} argument 1 (model) must be a constant string such as 'segments' or 'segments@2', not a column"
            );
        }
    };
    let model_ref = ModelRef::parse(&text).map_err(|e| e.context(format!("{name} argument 1")))?;
    model_ref.resolve(store)
}

/// The feature arguments (everything after the model name) as arrays of `rows` rows.
pub fn feature_arrays(args: &ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    args.args[1..]
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect()
}

/// A string-literal argument of a table function (`ml_centroids('seg')`), or an error naming
/// the function, position and what it should hold.
pub fn string_literal(function: &str, exprs: &[Expr], index: usize, what: &str) -> Result<String> {
    match exprs.get(index) {
        Some(Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        )) => Ok(s.clone()),
        Some(other) => plan_err!(
            "{function} argument {} ({what}) must be a string literal, got {other}",
            index + 1
        ),
        None => plan_err!("{function} argument {} ({what}) is missing", index + 1),
    }
}

/// The one argument of `f('model')` table functions: a string literal naming a model (and
/// optionally a version). `what` describes it in the arity error ("a model name").
pub fn only_model_arg(function: &str, exprs: &[Expr], what: &str) -> Result<ModelRef> {
    if exprs.len() != 1 {
        return plan_err!(
            "{function} expects 1 argument ({what}), got {}",
            exprs.len()
        );
    }
    ModelRef::parse(&string_literal(function, exprs, 0, "model")?)
}

/// An integer-literal argument of a table function.
pub fn int_literal(function: &str, exprs: &[Expr], index: usize, what: &str) -> Result<i64> {
    match exprs.get(index) {
        Some(Expr::Literal(v, _)) if v.data_type().is_integer() && !v.is_null() => {
            match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) => Ok(n),
                _ => plan_err!(
                    "{function} argument {} ({what}) must be an integer",
                    index + 1
                ),
            }
        }
        Some(other) => plan_err!(
            "{function} argument {} ({what}) must be an integer literal, got {other}",
            index + 1
        ),
        None => plan_err!("{function} argument {} ({what}) is missing", index + 1),
    }
}

/// The positions in `schema` of `model`'s features, matched by column name (exactly, then
/// ignoring case), or an error naming the first missing feature and the columns available.
pub fn feature_indices(
    function: &str,
    model: &Model,
    schema: &datafusion::arrow::datatypes::Schema,
) -> Result<Vec<usize>> {
    model
        .features
        .iter()
        .map(|f| {
            schema
                .index_of(&f.name)
                .ok()
                .or_else(|| {
                    schema
                        .fields()
                        .iter()
                        .position(|c| c.name().eq_ignore_ascii_case(&f.name))
                })
                .ok_or_else(|| {
                    let have: Vec<&str> =
                        schema.fields().iter().map(|c| c.name().as_str()).collect();
                    datafusion::error::DataFusionError::Plan(format!(
                        "{function}: model {} needs feature {:?}, which the query does not return (it returns: {})",
                        model.label(),
                        f.name,
                        have.join(", ")
                    ))
                })
        })
        .collect()
}
