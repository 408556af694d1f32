//! The HTTP API under `/api/v1`, JSON in and out. Every endpoint but `/healthz` needs a bearer
//! token; reads need the viewer role, runs and Sync Now the operator role.
//!
//! One run at a time per enterprise (so never two runs of one connector): a request to start
//! another answers `409` with the id of the run in progress.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use ucsync_engine::{Engine, Stop};
use ucsync_model::ConnectorFactory;
use ucsync_store::{AdminRow, Store};

use crate::ClientAddr;
use crate::auth::{self, Role};
use crate::planner::Clock;
use crate::throttle::{Limit, Throttle};

pub(crate) mod account;
pub(crate) mod admins;
pub(crate) mod config;
pub mod connectors;
pub(crate) mod peer;
pub(crate) mod read;
pub(crate) mod runs;
pub(crate) mod schedules;

/// What the API serves from.
pub struct AppState {
    /// The engine of the current configuration; replaced whole when the configuration
    /// changes (a run in progress keeps the one it started with).
    engine: RwLock<Arc<Engine>>,
    /// Builds and checks connectors of every kind this build knows.
    pub(crate) factory: Arc<dyn ConnectorFactory>,
    pub status_dir: PathBuf,
    /// Where the scheduler and the schedules' next due times read the time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Held while the configuration is being changed, so changes apply one after the other.
    pub(crate) config_lock: tokio::sync::Mutex<()>,
    /// Held while administrators are changed, so that two changes at once cannot together
    /// leave no administrator with the admin role.
    pub(crate) admins_lock: tokio::sync::Mutex<()>,
    /// Told when the configuration changed (the scheduler reloads its schedules).
    pub(crate) config_changed: tokio::sync::Notify,
    /// Requested when the server is shutting down: no new run starts, and runs in progress
    /// stop after their current batch commits.
    pub(crate) stop: Stop,
    /// The tasks of runs started here, awaited at shutdown.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    throttle: Throttle,
    /// The run in progress per enterprise, known once its record exists.
    running: Mutex<HashMap<String, watch::Receiver<Start>>>,
}

#[derive(Clone, Debug)]
pub(crate) enum Start {
    Pending,
    Started(i64),
    Failed(String),
}

impl AppState {
    pub fn new(
        engine: Arc<Engine>,
        factory: Arc<dyn ConnectorFactory>,
        status_dir: PathBuf,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(AppState {
            engine: RwLock::new(engine),
            factory,
            status_dir,
            clock,
            config_lock: tokio::sync::Mutex::new(()),
            admins_lock: tokio::sync::Mutex::new(()),
            config_changed: tokio::sync::Notify::new(),
            stop: Stop::default(),
            tasks: Mutex::new(Vec::new()),
            throttle: Throttle::default(),
            running: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn store(&self) -> Arc<dyn Store> {
        self.engine().store().clone()
    }

    /// Keeps a run's task so that shutdown waits for it.
    pub(crate) fn track(&self, task: tokio::task::JoinHandle<()>) {
        let mut tasks = match self.tasks.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Starts no new run, asks the runs in progress to stop after the batch they are writing,
    /// and waits for them to end.
    pub async fn stop_runs(&self) {
        self.stop.request();
        let tasks = {
            let mut tasks = match self.tasks.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::take(&mut *tasks)
        };
        for task in tasks {
            let _ = task.await;
        }
    }

    /// The engine of the current configuration.
    pub fn engine(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the engine after a configuration change.
    pub(crate) fn set_engine(&self, engine: Arc<Engine>) {
        match self.engine.write() {
            Ok(mut g) => *g = engine,
            Err(poisoned) => *poisoned.into_inner() = engine,
        }
        self.config_changed.notify_waiters();
    }

    pub(crate) fn running(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<Start>>> {
        match self.running.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records a change in the audit. The change is made by then: when the audit cannot take
    /// it, that is logged as an error and the answer still says what was done.
    pub(crate) async fn audit(&self, by: &str, action: &str, object: &str, detail: Option<String>) {
        let entry = ucsync_store::NewAudit {
            administrator: by.to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            detail,
        };
        if let Err(e) = self.store().add_audit(entry).await {
            tracing::error!(%by, action, object, "cannot record the change in the audit: {e}");
        }
    }

    /// The administrator behind the request's bearer token, if their role is at least `need`.
    /// The caller of the peer feed: a bearer token, as [`AppState::require`] takes it, else the
    /// client certificate the connection showed, registered for a peer
    /// (`ucsync admin certificate`).
    pub(crate) async fn require_peer(
        &self,
        headers: &HeaderMap,
        certificate: Option<[u8; 32]>,
    ) -> Result<AdminRow, ApiError> {
        let Some(fingerprint) =
            certificate.filter(|_| !headers.contains_key(header::AUTHORIZATION))
        else {
            return self.require(headers, Role::Peer).await;
        };
        let admin = self
            .store()
            .admin_by_token(&auth::certificate_key(&fingerprint))
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "the client certificate with SHA-256 {} is not registered for a peer of this server: register it with `ucsync admin certificate NAME FILE` here, or send a peer token",
                        auth::fingerprint_text(&fingerprint)
                    ),
                )
            })?;
        auth::check_certificate_holder(&admin)
            .map_err(|m| ApiError::new(StatusCode::FORBIDDEN, m))?;
        Ok(admin)
    }

    pub(crate) async fn require(
        &self,
        headers: &HeaderMap,
        need: Role,
    ) -> Result<AdminRow, ApiError> {
        let token = bearer(headers).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "send an API token as \"Authorization: Bearer <token>\" (POST /api/v1/login or `ucsync admin token` gives one)",
                )
            })?;
        let admin = self
            .store()
            .admin_by_token(&auth::token_hash(token))
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
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) run_id: Option<i64>,
    pub(crate) retry_after: Option<u64>,
    /// Configuration problems, each with its key path.
    pub(crate) problems: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            run_id: None,
            retry_after: None,
            problems: None,
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
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
        if let Some(problems) = self.problems {
            body["problems"] = problems;
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

pub(crate) type Answer = Result<Json<Value>, ApiError>;

/// The API token a request sends (`Authorization: Bearer …`), if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The API's routes. Serve them with the client's address as `ConnectInfo<ClientAddr>`
/// ([`crate::serve`] does): the login throttle counts by it.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/login", post(login))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/enterprises", get(enterprises))
        .merge(runs::routes())
        .merge(read::routes())
        .merge(account::routes())
        .merge(peer::routes())
        .merge(admins::routes())
        .merge(crate::metrics::routes())
        .merge(config::routes())
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

/// A new token for a name and password. An unknown name and a wrong password take as long
/// and get the same answer; failures slow down the client address they came from (see
/// [`crate::throttle`]), so nobody elsewhere can lock an administrator out.
async fn login(
    State(st): State<Arc<AppState>>,
    ConnectInfo(ClientAddr(client, _)): ConnectInfo<ClientAddr>,
    Json(body): Json<Login>,
) -> Answer {
    let address = client.ip();
    let attempt = st
        .throttle
        .attempt(&body.name, address)
        .map_err(|refused| {
            let secs = refused.retry_after();
            let message = match refused.limit {
                Limit::NameFromAddress => format!(
                    "too many failed logins for this name from {address}; try again in {secs} s"
                ),
                Limit::Address => {
                    format!("too many failed logins from {address}; try again in {secs} s")
                }
            };
            tracing::info!(name = ?shown(&body.name), %address, "login refused: {message}");
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message);
            e.retry_after = Some(secs);
            e
        })?;
    let admin = st
        .store()
        .admin(&body.name)
        .await
        .map_err(ApiError::internal)?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let password = body.password;
    // argon2 takes tens of milliseconds on purpose: off the async workers. An unknown name
    // is verified against a dummy hash, so that it takes as long.
    let ok = tokio::task::spawn_blocking(move || {
        auth::verify_password_or_dummy(&password, hash.as_deref())
    })
    .await
    .unwrap_or(false);
    let Some(admin) = admin.filter(|_| ok) else {
        st.throttle.failed(attempt);
        tracing::warn!(name = ?shown(&body.name), %address, "failed login");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong name or password",
        ));
    };
    st.throttle.succeeded(attempt);
    let token = auth::new_token().map_err(ApiError::internal)?;
    st.store()
        .add_token(admin.id, &auth::token_hash(&token), auth::LOGIN_LABEL)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "token": token, "role": admin.role })))
}

