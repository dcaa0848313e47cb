//! Limits on the size and shape of a statement, checked on the text and the parsed syntax tree
//! before DataFusion plans anything.
//!
//! DataFusion's planner, optimizer and expression evaluator recurse over expression trees, and
//! a long chain such as `1 + 1 + … + 1` (the parser builds it iteratively, so its own recursion
//! limit never sees it) is a tree as deep as it is long: 2,000 terms overflowed a 2 MiB server
//! thread and killed the process, and planning time grew with the square of the length
//! (1,250 / 2,500 / 5,000 terms: 1.4 / 5.2 / 23.4 s). So:
//!
//! - a statement is at most [`MAX_STATEMENT_BYTES`] long;
//! - an expression nests at most [`MAX_EXPRESSION_DEPTH`] deep (a chain of n binary operators
//!   is n deep), and a chain of set operations (`UNION ALL`, `INTERSECT`, `EXCEPT`) holds at
//!   most [`MAX_SET_OPERATIONS`] of them — DuckDB's default `max_expression_depth` is 1,000 too.
//!
//! The check walks the tree with sqlparser's visitor and stops at the first node past a limit,
//! so it never recurses deeper than the limit itself. Threads that plan and run statements
//! have stacks sized for trees at the limit (see `executor.rs` and `cli.rs`).

use std::ops::ControlFlow;

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Visit, Visitor};

/// The longest statement accepted, in bytes.
pub const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// The deepest expression accepted.
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// The most set operations (`UNION [ALL]`, `INTERSECT`, `EXCEPT`) in one chain.
pub const MAX_SET_OPERATIONS: usize = 1000;

/// Refuses a statement text longer than [`MAX_STATEMENT_BYTES`].
pub fn check_size(sql: &str) -> Result<()> {
    if sql.len() > MAX_STATEMENT_BYTES {
        return Err(DataFusionError::Plan(format!(
            "statement too long: {} bytes, at most {} are accepted",
            sql.len(),
            MAX_STATEMENT_BYTES
        )));
    }
    Ok(())
}

/// Refuses a parsed statement whose expressions or set-operation chains go past the limits.
pub fn check_shape(statement: &DFStatement) -> Result<()> {
    let mut v = ShapeCheck::default();
    let flow = match statement {
        DFStatement::Statement(s) => s.visit(&mut v),
        DFStatement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(q) => q.visit(&mut v),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DFStatement::Explain(e) => return check_shape(&e.statement),
        DFStatement::CreateExternalTable(_) | DFStatement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(msg) => Err(DataFusionError::Plan(msg)),
    }
}

#[derive(Default)]
struct ShapeCheck {
    depth: usize,
}

impl Visitor for ShapeCheck {
    type Break = String;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<String> {
        // `a UNION b UNION c …` parses to a left-deep chain; walk its spine without recursing.
        let mut chain = 0usize;
        let mut body = query.body.as_ref();
        while let SetExpr::SetOperation { left, .. } = body {
            chain += 1;
            if chain > MAX_SET_OPERATIONS {
                return ControlFlow::Break(format!(
                    "statement too complex: more than {MAX_SET_OPERATIONS} set operations (UNION, INTERSECT, EXCEPT) in one chain; split it or load the rows into a table"
                ));
            }
            body = left.as_ref();
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<String> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return ControlFlow::Break(format!(
                "statement too complex: an expression nests more than {MAX_EXPRESSION_DEPTH} deep (e.g. a chain of that many +, AND, OR or || operators); use IN (…) for long lists of alternatives, or split the expression"
            ));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn parse(sql: &str) -> DFStatement {
        DFParser::parse_sql(sql).unwrap().pop_front().unwrap()
    }

    fn chain(op: &str, n: usize) -> String {
        format!("SELECT {}", vec!["1"; n].join(op))
    }

    #[test]
    fn chains_up_to_the_limit_pass_and_longer_ones_are_refused() {
        // The literal terms are one level below the operators: n terms are n - 1 + 1 deep.
        check_shape(&parse(&chain(" + ", MAX_EXPRESSION_DEPTH))).unwrap();
        for op in [" + ", " AND ", " OR ", " || "] {
            let err = check_shape(&parse(&chain(op, MAX_EXPRESSION_DEPTH + 1))).unwrap_err();
            assert!(
                err.to_string()
                    .contains("an expression nests more than 1000 deep"),
                "{op}: {err}"
            );
        }
        // Inside a subquery, a CTE, a COPY and an EXPLAIN alike.
        let deep = chain(" + ", 2 * MAX_EXPRESSION_DEPTH);
        for sql in [
            format!("SELECT * FROM ({deep}) t"),
            format!("WITH x AS ({deep}) SELECT * FROM x"),
            format!("COPY ({deep}) TO '/tmp/never.csv'"),
            format!("EXPLAIN {deep}"),
        ] {
            assert!(check_shape(&parse(&sql)).is_err(), "{}", &sql[..40]);
        }
    }

    #[test]
    fn union_chains_are_limited() {
        let union = |n: usize| vec!["SELECT 1"; n].join(" UNION ALL ");
        check_shape(&parse(&union(MAX_SET_OPERATIONS + 1))).unwrap();
        let err = check_shape(&parse(&union(MAX_SET_OPERATIONS + 2))).unwrap_err();
        assert!(err.to_string().contains("set operations"), "{err}");
    }

    #[test]
    fn long_statements_are_refused() {
        check_size("SELECT 1").unwrap();
        let long = format!("SELECT '{}'", "x".repeat(MAX_STATEMENT_BYTES));
        assert!(
            check_size(&long)
                .unwrap_err()
                .to_string()
                .contains("statement too long")
        );
    }

    #[test]
    fn wide_flat_statements_pass() {
        // Long IN lists and many columns are flat, not deep.
        let list = (0..50_000).map(|i| i.to_string()).collect::<Vec<_>>();
        check_shape(&parse(&format!(
            "SELECT 1 WHERE 1 IN ({})",
            list.join(", ")
        )))
        .unwrap();
        check_shape(&parse(&format!("SELECT {}", list.join(", ")))).unwrap();
    }
}
