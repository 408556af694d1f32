//! Import: reads the whole export (a PBX node's export is small), skips it when a delta import
//! finds the content of the last import, builds the accounts and hands them, their warnings and
//! their errors to the engine's sink, then ends the listing so that accounts no longer in the
//! export are deleted (none when a row or an account was in error: the listing is incomplete).
//!
//! The file is read and the rules applied on a blocking thread; this side only talks to the
//! sink. This module knows nothing of how the engine stages objects.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ucsync_model::{
    ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
    RecordStatus,
};
use xxhash_rust::xxh3::xxh3_64;

use super::config::PbxSettings;
use super::rules::{self, Built};
use super::{ACCOUNT, blocking, records};

/// What a delta import compares: the export's length and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Watermark {
    len: u64,
    xxh3: String,
}

impl Watermark {
    fn of(bytes: &[u8]) -> Self {
        Self {
            len: bytes.len() as u64,
            xxh3: format!("{:016x}", xxh3_64(bytes)),
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The export file, opened for reading.
pub(super) fn open(path: &Path) -> Result<std::fs::File, ConnectorError> {
    std::fs::File::open(path).map_err(|e| {
        ConnectorError::Unavailable(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "cannot import {}: the file does not exist; export the PBX node's numbers there or fix path in the connector settings",
                path.display()
            )
        } else {
            format!(
                "cannot open {} to import it: {e}; check that ucsync may read it",
                path.display()
            )
        })
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ConnectorError> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(|e| {
        ConnectorError::Unavailable(format!(
            "reading {} failed: {e}; check the file and the disk, then run the import again",
            path.display()
        ))
    })?;
    Ok(bytes)
}

pub(super) async fn import(
    name: &str,
    settings: &Arc<PbxSettings>,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    let path = settings.path.clone();
    let bytes = blocking(move || read(&path)).await?;
    let mark = Watermark::of(&bytes);
    let mut notes = Vec::new();
    if request.mode == ImportMode::Delta
        && let Some(old) = request.watermark.as_deref()
    {
        match serde_json::from_str::<Watermark>(old) {
            Ok(old_mark) if old_mark == mark => {
                tracing::info!(connector = name, path = %settings.path.display(), "PBX export unchanged since the last import; nothing read");
                return Ok(ImportSummary {
                    watermark: Some(old.to_owned()),
                    skipped_unchanged: true,
                    note: Some("the export has not changed since the last import".to_owned()),
                });
            }
            Ok(_) => {}
            Err(_) => notes.push(
                "the previous watermark was not understood; the whole export was read".to_owned(),
            ),
        }
    }

    let s = Arc::clone(settings);
    let (built, skipped) = blocking(move || {
        let parsed = records::parse(&s, &bytes)?;
        let built = rules::build_accounts(s.flavor, &parsed.rows, &parsed.bad);
        Ok((built, parsed.skipped_not_dynamic))
    })
    .await?;
    let Built {
        accounts,
        warnings,
        errors,
    } = built;

    let (mut created, mut updated, mut unchanged, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    for account in accounts {
        let status = sink
            .object(ImportRecord {
                anchor: account.anchor,
                object_type: ACCOUNT.to_owned(),
                attrs: account.attrs,
                locator: Some(account.locator),
            })
            .await?;
        match status {
            RecordStatus::Created => created += 1,
            RecordStatus::Updated => updated += 1,
            RecordStatus::Unchanged => unchanged += 1,
            RecordStatus::Error(_) => rejected += 1,
        }
    }
    let warning_count = warnings.len();
    for w in warnings {
        sink.warning(w.anchor, w.locator, w.message).await?;
    }
    let error_count = errors.len();
    for e in errors {
        sink.error(e.anchor, e.locator, e.message).await?;
    }
    // Any error above makes the listing incomplete: the engine then deletes nothing.
    let deleted = sink.end_of_listing().await?.deleted.len();

    if skipped > 0 {
        notes.push(format!(
            "{skipped} number{} skipped: not dynamic extensions (dynamic_extensions_only)",
            if skipped == 1 { "" } else { "s" }
        ));
    }
    tracing::info!(
        connector = name,
        path = %settings.path.display(),
        flavor = settings.flavor.name(),
        created,
        updated,
        unchanged,
        rejected,
        errors = error_count,
        warnings = warning_count,
        deleted,
        skipped_not_dynamic = skipped,
        "PBX import finished"
    );
    Ok(ImportSummary {
        watermark: Some(mark.to_json()),
        skipped_unchanged: false,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}
