//! Connectors as administrators look at them — configuration without secrets, and the last
//! import, sync and export of each (time, status, counters) — and deleting one together with
//! the entries it owns.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use ucsync_engine::{NoProgress, Profile, RunOptions, RunStatus};
use ucsync_store::{ErrorCount, RunRecord};

use super::config::{change, connector_view, not_found};
use super::runs::{StartError, claim};
use super::{Answer, ApiError, AppState, Start};
use crate::auth::Role;

/// A connector's last runs: `{"import": run, "sync": run, "export": run}`, each the latest of
/// its kind, alone or as a step of a sync-now; a kind never run is left out.
pub fn last_runs(name: &str, runs: &[RunRecord]) -> Value {
    let mut last: std::collections::BTreeMap<&str, &RunRecord> = Default::default();
    let mut good: std::collections::BTreeMap<&str, &RunRecord> = Default::default();
    for r in runs.iter().filter(|r| r.connector.as_deref() == Some(name)) {
        let kind = match r.profile.as_str() {
            "full-import" | "delta-import" => "import",
            "full-sync" | "delta-sync" => "sync",
            "export" => "export",
            _ => continue,
        };
        let later = |seen: Option<&&RunRecord>| seen.is_none_or(|s| s.id < r.id);
        if later(last.get(kind)) {
            last.insert(kind, r);
        }
        if r.status == "success" && later(good.get(kind)) {
            good.insert(kind, r);
        }
    }
    let mut out = serde_json::Map::new();
    for (kind, r) in last {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        // After a failure, when it last went well (a peer's version is in that run's message).
        if let Some(g) = good.get(kind).filter(|g| g.id != r.id) {
            v["last_success"] = serde_json::to_value(g).unwrap_or_default();
        }
        out.insert(kind.to_owned(), v);
    }
    Value::Object(out)
}

/// What runs a connector on a schedule: `{"by": [{"name", "when", "enabled"}], "offered": …}`,
/// the schedules that run it (by itself, or with its enterprise's Sync Now) and the schedule
/// its kind is meant to run on (a peer: every day at 2:00 AM), if it has one.
pub fn schedules(
    config: &ucsync_model::config::Config,
    factory: &dyn ucsync_model::ConnectorFactory,
    name: &str,
) -> Value {
    let Some(c) = config.connectors.get(name) else {
        return Value::Null;
    };
    let by: Vec<Value> = config
        .schedules
        .iter()
        .filter(|(_, s)| {
            s.connector.as_deref() == Some(name) || s.enterprise.as_deref() == Some(&c.enterprise)
        })
        .map(|(n, s)| json!({ "name": n, "when": s.when, "enabled": s.enabled }))
        .collect();
    json!({ "by": by, "offered": factory.default_schedule(&c.kind) })
}

/// How many per-object errors of a connector are outstanding, all steps together.
pub fn outstanding(name: &str, counts: &[ErrorCount]) -> i64 {
    counts
        .iter()
        .filter(|c| c.connector == name)
        .map(|c| c.count)
        .sum()
}

async fn with_last(st: &AppState, names: &[&str]) -> Result<Vec<Value>, ApiError> {
    let runs = st
        .store()
        .latest_connector_runs()
        .await
        .map_err(ApiError::internal)?;
    let counts = st
        .store()
        .error_counts()
        .await
        .map_err(ApiError::internal)?;
    let engine = st.engine();
    Ok(names
        .iter()
        .filter_map(|name| {
            let c = engine.config().connectors.get(*name)?;
            let mut v = connector_view(st, name, c);
            v["last"] = last_runs(name, &runs);
            v["outstanding_errors"] = json!(outstanding(name, &counts));
            v["schedules"] = schedules(engine.config(), st.factory.as_ref(), name);
            Some(v)
        })
        .collect())
}

pub(super) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let engine = st.engine();
    let names: Vec<&str> = engine
        .config()
        .connectors
        .keys()
        .map(String::as_str)
        .collect();
    Ok(Json(json!({ "connectors": with_last(&st, &names).await? })))
}

