//! The HTTP side of the fake Connections server: one handler for every request that records it,
//! applies a matching fault, refuses anything but GET, checks Basic authentication and answers
//! the communities feed or a members feed. The data lives in
//! [`State`]; the handler holds its lock only while building the answer, never while sending it.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::extract::State as AppState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::feed::{self, ALL_PATH, MEMBERS_PATH, Page, Person};
use super::model::{Community, State};
use super::{Fault, Request};

/// The page size when the request gives none, as in Connections.
const DEFAULT_PAGE_SIZE: usize = 10;
/// The largest page of the communities feed; a larger `ps` is cut to this.
const MAX_COMMUNITIES_PAGE: usize = 500;
/// The largest page of a members feed.
const MAX_MEMBERS_PAGE: usize = 10_000;
/// Request bodies are read (to record their length) up to this size.
const MAX_BODY: usize = 16 * 1024 * 1024;

const ATOM_TYPE: &str = "application/atom+xml; charset=UTF-8";

/// What the handler shares with the test's [`super::FakeConnections`].
pub(crate) struct Shared {
    pub state: RwLock<State>,
    /// In the order added; the first whose pattern the path and query contain applies.
    pub faults: Mutex<Vec<(String, Fault)>>,
    pub requests: Mutex<Vec<Request>>,
    /// `http` or `https`, for the links in the feeds.
    pub scheme: &'static str,
    /// `host:port` for the links when a request has no `Host` header.
    pub default_host: String,
}

impl Shared {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, Vec<(String, Fault)>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn requests(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fault_for(&self, path_and_query: &str) -> Option<Fault> {
        self.faults()
            .iter()
            .find(|(matching, _)| path_and_query.contains(matching.as_str()))
            .map(|(_, fault)| fault.clone())
    }
}

/// Answers every request (the router's only route is its fallback).
pub(crate) async fn handle(
    AppState(shared): AppState<Arc<Shared>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body_len = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_or(0, |b| b.len());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let credentials = basic_credentials(&parts.headers);
    shared.requests().push(Request {
        method: parts.method.to_string(),
        path_and_query: path_and_query.clone(),
        host: host.clone(),
        user: credentials.as_ref().map(|(login, _)| login.clone()),
        body_len,
    });
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let base = format!(
        "{}://{}",
        shared.scheme,
        host.as_deref().unwrap_or(&shared.default_host)
    );

    if path.starts_with("/__fake/") {
        return fake_admin(&shared, &parts.method, path, query);
    }
    match shared.fault_for(&path_and_query) {
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(fault) => return fault_answer(fault, &base, path, query),
        None => {}
    }
    if parts.method != Method::GET {
        let mut answer = error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!(
                "{} is not allowed here; this API is read-only",
                parts.method
            ),
        );
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        return answer;
    }
    let userid = credentials.and_then(|(login, password)| shared.read().sign_in(&login, &password));
    let Some(userid) = userid else {
        let mut answer = error(
            StatusCode::UNAUTHORIZED,
            "sign in with Basic authentication as a user with a password",
        );
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Connections\""),
        );
        return answer;
    };
    let params = Params::parse(query);
    let answer = match path {
        ALL_PATH => communities(&shared, &base, &userid, path, &params),
        MEMBERS_PATH => members(&shared, &base, &userid, path, &params),
        _ => Err(refuse(
            StatusCode::NOT_FOUND,
            &format!("no resource at {path}"),
        )),
    };
    answer.unwrap_or_else(|refusal| error(refusal.status, &refusal.message))
}

/// `GET /communities/service/atom/communities/all`: the communities the user may see, in uuid
/// order, only those updated after `since` when given. `sortField` is accepted and ignored.
fn communities(
    shared: &Shared,
    base: &str,
    userid: &str,
    path: &str,
    params: &Params,
) -> Result<Response, Refusal> {
    let (page, per_page) = params.paging(MAX_COMMUNITIES_PAGE)?;
    let since = match params.get("since") {
        Some(since) => Some(parse_since(since)?),
        None => None,
    };
    let state = shared.read();
    let mut total = 0;
    let mut on_page: Vec<(&String, &Community)> = Vec::with_capacity(per_page.min(1000));
    let skip = (page - 1).saturating_mul(per_page);
    for (uuid, community) in &state.communities {
        if since.is_some_and(|since| i128::from(community.updated) * 1_000_000 <= since) {
            continue;
        }
        if !state.can_see(userid, community) {
            continue;
        }
        if total >= skip && on_page.len() < per_page {
            on_page.push((uuid, community));
        }
        total += 1;
    }
    let self_href = href(base, path, &params.raw);
    let next_href =
        (skip + on_page.len() < total).then(|| href(base, path, &params.with_page(page + 1)));
    let feed_id = format!("{base}{path}");
    let feed_page = Page {
        id: &feed_id,
        title: "All Communities",
        total,
        start_index: skip + 1,
        per_page,
        self_href: &self_href,
        next_href: next_href.as_deref(),
    };
    let mut out = feed::start_communities(&feed_page, on_page.len());
    for (uuid, community) in on_page {
        let author = person(&state, &community.author);
        feed::community_entry(&mut out, base, uuid, community, &author);
    }
    drop(state);
    feed::end_feed(&mut out);
    Ok(atom(out))
}

