//! A private Samba AD DC per test: its own copy of a provisioned domain, its own network
//! namespace (Samba always binds LDAP on port 389) and socat forwarding a free loopback port
//! to its LDAP unix socket.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use crate::cli::{LdapCli, forward_cli};
use crate::error::{Error, Result};
use crate::process;

/// How long Samba gets to answer LDAP after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long Samba and socat get to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How many ports socat tries when the free one was taken before it bound it.
const PORT_ATTEMPTS: usize = 5;
/// Bump when the provisioning or the smb.conf edits change, so old cached templates are not used.
const TEMPLATE_FORMAT: u32 = 1;
/// Stands for the instance directory in the template's smb.conf.
const DIR_PLACEHOLDER: &str = "@UCSYNC_TESTKIT_DIR@";

/// A running private Samba AD DC (realm `EXAMPLE.TEST`, domain `EXAMPLE`, RFC 2307 attributes,
/// no DNS), serving LDAP on `ldap://127.0.0.1:PORT/`. objectGUID, uSNChanged, the DirSync and
/// ShowDeleted controls and tombstones are real.
///
/// Provisioning takes about 5 s, so it happens once: the provisioned domain is kept as a
/// template under `$UCSYNC_TESTKIT_CACHE` (default `/tmp/ucsync-testkit-cache`), one per Samba
/// version, and every instance starts from a copy of it (`cp -a`). Stopped and its directory
/// removed when dropped; set `UCSYNC_TESTKIT_KEEP=1` to keep the directory. Needs root (for
/// `unshare -n`).
pub struct SambaDc {
    port: u16,
    samba: Option<Child>,
    socat: Option<Child>,
    cli: LdapCli,
    started_in: Duration,
    // Last: dropped after the processes are stopped.
    dir: TempDir,
}

