//! The OpenAPI 3.1 document of the API, served at `/api/v1/openapi.json`. Built from one table
//! of operations, the same one the tests walk, so the document lists what the router serves.

use serde_json::{Map, Value, json};

/// One operation: method, path (axum syntax), role needed (`None`: no token), summary, and
/// whether it takes a JSON body.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub role: Option<&'static str>,
    pub summary: &'static str,
    pub body: Option<Value>,
}

impl Operation {
    pub fn new(
        method: &'static str,
        path: &'static str,
        role: Option<&'static str>,
        summary: &'static str,
    ) -> Self {
        Operation {
            method,
            path,
            role,
            summary,
            body: None,
        }
    }
}

pub fn operations() -> Vec<Operation> {
    let op = Operation::new;
    vec![
        op(
            "get",
            "/healthz",
            None,
            "Health check; answers without a token",
        ),
        Operation {
            body: Some(json!({
                "type": "object",
                "required": ["name", "password"],
                "properties": { "name": { "type": "string" }, "password": { "type": "string" } }
            })),
            ..op(
                "post",
                "/api/v1/login",
                None,
                "A new API token for an administrator's name and password; failed attempts slow down the client's address (429 with Retry-After)",
            )
        },
        op(
            "get",
            "/api/v1/openapi.json",
            Some("viewer"),
            "This document",
        ),
        op(
            "get",
            "/api/v1/enterprises",
            Some("viewer"),
            "Enterprises and their sync order",
        ),
        op(
            "post",
            "/api/v1/enterprises/{enterprise}/sync-now",
            Some("operator"),
            "Starts Sync Now for an enterprise: 202 with the run id, or 409 with the id of the run in progress. ?preview=true answers 200 with the report of what it would change and commits nothing (also during a run); ?allow_deletes=N lifts the deletion threshold for this run (admin)",
        ),
        Operation {
            body: Some(json!({
                "type": "object",
                "required": ["profile"],
                "properties": { "profile": { "type": "string", "enum": ["full-import", "delta-import", "full-sync", "delta-sync", "export"] } }
            })),
            ..op(
                "post",
                "/api/v1/connectors/{connector}/runs",
                Some("operator"),
                "Starts a run profile on a connector: 202 with the run id, or 409 with the id of the run in progress. ?preview=true answers 200 with the report and commits nothing; ?allow_deletes=N lifts the deletion threshold for this run (admin)",
            )
        },
        op(
            "get",
            "/api/v1/runs",
            Some("viewer"),
            "Recent runs, newest first (?limit=N, at most 1000)",
        ),
        op(
            "get",
            "/api/v1/runs/{id}",
            Some("viewer"),
            "One run with its steps",
        ),
        op(
            "get",
            "/api/v1/runs/{id}/outcomes",
            Some("viewer"),
            "A run's per-object outcomes",
        ),
    ]
    .into_iter()
    .chain(crate::api::config::operations())
    .chain(crate::api::schedules::operations())
    .chain(crate::api::read::operations())
    .chain(crate::api::peer::operations())
    .chain(crate::api::account::operations())
    .chain(crate::metrics::operations())
    .chain(crate::api::admins::operations())
    .collect()
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for o in operations() {
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut operation = json!({
            "summary": o.summary,
            "parameters": params,
            "responses": {
                "200": { "description": "done" },
                "202": { "description": "run started" },
                "401": { "description": "no valid token" },
                "403": { "description": "the token's role is not enough" },
                "404": { "description": "no such object" },
                "409": { "description": "a run is in progress; its id is in run_id" },
            },
            "x-role": o.role,
        });
        operation["security"] = match o.role {
            Some(_) => json!([{ "bearer": [] }]),
            None => json!([]),
        };
        if let Some(schema) = o.body {
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
        }
        let entry = paths
            .entry(o.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "ucsync", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "paths": paths,
    })
}
