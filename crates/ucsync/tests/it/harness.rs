//! A private working directory per test, and helpers to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::cargo_bin("ucsync").unwrap();
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.path("ucsync.toml"))
            .arg("--data-dir")
            .arg(self.path("data"))
            .args(args)
            .env_remove("UCSYNC_LOG")
            // The secret key is the data directory's own unless a test names another.
            .env_remove("UCSYNC_SECRET_KEY_FILE")
            .env_remove("CREDENTIALS_DIRECTORY");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and returns the JSON it printed, checking the exit code.
    pub fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "ucsync {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The counters of one step of a sync-now report.
    pub fn step<'a>(report: &'a Value, connector: &str, profile: &str) -> &'a Value {
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["connector"] == connector && s["profile"] == profile)
            .unwrap_or_else(|| panic!("no step {connector} {profile} in {report:#}"))
    }

    /// The directory as a sorted list of attribute maps (entry ids left out).
    pub fn directory(&self) -> Vec<Value> {
        let v = self.json(&["directory", "search", "--limit", "10000000"], 0);
        let mut list: Vec<Value> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::json!({"type": e["type"], "attributes": e["attributes"]}))
            .collect();
        list.sort_by_key(|v| v.to_string());
        list
    }

    /// Waits until `child` (a command of this env) has recorded a run that `wanted` accepts
    /// (the store exists and lists it); fails if the child ended first, which means the work
    /// given to it was too small to catch it running.
    pub fn wait_for_run(&self, child: &mut std::process::Child, wanted: impl Fn(&Value) -> bool) {
        let started = std::time::Instant::now();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
            if self.path("data/ucsync.db").exists() {
                let out = self.run(&["--json", "runs"]);
                let listed: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
                if listed.as_array().is_some_and(|l| l.iter().any(&wanted)) {
                    break;
                }
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no run started"
            );
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be caught running; give it more to do"
        );
    }
}

pub fn counters(step: &Value) -> [i64; 5] {
    let c = &step["counters"];
    ["added", "updated", "deleted", "unchanged", "errors"].map(|k| c[k].as_i64().unwrap())
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `n` people as CSV: employeeId,givenName,sn,mail,telephoneNumber,department.
pub fn people(n: usize, offset: usize) -> String {
    let mut s = String::from("employeeId,givenName,sn,mail,telephoneNumber,department\n");
    for i in offset..offset + n {
        s.push_str(&format!(
            "{i},Given{i},Sur{i},user{i}@forest.example,+1 555 {i:07},Dept{}\n",
            i % 17
        ));
    }
    s
}

/// A forest → central configuration with a given deletion threshold.
pub fn forest_central_config(threshold: &str, extra_forest: &str, extra_central: &str) -> String {
    format!(
        r#"version = 1

[enterprises.default]
sync_order = ["central", "forest"]
deletion_threshold = {threshold}

[connectors.forest]
kind = "csv"
[connectors.forest.settings]
path = "forest.csv"
key = ["employeeId"]
{extra_forest}
[connectors.forest.rules]
projection = {{ person = "person" }}
[connectors.forest.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
displayName = '"${{givenName}} ${{sn}}"'
mail = "mail"
telephoneNumber = "telephoneNumber"
department = "department"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["externalId"]
header = ["externalId", "email", "displayName", "phone", "department"]
{extra_central}
[connectors.central.rules]
join = [{{ staged = "externalId", directory = "uid" }}]
provisioning = [{{ from = "person", object_type = "contact" }}]
[connectors.central.rules.export_flows]
externalId = "uid"
email = 'rewrite_domain(mail, "acme.com")'
displayName = "displayName"
phone = "telephoneNumber"
department = "department"
"#
    )
}
