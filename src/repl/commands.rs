//! The shell's `\` commands. Each is a branch of [`run_command`] and a line of [`HELP`].

use std::io::Write;

use datafusion::logical_expr::Documentation;

use super::{Flow, Shell};
use crate::config::OutputFormat;

/// The text of `\?`.
pub const HELP: &str = "\
Commands:
  \\d              list tables
  \\d NAME         describe a table's columns
  \\h              list ecomsql's SQL functions
  \\h NAME         help on any function (ecomsql's or DataFusion's)
  \\timing         toggle printing of query times
  \\format FORMAT  output format: table, csv, json, ndjson
  \\i FILE         run the SQL statements in FILE
  \\q              quit (or Ctrl-D)
  \\?              this help
SQL statements end with ';' and may span lines. Ctrl-C cancels a running query.";

fn w(out: &mut dyn Write, text: &str) -> Result<(), String> {
    writeln!(out, "{text}").map_err(|e| format!("writing output: {e}"))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs one `\` command (given without its backslash).
pub fn run_command(shell: &mut Shell, cmd: &str, out: &mut dyn Write) -> Result<Flow, String> {
    let mut parts = cmd
        .trim()
        .trim_end_matches(';')
        .splitn(2, char::is_whitespace);
    let name = parts.next().unwrap_or("");
    let arg = parts.next().map(str::trim).filter(|a| !a.is_empty());
    match (name, arg) {
        ("q" | "quit", _) => return Ok(Flow::Quit),
        ("?", _) => w(out, HELP)?,
        ("d", None) => shell.run_sql(
            "SELECT table_name, table_type FROM information_schema.tables \
             WHERE table_schema <> 'information_schema' ORDER BY table_name",
            out,
        )?,
        ("d", Some(table)) => {
            let exists = shell
                .names
                .read()
                .map(|n| n.tables.contains(table))
                .unwrap_or(false);
            if !exists {
                return Err(format!("no table named {table:?} (\\d lists the tables)"));
            }
            shell.run_sql(
                &format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_name = {} ORDER BY ordinal_position",
                    quote_literal(table)
                ),
                out,
            )?
        }
        ("h", None) => {
            let mut text = String::from(
                "ecomsql functions (\\h NAME for details; DataFusion's built-ins work too):\n",
            );
            for f in ecomsql_udfs::all_function_docs() {
                text.push_str(&format!(
                    "  {:<28} {:<9} {}\n",
                    f.documentation.syntax_example,
                    f.kind,
                    first_sentence(&f.documentation.description)
                ));
            }
            text.push_str("\necomsql statements (\\h CREATE MODEL etc. for details):\n");
            for (name, d) in crate::statements::docs() {
                text.push_str(&format!(
                    "  {:<28} {}\n",
                    name.to_ascii_uppercase(),
                    first_sentence(&d.description)
                ));
            }
            w(out, text.trim_end())?
        }
        ("h", Some(fname)) => {
            let fname = fname.to_ascii_lowercase();
            let words = fname.replace('_', " ");
            if let Some((name, d)) = crate::statements::docs()
                .into_iter()
                .find(|(n, _)| *n == words.split_whitespace().collect::<Vec<_>>().join(" "))
            {
                w(out, &format_doc(&name.to_ascii_uppercase(), d))?;
                return Ok(Flow::Continue);
            }
            let doc = function_doc(shell, &fname).ok_or_else(|| {
                format!("no function named {fname:?} (\\h lists ecomsql's functions)")
            })?;
            w(out, &format_doc(&fname, &doc))?
        }
        ("timing", _) => {
            shell.timing = !shell.timing;
            w(
                out,
                if shell.timing {
                    "Timing is on."
                } else {
                    "Timing is off."
                },
            )?
        }
        ("format", None) => w(
            out,
            &format!("Output format is {:?}.", shell.format).to_lowercase(),
        )?,
        ("format", Some(f)) => {
            shell.format = f.parse::<OutputFormat>().map_err(|e| e.to_string())?;
            w(out, &format!("Output format is {f}."))?
        }
        ("i", Some(file)) => {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
            return shell
                .run_script_text(&text, out)
                .map_err(|e| format!("{file}: {e}"));
        }
        ("i", None) => return Err("\\i needs a file name".into()),
        _ => return Err(format!("unknown command \\{name} (\\? lists the commands)")),
    }
    Ok(Flow::Continue)
}

fn first_sentence(s: &str) -> &str {
    s.split_once(". ").map_or(s, |(a, _)| a)
}

/// The documentation of a function: ecomsql's first, then DataFusion's built-ins.
pub fn function_doc(shell: &Shell, name: &str) -> Option<Documentation> {
    if let Some(f) = ecomsql_udfs::all_function_docs()
        .into_iter()
        .find(|f| f.name == name)
    {
        return Some(f.documentation);
    }
    let state = shell.ctx.state();
    if let Some(f) = state.scalar_functions().get(name) {
        return f.documentation().cloned();
    }
    if let Some(f) = state.aggregate_functions().get(name) {
        return f.documentation().cloned();
    }
    if let Some(f) = state.window_functions().get(name) {
        return f.documentation().cloned();
    }
    None
}

/// Renders documentation for the terminal.
pub fn format_doc(name: &str, d: &Documentation) -> String {
    let mut s = format!(
        "{name}\n\n  {}\n\nSyntax:\n  {}\n",
        d.description, d.syntax_example
    );
    if let Some(args) = &d.arguments {
        s.push_str("\nArguments:\n");
        for (a, desc) in args {
            s.push_str(&format!("  {a:<12} {desc}\n"));
        }
    }
    if let Some(ex) = &d.sql_example {
        s.push_str("\nExample:\n");
        for line in ex.lines().filter(|l| !l.starts_with("```")) {
            s.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(rel) = &d.related_udfs {
        s.push_str(&format!("\nSee also: {}\n", rel.join(", ")));
    }
    s.trim_end().to_string()
}
