//! The settings of a `peer` connector (`[connectors.NAME.settings]`): the table as written
//! ([`PeerSettingsAsWritten`], read by [`crate::settings`]) and its validation into
//! [`PeerSettings`], every problem with its key path and the rule it breaks.
//!
//! ```toml
//! [connectors.peer-b.settings]
//! peer_type = "ucsync"                 # or "external": an XMPP federation partner, nothing read
//! description = "Branch B"
//! host = "peer-b.example.com"          # as the peer's certificate names it; HTTPS on port 443
//! peer_enterprise_id = "acme-hq"
//! token_env = "PEER_B_TOKEN"           # or client_certificate + client_key (PEM files)
//! dialing_prefix = "8"                 # dial strings: outgoing digit + prefix + extension
//! pbx_node = "pbx-hq"                  # whose outgoing_digit; left out: the enterprise's one pbx connector
//! ```
//!
//! The outgoing digit is the PBX node's setting (`outgoing_digit` of a `pbx` connector). The
//! configuration copies it into `outgoing_digit` here before the connector is built
//! ([`super::OUTGOING_DIGIT`]); written here by hand, `ucsync check` refuses it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ucsync_model::{ConfigProblem, check_enterprise_id};

pub use crate::settings::Secret;
use crate::settings::{host_problem, in_range};

/// The largest page the peer sync protocol serves.
pub const MAX_PAGE_SIZE: u32 = 5000;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 64;
/// The longest dialing prefix, in characters.
pub const MAX_PREFIX: usize = 20;

/// What the peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerType {
    /// Another ucsync server: its contacts are read with the peer sync protocol.
    Ucsync,
    /// An XMPP federation partner that is not ucsync: recorded for federation, nothing read.
    External,
}

impl PeerType {
    pub fn name(self) -> &'static str {
        match self {
            PeerType::Ucsync => "ucsync",
            PeerType::External => "external",
        }
    }
}

/// The validated settings of one peer connector.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    pub peer_type: PeerType,
    /// Up to 64 letters, digits, dashes and spaces; staged as `peer` on every contact.
    pub description: String,
    /// The peer's host name, in lower case, as its certificate names it.
    pub host: String,
    pub port: u16,
    /// The address connected to instead of resolving `host` (the certificate is still
    /// verified against `host`).
    pub address: Option<IpAddr>,
    /// PEM file with the CA of a private PKI; the system's roots otherwise.
    pub ca_file: Option<PathBuf>,
    /// The peer token (a `ucsync` peer only), unless a client certificate stands for it.
    pub token: Option<Secret>,
    /// The client certificate (PEM) and its key (PEM) this server shows the peer, which the
    /// peer registered for it (`ucsync admin certificate` there): instead of a token.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// The enterprise of the peer read into this one (a `ucsync` peer only).
    pub peer_enterprise_id: String,
    /// Up to 20 characters; one starting with `-` means: no outgoing digit.
    pub dialing_prefix: String,
    /// The pbx connector whose outgoing digit the dial strings start with; left out, the
    /// enterprise's one pbx connector.
    pub pbx_node: Option<String>,
    /// The PBX node's digit (or two) for an outside line, taken from the node's settings.
    pub outgoing_digit: Option<String>,
    pub page_size: u32,
    pub timeout_secs: u64,
}

impl PeerSettings {
    /// The peer's address as requests name it: `https://host:443`.
    pub fn base_url(&self) -> String {
        let host = match self.host.parse::<std::net::Ipv6Addr>() {
            Ok(_) => format!("[{}]", self.host),
            Err(_) => self.host.clone(),
        };
        format!("https://{host}:{}", self.port)
    }
}

/// A peer settings table as written; its fields are the keys it may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PeerSettingsAsWritten {
    /// "ucsync" (the default) or "external".
    peer_type: Option<String>,
    description: Option<String>,
    host: Option<String>,
    port: Option<i64>,
    address: Option<String>,
    ca_file: Option<String>,
    token: Option<String>,
    token_env: Option<String>,
    client_certificate: Option<String>,
    client_key: Option<String>,
    peer_enterprise_id: Option<String>,
    dialing_prefix: Option<String>,
    /// The name of a pbx connector of the same enterprise; checked with the whole configuration.
    pbx_node: Option<String>,
    /// Copied from the PBX node; refused when written here (see the module's text).
    outgoing_digit: Option<String>,
    page_size: Option<i64>,
    timeout_secs: Option<i64>,
}

