//! A private OpenLDAP slapd per test, in its own temporary directory and on its own port.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cli::{LdapCli, forward_cli};
use crate::error::{Error, Result};
use crate::process;
use crate::tls::{self, TlsFiles};

/// How long a slapd gets to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a slapd gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How many ports are tried when the free one was taken before slapd bound it.
const PORT_ATTEMPTS: usize = 5;

/// How to configure a [`Slapd`]. Start from `SlapdOptions::default()` and change fields:
/// `SlapdOptions { tls: true, ..Default::default() }`.
#[derive(Clone, Debug)]
pub struct SlapdOptions {
    /// The suffix of the one mdb database; `dc=example,dc=com` by default. Its first RDN must
    /// be a `dc=` (the base entry is a dcObject + organization).
    pub suffix: String,
    /// The password of the rootdn `cn=admin,<suffix>`; `secret` by default.
    pub root_pw: String,
    /// Load syncprov and put the overlay on the database (`syncprov-checkpoint 100 1` and the
    /// two options below), so the server offers content synchronization (RFC 4533) and the
    /// entryCSN/contextCSN bookkeeping. On by default.
    pub syncprov: bool,
    /// `syncprov-sessionlog N`: how many write operations (adds excepted) the in-memory session
    /// log keeps, so that a refresh from a cookie the log reaches back to learns of deletes
    /// without a present phase. `Some(10000)` by default; `None` for no session log.
    pub syncprov_sessionlog: Option<u32>,
    /// `syncprov-reloadhint TRUE`: honor the reloadHint flag of the Sync Request control. A
    /// cookie the server can no longer serve (the session log does not reach back to it and
    /// every entry changed since) is then refused with e-syncRefreshRequired (result code
    /// 4096, "sync cookie is stale"); without it slapd ignores such a cookie and answers with
    /// a present phase. Off by default, as in slapd.
    pub syncprov_reloadhint: bool,
    /// `dbnosync`: no fsync per transaction (faster bulk loads, for benchmarks).
    pub dbnosync: bool,
    /// Make the database a syncrepl consumer of this provider URI (`rid=001`,
    /// `type=refreshAndPersist`, bound as the provider's `cn=admin,<suffix>` with `root_pw`,
    /// so the provider must use the same suffix and password). A consumer gets no base entry:
    /// it comes from the provider.
    pub consumer_of: Option<String>,
    /// Generate a CA and a server certificate for `localhost` / 127.0.0.1 with `openssl`,
    /// configure them and listen on an `ldaps://` port too ([`Slapd::ldaps_uri`],
    /// [`Slapd::ca_file`]). Off by default.
    pub tls: bool,
    /// A global `sizelimit` for everyone but the rootdn (which is unlimited), so a test can
    /// hit "size limit exceeded". `None` (default): unlimited.
    pub size_limit: Option<u32>,
    /// The `access` lines of the database, replacing the default ones:
    /// `access to attrs=userPassword by self write by anonymous auth by * none` and
    /// `access to * by * read`.
    pub acl: Option<Vec<String>>,
    /// Raw lines for the global section (after the modules, before `database mdb`).
    pub extra_config: Vec<String>,
    /// Raw lines for the mdb database section (after the indexes, ACLs and limits, before the
    /// overlay and syncrepl), e.g. more `index` lines.
    pub extra_db_config: Vec<String>,
    /// slapd's `-d` debug level; its output goes to `slapd.log` in the instance directory.
    /// `none` (default) logs only errors; `stats` logs every operation.
    pub log_level: String,
}

impl Default for SlapdOptions {
    fn default() -> Self {
        SlapdOptions {
            suffix: "dc=example,dc=com".to_owned(),
            root_pw: "secret".to_owned(),
            syncprov: true,
            syncprov_sessionlog: Some(10_000),
            syncprov_reloadhint: false,
            dbnosync: false,
            consumer_of: None,
            tls: false,
            size_limit: None,
            acl: None,
            extra_config: Vec::new(),
            extra_db_config: Vec::new(),
            log_level: "none".to_owned(),
        }
    }
}

