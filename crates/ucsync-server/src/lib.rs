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
