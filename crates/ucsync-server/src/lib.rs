//! The server side of ucsync (`ucsync serve`): the HTTP API with its administrators, tokens
//! and roles, and the schedules with the planner that decides when they are due. The SCIM
//! endpoint and the web console come here too.

pub mod api;
pub mod auth;
mod metrics;
pub mod openapi;
pub mod planner;
pub mod scheduler;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

pub use api::AppState;
pub use auth::Role;
pub use planner::{Clock, Due, ManualClock, Planner, SystemClock};
pub use ucsync_model::schedule::{Schedule, ScheduleError};

/// Serves the API on `listener` (plain TCP or [`tls::TlsListener`]), and starts the scheduled
/// runs, until `shutdown` completes. Then no new run starts; requests in flight finish, and
/// runs in progress stop after the batch they are writing commits.
pub async fn serve<L>(
    listener: L,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let scheduler = tokio::spawn(scheduler::run(state.clone()));
    let stopping = state.clone();
    let signal = async move {
        shutdown.await;
        tracing::warn!("stopping: no new runs; runs in progress stop after their current batch");
        stopping.stop_runs().await;
    };
    let served = axum::serve(listener, api::router(state.clone()))
        .with_graceful_shutdown(signal)
        .await;
    scheduler.abort();
    state.stop_runs().await;
    served
}