/// `GET /communities/service/atom/community/members?communityUuid=…`: the members of one
/// community the user may see, by userid, only owners or plain members when `role` says so.
fn members(
    shared: &Shared,
    base: &str,
    userid: &str,
    path: &str,
    params: &Params,
) -> Result<Response, Refusal> {
    let (page, per_page) = params.paging(MAX_MEMBERS_PAGE)?;
    let Some(uuid) = params.get("communityUuid") else {
        return Err(refuse(StatusCode::BAD_REQUEST, "communityUuid is missing"));
    };
    let role = match params.get("role").unwrap_or("all") {
        "all" => None,
        "owner" => Some(true),
        "member" => Some(false),
        other => {
            let message = format!("role {other} is unknown; give owner, member or all");
            return Err(refuse(StatusCode::BAD_REQUEST, &message));
        }
    };
    let state = shared.read();
    let Some(community) = state.communities.get(uuid) else {
        let message = format!("there is no community {uuid}");
        return Err(refuse(StatusCode::NOT_FOUND, &message));
    };
    if !state.can_see(userid, community) {
        let message = format!("{userid} may not see the members of community {uuid}");
        return Err(refuse(StatusCode::FORBIDDEN, &message));
    }
    let in_role = || {
        community
            .members
            .iter()
            .filter(|(_, m)| role.is_none_or(|owner| m.owner == owner))
    };
    let total = in_role().count();
    let skip = (page - 1).saturating_mul(per_page);
    let shown = total.saturating_sub(skip).min(per_page);
    let self_href = href(base, path, &params.raw);
    let next_href = (skip + shown < total).then(|| href(base, path, &params.with_page(page + 1)));
    let feed_id = format!("{base}{path}?communityUuid={uuid}");
    let title = format!("Members of {}", community.name);
    let feed_page = Page {
        id: &feed_id,
        title: &title,
        total,
        start_index: skip + 1,
        per_page,
        self_href: &self_href,
        next_href: next_href.as_deref(),
    };
    let mut out = feed::start_members(&feed_page, shown);
    for (member_id, member) in in_role().skip(skip).take(per_page) {
        feed::member_entry(&mut out, base, uuid, member, &person(&state, member_id));
    }
    drop(state);
    feed::end_feed(&mut out);
    Ok(atom(out))
}

/// The user `userid` as the feeds show them; e-mail left out when the server hides it.
fn person<'a>(state: &'a State, userid: &'a str) -> Person<'a> {
    match state.users.get(userid) {
        Some(user) => Person {
            userid,
            name: &user.name,
            email: (!state.hide_emails).then_some(user.email.as_str()),
            active: user.active,
        },
        None => Person {
            userid,
            name: userid,
            email: None,
            active: false,
        },
    }
}

/// The answer a fault gives instead of the normal one (all but `Delay`, which only waits).
fn fault_answer(fault: Fault, base: &str, path: &str, query: &str) -> Response {
    let members = path == MEMBERS_PATH;
    match fault {
        Fault::Redirect(location) => {
            let location =
                HeaderValue::from_str(&location).unwrap_or_else(|_| HeaderValue::from_static("/"));
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(status, &format!("fault: the server answers {code}"))
        }
        Fault::MalformedXml => atom(feed::malformed(base)),
        Fault::Oversized(size) => atom(feed::oversized(base, size, members)),
        Fault::EndlessPaging => {
            let params = Params::parse(query);
            let page = params
                .get("page")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(1)
                .max(1);
            let max = if members {
                MAX_MEMBERS_PAGE
            } else {
                MAX_COMMUNITIES_PAGE
            };
            let per_page = params
                .get("ps")
                .and_then(|p| p.parse::<usize>().ok())
                .unwrap_or(DEFAULT_PAGE_SIZE)
                .clamp(1, max);
            let self_href = href(base, path, &params.raw);
            let next_href = href(base, path, &params.with_page(page + 1));
            atom(feed::endless(
                base, &self_href, &next_href, page, per_page, members,
            ))
        }
        Fault::Delay(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "a delay is no answer"),
        Fault::Json(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

/// `/__fake/…`: controls for the benchmark, not part of the Connections API. Needs no
/// authentication and no fault applies. `POST /__fake/change?communities=K` changes the first
/// K communities (see [`State::change_first`]).
fn fake_admin(shared: &Shared, method: &Method, path: &str, query: &str) -> Response {
    if path != "/__fake/change" {
        return error(StatusCode::NOT_FOUND, &format!("no resource at {path}"));
    }
    if method != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "POST /__fake/change");
    }
    let params = Params::parse(query);
    let Some(count) = params.get("communities").and_then(|c| c.parse().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "give the number of communities to change: ?communities=K",
        );
    };
    let changed = shared.write().change_first(count);
    (StatusCode::OK, format!("changed {changed}\n")).into_response()
}

