//! The settings of a `communities` connector (`[connectors.NAME.settings]`): the table as
//! written ([`CommunitiesSettingsAsWritten`], read by [`crate::settings`]) and its validation
//! into [`CommunitiesSettings`], every problem with its key path.
//!
//! ```toml
//! [connectors.communities.settings]
//! host = "connections.example.com"     # fully qualified; protocol "https" and port 443 by default
//! user = "wasadmin"                    # holds the global communities-administrator role
//! password_env = "CONNECTIONS_PASSWORD"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use ucsync_model::ConfigProblem;

use crate::settings::{host_problem, in_range};

pub use crate::settings::Secret;

/// The largest page the Communities API serves.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// How a request reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Https,
    Http,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Https => "https",
            Protocol::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Protocol::Https => 443,
            Protocol::Http => 80,
        }
    }
}

/// Which members of each community are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Owners and members (`role=all`).
    All,
    /// Owners only (`role=owner`).
    Owners,
}

impl Members {
    /// The `role` parameter of the members feed.
    pub fn role(self) -> &'static str {
        match self {
            Members::All => "all",
            Members::Owners => "owner",
        }
    }
}

/// The validated settings of one communities connector.
#[derive(Debug, Clone)]
pub struct CommunitiesSettings {
    pub protocol: Protocol,
    /// The server's fully qualified host name, as its certificate names it.
    pub host: String,
    pub port: u16,
    /// The administrator the server is read as (global communities-administrator role).
    pub user: String,
    pub password: Secret,
    /// PEM file with the CA of a private PKI; the system's roots otherwise.
    pub ca_file: Option<PathBuf>,
    pub page_size: u32,
    pub members: Members,
    /// Member feeds read at the same time.
    pub concurrency: usize,
    pub timeout_secs: u64,
    /// The largest response body read, in bytes.
    pub max_response_bytes: u64,
    /// Seconds a delta import reads back before its watermark (the server's clock is the
    /// one used, the margin covers changes committed while the previous import read).
    pub overlap_secs: u64,
}

impl CommunitiesSettings {
    /// The server's address as requests name it: `https://host:443`.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.protocol.name(), self.host, self.port)
    }
}

/// A communities settings table as written; its fields are the keys it may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CommunitiesSettingsAsWritten {
    /// "https" (the default) or "http".
    protocol: Option<String>,
    /// A fully qualified host name, e.g. host = "connections.example.com".
    host: Option<String>,
    port: Option<i64>,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    ca_file: Option<String>,
    page_size: Option<i64>,
    /// "all" (the default) or "owners".
    members: Option<String>,
    concurrency: Option<i64>,
    timeout_secs: Option<i64>,
    max_response_mb: Option<i64>,
    overlap_secs: Option<i64>,
}

impl crate::settings::KindSettings for CommunitiesSettings {
    type Raw = CommunitiesSettingsAsWritten;

