//! Reading a peer's changes feed (`docs/PEER.md`, protocol version 1): HTTPS only, to the
//! configured host and port (or `address`, the certificate still checked against `host`), the
//! peer token as a bearer token, GET only, redirects never followed, bodies read up to a limit.
//! A refused certificate is explained from the certificate itself ([`super::certificate`]);
//! every other failure is said in words with what to change.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;

use super::certificate::{self, KeepingVerifier};
use super::config::{PeerSettings, Secret};
use super::entry::Entry;
use crate::http::{self, BodyError, chain};

/// The protocol version this client speaks.
pub const PROTOCOL: u32 = 1;

/// The largest answer read: a page of 5000 entries is far below.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a page could not be read.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The run stops: unreachable, refused, a redirect, an answer that is not the protocol.
    Run(String),
    /// The peer does not honour the cursor (410): list everything again from no cursor.
    StartOver(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Run(m) | Failure::StartOver(m) => m,
        }
    }
}

/// One page of the changes feed.
#[derive(Debug, Clone, Deserialize)]
pub struct Page {
    pub protocol: u32,
    /// The peer's product and version.
    #[serde(default)]
    pub server: Option<ServerInfo>,
    /// Entries changed since the cursor, each with `id`, `type` and lists of values.
    #[serde(default)]
    pub contacts: Vec<Entry>,
    /// Ids of entries deleted since the cursor.
    #[serde(default)]
    pub deleted: Vec<String>,
    pub cursor: String,
    #[serde(default)]
    pub more: bool,
}

/// What the peer says it is.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerInfo {
    pub product: String,
    pub version: String,
}

/// Where pages come from: the peer, or a test's script.
#[async_trait]
pub trait Pages: Send + Sync {
    /// The page after `cursor` (the first of a full listing without one).
    async fn page(&self, cursor: Option<&str>) -> Result<Page, Failure>;
    /// The feed as messages name it.
    fn feed(&self) -> String;
}

/// The error body of the protocol.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<String>,
}

/// The HTTPS client of one connector.
pub struct Client {
    http: reqwest::Client,
    settings: Arc<PeerSettings>,
    token: String,
    verifier: Arc<KeepingVerifier>,
    /// The request for the next page, sent when the page before named it (its `Link` header)
    /// and before its body was read: the peer makes that page while this client reads.
    ahead: std::sync::Mutex<Option<Ahead>>,
}

/// A request sent ahead, for the page after `cursor`.
struct Ahead {
    cursor: String,
    task: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.get_mut().ok().and_then(Option::take) {
            ahead.task.abort();
        }
    }
}

impl Client {
    /// A client for the configured peer; fails when the token or the CA file cannot be read.
    pub fn new(settings: Arc<PeerSettings>) -> Result<Self, String> {
        let token = match &settings.token {
            Some(Secret::Literal(t)) => t.clone(),
            Some(Secret::Env(name)) => std::env::var(name).map_err(|_| {
                format!(
                    "the environment variable {name} (token_env) is not set; set it to the peer token"
                )
            })?,
            None => String::new(),
        };
        let roots = Arc::new(crate::tls::root_store(settings.ca_file.as_deref())?);
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots,
            crate::tls::provider(),
        )
        .build()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
        let verifier = Arc::new(KeepingVerifier::new(webpki));
        let ca_file = settings.ca_file.as_deref();
        let mut tls = match &settings.client_certificate {
            None => crate::tls::client_config(ca_file)?,
            Some((cert, key)) => crate::tls::client_config_showing(ca_file, cert, key)?,
        };
        // The verifier decides nothing itself: webpki does, with the same roots.
        tls.dangerous().set_certificate_verifier(verifier.clone());
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .connect_timeout(Duration::from_secs(settings.timeout_secs.min(30)))
            .timeout(Duration::from_secs(settings.timeout_secs))
            .user_agent(concat!("ucsync/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls);
        if let Some(ip) = settings.address {
            builder = builder.resolve(&settings.host, std::net::SocketAddr::new(ip, settings.port));
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            http,
            settings,
            token,
            verifier,
            ahead: std::sync::Mutex::new(None),
        })
    }

