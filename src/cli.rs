//! Command-line interface: flags (clap derive), dispatch to the subcommands, and the one place
//! where errors become messages and exit codes.
//!
//! To add a subcommand: add a variant to [`Command`] with its own args struct, and a branch in
//! [`run`].

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, ConfigLayer, OutputFormat};
use crate::generator::{GenError, GenOptions};
use crate::repl;

/// SQL analytics for online-shop logs: sessions, funnels, segments, sentiment, propensity.
#[derive(Debug, Parser)]
#[command(name = "ecomsql", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings every subcommand understands (they override `ecomsql.toml` and `ECOMSQL_*`).
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Data directory: each sub-folder or .parquet file becomes a table [env: ECOMSQL_DATA]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// State directory for history, models and the generated sample [env: ECOMSQL_STATE_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Memory limit for queries: 4GiB, 60% (of the machine's memory; default 80%) or unbounded; larger sorts, aggregations and joins spill to disk [env: ECOMSQL_MEMORY_LIMIT]
    #[arg(long, global = true, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Query parallelism: partitions per query (default: the number of cores, at least 16) [env: ECOMSQL_TARGET_PARTITIONS]
    #[arg(long, global = true, value_name = "N")]
    pub target_partitions: Option<usize>,
    /// Output format of results [env: ECOMSQL_FORMAT]
    #[arg(long, global = true, value_enum)]
    pub format: Option<OutputFormat>,
    /// Rows shown by the table format before eliding [env: ECOMSQL_MAX_ROWS]
    #[arg(long, global = true, value_name = "N")]
    pub max_rows: Option<usize>,
    /// Root folder of scheduled outputs (default: ./out) [env: ECOMSQL_OUTPUT_ROOT]
    #[arg(long, global = true, value_name = "DIR")]
    pub output_root: Option<PathBuf>,
    /// Config file (default: ./ecomsql.toml if present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Interactive SQL shell (the default)
    Repl,
    /// Run SQL non-interactively: -c, -f, or statements piped on stdin
    Sql(SqlArgs),
    /// Generate synthetic shop logs with planted personas
    Gen(GenArgs),
    /// Run one query file with a header once, writing its output (for backfills: --at)
    Run(RunArgs),
    /// Run every query file in a folder on its schedule (or --list them)
    Schedule(ScheduleArgs),
    /// Serve SQL over Arrow Flight SQL to BI tools and notebooks (JDBC, ADBC)
    Serve(ServeArgs),
    /// Hash a password for [[flight.users]] in ecomsql.toml (reads the password from stdin)
    HashPassword,
}

/// `ecomsql run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Query file whose header names an output (`-- output: …`)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Logical time of the run, setting {date} and {run_ts}: 2026-01-05, "2026-01-05 03:00"
    /// (in the job's time zone) or 2026-01-05T03:00:00Z (default: now)
    #[arg(long, value_name = "TIMESTAMP")]
    pub at: Option<String>,
    /// A parameter as NAME=VALUE, typed from its text (42, 0.5, true, 2026-01-05, or a string;
    /// '42' in quotes is a string); repeatable
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// `ecomsql schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Folder of query files; those with a `-- schedule:` header are jobs
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Show each job, its next run and its last outcome, then exit
    #[arg(long, conflicts_with = "once")]
    pub list: bool,
    /// Run what is due now (with catch-up), wait for it, then exit (for an external cron)
    #[arg(long)]
    pub once: bool,
}

/// `ecomsql serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: flight.listen from ecomsql.toml, else 127.0.0.1:50051]
    #[arg(long = "flight", value_name = "HOST:PORT")]
    pub flight: Option<String>,
}

