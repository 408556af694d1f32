//! End-to-end tests through the `ucsync` binary on real files and a real SQLite store.

mod check;
mod crash;
mod csv_runs;
mod harness;
mod quickstart;