    /// The changes feed's URL for `cursor` and `limit`.
    fn url(&self, cursor: Option<&str>, limit: u32) -> String {
        let base = format!(
            "{}/api/v1/peer/v1/enterprises/{}/changes",
            self.settings.base_url(),
            self.settings.peer_enterprise_id
        );
        let mut query = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            query.insert(0, ("cursor", c.to_owned()));
        }
        match reqwest::Url::parse_with_params(&base, &query) {
            Ok(url) => url.to_string(),
            Err(_) => base,
        }
    }

    fn request(&self, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(url).header("Accept", "application/json");
        if self.token.is_empty() {
            // The client certificate stands for the peer.
            request
        } else {
            request.bearer_auth(&self.token)
        }
    }

    /// The request sent ahead for the page after `cursor`, if that is the one.
    fn take_ahead(&self, cursor: Option<&str>) -> Option<Ahead> {
        let mut ahead = self.ahead.lock().ok()?;
        match (ahead.take(), cursor) {
            (Some(a), Some(c)) if a.cursor == c => Some(a),
            (Some(other), _) => {
                other.task.abort();
                None
            }
            (None, _) => None,
        }
    }

    /// Sends the request for the page the `Link` header of `response` names (only its cursor
    /// is taken: the request goes to the configured peer, as every other).
    fn send_ahead(&self, response: &reqwest::Response, limit: u32) {
        let Some(cursor) = next_cursor(response.url(), response.headers()) else {
            return;
        };
        let request = self.request(&self.url(Some(&cursor), limit));
        let task = tokio::spawn(request.send());
        if let Ok(mut ahead) = self.ahead.lock()
            && let Some(before) = ahead.replace(Ahead { cursor, task })
        {
            before.task.abort();
        }
    }

    /// GETs the changes after `cursor`, `limit` entries at most; with `read_on`, the request
    /// for the next page goes as soon as this answer names it.
    pub async fn changes(
        &self,
        cursor: Option<&str>,
        limit: u32,
        read_on: bool,
    ) -> Result<Page, Failure> {
        let url = self.url(cursor, limit);
        let sent = match self.take_ahead(cursor) {
            Some(ahead) => match ahead.task.await {
                Ok(sent) => sent,
                Err(e) => {
                    return Err(Failure::Run(format!(
                        "the request for {url} stopped: {e}; run the import again"
                    )));
                }
            },
            None => {
                // A refusal kept from an earlier request is not this one's.
                let _ = self.verifier.take_refused();
                self.request(&url).send().await
            }
        };
        let mut response =
            sent.map_err(|e| Failure::Run(self.unreachable(&url, &e.without_url())))?;
        let status = response.status();
        if status.is_redirection() {
            let location = http::location(&response);
            return Err(Failure::Run(format!(
                "the peer redirects {url} to {} ({status}); ucsync never follows redirects and sent nothing there: set host and port to the peer's ucsync server itself",
                if location.is_empty() {
                    "nowhere"
                } else {
                    location.as_str()
                }
            )));
        }
        if read_on && status.is_success() {
            self.send_ahead(&response, limit);
        }
        let body = match http::read_body(&mut response, MAX_RESPONSE_BYTES).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return Err(Failure::Run(too_large(&url))),
            Err(BodyError::BrokeOff(why)) => {
                return Err(Failure::Run(format!(
                    "the answer to {url} broke off: {why}; run the import again, and check the peer if it repeats"
                )));
            }
        };
        if !status.is_success() {
            return Err(self.refused(&url, status, &body));
        }
        let page: Page = serde_json::from_slice(&body).map_err(|e| {
            Failure::Run(format!(
                "the answer to {url} is not a page of the peer sync protocol: {e}; check that host and port name a ucsync server"
            ))
        })?;
        if page.protocol != PROTOCOL {
            return Err(Failure::Run(format!(
                "the peer at {url} speaks peer sync protocol version {}, this server version {PROTOCOL}; update the older of the two servers",
                page.protocol
            )));
        }
        Ok(page)
    }

    fn refused(&self, url: &str, status: StatusCode, body: &[u8]) -> Failure {
        let said = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .and_then(|b| b.error)
            .map_or(String::new(), |e| format!("; the peer says: {e}"));
        let s = &self.settings;
        let id = &s.peer_enterprise_id;
        let host = &s.host;
        let token = match (&s.token, &s.client_certificate) {
            (Some(crate::settings::Secret::Env(var)), _) => {
                format!("the peer token from the environment variable {var} (token_env)")
            }
            (Some(_), _) => "the peer token set in token".to_owned(),
            (None, Some((cert, _))) => format!(
                "the client certificate {} (client_certificate)",
                cert.display()
            ),
            (None, None) => "a request without credentials".to_owned(),
        };
        let fix = if s.token.is_none() && s.client_certificate.is_some() {
            "the peer has not registered it for a peer: ask the peer's administrator to register it (`ucsync admin certificate NAME FILE` there)"
        } else {
            "the token is not valid; ask the peer's administrator for a new peer token (`ucsync admin token NAME` on the peer) and set it there"
        };
        Failure::Run(match status {
            StatusCode::UNAUTHORIZED => {
                format!("{host} refused {token} (401 Unauthorized{said}): {fix}")
            }
            StatusCode::FORBIDDEN if s.token.is_none() => format!(
                "{host} does not let {token} read enterprise {id:?} (403 Forbidden{said}): the peer registered it for another enterprise or for an administrator that is not a peer; ask the peer's administrator to register it for the peer of enterprise {id:?}, or check peer_enterprise_id"
            ),
            StatusCode::FORBIDDEN => format!(
                "{host} does not let the token read enterprise {id:?} (403 Forbidden{said}): the token is bound to another enterprise or is not a peer token; ask the peer's administrator for a peer token of enterprise {id:?}, or check peer_enterprise_id"
            ),
            StatusCode::NOT_FOUND => format!(
                "{url} answered 404 Not Found{said}: the peer has no enterprise with the ID {id:?}: check peer_enterprise_id (and that host and port name the peer's ucsync server)"
            ),
            StatusCode::GONE => {
                return Failure::StartOver(format!(
                    "{host} does not honour the cursor any more (410 Gone{said})"
                ));
            }
            StatusCode::BAD_REQUEST => format!(
                "{url} answered 400 Bad Request{said}; check page_size (1 to 5000), and report it if it repeats"
            ),
            s if s.is_server_error() => format!(
                "{url} answered {s}{said}; the peer failed: run the import again, and ask the peer's administrator to check its logs if it repeats"
            ),
            s => format!(
                "{url} answered {s}{said}; check host and port, and that the peer runs ucsync"
            ),
        })
    }

    fn unreachable(&self, url: &str, e: &reqwest::Error) -> String {
        let s = &self.settings;
        if let Some(refused) = self.verifier.take_refused() {
            return format!(
                "cannot reach {url}: {}",
                certificate::explain(&s.host, &refused, s.ca_file.as_deref())
            );
        }
        let text = chain(e);
        let target = match s.address {
            Some(ip) => format!("address {ip}, port {}", s.port),
            None => format!("host {}, port {}", s.host, s.port),
        };
        let hint = if text.contains("Connection refused") {
            format!("nothing listens at {target}: check them, and that the peer's server runs")
        } else if e.is_timeout() {
            format!(
                "no answer in time from {target}: check them and firewalls, or raise timeout_secs"
            )
        } else if text.contains("dns error") || text.contains("failed to lookup") {
            "the host name does not resolve: check host, or give the peer's IP address in address"
                .to_owned()
        } else if text.contains("InvalidContentType") || text.contains("corrupt message") {
            format!(
                "the peer does not speak TLS at {target}: set port to its HTTPS port (443 by default)"
            )
        } else if let Some((cert, _)) = s
            .client_certificate
            .as_ref()
            .filter(|_| text.contains("received fatal alert"))
        {
            // The peer refused the handshake: with a client certificate, most often for it.
            format!(
                "the peer refused the TLS handshake; if it is for the client certificate {} (client_certificate): the peer must trust its CA (`ucsync serve --tls-client-ca` there), and it must be valid now and made for client authentication",
                cert.display()
            )
        } else if text.contains("close_notify") || text.contains("reset by peer") {
            // The peer was reached (often it answered the pages before): nothing to change here.
            return format!(
                "the connection to {url} broke off: {text}; the peer at {target} closed it in the middle of the exchange: run the import again, and check the peer if it repeats"
            );
        } else {
            format!("check {target} and the network")
        };
        format!("cannot reach {url}: {text}; {hint}")
    }
}

