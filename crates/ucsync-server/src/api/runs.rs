//! Runs: list, detail, outcomes; starting a profile on a connector and Sync Now for an
//! enterprise, one run at a time per enterprise.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use ucsync_engine::{NoProgress, Profile, RunOptions};

use super::{Answer, ApiError, AppState, Start};
use crate::auth::Role;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/enterprises/{enterprise}/sync-now", post(sync_now))
        .route("/api/v1/connectors/{connector}/runs", post(connector_run))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/runs/{id}/outcomes", get(outcomes))
}

#[derive(serde::Deserialize)]
struct Limit {
    limit: Option<i64>,
}

async fn runs(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Limit>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let list = st
        .store()
        .runs(q.limit.unwrap_or(50).clamp(1, 1000))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "runs": list })))
}

async fn run(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let store = st.store();
    let run = store
        .run(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no run {id}")))?;
    let steps = store.child_runs(id).await.map_err(ApiError::internal)?;
    let mut body = serde_json::to_value(run).map_err(ApiError::internal)?;
    body["steps"] = serde_json::to_value(steps).map_err(ApiError::internal)?;
    Ok(Json(body))
}

async fn outcomes(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let store = st.store();
    if store.run(id).await.map_err(ApiError::internal)?.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no run {id}")));
    }
    let list = store.outcomes(id).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "run_id": id, "outcomes": list })))
}

/// `?preview=true` reports what the run would change and commits nothing (answered at once,
/// `200` with the report); `?allow_deletes=N` lifts the deletion threshold for this run (admin).
#[derive(serde::Deserialize, Default)]
pub(super) struct RunQuery {
    #[serde(default)]
    preview: bool,
    allow_deletes: Option<u64>,
}

impl RunQuery {
    /// The role the request needs.
    fn role(&self) -> Role {
        // Lifting the deletion threshold overrides the safety net: administrators only.
        if self.allow_deletes.is_some() {
            Role::Admin
        } else {
            Role::Operator
        }
    }
}

async fn sync_now(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(enterprise): Path<String>,
    Query(query): Query<RunQuery>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(&headers, query.role()).await?;
    if !st
        .engine()
        .config()
        .enterprise_names()
        .contains(&enterprise)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no enterprise named \"{enterprise}\""),
        ));
    }
    start(&st, enterprise, None, query, by.name).await
}

#[derive(serde::Deserialize)]
struct RunRequest {
    profile: String,
}

async fn connector_run(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(connector): Path<String>,
    Query(query): Query<RunQuery>,
    Json(body): Json<RunRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(&headers, query.role()).await?;
    let enterprise = st
        .engine()
        .config()
        .connectors
        .get(&connector)
        .map(|c| c.enterprise.clone())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no connector named \"{connector}\""),
            )
        })?;
    let profile: Profile = body
        .profile
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    if profile == Profile::SyncNow {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "sync-now runs a whole enterprise: POST /api/v1/enterprises/{enterprise}/sync-now"
            ),
        ));
    }
    start(&st, enterprise, Some((connector, profile)), query, by.name).await
}

/// A preview: run at once in a session of its own, which sees the committed state and
/// commits nothing, so it needs no free enterprise (a run in progress goes on, waiting for the
/// preview's few seconds where it writes).
async fn preview(
    st: &Arc<AppState>,
    enterprise: String,
    connector: Option<(String, Profile)>,
    started_by: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if st.stop.requested() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down; preview after the restart",
        ));
    }
    let options = RunOptions {
        preview: true,
        allow_deletes: None,
        status_dir: st.status_dir.clone(),
        progress: Arc::new(NoProgress),
        sync_batch: None,
        look_up_from: None,
        export_batch: None,
        started: None,
        stop: st.stop.clone(),
        started_by,
    };
    let engine = st.engine();
    let report = match &connector {
        None => engine.sync_now(&enterprise, &options).await,
        Some((name, profile)) => engine.run_profile(name, *profile, &options).await,
    }
    .map_err(ApiError::internal)?;
    let report = serde_json::to_value(&report).map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        Json(json!({ "preview": true, "report": report })),
    ))
}

/// Starts a run in the background and answers `202` with its id once it is recorded, or
/// `409` with the id of the run already in progress for the enterprise.
async fn start(
    st: &Arc<AppState>,
    enterprise: String,
    connector: Option<(String, Profile)>,
    query: RunQuery,
    started_by: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if query.preview {
        if query.allow_deletes.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a preview shows where the deletion threshold stops a run; leave out allow_deletes",
            ));
        }
        return preview(st, enterprise, connector, started_by).await;
    }
    match start_run(
        st,
        enterprise.clone(),
        connector,
        query.allow_deletes,
        started_by,
    )
    .await
    {
        Ok(id) => Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": id })))),
        Err(StartError::Busy(run_id)) => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                format!("a run of enterprise {enterprise} is in progress; wait until it ends"),
            );
            e.run_id = run_id;
            Err(e)
        }
        Err(StartError::Stopping) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down and starts no new run; start it again after the restart",
        )),
        Err(StartError::Failed(message)) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message))
        }
    }
}

