//! Administrators, their API tokens and the audit over the API, for the admin role only.
//!
//! Answers never hold a password, a token's hash, or a token except once, in the answer that
//! creates it. There is always one administrator with the admin role left: removing or demoting
//! the last one is refused with `409`. Every change is recorded in the audit with the name of
//! the administrator who made it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Answer, ApiError, AppState};
use crate::auth::{self, Role};
use crate::openapi::Operation;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admins", get(list))
        .route(
            "/api/v1/admins/{name}",
            axum::routing::put(put).delete(remove),
        )
        .route(
            "/api/v1/admins/{name}/tokens",
            get(tokens).post(create_token),
        )
        .route(
            "/api/v1/admins/{name}/certificates",
            axum::routing::post(register_certificate),
        )
        .route("/api/v1/tokens/{id}", delete(revoke))
        .route("/api/v1/audit", get(audit))
}

pub(crate) fn operations() -> Vec<Operation> {
    let op = Operation::new;
    vec![
        op(
            "get",
            "/api/v1/admins",
            Some("admin"),
            "Administrators: name, role, when created and how many API tokens (never a password or token)",
        ),
        Operation {
            body: Some(json!({
                "type": "object",
                "properties": {
                    "role": { "type": "string", "enum": ["admin", "operator", "viewer", "peer"] },
                    "enterprise": { "type": "string", "description": "with the peer role: the enterprise ID it reads" },
                    "password": { "type": "string", "minLength": 8 }
                },
                "example": { "role": "viewer", "password": "a long passphrase" }
            })),
            ..op(
                "put",
                "/api/v1/admins/{name}",
                Some("admin"),
                "Adds an administrator (201; role and password required) or changes one's role or password (200); a new password ends that administrator's signed-in sessions (tokens from login) but the caller's own. Demoting the last administrator with the admin role is refused (409)",
            )
        },
        op(
            "get",
            "/api/v1/admins/{name}/tokens",
            Some("admin"),
            "An administrator's API tokens: id, label, when created (never the token)",
        ),
        Operation {
            body: Some(json!({
                "type": "object",
                "properties": { "label": { "type": "string" } },
                "example": { "label": "monitoring" }
            })),
            ..op(
                "post",
                "/api/v1/admins/{name}/tokens",
                Some("admin"),
                "Creates an API token for an administrator (201); the answer is the only time the token is shown",
            )
        },
        Operation {
            body: Some(json!({
                "type": "object",
                "properties": { "certificate": { "type": "string", "description": "PEM" } },
                "required": ["certificate"],
                "example": { "certificate": "-----BEGIN CERTIFICATE-----\n…" }
            })),
            ..op(
                "post",
                "/api/v1/admins/{name}/certificates",
                Some("admin"),
                "Registers a peer server's client certificate for an administrator with the peer role (201): with `ucsync serve --tls-client-ca`, a connection that shows it reads that peer's feed without a token. It is listed and revoked with the API tokens",
            )
        },
        op(
            "delete",
            "/api/v1/tokens/{id}",
            Some("admin"),
            "Revokes an API token: from now on it is refused (401)",
        ),
        op(
            "delete",
            "/api/v1/admins/{name}",
            Some("admin"),
            "Removes an administrator and their API tokens; the last one with the admin role is refused (409)",
        ),
        op(
            "get",
            "/api/v1/audit",
            Some("admin"),
            "The audit, newest first (?limit=N, default 100, at most 1000): who changed administrators, tokens, the configuration, connectors or the secret key, and who started which run",
        ),
    ]
}

fn no_admin(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no administrator named \"{name}\"; GET /api/v1/admins lists them"),
    )
}