    fn validate(raw: CommunitiesSettingsAsWritten, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        let mut problem = |key: &str, message: String| {
            p.push(ConfigProblem::new(format!("{at}.{key}"), message));
        };
        let protocol = match raw.protocol.as_deref() {
            None | Some("https") => Protocol::Https,
            Some("http") => Protocol::Http,
            Some(other) => {
                problem(
                    "protocol",
                    format!(
                        "{other:?} is not a protocol this connector speaks; allowed: \"https\" (the default), \"http\""
                    ),
                );
                Protocol::Https
            }
        };
        let host = match raw.host.as_deref().map(str::trim) {
            None => {
                problem(
                    "host",
                    "required: the collaboration server's fully qualified host name, e.g. host = \"connections.example.com\"".into(),
                );
                String::new()
            }
            Some(h) => {
                if let Some(m) = host_problem(h, "connections.example.com", "set protocol and port")
                {
                    problem("host", m);
                }
                h.to_ascii_lowercase()
            }
        };
        let port = match raw.port {
            None => protocol.default_port(),
            Some(v) => match u16::try_from(v) {
                Ok(port) if port > 0 => port,
                _ => {
                    problem(
                        "port",
                        format!(
                            "{v} is not a TCP port; give 1 to 65535, or leave port out for {} with {}",
                            protocol.default_port(),
                            protocol.name()
                        ),
                    );
                    protocol.default_port()
                }
            },
        };
        let user = match raw.user.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u.to_owned(),
            _ => {
                problem(
                    "user",
                    "required: the administrator the server is read as (it needs the global communities-administrator role to see private communities), e.g. user = \"wasadmin\"".into(),
                );
                String::new()
            }
        };
        let password = match (raw.password, raw.password_env) {
            (Some(pw), None) => Secret::Literal(pw),
            (None, Some(env)) => Secret::Env(env),
            (Some(_), Some(_)) => {
                problem(
                    "password",
                    "give either password or password_env, not both".into(),
                );
                Secret::Literal(String::new())
            }
            (None, None) => {
                problem(
                    "password_env",
                    "required: the administrator's password, best from the environment: password_env = \"VARIABLE\" (or password)".into(),
                );
                Secret::Literal(String::new())
            }
        };
        let ca_file = match raw.ca_file.as_deref().map(str::trim) {
            Some("") => {
                problem("ca_file", "the path is empty; name a PEM file with the CA certificate, or remove ca_file to trust the system's CAs".into());
                None
            }
            other => other.map(PathBuf::from),
        };
        if ca_file.is_some() && protocol == Protocol::Http {
            problem(
                "ca_file",
                "a CA file is for protocol = \"https\"; remove it, or set protocol = \"https\""
                    .into(),
            );
        }
        let mut number = |key: &str, value, default, range, what| {
            in_range(value, default, range, what).unwrap_or_else(|m| {
                problem(key, m);
                default
            })
        };
        let page_size = number(
            "page_size",
            raw.page_size,
            500,
            1..=i64::from(MAX_PAGE_SIZE),
            "page_size",
        );
        let concurrency = number("concurrency", raw.concurrency, 8, 1..=64, "concurrency");
        let timeout_secs = number(
            "timeout_secs",
            raw.timeout_secs,
            60,
            1..=3600,
            "timeout_secs",
        );
        let max_response_mb = number(
            "max_response_mb",
            raw.max_response_mb,
            64,
            1..=4096,
            "max_response_mb",
        );
        let overlap_secs = number(
            "overlap_secs",
            raw.overlap_secs,
            60,
            0..=86_400,
            "overlap_secs",
        );
        let members = match raw.members.as_deref() {
            None | Some("all") => Members::All,
            Some("owners") => Members::Owners,
            Some(other) => {
                p.push(ConfigProblem::new(
                    format!("{at}.members"),
                    format!("{other:?} is not a choice; allowed: \"all\" (owners and members, the default), \"owners\""),
                ));
                Members::All
            }
        };
        if !p.is_empty() {
            return Err(p);
        }
        // The numbers were checked against their ranges above.
        let positive = |v: i64| u64::try_from(v).unwrap_or(1);
        Ok(CommunitiesSettings {
            protocol,
            host,
            port,
            user,
            password,
            ca_file,
            page_size: u32::try_from(page_size).unwrap_or(MAX_PAGE_SIZE),
            members,
            concurrency: usize::try_from(concurrency).unwrap_or(1),
            timeout_secs: positive(timeout_secs),
            max_response_bytes: positive(max_response_mb) * 1024 * 1024,
            overlap_secs: positive(overlap_secs),
        })
    }

    fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(ca) = &self.ca_file
            && ca.is_relative()
        {
            self.ca_file = Some(base_dir.join(ca));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn problems(text: &str) -> BTreeMap<String, String> {
        let table: toml::Table = text.parse().unwrap();
        crate::settings::read::<CommunitiesSettings>(&table, "s")
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn defaults_are_https_on_443_with_pages_of_500() {
        let table: toml::Table =
            "host = \"Connections.Example.com\"\nuser = \"admin\"\npassword_env = \"PW\""
                .parse()
                .unwrap();
        let s = crate::settings::read::<CommunitiesSettings>(&table, "s").unwrap();
        assert_eq!(s.base_url(), "https://connections.example.com:443");
        assert_eq!((s.page_size, s.members), (500, Members::All));
        assert_eq!(format!("{:?}", s.password), "Secret(env PW)");
    }

    #[test]
    fn every_wrong_setting_is_named_by_its_key() {
        let p = problems(
            "protocol = \"ftp\"\nhost = \"https://c.example.com\"\nport = 70000\npassword = \"x\"\npassword_env = \"Y\"\npage_size = 0\nmembers = \"some\"\n",
        );
        let keys: Vec<&str> = p.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "s.host",
                "s.members",
                "s.page_size",
                "s.password",
                "s.port",
                "s.protocol",
                "s.user"
            ]
        );
        assert!(p["s.host"].contains("is a URL"), "{p:?}");
        assert!(p["s.page_size"].contains("from 1 to 10000"), "{p:?}");
        let p = problems("host = \"c.example.com:8443\"\nuser = \"a\"\n");
        assert!(p["s.host"].contains("holds a port"), "{p:?}");
        assert!(p["s.password_env"].contains("required"), "{p:?}");
        let p = problems(
            "protocol = \"http\"\nhost = \"c\"\nuser = \"a\"\npassword = \"p\"\nca_file = \"ca.pem\"\n",
        );
        assert!(
            p["s.ca_file"].contains("protocol = \\\"https\\\"") || p["s.ca_file"].contains("https"),
            "{p:?}"
        );
    }
}