/// A running private slapd. Stopped (SIGTERM, then SIGKILL after 10 s) and its directory
/// removed when dropped; set `UCSYNC_TESTKIT_KEEP=1` to keep the directory.
///
/// The helpers (`ldapadd`, `search`, …) run the real ldap-utils bound as the rootdn and panic
/// with the tool's stderr; the `try_` ones return it. The API is blocking: from async tests,
/// calling it on the runtime's thread is fine (it only waits for child processes).
pub struct Slapd {
    options: SlapdOptions,
    root_dn: String,
    port: u16,
    tls_port: Option<u16>,
    tls: Option<TlsFiles>,
    child: Option<Child>,
    cli: LdapCli,
    started_in: Duration,
    // Last: dropped after the server is stopped.
    dir: TempDir,
}

impl std::fmt::Debug for Slapd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slapd")
            .field("uri", &self.uri())
            .field("dir", &self.dir.path())
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish_non_exhaustive()
    }
}

impl Slapd {
    /// Starts a slapd with the base entry of the suffix; panics with what failed and the
    /// server's log tail.
    #[must_use]
    pub fn start(options: SlapdOptions) -> Slapd {
        Slapd::try_start(options).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a slapd with the base entry of the suffix.
    pub fn try_start(options: SlapdOptions) -> Result<Slapd> {
        Slapd::launch(options, None)
    }

    /// Starts a slapd whose database was loaded with `slapadd` from the base entry and `ldif`
    /// first (far faster than `ldapadd` for many entries). `ldif` must not hold the base entry;
    /// parents must come before children ([`crate::UsersLdif`] writes them so).
    #[must_use]
    pub fn start_with_ldif(options: SlapdOptions, ldif: &str) -> Slapd {
        Slapd::try_start_with_ldif(options, ldif).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Slapd::start_with_ldif`], returning the failure.
    pub fn try_start_with_ldif(options: SlapdOptions, ldif: &str) -> Result<Slapd> {
        Slapd::launch(options, Some(Ldif::Text(ldif)))
    }

    /// [`Slapd::start_with_ldif`] reading the LDIF from a file (for large benchmark data).
    #[must_use]
    pub fn start_with_ldif_file(options: SlapdOptions, ldif: &Path) -> Slapd {
        Slapd::try_start_with_ldif_file(options, ldif).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Slapd::start_with_ldif_file`], returning the failure.
    pub fn try_start_with_ldif_file(options: SlapdOptions, ldif: &Path) -> Result<Slapd> {
        Slapd::launch(options, Some(Ldif::File(ldif)))
    }

    fn launch(options: SlapdOptions, ldif: Option<Ldif<'_>>) -> Result<Slapd> {
        let dir = process::instance_dir("ucsync-slapd-")?;
        let root_dn = format!("cn=admin,{}", options.suffix);
        let tls = if options.tls {
            Some(tls::generate(&dir.path().join("tls"))?)
        } else {
            None
        };
        let mut slapd = Slapd {
            cli: LdapCli::new(""),
            root_dn,
            port: 0,
            tls_port: None,
            tls,
            child: None,
            started_in: Duration::ZERO,
            options,
            dir,
        };
        std::fs::create_dir_all(slapd.dir.path().join("db")).map_err(|e| {
            Error::Server(format!(
                "cannot create {}: {e}",
                slapd.dir.path().join("db").display()
            ))
        })?;
        let conf = slapd.config();
        std::fs::write(slapd.conf_file(), conf).map_err(|e| {
            Error::Server(format!("cannot write {}: {e}", slapd.conf_file().display()))
        })?;
        slapd.load(ldif)?;

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            slapd.port = process::free_port()?;
            slapd.tls_port = match slapd.tls {
                Some(_) => Some(process::free_port()?),
                None => None,
            };
            match slapd.spawn_and_wait()? {
                Spawned::Ready => {
                    return Ok(slapd);
                }
                Spawned::PortTaken(message) => last_error = Some(message),
            }
        }
        Err(Error::Server(format!(
            "slapd could not bind a port in {PORT_ATTEMPTS} attempts (another process took each \
             free port first); last failure:\n{}",
            last_error.unwrap_or_default()
        )))
    }