async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Answer {
    st.require(&headers, Role::Admin).await?;
    let store = st.store();
    let admins = store.admins().await.map_err(ApiError::internal)?;
    let tokens = store.tokens(None).await.map_err(ApiError::internal)?;
    let list: Vec<Value> = admins
        .iter()
        .map(|a| auth::admin_json(a, &tokens))
        .collect();
    Ok(Json(json!({ "admins": list })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PutAdmin {
    role: Option<String>,
    password: Option<String>,
    /// The enterprise ID an administrator with the peer role reads.
    enterprise: Option<String>,
}

async fn put(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(&headers, Role::Admin).await?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let body: PutAdmin = serde_json::from_slice(&body).map_err(|e| {
        // serde's message may quote a value it refused, and that value may be a password.
        let why = if e.to_string().starts_with("unknown field") {
            format!(": {e}")
        } else {
            String::new()
        };
        unprocessable(format!(
            "send a JSON object with \"role\" (admin, operator, viewer or peer), \"password\" and, for a peer, \"enterprise\", all strings{why}"
        ))
    })?;
    auth::check_name(&name).map_err(unprocessable)?;
    let role = body
        .role
        .as_deref()
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                unprocessable(format!(
                    "role: unknown role \"{r}\"; use admin, operator, viewer or peer"
                ))
            })
        })
        .transpose()?;
    if let Some(p) = &body.password {
        auth::check_password(p).map_err(|m| unprocessable(format!("password: {m}")))?;
    }
    let _one_at_a_time = st.admins_lock.lock().await;
    let store = st.store();
    let admins = store.admins().await.map_err(ApiError::internal)?;
    let existing = admins.iter().find(|a| a.name == name);
    let (role, hash) = match (existing, role, body.password) {
        (None, None, _) | (None, _, None) => {
            return Err(unprocessable(format!(
                "there is no administrator named \"{name}\" yet: give both \"role\" and \"password\" to add one"
            )));
        }
        (Some(_), None, None) => {
            return Err(unprocessable(
                "give \"role\", \"password\" or both to change".into(),
            ));
        }
        (existing, role, password) => {
            let role = role
                .or_else(|| existing.and_then(|a| Role::parse(&a.role)))
                .unwrap_or(Role::Viewer);
            let hash = match password {
                // argon2 takes tens of milliseconds on purpose: off the async workers.
                Some(p) => tokio::task::spawn_blocking(move || auth::hash_password(&p))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?,
                None => existing
                    .map(|a| a.password_hash.clone())
                    .unwrap_or_default(),
            };
            (role, hash)
        }
    };
    auth::keeps_an_admin(&admins, &name, Some(role))
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, m))?;
    let enterprise = body.enterprise.or_else(|| {
        existing
            .and_then(|a| a.enterprise.clone())
            .filter(|_| role == Role::Peer)
    });
    auth::check_binding(role, enterprise.as_deref()).map_err(unprocessable)?;
    store
        .put_admin(&name, role.as_str(), enterprise.as_deref(), &hash)
        .await
        .map_err(ApiError::internal)?;
    let (status, action, detail) = match existing {
        None => (
            StatusCode::CREATED,
            "admin-added",
            format!("role {}", role.as_str()),
        ),
        Some(before) => {
            let mut what = Vec::new();
            if before.role != role.as_str() {
                what.push(format!("role {} → {}", before.role, role.as_str()));
            }
            if before.password_hash != hash {
                what.push("password changed".to_owned());
                // The sessions signed in with the old password end; an administrator who
                // changes their own keeps the one they changed it from.
                let keep = (by.name == name)
                    .then(|| super::bearer(&headers).map(auth::token_hash))
                    .flatten();
                let ended = store
                    .remove_labelled_tokens(before.id, auth::LOGIN_LABEL, keep.as_deref())
                    .await
                    .map_err(ApiError::internal)?;
                what.push(auth::sessions_ended(ended));
            }
            (StatusCode::OK, "admin-changed", what.join("; "))
        }
    };
    st.audit(&by.name, action, &format!("admin {name}"), Some(detail))
        .await;
    let admin = store
        .admin(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| no_admin(&name))?;
    let tokens = store
        .tokens(Some(admin.id))
        .await
        .map_err(ApiError::internal)?;
    Ok((status, Json(auth::admin_json(&admin, &tokens))))
}

