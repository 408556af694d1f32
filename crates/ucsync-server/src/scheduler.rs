//! The scheduler of `ucsync serve`: starts the runs the [`Planner`] says are due, at most one
//! at a time per enterprise. A run due while one is in progress is skipped, and the skip is
//! recorded as a run with status `skipped`. The slot each schedule last fired for is kept in
//! the store, so a restart after downtime owes at most one catch-up run.
//!
//! Time comes from the state's [`Clock`](crate::Clock); the loop looks at it at least once a
//! second, so a test that moves a [`ManualClock`](crate::ManualClock) sees runs start within
//! a second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ucsync_engine::Profile;
use ucsync_model::config::ScheduleConfig;
use ucsync_model::schedule::{Schedule, ScheduleError};
use ucsync_store::{Counters, NewRun, RunEnd, ScheduleState};

use crate::api::AppState;
use crate::api::runs::{StartError, start_run};
use crate::planner::{Due, Planner};

/// The server's own time zone, for schedules that name none.
pub fn server_zone() -> TimeZone {
    TimeZone::system()
}

pub fn server_zone_name() -> String {
    server_zone().iana_name().unwrap_or("UTC").to_owned()
}

/// A schedule's rule in its time zone (the server's when it names none).
pub fn parse(s: &ScheduleConfig) -> Result<Schedule, ScheduleError> {
    let tz = match &s.time_zone {
        Some(name) => TimeZone::get(name).map_err(|e| ScheduleError {
            text: s.when.clone(),
            message: format!("time zone {name}: {e}"),
        })?,
        None => server_zone(),
    };
    // Validation asks for a `from` date wherever one matters; 1970-01-01 is never used.
    Schedule::parse(&s.when, tz, jiff::civil::date(1970, 1, 1))
}

/// Runs until the server stops asking for runs.
pub async fn run(st: Arc<AppState>) {
    let mut planner = Planner::new();
    let mut loaded: BTreeMap<String, ScheduleConfig> = BTreeMap::new();
    let mut first = true;
    loop {
        if st.stop.requested() {
            return;
        }
        let changed = st.config_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        reload(&st, &mut planner, &mut loaded, first).await;
        first = false;
        let now = st.clock.now();
        for due in planner.due(now) {
            if let Some(s) = loaded.get(&due.id) {
                fire(&st, &due, s).await;
            }
        }
        let wait = planner
            .next_wakeup()
            .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut changed => {}
        }
    }
}

/// Brings the planner in line with the configuration. At start each schedule gets the slot it
/// last fired for (a catch-up run is owed if a later slot passed while the server was down); a
/// schedule added or changed later starts from its next slot.
async fn reload(
    st: &AppState,
    planner: &mut Planner,
    loaded: &mut BTreeMap<String, ScheduleConfig>,
    first: bool,
) {
    let engine = st.engine();
    let schedules = &engine.config().schedules;
    if !first && *schedules == *loaded {
        return;
    }
    let states = if first {
        st.store().schedule_states().await.unwrap_or_else(|e| {
            tracing::warn!("cannot read the schedules' last slots ({e}); no catch-up runs");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let now = st.clock.now();
    for name in loaded.keys() {
        if !schedules.contains_key(name) {
            planner.remove(name);
        }
    }
    for (name, s) in schedules {
        if loaded.get(name) == Some(s) {
            continue;
        }
        match parse(s) {
            Ok(schedule) => {
                let last = states
                    .iter()
                    .find(|x| &x.name == name)
                    .and_then(|x| x.last_slot.parse::<Timestamp>().ok());
                planner.set(name, schedule, s.enabled, last, now);
            }
            Err(e) => {
                tracing::warn!("schedule {name} is not used: {e}");
                planner.remove(name);
            }
        }
    }
    *loaded = schedules.clone();
}

/// Starts the run of a due schedule, or records why it did not start.
async fn fire(st: &Arc<AppState>, due: &Due, s: &ScheduleConfig) {
    let engine = st.engine();
    let Some(enterprise) = s.target_enterprise(engine.config()) else {
        return;
    };
    let connector = match &s.connector {
        Some(name) => match s.profile_name().parse::<Profile>() {
            Ok(profile) => Some((name.clone(), profile)),
            Err(e) => {
                tracing::warn!("schedule {}: {e}", due.id);
                return;
            }
        },
        None => None,
    };
    let catch_up = if due.catch_up {
        " (catch-up: the server was down at that time)"
    } else {
        ""
    };
    let (run_id, note) = match start_run(
        st,
        enterprise.clone(),
        connector,
        None,
        crate::auth::SCHEDULER.to_owned(),
    )
    .await
    {
        Ok(id) => {
            tracing::info!("schedule {} started run {id}{catch_up}", due.id);
            (Some(id), format!("started run {id}{catch_up}"))
        }
        // Shutting down: the slot stays owed, and the next start catches it up.
        Err(StartError::Stopping) => return,
        Err(StartError::Busy(other)) => {
            let other = other.map(|id| format!(" {id}")).unwrap_or_default();
            let message = format!(
                "schedule {} was due at {} while run{other} of enterprise {enterprise} was in progress; skipped, because runs of an enterprise never overlap",
                due.id, due.slot
            );
            tracing::warn!("{message}");
            let id = record_skip(st, &enterprise, s, &message).await;
            (id, format!("skipped: run{other} was in progress"))
        }
        Err(StartError::Failed(message)) => {
            tracing::warn!("schedule {}: the run did not start: {message}", due.id);
            (None, format!("did not start: {message}"))
        }
    };
    let state = ScheduleState {
        name: due.id.clone(),
        last_slot: due.slot.to_string(),
        run_id,
        note: Some(note),
    };
    if let Err(e) = st.store().put_schedule_state(&state).await {
        tracing::warn!("schedule {}: cannot record its last slot: {e}", due.id);
    }
}

/// A run record with status `skipped`, so the runs list shows the skip.
async fn record_skip(
    st: &AppState,
    enterprise: &str,
    s: &ScheduleConfig,
    message: &str,
) -> Option<i64> {
    let store = st.store();
    let now = st.clock.now().to_string();
    let run = NewRun {
        parent_id: None,
        enterprise: enterprise.to_owned(),
        connector: s.connector.clone(),
        profile: s.profile_name().to_owned(),
        started_at: now.clone(),
        started_by: crate::auth::SCHEDULER.to_owned(),
    };
    let id = store.create_run(run).await.ok()?;
    let end = RunEnd {
        status: "skipped".to_owned(),
        ended_at: now,
        counters: Counters::default(),
        message: Some(message.to_owned()),
        status_file: None,
    };
    store.finish_run(id, end).await.ok()?;
    Some(id)
}