pub(super) async fn show(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    with_last(&st, &[name.as_str()])
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| not_found("connector", &name))
}

/// A connector's outstanding per-object errors: the objects a step rejected and no run has
/// fixed since.
pub(super) async fn errors(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    if !st.engine().config().connectors.contains_key(&name) {
        return Err(not_found("connector", &name));
    }
    let errors = st
        .store()
        .outstanding_errors(Some(&name))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "connector": name, "errors": errors })))
}

#[derive(serde::Deserialize, Default)]
pub(super) struct DeleteQuery {
    #[serde(default)]
    preview: bool,
    allow_deletes: Option<u64>,
}

/// Deletes the entries the connector owns and its staging space (as `ucsync connector
/// delete`), then takes it out of the configuration.
pub(super) async fn delete(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Answer {
    let by = st.require(&headers, Role::Admin).await?;
    let engine = st.engine();
    let c = engine
        .config()
        .connectors
        .get(&name)
        .ok_or_else(|| not_found("connector", &name))?;
    let without = |config: &ucsync_model::Config| {
        let mut remaining = config.clone();
        remaining
            .remove_connector(&name)
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e))?;
        toml::Table::try_from(&remaining).map_err(ApiError::internal)
    };
    // Refused up front when a schedule runs it; checked again on the configuration of the end.
    without(engine.config())?;
    // A preview is a session of its own that commits nothing: it needs no free enterprise.
    let mut started: Option<Arc<dyn Fn(i64) + Send + Sync>> = None;
    let _held = if query.preview {
        None
    } else {
        let (held, tx) = claim(&st, &c.enterprise).map_err(|e| match e {
            StartError::Busy(run_id) => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "a run of enterprise {} is in progress; delete the connector when it ends",
                        c.enterprise
                    ),
                );
                e.run_id = run_id;
                e
            }
            StartError::Stopping => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down; delete the connector after the restart",
            ),
            StartError::Failed(m) => ApiError::internal(m),
        })?;
        started = Some(Arc::new(move |id| {
            let _ = tx.send(Start::Started(id));
        }));
        Some(held)
    };
    let options = RunOptions {
        preview: query.preview,
        allow_deletes: query.allow_deletes,
        status_dir: st.status_dir.clone(),
        progress: Arc::new(NoProgress),
        sync_batch: None,
        look_up_from: None,
        export_batch: None,
        started,
        stop: st.stop.clone(),
        started_by: by.name.clone(),
    };
    let report = engine
        .run_profile(&name, Profile::DeleteConnector, &options)
        .await
        .map_err(ApiError::internal)?;
    let report_json = serde_json::to_value(&report).map_err(ApiError::internal)?;
    match report.status {
        RunStatus::Success | RunStatus::CompletedWithErrors => {}
        RunStatus::StoppedDeletionThreshold => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                report
                    .message
                    .clone()
                    .unwrap_or_else(|| "over the deletion threshold".into())
                    .replace("--allow-deletes ", "?allow_deletes="),
            );
            e.run_id = report.run_id;
            return Err(e);
        }
        RunStatus::Stopped | RunStatus::Failed => {
            let mut e = ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "deleting connector {name} did not finish ({}): {}; delete it again to finish",
                    report.status.as_str(),
                    report.message.clone().unwrap_or_default()
                ),
            );
            e.run_id = report.run_id;
            return Err(e);
        }
    }
    if query.preview {
        return Ok(Json(json!({ "preview": true, "report": report_json })));
    }
    let detail = report.run_id.map(|id| format!("by run {id}"));
    st.audit(
        &by.name,
        "connector-deleted",
        &format!("connector {name}"),
        detail,
    )
    .await;
    // From the configuration as it is now: a change made during the run is kept.
    let changes = change(&st, &by.name, |table, current| {
        *table = without(current)?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "report": report_json, "changes": changes })))
}
