//! An account's own data over the API: numbers added by hand and dynamic statuses with their
//! "make call from" number (operators). The change is kept on the entry at once and applied by
//! the next sync (the number-retention rule, exports).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::put;
use axum::{Json, Router};
use serde_json::{Value, json};
use ucsync_engine::account::{AccountEdit, AccountError, edit_account};
use ucsync_model::account::AccountData;

use super::{Answer, ApiError, AppState, Start};
use crate::auth::Role;
use crate::openapi::Operation;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/directory/{id}/numbers/{number}",
            put(add_number).delete(remove_number),
        )
        .route(
            "/api/v1/directory/{id}/statuses/{name}",
            put(set_status).delete(clear_status),
        )
}

/// The operations of this module, for the OpenAPI document and the authorization test.
pub(crate) fn operations() -> Vec<Operation> {
    let op = |method, path, summary| Operation::new(method, path, Some("operator"), summary);
    vec![
        op(
            "put",
            "/api/v1/directory/{id}/numbers/{number}",
            "Adds a number to an account by hand (it belongs to no connector and keeps a number the PBX deletes on the account)",
        ),
        op(
            "delete",
            "/api/v1/directory/{id}/numbers/{number}",
            "Removes a number added by hand",
        ),
        Operation {
            body: Some(json!({
                "type": "object",
                "required": ["make_call_from"],
                "properties": { "make_call_from": { "type": "string" } },
                "example": { "make_call_from": "5550100" }
            })),
            ..op(
                "put",
                "/api/v1/directory/{id}/statuses/{name}",
                "Adds a dynamic status to an account, or changes the number it makes calls from",
            )
        },
        op(
            "delete",
            "/api/v1/directory/{id}/statuses/{name}",
            "Removes a dynamic status",
        ),
    ]
}

#[derive(serde::Deserialize)]
struct StatusBody {
    make_call_from: String,
}

async fn add_number(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, number)): Path<(i64, String)>,
) -> Answer {
    edit(&st, &headers, id, AccountEdit::AddNumber(number)).await
}

async fn remove_number(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, number)): Path<(i64, String)>,
) -> Answer {
    edit(&st, &headers, id, AccountEdit::RemoveNumber(number)).await
}

async fn set_status(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, name)): Path<(i64, String)>,
    body: Option<Json<StatusBody>>,
) -> Answer {
    let Some(Json(body)) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"make_call_from\": \"NUMBER\"}: the number this status makes calls from",
        ));
    };
    let edit_ = AccountEdit::SetStatus {
        name,
        make_call_from: body.make_call_from,
    };
    edit(&st, &headers, id, edit_).await
}

async fn clear_status(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, name)): Path<(i64, String)>,
) -> Answer {
    edit(&st, &headers, id, AccountEdit::ClearStatus(name)).await
}

async fn edit(st: &AppState, headers: &HeaderMap, id: i64, change: AccountEdit) -> Answer {
    st.require(headers, Role::Operator).await?;
    let store = st.store();
    // A sync writes entries whole: an edit made while one runs in the entry's enterprise could
    // be overwritten by the batch it is writing.
    let entry = super::read::entry_or_404(store.as_ref(), id).await?;
    let running: Vec<(String, Start)> = st
        .running()
        .iter()
        .map(|(name, rx)| (name.clone(), rx.borrow().clone()))
        .collect();
    for (enterprise, start) in running {
        if store
            .ensure_enterprise(&enterprise)
            .await
            .map_err(ApiError::internal)?
            == entry.enterprise_id
        {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "a run of enterprise {enterprise} is in progress; change the account when it has ended"
                ),
            );
            if let Start::Started(run) = start {
                e.run_id = Some(run);
            }
            return Err(e);
        }
    }
    match edit_account(store.as_ref(), st.factory.as_ref(), id, change).await {
        Ok(e) => Ok(Json(answer(&AccountData::of(id, &e.attrs)))),
        Err(AccountError::NoEntry(_)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("there is no directory entry {id}"),
        )),
        Err(AccountError::Refused(m)) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m)),
        Err(AccountError::Engine(e)) => Err(ApiError::internal(e)),
    }
}

fn answer(data: &AccountData) -> Value {
    serde_json::to_value(data).unwrap_or(Value::Null)
}
