//! Finding tools, running them, free ports, signals and log tails (std only, no libc).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The Debian package that provides a tool, for the "install it" hint.
fn package_of(tool: &str) -> &'static str {
    match tool {
        "slapd" | "slapadd" | "slapcat" | "slaptest" | "slappasswd" => "slapd",
        "ldapsearch" | "ldapadd" | "ldapmodify" | "ldapdelete" | "ldapmodrdn" | "ldapwhoami" => {
            "ldap-utils"
        }
        "samba" => "samba-ad-dc",
        "samba-tool" => "samba-ad-provision",
        "socat" => "socat",
        "openssl" => "openssl",
        "unshare" | "kill" => "util-linux",
        "ip" => "iproute2",
        "cp" => "coreutils",
        _ => "the package that provides it",
    }
}

/// The path of `tool`: searched on `PATH`, then in the sbin directories (which are not on a
/// normal user's `PATH`, yet hold slapd and samba). Fails with the Debian package to install.
pub(crate) fn tool_path(tool: &str) -> Result<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let fallback = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    for dir in path_dirs.iter().chain(fallback.iter()) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::Server(format!(
        "`{tool}` is not installed (not on PATH, not in /usr/sbin): install the Debian package \
         `{}` (sudo apt-get install -y {}); .ci/run installs everything the tests need",
        package_of(tool),
        package_of(tool),
    )))
}

/// A `Command` for `tool`, found with [`tool_path`].
pub(crate) fn command(tool: &str) -> Result<Command> {
    Ok(Command::new(tool_path(tool)?))
}

/// The command line as text for messages, with the value after `-w` hidden.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    let mut hide_next = false;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if hide_next {
            parts.push("***".to_owned());
            hide_next = false;
            continue;
        }
        hide_next = arg == "-w";
        if arg.is_empty() || arg.contains([' ', '"', '\'', '(', ')', '*', '&', '|', '!']) {
            parts.push(format!("'{}'", arg.replace('\'', r"'\''")));
        } else {
            parts.push(arg.into_owned());
        }
    }
    parts.join(" ")
}

/// Runs `cmd` to completion, feeding `stdin` from a thread (so a tool that writes while it
/// reads cannot deadlock on a full pipe), and fails with its output when it exits non-zero.
pub(crate) fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Result<Output> {
    let described = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(&cmd, &e))?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || pipe.write_all(&data)))
        }
        _ => None,
    };
    let output = child
        .wait_with_output()
        .map_err(|e| Error::Server(format!("waiting for `{described}` failed: {e}")))?;
    if let Some(writer) = writer {
        // A tool that fails early stops reading: the broken pipe is not the error to report.
        let _ = writer.join();
    }
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Tool {
            command: described,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// The error for a command that could not be started at all.
pub(crate) fn spawn_error(cmd: &Command, e: &std::io::Error) -> Error {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let tool = Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.clone());
    if e.kind() == ErrorKind::NotFound {
        Error::Server(format!(
            "cannot run `{program}`: not found; install the Debian package `{}`",
            package_of(&tool)
        ))
    } else {
        Error::Server(format!("cannot run `{}`: {e}", describe(cmd)))
    }
}

/// Ports this process has handed out already: the kernel may give the same free port to two
/// threads one after the other, before either server has bound it.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed
/// out before. Another process may still take it before the server binds it: callers retry.
pub(crate) fn free_port() -> Result<u16> {
    for _ in 0..200 {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::Server(format!("cannot bind a free port on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Server(format!("cannot read the bound port: {e}")))?
            .port();
        drop(listener);
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    Err(Error::Server(
        "no free port on 127.0.0.1 that this process has not used already".to_owned(),
    ))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    let mut out = String::new();
    if from > 0 {
        out.push_str(&format!("[… {from} earlier lines]\n"));
    }
    out.push_str(&all[from..].join("\n"));
    out
}

/// The last `lines` lines of the file at `path`, or a note that it cannot be read.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            if text.trim().is_empty() {
                format!("({} is empty)", path.display())
            } else {
                tail(&text, lines)
            }
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to a process, or to a process group when
/// `pid` is negative, with the `kill` command (the workspace forbids unsafe code, so no libc).
pub(crate) fn signal(pid: i64, signal: &str) {
    let mut cmd = match command("kill") {
        Ok(cmd) => cmd,
        Err(_) => return,
    };
    cmd.arg(format!("-{signal}"))
        .arg("--")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _ = cmd.status();
}

/// One process as /proc shows it.
struct ProcInfo {
    pid: u32,
    ppid: u32,
    pgrp: u32,
    zombie: bool,
}

/// Every process of the machine, read from /proc/PID/stat.
fn processes() -> Vec<ProcInfo> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        out.push(ProcInfo {
            pid,
            zombie: fields[0] == "Z" || fields[0] == "X",
            ppid: fields[1].parse().unwrap_or(0),
            pgrp: fields[2].parse().unwrap_or(0),
        });
    }
    out
}