    /// The `slapd.conf` of this instance.
    fn config(&self) -> String {
        let o = &self.options;
        let dir = self.dir.path().display();
        let mut c = String::new();
        let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let _ = writeln!(c, "# ucsync-testkit: private slapd instance");
        for schema in ["core", "cosine", "inetorgperson", "nis"] {
            let _ = writeln!(c, "include /etc/ldap/schema/{schema}.schema");
        }
        let _ = writeln!(c, "pidfile {dir}/slapd.pid");
        let _ = writeln!(c, "argsfile {dir}/slapd.args");
        let _ = writeln!(c, "modulepath /usr/lib/ldap");
        let _ = writeln!(c, "moduleload back_mdb");
        if o.syncprov {
            let _ = writeln!(c, "moduleload syncprov");
        }
        match o.size_limit {
            Some(n) => {
                let _ = writeln!(c, "sizelimit {n}");
            }
            None => {
                let _ = writeln!(c, "sizelimit unlimited");
            }
        }
        let _ = writeln!(c, "timelimit unlimited");
        let _ = writeln!(c, "tool-threads 2");
        if let Some(tls) = &self.tls {
            let _ = writeln!(c, "TLSCACertificateFile {}", tls.ca_cert.display());
            let _ = writeln!(c, "TLSCertificateFile {}", tls.server_cert.display());
            let _ = writeln!(c, "TLSCertificateKeyFile {}", tls.server_key.display());
        }
        for line in &o.extra_config {
            let _ = writeln!(c, "{line}");
        }
        let _ = writeln!(c);
        let _ = writeln!(c, "database mdb");
        let _ = writeln!(c, "maxsize 8589934592");
        let _ = writeln!(c, "suffix {}", quoted(&o.suffix));
        let _ = writeln!(c, "rootdn {}", quoted(&self.root_dn));
        let _ = writeln!(c, "rootpw {}", quoted(&o.root_pw));
        let _ = writeln!(c, "directory {dir}/db");
        if o.dbnosync {
            let _ = writeln!(c, "dbnosync");
        }
        let _ = writeln!(c, "index objectClass eq");
        let _ = writeln!(c, "index uid,mail,member,entryCSN,entryUUID eq");
        let _ = writeln!(c, "index cn eq,sub");
        match &o.acl {
            Some(lines) => {
                for line in lines {
                    let _ = writeln!(c, "{line}");
                }
            }
            None => {
                let _ = writeln!(
                    c,
                    "access to attrs=userPassword\n    by self write\n    by anonymous auth\n    by * none\naccess to * by * read"
                );
            }
        }
        let _ = writeln!(
            c,
            "limits dn.exact={} size=unlimited time=unlimited",
            quoted(&self.root_dn)
        );
        for line in &o.extra_db_config {
            let _ = writeln!(c, "{line}");
        }
        if let Some(provider) = &o.consumer_of {
            // timeout=1: the persist phase waits for the provider that long at a time, and
            // slapd's shutdown waits for it; with 10 a consumer took 10 s to stop. The initial
            // copy is as fast either way (20,000 entries: about 12 s both).
            let _ = writeln!(c);
            let _ = writeln!(
                c,
                "syncrepl rid=001\n    provider={provider}\n    bindmethod=simple\n    \
                 binddn={}\n    credentials={}\n    searchbase={}\n    scope=sub\n    \
                 attrs=\"*,+\"\n    type=refreshAndPersist\n    retry=\"1 +\"\n    \
                 timeout=1\n    network-timeout=10",
                quoted(&self.root_dn),
                quoted(&o.root_pw),
                quoted(&o.suffix),
            );
        }
        if o.syncprov {
            let _ = writeln!(c);
            let _ = writeln!(c, "overlay syncprov");
            let _ = writeln!(c, "syncprov-checkpoint 100 1");
            if let Some(n) = o.syncprov_sessionlog {
                let _ = writeln!(c, "syncprov-sessionlog {n}");
            }
            if o.syncprov_reloadhint {
                let _ = writeln!(c, "syncprov-reloadhint TRUE");
            }
        }
        c
    }

    /// The base entry of the suffix.
    fn base_entry(&self) -> String {
        let suffix = &self.options.suffix;
        let first = suffix.split(',').next().unwrap_or(suffix);
        let dc = first.split_once('=').map_or(first, |(_, v)| v).trim();
        format!(
            "dn: {suffix}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n\
             dc: {dc}\no: {dc}\n\n"
        )
    }

