//! Tests of the csv connector against real files in temporary directories, through the same
//! [`ConnectorFactory`] the engine uses. The sink and the image source here are small in-memory
//! stand-ins for the engine.

mod config;
mod damaged;
mod export;
mod import;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ucsync_model::{
    Attrs, Connector, ConnectorFactory, ImageObject, ImageSource, ImportMode, ImportRequest,
    ImportSummary, SinkError,
};

use crate::Connectors;
pub use crate::test_sink::MemorySink;

/// An image given in batches; optionally fails instead of giving the batch at `fail_at`.
pub struct VecSource {
    batches: VecDeque<Vec<ImageObject>>,
    fail_at: Option<usize>,
    given: usize,
}

impl VecSource {
    pub fn new(objects: Vec<ImageObject>, batch: usize) -> Self {
        let mut batches = VecDeque::new();
        let mut it = objects.into_iter().peekable();
        while it.peek().is_some() {
            batches.push_back(it.by_ref().take(batch).collect());
        }
        Self {
            batches,
            fail_at: None,
            given: 0,
        }
    }

    pub fn failing_at(mut self, batch: usize) -> Self {
        self.fail_at = Some(batch);
        self
    }
}

#[async_trait]
impl ImageSource for VecSource {
    /// Unknown: the connector writes the whole image, as these tests expect.
    fn pending(&self) -> u64 {
        u64::MAX
    }

    async fn changes(&mut self) -> Result<Vec<ucsync_model::ImageChange>, SinkError> {
        Err(SinkError("this source gives whole images only".to_owned()))
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<ImageObject>>, SinkError> {
        if self.fail_at == Some(self.given) {
            return Err(SinkError("the store went away".to_owned()));
        }
        self.given += 1;
        Ok(self.batches.pop_front())
    }
}

/// Attributes from `(name, values)` pairs.
pub fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs
        .iter()
        .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect()
}

pub fn image(anchor: &str, object_type: &str, a: Attrs) -> ImageObject {
    ImageObject {
        anchor: anchor.to_owned(),
        object_type: object_type.to_owned(),
        attrs: (&a).into(),
    }
}

/// A csv connector built by the factory from TOML settings, with `dir` as the base directory.
pub fn connector(dir: &Path, settings: &str) -> Arc<dyn Connector> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors.build("test", "csv", &table, dir).unwrap()
}

pub fn request(
    mode: ImportMode,
    watermark: Option<String>,
    status: Option<PathBuf>,
) -> ImportRequest {
    ImportRequest {
        mode,
        watermark,
        status_file: status,
        absent_is_empty: false,
    }
}

pub async fn full_import(c: &dyn Connector, sink: &mut MemorySink) -> ImportSummary {
    c.import(request(ImportMode::Full, None, None), sink)
        .await
        .unwrap()
}

/// `text` as UTF-16 LE bytes with a BOM.
pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// UTF-16 LE bytes (after a BOM, which must be there) as text.
pub fn from_utf16le(bytes: &[u8]) -> String {
    assert_eq!(&bytes[..2], [0xFF, 0xFE], "no UTF-16 LE BOM");
    let units: Vec<u16> = bytes[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

/// The names of the files in `dir`.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
