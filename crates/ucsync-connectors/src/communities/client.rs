//! Reading the Communities API over HTTP(S): every request to the configured protocol, host and
//! port only (never to an address a feed or a redirect gives, so credentials go nowhere else),
//! basic authentication, GET only, redirects never followed, TLS host names always verified,
//! bodies read up to a limit. Each failure is said in words with what to change.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::DATE;

use super::atom;
use super::config::{CommunitiesSettings, Protocol};
use crate::http::{self, BodyError, chain};

/// Why a request gave no usable answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Everything else fails the same way (unreachable, refused credentials, a redirect, …):
    /// the run stops.
    Run(String),
    /// This one answer is unusable (malformed, too large, a server error): the object it was
    /// for is kept as staged.
    Answer(String),
    /// The server has no such resource (404).
    NotFound(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Run(m) | Failure::Answer(m) | Failure::NotFound(m) => m,
        }
    }
}

/// An answer read whole.
pub struct Answer {
    pub body: Vec<u8>,
    /// The server's clock when it answered (`Date`), if it said.
    pub date: Option<jiff::Timestamp>,
}

/// The HTTP client of one connector.
pub struct Client {
    http: reqwest::Client,
    settings: Arc<CommunitiesSettings>,
    password: String,
}

impl Client {
    /// A client for the configured server; fails when the password or the CA file cannot be
    /// read.
    pub fn new(settings: Arc<CommunitiesSettings>) -> Result<Self, String> {
        let password = settings.password.reveal()?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(settings.timeout_secs.min(30)))
            .timeout(Duration::from_secs(settings.timeout_secs))
            .user_agent(concat!("ucsync/", env!("CARGO_PKG_VERSION")));
        if settings.protocol == Protocol::Https {
            builder = builder
                .tls_backend_preconfigured(crate::tls::client_config(settings.ca_file.as_deref())?);
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            http,
            settings,
            password,
        })
    }

    pub fn settings(&self) -> &CommunitiesSettings {
        &self.settings
    }

    /// The URL of `path` with `query` on the configured server.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let base = format!("{}{path}", self.settings.base_url());
        match reqwest::Url::parse_with_params(&base, query) {
            Ok(url) => url.to_string(),
            Err(_) => base,
        }
    }

    /// GETs `path` with `query` and reads the body whole.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Answer, Failure> {
        let url = self.url(path, query);
        let mut response = self
            .http
            .get(&url)
            .basic_auth(&self.settings.user, Some(&self.password))
            .header("Accept", "application/atom+xml")
            .send()
            .await
            .map_err(|e| Failure::Run(self.unreachable(&url, &e.without_url())))?;
        let status = response.status();
        if status.is_redirection() {
            let location = http::location(&response);
            return Err(Failure::Run(self.redirected(&url, status, &location)));
        }
        let date = response
            .headers()
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
            .map(|z| z.timestamp());
        let body = match http::read_body(&mut response, self.settings.max_response_bytes).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return Err(Failure::Answer(self.too_large(&url))),
            Err(BodyError::BrokeOff(why)) => {
                return Err(Failure::Run(format!(
                    "the answer to {url} broke off: {why}; run the import again, and check the server if it repeats"
                )));
            }
        };
        if status.is_success() {
            return Ok(Answer { body, date });
        }
        Err(self.refused(&url, status, &body))
    }

    fn too_large(&self, url: &str) -> String {
        format!(
            "the answer to {url} is larger than {} MiB (max_response_mb); lower page_size or raise max_response_mb",
            self.settings.max_response_bytes / (1024 * 1024)
        )
    }

    fn refused(&self, url: &str, status: StatusCode, body: &[u8]) -> Failure {
        let said = match atom::error_document(body) {
            Some((code, message)) if !message.is_empty() => format!(" ({code}: {message})"),
            Some((code, _)) => format!(" ({code})"),
            None => String::new(),
        };
        let user = &self.settings.user;
        match status {
            StatusCode::UNAUTHORIZED => Failure::Run(format!(
                "{} refused user \"{user}\" (401 Unauthorized{said}): the user name or password is wrong; check user and password (or the variable password_env names)",
                self.settings.base_url()
            )),
            StatusCode::FORBIDDEN => Failure::Run(format!(
                "user \"{user}\" may not read {url} (403 Forbidden{said}): the administrator lacks the communities-administrator right; give \"{user}\" the global communities-administrator role on the server, or set user to an administrator that has it"
            )),
            StatusCode::NOT_FOUND => {
                Failure::NotFound(format!("{url} answered 404 Not Found{said}"))
            }
            s if s.is_server_error() => Failure::Answer(format!(
                "{url} answered {s}{said}; the server failed: run the import again, and check the server's logs if it repeats"
            )),
            s => Failure::Run(format!(
                "{url} answered {s}{said}; check host, port and protocol, and that the Communities application runs there"
            )),
        }
    }

    /// A redirect, never followed: where it points and which setting sends requests there.
    fn redirected(&self, url: &str, status: StatusCode, location: &str) -> String {
        let s = &self.settings;
        // A Location without a server (`/communities/login`) is on the server asked.
        let target = (!location.is_empty())
            .then(|| {
                reqwest::Url::parse(url)
                    .and_then(|base| base.join(location))
                    .ok()
            })
            .flatten();
        let shown = match (&target, location.is_empty()) {
            (_, true) => "nowhere".to_owned(),
            (Some(t), false) => t.to_string(),
            (None, false) => location.to_owned(),
        };
        let fix = match target {
            Some(target) => {
                let mut changes = Vec::new();
                if target.scheme() != s.protocol.name() {
                    changes.push(format!("protocol = \"{}\"", target.scheme()));
                }
                if let Some(host) = target.host_str()
                    && !host.eq_ignore_ascii_case(&s.host)
                {
                    changes.push(format!("host = \"{host}\""));
                }
                if let Some(port) = target.port_or_known_default()
                    && port != s.port
                {
                    changes.push(format!("port = {port}"));
                }
                if changes.is_empty() {
                    "the server sends requests to another path on the same server (a login page when it does not take basic authentication for this user); check that the Communities application is at /communities on this host and that it accepts basic authentication".to_owned()
                } else {
                    format!(
                        "set {} so that ucsync reads the server directly",
                        changes.join(" and ")
                    )
                }
            }
            None if location.is_empty() => {
                "the answer names no Location; check host, port and protocol".to_owned()
            }
            None => {
                "check host, port and protocol so that ucsync reads the server directly".to_owned()
            }
        };
        format!(
            "the server redirects {url} to {shown} ({status}); ucsync never follows redirects, and sent nothing there: {fix}"
        )
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error) -> String {
        let text = chain(e);
        let s = &self.settings;
        let hint = if text.contains("NotValidForName") || text.contains("not valid for name") {
            format!(
                "the server's certificate does not name host \"{}\": set host to a name the certificate holds (its subject alternative names), or have the server's certificate name it",
                s.host
            )
        } else if text.contains("certificate") || text.contains("UnknownIssuer") {
            "the server's certificate was not accepted: give the CA that signed it in ca_file (PEM), or check that it has not expired".to_owned()
        } else if text.contains("Connection refused") {
            "nothing listens there: check host, port and protocol, and that the server runs"
                .to_owned()
        } else if e.is_timeout() {
            "no answer in time: check host, port and firewalls, or raise timeout_secs".to_owned()
        } else if text.contains("dns error") || text.contains("failed to lookup") {
            "the host name does not resolve: check host".to_owned()
        } else if text.contains("InvalidContentType") || text.contains("corrupt message") {
            format!(
                "the server does not speak TLS on port {}: set port to its HTTPS port (443 by default), or protocol = \"http\" if it serves plain HTTP there",
                s.port
            )
        } else if s.protocol == Protocol::Http
            && (text.contains("invalid HTTP version") || text.contains("connection closed before"))
        {
            format!(
                "the server does not answer plain HTTP on port {}, it may speak HTTPS there: set protocol = \"https\" (with ca_file when a private CA signed its certificate), or port to its HTTP port",
                s.port
            )
        } else {
            "check host, port, protocol and the network".to_owned()
        };
        format!("cannot reach {url}: {text}; {hint}")
    }
}