    /// Loads the base entry (not on a consumer) and `ldif` with `slapadd` while slapd is down.
    fn load(&self, ldif: Option<Ldif<'_>>) -> Result<()> {
        let consumer = self.options.consumer_of.is_some();
        let base = (!consumer).then(|| self.base_entry());
        let load_file = self.dir.path().join("load.ldif");
        let source: Option<PathBuf> = match ldif {
            None => {
                let Some(base) = base else {
                    return Ok(());
                };
                self.write(&load_file, base.as_bytes())?;
                Some(load_file.clone())
            }
            Some(Ldif::Text(text)) => {
                let mut all = base.unwrap_or_default();
                all.push_str(text);
                self.write(&load_file, all.as_bytes())?;
                Some(load_file.clone())
            }
            Some(Ldif::File(path)) => {
                if let Some(base) = base {
                    self.write(&load_file, base.as_bytes())?;
                    self.slapadd(&load_file)?;
                }
                Some(path.to_path_buf())
            }
        };
        if let Some(source) = source {
            self.slapadd(&source)?;
        }
        let _ = std::fs::remove_file(&load_file);
        Ok(())
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        std::fs::write(path, bytes)
            .map_err(|e| Error::Server(format!("cannot write {}: {e}", path.display())))
    }

    fn slapadd(&self, ldif: &Path) -> Result<()> {
        let mut cmd = process::command("slapadd")?;
        cmd.arg("-q")
            .arg("-f")
            .arg(self.conf_file())
            .arg("-l")
            .arg(ldif);
        if self.options.syncprov {
            cmd.arg("-w");
        }
        process::run(cmd, None).map(drop).map_err(|e| {
            Error::Server(format!(
                "loading {} into the slapd of {} with slapadd failed: {e}\n--- slapd.conf ---\n{}",
                ldif.display(),
                self.dir.path().display(),
                std::fs::read_to_string(self.conf_file())
                    .unwrap_or_default()
                    .lines()
                    .enumerate()
                    .map(|(i, line)| format!("{:>3} {line}\n", i + 1))
                    .collect::<String>(),
            ))
        })
    }

    /// Starts slapd in the foreground (`-d LEVEL`, so its errors land in `slapd.log` and it
    /// stays our child) and waits until it answers.
    fn spawn_and_wait(&mut self) -> Result<Spawned> {
        let uri = self.uri();
        let mut listen = uri.clone();
        if let Some(ldaps) = self.ldaps_uri() {
            listen.push(' ');
            listen.push_str(&ldaps);
        }
        let log_path = self.log_file();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::Server(format!("cannot open {}: {e}", log_path.display())))?;
        let _ = writeln!(log, "---- ucsync-testkit: starting slapd on {listen}");
        let log_start = std::fs::metadata(&log_path).map_or(0, |m| m.len());
        let _ = std::fs::remove_file(self.pid_file());

        let mut cmd = process::command("slapd")?;
        cmd.arg("-d")
            .arg(&self.options.log_level)
            .arg("-f")
            .arg(self.conf_file())
            .arg("-h")
            .arg(&listen)
            .arg("-n")
            .arg(format!("slapd-{}", self.port))
            .stdin(Stdio::null())
            .stdout(clone_file(&log, &log_path)?)
            .stderr(log);
        let t0 = Instant::now();
        let mut child = cmd.spawn().map_err(|e| process::spawn_error(&cmd, &e))?;
        let pid = child.id();
        self.cli = LdapCli::new(&uri).bind(&self.root_dn, &self.options.root_pw);

