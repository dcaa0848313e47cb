//! ecomsql's integration tests: one binary, one module per area. Servers bind 127.0.0.1:0;
//! nothing sleeps waiting for anything.

mod catalog;
mod fixture;
mod flight;
mod functions;
mod generator;
mod interop;
mod memory;
mod models;
mod queries;
mod schedule;
mod security;
mod sentiment;
mod shell;
