//! Read-only views for viewers: the directory (search and one entry with the source of each
//! value and its linked objects, as `ucsync directory search|show` gives them) and the
//! download of a run's status file. Connector settings are never part of an answer.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use ucsync_model::config::DEFAULT_ENTERPRISE;
use ucsync_model::{ExportOp, account};
use ucsync_store::{Entry, EntrySearch, StagedObject};

use super::{Answer, ApiError, AppState};
use crate::auth::Role;
use crate::openapi::Operation;

/// Longest search text accepted.
const MAX_TEXT: usize = 256;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/directory", get(search))
        .route("/api/v1/directory/folders", get(folders))
        .route("/api/v1/directory/{id}", get(show))
        .route("/api/v1/runs/{id}/status-file", get(status_file))
}

/// The operations of this module, for the OpenAPI document and the authorization test.
pub(crate) fn operations() -> Vec<Operation> {
    let op = |path, summary| Operation {
        method: "get",
        path,
        role: Some("viewer"),
        summary,
        body: None,
    };
    vec![
        op(
            "/api/v1/directory",
            "Directory entries whose values contain ?q= (case-insensitive), in id order; ?type=, ?folder= (entries of that folder), ?enterprise= (default: default), ?limit= (100, at most 1000), ?after=ID for the next page (the answer's next)",
        ),
        op(
            "/api/v1/directory/folders",
            "The directory's folders (the values of the folder attribute: a peer's contacts are in one named after the peer) with how many entries each holds, and how many entries are in none; ?enterprise= (default: default)",
        ),
        op(
            "/api/v1/directory/{id}",
            "One directory entry: each attribute's values and the connector that gave them (telephoneNumber includes the numbers added by hand, which hand_added names), and its linked staged objects (in_source false: not in the external system)",
        ),
        op(
            "/api/v1/runs/{id}/status-file",
            "Downloads the status file a run wrote (an import's row-by-row status), as an attachment",
        ),
    ]
}