/// The live (non-zombie) processes of process group `pgid`, plus every live descendant of
/// `root` when given (a descendant may have left the group with setsid).
pub(crate) fn group_and_tree(pgid: u32, root: Option<u32>) -> Vec<u32> {
    let procs = processes();
    let mut found: BTreeSet<u32> = procs
        .iter()
        .filter(|p| p.pgrp == pgid && !p.zombie)
        .map(|p| p.pid)
        .collect();
    if let Some(root) = root {
        let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for p in &procs {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        let live: BTreeSet<u32> = procs.iter().filter(|p| !p.zombie).map(|p| p.pid).collect();
        let mut stack = vec![root];
        while let Some(pid) = stack.pop() {
            if live.contains(&pid) {
                found.insert(pid);
            }
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().copied());
            }
        }
    }
    found.into_iter().collect()
}

/// Stops `child` and everything it started: SIGTERM, up to `grace` to exit, then SIGKILL.
/// With `group`, `child` leads its own process group (spawned with `process_group(0)`) and the
/// whole group and every descendant are stopped. Reaps `child`.
pub(crate) fn terminate(child: &mut Child, group: bool, grace: Duration) {
    let pid = child.id();
    let mut reaped = matches!(child.try_wait(), Ok(Some(_)));
    // Until `child` is reaped its pid cannot be reused, so its descendants are safe to follow.
    let members = |reaped: bool| -> Vec<u32> {
        match (group, reaped) {
            (true, false) => group_and_tree(pid, Some(pid)),
            (true, true) => group_and_tree(pid, None),
            (false, false) => vec![pid],
            (false, true) => Vec::new(),
        }
    };
    let before = members(reaped);
    if before.is_empty() && reaped {
        return;
    }
    if group {
        signal(-i64::from(pid), "TERM");
    }
    for p in &before {
        signal(i64::from(*p), "TERM");
    }
    let deadline = Instant::now() + grace;
    loop {
        reaped = reaped || matches!(child.try_wait(), Ok(Some(_)));
        let left = members(reaped);
        if reaped && left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            if group {
                signal(-i64::from(pid), "KILL");
            }
            for p in left {
                signal(i64::from(p), "KILL");
            }
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the file at `path` holds `pid` (a server's pid file).
pub(crate) fn pid_file_is(path: &Path, pid: u32) -> bool {
    std::fs::read_to_string(path)
        .map(|s| s.trim() == pid.to_string())
        .unwrap_or(false)
}

/// Keeps the instance directories after the test when `UCSYNC_TESTKIT_KEEP` is set (to look
/// at a failing server's configuration and log).
pub(crate) fn keep_dirs() -> bool {
    std::env::var_os("UCSYNC_TESTKIT_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Appended to the instance directory in error messages.
pub(crate) fn keep_hint() -> &'static str {
    if keep_dirs() {
        " (kept)"
    } else {
        " (removed when the test ends; set UCSYNC_TESTKIT_KEEP=1 to keep it)"
    }
}

/// A new temporary directory for one server instance.
pub(crate) fn instance_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| Error::Server(format!("cannot create a temporary directory: {e}")))?;
    if keep_dirs() {
        dir.disable_cleanup(true);
        eprintln!("ucsync-testkit: keeping {}", dir.path().display());
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_names_the_package_to_install() {
        let message = tool_path("ucsync-no-such-tool").unwrap_err().to_string();
        assert!(message.contains("not installed"), "{message}");
        assert!(message.contains("apt-get install"), "{message}");
        let message = spawn_error(
            &Command::new("/nonexistent/ldapsearch"),
            &std::io::Error::from(ErrorKind::NotFound),
        )
        .to_string();
        assert!(message.contains("`ldap-utils`"), "{message}");
    }

    #[test]
    fn passwords_are_hidden_in_command_lines() {
        let mut cmd = Command::new("ldapadd");
        cmd.args(["-x", "-D", "cn=admin", "-w", "secret", "-b", "a b"]);
        assert_eq!(describe(&cmd), "ldapadd -x -D cn=admin -w *** -b 'a b'");
    }
}