impl std::fmt::Debug for SambaDc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SambaDc")
            .field("uri", &self.uri())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl SambaDc {
    /// The Kerberos realm.
    pub const REALM: &'static str = "EXAMPLE.TEST";
    /// The NetBIOS domain name.
    pub const DOMAIN: &'static str = "EXAMPLE";
    /// The domain's naming context.
    pub const BASE_DN: &'static str = "dc=example,dc=test";
    /// The administrator's DN.
    pub const ADMIN_DN: &'static str = "cn=Administrator,cn=Users,dc=example,dc=test";
    /// The administrator's password.
    pub const ADMIN_PW: &'static str = "Passw0rd!2024x";

    /// Starts a DC; panics with what failed and Samba's log tail.
    #[must_use]
    pub fn start() -> SambaDc {
        SambaDc::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a DC.
    pub fn try_start() -> Result<SambaDc> {
        let template = template()?;
        let dir = process::instance_dir("ucsync-samba-")?;
        let mut cp = process::command("cp")?;
        cp.arg("-a")
            .arg(format!("{}/.", template.display()))
            .arg(dir.path());
        process::run(cp, None).map_err(|e| {
            Error::Server(format!(
                "copying the provisioned Samba template {} failed: {e}",
                template.display()
            ))
        })?;
        let conf = dir.path().join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf)
            .map_err(|e| Error::Server(format!("cannot read {}: {e}", conf.display())))?;
        let instance = dir.path().to_string_lossy().into_owned();
        std::fs::write(&conf, text.replace(DIR_PLACEHOLDER, &instance))
            .map_err(|e| Error::Server(format!("cannot write {}: {e}", conf.display())))?;
        for sub in ["log", "run", "cache"] {
            let path = dir.path().join(sub);
            std::fs::create_dir_all(&path)
                .map_err(|e| Error::Server(format!("cannot create {}: {e}", path.display())))?;
        }

        let mut dc = SambaDc {
            port: 0,
            samba: None,
            socat: None,
            cli: LdapCli::new(""),
            started_in: Duration::ZERO,
            dir,
        };
        dc.spawn_and_wait()?;
        Ok(dc)
    }

    fn spawn_and_wait(&mut self) -> Result<()> {
        let samba_path = process::tool_path("samba")?;
        let ip_path = process::tool_path("ip")?;
        let log_path = self.log_file();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::Server(format!("cannot open {}: {e}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| Error::Server(format!("cannot reopen {}: {e}", log_path.display())))?;
        let mut cmd = process::command("unshare")?;
        cmd.args(["-n", "--fork", "bash", "-c"])
            .arg(r#""$1" link set lo up && exec "$2" -i -M single --debuglevel=1 -s "$3""#)
            .arg("ucsync-samba")
            .arg(&ip_path)
            .arg(&samba_path)
            .arg(self.dir.path().join("etc/smb.conf"))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let t0 = Instant::now();
        let samba = cmd.spawn().map_err(|e| process::spawn_error(&cmd, &e))?;
        self.samba = Some(samba);

        let ldapi = self.dir.path().join("private/ldapi");
        let deadline = t0 + START_TIMEOUT;
        let mut attempts = 0;
        loop {
            if self.socat.is_none() {
                attempts += 1;
                self.port = process::free_port()?;
                self.socat = Some(self.spawn_socat(&ldapi)?);
                self.cli = LdapCli::new(self.uri()).bind(Self::ADMIN_DN, Self::ADMIN_PW);
            }
            if let Some(samba) = self.samba.as_mut()
                && let Ok(Some(status)) = samba.try_wait()
            {
                self.samba = None;
                self.stop();
                return Err(Error::Server(format!(
                    "samba exited ({status}) before answering LDAP; `unshare -n` needs root; \
                     instance {}{}; log tail:\n{}",
                    self.dir.path().display(),
                    process::keep_hint(),
                    process::log_tail(&log_path, 40)
                )));
            }
            if let Some(socat) = self.socat.as_mut()
                && let Ok(Some(status)) = socat.try_wait()
            {
                self.socat = None;
                let socat_log = std::fs::read_to_string(self.socat_log()).unwrap_or_default();
                if socat_log.contains("Address already in use") && attempts < PORT_ATTEMPTS {
                    continue;
                }
                self.stop();
                return Err(Error::Server(format!(
                    "socat (forwarding 127.0.0.1:{} to {}) exited ({status}); log tail:\n{}",
                    self.port,
                    ldapi.display(),
                    process::tail(&socat_log, 20)
                )));
            }
            if ldapi.exists() && process::accepts(self.port) && self.answers() {
                self.started_in = t0.elapsed();
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(Error::Server(format!(
                    "samba did not answer a rootDSE search on {} within {} s; instance {}{}; \
                     log tail:\n{}",
                    self.uri(),
                    START_TIMEOUT.as_secs(),
                    self.dir.path().display(),
                    process::keep_hint(),
                    process::log_tail(&log_path, 40)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn_socat(&self, ldapi: &Path) -> Result<Child> {
        let log_path = self.socat_log();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::Server(format!("cannot open {}: {e}", log_path.display())))?;
        let _ = writeln!(log, "---- ucsync-testkit: socat on port {}", self.port);
        let mut cmd = process::command("socat")?;
        cmd.arg(format!(
            "TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork",
            self.port
        ))
        .arg(format!("UNIX-CONNECT:{}", ldapi.display()))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
        cmd.spawn().map_err(|e| process::spawn_error(&cmd, &e))
    }

    /// Whether an anonymous rootDSE search returns defaultNamingContext.
    fn answers(&self) -> bool {
        LdapCli::new(self.uri())
            .try_search_scope(
                "",
                crate::Scope::Base,
                "(objectClass=*)",
                &["defaultNamingContext"],
            )
            .is_ok_and(|entries| entries.iter().any(|e| e.has("defaultNamingContext")))
    }

    /// `ldap://127.0.0.1:PORT/`.
    #[must_use]
    pub fn uri(&self) -> String {
        format!("ldap://127.0.0.1:{}/", self.port)
    }

    /// The forwarded port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `dc=example,dc=test`.
    #[must_use]
    pub fn base_dn(&self) -> &'static str {
        Self::BASE_DN
    }

    /// `cn=Administrator,cn=Users,dc=example,dc=test`.
    #[must_use]
    pub fn admin_dn(&self) -> &'static str {
        Self::ADMIN_DN
    }

    /// The administrator's password.
    #[must_use]
    pub fn admin_pw(&self) -> &'static str {
        Self::ADMIN_PW
    }

    /// `cn=Users,dc=example,dc=test`.
    #[must_use]
    pub fn users_dn(&self) -> String {
        format!("cn=Users,{}", Self::BASE_DN)
    }

    /// The instance directory (`etc/smb.conf`, `private/`, `log/`).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `DIR/log/samba.log`: Samba's output.
    #[must_use]
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("log/samba.log")
    }

    fn socat_log(&self) -> PathBuf {
        self.dir.path().join("log/socat.log")
    }

    /// The last `lines` lines of Samba's log.
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        process::log_tail(&self.log_file(), lines)
    }

    /// How long the start took from spawning Samba to its first LDAP answer (the template's
    /// provisioning and copy not included).
    #[must_use]
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The ldap-utils bound as the administrator.
    #[must_use]
    pub fn cli(&self) -> &LdapCli {
        &self.cli
    }

    /// The ldap-utils bound as `dn`.
    #[must_use]
    pub fn cli_as(&self, dn: &str, password: &str) -> LdapCli {
        LdapCli::new(self.uri()).bind(dn, password)
    }

    /// Adds `OU=NAME,DC=example,DC=test` and returns its DN.
    pub fn add_ou(&self, name: &str) -> String {
        let dn = format!("OU={name},{}", Self::BASE_DN);
        self.ldapadd(&format!(
            "dn: {dn}\nobjectClass: organizationalUnit\nou: {name}\n"
        ));
        dn
    }

    /// Adds a (disabled, password-less) user `CN=NAME,CN=Users,…` with `sAMAccountName` NAME
    /// and returns its DN.
    pub fn add_user(&self, name: &str) -> String {
        let dn = format!("CN={name},{}", self.users_dn());
        self.ldapadd(&format!(
            "dn: {dn}\nobjectClass: user\ncn: {name}\nsAMAccountName: {name}\n"
        ));
        dn
    }

    forward_cli!();

    /// Whether Samba is still running.
    pub fn is_running(&mut self) -> bool {
        self.samba
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stops socat and Samba (each process group: SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) {
        if let Some(mut socat) = self.socat.take() {
            process::terminate(&mut socat, true, STOP_GRACE);
        }
        if let Some(mut samba) = self.samba.take() {
            process::terminate(&mut samba, true, STOP_GRACE);
        }
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The provisioned template directory, made once per machine and Samba version (and found
/// once per process).
fn template() -> Result<&'static Path> {
    static TEMPLATE: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| make_template().map_err(|e| e.to_string()))
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(|e| Error::Server(e.clone()))
}

fn make_template() -> Result<PathBuf> {
    let cache = std::env::var_os("UCSYNC_TESTKIT_CACHE")
        .filter(|v| !v.is_empty())
        .map_or_else(
            || std::env::temp_dir().join("ucsync-testkit-cache"),
            PathBuf::from,
        );
    std::fs::create_dir_all(&cache)
        .map_err(|e| Error::Server(format!("cannot create {}: {e}", cache.display())))?;
    let mut version = process::command("samba")?;
    version.arg("-V");
    let version = process::run(version, None)?;
    let version: String = String::from_utf8_lossy(&version.stdout)
        .trim()
        .trim_start_matches("Version ")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("samba-{}-{version}-v{TEMPLATE_FORMAT}", SambaDc::REALM);
    let target = cache.join(&name);
    if target.join("etc/smb.conf").is_file() {
        return Ok(target);
    }

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let work = cache.join(format!(".{name}.{}.{nanos}", std::process::id()));
    let result = provision(&work);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&work);
        return Err(e);
    }
    // Another process may have finished first: then its template is as good as ours.
    if std::fs::rename(&work, &target).is_err() {
        let _ = std::fs::remove_dir_all(&work);
        if !target.join("etc/smb.conf").is_file() {
            return Err(Error::Server(format!(
                "cannot move the provisioned Samba template to {}",
                target.display()
            )));
        }
    }
    Ok(target)
}

/// `samba-tool domain provision` into `work`, then the smb.conf edits every instance needs,
/// with the directory replaced by a placeholder.
fn provision(work: &Path) -> Result<()> {
    let t0 = Instant::now();
    std::fs::create_dir_all(work)
        .map_err(|e| Error::Server(format!("cannot create {}: {e}", work.display())))?;
    let mut cmd = process::command("samba-tool")?;
    cmd.args([
        "domain",
        "provision",
        "--use-rfc2307",
        "--realm",
        SambaDc::REALM,
        "--domain",
        SambaDc::DOMAIN,
        "--server-role=dc",
        "--dns-backend=NONE",
        "--host-name=dc1",
        "--host-ip=127.0.0.1",
        "--option=interfaces=lo",
        "--option=bind interfaces only=yes",
    ])
    .arg(format!("--adminpass={}", SambaDc::ADMIN_PW))
    .arg(format!("--targetdir={}", work.display()));
    let output = process::run(cmd, None).map_err(|e| {
        Error::Server(format!(
            "provisioning the Samba AD DC template in {} failed (needs the Debian packages \
             samba-ad-dc and samba-ad-provision): {e}",
            work.display()
        ))
    })?;
    let _ = std::fs::write(work.join("provision.log"), &output.stdout);

    let conf_path = work.join("etc/smb.conf");
    let conf = std::fs::read_to_string(&conf_path)
        .map_err(|e| Error::Server(format!("cannot read {}: {e}", conf_path.display())))?;
    let conf = conf.replace(&*work.to_string_lossy(), DIR_PLACEHOLDER);
    std::fs::write(&conf_path, edit_smb_conf(&conf))
        .map_err(|e| Error::Server(format!("cannot write {}: {e}", conf_path.display())))?;
    eprintln!(
        "ucsync-testkit: provisioned the Samba AD DC template in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The `[global]` settings every instance gets (replacing the provisioned ones): only the
/// services LDAP needs, on ports away from the host's (Kerberos still binds inside the
/// namespace), simple binds without TLS (test only; TLS off also saves generating keys at each
/// start), and every runtime path (pid files, sockets, logs) inside the instance directory so
/// that instances run side by side.
fn global_settings() -> Vec<(&'static str, String)> {
    let d = DIR_PLACEHOLDER;
    vec![
        ("server services", "ldap, kdc, cldap".to_owned()),
        ("krb5 port", "3894".to_owned()),
        ("kpasswd port", "3895".to_owned()),
        ("cldap port", "3896".to_owned()),
        ("ldap server require strong auth", "no".to_owned()),
        ("tls enabled", "no".to_owned()),
        ("log file", format!("{d}/log/log.%m")),
        ("max log size", "0".to_owned()),
        ("pid directory", format!("{d}/run")),
        ("ncalrpc dir", format!("{d}/run/ncalrpc")),
        ("winbindd socket directory", format!("{d}/run/winbindd")),
        ("ntp signd socket directory", format!("{d}/run/ntp_signd")),
    ]
}

/// Replaces, in `[global]`, the settings of [`global_settings`]. smb.conf names ignore case
/// and spaces, and a later line wins, so the old lines are removed rather than overridden.
fn edit_smb_conf(conf: &str) -> String {
    let settings = global_settings();
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let replaced: Vec<String> = settings.iter().map(|(k, _)| norm(k)).collect();
    let mut out = String::new();
    let mut in_global = false;
    for line in conf.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_global = trimmed.eq_ignore_ascii_case("[global]");
            out.push_str(line);
            out.push('\n');
            if in_global {
                for (key, value) in &settings {
                    out.push_str(&format!("\t{key} = {value}\n"));
                }
            }
            continue;
        }
        if in_global
            && let Some((key, _)) = trimmed.split_once('=')
            && replaced.contains(&norm(key))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smb_conf_settings_are_replaced_not_duplicated() {
        let conf = "# Global parameters\n[global]\n\tlog file = /var/log/samba/log.%m\n\tServer Services = s3fs, rpc\n\trealm = EXAMPLE.TEST\n\n[sysvol]\n\tpath = /x\n\tlog file = keep\n";
        let edited = edit_smb_conf(conf);
        assert_eq!(edited.matches("server services").count(), 1);
        assert!(edited.contains("\tserver services = ldap, kdc, cldap\n"));
        assert!(!edited.contains("s3fs"));
        assert!(!edited.contains("/var/log/samba"));
        assert!(edited.contains("\trealm = EXAMPLE.TEST\n"));
        assert!(edited.contains("[sysvol]\n\tpath = /x\n\tlog file = keep\n"));
    }
}
