//! The server side of ucsync (`ucsync serve`): the HTTP API with its administrators, tokens
//! and roles, and the schedules with the planner that decides when they are due. The SCIM
//! endpoint and the web console come here too.

pub mod api;
pub mod auth;
mod metrics;
pub mod openapi;
pub mod planner;
pub mod scheduler;
pub mod throttle;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};

pub use api::AppState;
pub use auth::Role;
pub use planner::{Clock, Due, ManualClock, Planner, SystemClock};
pub use ucsync_model::schedule::{Schedule, ScheduleError};

/// The address of the client a request came from (the TCP peer; forwarding headers are not
/// trusted), and the SHA-256 of the client certificate it showed, if any: over HTTPS with
/// `--tls-client-ca`, a certificate that CA signed. Handlers read it as
/// `ConnectInfo<ClientAddr>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr, pub Option<[u8; 32]>);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        ClientAddr(*stream.remote_addr(), None)
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        ClientAddr(*stream.remote_addr(), None)
    }
}

/// Plain HTTP: a TCP listener whose connections send what the server writes at once
/// ([`send_at_once`]).
pub struct PlainListener(pub tokio::net::TcpListener);

impl Listener for PlainListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        send_at_once(&stream);
        (stream, addr)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Turns Nagle's algorithm off on an accepted connection: the last, short segment of an answer
/// went out only once the client acknowledged the one before, and clients delay their
/// acknowledgements (up to 40 ms on Linux): a peer reading 100 pages of contacts waited a
/// third of its import on that.
pub(crate) fn send_at_once(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot turn off Nagle's algorithm on a connection: {e}");
    }
}

/// Serves the API on `listener` (plain TCP or [`tls::TlsListener`]), telling handlers each
/// client's address, and starts the scheduled runs, until `shutdown` completes. Then no new
/// run starts; requests in flight finish, and runs in progress stop after the batch they are
/// writing commits.
pub async fn serve<L>(
    listener: L,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
    ClientAddr: for<'a> Connected<IncomingStream<'a, L>>,
{
    let scheduler = tokio::spawn(scheduler::run(state.clone()));
    let stopping = state.clone();
    let signal = async move {
        shutdown.await;
        tracing::warn!("stopping: no new runs; runs in progress stop after their current batch");
        stopping.stop_runs().await;
    };
    let app = api::router(state.clone()).into_make_service_with_connect_info::<ClientAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    scheduler.abort();
    state.stop_runs().await;
    served
}
