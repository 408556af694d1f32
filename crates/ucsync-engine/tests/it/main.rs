//! Integration tests of the sync engine: real CSV files, a real SQLite store, the engine driven
//! through its public API (`run_profile`, `sync_now`), results read back through the store traits
//! and the written files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod import;
mod incomplete;
mod incomplete_ldap;

mod characters;
mod characters_export;
mod config_change;
mod damaged;
mod deprovisioning;
mod joins;
mod outstanding;
mod outstanding_failed;
mod pipeline;
mod precedence;
mod preview;
mod provisioning;
mod references;
mod retention;
mod run_status;
mod scope;
mod stop;
mod stop_ldap;
mod threshold;
mod transforms;
