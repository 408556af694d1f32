//! What `ucsync check` sees of a csv connector's files without importing them: whether the
//! file is there, whether its header has the key and object type columns the settings name,
//! which attributes its rows give, and whether export can write its target.
//!
//! Only the header line is read. This module knows nothing of rules: the caller decides what a
//! missing file means for a connector that only exports to it.

use std::fs::File;
use std::io::ErrorKind;

use ucsync_model::SourceView;

use super::config::CsvSettings;
use super::file::{self, HeaderError};
use super::layout::Layout;

pub(super) fn inspect(settings: &CsvSettings) -> SourceView {
    let mut view = SourceView::default();
    let path = settings.import_source();
    let shown = path.display();
    let target = settings.export_target();
    let dir = file::parent_dir(target);
    if !dir.is_dir() {
        view.warnings.push(format!(
            "the directory {} of {} does not exist, so export cannot write there; create it or fix {} in the connector settings",
            dir.display(),
            target.display(),
            if settings.export_path.is_some() {
                "export_path"
            } else {
                "path"
            }
        ));
    }
    let mut header = None;
    match File::open(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            view.absent = Some(format!(
                "{shown} does not exist, so importing it fails until it is there; fix path in the connector settings or put the file there"
            ));
        }
        Err(e) => view.warnings.push(format!(
            "cannot read {shown}: {e}; check that ucsync may read it"
        )),
        Ok(f) => match file::open_records(f, settings.encoding, settings.delimiter) {
            Err(e) => view
                .warnings
                .push(format!("cannot read {shown}: {e}; check the file")),
            Ok(None) => view.warnings.push(format!(
                "{shown} is UTF-16 big-endian, which is not read; save it as UTF-16 LE or UTF-8"
            )),
            Ok(Some(mut opened)) => match opened.header() {
                Ok(Some(names)) => header = Some((names, format!("the header of {shown}"))),
                Ok(None) => {
                    view.absent = Some(format!(
                        "{shown} is empty (no header line), so importing it fails until it has one; check the program that writes it"
                    ));
                }
                Err(HeaderError::Io(e)) => view
                    .warnings
                    .push(format!("cannot read {shown}: {e}; check the file")),
                Err(HeaderError::Quoting(damage)) => view.warnings.push(format!(
                    "the header line of {shown} cannot be read: {damage}; fix it"
                )),
                Err(HeaderError::BadText(column)) => view.warnings.push(format!(
                    "the header line of {shown} is not valid {} (column {column}); fix encoding in the connector settings or save the file again",
                    opened.encoding.name()
                )),
            },
        },
    }
    // Before the first export, the header setting says what the file will hold.
    if header.is_none()
        && view.absent.is_some()
        && let Some(names) = &settings.header
    {
        header = Some((names.clone(), "the header setting".to_owned()));
    }
    if let Some((names, from)) = header {
        match Layout::from_header(settings, names) {
            Ok(layout) => {
                let mut attributes: std::collections::BTreeSet<String> =
                    layout.attribute_names().map(str::to_owned).collect();
                attributes.extend(settings.numbered.values().cloned());
                view.attributes = Some(attributes);
                view.from = from;
            }
            Err(m) => view.warnings.push(format!("{from}: {m}")),
        }
    }
    view
}
