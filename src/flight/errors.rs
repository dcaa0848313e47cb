//! Engine errors become gRPC statuses here, and only here: a refused statement is
//! PERMISSION_DENIED, a query out of memory RESOURCE_EXHAUSTED, bad SQL or parameters
//! INVALID_ARGUMENT. Messages are one line, as the shell prints them.

use datafusion::error::DataFusionError;
use tonic::Status;

use super::roles::permission_denied;
use crate::repl::one_line_error;

/// The status a client gets for `e`.
pub fn to_status(e: &DataFusionError) -> Status {
    if let Some(denied) = permission_denied(e) {
        return Status::permission_denied(denied.to_string());
    }
    let msg = one_line_error(e);
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(format!(
            "query ran out of memory (per-query limit: flight.query_memory_limit): {msg}"
        )),
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => Status::invalid_argument(msg),
        DataFusionError::Internal(_) => Status::internal(msg),
        _ => Status::unknown(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::roles::{PermissionDenied, Role};

    #[test]
    fn codes_follow_the_cause() {
        let denied = DataFusionError::External(Box::new(PermissionDenied {
            role: Role::Reader,
            what: "COPY".into(),
            needs: Role::Admin,
        }))
        .context("planning");
        assert_eq!(to_status(&denied).code(), tonic::Code::PermissionDenied);
        let oom = DataFusionError::ResourcesExhausted("Failed to allocate".into()).context("join");
        let s = to_status(&oom);
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(s.message().contains("query_memory_limit"), "{s}");
        let plan = DataFusionError::Plan("table 'nope' not found".into());
        assert_eq!(to_status(&plan).code(), tonic::Code::InvalidArgument);
    }
}
