//! The `csv` connector: a delimited text file (UTF-8 or UTF-16 LE) that is imported as a
//! complete listing of objects and written back whole on export, in the target's own column
//! layout (renamed or dropped columns, numbered columns such as `TC1…TCn`, multi-valued cells).
//! Every import can write a status file with one row per input row.
//!
//! This module wires the settings ([`config`]), the column mapping ([`layout`]), the bytes on
//! disk ([`file`]), [`import`] and [`export`] into one [`Connector`]. It knows nothing of the
//! directory, the rules or the store: it only talks to the engine through the model's traits.

mod config;
mod export;
mod file;
mod import;
mod inspect;
mod layout;
mod patch;
pub(crate) mod reader;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ExportStyle, ImageSource, ImageSummary,
    ImportRequest, ImportSink, ImportSummary, SourceView,
};

pub use config::{CsvSettings, CsvSettingsAsWritten, FileEncoding, ObjectTypes};
pub(crate) use config::{delimiter_setting, encoding_setting};
pub(crate) use file::sniff_bom;

use crate::Kind;

/// What a csv connector can do: it lists the whole file on every import and rewrites the whole
/// file on export.
pub const CAPABILITIES: Capabilities = Capabilities {
    delta_import: false,
    export: Some(ExportStyle::Image),
    retains_referenced_numbers: false,
    one_way: false,
};

/// The registry entry of the `csv` kind.
pub(crate) const KIND: Kind = Kind {
    name: "csv",
    capabilities: CAPABILITIES,
    synchronizer: None,
    validate: crate::settings::validate::<CsvSettings>,
    build: crate::build_kind::<CsvSettings, CsvConnector>,
    secrets: &[],
    references: None,
    lent: &[],
    default_schedule: None,
    suggested_import_flows: &[],
};

impl crate::FromSettings<CsvSettings> for CsvConnector {
    fn from_settings(name: &str, settings: CsvSettings) -> Self {
        Self::new(name, settings)
    }
}

/// One configured csv connector.
#[derive(Debug, Clone)]
pub struct CsvConnector {
    name: String,
    settings: Arc<CsvSettings>,
}

impl CsvConnector {
    /// A connector over validated settings whose paths are already absolute (or meant relative
    /// to the working directory).
    pub fn new(name: &str, settings: CsvSettings) -> Self {
        Self {
            name: name.to_owned(),
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &CsvSettings {
        &self.settings
    }
}

/// The anchor a row with these attributes has: the values of the key columns' attributes,
/// trimmed and joined with `|` (exactly what import computes from the cells).
pub(crate) fn anchor_for(
    settings: &CsvSettings,
    object_type: &str,
    attrs: &Attrs,
) -> Result<String, String> {
    let allowed = settings.allowed_types();
    if !allowed.iter().any(|t| t == object_type) {
        return Err(format!(
            "object type \"{object_type}\" is not one this csv connector writes; allowed: {}",
            allowed.join(", ")
        ));
    }
    let mut parts = Vec::with_capacity(settings.key.len());
    for column in &settings.key {
        let attr = settings.key_attr(column);
        match attrs.get(&attr) {
            [value] if !value.trim().is_empty() => parts.push(value.trim()),
            [_, _, ..] => {
                return Err(format!(
                    "attribute \"{attr}\" (key column \"{column}\") has {} values; a key column holds exactly one",
                    attrs.get(&attr).len()
                ));
            }
            _ => {
                return Err(format!(
                    "attribute \"{attr}\" (key column \"{column}\") has no value; every row needs its key column(s) {} filled in",
                    settings.key.join(", ")
                ));
            }
        }
    }
    Ok(parts.join("|"))
}

/// Runs blocking file work off the async threads.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T, ConnectorError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ConnectorError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ConnectorError::Unavailable(format!(
            "a file task of the csv connector stopped unexpectedly ({e}); run it again, and report it if it repeats"
        ))
    })?
}

#[async_trait]
impl Connector for CsvConnector {
    fn kind(&self) -> &'static str {
        "csv"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn object_types(&self) -> Vec<String> {
        self.settings.allowed_types().to_vec()
    }

    fn export_settings(&self) -> String {
        let s = &self.settings;
        format!(
            "target={:?} header={:?} bom={} object_types={:?} delimiter={} encoding={:?} columns={:?} numbered={:?} multi_valued={:?}",
            s.export_target(),
            s.header,
            s.bom,
            s.object_types,
            s.delimiter,
            s.encoding,
            s.columns,
            s.numbered,
            s.multi_valued
        )
    }

    fn import_settings(&self) -> String {
        // Not `header`, `bom` or `status_file`: they change what export writes, not what
        // import reads. The export target is read once it exists.
        let s = &self.settings;
        format!(
            "path={:?} export_path={:?} object_types={:?} delimiter={} encoding={:?} key={:?} columns={:?} numbered={:?} multi_valued={:?}",
            s.path,
            s.export_path,
            s.object_types,
            s.delimiter,
            s.encoding,
            s.key,
            s.columns,
            s.numbered,
            s.multi_valued
        )
    }

    fn anchor_for(&self, object_type: &str, attrs: &Attrs) -> Result<String, String> {
        anchor_for(&self.settings, object_type, attrs)
    }

    async fn check_connection(&self) -> Result<(), ConnectorError> {
        let settings = Arc::clone(&self.settings);
        blocking(move || check_files(&settings)).await
    }

    async fn inspect(&self) -> SourceView {
        let settings = Arc::clone(&self.settings);
        blocking(move || Ok(inspect::inspect(&settings)))
            .await
            .unwrap_or_else(|e| SourceView {
                warnings: vec![e.to_string()],
                ..SourceView::default()
            })
    }

    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        import::import(&self.name, &self.settings, request, sink).await
    }

    async fn export_image(
        &self,
        source: &mut dyn ImageSource,
    ) -> Result<ImageSummary, ConnectorError> {
        export::export_image(&self.name, &self.settings, source).await
    }
}

/// The import file, when it exists, can be read; the export target's directory exists and
/// accepts new files.
fn check_files(settings: &CsvSettings) -> Result<(), ConnectorError> {
    let path = &settings.path;
    match std::fs::File::open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = file::parent_dir(path);
            if !dir.is_dir() {
                return Err(ConnectorError::Unavailable(format!(
                    "the directory {} of the CSV file {} does not exist; create it or fix path in the connector settings",
                    dir.display(),
                    path.display()
                )));
            }
        }
        Err(e) => {
            return Err(ConnectorError::Unavailable(format!(
                "cannot read the CSV file {}: {e}; check that ucsync may read it",
                path.display()
            )));
        }
    }
    let target = settings.export_target();
    let dir = file::parent_dir(target);
    if !dir.is_dir() {
        return Err(ConnectorError::Unavailable(format!(
            "the directory {} for {} does not exist; create it or fix {} in the connector settings",
            dir.display(),
            target.display(),
            if settings.export_path.is_some() {
                "export_path"
            } else {
                "path"
            }
        )));
    }
    tempfile::Builder::new()
        .prefix(".ucsync-check.")
        .tempfile_in(&dir)
        .map(drop)
        .map_err(|e| {
            ConnectorError::Unavailable(format!(
                "cannot create files in {} (needed to write {} on export): {e}; check the directory's permissions",
                dir.display(),
                target.display()
            ))
        })
}
