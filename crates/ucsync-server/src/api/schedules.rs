//! Schedules over the API: create, read, update, delete, each shown with its next due times
//! and what became of its last slot.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use serde_json::{Value, json};
use ucsync_model::config::ScheduleConfig;
use ucsync_store::ScheduleState;

use super::config::{Item, change, create_item, put_item, section};
use super::{Answer, ApiError, AppState};
use crate::auth::Role;
use crate::openapi::Operation;
use crate::scheduler;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/schedules", get(list).post(create))
        .route(
            "/api/v1/schedules/{schedule}",
            get(show).put(put).delete(delete),
        )
}

/// How many next due times a schedule shows.
const NEXT: usize = 3;

fn view(name: &str, s: &ScheduleConfig, state: Option<&ScheduleState>, now: Timestamp) -> Value {
    let next: Vec<String> = match scheduler::parse(s) {
        Ok(schedule) if s.enabled => {
            let mut out = Vec::new();
            let mut t = now;
            while out.len() < NEXT {
                let Some(n) = schedule.next_after(t) else {
                    break;
                };
                out.push(n.to_zoned(schedule.time_zone().clone()).to_string());
                t = n;
            }
            out
        }
        _ => Vec::new(),
    };
    json!({
        "name": name,
        "enterprise": s.enterprise,
        "connector": s.connector,
        "profile": s.profile_name(),
        "when": s.when,
        "time_zone": s.time_zone.clone().unwrap_or_else(scheduler::server_zone_name),
        "enabled": s.enabled,
        "next_due": next,
        "last_slot": state.map(|s| s.last_slot.clone()),
        "last_run_id": state.and_then(|s| s.run_id),
        "last_note": state.and_then(|s| s.note.clone()),
    })
}

async fn states(st: &AppState) -> Result<Vec<ScheduleState>, ApiError> {
    st.store()
        .schedule_states()
        .await
        .map_err(ApiError::internal)
}

async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let states = states(&st).await?;
    let engine = st.engine();
    let now = st.clock.now();
    let list: Vec<Value> = engine
        .config()
        .schedules
        .iter()
        .map(|(name, s)| view(name, s, states.iter().find(|x| &x.name == name), now))
        .collect();
    Ok(Json(json!({ "schedules": list })))
}

async fn show(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let states = states(&st).await?;
    let engine = st.engine();
    let s = engine.config().schedules.get(&name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no schedule named \"{name}\""),
        )
    })?;
    Ok(Json(view(
        &name,
        s,
        states.iter().find(|x| x.name == name),
        st.clock.now(),
    )))
}

const SCHEDULE: Item = Item {
    what: "schedule",
    path: "/api/v1/schedules",
    exists: |config, name| config.schedules.contains_key(name),
    put: |_, table, _, name, body| {
        if let Some(schedules) = section(table, "schedules") {
            schedules.insert(name.to_owned(), toml::Value::Table(body));
        }
    },
};

async fn create(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    create_item(&st, &headers, SCHEDULE, body).await
}

async fn put(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    put_item(&st, &headers, SCHEDULE, name, body).await
}

async fn delete(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let by = st.require(&headers, Role::Admin).await?;
    let changes = change(&st, &by.name, |table, old| {
        if !old.schedules.contains_key(&name) {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no schedule named \"{name}\""),
            ));
        }
        if let Some(schedules) = section(table, "schedules") {
            schedules.remove(&name);
        }
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "changes": changes })))
}

/// The schedules' operations, for the OpenAPI document and the authorization test.
pub fn operations() -> Vec<Operation> {
    let body = json!({
        "type": "object",
        "required": ["when"],
        "properties": {
            "name": { "type": "string" },
            "enterprise": { "type": "string", "description": "runs Sync Now of this enterprise" },
            "connector": { "type": "string", "description": "runs profile on this connector" },
            "profile": { "type": "string" },
            "when": { "type": "string", "description": "daily at 02:00 | every 3 days at 2:30 AM from 2026-01-05 | cron 0 2 * * *" },
            "time_zone": { "type": "string", "description": "IANA name; the server's when absent" },
            "enabled": { "type": "boolean" },
        },
        "example": { "name": "nightly", "enterprise": "default", "when": "daily at 02:00" },
    });
    vec![
        Operation::new(
            "get",
            "/api/v1/schedules",
            Some("viewer"),
            "Schedules with their next due times and what became of their last slot",
        ),
        Operation {
            body: Some(body.clone()),
            ..Operation::new(
                "post",
                "/api/v1/schedules",
                Some("admin"),
                "Creates a schedule: 201, 409 if the name is taken, or 422 with every problem",
            )
        },
        Operation::new(
            "get",
            "/api/v1/schedules/{schedule}",
            Some("viewer"),
            "One schedule with its next due times",
        ),
        Operation {
            body: Some(body),
            ..Operation::new(
                "put",
                "/api/v1/schedules/{schedule}",
                Some("admin"),
                "Creates or replaces a schedule (enable or disable it with \"enabled\")",
            )
        },
        Operation::new(
            "delete",
            "/api/v1/schedules/{schedule}",
            Some("admin"),
            "Removes a schedule",
        ),
    ]
}