#[async_trait]
impl Pages for Client {
    /// Pages of `page_size` entries.
    async fn page(&self, cursor: Option<&str>) -> Result<Page, Failure> {
        self.changes(cursor, self.settings.page_size, true).await
    }

    fn feed(&self) -> String {
        format!(
            "the changes of enterprise {:?} at {}",
            self.settings.peer_enterprise_id, self.settings.host
        )
    }
}

/// The cursor of the page a `Link: <...>; rel="next"` header names (RFC 8288), its target
/// resolved against `base`, the address asked.
fn next_cursor(base: &reqwest::Url, headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|link| {
            link.split(';')
                .skip(1)
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
        })
        .find_map(|link| {
            let target = link.split(';').next()?.trim();
            let target = target.strip_prefix('<')?.strip_suffix('>')?;
            let url = base.join(target).ok()?;
            let cursor = url.query_pairs().find(|(k, _)| k == "cursor")?.1;
            (!cursor.is_empty()).then(|| cursor.into_owned())
        })
}

fn too_large(url: &str) -> String {
    format!(
        "the answer to {url} is larger than {} MiB; lower page_size",
        MAX_RESPONSE_BYTES / (1024 * 1024)
    )
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    use super::next_cursor;

    fn cursor(links: &[&str]) -> Option<String> {
        let base = reqwest::Url::parse(
            "https://peer.example:8443/api/v1/peer/v1/enterprises/acme/changes?limit=2",
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(LINK, HeaderValue::from_str(link).unwrap());
        }
        next_cursor(&base, &headers)
    }

    /// The request sent ahead answers only the page after its own cursor: asked for another,
    /// it is dropped and stops, and the page is asked for anew.
    #[tokio::test]
    async fn a_request_sent_ahead_serves_only_its_own_cursor() {
        let settings = std::sync::Arc::new(crate::peer::tests::valid(""));
        let client = super::Client::new(settings).unwrap();
        let send_ahead = |cursor: &str| {
            let task = tokio::spawn(std::future::pending::<reqwest::Result<reqwest::Response>>());
            let abort = task.abort_handle();
            *client.ahead.lock().unwrap() = Some(super::Ahead {
                cursor: cursor.to_owned(),
                task,
            });
            abort
        };
        let sent = send_ahead("c2");
        assert!(client.take_ahead(Some("c3")).is_none());
        assert!(client.take_ahead(None).is_none());
        assert!(client.ahead.lock().unwrap().is_none());
        tokio::task::yield_now().await;
        assert!(sent.is_finished(), "the request for another cursor goes on");
        send_ahead("c2");
        let ahead = client.take_ahead(Some("c2")).unwrap();
        assert_eq!(ahead.cursor, "c2");
        assert!(client.ahead.lock().unwrap().is_none());
        ahead.task.abort();
    }

    #[test]
    fn the_next_cursor_is_taken_from_the_link_whose_rel_is_next() {
        let path = "/api/v1/peer/v1/enterprises/acme/changes";
        let next = format!("<{path}?cursor=v1-ab-7-9&limit=2>; rel=\"next\"");
        assert_eq!(cursor(&[&next]).as_deref(), Some("v1-ab-7-9"));
        // Among others, in one header or several; a relative target; rel without quotes.
        let prev = format!("<{path}?cursor=v1-ab-1-1>; rel=\"prev\"");
        assert_eq!(
            cursor(&[&format!("{prev}, {next}")]).as_deref(),
            Some("v1-ab-7-9")
        );
        assert_eq!(cursor(&[&prev, &next]).as_deref(), Some("v1-ab-7-9"));
        assert_eq!(
            cursor(&["<?cursor=v1-ab-8-1&limit=2>; rel=next"]).as_deref(),
            Some("v1-ab-8-1")
        );
        // None: no link, no next, no cursor in it, an empty cursor.
        assert_eq!(cursor(&[]), None);
        assert_eq!(cursor(&[&prev]), None);
        assert_eq!(cursor(&[&format!("<{path}?limit=2>; rel=\"next\"")]), None);
        assert_eq!(cursor(&[&format!("<{path}?cursor=>; rel=\"next\"")]), None);
    }
}
