//! The `ecomsql` binary: parse flags, run, turn the outcome into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ecomsql::cli::main()
}
