//! The `ecomsql` binary: parse flags, run, turn the outcome into an exit code.

use std::process::ExitCode;

/// The program counts its heap, so its memory pools can hold the whole process to the memory
/// limit, whatever an operator fails to account (see `ecomsql::memory`).
#[global_allocator]
static HEAP: ecomsql::memory::CountingAllocator = ecomsql::memory::CountingAllocator;

fn main() -> ExitCode {
    ecomsql::memory::tune_allocator();
    ecomsql::cli::main()
}
