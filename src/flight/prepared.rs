//! Prepared statements (JDBC and ADBC run every query as one): created from SQL, planned to a
//! [`LogicalStatement`] once, bound to parameter values by DoPut, executed any number of times,
//! closed. Handles are random and belong to the user who created them.
//!
//! The queries planned by GetFlightInfo and waiting for their DoGet are in [`super::tickets`].

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use rand::RngCore;
use tonic::Status;

use crate::statements::LogicalStatement;

/// Most prepared statements open at once, across users; past it, creating one fails.
pub const MAX_PREPARED: usize = 10_000;

/// A random handle.
pub fn new_handle() -> String {
    let mut bytes = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One prepared statement.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Who created it.
    pub owner: String,
    /// The statement, unbound.
    pub statement: LogicalStatement,
    /// Its parameters in order, with the types DataFusion inferred.
    pub parameters: Vec<(String, Option<DataType>)>,
    /// The values bound last (none yet: empty).
    pub values: Vec<ScalarValue>,
}

impl Prepared {
    /// The parameter schema sent to clients: one field per parameter, `$1`, `$2`, ….
    pub fn parameter_schema(&self) -> Schema {
        Schema::new(
            self.parameters
                .iter()
                .map(|(name, ty)| Field::new(name, ty.clone().unwrap_or(DataType::Null), true))
                .collect::<Vec<_>>(),
        )
    }

    /// The statement with its bound values, ready to plan.
    pub fn bound(&self) -> Result<LogicalStatement, Status> {
        if self.values.len() != self.parameters.len() {
            return Err(Status::invalid_argument(format!(
                "prepared statement has {} parameter(s) but {} value(s) are bound; bind them \
                 with DoPut before executing",
                self.parameters.len(),
                self.values.len()
            )));
        }
        self.statement
            .clone()
            .bind(self.values.clone())
            .map_err(|e| super::errors::to_status(&e))
    }

    /// Takes the values of one parameter row from `batches` (what DoPut sent), cast to the
    /// parameter types DataFusion inferred.
    pub fn values_from(&self, batches: &[RecordBatch]) -> Result<Vec<ScalarValue>, Status> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows != 1 {
            return Err(Status::invalid_argument(format!(
                "bind exactly one row of parameters, got {rows} rows"
            )));
        }
        let batch = batches
            .iter()
            .find(|b| b.num_rows() == 1)
            .ok_or_else(|| Status::invalid_argument("no parameter row"))?;
        if batch.num_columns() != self.parameters.len() {
            return Err(Status::invalid_argument(format!(
                "the statement has {} parameter(s), got {} value(s)",
                self.parameters.len(),
                batch.num_columns()
            )));
        }
        batch
            .columns()
            .iter()
            .zip(&self.parameters)
            .map(|(col, (name, ty))| {
                let v = ScalarValue::try_from_array(col, 0)
                    .map_err(|e| Status::invalid_argument(format!("parameter {name}: {e}")))?;
                match ty {
                    Some(t) if v.data_type() != *t => v.cast_to(t).map_err(|e| {
                        Status::invalid_argument(format!(
                            "parameter {name}: cannot use {} as {t}: {e}",
                            v.data_type()
                        ))
                    }),
                    _ => Ok(v),
                }
            })
            .collect()
    }
}

/// The open prepared statements.
#[derive(Debug, Default)]
pub struct PreparedStatements {
    open: Mutex<HashMap<String, Prepared>>,
}

impl PreparedStatements {
    /// Stores `prepared`; returns its handle.
    pub fn insert(&self, prepared: Prepared) -> Result<String, Status> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= MAX_PREPARED {
            return Err(Status::resource_exhausted(format!(
                "too many open prepared statements ({MAX_PREPARED}); close some"
            )));
        }
        let handle = new_handle();
        open.insert(handle.clone(), prepared);
        Ok(handle)
    }

    fn key(handle: &Bytes) -> Result<&str, Status> {
        std::str::from_utf8(handle)
            .map_err(|_| Status::invalid_argument("prepared statement handle is not valid"))
    }

    /// The statement `handle` names, if `user` owns it.
    pub fn get(&self, user: &str, handle: &Bytes) -> Result<Prepared, Status> {
        let key = Self::key(handle)?;
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get(key) {
            Some(p) if p.owner == user => Ok(p.clone()),
            _ => Err(Status::not_found(
                "unknown prepared statement handle (closed, or never created)",
            )),
        }
    }

    /// Binds `values` to the statement.
    pub fn bind(&self, user: &str, handle: &Bytes, values: Vec<ScalarValue>) -> Result<(), Status> {
        let key = Self::key(handle)?;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get_mut(key) {
            Some(p) if p.owner == user => {
                p.values = values;
                Ok(())
            }
            _ => Err(Status::not_found(
                "unknown prepared statement handle (closed, or never created)",
            )),
        }
    }

    /// Closes the statement.
    pub fn close(&self, user: &str, handle: &Bytes) -> Result<(), Status> {
        self.get(user, handle)?;
        let key = Self::key(handle)?;
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }

    /// Number of open statements.
    pub fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
    use std::sync::Arc;

    fn prepared(params: Vec<(String, Option<DataType>)>) -> Prepared {
        Prepared {
            owner: "ann".into(),
            statement: LogicalStatement::Ecomsql(crate::statements::Statement::ShowModels),
            parameters: params,
            values: vec![],
        }
    }

    #[test]
    fn values_are_cast_to_the_inferred_types() {
        let p = prepared(vec![
            ("$1".into(), Some(DataType::Int64)),
            ("$2".into(), None),
        ]);
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int32Array::from(vec![7])) as ArrayRef),
            ("b", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
        ])
        .unwrap();
        let v = p.values_from(std::slice::from_ref(&batch)).unwrap();
        assert_eq!(v, vec![ScalarValue::Int64(Some(7)), ScalarValue::from("x")]);
        let two =
            datafusion::arrow::compute::concat_batches(&batch.schema(), [&batch, &batch]).unwrap();
        assert!(
            p.values_from(&[two])
                .unwrap_err()
                .message()
                .contains("one row")
        );
        let p1 = prepared(vec![("$1".into(), Some(DataType::Int64))]);
        assert!(
            p1.values_from(&[batch])
                .unwrap_err()
                .message()
                .contains("1 parameter")
        );
        assert!(p1.bound().unwrap_err().message().contains("bind them"));
    }

    #[test]
    fn handles_belong_to_their_owner() {
        let store = PreparedStatements::default();
        let h = Bytes::from(store.insert(prepared(vec![])).unwrap());
        assert!(store.get("ann", &h).is_ok());
        assert_eq!(
            store.get("bob", &h).unwrap_err().code(),
            tonic::Code::NotFound
        );
        assert!(store.close("bob", &h).is_err());
        store.close("ann", &h).unwrap();
        assert!(store.is_empty());
        assert!(store.get("ann", &Bytes::from_static(b"nope")).is_err());
    }
}
