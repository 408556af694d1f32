//! Export: writes the whole target file from the image the engine streams, in the target's
//! column layout (the `header` setting, else the existing file's header, else one made up from
//! the key columns and the attributes seen). The file is replaced atomically: readers see the
//! old file or the new one, never half of it, even when ucsync is killed.
//!
//! The image is spooled to an unnamed temporary file first, because the layout (how many
//! numbered columns, which attributes) is known only once every object has been seen; memory
//! stays flat however large the image. This module knows nothing of how the engine builds the
//! image.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use ucsync_model::{Attrs, ConnectorError, ImageObject, ImageSource, ImageSummary};

use super::config::CsvSettings;
use super::file::{self, AtomicCsv, HeaderError};
use super::layout::Layout;
use super::{anchor_for, blocking};

pub(super) async fn export_image(
    name: &str,
    settings: &Arc<CsvSettings>,
    source: &mut dyn ImageSource,
) -> Result<ImageSummary, ConnectorError> {
    let pending = source.pending();
    let s = Arc::clone(settings);
    if blocking(move || Ok(super::patch::worth_it(&s, pending))).await? {
        let changes = source.changes().await?;
        let s = Arc::clone(settings);
        if let Some(done) = blocking(move || super::patch::patch(&s, changes)).await? {
            tracing::info!(
                connector = name,
                path = %settings.export_target().display(),
                rows = done.rows,
                rejected = done.rejected.len(),
                "csv export finished (patched in place)"
            );
            return Ok(ImageSummary {
                objects: done.rows,
                rejected: done.rejected,
            });
        }
        // The changes need a wider layout: rewrite the whole file after all.
    }
    let s = Arc::clone(settings);
    let (base, mut spool) = blocking(move || prepare(&s)).await?;
    let base = match base {
        // The layout cannot grow: write rows straight into the new file, no spool.
        Some(layout) if settings.numbered.is_empty() => {
            return write_direct(name, settings, layout, source).await;
        }
        other => other,
    };
    let mut seen = Seen::default();
    let mut checks = Checks::default();
    let mut rejected = Vec::new();
    while let Some(batch) = source.next_batch().await? {
        let mut accepted = Vec::with_capacity(batch.len());
        for object in batch {
            match decode_checked(&mut checks, settings, base.as_ref(), &object) {
                Ok(attrs) => {
                    seen.note(settings, base.as_ref(), &attrs);
                    accepted.push(object);
                }
                Err(reason) => {
                    tracing::debug!(connector = name, anchor = %object.anchor, %reason, "object not written");
                    rejected.push((object.anchor, reason));
                }
            }
        }
        if !accepted.is_empty() {
            let target = settings.export_target().to_owned();
            spool = blocking(move || {
                spool
                    .append(&accepted)
                    .map_err(|e| write_failed(&target, e))?;
                Ok(spool)
            })
            .await?;
        }
    }
    for attr in &seen.unwritable {
        tracing::warn!(
            connector = name,
            attribute = %attr,
            path = %settings.export_target().display(),
            "attribute not exported: no column of the file's layout holds it"
        );
    }
    let s = Arc::clone(settings);
    let objects = blocking(move || write_target(&s, base, &seen, spool)).await?;
    tracing::info!(
        connector = name,
        path = %settings.export_target().display(),
        objects,
        rejected = rejected.len(),
        "csv export finished"
    );
    Ok(ImageSummary { objects, rejected })
}

/// The layout fixed before any object is seen (from `header` or the existing file), if any,
/// and an empty spool beside the target.
fn prepare(settings: &CsvSettings) -> Result<(Option<Layout>, Spool), ConnectorError> {
    let target = settings.export_target();
    let dir = file::parent_dir(target);
    if !dir.is_dir() {
        return Err(ConnectorError::Unavailable(format!(
            "cannot export to {}: the directory {} does not exist; create it or fix {} in the connector settings",
            target.display(),
            dir.display(),
            if settings.export_path.is_some() {
                "export_path"
            } else {
                "path"
            }
        )));
    }
    let names = match &settings.header {
        Some(header) => Some(header.clone()),
        // The target's own header, else (before the first export to export_path) the
        // imported file's.
        None => match existing_header(settings, target)? {
            Some(h) => Some(h),
            None if settings.export_path.is_some() => existing_header(settings, &settings.path)?,
            None => None,
        },
    };
    let base = match names {
        Some(names) => Some(Layout::from_header(settings, names).map_err(|m| {
            ConnectorError::Config(format!(
                "cannot export to {}: {m}{}",
                target.display(),
                if settings.header.is_some() {
                    ""
                } else {
                    " (the layout is the existing file's header; set header in the connector settings to choose it)"
                }
            ))
        })?),
        None => None,
    };
    let spool = tempfile::tempfile_in(&dir)
        .map(|f| Spool {
            out: BufWriter::new(f),
        })
        .map_err(|e| write_failed(target, e))?;
    Ok((base, spool))
}

