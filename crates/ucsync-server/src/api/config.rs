//! The configuration over the API: connectors and schedules (create, read, update, delete),
//! checked exactly as `ucsync check` checks a file, with every problem named by its key; "test
//! connection"; and the whole configuration as TOML, secrets left out.
//!
//! A change is made on the configuration as a TOML table, so that an unknown key in a request
//! is found and named as it would be in a file. It is stored, and the engine is rebuilt, only
//! when the whole configuration is valid; a run in progress keeps the engine it started with.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use ucsync_engine::Engine;
use ucsync_model::Config;
use ucsync_model::config::{self, ConfigError, ConfigProblem};

use super::{Answer, ApiError, AppState};
use crate::auth::Role;
use crate::openapi::Operation;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/config", get(export).put(apply))
        .route(
            "/api/v1/connectors",
            get(super::connectors::list).post(create_connector),
        )
        .route(
            "/api/v1/connectors/{connector}",
            get(super::connectors::show)
                .put(put_connector)
                .delete(super::connectors::delete),
        )
        .route("/api/v1/connectors/{connector}/test", post(test_connector))
        .route(
            "/api/v1/connectors/{connector}/errors",
            get(super::connectors::errors),
        )
        .merge(super::schedules::routes())
}

/// `422` with every problem found, each with its key path.
pub(crate) fn invalid(problems: Vec<ConfigProblem>) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "the configuration would have {} problem(s); nothing was changed",
            problems.len()
        ),
    );
    e.problems = Some(json!(problems));
    e
}

pub(crate) fn not_found(what: &str, name: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no {what} named \"{name}\""))
}

/// Applies `edit` to the configuration for administrator `by` and, when the result is valid,
/// stores it, records it in the audit and rebuilds the engine. Returns what changed.
pub(crate) async fn change(
    st: &Arc<AppState>,
    by: &str,
    edit: impl FnOnce(&mut toml::Table, &Config) -> Result<(), ApiError>,
) -> Result<Vec<String>, ApiError> {
    let _one_at_a_time = st.config_lock.lock().await;
    let engine = st.engine();
    let old = engine.config();
    let mut table = toml::Table::try_from(old).map_err(ApiError::internal)?;
    edit(&mut table, old)?;
    let text = toml::to_string(&table).map_err(ApiError::internal)?;
    commit(st, by, old, &text).await
}

async fn commit(
    st: &Arc<AppState>,
    by: &str,
    old: &Config,
    text: &str,
) -> Result<Vec<String>, ApiError> {
    let factory = st.factory.as_ref();
    let mut new = match config::parse(text, factory) {
        Ok(c) => c,
        Err(ConfigError::Invalid(problems)) => return Err(invalid(problems)),
        Err(e) => return Err(ApiError::internal(e)),
    };
    if new.base_dir.is_none() {
        new.base_dir = old.base_dir.clone();
    }
    config::restore_secrets(&mut new, old, factory);
    let connectors = config::build_all(&new, factory).map_err(invalid)?;
    let stored = config::to_text(&new).map_err(ApiError::internal)?;
    let store = st.store();
    // A connector left out goes whole (`DELETE /api/v1/connectors/NAME`) or not at all.
    ucsync_engine::connectors_left_out(store.as_ref(), &new, true)
        .await
        .map_err(|e| match e {
            ucsync_engine::EngineError::Usage(m) => ApiError::new(StatusCode::CONFLICT, m),
            other => ApiError::internal(other),
        })?;
    store
        .put_config_text(&stored)
        .await
        .map_err(ApiError::internal)?;
    let changes = config::changes(old, &new);
    for line in &changes {
        tracing::info!(%by, "configuration: {line}");
    }
    if !changes.is_empty() {
        // Names of what changed and of its keys, never a value: no secret.
        st.audit(
            by,
            "config-applied",
            "configuration",
            Some(changes.join("; ")),
        )
        .await;
    }
    st.set_engine(Arc::new(Engine::new(store, new, connectors)));
    Ok(changes)
}

/// A request body as a TOML value; JSON `null` means "absent".
pub(crate) fn body_to_toml(body: Value, at: &str) -> Result<toml::Table, ApiError> {
    fn drop_nulls(v: Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, drop_nulls(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(drop_nulls).collect()),
            other => other,
        }
    }
    match toml::Value::try_from(drop_nulls(body)) {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Err(invalid(vec![ConfigProblem::new(at, "send a JSON object")])),
        Err(e) => Err(invalid(vec![ConfigProblem::new(at, e.to_string())])),
    }
}

/// The `name` of a create request, taken out of its body.
pub(crate) fn take_name(body: &mut toml::Table, what: &str) -> Result<String, ApiError> {
    match body.remove("name") {
        Some(toml::Value::String(name)) => Ok(name),
        _ => Err(invalid(vec![ConfigProblem::new(
            "name",
            format!("give the new {what}'s name as \"name\""),
        )])),
    }
}

