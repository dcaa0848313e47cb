//! Recognising the statements ecomsql adds to SQL. Everything else is left to DataFusion.
//!
//! ```text
//! CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name OPTIONS (key = value [, …]) AS <query>
//! DROP MODEL [IF EXISTS] name[@version]
//! SHOW MODELS
//! ```
//!
//! The text is tokenised with DataFusion's SQL tokenizer (so comments, quoting and string
//! escapes behave exactly as in queries); only the leading words decide whether a statement is
//! ours. The `AS` query is kept verbatim (it is planned by DataFusion and stored with the model).

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use ecomsql_udfs::model::options::OptionValue;
use ecomsql_udfs::model::{ModelRef, validate_model_name};

/// `CREATE MODEL …`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateModel {
    /// The model's name.
    pub name: String,
    /// `OR REPLACE`: add a new version when the model exists.
    pub or_replace: bool,
    /// `IF NOT EXISTS`: do nothing when the model exists.
    pub if_not_exists: bool,
    /// The options, in order.
    pub options: Vec<(String, OptionValue)>,
    /// The training query, verbatim.
    pub query: String,
}

/// A statement, as far as ecomsql is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] MODEL …`.
    CreateModel(CreateModel),
    /// `DROP MODEL [IF EXISTS] name[@N]`.
    DropModel {
        /// The model (and optionally one version).
        model: ModelRef,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SHOW MODELS`.
    ShowModels,
    /// Anything else: DataFusion SQL.
    Sql,
}

fn syntax(msg: String) -> DataFusionError {
    DataFusionError::SQL(
        Box::new(datafusion::sql::sqlparser::parser::ParserError::ParserError(msg)),
        None,
    )
}

fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>> {
    Tokenizer::new(&GenericDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| syntax(e.to_string()))
}

fn line_starts(sql: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    starts
}

/// The byte offset in `sql` of a tokenizer location (1-based line and character column).
fn byte_offset(sql: &str, line_starts: &[usize], at: Location) -> usize {
    let line = (at.line as usize).max(1) - 1;
    let start = line_starts.get(line).copied().unwrap_or(0);
    let column = (at.column as usize).max(1) - 1;
    sql[start..]
        .char_indices()
        .nth(column)
        .map_or(sql.len(), |(i, _)| start + i)
}

/// Every token of `sql` — whitespace and comments included — with the byte offset where it
/// starts, as DataFusion's tokenizer sees them (so quoting, escapes and comments behave exactly
/// as in queries). Used to rewrite statements at the token level, e.g. to substitute the
/// `{date}` parameters of scheduled files outside string literals and comments only.
pub fn tokens_with_offsets(sql: &str) -> Result<Vec<(Token, usize)>> {
    let starts = line_starts(sql);
    Ok(tokenize(sql)?
        .into_iter()
        .map(|t| {
            let at = byte_offset(sql, &starts, t.span.start);
            (t.token, at)
        })
        .collect())
}

struct Cursor<'a> {
    sql: &'a str,
    tokens: Vec<TokenWithSpan>,
    pos: usize,
    line_starts: Vec<usize>,
}

impl<'a> Cursor<'a> {
    fn new(sql: &'a str) -> Result<Self> {
        let tokens = tokenize(sql)?
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        Ok(Self {
            sql,
            tokens,
            pos: 0,
            line_starts: line_starts(sql),
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).map(|t| t.token.clone());
        self.pos += 1;
        t
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let yes = self.peek_word(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_word(&mut self, word: &str, context: &str) -> Result<()> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(syntax(format!(
                "{context}: expected {word}, found {}",
                self.describe_next()
            )))
        }
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None | Some(Token::EOF) => "end of statement".into(),
            Some(t) => format!("'{t}'"),
        }
    }

    /// Byte offset of the current token in the text.
    fn offset(&self) -> usize {
        match self.tokens.get(self.pos) {
            Some(t) => byte_offset(self.sql, &self.line_starts, t.span.start),
            None => self.sql.len(),
        }
    }

    fn at_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Token::EOF) | Some(Token::SemiColon)
        ) && self.tokens[self.pos..]
            .iter()
            .all(|t| matches!(t.token, Token::SemiColon | Token::EOF))
    }

    /// A model name with an optional `@N` version.
    fn model_ref(&mut self, context: &str, allow_version: bool) -> Result<ModelRef> {
        let name = match self.next() {
            Some(Token::Word(w)) => w.value,
            Some(Token::SingleQuotedString(s)) => s,
            other => {
                return Err(syntax(format!(
                    "{context}: expected a model name, found {}",
                    other.map_or("end of statement".into(), |t| format!("'{t}'"))
                )));
            }
        };
        // `seg@3` may tokenise as one word or as word, '@', number.
        let mut text = name;
        if matches!(self.peek(), Some(Token::AtSign)) {
            self.pos += 1;
            match self.next() {
                Some(Token::Number(n, _)) => text = format!("{text}@{n}"),
                _ => {
                    return Err(syntax(format!(
                        "{context}: expected a version number after '@'"
                    )));
                }
            }
        }
        let r = ModelRef::parse(&text).map_err(|e| syntax(format!("{context}: {e}")))?;
        if r.version.is_some() && !allow_version {
            return Err(syntax(format!(
                "{context}: a new model takes a plain name; versions are numbered automatically"
            )));
        }
        validate_model_name(&r.name)?;
        Ok(r)
    }
}

/// Decides whether `sql` (one statement) is one of ours and parses it.
pub fn parse(sql: &str) -> Result<Statement> {
    super::limits::check_size(sql)?;
    let mut c = Cursor::new(sql)?;
    if c.eat_word("SHOW") {
        if c.eat_word("MODELS") {
            if !c.at_end() {
                return Err(syntax(format!(
                    "SHOW MODELS: unexpected {} after SHOW MODELS",
                    c.describe_next()
                )));
            }
            return Ok(Statement::ShowModels);
        }
        return Ok(Statement::Sql);
    }
    if c.eat_word("DROP") {
        if !c.eat_word("MODEL") {
            return Ok(Statement::Sql);
        }
        let if_exists = if c.eat_word("IF") {
            c.expect_word("EXISTS", "DROP MODEL")?;
            true
        } else {
            false
        };
        let model = c.model_ref("DROP MODEL", true)?;
        if !c.at_end() {
            return Err(syntax(format!(
                "DROP MODEL: unexpected {} after the model name",
                c.describe_next()
            )));
        }
        return Ok(Statement::DropModel { model, if_exists });
    }
    if !c.eat_word("CREATE") {
        return Ok(Statement::Sql);
    }
    let or_replace = if c.peek_word("OR") {
        c.pos += 1;
        c.expect_word("REPLACE", "CREATE OR REPLACE")?;
        true
    } else {
        false
    };
    if !c.eat_word("MODEL") {
        return Ok(Statement::Sql);
    }
    let ctx = "CREATE MODEL";
    let if_not_exists = if c.eat_word("IF") {
        c.expect_word("NOT", ctx)?;
        c.expect_word("EXISTS", ctx)?;
        true
    } else {
        false
    };
    if or_replace && if_not_exists {
        return Err(syntax(
            "CREATE MODEL: OR REPLACE and IF NOT EXISTS cannot be combined".into(),
        ));
    }
    let name = c.model_ref(ctx, false)?.name;
    let ctx = format!("CREATE MODEL {name}");
    c.expect_word("OPTIONS", &ctx)?;
    if !matches!(c.next(), Some(Token::LParen)) {
        return Err(syntax(format!("{ctx}: expected '(' after OPTIONS")));
    }
    let mut options = Vec::new();
    loop {
        if matches!(c.peek(), Some(Token::RParen)) && options.is_empty() {
            c.pos += 1;
            break;
        }
        let key = match c.next() {
            Some(Token::Word(w)) => w.value,
            other => {
                return Err(syntax(format!(
                    "{ctx}: expected an option name in OPTIONS, found {}",
                    other.map_or("end of statement".into(), |t| format!("'{t}'"))
                )));
            }
        };
        if !matches!(c.next(), Some(Token::Eq)) {
            return Err(syntax(format!("{ctx}: expected '=' after option {key}")));
        }
        let negative = matches!(c.peek(), Some(Token::Minus));
        if negative {
            c.pos += 1;
        }
        let value = match c.next() {
            Some(Token::SingleQuotedString(s)) if !negative => OptionValue::Str(s),
            Some(Token::Number(n, _)) => {
                OptionValue::Number(if negative { format!("-{n}") } else { n })
            }
            Some(Token::Word(w)) if !negative && w.value.eq_ignore_ascii_case("true") => {
                OptionValue::Bool(true)
            }
            Some(Token::Word(w)) if !negative && w.value.eq_ignore_ascii_case("false") => {
                OptionValue::Bool(false)
            }
            other => {
                return Err(syntax(format!(
                    "{ctx}: option {key} needs a value: a 'string', a number, true or false; found {}",
                    other.map_or("end of statement".into(), |t| format!("'{t}'"))
                )));
            }
        };
        options.push((key, value));
        match c.next() {
            Some(Token::Comma) => continue,
            Some(Token::RParen) => break,
            other => {
                return Err(syntax(format!(
                    "{ctx}: expected ',' or ')' in OPTIONS, found {}",
                    other.map_or("end of statement".into(), |t| format!("'{t}'"))
                )));
            }
        }
    }
    c.expect_word("AS", &ctx)?;
    let start = c.offset();
    let query = sql[start..]
        .trim()
        .trim_end_matches(';')
        .trim_end()
        .to_string();
    if query.is_empty() {
        return Err(syntax(format!(
            "{ctx}: expected the training query after AS"
        )));
    }
    Ok(Statement::CreateModel(CreateModel {
        name,
        or_replace,
        if_not_exists,
        options,
        query,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_our_statements_and_leaves_the_rest() {
        let s = parse(
            "-- segments\ncreate or replace model seg options (model_type = 'kmeans', num_clusters = 6, standardize = false, tolerance = -1e-3)\n  AS\n  SELECT a, 'x''y' AS b FROM t;",
        )
        .unwrap();
        let Statement::CreateModel(c) = s else {
            panic!("{s:?}")
        };
        assert_eq!(c.name, "seg");
        assert!(c.or_replace && !c.if_not_exists);
        assert_eq!(
            c.options,
            vec![
                ("model_type".into(), OptionValue::Str("kmeans".into())),
                ("num_clusters".into(), OptionValue::Number("6".into())),
                ("standardize".into(), OptionValue::Bool(false)),
                ("tolerance".into(), OptionValue::Number("-1e-3".into())),
            ]
        );
        assert_eq!(c.query, "SELECT a, 'x''y' AS b FROM t");

        let s = parse("CREATE MODEL IF NOT EXISTS 名前 OPTIONS (model_type='kmeans') AS SELECT 1");
        assert!(s.is_err(), "non-ASCII names are rejected: {s:?}");

        assert_eq!(
            parse("drop model if exists seg@3").unwrap(),
            Statement::DropModel {
                model: ModelRef {
                    name: "seg".into(),
                    version: Some(3)
                },
                if_exists: true
            }
        );
        assert_eq!(parse("SHOW MODELS;").unwrap(), Statement::ShowModels);
        for sql in [
            "SELECT 1",
            "CREATE TABLE t AS SELECT 1",
            "DROP TABLE model",
            "SHOW TABLES",
            "select 'CREATE MODEL x'",
        ] {
            assert_eq!(parse(sql).unwrap(), Statement::Sql, "{sql}");
        }
    }

    #[test]
    fn syntax_errors_say_what_was_expected() {
        let cases = [
            ("CREATE MODEL seg AS SELECT 1", "expected OPTIONS"),
            (
                "CREATE MODEL seg OPTIONS model_type='kmeans' AS SELECT 1",
                "expected '('",
            ),
            (
                "CREATE MODEL seg OPTIONS (model_type 'kmeans') AS SELECT 1",
                "expected '='",
            ),
            (
                "CREATE MODEL seg OPTIONS (model_type = ) AS SELECT 1",
                "needs a value",
            ),
            (
                "CREATE MODEL seg OPTIONS (model_type = 'k' SELECT 1",
                "expected ',' or ')'",
            ),
            ("CREATE MODEL seg OPTIONS (model_type = 'k')", "expected AS"),
            (
                "CREATE MODEL seg OPTIONS (model_type = 'k') AS ;",
                "training query after AS",
            ),
            (
                "CREATE MODEL seg@2 OPTIONS (model_type = 'k') AS SELECT 1",
                "plain name",
            ),
            (
                "CREATE MODEL OPTIONS (model_type = 'k') AS SELECT 1",
                "expected OPTIONS",
            ),
            (
                "CREATE OR REPLACE MODEL IF NOT EXISTS s OPTIONS () AS SELECT 1",
                "cannot be combined",
            ),
            ("DROP MODEL", "expected a model name"),
            ("DROP MODEL a b", "unexpected"),
            ("SHOW MODELS x", "unexpected"),
        ];
        for (sql, want) in cases {
            let err = parse(sql).unwrap_err().to_string();
            assert!(err.contains(want), "{sql}: want {want:?} in {err}");
        }
    }
}
