//! Parameters of scheduled files: `{date}`, `{run_ts}` and user parameters (`--param k=v`, or a
//! `-- param: k = v` header default) become typed SQL literals.
//!
//! Substitution works on the tokens of DataFusion's SQL tokenizer
//! ([`crate::statements::parser::tokens_with_offsets`]): a placeholder is the three adjacent
//! tokens `{`, a bare word, `}`. Text inside string literals, quoted identifiers and comments is
//! never touched, and a value is never pasted into a string: `{day}` becomes `DATE '2026-01-05'`,
//! a string value becomes a quoted literal with its quotes doubled.
//!
//! To add a built-in parameter: add it to [`builtins`] and to the README's table.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::statements::parser::tokens_with_offsets;

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `DATE 'YYYY-MM-DD'`.
    Date(NaiveDate),
    /// `TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.ffffff]'` (UTC wall time).
    Timestamp(NaiveDateTime),
    /// An integer literal.
    Int(i64),
    /// A decimal literal.
    Float(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// A string literal.
    Str(String),
}

impl ParamValue {
    /// Infers the type of a value given as text: integer, decimal, `true`/`false`, a date
    /// `YYYY-MM-DD`, a timestamp `YYYY-MM-DD HH:MM:SS` (or with `T`), otherwise a string. A
    /// value in single quotes (`'42'`) is always a string.
    pub fn infer(text: &str) -> ParamValue {
        let t = text.trim();
        if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
            return ParamValue::Str(t[1..t.len() - 1].replace("''", "'"));
        }
        if let Ok(i) = t.parse::<i64>() {
            return ParamValue::Int(i);
        }
        if t.chars().any(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
            && let Ok(f) = t.parse::<f64>()
            && f.is_finite()
        {
            return ParamValue::Float(f);
        }
        match t.to_ascii_lowercase().as_str() {
            "true" => return ParamValue::Bool(true),
            "false" => return ParamValue::Bool(false),
            _ => {}
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return ParamValue::Date(d);
        }
        for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(ts) = NaiveDateTime::parse_from_str(t, f) {
                return ParamValue::Timestamp(ts);
            }
        }
        ParamValue::Str(text.to_string())
    }

    /// The value as a SQL literal.
    pub fn to_sql(&self) -> String {
        match self {
            ParamValue::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            ParamValue::Timestamp(t) => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.f")),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => format!("{f:?}"),
            ParamValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            ParamValue::Str(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// The value as plain text, for output paths (`dt={date}` → `dt=2026-01-05`).
    pub fn to_path_text(&self) -> String {
        match self {
            ParamValue::Date(d) => d.format("%Y-%m-%d").to_string(),
            ParamValue::Timestamp(t) => t.format("%Y%m%dT%H%M%S").to_string(),
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => f.to_string(),
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Str(s) => s.clone(),
        }
    }
}

/// Names of the built-in parameters (they cannot be declared or passed with `--param`).
pub const BUILTIN_NAMES: [&str; 2] = ["date", "run_ts"];

/// The built-in parameters of a run at logical time `at` for a job in zone `tz`:
/// `date` is the local calendar date in `tz`; `run_ts` is the instant as a UTC timestamp.
pub fn builtins(at: DateTime<Utc>, tz: Tz) -> Vec<(String, ParamValue)> {
    vec![
        (
            "date".into(),
            ParamValue::Date(at.with_timezone(&tz).date_naive()),
        ),
        ("run_ts".into(), ParamValue::Timestamp(at.naive_utc())),
    ]
}

/// A placeholder found in SQL: its name and 1-based line within the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The name between the braces.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// Byte range of `{name}` in the text.
    pub range: std::ops::Range<usize>,
}

/// Every `{name}` placeholder of `sql` outside literals and comments.
pub fn placeholders(sql: &str) -> datafusion::error::Result<Vec<Placeholder>> {
    let tokens = tokens_with_offsets(sql)?;
    let mut out = Vec::new();
    for w in tokens.windows(3) {
        if let [
            (Token::LBrace, start),
            (Token::Word(word), _),
            (Token::RBrace, end),
        ] = w
            && word.quote_style.is_none()
        {
            out.push(Placeholder {
                name: word.value.clone(),
                line: sql[..*start].matches('\n').count() + 1,
                range: *start..*end + 1,
            });
        }
    }
    Ok(out)
}

/// Replaces every placeholder of `sql` by the literal of its value in `values`. A placeholder
/// without a value is an error naming it and its line (1-based, within `sql`).
pub fn substitute(sql: &str, values: &[(String, ParamValue)]) -> Result<String, (usize, String)> {
    let found = placeholders(sql).map_err(|e| (1, e.to_string()))?;
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for p in found {
        let Some((_, v)) = values.iter().rev().find(|(k, _)| *k == p.name) else {
            return Err((
                p.line,
                format!(
                    "unknown parameter {{{}}}: built-ins are {{date}} and {{run_ts}}; declare others with `-- param: {} = <default>` or pass --param {}=<value>",
                    p.name, p.name, p.name
                ),
            ));
        };
        out.push_str(&sql[last..p.range.start]);
        out.push_str(&v.to_sql());
        last = p.range.end;
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// Parses `k=v` from the command line.
pub fn parse_assignment(text: &str) -> Result<(String, ParamValue), String> {
    let Some((k, v)) = text.split_once('=') else {
        return Err(format!("invalid parameter {text:?}: expected name=value"));
    };
    let k = k.trim();
    check_name(k)?;
    Ok((k.to_string(), ParamValue::infer(v)))
}

/// A parameter name: a letter or `_`, then letters, digits or `_`; not a built-in.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "invalid parameter name {name:?}: use letters, digits and _"
        ));
    }
    if BUILTIN_NAMES.contains(&name) {
        return Err(format!(
            "{{{name}}} is a built-in parameter set from the run's logical time (use --at)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_typed_literals() {
        let cases = [
            ("42", "42"),
            ("-3", "-3"),
            ("0.25", "0.25"),
            ("true", "TRUE"),
            ("2026-01-05", "DATE '2026-01-05'"),
            ("2026-01-05 03:00:00", "TIMESTAMP '2026-01-05 03:00:00'"),
            (
                "2026-01-05T03:00:00.5",
                "TIMESTAMP '2026-01-05 03:00:00.500'",
            ),
            ("'42'", "'42'"),
            ("it's", "'it''s'"),
            ("x'; DROP TABLE t; --", "'x''; DROP TABLE t; --'"),
            ("1e400", "'1e400'"),
        ];
        for (text, sql) in cases {
            assert_eq!(ParamValue::infer(text).to_sql(), sql, "{text}");
        }
    }

    #[test]
    fn substitution_is_token_level() {
        let sql = "-- {date} in a comment\nSELECT '{date}' AS s, \"{date}\" AS q, {date} AS d,\n  {min} + 1 AS m /* {min} */ FROM t WHERE name = {who}";
        let values = vec![
            ("date".to_string(), ParamValue::infer("2026-01-05")),
            ("min".to_string(), ParamValue::Int(3)),
            ("who".to_string(), ParamValue::infer("O'Brien")),
        ];
        assert_eq!(
            substitute(sql, &values).unwrap(),
            "-- {date} in a comment\nSELECT '{date}' AS s, \"{date}\" AS q, DATE '2026-01-05' AS d,\n  3 + 1 AS m /* {min} */ FROM t WHERE name = 'O''Brien'"
        );
        let (line, msg) = substitute("SELECT 1,\n {nope}", &values).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("unknown parameter {nope}"), "{msg}");
    }

    #[test]
    fn builtins_follow_the_job_zone() {
        let at = DateTime::parse_from_rfc3339("2026-01-04T19:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = builtins(at, "Asia/Shanghai".parse().unwrap());
        assert_eq!(
            b[0].1.to_sql(),
            "DATE '2026-01-05'",
            "03:30 next day in Shanghai"
        );
        assert_eq!(b[1].1.to_sql(), "TIMESTAMP '2026-01-04 19:30:00'");
    }

    #[test]
    fn assignments_are_checked() {
        assert_eq!(
            parse_assignment("k=5").unwrap(),
            ("k".into(), ParamValue::Int(5))
        );
        assert!(parse_assignment("k").is_err());
        assert!(parse_assignment("1k=2").is_err());
        assert!(
            parse_assignment("date=2026-01-01")
                .unwrap_err()
                .contains("--at")
        );
    }
}
