//! The peer sync feed (`docs/PEER.md`, protocol 1): an enterprise's people and contacts as pages
//! of changes after an opaque cursor, with tombstones, for peer servers. A token of the peer
//! role reads the enterprise it is bound to and nothing else.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use ucsync_store::{DirectoryChange, Entry};

use super::{ApiError, AppState};
use crate::ClientAddr;
use crate::auth::Role;
use crate::openapi::Operation;

/// The version of the protocol this server speaks.
pub const PROTOCOL: u32 = 1;
/// The directory types a peer is offered.
const TYPES: &[&str] = &["person", "contact"];
/// The attributes a peer is offered.
const OFFERED: &[&str] = &[
    "displayName",
    "givenName",
    "sn",
    "cn",
    "mail",
    "telephoneNumber",
    "mobile",
    "department",
    "title",
    "imAddress",
];
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 5000;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/api/v1/peer/v1/enterprises/{enterprise}/changes",
        get(changes),
    )
}

/// The operations of this module, for the OpenAPI document and the authorization test.
pub(crate) fn operations() -> Vec<Operation> {
    vec![Operation::new(
        "get",
        "/api/v1/peer/v1/enterprises/{enterprise}/changes",
        Some("peer"),
        "The peer sync feed of the enterprise with this ID (docs/PEER.md): its people and contacts changed after ?cursor= (all of them without one), ?limit= per page (1000, at most 5000), with the ids of deleted entries; 410 with start_over when the cursor is no longer honoured. For tokens of the peer role bound to that enterprise, and administrators",
    )]
}

#[derive(serde::Deserialize)]
struct Params {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// A position in the store's changes: its generation, a change number and an entry id.
struct Cursor {
    generation: String,
    seq: i64,
    id: i64,
}

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.strip_prefix("v1-")?.rsplitn(3, '-');
        let id = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let generation = parts.next()?.to_owned();
        Some(Cursor {
            generation,
            seq,
            id,
        })
    }

    fn text(&self) -> String {
        format!("v1-{}-{}-{}", self.generation, self.seq, self.id)
    }
}

fn start_over(message: String) -> Response {
    let body = json!({ "error": message, "start_over": true });
    (StatusCode::GONE, Json(body)).into_response()
}

/// How the feed names entry `id` of the store of `generation`: the entry's id within this
/// store, so that the entries of another store (replaced, restored elsewhere) never pass for
/// these.
fn feed_id(generation: &str, id: i64) -> String {
    format!("{}.{id}", &generation[..generation.len().min(12)])
}

/// An entry as the feed shows it: its id, type and offered attributes.
fn contact(generation: &str, e: &Entry) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(feed_id(generation, e.id)));
    out.insert("type".into(), json!(e.object_type));
    for name in OFFERED {
        let values = e.attrs.get(name);
        if !values.is_empty() {
            out.insert((*name).to_owned(), json!(values));
        }
    }
    Value::Object(out)
}

