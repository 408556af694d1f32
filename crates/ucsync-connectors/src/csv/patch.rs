//! Patching the target instead of rewriting it: when an export changes few objects and the
//! target file is laid out as this export would lay it out, the file is copied record by
//! record with the changed rows replaced, the deleted ones left out and the new ones appended.
//! Cost then follows the file's size in bytes, not the decoding of every staged object, and
//! the result is the file a full rewrite would give (rows in staging order). The replacement is
//! atomic like a full export.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;

use ucsync_model::{Attrs, ConnectorError, ImageChange};

use super::config::CsvSettings;
use super::export::{Checks, write_failed};
use super::file::{self, AtomicCsv};
use super::layout::Layout;
use super::reader::Record;

/// Patch only when the changes are at most this share of the target's bytes (one change per
/// this many bytes): beyond it, a full rewrite costs about the same and needs no change list.
const BYTES_PER_CHANGE: u64 = 256;
/// And never hold more changes than this in memory.
const MAX_CHANGES: u64 = 200_000;

/// Whether patching is worth asking the engine for the changes: few of them, and a target
/// whose header is this export's layout.
pub(super) fn worth_it(settings: &CsvSettings, pending: u64) -> bool {
    let target = settings.export_target();
    let Ok(meta) = std::fs::metadata(target) else {
        return false;
    };
    if pending > MAX_CHANGES || pending.saturating_mul(BYTES_PER_CHANGE) > meta.len() {
        return false;
    }
    let Ok(f) = File::open(target) else {
        return false;
    };
    let Ok(Some(mut opened)) = file::open_records(f, settings.encoding, settings.delimiter) else {
        return false;
    };
    match opened.header() {
        Ok(Some(header)) => {
            settings.header.as_ref().is_none_or(|h| *h == header)
                && Layout::from_header(settings, header).is_ok()
        }
        _ => false,
    }
}

/// What a patch did.
pub(super) struct Patched {
    pub rows: u64,
    pub rejected: Vec<(String, String)>,
}

/// Patches the target with `changes`; `None` when the file cannot be patched (its layout is
/// not this export's), and the caller rewrites it whole.
pub(super) fn patch(
    settings: &CsvSettings,
    changes: Vec<ImageChange>,
) -> Result<Option<Patched>, ConnectorError> {
    let target = settings.export_target();
    let failed = |e: io::Error| write_failed(target, e);
    let f = match File::open(target) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let Some(mut opened) =
        file::open_records(f, settings.encoding, settings.delimiter).map_err(failed)?
    else {
        return Ok(None);
    };
    let header = match opened.header() {
        Ok(Some(h)) => h,
        _ => return Ok(None),
    };
    if settings.header.as_ref().is_some_and(|h| *h != header) {
        return Ok(None);
    }
    let Ok(layout) = Layout::from_header(settings, header) else {
        return Ok(None);
    };
    // The changed objects must fit the layout as it is (no new numbered columns).
    let mut numbered: BTreeMap<String, usize> = BTreeMap::new();
    let mut rejected = Vec::new();
    let mut by_anchor: HashMap<String, usize> = HashMap::with_capacity(changes.len());
    // Each changed object's type and attributes; `None` for one being deleted.
    let mut rows: Vec<Option<(String, Attrs)>> = Vec::with_capacity(changes.len());
    let mut checks = Checks::default();
    for change in changes {
        let object = change.attrs.map(|attrs| (change.object_type, attrs));
        if let Some((object_type, attrs)) = &object {
            if let Err(reason) = checks.check(settings, Some(&layout), object_type, attrs) {
                rejected.push((change.anchor, reason));
                continue;
            }
            for (name, values) in attrs.iter() {
                if settings.numbered_prefix(name).is_some() {
                    let most = numbered.entry(name.clone()).or_default();
                    *most = (*most).max(values.len());
                }
            }
        }
        by_anchor.insert(change.anchor, rows.len());
        rows.push(object);
    }
    let names = layout.names.clone();
    let layout = match layout.with_numbered_columns(settings, &numbered) {
        Ok(wider) if wider.names == names => wider,
        _ => return Ok(None),
    };

    let mut out = AtomicCsv::create(
        target,
        settings.delimiter,
        settings.encoding,
        settings.bom,
        false,
    )
    .map_err(failed)?;
    out.write_row(&layout.names).map_err(failed)?;
    let mut used = vec![false; rows.len()];
    let mut written = 0u64;
    let mut record = Record::default();
    while opened.reader.read(&mut record).map_err(failed)? {
        let anchor = layout.anchor(|i| record.get(i).and_then(|b| std::str::from_utf8(b).ok()));
        match anchor.and_then(|a| by_anchor.get(&a).copied()) {
            Some(i) if !used[i] => {
                used[i] = true;
                if let Some((object_type, attrs)) = &rows[i] {
                    out.write_row(layout.fields(settings, object_type, attrs))
                        .map_err(failed)?;
                    written += 1;
                }
            }
            _ => {
                out.write_row(record.iter()).map_err(failed)?;
                written += 1;
            }
        }
    }
    for (i, row) in rows.iter().enumerate() {
        if let (false, Some((object_type, attrs))) = (used[i], row) {
            out.write_row(layout.fields(settings, object_type, attrs))
                .map_err(failed)?;
            written += 1;
        }
    }
    out.commit().map_err(failed)?;
    Ok(Some(Patched {
        rows: written,
        rejected,
    }))
}