/// The table at `key` of `table`, made if missing (or if it was not a table).
pub(crate) fn section<'t>(table: &'t mut toml::Table, key: &str) -> Option<&'t mut toml::Table> {
    if !table.get(key).is_some_and(toml::Value::is_table) {
        table.insert(key.to_owned(), toml::Value::Table(toml::Table::new()));
    }
    table.get_mut(key).and_then(toml::Value::as_table_mut)
}

async fn export(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let engine = st.engine();
    let (redacted, notes) = config::redact_secrets(engine.config(), st.factory.as_ref());
    let text = config::to_text(&redacted).map_err(ApiError::internal)?;
    Ok(Json(json!({ "toml": text, "notes": notes })))
}

/// Replaces the whole configuration with the TOML in the body.
async fn apply(State(st): State<Arc<AppState>>, headers: HeaderMap, body: String) -> Answer {
    let by = st.require(&headers, Role::Admin).await?;
    let _one_at_a_time = st.config_lock.lock().await;
    let engine = st.engine();
    let changes = commit(&st, &by.name, engine.config(), &body).await?;
    Ok(Json(json!({ "changes": changes })))
}

/// A connector as the API shows it: its configuration without secrets.
pub(crate) fn connector_view(
    st: &AppState,
    name: &str,
    c: &ucsync_model::config::ConnectorConfig,
) -> Value {
    let (settings, secrets_set) =
        config::without_secrets(&c.kind, &c.settings, st.factory.as_ref());
    json!({
        "name": name,
        "kind": c.kind,
        "enterprise": c.enterprise,
        "settings": settings,
        "secrets_set": secrets_set,
        "rules": c.rules,
        "character_rule": c.character_rule,
    })
}

/// What the create and update handlers of a named item (connector, schedule) need: its name
/// in messages, its path in the API, whether the configuration has one of that name, and how
/// it is put into the configuration table.
pub(crate) struct Item {
    pub what: &'static str,
    pub path: &'static str,
    pub exists: fn(&Config, &str) -> bool,
    pub put: fn(&AppState, &mut toml::Table, &Config, &str, toml::Table),
}

/// `POST`: the body names the new item; `409` when the name is taken.
pub(crate) async fn create_item(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    item: Item,
    body: Value,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(headers, Role::Admin).await?;
    let mut body = body_to_toml(body, "")?;
    let name = take_name(&mut body, item.what)?;
    let changes = change(st, &by.name, |table, old| {
        if (item.exists)(old, &name) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{} {name} exists; change it with PUT {}/{name}",
                    item.what, item.path
                ),
            ));
        }
        (item.put)(st, table, old, &name, body);
        Ok(())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "changes": changes }))))
}

/// `PUT`: creates or replaces item `name` (`201` or `200`); the body may repeat the name but
/// not name another, since items are not renamed.
pub(crate) async fn put_item(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    item: Item,
    name: String,
    body: Value,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(headers, Role::Admin).await?;
    let mut body = body_to_toml(body, "")?;
    if let Some(other) = body.remove("name").filter(|n| n.as_str() != Some(&name)) {
        return Err(invalid(vec![ConfigProblem::new(
            "name",
            format!(
                "the body names {other}, the path {name}; a {} is not renamed, create a new one instead",
                item.what
            ),
        )]));
    }
    let mut existed = false;
    let changes = change(st, &by.name, |table, old| {
        existed = (item.exists)(old, &name);
        (item.put)(st, table, old, &name, body);
        Ok(())
    })
    .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!({ "changes": changes }))))
}

const CONNECTOR: Item = Item {
    what: "connector",
    path: "/api/v1/connectors",
    exists: |config, name| config.connectors.contains_key(name),
    put: put_connector_table,
};

async fn create_connector(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_item(&st, &headers, CONNECTOR, body).await
}

async fn put_connector(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    put_item(&st, &headers, CONNECTOR, name, body).await
}

/// Puts connector `name` in the configuration table. Secrets its settings leave out are kept
/// from the connector it replaces; a new connector joins the end of its enterprise's sync
/// order when that enterprise lists one.
fn put_connector_table(
    st: &AppState,
    table: &mut toml::Table,
    old: &Config,
    name: &str,
    mut body: toml::Table,
) {
    // Read-only: the last runs, the outstanding errors and the schedules a GET shows beside
    // the configuration.
    for key in ["last", "outstanding_errors", "schedules"] {
        body.remove(key);
    }
    if let Some(before) = old.connectors.get(name) {
        let kind = body
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or(&before.kind)
            .to_owned();
        if let Some(toml::Value::Table(settings)) = body.get_mut("settings") {
            config::keep_secrets(&kind, settings, &before.settings, st.factory.as_ref());
        }
    }
    let enterprise = body
        .get("enterprise")
        .and_then(|e| e.as_str())
        .unwrap_or(config::DEFAULT_ENTERPRISE)
        .to_owned();
    if let Some(connectors) = section(table, "connectors") {
        connectors.insert(name.to_owned(), toml::Value::Table(body));
    }
    let listed = old.enterprise(&enterprise).sync_order;
    if !listed.is_empty()
        && !listed.iter().any(|n| n == name)
        && let Some(e) = section(table, "enterprises").and_then(|es| section(es, &enterprise))
        && let Some(toml::Value::Array(order)) = e.get_mut("sync_order")
    {
        order.push(toml::Value::String(name.to_owned()));
    }
}