/// Connector names by store id.
async fn connector_names(st: &AppState) -> Result<HashMap<i64, String>, ApiError> {
    Ok(st
        .store()
        .connectors()
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

/// An entry as `ucsync --json directory search` prints it: the account's numbers
/// (`telephoneNumber`) include its hand-added numbers, which `hand_added` names.
fn entry_json(e: &Entry, names: &HashMap<i64, String>) -> Value {
    let mut attrs: serde_json::Map<String, Value> = e
        .attrs
        .iter()
        .map(|(k, source, values)| {
            let source = source.map(|s| names.get(&s).cloned().unwrap_or_else(|| format!("#{s}")));
            (k.clone(), json!({ "values": values, "source": source }))
        })
        .collect();
    let listed = account::listed_numbers(&e.attrs);
    if !listed.hand_added.is_empty() {
        let numbers = attrs
            .entry(account::NUMBERS)
            .or_insert_with(|| json!({ "source": null }));
        numbers["values"] = json!(listed.values);
        numbers["hand_added"] = json!(listed.hand_added);
    }
    json!({ "id": e.id, "type": e.object_type, "attributes": attrs })
}

fn link_json(s: &StagedObject, names: &HashMap<i64, String>) -> Value {
    let mut v = json!({
        "connector": names.get(&s.connector_id),
        "anchor": s.anchor,
        "type": s.object_type,
    });
    if s.attrs.is_none() {
        // Not (or no longer) in the external system: to be provisioned, or gone from its
        // source and kept linked by the number-retention rule.
        v["in_source"] = json!(false);
    }
    if let Some(p) = &s.export {
        v["pending_export"] = json!(match p.op {
            ExportOp::Add => "add",
            ExportOp::Update => "update",
            ExportOp::Delete => "delete",
        });
    }
    if let Some(e) = &s.sync_error {
        v["sync_error"] = json!(e);
    }
    if let Some(e) = &s.export_error {
        v["export_error"] = json!(e);
    }
    v
}

#[derive(serde::Deserialize)]
struct SearchParams {
    q: Option<String>,
    #[serde(rename = "type")]
    object_type: Option<String>,
    folder: Option<String>,
    enterprise: Option<String>,
    limit: Option<i64>,
    after: Option<i64>,
}

#[derive(serde::Deserialize)]
struct FolderParams {
    enterprise: Option<String>,
}

/// Same semantics as `ucsync directory search`: entries of one enterprise whose values contain
/// the text (compared in lowercase), optionally of one type, in id order. The store gives
/// candidates it filtered in SQL; each is checked here.
async fn search(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<SearchParams>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let enterprise = configured_enterprise(&st, params.enterprise)?;
    let text = params.q.filter(|q| !q.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "q is longer than {MAX_TEXT} characters; search for a shorter part of the value"
            ),
        ));
    }
    let limit = params.limit.unwrap_or(100).clamp(1, 1000);
    let store = st.store();
    let Some(enterprise_id) = store
        .enterprise_id(&enterprise)
        .await
        .map_err(ApiError::internal)?
    else {
        // Configured but never run: nothing in the directory yet.
        return Ok(Json(json!({ "entries": [], "next": null })));
    };
    let needle = text.as_deref().map(str::to_lowercase);
    let mut request = EntrySearch {
        enterprise_id,
        object_type: params.object_type,
        text,
        after_id: params.after.unwrap_or(0),
        // Candidates are nearly always matches: the first page asks for no more than needed
        // (each extra candidate may cost a scan of many entries), later pages for more.
        limit,
    };
    let mut found = Vec::new();
    'pages: loop {
        let page = store
            .search_page(&request)
            .await
            .map_err(ApiError::internal)?;
        let complete = (page.len() as i64) < request.limit;
        for e in page {
            request.after_id = e.id;
            let in_folder = params
                .folder
                .as_ref()
                .is_none_or(|f| e.attrs.get(super::FOLDER).contains(f));
            let hit = in_folder
                && needle.as_ref().is_none_or(|n| {
                    e.attrs
                        .iter()
                        .any(|(_, _, vs)| vs.iter().any(|v| v.to_lowercase().contains(n.as_str())))
                });
            if hit {
                found.push(e);
                if found.len() as i64 >= limit {
                    break 'pages;
                }
            }
        }
        if complete {
            break;
        }
        request.limit = (request.limit * 2).min(1000);
    }
    let names = connector_names(&st).await?;
    // A full page may have more after it: the client asks again with ?after=next.
    let next = found
        .last()
        .map(|e| e.id)
        .filter(|_| found.len() as i64 >= limit);
    let entries: Vec<Value> = found.iter().map(|e| entry_json(e, &names)).collect();
    Ok(Json(json!({ "entries": entries, "next": next })))
}

/// The enterprise asked for (`default` when none), or `404` when none is so named.
fn configured_enterprise(st: &AppState, asked: Option<String>) -> Result<String, ApiError> {
    let enterprise = asked.unwrap_or_else(|| DEFAULT_ENTERPRISE.to_owned());
    if st
        .engine()
        .config()
        .enterprise_names()
        .contains(&enterprise)
    {
        Ok(enterprise)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no enterprise named \"{enterprise}\"; GET /api/v1/enterprises lists them"),
        ))
    }
}

/// The directory's folders with their entry counts ([`super::folders_json`]).
async fn folders(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(params): Query<FolderParams>,
) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let enterprise = configured_enterprise(&st, params.enterprise)?;
    let store = st.store();
    match store
        .enterprise_id(&enterprise)
        .await
        .map_err(ApiError::internal)?
    {
        Some(id) => Ok(Json(
            super::folders_json(store.as_ref(), id)
                .await
                .map_err(ApiError::internal)?,
        )),
        // Configured but never run: nothing in the directory yet.
        None => Ok(Json(json!({ "folders": [], "without_folder": 0 }))),
    }
}

/// Directory entry `id`, or `404`.
pub(super) async fn entry_or_404(
    store: &dyn ucsync_store::Store,
    id: i64,
) -> Result<Entry, ApiError> {
    store
        .entries_by_ids(&[id])
        .await
        .map_err(ApiError::internal)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no directory entry {id}; GET /api/v1/directory?q=TEXT finds entries"),
            )
        })
}

