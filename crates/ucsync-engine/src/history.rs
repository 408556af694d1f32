//! The run history of an enterprise: runs older than `run_history_days` are removed when a
//! run of the enterprise starts.

use ucsync_store::Store;

use crate::Engine;

/// Removes the enterprise's runs older than its run history (`run_history_days`). A failure
/// is logged and the run goes on: the history is trimmed again by the next one.
pub(crate) async fn remove_old_runs(store: &dyn Store, engine: &Engine, enterprise: &str) {
    let days = engine
        .config
        .enterprises
        .get(enterprise)
        .map_or(ucsync_model::config::DEFAULT_RUN_HISTORY_DAYS, |e| {
            e.run_history_days()
        });
    let Ok(cutoff) =
        jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(24 * days))
    else {
        return;
    };
    match store
        .remove_runs_before(enterprise, &crate::run::stamp(cutoff))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            enterprise,
            days,
            runs = n,
            "runs older than the run history removed"
        ),
        Err(e) => tracing::warn!(enterprise, "cannot remove runs older than {days} days: {e}"),
    }
}
