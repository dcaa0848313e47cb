//! The rustyline helper of the interactive shell: input is complete at a `;` outside quotes
//! (or on a `\` command line), tab completes keywords, tables, columns and function names, and
//! SQL is highlighted as it is typed.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::script::split;

/// Names offered by tab completion, refreshed after each statement.
#[derive(Debug, Default)]
pub struct Names {
    /// Table names.
    pub tables: BTreeSet<String>,
    /// Column names of all tables.
    pub columns: BTreeSet<String>,
    /// Function names (DataFusion's and ecomsql's).
    pub functions: BTreeSet<String>,
}

/// The shell's helper.
pub struct ShellHelper {
    /// Shared with the shell, which refreshes it.
    pub names: Arc<RwLock<Names>>,
    color: bool,
}

impl ShellHelper {
    /// A helper; `color` turns highlighting on.
    pub fn new(names: Arc<RwLock<Names>>, color: bool) -> Self {
        ShellHelper { names, color }
    }
}

impl Helper for ShellHelper {}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        let trimmed = input.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('\\') {
            return Ok(ValidationResult::Valid(None));
        }
        let (_, rest) = split(input);
        if rest.is_empty() {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

const COMMANDS: &[&str] = &["\\d", "\\h", "\\timing", "\\format", "\\i", "\\q", "\\?"];

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\\'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, vec![]));
        }
        let lower = word.to_ascii_lowercase();
        let mut out: Vec<Pair> = Vec::new();
        if word.starts_with('\\') {
            out.extend(
                COMMANDS
                    .iter()
                    .filter(|c| c.starts_with(word))
                    .map(|c| pair(c)),
            );
            return Ok((start, out));
        }
        if let Ok(names) = self.names.read() {
            for set in [&names.tables, &names.columns, &names.functions] {
                out.extend(
                    set.iter()
                        .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
                        .map(|n| pair(n)),
                );
            }
        }
        let upper = word.to_ascii_uppercase();
        let keep_lower = word.chars().next().is_some_and(|c| c.is_lowercase());
        out.extend(
            ALL_KEYWORDS
                .iter()
                .filter(|k| k.starts_with(&upper))
                .map(|k| {
                    if keep_lower {
                        pair(&k.to_ascii_lowercase())
                    } else {
                        pair(k)
                    }
                }),
        );
        out.dedup_by(|a, b| a.replacement == b.replacement);
        Ok((start, out))
    }
}

fn pair(s: &str) -> Pair {
    Pair {
        display: s.to_string(),
        replacement: s.to_string(),
    }
}

const KEYWORD_COLOR: &str = "\x1b[1;34m";
const STRING_COLOR: &str = "\x1b[32m";
const NUMBER_COLOR: &str = "\x1b[33m";
const COMMENT_COLOR: &str = "\x1b[90m";
const RESET: &str = "\x1b[0m";

/// Wraps keywords, strings, numbers and comments of `line` in ANSI colours.
pub fn highlight_sql(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            let end = line[i + 1..].find('\'').map_or(line.len(), |j| i + 2 + j);
            out.push_str(STRING_COLOR);
            out.push_str(&line[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            let end = line[i..].find('\n').map_or(line.len(), |j| i + j);
            out.push_str(COMMENT_COLOR);
            out.push_str(&line[i..end]);
            out.push_str(RESET);
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = line[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(line.len(), |j| i + j);
            let w = &line[i..end];
            if ALL_KEYWORDS
                .binary_search(&w.to_ascii_uppercase().as_str())
                .is_ok()
            {
                out.push_str(KEYWORD_COLOR);
                out.push_str(w);
                out.push_str(RESET);
            } else {
                out.push_str(w);
            }
            i = end;
        } else if c.is_ascii_digit() {
            let end = line[i..]
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                .map_or(line.len(), |j| i + j);
            out.push_str(NUMBER_COLOR);
            out.push_str(&line[i..end]);
            out.push_str(RESET);
            i = end;
        } else {
            let ch_len = line[i..].chars().next().map_or(1, |ch| ch.len_utf8());
            out.push_str(&line[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.trim_start().starts_with('\\') {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight_sql(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_strings_and_numbers_are_coloured() {
        let h = highlight_sql("select 'a' , 42 from t -- x");
        assert!(h.contains(&format!("{KEYWORD_COLOR}select{RESET}")));
        assert!(h.contains(&format!("{STRING_COLOR}'a'{RESET}")));
        assert!(h.contains(&format!("{NUMBER_COLOR}42{RESET}")));
        assert!(h.contains(&format!("{COMMENT_COLOR}-- x{RESET}")));
        assert!(h.contains(" t "));
    }
}
