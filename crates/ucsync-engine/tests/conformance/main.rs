//! The connector conformance suite (`docs/CONNECTORS.md`): every connector kind runs the same
//! requirement checks against its real peer (a real file, a real slapd, a real Samba AD DC, a
//! real ucsync server), through the engine's real import sink and a real SQLite store.
//!
//! `suite` holds the requirements, one function each, written against the [`suite::Peer`]
//! trait; each kind's module implements `Peer` and expands every requirement into one test
//! with [`conformance!`], so a kind is listed as `csv::c3_delta_reports_exactly_one_add_change_delete`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hub;
mod suite;

mod communities;
mod csv;
mod ldap_samba;
mod ldap_slapd;
mod pbx;
mod peer;
