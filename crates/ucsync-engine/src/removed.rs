//! A configuration that leaves a connector out: the connector goes whole or not at all.
//!
//! Taking a connector out of the configuration (a file applied at start, `config apply`, the
//! API) would leave its staging space and the directory entries it owns behind, touched only
//! when another connector touches them. So a configuration that leaves out a connector whose
//! staging space still holds objects is refused, and the message names `connector delete`,
//! which previews, holds to the deletion threshold and takes the connector out once its
//! entries and staging space are gone. A left-out connector that holds nothing is forgotten.

use ucsync_model::Config;
use ucsync_store::Store;

use crate::EngineError;

/// Checks `new`, about to replace the configuration, against the connectors the store holds:
/// `Err` naming every left-out connector that still has staged objects (nothing is changed);
/// otherwise, with `forget`, the left-out connectors (which hold nothing) are forgotten, so a
/// connector of the same name added later starts afresh.
pub async fn connectors_left_out(
    store: &dyn Store,
    new: &Config,
    forget: bool,
) -> Result<(), EngineError> {
    let mut refused = Vec::new();
    let mut empty = Vec::new();
    for row in store.connectors().await? {
        if new.connectors.contains_key(&row.name) {
            continue;
        }
        let counts = store.count_staged(row.id, true).await?;
        if counts.total > 0 {
            refused.push(format!(
                "connector {} is left out of the configuration but its staging space still holds {} object{} (with their links to the directory entries it owns); delete it with `ucsync connector delete {}` (API: DELETE /api/v1/connectors/{}), which shows what goes with --preview and holds to the deletion threshold, then apply the configuration without it",
                row.name,
                counts.total,
                if counts.total == 1 { "" } else { "s" },
                row.name,
                row.name
            ));
        } else {
            empty.push(row.name);
        }
    }
    if !refused.is_empty() {
        return Err(EngineError::Usage(refused.join("; ")));
    }
    if forget {
        for name in empty {
            store.remove_connector(&name).await?;
        }
    }
    Ok(())
}