/// The header of the file export will replace, or `None` when there is no file (or it is empty).
fn existing_header(
    settings: &CsvSettings,
    target: &Path,
) -> Result<Option<Vec<String>>, ConnectorError> {
    let f = match File::open(target) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_failed(target, e)),
    };
    let opened = file::open_records(f, settings.encoding, settings.delimiter)
        .map_err(|e| read_failed(target, e))?;
    let Some(mut opened) = opened else {
        return Err(ConnectorError::Config(format!(
            "the existing file {} is UTF-16 big-endian, whose header is not read; delete it or set header in the connector settings",
            target.display()
        )));
    };
    match opened.header() {
        Ok(names) => Ok(names),
        Err(HeaderError::Io(e)) => Err(read_failed(target, e)),
        Err(HeaderError::Quoting(damage)) => Err(ConnectorError::Config(format!(
            "the header line of the existing file {} cannot be read: {damage}; fix it or set header in the connector settings",
            target.display()
        ))),
        Err(HeaderError::BadText(column)) => Err(ConnectorError::Config(format!(
            "the header line of the existing file {} is not valid {} (column {column}); fix encoding or set header in the connector settings",
            target.display(),
            opened.encoding.name()
        ))),
    }
}

/// What the reading side hands the writing thread.
enum ToWriter {
    Rows(Vec<ImageObject>),
    /// Every object was handed over: replace the target.
    Commit,
}

/// What the writing thread made of the objects it was handed.
#[derive(Default)]
struct Written {
    seen: Seen,
    rejected: Vec<(String, String)>,
    objects: u64,
}

/// Writes the image straight into the replacement file, in a fixed layout. A thread checks,
/// formats and writes rows while the next objects are read from the engine; the target is
/// replaced only once every object arrived (a failure before leaves it as it was).
async fn write_direct(
    name: &str,
    settings: &Arc<CsvSettings>,
    layout: Layout,
    source: &mut dyn ImageSource,
) -> Result<ImageSummary, ConnectorError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<ToWriter>(2);
    let s = Arc::clone(settings);
    let writer = tokio::task::spawn_blocking(move || -> Result<Option<Written>, ConnectorError> {
        let t = s.export_target();
        let failed = |e: io::Error| write_failed(t, e);
        let mut out =
            AtomicCsv::create(t, s.delimiter, s.encoding, s.bom, false).map_err(failed)?;
        out.write_row(&layout.names).map_err(failed)?;
        let mut written = Written::default();
        let mut checks = Checks::default();
        for message in rx {
            match message {
                ToWriter::Rows(rows) => {
                    for o in &rows {
                        let attrs = match decode_checked(&mut checks, &s, Some(&layout), o) {
                            Ok(attrs) => attrs,
                            Err(reason) => {
                                written.rejected.push((o.anchor.clone(), reason));
                                continue;
                            }
                        };
                        written.seen.note(&s, Some(&layout), &attrs);
                        written.objects += 1;
                        out.write_row(layout.fields(&s, &o.object_type, &attrs))
                            .map_err(failed)?;
                    }
                }
                ToWriter::Commit => {
                    out.commit().map_err(failed)?;
                    return Ok(Some(written));
                }
            }
        }
        Ok(None) // the reading side gave up: the temporary file goes, the target stays
    });
    let mut read = async {
        while let Some(batch) = source.next_batch().await? {
            if tx.send(ToWriter::Rows(batch)).is_err() {
                return Ok(false); // the writer stopped: its error says why
            }
        }
        Ok::<bool, ConnectorError>(tx.send(ToWriter::Commit).is_ok())
    }
    .await;
    drop(tx);
    let written = writer.await.map_err(|e| {
        ConnectorError::Unavailable(format!(
            "the csv writer stopped unexpectedly ({e}); run the export again, and report it if it repeats"
        ))
    });
    let done = match (&mut read, written) {
        (Err(_), _) => None,
        (_, Err(e)) | (_, Ok(Err(e))) => return Err(e),
        (Ok(sent_all), Ok(Ok(done))) => done.filter(|_| *sent_all),
    };
    read?;
    let Some(Written {
        seen,
        rejected,
        objects,
    }) = done
    else {
        return Err(ConnectorError::Unavailable(format!(
            "the export to {} stopped before every object was written; the file is left as it was",
            settings.export_target().display()
        )));
    };
    for attr in &seen.unwritable {
        tracing::warn!(connector = name, attribute = %attr, path = %settings.export_target().display(), "attribute not exported: no column of the file's layout holds it");
    }
    tracing::info!(
        connector = name,
        objects,
        rejected = rejected.len(),
        "csv export finished"
    );
    Ok(ImageSummary { objects, rejected })
}

