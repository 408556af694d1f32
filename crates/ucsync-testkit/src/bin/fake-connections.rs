//! `fake-connections`: the testkit's fake HCL Connections Communities server as a process, for
//! the benchmark. It fills itself with deterministic data, prints `listening PORT` and serves on
//! 127.0.0.1 until killed.
//!
//! ```text
//! fake-connections --communities N --members M --users U [--tls-dir DIR] [--admin USER:PASS]
//! ```
//!
//! `--tls-dir DIR` serves HTTPS with `DIR/server.crt` and `DIR/server.key`, generating them
//! (and `DIR/ca.crt` for the client to trust) when missing. `--admin USER:PASS` adds a
//! communities admin who can sign in (default `admin:admin`). `POST /__fake/change?communities=K`
//! then renames K communities and swaps a member in each.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ucsync_testkit::FakeConnections;
use ucsync_testkit::tls::{self, TlsFiles};

const USAGE: &str = "usage: fake-connections --communities N --members M --users U \
                     [--tls-dir DIR] [--admin USER:PASS]";

/// The command line.
struct Options {
    communities: usize,
    members: usize,
    users: usize,
    tls_dir: Option<PathBuf>,
    admin: (String, String),
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        communities: 0,
        members: 0,
        users: 0,
        tls_dir: None,
        admin: ("admin".to_owned(), "admin".to_owned()),
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} {value}: not a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--communities" => options.communities = number()?,
            "--members" => options.members = number()?,
            "--users" => options.users = number()?,
            "--tls-dir" => options.tls_dir = Some(PathBuf::from(value)),
            "--admin" => {
                let (user, password) = value
                    .split_once(':')
                    .ok_or_else(|| format!("--admin {value}: give USER:PASS\n{USAGE}"))?;
                options.admin = (user.to_owned(), password.to_owned());
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The certificate files in `dir`, generated when the server certificate or key is missing.
fn tls_files(dir: &std::path::Path) -> Result<TlsFiles, String> {
    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    if files.server_cert.exists() && files.server_key.exists() {
        return Ok(files);
    }
    tls::generate(dir).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let options = parse(std::env::args().skip(1))?;
    let fake = match &options.tls_dir {
        Some(dir) => FakeConnections::start_tls(&tls_files(dir)?),
        None => FakeConnections::start(),
    }
    .map_err(|e| e.to_string())?;
    let (user, password) = &options.admin;
    fake.add_user(
        user,
        "Communities Admin",
        &format!("{user}@example.com"),
        Some(password),
        true,
    );
    fake.populate(options.communities, options.members, options.users);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening {}", fake.port())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing to stdout: {e}"))?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-connections: {message}");
            ExitCode::FAILURE
        }
    }
}
