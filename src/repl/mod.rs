//! The shell: interactive (`ecomsql`, rustyline) and non-interactive (`ecomsql sql -c/-f`,
//! stdin). Both run the same [`Shell`], so statements and `\` commands behave the same way.
//!
//! - [`script`]: splitting input into statements and commands.
//! - [`exec`]: running one statement with cancellation and live progress.
//! - [`print`]: table / csv / json / ndjson output.
//! - [`helper`]: completion, validation and highlighting for rustyline.
//! - [`commands`]: the `\` commands.
//!
//! To add a `\` command: add it to [`commands::run_command`] and to its help text.

pub mod commands;
pub mod exec;
pub mod helper;
pub mod print;
pub mod script;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config as LineConfig, Editor};

use crate::catalog::CatalogReport;
use crate::cli::AppError;
use crate::config::{Config, OutputFormat};
use crate::generator::{GenOptions, GenSummary};
use exec::{Outcome, run_statement};
use helper::{Names, ShellHelper};
use print::Printer;
use script::{Piece, split};

/// A DataFusion error as one line, without the nesting noise, for the user. Running out of the
/// memory pool also says which setting sizes it.
pub fn one_line_error(e: &DataFusionError) -> String {
    let s = e.to_string();
    let mut line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
        line.push_str(
            " (the query memory pool is memory_limit / --memory-limit, by default 80% of \
             memory; what could spill to disk already did)",
        );
    }
    line
}

/// Whether the shell should keep going after a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Next piece.
    Continue,
    /// `\q`.
    Quit,
}

/// A shell session: the engine, the output settings and the completion names.
pub struct Shell {
    /// The engine.
    pub ctx: SessionContext,
    /// The runtime queries run on.
    pub rt: tokio::runtime::Runtime,
    /// Current output format.
    pub format: OutputFormat,
    /// Row cap of the table format.
    pub max_rows: usize,
    /// Print timings for every statement.
    pub timing: bool,
    /// Attached to a terminal (progress lines, colours).
    pub interactive: bool,
    /// Names for completion.
    pub names: Arc<RwLock<Names>>,
    /// What the catalog loaded.
    pub catalog: CatalogReport,
    /// Where the data comes from.
    pub data_dir: Option<PathBuf>,
}

impl Shell {
    /// Opens the engine on the configured data (generating the sample if needed).
    pub fn open(config: &Config, interactive: bool) -> Result<Shell, AppError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_stack_size(crate::executor::STACK_BYTES)
            .enable_all()
            .build()
            .map_err(|e| AppError::Io {
                path: "<runtime>".into(),
                message: e.to_string(),
            })?;
        let (ctx, catalog) = rt.block_on(crate::open(config))?;
        let mut err = std::io::stderr();
        for e in &catalog.errors {
            let _ = writeln!(err, "Warning: {e}");
        }
        let shell = Shell {
            ctx,
            rt,
            format: config.format,
            max_rows: config.max_rows,
            timing: false,
            interactive,
            names: Arc::new(RwLock::new(Names::default())),
            catalog,
            data_dir: config.data_dir.clone(),
        };
        shell.refresh_names();
        Ok(shell)
    }

    /// Re-reads table, column and function names for completion.
    pub fn refresh_names(&self) {
        let state = self.ctx.state();
        let mut names = Names::default();
        names
            .functions
            .extend(state.scalar_functions().keys().cloned());
        names
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        names
            .functions
            .extend(state.window_functions().keys().cloned());
        names
            .functions
            .extend(state.table_functions().keys().cloned());
        if let Some(catalog) = self
            .ctx
            .catalog(&state.config().options().catalog.default_catalog)
        {
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for t in schema.table_names() {
                    if let Ok(Some(provider)) = self.rt.block_on(schema.table(&t)) {
                        names
                            .columns
                            .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                    }
                    names.tables.insert(t);
                }
            }
        }
        if let Ok(mut n) = self.names.write() {
            *n = names;
        }
    }

    /// Runs one SQL statement, printing its result. Errors are returned as one line.
    pub fn run_sql(&mut self, sql: &str, out: &mut dyn Write) -> Result<(), String> {
        let started = Instant::now();
        let mut printer = Printer::new(out, self.format, self.max_rows);
        let progress = self.interactive;
        let outcome = self
            .rt
            .block_on(run_statement(&self.ctx, sql, &mut printer, progress))
            .map_err(|e| one_line_error(&e))?;
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Outcome::Done(_) => {
                printer.finish(secs).map_err(|e| one_line_error(&e))?;
                if self.timing && self.format != OutputFormat::Table {
                    let _ = writeln!(std::io::stderr(), "Time: {secs:.3}s");
                }
            }
            Outcome::Cancelled => return Err(format!("query cancelled after {secs:.1}s")),
        }
        if is_ddl(sql) {
            self.refresh_names();
        }
        Ok(())
    }

    /// Runs one piece of input.
    pub fn run_piece(&mut self, piece: &Piece, out: &mut dyn Write) -> Result<Flow, String> {
        match piece {
            Piece::Sql(sql) => self.run_sql(sql, out).map(|_| Flow::Continue),
            Piece::Command(cmd) => commands::run_command(self, cmd, out),
        }
    }

    /// Runs a whole script, stopping at the first error (reported with its statement number).
    pub fn run_script_text(&mut self, text: &str, out: &mut dyn Write) -> Result<Flow, String> {
        let (mut pieces, rest) = split(text);
        if !rest.is_empty() {
            pieces.push(Piece::Sql(rest));
        }
        let total = pieces.len();
        for (i, p) in pieces.iter().enumerate() {
            match self.run_piece(p, out) {
                Ok(Flow::Quit) => return Ok(Flow::Quit),
                Ok(Flow::Continue) => {}
                Err(e) if total > 1 => return Err(format!("statement {} of {total}: {e}", i + 1)),
                Err(e) => return Err(e),
            }
        }
        Ok(Flow::Continue)
    }
}

