//! The one error type of the testkit.

use std::fmt;

/// What went wrong while setting up a server or running a tool.
#[derive(Debug)]
pub enum Error {
    /// A command-line tool (ldapadd, ldapsearch, slapadd, openssl, …) exited with a failure.
    /// The ldap-utils exit with the LDAP result code (4 size limit exceeded, 32 no such
    /// object, 50 insufficient access, 68 already exists, …): see [`Error::ldap_code`].
    Tool {
        /// The command line, password removed.
        command: String,
        /// The exit code, `None` when the tool was killed by a signal.
        code: Option<i32>,
        /// What the tool printed on stdout (for ldapsearch: the entries it got before failing).
        stdout: String,
        /// What the tool printed on stderr.
        stderr: String,
    },
    /// A server could not be set up or did not start. The message says which step failed and
    /// carries the tail of the server's log.
    Server(String),
}

impl Error {
    /// The exit code of a failed ldap-utils tool, which is the LDAP result code.
    #[must_use]
    pub fn ldap_code(&self) -> Option<i32> {
        match self {
            Error::Tool { code, .. } => *code,
            Error::Server(_) => None,
        }
    }

    /// The stdout of a failed tool (for ldapsearch, the entries it returned before the error).
    #[must_use]
    pub fn stdout(&self) -> &str {
        match self {
            Error::Tool { stdout, .. } => stdout,
            Error::Server(_) => "",
        }
    }

    /// The stderr of a failed tool.
    #[must_use]
    pub fn stderr(&self) -> &str {
        match self {
            Error::Tool { stderr, .. } => stderr,
            Error::Server(_) => "",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Tool {
                command,
                code,
                stdout,
                stderr,
            } => {
                match code {
                    Some(code) => write!(f, "`{command}` failed with exit code {code}")?,
                    None => write!(f, "`{command}` was killed by a signal")?,
                }
                let stderr = stderr.trim_end();
                if !stderr.is_empty() {
                    write!(f, "\n--- stderr ---\n{stderr}")?;
                }
                let stdout = stdout.trim_end();
                if !stdout.is_empty() {
                    write!(f, "\n--- stdout ---\n{}", crate::process::tail(stdout, 40))?;
                }
                Ok(())
            }
            Error::Server(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

/// The testkit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