async fn remove(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let by = st.require(&headers, Role::Admin).await?;
    let _one_at_a_time = st.admins_lock.lock().await;
    let store = st.store();
    let admins = store.admins().await.map_err(ApiError::internal)?;
    if !admins.iter().any(|a| a.name == name) {
        return Err(no_admin(&name));
    }
    auth::keeps_an_admin(&admins, &name, None)
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, m))?;
    if !store
        .remove_admin(&name)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(no_admin(&name));
    }
    st.audit(&by.name, "admin-removed", &format!("admin {name}"), None)
        .await;
    Ok(Json(json!({ "removed": name })))
}

async fn tokens(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    st.require(&headers, Role::Admin).await?;
    let store = st.store();
    let admin = store
        .admin(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| no_admin(&name))?;
    let tokens = store
        .tokens(Some(admin.id))
        .await
        .map_err(ApiError::internal)?;
    let list: Vec<Value> = tokens.iter().map(auth::token_json).collect();
    Ok(Json(json!({ "name": name, "tokens": list })))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewToken {
    label: Option<String>,
}

async fn create_token(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(&headers, Role::Admin).await?;
    // No body: a token labelled `api`.
    let body: NewToken = if body.iter().all(u8::is_ascii_whitespace) {
        NewToken::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("send a JSON object with an optional \"label\": {e}"),
            )
        })?
    };
    let label = body.label.unwrap_or_else(|| "api".to_owned());
    auth::check_label(&label).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m))?;
    let store = st.store();
    let admin = store
        .admin(&name)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| no_admin(&name))?;
    let token = auth::new_token().map_err(ApiError::internal)?;
    let id = store
        .add_token(admin.id, &auth::token_hash(&token), &label)
        .await
        .map_err(ApiError::internal)?;
    let detail = format!("for {name}, label {label}");
    let answer = json!({ "id": id, "admin": name, "label": label, "token": token });
    Ok(token_made(&st, &by.name, "token-created", id, detail, answer).await)
}

/// A token (or a client certificate kept as one) was made: audited, and answered `201`.
async fn token_made(
    st: &AppState,
    by: &str,
    action: &str,
    id: i64,
    detail: String,
    answer: Value,
) -> (StatusCode, Json<Value>) {
    st.audit(by, action, &format!("token {id}"), Some(detail))
        .await;
    (StatusCode::CREATED, Json(answer))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCertificate {
    certificate: String,
}

async fn register_certificate(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let by = st.require(&headers, Role::Admin).await?;
    let unprocessable = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let body: NewCertificate = serde_json::from_slice(&body).map_err(|e| {
        unprocessable(format!(
            "send a JSON object with \"certificate\", the peer's client certificate as PEM: {e}"
        ))
    })?;
    let store = st.store();
    let registered = auth::register_certificate(store.as_ref(), &name, body.certificate.as_bytes())
        .await
        .map_err(|why| match why {
            auth::NotRegistered::NoAdmin => no_admin(&name),
            auth::NotRegistered::Refused(m) => unprocessable(format!("certificate: {m}")),
            auth::NotRegistered::Registered(m) => ApiError::new(StatusCode::CONFLICT, m),
            auth::NotRegistered::Store(e) => ApiError::internal(e),
        })?;
    let auth::RegisteredCertificate { id, label, sha256 } = registered;
    let detail = format!("for {name}, SHA-256 {sha256}");
    let answer = json!({ "id": id, "admin": name, "label": label, "sha256": sha256 });
    Ok(token_made(&st, &by.name, "certificate-registered", id, detail, answer).await)
}

async fn revoke(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Answer {
    let by = st.require(&headers, Role::Admin).await?;
    let token = st
        .store()
        .remove_token(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no API token {id}; GET /api/v1/admins/NAME/tokens lists them"),
            )
        })?;
    st.audit(
        &by.name,
        "token-revoked",
        &format!("token {id}"),
        Some(format!("of {}, label {}", token.admin, token.label)),
    )
    .await;
    Ok(Json(json!({ "revoked": auth::token_json(&token) })))
}

#[derive(serde::Deserialize)]
struct Limit {
    limit: Option<i64>,
}

async fn audit(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<Limit>,
) -> Answer {
    st.require(&headers, Role::Admin).await?;
    let list = st
        .store()
        .audit(q.limit.unwrap_or(100).clamp(1, 1000))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "audit": list })))
}