/// `base` + `path`, with `?query` unless the query is empty.
fn href(base: &str, path: &str, query: &str) -> String {
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}

/// A 200 answer with an Atom feed.
fn atom(body: String) -> Response {
    ([(header::CONTENT_TYPE, ATOM_TYPE)], body).into_response()
}

/// Why a request gets an error answer instead of a feed.
struct Refusal {
    status: StatusCode,
    message: String,
}

fn refuse(status: StatusCode, message: &str) -> Refusal {
    Refusal {
        status,
        message: message.to_owned(),
    }
}

/// An error answer with the `snx` error body. The codes are the fake's own words, one per status.
fn error(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        400 => "InvalidParameter".to_owned(),
        401 => "Unauthorized".to_owned(),
        403 => "AccessDenied".to_owned(),
        404 => "ItemNotFound".to_owned(),
        405 => "MethodNotAllowed".to_owned(),
        500 => "InternalError".to_owned(),
        503 => "ServiceUnavailable".to_owned(),
        other => format!("Error{other}"),
    };
    let body = feed::error_body(&code, message);
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// `since` in RFC 3339 (`2009-01-04T20:32:31.171Z` or with an offset) as nanoseconds since the
/// Unix epoch.
fn parse_since(since: &str) -> Result<i128, Refusal> {
    since
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_nanosecond())
        .map_err(|e| {
            let message =
                format!("since={since} is no RFC 3339 time ({e}); percent-encode a + as %2B");
            refuse(StatusCode::BAD_REQUEST, &message)
        })
}

/// The query parameters of a request, decoded as a servlet container does (`+` is a space).
struct Params {
    raw: String,
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        Params {
            raw: raw.to_owned(),
            pairs,
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `page` (1-based, default 1) and `ps` (default 10, cut to `max`); 400 when not positive
    /// numbers.
    fn paging(&self, max: usize) -> Result<(usize, usize), Refusal> {
        let number = |name: &str, default: usize| match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    let message = format!("{name}={value} is not a positive number");
                    refuse(StatusCode::BAD_REQUEST, &message)
                }),
        };
        Ok((
            number("page", 1)?,
            number("ps", DEFAULT_PAGE_SIZE)?.min(max),
        ))
    }

    /// The query as sent with `page` set to `page`.
    fn with_page(&self, page: usize) -> String {
        let mut query: Vec<String> = self
            .raw
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
            .map(str::to_owned)
            .collect();
        query.push(format!("page={page}"));
        query.join("&")
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && hex_pair(bytes[i + 1], bytes[i + 2]).is_some() => {
                out.extend(hex_pair(bytes[i + 1], bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some(u8::try_from(digit(high)? * 16 + digit(low)?).unwrap_or(0))
}

/// The login name and password of a `Basic` `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (login, password) = decoded.split_once(':')?;
    Some((login.to_owned(), password.to_owned()))
}

/// Standard base64 with optional padding; `None` on any other character.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for &c in text {
        bits = (bits << 6) | value(c)?;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(
            base64_decode("YW5uYTpzZWNyZXQ="),
            Some(b"anna:secret".to_vec())
        );
        assert_eq!(base64_decode("YTpi"), Some(b"a:b".to_vec()));
        assert_eq!(base64_decode("YQ"), Some(b"a".to_vec()));
        assert_eq!(base64_decode("Y*"), None);
    }

    #[test]
    fn query_values_are_percent_decoded_and_plus_is_a_space() {
        let params = Params::parse("since=2009-01-04T20%3A32%3A31%2B01%3A00&x=a+b&page=3");
        assert_eq!(params.get("since"), Some("2009-01-04T20:32:31+01:00"));
        assert_eq!(params.get("x"), Some("a b"));
        assert_eq!(
            params.with_page(4),
            "since=2009-01-04T20%3A32%3A31%2B01%3A00&x=a+b&page=4"
        );
    }
}
