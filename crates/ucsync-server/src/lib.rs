//! The server side of ucsync (`ucsync serve`): the HTTP API with its administrators, tokens
//! and roles, and the schedules with the planner that decides when they are due. The SCIM
//! endpoint and the web console come here too.

pub mod api;
pub mod auth;
pub mod openapi;
pub mod planner;
pub mod schedule;

use std::future::Future;
use std::sync::Arc;

pub use api::AppState;
pub use auth::Role;
pub use planner::{Clock, Due, ManualClock, Planner, SystemClock};
pub use schedule::{Schedule, ScheduleError};

/// Serves the API on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
