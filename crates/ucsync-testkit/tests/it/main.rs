//! The testkit against the real servers: slapd (plain, TLS, bulk load, replication, limits)
//! and the Samba AD DC. These tests run in parallel, so they also show that instances run side
//! by side. The fake Connections server is tested here too.

mod connections;
mod samba;
mod slapd;