/// A name as sent, cut to 64 characters for the log (a name is not a secret, but it is
/// whatever the client sent).
fn shown(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

async fn enterprises(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    Ok(Json(enterprises_json(st.engine().config())))
}

/// The attribute that puts a directory entry in a folder (rules set it: a peer's contacts go in
/// one named after the peer with `folder = "peer"`).
pub const FOLDER: &str = "folder";

/// The directory's folders of one enterprise as `GET /api/v1/directory/folders` and `ucsync
/// directory folders` show them: each value of `folder` with how many entries hold it, by
/// name, and how many entries are in no folder.
pub async fn folders_json(
    store: &dyn ucsync_store::Store,
    enterprise_id: i64,
) -> ucsync_store::Result<Value> {
    let mut folders: std::collections::BTreeMap<String, u64> = Default::default();
    let mut without = 0u64;
    let mut after = 0;
    loop {
        let page = store.entries_page(enterprise_id, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            let names = e.attrs.get(FOLDER);
            if names.is_empty() {
                without += 1;
            }
            for name in names {
                *folders.entry(name.clone()).or_default() += 1;
            }
        }
    }
    let folders: Vec<Value> = folders
        .into_iter()
        .map(|(folder, entries)| json!({ "folder": folder, "entries": entries }))
        .collect();
    Ok(json!({ "folders": folders, "without_folder": without }))
}

/// The enterprises of `config` as `GET /api/v1/enterprises` and `ucsync enterprises` show them:
/// each one's name, ID (what a peer names to read it), sync order and connectors.
pub fn enterprises_json(config: &ucsync_model::config::Config) -> Value {
    let list: Vec<Value> = config
        .enterprise_names()
        .iter()
        .map(|name| {
            let e = config.enterprises.get(name);
            let connectors: Vec<&str> = config
                .connectors
                .iter()
                .filter(|(_, c)| c.enterprise == *name)
                .map(|(n, _)| n.as_str())
                .collect();
            json!({
                "name": name,
                "id": e.and_then(|e| e.id.clone()),
                "sync_order": e.map(|e| e.sync_order.clone()).unwrap_or_default(),
                "connectors": connectors,
            })
        })
        .collect();
    json!({ "enterprises": list })
}
