//! `GET /metrics`: Prometheus text exposition (format 0.0.4), computed from the store at each
//! scrape: runs by status, objects processed, run durations, pending work per connector and
//! directory size per enterprise. It needs a viewer token like every endpoint but `/healthz`
//! (Prometheus sends one with `authorization: { credentials: ... }` in its scrape config).
//! This module knows the exposition format and the metric names, not SQL.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ucsync_store::{DURATION_BUCKETS, RunGroup};

use crate::api::{ApiError, AppState};
use crate::auth::Role;
use crate::openapi::Operation;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/metrics", get(metrics))
}

/// The operations of this module, for the OpenAPI document and the authorization test.
pub(crate) fn operations() -> Vec<Operation> {
    vec![Operation {
        method: "get",
        path: "/metrics",
        role: Some("viewer"),
        summary: "Prometheus metrics (text format 0.0.4): runs by status, objects processed, run durations, pending exports and outstanding per-object errors per connector, directory entries per enterprise",
        body: None,
    }]
}

async fn metrics(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    st.require(&headers, Role::Viewer).await?;
    let started = std::time::Instant::now();
    let store = st.store();
    let groups = store.run_groups().await.map_err(ApiError::internal)?;
    let pending = store.pending_work().await.map_err(ApiError::internal)?;
    let entries = store.entry_counts().await.map_err(ApiError::internal)?;
    let errors = store.error_counts().await.map_err(ApiError::internal)?;

    let mut out = Exposition::default();
    out.family("ucsync_build_info", "gauge", "The running ucsync build.");
    out.sample(
        "ucsync_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    runs(&mut out, &groups);
    out.family(
        "ucsync_pending_exports",
        "gauge",
        "Changes waiting to be exported to each connector's external system.",
    );
    for p in &pending {
        let total = p.pending_adds + p.pending_updates + p.pending_deletes;
        out.sample(
            "ucsync_pending_exports",
            &[("connector", &p.connector)],
            total as f64,
        );
    }
    outstanding_errors(&mut out, &pending, &errors);
    out.family(
        "ucsync_pending_exports_by_operation",
        "gauge",
        "Pending exports of each connector by operation (add, update, delete).",
    );
    for p in &pending {
        for (op, n) in [
            ("add", p.pending_adds),
            ("update", p.pending_updates),
            ("delete", p.pending_deletes),
        ] {
            out.sample(
                "ucsync_pending_exports_by_operation",
                &[("connector", &p.connector), ("operation", op)],
                n as f64,
            );
        }
    }
    out.family(
        "ucsync_pending_sync",
        "gauge",
        "Staged objects of each connector changed or deleted since the last sync.",
    );
    for p in &pending {
        out.sample(
            "ucsync_pending_sync",
            &[("connector", &p.connector)],
            p.pending_sync as f64,
        );
    }
    out.family(
        "ucsync_directory_entries",
        "gauge",
        "Entries in each enterprise's directory.",
    );
    for (enterprise, n) in &entries {
        out.sample(
            "ucsync_directory_entries",
            &[("enterprise", enterprise)],
            *n as f64,
        );
    }
    out.family(
        "ucsync_metrics_scrape_seconds",
        "gauge",
        "Time the store took to answer this scrape.",
    );
    out.sample(
        "ucsync_metrics_scrape_seconds",
        &[],
        started.elapsed().as_secs_f64(),
    );

    let mut response = out.text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

/// The run families: counts by status, objects by change, durations, last end.
fn runs(out: &mut Exposition, groups: &[RunGroup]) {
    out.family(
        "ucsync_runs_total",
        "gauge",
        "Runs started on their own (a Sync Now, or one profile on one connector; not the steps of a Sync Now) by status; a running run moves to its final status when it ends.",
    );
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.top_level) {
        *by_status.entry(&g.status).or_default() += g.runs;
    }
    for (status, n) in &by_status {
        out.sample("ucsync_runs_total", &[("status", status)], *n as f64);
    }

    // Per connector and profile: the steps of Sync Now and the runs of one profile. A Sync
    // Now's own counters are the sum of its steps', so it is left out here.
    let connector_groups = || {
        groups
            .iter()
            .filter_map(|g| g.connector.as_deref().map(|c| (c, g)))
    };
    out.family(
        "ucsync_connector_runs_total",
        "gauge",
        "Runs of each connector and profile (as Sync Now steps or on their own) by status.",
    );
    let mut steps: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for (c, g) in connector_groups() {
        *steps.entry((c, &g.profile, &g.status)).or_default() += g.runs;
    }
    for ((c, profile, status), n) in &steps {
        out.sample(
            "ucsync_connector_runs_total",
            &[("connector", c), ("profile", profile), ("status", status)],
            *n as f64,
        );
    }
    out.family(
        "ucsync_objects_processed_total",
        "counter",
        "Objects each connector's runs processed, by profile and change (added, updated, deleted, unchanged), from the counters of ended runs.",
    );
    let mut objects: BTreeMap<(&str, &str), [i64; 5]> = BTreeMap::new();
    for (c, g) in connector_groups() {
        let k = &g.counters;
        let sum = objects.entry((c, &g.profile)).or_default();
        for (i, n) in [k.added, k.updated, k.deleted, k.unchanged, k.errors]
            .into_iter()
            .enumerate()
        {
            sum[i] += n;
        }
    }
    for ((c, profile), sums) in &objects {
        for (change, n) in ["added", "updated", "deleted", "unchanged"]
            .iter()
            .zip(sums)
        {
            out.sample(
                "ucsync_objects_processed_total",
                &[("connector", c), ("profile", profile), ("change", change)],
                *n as f64,
            );
        }
    }
    out.family(
        "ucsync_object_errors_total",
        "counter",
        "Per-object errors in each connector's runs, by profile.",
    );
    for ((c, profile), sums) in &objects {
        out.sample(
            "ucsync_object_errors_total",
            &[("connector", c), ("profile", profile)],
            sums[4] as f64,
        );
    }

    // Durations of ended runs per connector and profile; a Sync Now has connector="".
    out.family(
        "ucsync_run_duration_seconds",
        "histogram",
        "How long ended runs took, per connector and profile (connector=\"\" for Sync Now).",
    );
    let mut durations: BTreeMap<(&str, &str), (Vec<i64>, i64, f64)> = BTreeMap::new();
    for g in groups {
        let key = (g.connector.as_deref().unwrap_or(""), g.profile.as_str());
        let (buckets, count, sum) = durations
            .entry(key)
            .or_insert_with(|| (vec![0; DURATION_BUCKETS.len()], 0, 0.0));
        for (b, n) in buckets.iter_mut().zip(&g.duration_buckets) {
            *b += n;
        }
        *count += g.finished;
        *sum += g.duration_sum;
    }
    for ((c, profile), (buckets, count, sum)) in &durations {
        if *count == 0 {
            continue;
        }
        for (bound, n) in DURATION_BUCKETS.iter().zip(buckets) {
            let le = bound.to_string();
            out.sample(
                "ucsync_run_duration_seconds_bucket",
                &[("connector", c), ("profile", profile), ("le", &le)],
                *n as f64,
            );
        }
        let labels = [("connector", *c), ("profile", *profile)];
        out.sample(
            "ucsync_run_duration_seconds_bucket",
            &[labels[0], labels[1], ("le", "+Inf")],
            *count as f64,
        );
        out.sample("ucsync_run_duration_seconds_sum", &labels, *sum);
        out.sample("ucsync_run_duration_seconds_count", &labels, *count as f64);
    }

    out.family(
        "ucsync_run_last_end_timestamp_seconds",
        "gauge",
        "When the last run of each enterprise, connector (\"\" for Sync Now), profile and status ended (Unix time).",
    );
    for g in groups {
        if let Some(t) = g.last_end {
            out.sample(
                "ucsync_run_last_end_timestamp_seconds",
                &[
                    ("enterprise", &g.enterprise),
                    ("connector", g.connector.as_deref().unwrap_or("")),
                    ("profile", &g.profile),
                    ("status", &g.status),
                ],
                t,
            );
        }
    }
}

/// Text exposition format 0.0.4.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(k);
                self.text.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.text.push_str("\\\\"),
                        '"' => self.text.push_str("\\\""),
                        '\n' => self.text.push_str("\\n"),
                        c => self.text.push(c),
                    }
                }
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// `ucsync_outstanding_errors{connector,step}`: every connector the store knows, each step,
/// 0 included, so a series falls to 0 when its errors are fixed rather than vanishing.
fn outstanding_errors(
    out: &mut Exposition,
    pending: &[ucsync_store::PendingWork],
    errors: &[ucsync_store::ErrorCount],
) {
    out.family(
        "ucsync_outstanding_errors",
        "gauge",
        "Per-object errors outstanding for each connector and step: objects a step rejected and no run has fixed since.",
    );
    let mut by: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for p in pending {
        for step in ucsync_store::ErrorStep::ALL {
            by.insert((p.connector.as_str(), step.as_str()), 0);
        }
    }
    for e in errors {
        by.insert((e.connector.as_str(), e.step.as_str()), e.count);
    }
    for ((connector, step), n) in by {
        out.sample(
            "ucsync_outstanding_errors",
            &[("connector", connector), ("step", step)],
            n as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_store::Counters;

    fn group(connector: Option<&str>, profile: &str, status: &str, runs: i64) -> RunGroup {
        let mut buckets = vec![runs; DURATION_BUCKETS.len()];
        buckets[0] = 0;
        RunGroup {
            enterprise: "default".into(),
            connector: connector.map(Into::into),
            profile: profile.into(),
            status: status.into(),
            top_level: connector.is_none(),
            runs,
            counters: Counters {
                added: 3 * runs,
                updated: runs,
                ..Counters::default()
            },
            finished: runs,
            duration_sum: 0.25 * runs as f64,
            duration_buckets: buckets,
            last_end: Some(1_700_000_000.5),
        }
    }

    #[test]
    fn runs_are_exposed_with_escaped_labels_and_cumulative_buckets() {
        let mut out = Exposition::default();
        runs(
            &mut out,
            &[
                group(None, "sync-now", "success", 2),
                group(Some("h\"r\\x"), "delta-import", "success", 2),
                group(Some("h\"r\\x"), "delta-import", "failed", 1),
            ],
        );
        let text = out.text;
        assert!(text.contains("# TYPE ucsync_runs_total gauge\n"), "{text}");
        assert!(
            text.contains("\nucsync_runs_total{status=\"success\"} 2\n"),
            "{text}"
        );
        assert!(
            !text.contains("ucsync_runs_total{status=\"failed\"}"),
            "{text}"
        );
        assert!(text.contains(
            "ucsync_objects_processed_total{connector=\"h\\\"r\\\\x\",profile=\"delta-import\",change=\"added\"} 9\n"
        ), "{text}");
        assert!(text.contains(
            "ucsync_run_duration_seconds_bucket{connector=\"\",profile=\"sync-now\",le=\"0.1\"} 0\n"
        ), "{text}");
        assert!(text.contains(
            "ucsync_run_duration_seconds_bucket{connector=\"\",profile=\"sync-now\",le=\"+Inf\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "ucsync_run_duration_seconds_sum{connector=\"h\\\"r\\\\x\",profile=\"delta-import\"} 0.75\n"
        ), "{text}");
        assert!(text.contains("ucsync_run_last_end_timestamp_seconds{enterprise=\"default\",connector=\"\",profile=\"sync-now\",status=\"success\"} 1700000000.5\n"), "{text}");
    }
}
