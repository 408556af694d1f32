//! The real ldap-utils (`ldapsearch`, `ldapadd`, `ldapmodify`, `ldapdelete`) against one server,
//! shared by [`crate::Slapd`] and [`crate::SambaDc`].

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Result;
use crate::ldif::{Entry, ldif_line, parse_ldif};
use crate::process;

/// The scope of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The base entry only.
    Base,
    /// The base's children.
    One,
    /// The base and everything below it.
    Sub,
}

impl Scope {
    fn arg(self) -> &'static str {
        match self {
            Scope::Base => "base",
            Scope::One => "one",
            Scope::Sub => "sub",
        }
    }
}

/// Runs the ldap-utils against one URI with one simple bind (or anonymously).
///
/// The `try_*` methods return the tool's failure (with its exit code, which is the LDAP result
/// code, and its stderr); the others panic with that message, which is what a test wants.
#[derive(Clone, Debug)]
pub struct LdapCli {
    uri: String,
    bind: Option<(String, String)>,
    ca_file: Option<PathBuf>,
}

impl LdapCli {
    /// Anonymous access to `uri`.
    #[must_use]
    pub fn new(uri: impl Into<String>) -> Self {
        LdapCli {
            uri: uri.into(),
            bind: None,
            ca_file: None,
        }
    }

    /// The same with a simple bind as `dn` / `password`.
    #[must_use]
    pub fn bind(mut self, dn: impl Into<String>, password: impl Into<String>) -> Self {
        self.bind = Some((dn.into(), password.into()));
        self
    }

    /// The same, trusting the CA in `ca_file` (for `ldaps://`; set as `LDAPTLS_CACERT`).
    #[must_use]
    pub fn ca_file(mut self, ca_file: impl AsRef<Path>) -> Self {
        self.ca_file = Some(ca_file.as_ref().to_path_buf());
        self
    }

    /// The server's URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// A command for `tool` (an ldap-utils program) with `-x -H URI`, the bind and the TLS
    /// settings added; append the tool's own arguments. Run it with [`LdapCli::run`].
    pub fn command(&self, tool: &str) -> Result<Command> {
        let mut cmd = process::command(tool)?;
        cmd.args(["-x", "-H", &self.uri, "-o", "nettimeout=10"]);
        if let Some((dn, password)) = &self.bind {
            cmd.args(["-D", dn, "-w", password]);
        }
        if let Some(ca) = &self.ca_file {
            cmd.env("LDAPTLS_CACERT", ca)
                .env("LDAPTLS_REQCERT", "demand");
        }
        Ok(cmd)
    }

