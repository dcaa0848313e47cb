//! Splitting input into statements: SQL ends at a `;` outside quotes and comments; a line
//! starting with `\` is a shell command. Used by the interactive validator (is the input
//! complete?) and by scripts (`sql -f`, `\i`, stdin).

/// One unit of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A backslash command line, without the backslash.
    Command(String),
    /// One SQL statement, without the trailing `;`.
    Sql(String),
}

/// Scans `text`, returning complete pieces and the unfinished rest (SQL without its `;`).
pub fn split(text: &str) -> (Vec<Piece>, String) {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut at_line_start = true;
    #[derive(PartialEq)]
    enum St {
        Code,
        Single,
        Double,
        LineComment,
        BlockComment,
    }
    let mut st = St::Code;
    while let Some(c) = chars.next() {
        if st == St::Code && at_line_start && cur.trim().is_empty() && c == '\\' {
            let mut line = String::new();
            for d in chars.by_ref() {
                if d == '\n' {
                    break;
                }
                line.push(d);
            }
            pieces.push(Piece::Command(line.trim().to_string()));
            cur.clear();
            at_line_start = true;
            continue;
        }
        at_line_start = c == '\n' || (at_line_start && c.is_whitespace());
        match st {
            St::Code => match c {
                '\'' => st = St::Single,
                '"' => st = St::Double,
                '-' if chars.peek() == Some(&'-') => st = St::LineComment,
                '/' if chars.peek() == Some(&'*') => st = St::BlockComment,
                ';' => {
                    let sql = cur.trim();
                    if !sql.is_empty() && !only_comments(sql) {
                        pieces.push(Piece::Sql(sql.to_string()));
                    }
                    cur.clear();
                    at_line_start = true;
                    continue;
                }
                _ => {}
            },
            St::Single if c == '\'' => st = St::Code,
            St::Double if c == '"' => st = St::Code,
            St::LineComment if c == '\n' => st = St::Code,
            St::BlockComment if c == '*' && chars.peek() == Some(&'/') => {
                cur.push(c);
                if let Some(d) = chars.next() {
                    cur.push(d);
                }
                st = St::Code;
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    let rest = if only_comments(cur.trim()) {
        String::new()
    } else {
        cur.trim().to_string()
    };
    (pieces, rest)
}

/// True if `sql` holds nothing but whitespace and comments.
fn only_comments(sql: &str) -> bool {
    let mut s = sql.trim();
    loop {
        if s.is_empty() {
            return true;
        }
        if let Some(r) = s.strip_prefix("--") {
            s = r.split_once('\n').map_or("", |(_, rest)| rest).trim();
        } else if let Some(r) = s.strip_prefix("/*") {
            match r.split_once("*/") {
                Some((_, rest)) => s = rest.trim(),
                None => return false,
            }
        } else {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let (p, rest) = split("SELECT ';' AS a; -- c;\nSELECT 2 /* ; */;\n\\d users\nSELECT 3");
        assert_eq!(
            p,
            vec![
                Piece::Sql("SELECT ';' AS a".into()),
                Piece::Sql("-- c;\nSELECT 2 /* ; */".into()),
                Piece::Command("d users".into())
            ]
        );
        assert_eq!(rest, "SELECT 3");
    }

    #[test]
    fn comments_alone_are_not_statements() {
        let (p, rest) = split("-- only a comment\n/* and another */");
        assert!(p.is_empty());
        assert!(rest.is_empty());
    }
}