/// An image object's attributes, decoded and checked ([`Checks::check`]); the reason to
/// reject it otherwise (corrupt stored data included).
fn decode_checked(
    checks: &mut Checks,
    settings: &CsvSettings,
    base: Option<&Layout>,
    object: &ImageObject,
) -> Result<Attrs, String> {
    let attrs = object.attrs.decode().map_err(|e| e.to_string())?;
    checks.check(settings, base, &object.object_type, &attrs)?;
    Ok(attrs)
}

/// The attribute names of the object looked at last: the objects of a target mostly have the
/// same ones, so what depends only on the names is worked out again only when they change.
#[derive(Default)]
struct LastNames(Vec<String>);

impl LastNames {
    /// Whether `attrs` has other names than the object before; remembers them if so.
    fn changed(&mut self, attrs: &Attrs) -> bool {
        if self.0.len() == attrs.len() && self.0.iter().eq(attrs.names()) {
            return false;
        }
        self.0 = attrs.names().cloned().collect();
        true
    }
}

/// What one attribute's values are checked for.
enum Rule {
    /// Nothing: no column holds it, or numbered columns hold any number of values.
    None,
    /// Its values are joined with this separator into one cell.
    Separator(String),
    /// Its column holds one value.
    Single,
}

/// Why an object cannot be written so that importing the file gives it back. The rules are
/// looked up per set of attribute names: the objects of a target mostly have the same names,
/// and then only their values are looked at.
#[derive(Default)]
pub(super) struct Checks {
    names: LastNames,
    rules: Vec<Rule>,
}

impl Checks {
    pub(super) fn check(
        &mut self,
        settings: &CsvSettings,
        base: Option<&Layout>,
        object_type: &str,
        attrs: &Attrs,
    ) -> Result<(), String> {
        anchor_for(settings, object_type, attrs)?;
        if self.names.changed(attrs) {
            self.rules = attrs
                .names()
                .map(|name| {
                    if !writes(settings, base, name) || settings.numbered_prefix(name).is_some() {
                        Rule::None
                    } else if let Some(sep) = settings.separator(name) {
                        Rule::Separator(sep.to_owned())
                    } else {
                        Rule::Single
                    }
                })
                .collect();
        }
        for ((name, values), rule) in attrs.iter().zip(&self.rules) {
            match rule {
                Rule::None => {}
                Rule::Separator(sep) => {
                    for v in values {
                        if v.contains(sep.as_str()) {
                            return Err(format!(
                                "a value of attribute \"{name}\" contains its separator \"{sep}\" and would read back as several: {v:?}; change the value, or the separator in multi_valued"
                            ));
                        }
                        if v.trim() != v {
                            return Err(format!(
                                "a value of attribute \"{name}\" starts or ends with white space, which is trimmed when the cell is split on import: {v:?}; trim the value"
                            ));
                        }
                    }
                }
                Rule::Single if values.len() > 1 => {
                    return Err(format!(
                        "attribute \"{name}\" has {} values but its column holds one; list it in multi_valued (e.g. multi_valued = {{ {name} = \";\" }}) or send one value",
                        values.len()
                    ));
                }
                Rule::Single => {}
            }
        }
        Ok(())
    }
}

/// Whether the written file will have a column for `attr`.
fn writes(settings: &CsvSettings, base: Option<&Layout>, attr: &str) -> bool {
    match base {
        Some(layout) => layout.writes(attr),
        None => {
            settings.numbered_prefix(attr).is_some() || settings.column_for_attr(attr).is_some()
        }
    }
}