/// `ecomsql sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run (may hold several statements separated by ';')
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    pub command: Option<String>,
    /// File of SQL statements to run
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `ecomsql gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Output folder (one sub-folder per table)
    #[arg(long, value_name = "DIR", default_value = "shop-data")]
    pub out: PathBuf,
    /// Number of users
    #[arg(long, default_value_t = 20_000)]
    pub users: u64,
    /// Number of logged days
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Random seed: the same flags always give the same rows
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First logged day (YYYY-MM-DD)
    #[arg(long, default_value = "2026-01-01")]
    pub start: NaiveDate,
    /// Days simulated after the logs for the _truth tables (future behaviour)
    #[arg(long, default_value_t = 28)]
    pub horizon_days: u32,
    /// Worker threads (0 = number of cores); does not change the rows
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Replace the output folder if it exists
    #[arg(long)]
    pub force: bool,
}

/// Errors that end a command; turned into a message and exit code by [`main`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Generator problem.
    #[error(transparent)]
    Gen(#[from] GenError),
    /// Query engine problem.
    #[error("{0}")]
    DataFusion(String),
    /// File problem.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// One or more statements failed (already reported).
    #[error("{0} statement(s) failed")]
    StatementsFailed(usize),
    /// The shell's line editor failed.
    #[error("terminal: {0}")]
    Terminal(String),
    /// A query file or scheduled run failed.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    /// The Flight SQL server failed.
    #[error(transparent)]
    Serve(#[from] crate::flight::ServeError),
}

impl From<datafusion::error::DataFusionError> for AppError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        AppError::DataFusion(repl::one_line_error(&e))
    }
}

fn config_layers(global: &GlobalArgs) -> Result<crate::Config, AppError> {
    let file = match &global.config {
        Some(path) => ConfigLayer::from_file(path)?,
        None => {
            let default = PathBuf::from("ecomsql.toml");
            if default.is_file() {
                ConfigLayer::from_file(&default)?
            } else {
                ConfigLayer::default()
            }
        }
    };
    let env = ConfigLayer::from_env(std::env::vars())?;
    let flags = ConfigLayer {
        data_dir: global.data.clone(),
        state_dir: global.state_dir.clone(),
        memory_limit: global.memory_limit.clone(),
        target_partitions: global.target_partitions,
        format: global.format,
        max_rows: global.max_rows,
        output_root: global.output_root.clone(),
        flight: None,
    };
    Ok(ConfigLayer::default()
        .merge(file)
        .merge(env)
        .merge(flags)
        .check()?)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), AppError> {
    let config = config_layers(&cli.global)?;
    match cli.command {
        Some(Command::Gen(a)) => {
            let opts = GenOptions {
                out: a.out,
                users: a.users,
                days: a.days,
                seed: a.seed,
                start: a.start,
                horizon_days: a.horizon_days,
                threads: a.threads,
                force: a.force,
                progress: std::io::stderr().is_terminal(),
            };
            let s = crate::generator::generate(&opts)?;
            repl::print_gen_summary(&opts, &s);
            Ok(())
        }
        Some(Command::Run(a)) => {
            crate::schedule::commands::run_file(&config, &a.file, a.at.as_deref(), &a.params)
        }
        Some(Command::Schedule(a)) => {
            crate::schedule::commands::schedule_dir(&config, &a.dir, a.list, a.once)
        }
        Some(Command::Sql(a)) => {
            let script = match (a.command, a.file) {
                (Some(c), _) => c,
                (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| AppError::Io {
                    path: f.clone(),
                    message: e.to_string(),
                })?,
                (None, None) => {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                        AppError::Io {
                            path: "<stdin>".into(),
                            message: e.to_string(),
                        }
                    })?;
                    s
                }
            };
            repl::run_script(&config, &script)
        }
        Some(Command::Serve(a)) => serve(&config, a.flight),
        Some(Command::HashPassword) => hash_password(),
        Some(Command::Repl) | None => {
            if std::io::stdin().is_terminal() {
                repl::run_interactive(&config)
            } else {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                    AppError::Io {
                        path: "<stdin>".into(),
                        message: e.to_string(),
                    }
                })?;
                repl::run_script(&config, &s)
            }
        }
    }
}

/// `ecomsql serve`: the Flight SQL server until SIGINT/SIGTERM, then a bounded grace period
/// for running queries.
fn serve(config: &crate::Config, listen: Option<String>) -> Result<(), AppError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(crate::executor::STACK_BYTES)
        .enable_all()
        .build()
        .map_err(|e| AppError::Io {
            path: "<runtime>".into(),
            message: e.to_string(),
        })?;
    rt.block_on(async {
        // Refuse a bad or unsafe address first: before the data loads, anything binds or the
        // address is announced.
        let addr = listen.unwrap_or_else(|| config.flight.listen.clone());
        let listen = crate::flight::ListenAddr::check(&addr, &config.flight).await?;
        let (ctx, catalog) = crate::open(config).await?;
        let mut err = std::io::stderr();
        for e in &catalog.errors {
            let _ = writeln!(err, "Warning: {e}");
        }
        let server = crate::flight::Server::new(ctx, &config.flight)?;
        let listener = listen.bind().await?;
        let bound = listener.local_addr().map_or(addr, |a| a.to_string());
        let scheme = if config.flight.tls.is_some() {
            "grpc+tls"
        } else {
            "grpc"
        };
        let _ = writeln!(
            err,
            "ecomsql: Flight SQL on {scheme}://{bound} ({} tables, {} users); Ctrl-C stops",
            catalog.tables.len(),
            config.flight.users.len()
        );
        server.run(listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `ecomsql hash-password`: reads one line (the password) from stdin, prints its argon2 hash.
fn hash_password() -> Result<(), AppError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| AppError::Io {
            path: "<stdin>".into(),
            message: e.to_string(),
        })?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(AppError::Io {
            path: "<stdin>".into(),
            message: "no password given: pipe it in, e.g. `ecomsql hash-password < pw.txt`".into(),
        });
    }
    let hash = crate::flight::auth::hash_password(password)
        .map_err(|e| AppError::DataFusion(format!("hashing the password: {e}")))?;
    let _ = writeln!(std::io::stdout(), "{hash}");
    Ok(())
}

/// The binary's entry point: logging, parsing, running, exit code. Errors are one line.
pub fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ECOMSQL_LOG")
                // The Flight SQL server's one line per query is at info level.
                .unwrap_or_else(|_| {
                    tracing_subscriber::EnvFilter::new("warn,ecomsql::flight=info")
                }),
        )
        .with_writer(std::io::stderr)
        // Plain key=value lines when logs go to a file or a collector.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    // A bug must still end in one clear line, not a panic message and a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = crate::panic_message(info.payload()).unwrap_or("unknown panic");
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(
            std::io::stderr(),
            "Error: internal error: {msg}{at} (this is a bug in ecomsql; please report it)"
        );
    }));
    let cli = Cli::parse();
    // The work runs on a thread with the stack statements need (see executor::STACK_BYTES);
    // the main thread's is whatever `ulimit -s` gave it.
    let outcome = std::thread::Builder::new()
        .name("ecomsql".into())
        .stack_size(crate::executor::STACK_BYTES)
        .spawn(move || run(cli))
        .map_err(|e| AppError::Io {
            path: "<thread>".into(),
            message: e.to_string(),
        })
        .and_then(|worker| {
            worker.join().unwrap_or_else(|_| {
                Err(AppError::DataFusion(
                    "internal error: the main thread panicked".into(),
                ))
            })
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(AppError::StatementsFailed(_)) => ExitCode::from(1),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "Error: {e}");
            ExitCode::from(1)
        }
    }
}
