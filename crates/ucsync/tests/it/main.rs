//! End-to-end tests through the `ucsync` binary on real files and a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is a panic

mod ad_forest;
mod characters;
mod check;
mod check_sources;
mod communities;
mod concurrent;
mod config_change;
mod config_data;
mod connector_delete;
mod crash;
mod csv_runs;
mod damaged;
mod enterprises;
mod first_day;
mod harness;
mod ldap_forests;
mod outstanding_errors;
mod pbx;
mod pbx_retention;
mod peer_certificates;
mod peer_dialing;
mod peer_edges;
mod peer_feed;
mod peer_rules;
mod peer_servers;
mod quickstart;
mod references;
mod run_history;
mod secrets;
mod serve;
mod serve_accounts;
mod serve_admins;
mod serve_config;
mod serve_load;
mod serve_login;
mod serve_preview;
mod serve_read;
mod serve_schedule;
mod serve_sessions;
mod serve_stop;
mod soak;
mod store_file;
