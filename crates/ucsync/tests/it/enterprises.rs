//! Several enterprises in one store, served in process by `ucsync_server::serve` over real HTTP
//! on a free port, with a real SQLite file and real CSV files, and the scheduler on an injected
//! clock. Each enterprise `E` has a forest (`forest-E.csv`, people) provisioned as contacts into
//! its own central file (`central-E.csv`). The shared part of the concurrency tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use ucsync_engine::{Engine, NoProgress, RunOptions, Stop};
use ucsync_model::config;
use ucsync_server::{AppState, ManualClock};
use ucsync_store::{AdminStore, ConfigStore, SqliteStore, Store};

use crate::harness::Env;

/// The configuration of `enterprises`, each a forest and a central file; `extra` is appended
/// (schedules). Paths are absolute, in `dir`.
pub fn config(dir: &Path, enterprises: &[&str], threshold: &str, extra: &str) -> String {
    let dir = dir.display();
    let mut text = String::from("version = 1\n");
    for e in enterprises {
        text.push_str(&format!(
            r#"
[enterprises.{e}]
sync_order = ["central-{e}", "forest-{e}"]
deletion_threshold = {threshold}

[connectors.forest-{e}]
kind = "csv"
enterprise = "{e}"
[connectors.forest-{e}.settings]
path = "{dir}/forest-{e}.csv"
key = ["employeeId"]
[connectors.forest-{e}.rules]
projection = {{ person = "person" }}
[connectors.forest-{e}.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
displayName = '"${{givenName}} ${{sn}}"'
mail = "mail"
telephoneNumber = "telephoneNumber"
department = "department"

[connectors.central-{e}]
kind = "csv"
enterprise = "{e}"
[connectors.central-{e}.settings]
path = "{dir}/central-{e}.csv"
object_type = "contact"
key = ["externalId"]
header = ["externalId", "email", "displayName", "phone", "department"]
[connectors.central-{e}.rules]
join = [{{ staged = "externalId", directory = "uid" }}]
provisioning = [{{ from = "person", object_type = "contact" }}]
deprovisioning = {{ action = "delete" }}
[connectors.central-{e}.rules.export_flows]
externalId = "uid"
email = 'rewrite_domain(mail, "{e}.example")'
displayName = "displayName"
phone = "telephoneNumber"
department = "department"
"#
        ));
    }
    text.push_str(extra);
    text
}

/// `n` people of enterprise `e` from number `from`, the ones in `changed` with a new
/// department, as a forest file.
pub fn forest(e: &str, from: usize, n: usize, changed: &[usize]) -> String {
    let mut s = String::from("employeeId,givenName,sn,mail,telephoneNumber,department\n");
    for i in from..from + n {
        let department = if changed.contains(&i) {
            format!("Moved{}", i % 5)
        } else {
            format!("Dept{}", i % 17)
        };
        s.push_str(&format!(
            "{e}{i},Given{i},Sur{i},user{i}@{e}.forest,+1 555 {i:07},{department}\n"
        ));
    }
    s
}

/// A store with the configuration, and an engine over it.
pub struct Hub {
    pub env: Env,
    pub store: Arc<SqliteStore>,
    pub engine: Arc<Engine>,
}

impl Hub {
    pub async fn new(enterprises: &[&str], threshold: &str, extra: &str) -> Hub {
        let env = Env::new();
        for e in enterprises {
            env.write(
                &format!("central-{e}.csv"),
                "externalId,email,displayName,phone,department\n",
            );
        }
        let text = config(&env.path(""), enterprises, threshold, extra);
        let parsed = config::parse(&text, &ucsync_connectors::Connectors).unwrap();
        let connectors = config::build_all(&parsed, &ucsync_connectors::Connectors).unwrap();
        let store = Arc::new(SqliteStore::open(&env.path("data")).await.unwrap());
        store.put_config_text(&text).await.unwrap();
        let engine = Arc::new(Engine::new(store.clone(), parsed, connectors));
        Hub { env, store, engine }
    }

    /// Sync Now of `e` in process, alone.
    pub async fn sync_now(&self, e: &str) -> ucsync_engine::RunReport {
        let options = RunOptions {
            preview: false,
            allow_deletes: None,
            status_dir: self.env.path("data/status"),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            look_up_from: None,
            export_batch: None,
            started: None,
            stop: Stop::default(),
            started_by: "local".into(),
        };
        self.engine.sync_now(e, &options).await.unwrap()
    }

    /// What enterprise `e` holds: its central file and its directory (each entry's type and
    /// values, without ids, sorted).
    pub async fn state(&self, e: &str) -> (String, Vec<String>) {
        (
            self.env.read(&format!("central-{e}.csv")),
            directory(self.store.as_ref(), e).await,
        )
    }
}

/// The directory of enterprise `e`: each entry's type and values (no ids), sorted.
pub async fn directory(store: &dyn Store, e: &str) -> Vec<String> {
    let eid = store.ensure_enterprise(e).await.unwrap();
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.entries_page(eid, after, 5_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for entry in page {
            out.push(format!(
                "{} {}",
                entry.object_type,
                serde_json::to_string(&entry.attrs.to_attrs()).unwrap()
            ));
        }
    }
    out.sort();
    out
}

/// A running `ucsync serve` of a hub's store, with an operator's and an admin's token.
pub struct Served {
    pub clock: Arc<ManualClock>,
    pub base: String,
    pub http: reqwest::Client,
    pub operator: String,
    pub admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

async fn token(store: &SqliteStore, name: &str, role: &str) -> String {
    let hash = ucsync_server::auth::hash_password(&format!("{name}-password")).unwrap();
    let id = store.put_admin(name, role, None, &hash).await.unwrap();
    let token = ucsync_server::auth::new_token().unwrap();
    store
        .add_token(id, &ucsync_server::auth::token_hash(&token), "test")
        .await
        .unwrap();
    token
}

impl Served {
    /// Serves `hub` on a free port, the scheduler's clock at `now`.
    pub async fn start(hub: &Hub, now: &str) -> Served {
        let operator = token(&hub.store, "otto", "operator").await;
        let admin = token(&hub.store, "alice", "admin").await;
        let clock = Arc::new(ManualClock::new(now.parse().unwrap()));
        let state = AppState::new(
            hub.engine.clone(),
            Arc::new(ucsync_connectors::Connectors),
            hub.env.path("data/status"),
            clock.clone(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(ucsync_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Served {
            clock,
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            operator,
            admin,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn call(&self, method: &str, path: &str, token: &str) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "POST" => self.http.post(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let resp = req.bearer_auth(token).send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Starts Sync Now of `e` through the API; its run id.
    pub async fn start_sync_now(&self, e: &str) -> i64 {
        let path = format!("/api/v1/enterprises/{e}/sync-now");
        let (status, body) = self.call("POST", &path, &self.operator).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["run_id"].as_i64().unwrap()
    }

    pub async fn run(&self, id: i64) -> Value {
        self.call("GET", &format!("/api/v1/runs/{id}"), &self.operator)
            .await
            .1
    }

    /// Waits for run `id` to end; the run.
    pub async fn wait(&self, id: i64) -> Value {
        for _ in 0..3_000 {
            let run = self.run(id).await;
            if run["status"] != "running" {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("run {id} did not end");
    }

    /// Every run recorded.
    pub async fn runs(&self) -> Vec<Value> {
        let (_, body) = self
            .call("GET", "/api/v1/runs?limit=1000", &self.operator)
            .await;
        body["runs"].as_array().cloned().unwrap_or_default()
    }

    /// Stops the server; every run it started has ended.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// No run is left `running`, and no two runs share an id.
pub fn all_ended(runs: &[Value]) {
    let mut ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "run ids are unique");
    let running: Vec<&Value> = runs.iter().filter(|r| r["status"] == "running").collect();
    assert!(running.is_empty(), "runs left running: {running:#?}");
}