        let deadline = t0 + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log_text = std::fs::read(&log_path).unwrap_or_default();
                let this_run =
                    String::from_utf8_lossy(log_text.get(log_start as usize..).unwrap_or(&[]))
                        .into_owned();
                let message = format!(
                    "slapd exited ({status}) before answering on {listen}; \
                     instance {}{}; log tail:\n{}",
                    self.dir.path().display(),
                    process::keep_hint(),
                    process::tail(&this_run, 30)
                );
                if this_run.contains("Address already in use") {
                    return Ok(Spawned::PortTaken(message));
                }
                return Err(Error::Server(message));
            }
            if process::pid_file_is(&self.pid_file(), pid)
                && process::accepts(self.port)
                && self.answers(&uri, None)
                && self
                    .ldaps_uri()
                    .is_none_or(|ldaps| self.answers(&ldaps, self.ca_file()))
            {
                self.started_in = t0.elapsed();
                self.child = Some(child);
                return Ok(Spawned::Ready);
            }
            if Instant::now() >= deadline {
                process::terminate(&mut child, false, STOP_GRACE);
                return Err(Error::Server(format!(
                    "slapd did not answer an anonymous rootDSE search on {listen} within {} s; \
                     instance {}{}; log tail:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.dir.path().display(),
                    process::keep_hint(),
                    process::log_tail(&log_path, 30)
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether an anonymous `ldapsearch -x -H URI -b "" -s base` succeeds.
    fn answers(&self, uri: &str, ca_file: Option<&Path>) -> bool {
        let mut cli = LdapCli::new(uri);
        if let Some(ca) = ca_file {
            cli = cli.ca_file(ca);
        }
        cli.try_search_scope("", crate::Scope::Base, "(objectClass=*)", &["1.1"])
            .is_ok()
    }

    /// `ldap://127.0.0.1:PORT/`.
    #[must_use]
    pub fn uri(&self) -> String {
        format!("ldap://127.0.0.1:{}/", self.port)
    }

    /// `ldaps://127.0.0.1:PORT/` when started with `tls`.
    #[must_use]
    pub fn ldaps_uri(&self) -> Option<String> {
        self.tls_port.map(|p| format!("ldaps://127.0.0.1:{p}/"))
    }

    /// The CA certificate (PEM) that signed the server's certificate, when started with `tls`.
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    /// The port of `ldap://`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The suffix.
    #[must_use]
    pub fn suffix(&self) -> &str {
        &self.options.suffix
    }

    /// `cn=admin,<suffix>`.
    #[must_use]
    pub fn root_dn(&self) -> &str {
        &self.root_dn
    }

    /// The rootdn's password.
    #[must_use]
    pub fn root_pw(&self) -> &str {
        &self.options.root_pw
    }

    /// The options it was started with.
    #[must_use]
    pub fn options(&self) -> &SlapdOptions {
        &self.options
    }

    /// The instance directory (`slapd.conf`, `slapd.log`, `db/`, `tls/`).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/slapd.conf`.
    #[must_use]
    pub fn conf_file(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }

    /// `DIR/slapd.log`: slapd's stderr at the `log_level` of the options.
    #[must_use]
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("slapd.pid")
    }

    /// The last `lines` lines of `slapd.log`.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        process::log_tail(&self.log_file(), lines)
    }

    /// How long the last start took from spawning slapd to its first answer.
    #[must_use]
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The ldap-utils bound as the rootdn over `ldap://`.
    #[must_use]
    pub fn cli(&self) -> &LdapCli {
        &self.cli
    }

    /// The ldap-utils bound as `dn` over `ldap://` (to test ACLs and limits).
    #[must_use]
    pub fn cli_as(&self, dn: &str, password: &str) -> LdapCli {
        LdapCli::new(self.uri()).bind(dn, password)
    }

    /// Anonymous ldap-utils over `ldap://`.
    #[must_use]
    pub fn anonymous_cli(&self) -> LdapCli {
        LdapCli::new(self.uri())
    }

    /// The ldap-utils bound as the rootdn over `ldaps://`, trusting the test CA; `None`
    /// without `tls`.
    #[must_use]
    pub fn ldaps_cli(&self) -> Option<LdapCli> {
        let uri = self.ldaps_uri()?;
        let ca = self.ca_file()?;
        Some(
            LdapCli::new(uri)
                .bind(&self.root_dn, &self.options.root_pw)
                .ca_file(ca),
        )
    }

    /// Adds `ou=NAME,<suffix>` and returns its DN.
    pub fn add_ou(&self, name: &str) -> String {
        let dn = format!("ou={name},{}", self.options.suffix);
        self.ldapadd(&format!(
            "dn: {dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {name}\n"
        ));
        dn
    }

    forward_cli!();

    /// Whether slapd is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops slapd: SIGTERM, then SIGKILL when it is still there after 10 s. The directory
    /// stays until the value is dropped, so [`Slapd::restart`] finds the same database.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::terminate(&mut child, false, STOP_GRACE);
        }
    }

    /// Starts the stopped slapd again on the same port(s) with the same database; panics
    /// with the log tail when it cannot.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{e}");
        }
    }

    /// [`Slapd::restart`], returning the failure.
    pub fn try_restart(&mut self) -> Result<()> {
        self.stop();
        match self.spawn_and_wait()? {
            Spawned::Ready => Ok(()),
            Spawned::PortTaken(message) => Err(Error::Server(format!(
                "slapd could not take its port again after a restart:\n{message}"
            ))),
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Ldif<'a> {
    Text(&'a str),
    File(&'a Path),
}

enum Spawned {
    Ready,
    /// slapd exited because its port was taken: retry with another.
    PortTaken(String),
}

fn clone_file(file: &File, path: &Path) -> Result<File> {
    file.try_clone()
        .map_err(|e| Error::Server(format!("cannot reopen {}: {e}", path.display())))
}
