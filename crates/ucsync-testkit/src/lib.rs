//! Real directory servers for tests: a private OpenLDAP [`Slapd`] and a private Samba AD DC
//! ([`SambaDc`]) per test, each in its own temporary directory on its own loopback port, plus
//! the real ldap-utils to put data in and read it back ([`LdapCli`]) and deterministic bulk
//! LDIF ([`UsersLdif`]); and a fake HCL Connections Communities server
//! ([`connections::FakeConnections`]) speaking its Atom API over HTTP or HTTPS; and a private
//! CA ([`Pki`]) issuing the certificates that tests of TLS name and date checks need.
//!
//! Test support only: used as a dev-dependency. It needs the Debian packages `slapd ldap-utils
//! openssl` (OpenLDAP) and `samba-ad-dc samba-ad-provision ldb-tools socat` (Samba, run as
//! root); a missing one fails the test with the package to install (`.ci/run` installs them).
//!
//! ```no_run
//! use ucsync_testkit::{Slapd, SlapdOptions};
//!
//! let slapd = Slapd::start(SlapdOptions::default());
//! let people = slapd.add_ou("people");
//! slapd.ldapadd(&format!(
//!     "dn: uid=anna,{people}\nobjectClass: inetOrgPerson\nuid: anna\ncn: Anna\nsn: Lang\n"
//! ));
//! assert_eq!(slapd.count(slapd.suffix(), "(uid=anna)"), 1);
//! // connect the code under test to slapd.uri() as slapd.root_dn() / slapd.root_pw()
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bulk;
mod cli;
pub mod connections;
mod error;
mod ldif;
mod pki;
mod process;
mod samba;
mod slapd;
pub mod tls;

pub use bulk::{UsersLdif, gen_users_ldif};
pub use cli::{LdapCli, Scope};
pub use connections::{FakeConnections, Fault};
pub use error::{Error, Result};
pub use ldif::{Entry, ldif_line, parse_ldif};
pub use pki::Pki;
pub use samba::SambaDc;
pub use slapd::{Slapd, SlapdOptions};
