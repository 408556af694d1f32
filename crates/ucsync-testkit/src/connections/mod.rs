//! A fake HCL (IBM) Connections Communities server for tests and benchmarks: the read side of
//! the Communities Atom API over real HTTP or HTTPS on 127.0.0.1, with the data held in memory
//! and set up by the test.
//!
//! It serves
//! - `GET /communities/service/atom/communities/all?page=P&ps=N[&since=T]`: the communities the
//!   signed-in user may see, **in uuid order** (stable while paging; `sortField` is accepted and
//!   ignored), `ps` default 10 and cut to 500, `since` keeping those whose `updated` is later;
//! - `GET /communities/service/atom/community/members?communityUuid=U&page=P&ps=N&role=R`: the
//!   members of one community by userid, `ps` default 10 and cut to 10,000, `role` owner,
//!   member or all (default); 404 for an unknown community, 403 for one the user may not see;
//!
//! each behind Basic authentication (login by userid or e-mail; 401 with
//! `WWW-Authenticate: Basic realm="Connections"` otherwise). Anything but GET is refused with
//! 405. Errors carry the `snx` `<error>` body. A community's `updated` moves on every change of
//! it or of its members, each change strictly later than the one before (millisecond clock).
//! Every request is recorded ([`FakeConnections::requests`]) and [`Fault`]s make requests fail
//! in the ways a connector must survive. `POST /__fake/change?communities=K` (no
//! authentication, no faults) changes K communities for the benchmark.
//!
//! The server runs on its own thread with its own tokio runtime, so sync tests and
//! `#[tokio::test]`s use it alike; dropping the [`FakeConnections`] stops it. Setup methods
//! panic on a caller's mistake (an unknown uuid or userid), as a test fixture should.
//!
//! ```no_run
//! use ucsync_testkit::connections::{FakeCommunity, FakeConnections};
//!
//! let fake = FakeConnections::start().unwrap();
//! fake.add_user("anna", "Anna Lang", "anna@example.com", Some("secret"), true);
//! fake.add_community(FakeCommunity::new("c-1", "Sales", "anna"));
//! // connect the code under test to fake.url() as anna / secret
//! ```

mod feed;
mod https;
mod model;
mod serve;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

pub use model::{CommunityType, FakeCommunity, populated_userid, populated_uuid};

use crate::error::{Error, Result};
use crate::tls::TlsFiles;
use model::{State, User};
use serve::Shared;

/// A way for the server to fail a request, set with [`FakeConnections::fault`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 302 with `Location:` this URL and an empty body.
    Redirect(String),
    /// This status with the `snx` error body (403, 500, 503, …).
    Status(u16),
    /// 200 with an Atom feed that starts well-formed and breaks on line 12, inside an entry's
    /// `<title>`: an unclosed element, a stray `<` and a bare `&`, then the end of the body.
    MalformedXml,
    /// 200 with a valid feed of one entry whose `<summary>` is this many bytes (a community
    /// entry; on the members path a member entry that also carries the summary).
    Oversized(usize),
    /// 200 with a full page (the requested `ps`) of new entries `endless-PAGE-I` on every page,
    /// `totalResults` always far beyond the page, and always a `rel="next"` link. Community
    /// entries, member entries on the members path.
    EndlessPaging,
    /// Waits this long, then answers as usual (authentication and all).
    Delay(Duration),
    /// 200 with this body as `application/json`: another service's answer on this address
    /// (a client of a JSON protocol reaching this server gets what it is given).
    Json(String),
}

/// One request as the server received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// As sent, percent-encoding and all: `/communities/service/atom/communities/all?ps=2`.
    pub path_and_query: String,
    /// The `Host` header.
    pub host: Option<String>,
    /// The login name of the Basic `Authorization` header (the password is never kept).
    pub user: Option<String>,
    /// Bytes of the request body.
    pub body_len: usize,
}