/// Why a run did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartError {
    /// A run of the enterprise is in progress (its id, once recorded).
    Busy(Option<i64>),
    /// The server is shutting down.
    Stopping,
    /// The run failed before it was recorded.
    Failed(String),
}

/// Starts Sync Now of `enterprise` (or `connector`'s profile) in the background for
/// `started_by` (an administrator's name, or `scheduler`); the run's id once the engine has
/// recorded it (with who started it, in the run and in the audit).
pub(crate) async fn start_run(
    st: &Arc<AppState>,
    enterprise: String,
    connector: Option<(String, Profile)>,
    allow_deletes: Option<u64>,
    started_by: String,
) -> Result<i64, StartError> {
    if st.stop.requested() {
        return Err(StartError::Stopping);
    }
    let (tx, mut rx) = watch::channel(Start::Pending);
    let other = {
        let mut running = st.running();
        match running.get(&enterprise) {
            Some(other) => Some(other.clone()),
            None => {
                running.insert(enterprise.clone(), rx.clone());
                None
            }
        }
    };
    if let Some(mut other) = other {
        return Err(StartError::Busy(match started(&mut other).await {
            Start::Started(id) => Some(id),
            _ => None,
        }));
    }
    let task_state = st.clone();
    let task = tokio::spawn(async move {
        // The enterprise is free again however the task ends.
        let _free = Release {
            state: task_state.clone(),
            enterprise: enterprise.clone(),
        };
        let tx = Arc::new(tx);
        let on_start = tx.clone();
        let options = RunOptions {
            preview: false,
            allow_deletes,
            status_dir: task_state.status_dir.clone(),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            look_up_from: None,
            export_batch: None,
            started: Some(Arc::new(move |id| {
                let _ = on_start.send(Start::Started(id));
            })),
            stop: task_state.stop.clone(),
            started_by,
        };
        let engine = task_state.engine();
        let run_enterprise = enterprise.clone();
        // The run on a task of its own, so that even a panic in it ends the run with a status.
        let run = tokio::spawn(async move {
            match &connector {
                None => engine.sync_now(&run_enterprise, &options).await,
                Some((name, profile)) => engine.run_profile(name, *profile, &options).await,
            }
        });
        let error = match run.await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => {
                let message =
                    format!("the run stopped on an internal error ({e}); please report it");
                let started = match &*tx.borrow() {
                    Start::Started(id) => Some(*id),
                    _ => None,
                };
                if let Some(id) = started {
                    let ended_at = jiff::Timestamp::now().to_string();
                    let _ = task_state
                        .store()
                        .end_unfinished_runs(Some(id), "failed", &ended_at, &message)
                        .await;
                }
                Some(message)
            }
        };
        if let Some(e) = error {
            tracing::warn!(%enterprise, "run failed: {e}");
            tx.send_if_modified(|s| match s {
                Start::Pending => {
                    *s = Start::Failed(e);
                    true
                }
                _ => false,
            });
        }
    });
    st.track(task);
    match started(&mut rx).await {
        Start::Started(id) => Ok(id),
        Start::Failed(message) => Err(StartError::Failed(message)),
        Start::Pending => Err(StartError::Failed(
            "the run stopped before it was recorded".to_owned(),
        )),
    }
}

/// Holds `enterprise` for work started here rather than through [`start_run`] (deleting a
/// connector): no run starts for it until the returned guard is dropped. Tell the sender the
/// run's id once it is recorded, so a refused start can name it.
pub(crate) fn claim(
    st: &Arc<AppState>,
    enterprise: &str,
) -> Result<(Release, watch::Sender<Start>), StartError> {
    if st.stop.requested() {
        return Err(StartError::Stopping);
    }
    let (tx, rx) = watch::channel(Start::Pending);
    let mut running = st.running();
    if let Some(other) = running.get(enterprise) {
        return Err(StartError::Busy(match &*other.borrow() {
            Start::Started(id) => Some(*id),
            _ => None,
        }));
    }
    running.insert(enterprise.to_owned(), rx);
    Ok((
        Release {
            state: st.clone(),
            enterprise: enterprise.to_owned(),
        },
        tx,
    ))
}

/// Frees an enterprise for the next run when dropped.
pub(crate) struct Release {
    state: Arc<AppState>,
    enterprise: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.state.running().remove(&self.enterprise);
    }
}

/// Waits until a run is recorded (or failed before).
async fn started(rx: &mut watch::Receiver<Start>) -> Start {
    let _ = rx.wait_for(|s| !matches!(s, Start::Pending)).await;
    rx.borrow().clone()
}