async fn changes(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    client: Option<Extension<ConnectInfo<ClientAddr>>>,
    Path(enterprise_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let certificate = client.and_then(|Extension(ConnectInfo(ClientAddr(_, c)))| c);
    let caller = st.require_peer(&headers, certificate).await?;
    let role = Role::parse(&caller.role).unwrap_or(Role::Peer);
    if role < Role::Admin && caller.enterprise.as_deref() != Some(enterprise_id.as_str()) {
        let bound = caller.enterprise.as_deref().unwrap_or("none");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} has the {} role bound to enterprise {bound}; it may not read the peer feed of enterprise {enterprise_id}",
                caller.name,
                role.as_str()
            ),
        ));
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("limit {limit} is out of range; ask for 1 to {MAX_LIMIT} entries a page"),
        ));
    }
    let engine = st.engine();
    let config = engine.config();
    let Some(name) = config
        .enterprises
        .iter()
        .find(|(_, e)| e.id.as_deref() == Some(enterprise_id.as_str()))
        .map(|(name, _)| name.clone())
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no enterprise of this server has the ID \"{enterprise_id}\"; the peer's administrator sets it as [enterprises.NAME] id, and `ucsync enterprises` lists them"
            ),
        ));
    };
    let cursor = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "the cursor is not one this server gave; send the cursor of the previous page as it was, or none to start from the beginning",
            )
        })?),
    };
    let store = st.store();
    let eid = store
        .ensure_enterprise(&name)
        .await
        .map_err(ApiError::internal)?;
    let after = cursor.as_ref().map(|c| (c.seq, c.id));
    let page = store
        .directory_changes(eid, after, TYPES, limit)
        .await
        .map_err(ApiError::internal)?;
    if let Some(c) = &cursor {
        if c.generation != page.generation {
            return Ok(start_over(
                "this cursor is from another store (the peer's store was replaced or restored); start over: list everything again without a cursor".into(),
            ));
        }
        if c.seq > page.last_seq {
            return Ok(start_over(
                "this cursor is ahead of this server's changes (its store was restored from a backup); start over: list everything again without a cursor".into(),
            ));
        }
        if c.seq < page.trimmed_seq {
            return Ok(start_over(format!(
                "this cursor is older than the deletions this server keeps ({} days); start over: list everything again without a cursor",
                ucsync_store::TOMBSTONE_DAYS
            )));
        }
    }
    // Entries a one-way connector gives alone (a peer's contacts, communities) are not this
    // server's to offer: two servers peered both ways never send each other's back.
    let connectors = store.connectors().await.map_err(ApiError::internal)?;
    let one_way: HashSet<i64> = connectors
        .iter()
        .filter(|c| {
            st.factory
                .capabilities(&c.kind)
                .is_some_and(|caps| caps.one_way)
        })
        .map(|c| c.id)
        .collect();
    let offered = |e: &Entry| {
        let mut sources = e
            .attrs
            .iter()
            .filter_map(|(_, source, _)| *source)
            .peekable();
        sources.peek().is_none() || !sources.all(|s| one_way.contains(&s))
    };
    let mut contacts = Vec::new();
    let mut deleted = Vec::new();
    for change in &page.items {
        match change {
            DirectoryChange::Entry { entry, .. } if offered(entry) => {
                contacts.push(contact(&page.generation, entry));
            }
            DirectoryChange::Entry { .. } => {}
            DirectoryChange::Deleted { id, .. } => deleted.push(feed_id(&page.generation, *id)),
        }
    }
    let next = match page.items.last() {
        Some(last) => {
            let (seq, id) = last.position();
            Cursor {
                generation: page.generation.clone(),
                seq,
                id,
            }
        }
        // Nothing of this enterprise after the cursor: the next read starts after every change
        // numbered so far (a later change is numbered higher). So a peer that keeps reading a
        // quiet enterprise is never sent back to the start because the deletions of another
        // enterprise grew older than the server keeps them.
        None => Cursor {
            generation: page.generation.clone(),
            seq: page.last_seq,
            id: i64::MAX,
        },
    };
    let next = next.text();
    // The next page's address before its body (RFC 8288): a client can ask for it while it
    // still reads this one.
    let link = page.more.then(|| {
        (
            header::LINK,
            format!(
                "</api/v1/peer/v1/enterprises/{enterprise_id}/changes?cursor={next}&limit={limit}>; rel=\"next\""
            ),
        )
    });
    let body = Json(json!({
        "protocol": PROTOCOL,
        "server": { "product": "ucsync", "version": env!("CARGO_PKG_VERSION") },
        "enterprise": enterprise_id,
        "full": after.is_none(),
        "contacts": contacts,
        "deleted": deleted,
        "cursor": next,
        "more": page.more,
    }));
    Ok(match link {
        Some(link) => ([link], body).into_response(),
        None => body.into_response(),
    })
}