    /// Runs `tool` with `args` (after the common ones) and `stdin`; returns its stdout.
    pub fn run(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut cmd = self.command(tool)?;
        cmd.args(args);
        let output = process::run(cmd, stdin.map(str::as_bytes))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `ldapadd` of the entries in `ldif`.
    pub fn try_ldapadd(&self, ldif: &str) -> Result<()> {
        self.run("ldapadd", &[], Some(ldif)).map(drop)
    }

    /// `ldapmodify` of the change records in `ldif` (`changetype: add|modify|delete|modrdn`).
    pub fn try_ldapmodify(&self, ldif: &str) -> Result<()> {
        self.run("ldapmodify", &[], Some(ldif)).map(drop)
    }

    /// `ldapdelete` of one entry.
    pub fn try_ldapdelete(&self, dn: &str) -> Result<()> {
        self.run("ldapdelete", &[dn], None).map(drop)
    }

    /// `ldapdelete -r`: the entry and everything below it.
    pub fn try_delete_tree(&self, dn: &str) -> Result<()> {
        self.run("ldapdelete", &["-r", dn], None).map(drop)
    }

    /// Renames or moves `dn` (a `changetype: modrdn` record through `ldapmodify`).
    pub fn try_ldapmodrdn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<()> {
        let mut ldif = ldif_line("dn", dn);
        ldif.push_str("changetype: modrdn\n");
        ldif.push_str(&ldif_line("newrdn", new_rdn));
        ldif.push_str(if delete_old_rdn {
            "deleteoldrdn: 1\n"
        } else {
            "deleteoldrdn: 0\n"
        });
        if let Some(superior) = new_superior {
            ldif.push_str(&ldif_line("newsuperior", superior));
        }
        self.try_ldapmodify(&ldif)
    }

    /// `ldapsearch` of `base`'s subtree; `attrs` empty means all user attributes (`"+"` adds
    /// the operational ones, `"*"` the user ones).
    pub fn try_search(&self, base: &str, filter: &str, attrs: &[&str]) -> Result<Vec<Entry>> {
        self.try_search_scope(base, Scope::Sub, filter, attrs)
    }

    /// `ldapsearch` with a scope.
    pub fn try_search_scope(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>> {
        let mut args = vec![
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            base,
            "-s",
            scope.arg(),
            filter,
        ];
        args.extend_from_slice(attrs);
        let stdout = self.run("ldapsearch", &args, None)?;
        Ok(parse_ldif(&stdout))
    }

    /// The entry `dn` (base search), `None` when it does not exist.
    pub fn try_get(&self, dn: &str, attrs: &[&str]) -> Result<Option<Entry>> {
        match self.try_search_scope(dn, Scope::Base, "(objectClass=*)", attrs) {
            Ok(entries) => Ok(entries.into_iter().next()),
            Err(e) if e.ldap_code() == Some(32) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// How many entries of `base`'s subtree match `filter`.
    pub fn try_count(&self, base: &str, filter: &str) -> Result<usize> {
        Ok(self.try_search(base, filter, &["1.1"])?.len())
    }

    /// [`LdapCli::try_ldapadd`], panicking with the tool's message.
    pub fn ldapadd(&self, ldif: &str) {
        ok(self.try_ldapadd(ldif));
    }

    /// [`LdapCli::try_ldapmodify`], panicking with the tool's message.
    pub fn ldapmodify(&self, ldif: &str) {
        ok(self.try_ldapmodify(ldif));
    }

    /// [`LdapCli::try_ldapdelete`], panicking with the tool's message.
    pub fn ldapdelete(&self, dn: &str) {
        ok(self.try_ldapdelete(dn));
    }

    /// [`LdapCli::try_delete_tree`], panicking with the tool's message.
    pub fn delete_tree(&self, dn: &str) {
        ok(self.try_delete_tree(dn));
    }

    /// [`LdapCli::try_ldapmodrdn`], panicking with the tool's message.
    pub fn ldapmodrdn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) {
        ok(self.try_ldapmodrdn(dn, new_rdn, delete_old_rdn, new_superior));
    }

    /// [`LdapCli::try_search`], panicking with the tool's message.
    #[must_use]
    pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<Entry> {
        ok(self.try_search(base, filter, attrs))
    }

    /// [`LdapCli::try_search_scope`], panicking with the tool's message.
    #[must_use]
    pub fn search_scope(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Vec<Entry> {
        ok(self.try_search_scope(base, scope, filter, attrs))
    }

    /// [`LdapCli::try_get`], panicking with the tool's message.
    #[must_use]
    pub fn get(&self, dn: &str, attrs: &[&str]) -> Option<Entry> {
        ok(self.try_get(dn, attrs))
    }

    /// [`LdapCli::try_count`], panicking with the tool's message.
    #[must_use]
    pub fn count(&self, base: &str, filter: &str) -> usize {
        ok(self.try_count(base, filter))
    }
}

#[track_caller]
fn ok<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Inherent methods on a server type that forward to its `cli()` (bound as the administrator),
/// so tests write `server.ldapadd(…)`.
macro_rules! forward_cli {
    () => {
        /// `ldapadd` as the administrator; panics with the tool's message.
        pub fn ldapadd(&self, ldif: &str) {
            self.cli().ldapadd(ldif)
        }
        /// `ldapmodify` as the administrator; panics with the tool's message.
        pub fn ldapmodify(&self, ldif: &str) {
            self.cli().ldapmodify(ldif)
        }
        /// `ldapdelete` as the administrator; panics with the tool's message.
        pub fn ldapdelete(&self, dn: &str) {
            self.cli().ldapdelete(dn)
        }
        /// `ldapdelete -r` as the administrator; panics with the tool's message.
        pub fn delete_tree(&self, dn: &str) {
            self.cli().delete_tree(dn)
        }
        /// Renames or moves `dn` as the administrator; panics with the tool's message.
        pub fn ldapmodrdn(
            &self,
            dn: &str,
            new_rdn: &str,
            delete_old_rdn: bool,
            new_superior: Option<&str>,
        ) {
            self.cli()
                .ldapmodrdn(dn, new_rdn, delete_old_rdn, new_superior)
        }
        /// Subtree `ldapsearch` as the administrator; panics with the tool's message.
        #[must_use]
        pub fn search(&self, base: &str, filter: &str, attrs: &[&str]) -> Vec<$crate::Entry> {
            self.cli().search(base, filter, attrs)
        }
        /// The entry `dn`, `None` when absent; panics with the tool's message on other errors.
        #[must_use]
        pub fn get(&self, dn: &str, attrs: &[&str]) -> Option<$crate::Entry> {
            self.cli().get(dn, attrs)
        }
        /// How many entries below `base` match `filter`; panics with the tool's message.
        #[must_use]
        pub fn count(&self, base: &str, filter: &str) -> usize {
            self.cli().count(base, filter)
        }
        /// `ldapadd` as the administrator, returning the tool's failure.
        pub fn try_ldapadd(&self, ldif: &str) -> $crate::Result<()> {
            self.cli().try_ldapadd(ldif)
        }
        /// `ldapmodify` as the administrator, returning the tool's failure.
        pub fn try_ldapmodify(&self, ldif: &str) -> $crate::Result<()> {
            self.cli().try_ldapmodify(ldif)
        }
        /// Subtree `ldapsearch` as the administrator, returning the tool's failure.
        pub fn try_search(
            &self,
            base: &str,
            filter: &str,
            attrs: &[&str],
        ) -> $crate::Result<Vec<$crate::Entry>> {
            self.cli().try_search(base, filter, attrs)
        }
    };
}
pub(crate) use forward_cli;