fn is_ddl(sql: &str) -> bool {
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(first.as_str(), "CREATE" | "DROP" | "ALTER")
}

/// `ecomsql sql …` and piped input: run the script, exit non-zero on the first error.
pub fn run_script(config: &Config, text: &str) -> Result<(), AppError> {
    let mut shell = Shell::open(config, false)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match shell.run_script_text(text, &mut out) {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = out.flush();
            let _ = writeln!(std::io::stderr(), "Error: {e}");
            Err(AppError::StatementsFailed(1))
        }
    }
}

/// The interactive shell.
pub fn run_interactive(config: &Config) -> Result<(), AppError> {
    let mut shell = Shell::open(config, true)?;
    let line_config = LineConfig::builder()
        .auto_add_history(false)
        .max_history_size(10_000)
        .map_err(term_err)?
        .build();
    let mut editor: Editor<ShellHelper, DefaultHistory> =
        Editor::with_config(line_config).map_err(term_err)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    editor.set_helper(Some(ShellHelper::new(Arc::clone(&shell.names), color)));
    let _ = std::fs::create_dir_all(&config.state_dir);
    let history = config.state_dir.join("history.txt");
    let _ = editor.load_history(&history);
    let stdout = std::io::stdout();
    {
        let mut out = stdout.lock();
        let source = match &shell.data_dir {
            Some(d) => d.display().to_string(),
            None => "the generated sample".to_string(),
        };
        let _ = writeln!(
            out,
            "ecomsql {} — {} tables from {source}. Type \\? for help, \\d for tables, \\q to quit.",
            env!("CARGO_PKG_VERSION"),
            shell.catalog.tables.len()
        );
    }
    loop {
        match editor.readline("ecomsql> ") {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line.trim_end());
                let _ = editor.save_history(&history);
                let mut out = stdout.lock();
                match shell.run_script_text(&line, &mut out) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => {
                        let _ = out.flush();
                        let _ = writeln!(std::io::stderr(), "Error: {e}");
                    }
                }
            }
            // Ctrl-C at the prompt clears the line; it never ends the shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(term_err(e)),
        }
    }
    let _ = editor.save_history(&history);
    Ok(())
}

fn term_err(e: impl std::fmt::Display) -> AppError {
    AppError::Terminal(e.to_string())
}

/// What `ecomsql gen` prints when done.
pub fn print_gen_summary(opts: &GenOptions, s: &GenSummary) {
    let secs = s.seconds_millis as f64 / 1000.0;
    let _ = writeln!(
        std::io::stdout(),
        "wrote {} users, {} products, {} events, {} orders, {} reviews, {} campaign rows to {} in {secs:.1}s ({:.2}M events/s)",
        s.users,
        s.products,
        s.events,
        s.orders,
        s.reviews,
        s.campaigns,
        opts.out.display(),
        s.events as f64 / secs.max(1e-3) / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_errors_name_the_setting() {
        let oom = DataFusionError::ResourcesExhausted("Failed to allocate 8 MB".into())
            .context("hash join");
        let line = one_line_error(&oom);
        assert!(
            line.contains("Failed to allocate") && line.contains("--memory-limit"),
            "{line}"
        );
        let other = DataFusionError::Plan("no such table\n  t".into());
        assert_eq!(
            one_line_error(&other),
            "Error during planning: no such table t"
        );
    }
}