async fn show(State(st): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<i64>) -> Answer {
    st.require(&headers, Role::Viewer).await?;
    let store = st.store();
    let entry = entry_or_404(store.as_ref(), id).await?;
    let links = store
        .staged_by_entries(&[id])
        .await
        .map_err(ApiError::internal)?;
    let names = connector_names(&st).await?;
    let mut body = entry_json(&entry, &names);
    body["links"] = links.iter().map(|s| link_json(s, &names)).collect();
    Ok(Json(body))
}

/// The file a run recorded, looked up by its name in `status_dir` only: a recorded path
/// elsewhere, `..`, or a link out of the folder gives `None`.
pub(crate) async fn resolve_status_file(status_dir: &FsPath, recorded: &str) -> Option<PathBuf> {
    let name = FsPath::new(recorded).file_name()?;
    let dir = tokio::fs::canonicalize(status_dir).await.ok()?;
    let path = tokio::fs::canonicalize(dir.join(name)).await.ok()?;
    let is_file = tokio::fs::metadata(&path).await.ok()?.is_file();
    (is_file && path.starts_with(&dir)).then_some(path)
}

fn content_type(path: &FsPath) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => "text/csv; charset=utf-8",
        Some(e) if e.eq_ignore_ascii_case("json") => "application/json",
        Some(e) if e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("log") => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

/// A file name safe inside a quoted `Content-Disposition` parameter.
fn attachment(path: &FsPath) -> String {
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{name}\"")
}

async fn status_file(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    st.require(&headers, Role::Viewer).await?;
    let store = st.store();
    let run = store
        .run(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no run {id}")))?;
    let Some(recorded) = run.status_file else {
        let steps: Vec<String> = store
            .child_runs(id)
            .await
            .map_err(ApiError::internal)?
            .into_iter()
            .filter(|s| s.status_file.is_some())
            .map(|s| s.id.to_string())
            .collect();
        let hint = if steps.is_empty() {
            "; imports of connectors that write one (csv with status_file on) have one".to_owned()
        } else {
            format!(
                "; its steps {} have one: GET /api/v1/runs/{}/status-file",
                steps.join(", "),
                steps[0]
            )
        };
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("run {id} has no status file{hint}"),
        ));
    };
    let gone = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "the status file of run {id} ({recorded}) is no longer in {}",
                st.status_dir.display()
            ),
        )
    };
    let path = resolve_status_file(&st.status_dir, &recorded)
        .await
        .ok_or_else(gone)?;
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(gone()),
        Err(e) => {
            return Err(ApiError::internal(format!(
                "opening {}: {e}",
                path.display()
            )));
        }
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?
        .len();
    // Streamed in 64 KiB pieces: a status file of a million rows is never held whole.
    let chunks = futures_util::stream::unfold(Some(file.take(len)), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&attachment(&path)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_files_inside_the_status_folder_are_served() {
        let root = std::env::temp_dir().join(format!("ucsync-status-{}", std::process::id()));
        let dir = root.join("status");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("3-hr-import-status.csv"), "a\n").unwrap();
        std::fs::write(root.join("secret.txt"), "no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("secret.txt"), dir.join("4-link.csv")).unwrap();

        let found = resolve_status_file(&dir, "/elsewhere/data/status/3-hr-import-status.csv")
            .await
            .unwrap();
        assert_eq!(
            found,
            dir.canonicalize().unwrap().join("3-hr-import-status.csv")
        );
        for recorded in [
            "../secret.txt",
            "status/..",
            "..",
            "/",
            "",
            "4-link.csv",
            "missing.csv",
        ] {
            assert_eq!(
                resolve_status_file(&dir, recorded).await,
                None,
                "{recorded}"
            );
        }
        assert_eq!(
            resolve_status_file(&dir, root.join("secret.txt").to_str().unwrap()).await,
            None
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn attachment_names_are_quoted_safely() {
        assert_eq!(
            attachment(FsPath::new("/d/7-hr \"x\"-import-status.csv")),
            "attachment; filename=\"7-hr__x_-import-status.csv\""
        );
        assert_eq!(
            content_type(FsPath::new("a.CSV")),
            "text/csv; charset=utf-8"
        );
        assert_eq!(content_type(FsPath::new("a")), "application/octet-stream");
    }
}