/// What the accepted objects hold, to lay out the file.
#[derive(Default)]
struct Seen {
    /// Attributes that will be written (for a made-up header).
    attrs: BTreeSet<String>,
    /// Numbered attribute → most values any object has.
    numbered: BTreeMap<String, usize>,
    /// Attributes no column will hold.
    unwritable: BTreeSet<String>,
    /// The names of the object noted last (an accepted one: a rejected object's names are
    /// not noted), looked up again only for numbered attributes while they stay the same.
    last: LastNames,
}

impl Seen {
    fn note(&mut self, settings: &CsvSettings, base: Option<&Layout>, attrs: &Attrs) {
        let same = !self.last.changed(attrs);
        for (name, values) in attrs.iter() {
            if settings.numbered_prefix(name).is_some() {
                let most = self.numbered.entry(name.clone()).or_default();
                *most = (*most).max(values.len());
            }
            if same {
                continue;
            }
            let set = if writes(settings, base, name) {
                &mut self.attrs
            } else {
                &mut self.unwritable
            };
            if !set.contains(name) {
                set.insert(name.clone());
            }
        }
    }
}

/// Lays out the file and writes every spooled object into it, replacing the target.
fn write_target(
    settings: &CsvSettings,
    base: Option<Layout>,
    seen: &Seen,
    spool: Spool,
) -> Result<u64, ConnectorError> {
    let target = settings.export_target();
    let layout = match base {
        Some(layout) => layout.with_numbered_columns(settings, &seen.numbered),
        None => Layout::derived(settings, &seen.attrs, &seen.numbered),
    }
    .map_err(|m| ConnectorError::Config(format!("cannot export to {}: {m}", target.display())))?;
    let failed = |e: io::Error| write_failed(target, e);
    let mut out = AtomicCsv::create(
        target,
        settings.delimiter,
        settings.encoding,
        settings.bom,
        false,
    )
    .map_err(failed)?;
    out.write_row(&layout.names).map_err(failed)?;
    let mut objects = spool.into_reader().map_err(failed)?;
    let mut written = 0;
    while let Some((object_type, attrs)) = objects.next_object().map_err(failed)? {
        out.write_row(layout.fields(settings, &object_type, &attrs))
            .map_err(failed)?;
        written += 1;
    }
    out.commit().map_err(failed)?;
    Ok(written)
}

pub(super) fn write_failed(target: &Path, e: io::Error) -> ConnectorError {
    ConnectorError::Unavailable(format!(
        "cannot write {}: {e}; the file is left as it was. Check free space and that ucsync may create files in {}",
        target.display(),
        file::parent_dir(target).display()
    ))
}

fn read_failed(target: &Path, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unavailable(format!(
        "cannot read the header of {} before replacing it: {e}; check that ucsync may read it, or set header in the connector settings",
        target.display()
    ))
}

/// Accepted objects kept on disk until the layout is known; the file has no name and vanishes
/// with the process.
struct Spool {
    out: BufWriter<File>,
}

impl Spool {
    fn append(&mut self, objects: &[ImageObject]) -> io::Result<()> {
        for object in objects {
            put(&mut self.out, object.object_type.as_bytes())?;
            put(&mut self.out, object.attrs.as_bytes())?;
        }
        Ok(())
    }

    fn into_reader(self) -> io::Result<SpoolReader> {
        let mut f = self.out.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        Ok(SpoolReader {
            input: BufReader::new(f),
        })
    }
}

fn put(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

struct SpoolReader {
    input: BufReader<File>,
}

impl SpoolReader {
    fn next_object(&mut self) -> io::Result<Option<(String, Attrs)>> {
        let Some(object_type) = self.take(true)? else {
            return Ok(None);
        };
        let object_type = String::from_utf8(object_type)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let attrs = self.take(false)?.unwrap_or_default();
        let attrs =
            Attrs::decode(&attrs).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Some((object_type, attrs)))
    }

    /// One length-prefixed item; `None` at a clean end when `may_end`.
    fn take(&mut self, may_end: bool) -> io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 8];
        let mut got = 0;
        while got < len.len() {
            let n = self.input.read(&mut len[got..])?;
            if n == 0 {
                if got == 0 && may_end {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the export spool file ends early",
                ));
            }
            got += n;
        }
        let mut bytes = vec![0u8; u64::from_le_bytes(len) as usize];
        self.input.read_exact(&mut bytes)?;
        Ok(Some(bytes))
    }
}