/// Connects and binds (or opens the file) with the connector's settings, and says how it went.
async fn test_connector(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    st.require(&headers, Role::Operator).await?;
    let engine = st.engine();
    let config = engine.config();
    let c = config
        .connectors
        .get(&name)
        .ok_or_else(|| not_found("connector", &name))?;
    let base = std::path::Path::new(config.base_dir.as_deref().unwrap_or("."));
    let connector = st
        .factory
        .build(&name, &c.kind, &c.settings, base)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let began = std::time::Instant::now();
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        connector.check_connection(),
    )
    .await;
    let seconds = began.elapsed().as_secs_f64();
    Ok(Json(match result {
        Ok(Ok(())) => json!({ "connector": name, "ok": true, "seconds": seconds }),
        Ok(Err(e)) => {
            json!({ "connector": name, "ok": false, "error": e.to_string(), "seconds": seconds })
        }
        Err(_) => json!({
            "connector": name,
            "ok": false,
            "error": "no answer within 30 s; check the host, port and firewall",
            "seconds": seconds,
        }),
    }))
}

/// The configuration's operations, for the OpenAPI document and the authorization test.
pub fn operations() -> Vec<Operation> {
    let connector_body = json!({
        "type": "object",
        "required": ["kind"],
        "properties": {
            "name": { "type": "string" },
            "kind": { "type": "string" },
            "enterprise": { "type": "string" },
            "settings": { "type": "object", "description": "kind-specific; secrets are write-only" },
            "rules": { "type": "object" },
            "character_rule": { "type": "boolean" },
        },
        "example": {
            "name": "extra",
            "kind": "csv",
            "settings": { "path": "extra.csv", "key": ["id"] },
            "rules": { "projection": { "person": "person" }, "import_flows": { "uid": "id" } },
        },
    });
    vec![
        Operation::new(
            "get",
            "/api/v1/config",
            Some("viewer"),
            "The whole configuration as TOML, secrets replaced by environment variables (as `ucsync config export`)",
        ),
        Operation {
            body: Some(json!({
                "type": "string",
                "description": "TOML, as in ucsync.toml",
                "example": "version = 1\n",
            })),
            ..Operation::new(
                "put",
                "/api/v1/config",
                Some("admin"),
                "Replaces the whole configuration with TOML; 422 with every problem by key path; 409 when it leaves out a connector whose staging space still holds objects (delete that one with DELETE /api/v1/connectors/{connector} first); else what changed",
            )
        },
        Operation::new(
            "get",
            "/api/v1/connectors",
            Some("viewer"),
            "Connectors with their configuration (secrets are never shown), their last import, sync and export, outstanding_errors: how many per-object errors are outstanding, and schedules: the schedules that run each (by) and the one its kind is meant to run on (offered)",
        ),
        Operation {
            body: Some(connector_body.clone()),
            ..Operation::new(
                "post",
                "/api/v1/connectors",
                Some("admin"),
                "Creates a connector: 201, 409 if the name is taken, or 422 with the problems `ucsync check` finds, per key",
            )
        },
        Operation::new(
            "get",
            "/api/v1/connectors/{connector}",
            Some("viewer"),
            "One connector's configuration (secrets left out; their names in secrets_set)",
        ),
        Operation {
            body: Some(connector_body),
            ..Operation::new(
                "put",
                "/api/v1/connectors/{connector}",
                Some("admin"),
                "Creates or replaces a connector; secrets left out of settings are kept",
            )
        },
        Operation::new(
            "delete",
            "/api/v1/connectors/{connector}",
            Some("admin"),
            "Deletes a connector: the entries it owns (and only those), its links and staging space, then takes it out of the configuration. ?preview=true reports what it would delete; over the deletion threshold it answers 409 unless ?allow_deletes=N; 409 too while a schedule names it or its enterprise runs",
        ),
        Operation::new(
            "post",
            "/api/v1/connectors/{connector}/test",
            Some("operator"),
            "Test connection: connects (and binds) with the connector's settings and says how it went",
        ),
        Operation::new(
            "get",
            "/api/v1/connectors/{connector}/errors",
            Some("viewer"),
            "A connector's outstanding per-object errors: each object a step (import, sync, export) rejected and no run has fixed since, with its name (key, DN), line for files, message and the first and last runs that reported it. The connector's outstanding_errors counts them",
        ),
    ]
}
