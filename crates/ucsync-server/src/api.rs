//! The HTTP API under `/api/v1`, JSON in and out. Every endpoint but `/healthz` needs a bearer
//! token; reads need the viewer role, runs and Sync Now the operator role.
//!
//! One run at a time per enterprise (so never two runs of one connector): a request to start
//! another answers `409` with the id of the run in progress.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use ucsync_engine::{Engine, NoProgress, Profile, RunOptions};
use ucsync_store::{AdminRow, Store};

use crate::auth::{self, Role, Throttle};

/// What the API serves from.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub status_dir: PathBuf,
    throttle: Throttle,
    /// The run in progress per enterprise, known once its record exists.
    running: Mutex<HashMap<String, watch::Receiver<Start>>>,
}

#[derive(Clone, Debug)]
enum Start {
    Pending,
    Started(i64),
    Failed(String),
}

impl AppState {
    pub fn new(engine: Arc<Engine>, status_dir: PathBuf) -> Arc<Self> {
        Arc::new(AppState {
            engine,
            status_dir,
            throttle: Throttle::default(),
            running: Mutex::new(HashMap::new()),
        })
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<Start>>> {
        match self.running.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The administrator behind the request's bearer token, if their role is at least `need`.
    async fn require(&self, headers: &HeaderMap, need: Role) -> Result<AdminRow, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "send an API token as \"Authorization: Bearer <token>\" (POST /api/v1/login or `ucsync admin token` gives one)",
                )
            })?;
        let admin = self
            .store()
            .admin_by_token(&auth::token_hash(token.trim()))
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "the API token is not valid"))?;
        let role = Role::parse(&admin.role).unwrap_or(Role::Viewer);
        if role < need {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} has the {} role; this needs {}",
                    admin.name,
                    role.as_str(),
                    need.as_str()
                ),
            ));
        }
        Ok(admin)
    }
}

/// An error answer: `{"error": "...", "run_id": N}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    run_id: Option<i64>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            run_id: None,
            retry_after: None,
        }
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("{e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(id) = self.run_id {
            body["run_id"] = json!(id);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

type Answer = Result<Json<Value>, ApiError>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/login", post(login))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/enterprises", get(enterprises))
        .route("/api/v1/enterprises/{enterprise}/sync-now", post(sync_now))
        .route("/api/v1/connectors", get(connectors))
        .route("/api/v1/connectors/{connector}/runs", post(connector_run))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/runs/{id}/outcomes", get(outcomes))
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    Ok(Json(crate::openapi::document()))
}

#[derive(serde::Deserialize)]
struct Login {
    name: String,
    password: String,
}

async fn login(State(st): State<Arc<AppState>>, Json(body): Json<Login>) -> Answer {
    if let Some(wait) = st.throttle.wait(&body.name) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins for this name; wait before trying again",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        return Err(e);
    }
    let admin = st
        .store()
        .admin(&body.name)
        .await
        .map_err(ApiError::internal)?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let password = body.password;
    // argon2 takes tens of milliseconds on purpose: off the async workers.
    let ok = tokio::task::spawn_blocking(move || {
        hash.is_some_and(|h| auth::verify_password(&password, &h))
    })
    .await
    .unwrap_or(false);
    let Some(admin) = admin.filter(|_| ok) else {
        st.throttle.failed(&body.name);
        tracing::warn!(name = %body.name, "failed login");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password",
        ));
    };
    st.throttle.succeeded(&body.name);
    let token = auth::new_token().map_err(ApiError::internal)?;
    st.store()
        .add_token(admin.id, &auth::token_hash(&token), "login")
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "token": token, "role": admin.role })))
}

async fn enterprises(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let config = st.engine.config();
    let list: Vec<Value> = config
        .enterprise_names()
        .iter()
        .map(|name| {
            let order = config
                .enterprises
                .get(name)
                .map(|e| e.sync_order.clone())
                .unwrap_or_default();
            json!({ "name": name, "sync_order": order })
        })
        .collect();
    Ok(Json(json!({ "enterprises": list })))
}

async fn connectors(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    // Settings are left out: they hold secrets.
    let list: Vec<Value> = st
        .engine
        .config()
        .connectors
        .iter()
        .map(|(name, c)| json!({ "name": name, "kind": c.kind, "enterprise": c.enterprise }))
        .collect();
    Ok(Json(json!({ "connectors": list })))
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

async fn sync_now(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(enterprise): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    st.require(&headers, Role::Operator).await?;
    if !st.engine.config().enterprise_names().contains(&enterprise) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no enterprise named \"{enterprise}\""),
        ));
    }
    start(&st, enterprise, None).await
}

#[derive(serde::Deserialize)]
struct RunRequest {
    profile: String,
}

async fn connector_run(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(connector): Path<String>,
    Json(body): Json<RunRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    st.require(&headers, Role::Operator).await?;
    let enterprise = st
        .engine
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
    start(&st, enterprise, Some((connector, profile))).await
}

/// Starts a run in the background and answers `202` with its id once it is recorded, or
/// `409` with the id of the run already in progress for the enterprise.
async fn start(
    st: &Arc<AppState>,
    enterprise: String,
    connector: Option<(String, Profile)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            format!("a run of enterprise {enterprise} is in progress; wait until it ends"),
        );
        e.run_id = match started(&mut other).await {
            Start::Started(id) => Some(id),
            _ => None,
        };
        return Err(e);
    }
    let task_state = st.clone();
    tokio::spawn(async move {
        // The enterprise is free again however the task ends.
        let _free = Release {
            state: task_state.clone(),
            enterprise: enterprise.clone(),
        };
        let tx = Arc::new(tx);
        let on_start = tx.clone();
        let options = RunOptions {
            preview: false,
            allow_deletes: None,
            status_dir: task_state.status_dir.clone(),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            started: Some(Arc::new(move |id| {
                let _ = on_start.send(Start::Started(id));
            })),
        };
        let engine = &task_state.engine;
        let result = match &connector {
            None => engine.sync_now(&enterprise, &options).await,
            Some((name, profile)) => engine.run_profile(name, *profile, &options).await,
        };
        if let Err(e) = result {
            tracing::warn!(%enterprise, "run failed: {e}");
            tx.send_if_modified(|s| match s {
                Start::Pending => {
                    *s = Start::Failed(e.to_string());
                    true
                }
                _ => false,
            });
        }
    });
    match started(&mut rx).await {
        Start::Started(id) => Ok((StatusCode::ACCEPTED, Json(json!({ "run_id": id })))),
        Start::Failed(message) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)),
        Start::Pending => Err(ApiError::internal("the run stopped before it was recorded")),
    }
}

/// Frees an enterprise for the next run when dropped.
struct Release {
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