/// A running fake Connections server; stops when dropped.
pub struct FakeConnections {
    shared: Arc<Shared>,
    port: u16,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeConnections {
    /// HTTP on 127.0.0.1, a free port; [`url`](Self::url) is `http://127.0.0.1:PORT`.
    pub fn start() -> Result<Self> {
        Self::start_with(None)
    }

    /// HTTPS with the server certificate and key of `tls` (made for localhost / 127.0.0.1 by
    /// [`crate::tls::generate`]); [`url`](Self::url) is `https://localhost:PORT`.
    pub fn start_tls(tls: &TlsFiles) -> Result<Self> {
        Self::start_with(Some(https::acceptor(&tls.server_cert, &tls.server_key)?))
    }

    fn start_with(tls: Option<TlsAcceptor>) -> Result<Self> {
        let server_error = |what: &str, e: std::io::Error| Error::Server(format!("{what}: {e}"));
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| server_error("binding 127.0.0.1:0 for the fake Connections", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| server_error("making the listener non-blocking", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| server_error("reading the listener's port", e))?
            .port();
        let (scheme, host) = match tls {
            Some(_) => ("https", format!("localhost:{port}")),
            None => ("http", format!("127.0.0.1:{port}")),
        };
        let shared = Arc::new(Shared {
            state: RwLock::new(State::default()),
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            scheme,
            default_host: host.clone(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-connections")
            .enable_all()
            .build()
            .map_err(|e| server_error("starting the fake Connections' runtime", e))?;
        let (stop, stopped) = oneshot::channel();
        let app = axum::Router::new()
            .fallback(serve::handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name(format!("fake-connections-{port}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    match tls {
                        None => {
                            tokio::select! {
                                _ = axum::serve(listener, app) => {}
                                _ = stopped => {}
                            }
                        }
                        Some(acceptor) => {
                            let Ok(listener) = https::TlsListener::new(listener, acceptor) else {
                                return;
                            };
                            tokio::select! {
                                _ = axum::serve(listener, app) => {}
                                _ = stopped => {}
                            }
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| server_error("starting the fake Connections' thread", e))?;
        Ok(FakeConnections {
            shared,
            port,
            url: format!("{scheme}://{host}"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or, with TLS, `https://localhost:PORT` (the certificate's name).
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Adds (or replaces) a person. Without a password they cannot sign in; a
    /// `communities_admin` sees every community, private ones too.
    pub fn add_user(
        &self,
        userid: &str,
        name: &str,
        email: &str,
        password: Option<&str>,
        communities_admin: bool,
    ) {
        let user = User {
            name: name.to_owned(),
            email: email.to_owned(),
            password: password.map(str::to_owned),
            communities_admin,
            active: true,
        };
        self.shared.write().users.insert(userid.to_owned(), user);
    }

    /// Marks a person active or inactive (`<snx:userState>`). Changes no community's `updated`.
    pub fn set_user_state(&self, userid: &str, active: bool) {
        match self.shared.write().users.get_mut(userid) {
            Some(user) => user.active = active,
            None => misuse(format!("set_user_state: no user {userid}")),
        }
    }

    /// The server-wide switch that leaves `<email>` out of every author and member.
    pub fn hide_emails(&self, hide: bool) {
        self.shared.write().hide_emails = hide;
    }

    /// Adds (or replaces) a community; its author (a user added before) becomes its owner.
    pub fn add_community(&self, community: FakeCommunity) {
        let added = self.shared.write().add_community(community);
        added.unwrap_or_else(|e| misuse(format!("add_community: {e}")));
    }

    pub fn rename_community(&self, uuid: &str, name: &str) {
        self.change(uuid, |c| c.name = name.to_owned());
    }

    pub fn set_description(&self, uuid: &str, description: &str) {
        self.change(uuid, |c| c.description = description.to_owned());
    }

    pub fn set_tags(&self, uuid: &str, tags: &[&str]) {
        self.change(uuid, |c| {
            c.tags = tags.iter().map(|t| (*t).to_owned()).collect()
        });
    }

    pub fn set_type(&self, uuid: &str, kind: CommunityType) {
        self.change(uuid, |c| c.kind = kind);
    }

    /// Removes a community; it no longer appears in any feed.
    pub fn delete_community(&self, uuid: &str) {
        if self.shared.write().communities.remove(uuid).is_none() {
            misuse(format!("delete_community: no community {uuid}"));
        }
    }

    /// Makes a user an owner or a plain member, or changes their role.
    pub fn add_member(&self, uuid: &str, userid: &str, owner: bool) {
        let added = self.shared.write().add_member(uuid, userid, owner);
        added.unwrap_or_else(|e| misuse(format!("add_member: {e}")));
    }

    pub fn remove_member(&self, uuid: &str, userid: &str) {
        let mut removed = false;
        self.change(uuid, |c| removed = c.members.remove(userid).is_some());
        if !removed {
            misuse(format!("remove_member: {userid} is no member of {uuid}"));
        }
    }

    /// `communities` communities of `members_each` members from `users` people, all
    /// deterministic: userids [`populated_userid`] (`user00001`…, no password), uuids
    /// [`populated_uuid`], names "Community 00001"…, communities 3, 6, 9… private.
    pub fn populate(&self, communities: usize, members_each: usize, users: usize) {
        self.shared
            .write()
            .populate(communities, members_each, users);
    }

    /// What `POST /__fake/change?communities=K` does: renames the first `count` communities
    /// (uuid order) and in each removes one plain member and adds another. Returns how many
    /// it changed.
    pub fn change_communities(&self, count: usize) -> usize {
        self.shared.write().change_first(count)
    }

    /// Fails the requests whose path and query contain `matching` (`""`: every request) in
    /// the way `fault` says. Faults apply in the order added: the first match wins. They apply
    /// before the method check and authentication, never to `/__fake/`.
    pub fn fault(&self, matching: &str, fault: Fault) {
        self.shared.faults().push((matching.to_owned(), fault));
    }

    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Every request received so far, faulted and `/__fake/` ones too, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests().clone()
    }

    pub fn clear_requests(&self) {
        self.shared.requests().clear();
    }

    fn change(&self, uuid: &str, change: impl FnOnce(&mut model::Community)) {
        let changed = self.shared.write().change(uuid, change);
        changed.unwrap_or_else(|e| misuse(e));
    }
}

impl Drop for FakeConnections {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A test called a setup method wrongly: fail it with the reason.
#[track_caller]
fn misuse(message: String) -> ! {
    panic!("FakeConnections: {message}")
}
