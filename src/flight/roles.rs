//! Roles and what each may run. The check is made on DataFusion's logical plan (every node,
//! subqueries included) and on the kind of ecomsql statement — never on the SQL text, so
//! comments, casing or a COPY hidden in an EXPLAIN cannot get past it.
//!
//! - `reader`: queries only (SELECT, EXPLAIN, SHOW, DESCRIBE, SHOW MODELS): no DDL, no COPY or
//!   INSERT, no CREATE EXTERNAL TABLE, no SET, no model changes.
//! - `analyst`: a reader who may also CREATE and DROP models.
//! - `admin`: everything.
//!
//! To add a role: add a variant, its name in [`Role::from_str`] and its rules in
//! [`RolePolicy`].

use std::fmt;
use std::str::FromStr;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{LogicalPlan, Statement};
use ecomsql_udfs::query_arg::words_of;
use serde::Deserialize;

use crate::statements::{StatementKind, StatementPolicy};

/// What a user may do; each role may do all that the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Queries only.
    Reader,
    /// Queries, and CREATE / DROP MODEL.
    Analyst,
    /// Everything, DDL and COPY included.
    Admin,
}

impl Role {
    /// The role's name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?}: expected reader, analyst or admin"
            )),
        }
    }
}

/// A statement the user's role does not allow. Carried inside a `DataFusionError::External`
/// so the server can answer with `PERMISSION_DENIED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionDenied {
    /// The user's role.
    pub role: Role,
    /// What was refused, e.g. "COPY" or "CREATE MODEL".
    pub what: String,
    /// The least role that may do it.
    pub needs: Role,
}

impl fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "permission denied: role {} may not run {} (needs role {})",
            self.role, self.what, self.needs
        )
    }
}

impl std::error::Error for PermissionDenied {}

/// Finds a [`PermissionDenied`] inside a DataFusion error, however deeply wrapped.
pub fn permission_denied(e: &DataFusionError) -> Option<&PermissionDenied> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<PermissionDenied>(),
        DataFusionError::Context(_, inner) => permission_denied(inner),
        DataFusionError::Diagnostic(_, inner) => permission_denied(inner),
        _ => None,
    }
}

/// The [`StatementPolicy`] of one role.
#[derive(Debug, Clone, Copy)]
pub struct RolePolicy(pub Role);

impl RolePolicy {
    fn refuse(&self, what: String, needs: Role) -> DataFusionError {
        DataFusionError::External(Box::new(PermissionDenied {
            role: self.0,
            what,
            needs,
        }))
    }
}

/// What a plan node changes, if anything: the name of the operation a reader may not run.
fn changes_state(node: &LogicalPlan) -> Option<String> {
    match node {
        LogicalPlan::Ddl(ddl) => Some(words_of(ddl.name())),
        LogicalPlan::Copy(_) => Some("COPY".to_string()),
        LogicalPlan::Dml(dml) => Some(dml.name().to_ascii_uppercase()),
        LogicalPlan::Statement(Statement::TransactionStart(_) | Statement::TransactionEnd(_)) => {
            None
        }
        // SET, PREPARE, EXECUTE, DEALLOCATE change or use the server's one shared session.
        LogicalPlan::Statement(s) => Some(s.name().to_ascii_uppercase()),
        _ => None,
    }
}

impl StatementPolicy for RolePolicy {
    fn check_plan(&self, plan: &LogicalPlan) -> Result<()> {
        if self.0 == Role::Admin {
            return Ok(());
        }
        let mut refused = None;
        plan.apply_with_subqueries(|node| {
            if let Some(what) = changes_state(node) {
                refused = Some(what);
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        match refused {
            Some(what) => Err(self.refuse(what, Role::Admin)),
            None => Ok(()),
        }
    }

    fn check_kind(&self, kind: StatementKind) -> Result<()> {
        let (what, needs) = match kind {
            StatementKind::Sql | StatementKind::ShowModels => return Ok(()),
            StatementKind::CreateModel => ("CREATE MODEL", Role::Analyst),
            StatementKind::DropModel => ("DROP MODEL", Role::Analyst),
        };
        if self.0 >= needs {
            Ok(())
        } else {
            Err(self.refuse(what.to_string(), needs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn check(role: Role, sql: &str) -> Result<()> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE t AS VALUES (1, 'a')").await?;
        let plan = ctx.state().create_logical_plan(sql).await?;
        RolePolicy(role).check_plan(&plan)
    }

    #[tokio::test]
    async fn readers_query_but_change_nothing() {
        check(Role::Reader, "SELECT * FROM t WHERE column1 IN (SELECT 1)")
            .await
            .unwrap();
        check(Role::Reader, "EXPLAIN SELECT 1").await.unwrap();
        for (sql, what) in [
            ("COPY t TO '/tmp/x.parquet'", "COPY"),
            (
                "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp/x'",
                "CREATE EXTERNAL TABLE",
            ),
            ("create view v as select 1", "CREATE VIEW"),
            ("INSERT INTO t VALUES (2, 'b')", "INSERT INTO"),
            ("SET datafusion.execution.batch_size = 1", "SETVARIABLE"),
            ("DROP TABLE t", "DROP TABLE"),
            ("EXPLAIN COPY t TO '/tmp/x.parquet'", "COPY"),
        ] {
            let err = check(Role::Reader, sql).await.unwrap_err();
            let denied = permission_denied(&err).unwrap_or_else(|| panic!("{sql}: {err}"));
            assert_eq!(denied.what, what, "{sql}");
            assert!(err.to_string().contains("role reader may not run"), "{err}");
            // Analysts may not either; admins may.
            assert!(check(Role::Analyst, sql).await.is_err(), "{sql}");
            check(Role::Admin, sql).await.unwrap();
        }
    }

    #[test]
    fn models_need_an_analyst() {
        let err = RolePolicy(Role::Reader)
            .check_kind(StatementKind::CreateModel)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("CREATE MODEL (needs role analyst)"),
            "{err}"
        );
        RolePolicy(Role::Reader)
            .check_kind(StatementKind::ShowModels)
            .unwrap();
        RolePolicy(Role::Analyst)
            .check_kind(StatementKind::DropModel)
            .unwrap();
        RolePolicy(Role::Admin)
            .check_kind(StatementKind::CreateModel)
            .unwrap();
        assert_eq!("Analyst".parse::<Role>(), Ok(Role::Analyst));
        assert!("root".parse::<Role>().is_err());
    }
}