/// What is wrong with a description, if anything.
pub fn description_problem(d: &str) -> Option<String> {
    const RULE: &str =
        "a description has at most 64 characters, each a letter, a digit, a dash '-' or a space";
    if d.trim().is_empty() {
        return Some(format!(
            "required: a few words naming the peer, e.g. description = \"Branch B\"; {RULE}"
        ));
    }
    if let Some((at, c)) = d
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '-' | ' ')))
    {
        return Some(format!("{d:?} holds {c:?} at character {}; {RULE}", at + 1));
    }
    let n = d.chars().count();
    (n > MAX_DESCRIPTION).then(|| format!("{d:?} is too long ({n} characters); {RULE}"))
}

/// What is wrong with a dialing prefix, if anything.
pub fn prefix_problem(p: &str) -> Option<String> {
    let n = p.chars().count();
    (n > MAX_PREFIX).then(|| {
        format!(
            "{p:?} is too long ({n} characters); a dialing prefix has at most {MAX_PREFIX} characters: give the digits the PBX dials before the peer's extensions"
        )
    })
}

impl crate::settings::KindSettings for PeerSettings {
    type Raw = PeerSettingsAsWritten;

    /// The keys to write: not `outgoing_digit`, which the configuration fills in from the PBX
    /// node (written here, it is refused).
    fn allowed_keys(table: &[&str]) -> Option<&'static [&'static str]> {
        static WRITTEN: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        table.is_empty().then(|| {
            WRITTEN
                .get_or_init(|| {
                    ucsync_model::config::fields_of::<PeerSettingsAsWritten>()
                        .iter()
                        .copied()
                        .filter(|k| *k != super::OUTGOING_DIGIT.key)
                        .collect()
                })
                .as_slice()
        })
    }

    fn validate(raw: PeerSettingsAsWritten, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        let mut problem = |key: &str, message: String| {
            p.push(ConfigProblem::new(format!("{at}.{key}"), message));
        };
        let peer_type = match raw.peer_type.as_deref() {
            None | Some("ucsync") => PeerType::Ucsync,
            Some("external") => PeerType::External,
            Some(other) => {
                problem(
                    "peer_type",
                    format!(
                        "{other:?} is not a peer type; allowed: \"ucsync\" (another ucsync server, the default), \"external\" (an XMPP federation partner: nothing is read from it)"
                    ),
                );
                PeerType::Ucsync
            }
        };
        let external = peer_type == PeerType::External;
        let description = raw.description.unwrap_or_default();
        if let Some(m) = description_problem(&description) {
            problem("description", m);
        }
        let host = match raw.host.as_deref().map(str::trim) {
            None => {
                problem(
                    "host",
                    "required: the peer's host name, as its TLS certificate names it (a subject alternative name), e.g. host = \"peer.example.com\"".into(),
                );
                String::new()
            }
            Some(h) => {
                if let Some(m) = host_problem(
                    h,
                    "peer.example.com",
                    "the protocol is always https, and the port goes in port",
                ) {
                    problem("host", m);
                }
                h.to_ascii_lowercase()
            }
        };
        let port = match raw.port {
            None => 443,
            Some(v) => u16::try_from(v).ok().filter(|p| *p > 0).unwrap_or_else(|| {
                problem(
                    "port",
                    format!("{v} is not a TCP port; give 1 to 65535, or leave port out for 443"),
                );
                443
            }),
        };
        let address = raw.address.as_deref().map(str::trim).and_then(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| {
                    problem(
                        "address",
                        format!(
                            "{a:?} is not an IP address; address is the IP address to connect to instead of resolving host (the certificate is still checked against host), e.g. address = \"192.0.2.10\", or leave it out"
                        ),
                    );
                })
                .ok()
        });
        let ca_file = match raw.ca_file.as_deref().map(str::trim) {
            Some("") => {
                problem("ca_file", "the path is empty; name a PEM file with the CA certificate of the peer's private CA, or remove ca_file to trust the system's CAs".into());
                None
            }
            other => other.map(PathBuf::from),
        };
        // A certificate half given is named by its own problem, not by the token's too.
        let certificate_given = raw.client_certificate.is_some() || raw.client_key.is_some();
        let client_certificate = match (raw.client_certificate, raw.client_key) {
            (Some(_), _) | (_, Some(_)) if external => {
                problem(
                    "client_certificate",
                    "an external peer is not read, so it takes no client certificate; remove client_certificate and client_key, or set peer_type = \"ucsync\"".into(),
                );
                None
            }
            (Some(cert), Some(key)) if !cert.trim().is_empty() && !key.trim().is_empty() => {
                Some((PathBuf::from(cert.trim()), PathBuf::from(key.trim())))
            }
            (None, None) => None,
            (cert, _) => {
                let key = if cert.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    "client_certificate"
                } else {
                    "client_key"
                };
                problem(
                    key,
                    "a client certificate goes with its key: give both client_certificate and client_key (PEM files), or neither".into(),
                );
                None
            }
        };
        let token = match (raw.token, raw.token_env) {
            (token, env) if external && (token.is_some() || env.is_some()) => {
                let key = if token.is_some() {
                    "token"
                } else {
                    "token_env"
                };
                problem(
                    key,
                    format!(
                        "an external peer is not read, so it takes no token; remove {key}, or set peer_type = \"ucsync\""
                    ),
                );
                None
            }
            (Some(t), None) if t.trim().is_empty() => {
                problem("token", "the token is empty; give the peer token the peer's administrator made for this server (`ucsync admin token NAME` there), best from the environment with token_env".into());
                None
            }
            (Some(t), None) => Some(Secret::Literal(t)),
            (None, Some(env)) => Some(Secret::Env(env)),
            (Some(_), Some(_)) => {
                problem("token", "give either token or token_env, not both".into());
                None
            }
            (None, None) if external || certificate_given => None,
            (None, None) => {
                problem(
                    "token_env",
                    "required: the peer token the peer's administrator made for this server (`ucsync admin token NAME` there), best from the environment: token_env = \"VARIABLE\" (or token); or a client certificate the peer registered for this server (client_certificate and client_key)".into(),
                );
                None
            }
        };
        let peer_enterprise_id = match raw.peer_enterprise_id {
            Some(_) if external => {
                problem(
                    "peer_enterprise_id",
                    "an external peer is not read, so no enterprise of it is synchronized; remove peer_enterprise_id, or set peer_type = \"ucsync\"".into(),
                );
                String::new()
            }
            Some(id) => {
                if let Err(m) = check_enterprise_id(&id) {
                    problem("peer_enterprise_id", m);
                }
                id
            }
            None if external => String::new(),
            None => {
                problem(
                    "peer_enterprise_id",
                    "required: the ID of the peer's enterprise synchronized into this one (its [enterprises.NAME] id there), e.g. peer_enterprise_id = \"acme-hq\"".into(),
                );
                String::new()
            }
        };
        let dialing_prefix = raw.dialing_prefix.unwrap_or_default();
        if let Some(m) = prefix_problem(&dialing_prefix) {
            problem("dialing_prefix", m);
        }
        // Both checked with the whole configuration (the digit where it is the PBX node's).
        let pbx_node = raw.pbx_node;
        let outgoing_digit = raw.outgoing_digit.map(|d| d.trim().to_owned());
        let mut number = |key: &str, value, default, range| {
            in_range(value, default, range, key).unwrap_or_else(|m| {
                problem(key, m);
                default
            })
        };
        let page_size = number(
            "page_size",
            raw.page_size,
            1000,
            1..=i64::from(MAX_PAGE_SIZE),
        );
        let timeout_secs = number("timeout_secs", raw.timeout_secs, 60, 1..=3600);
        if !p.is_empty() {
            return Err(p);
        }
        Ok(PeerSettings {
            peer_type,
            description,
            host,
            port,
            address,
            ca_file,
            token,
            client_certificate,
            peer_enterprise_id,
            dialing_prefix,
            pbx_node,
            outgoing_digit,
            // The numbers were checked against their ranges above.
            page_size: u32::try_from(page_size).unwrap_or(MAX_PAGE_SIZE),
            timeout_secs: u64::try_from(timeout_secs).unwrap_or(60),
        })
    }

    fn resolve_paths(&mut self, base_dir: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base_dir.join(&*path);
            }
        };
        if let Some(ca) = &mut self.ca_file {
            resolve(ca);
        }
        if let Some((cert, key)) = &mut self.client_certificate {
            resolve(cert);
            resolve(key);
        }
    }
}
