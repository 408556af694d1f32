//! Import: streams the file row by row into the engine's sink, reports each bad row by its line
//! and goes on, then ends the listing (so objects no longer in the file are deleted, unless a
//! row could not be read: the engine then deletes nothing) and writes the import status file. A
//! delta import whose file has not changed since the watermark reads no row at all.
//!
//! A row cannot be read when its quoting is damaged (a quote never closed, one that swallowed
//! the lines after it), when it has another number of fields than the header (a last line cut
//! off included), or when it holds bytes that are not text (invalid UTF-8 or UTF-16, NUL).
//!
//! A blocking thread reads and parses the file; this side only talks to the sink, so the async
//! threads never wait on the disk. This module knows nothing of how the engine stages objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use ucsync_model::{
    ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
    RecordStatus, SinkError,
};

use super::blocking;
use super::config::{CsvSettings, FileEncoding};
use super::file::{self, AtomicCsv, HeaderError, Opened};
use super::layout::Layout;
use super::reader::{self, Record};

/// What a delta import compares: the file's length and content hash (its modification time is
/// kept for people reading the run record; a touched but unchanged file is still skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Watermark {
    len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mtime_ns: Option<u64>,
    xxh3: String,
}

impl Watermark {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// What the reading thread hands over, in file order.
enum Msg {
    Header {
        layout: Arc<Layout>,
        encoding: FileEncoding,
        bom: bool,
    },
    Row(Row),
}

struct Row {
    /// The lines the row spans (more than one when a quoted value holds line breaks).
    lines: (u64, u64),
    outcome: Result<ImportRecord, RowError>,
    /// The fields as read, for the status file (empty when none is written).
    raw: Vec<String>,
}

struct RowError {
    /// The row's anchor when its key could still be read.
    anchor: Option<String>,
    message: String,
}

/// Rows handed over before the reader waits for the sink.
const CHANNEL_ROWS: usize = 512;
/// Status rows written per blocking task.
const STATUS_CHUNK: usize = 1024;

pub(super) async fn import(
    name: &str,
    settings: &Arc<CsvSettings>,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    if request.absent_is_empty {
        let s = Arc::clone(settings);
        if let Some(why) = blocking(move || Ok(not_there_yet(&s))).await? {
            // Nothing is staged, so an empty listing deletes nothing; the watermark stays unset
            // so that the next import reads the file the first export writes.
            sink.end_of_listing().await?;
            tracing::info!(connector = name, path = %settings.import_source().display(), "{why}");
            return Ok(ImportSummary {
                watermark: None,
                skipped_unchanged: false,
                note: Some(why),
            });
        }
    }

    let mut note = None;
    if request.mode == ImportMode::Delta
        && let Some(old) = request.watermark.as_deref()
    {
        match serde_json::from_str::<Watermark>(old) {
            Ok(mark) => {
                let s = Arc::clone(settings);
                if blocking(move || unchanged(&s, &mark)).await? {
                    tracing::info!(connector = name, path = %settings.import_source().display(), "csv file unchanged since the last import; nothing read");
                    return Ok(ImportSummary {
                        watermark: Some(old.to_owned()),
                        skipped_unchanged: true,
                        note: Some("the file has not changed since the last import".to_owned()),
                    });
                }
            }
            Err(_) => {
                note = Some(
                    "the previous watermark was not understood; the whole file was read".to_owned(),
                );
            }
        }
    }

    let status_target = request.status_file.filter(|_| settings.status_file);
    let keep_raw = status_target.is_some();
    let (tx, mut rx) = mpsc::channel(CHANNEL_ROWS);
    let s = Arc::clone(settings);
    let reader = tokio::task::spawn_blocking(move || read_rows(&s, &tx, keep_raw));

    let mut status: Option<StatusFile> = None;
    let mut layout: Option<Arc<Layout>> = None;
    let mut counts = Counts::default();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Header {
                layout: l,
                encoding,
                bom,
            } => {
                if let Some(target) = &status_target {
                    let bom = bom || settings.bom;
                    let mut file =
                        StatusFile::create(target, settings.delimiter, encoding, bom).await?;
                    let mut header = l.names.clone();
                    header.extend(["status".to_owned(), "statusMessage".to_owned()]);
                    file.rows.push(header);
                    file.width = l.names.len();
                    status = Some(file);
                }
                layout = Some(l);
            }
            Msg::Row(row) => {
                let (label, message) = match row.outcome {
                    Ok(record) => match sink.object(record).await? {
                        RecordStatus::Error(m) => ("error", m),
                        other => (other.label(), String::new()),
                    },
                    Err(e) => {
                        let locator = reader::span(row.lines.0, row.lines.1);
                        sink.error(e.anchor, locator, e.message.clone()).await?;
                        ("error", e.message)
                    }
                };
                counts.add(label);
                if let Some(file) = &mut status {
                    file.push(row.raw, label, message).await?;
                }
            }
        }
    }
    let mark = reader.await.map_err(|e| {
        ConnectorError::Unavailable(format!(
            "reading {} stopped unexpectedly ({e}); run the import again",
            settings.import_source().display()
        ))
    })??;

    let listed = sink.end_of_listing().await?;
    counts.deleted = listed.deleted.len() as u64;
    if let (Some(file), Some(layout)) = (&mut status, &layout) {
        for object in listed.deleted {
            let mut cells = layout.row(settings, &object.object_type, &object.attrs);
            if let [k] = layout.key_index[..]
                && cells[k].is_empty()
            {
                cells[k] = object.anchor.clone();
            }
            file.push(
                cells,
                "deleted",
                "not in the file any more; removed from the staging space".to_owned(),
            )
            .await?;
        }
        // Why nothing was deleted, after the rows that say what could not be read.
        if let Some(why) = listed.incomplete {
            file.push(Vec::new(), "incomplete", why).await?;
        }
    }
    if let Some(file) = status {
        file.commit().await?;
    }
    tracing::info!(
        connector = name,
        path = %settings.import_source().display(),
        created = counts.created,
        updated = counts.updated,
        unchanged = counts.unchanged,
        errors = counts.errors,
        deleted = counts.deleted,
        "csv import finished"
    );
    Ok(ImportSummary {
        watermark: Some(mark.to_json()),
        skipped_unchanged: false,
        note,
    })
}

#[derive(Default)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
    errors: u64,
    deleted: u64,
}

impl Counts {
    fn add(&mut self, label: &str) {
        match label {
            "created" => self.created += 1,
            "updated" => self.updated += 1,
            "unchanged" => self.unchanged += 1,
            _ => self.errors += 1,
        }
    }
}

fn open(path: &Path) -> Result<std::fs::File, ConnectorError> {
    std::fs::File::open(path).map_err(|e| {
        ConnectorError::Unavailable(if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "cannot import {}: the file does not exist; put the file there or fix path in the connector settings",
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

fn read_failed(path: &Path, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Unavailable(format!(
        "reading {} failed: {e}; check the file and the disk, then run the import again",
        path.display()
    ))
}

/// Why a target that was never imported nor exported reads as empty: its file does not exist
/// yet, or has no header line. `None` when it has one (it is then read as usual).
fn not_there_yet(settings: &CsvSettings) -> Option<String> {
    let path = settings.import_source();
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!(
                "{} does not exist yet: an empty target, which the first export creates",
                path.display()
            ));
        }
        Err(_) => return None, // reading it says what is wrong
    };
    match file::open_records(f, settings.encoding, settings.delimiter) {
        Ok(Some(mut opened)) => match opened.header() {
            Ok(None) => Some(format!(
                "{} is empty: an empty target, which the first export fills",
                path.display()
            )),
            _ => None,
        },
        _ => None,
    }
}

/// Whether the file still has the watermark's length and content.
fn unchanged(settings: &CsvSettings, mark: &Watermark) -> Result<bool, ConnectorError> {
    let mut f = open(settings.import_source())?;
    let len = f
        .metadata()
        .map_err(|e| read_failed(settings.import_source(), e))?
        .len();
    if len != mark.len {
        return Ok(false);
    }
    let (len, hash) =
        file::hash_file(&mut f).map_err(|e| read_failed(settings.import_source(), e))?;
    Ok(len == mark.len && hex(hash) == mark.xxh3)
}

/// Reads the whole file, sending the header's layout and then every row. Returns the new
/// watermark, or the error that stops the import (the rows sent so far stay unlisted).
fn read_rows(
    settings: &CsvSettings,
    tx: &mpsc::Sender<Msg>,
    keep_raw: bool,
) -> Result<Watermark, ConnectorError> {
    let path = settings.import_source();
    let f = open(path)?;
    let mtime_ns = f
        .metadata()
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok());
    let mut opened: Opened = match file::open_records(f, settings.encoding, settings.delimiter) {
        Ok(Some(o)) => o,
        Ok(None) => {
            return Err(ConnectorError::Config(format!(
                "{} is UTF-16 big-endian (it starts with that BOM), which is not read; save it as UTF-16 LE or UTF-8",
                path.display()
            )));
        }
        Err(e) => return Err(read_failed(path, e)),
    };
    let names = match opened.header() {
        Ok(Some(names)) => names,
        Ok(None) => {
            return Err(ConnectorError::Unavailable(format!(
                "{} is empty: it has no header line; an empty file is not taken as \"no objects\" so that nothing is deleted by mistake. Check the program that writes it",
                path.display()
            )));
        }
        Err(HeaderError::Io(e)) => return Err(read_failed(path, e)),
        Err(HeaderError::Quoting(damage)) => {
            return Err(ConnectorError::Unavailable(format!(
                "the header line of {} cannot be read: {damage}; fix it and import again (nothing was imported or deleted)",
                path.display()
            )));
        }
        Err(HeaderError::BadText(column)) => {
            return Err(ConnectorError::Config(format!(
                "the header line of {} is not valid {} (column {column}); save the file as UTF-8 or as UTF-16 LE with a BOM, or fix encoding in the connector settings",
                path.display(),
                opened.encoding.name()
            )));
        }
    };
    let layout = Layout::from_header(settings, names)
        .map_err(|m| ConnectorError::Config(format!("cannot import {}: {m}", path.display())))?;
    let layout = Arc::new(layout);
    let stopped = || ConnectorError::Sink(SinkError("the import was stopped".to_owned()));
    tx.blocking_send(Msg::Header {
        layout: Arc::clone(&layout),
        encoding: opened.encoding,
        bom: opened.bom,
    })
    .map_err(|_| stopped())?;

    let mut record = Record::default();
    loop {
        match opened.reader.read(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = opened.reader.line();
                return Err(read_failed(path, format!("{e} near line {line}")));
            }
        }
        let row = parse_row(settings, &layout, &record, opened.encoding, keep_raw);
        tx.blocking_send(Msg::Row(row)).map_err(|_| stopped())?;
    }
    // The reader stops at the end of the file; drain anything left so the hash covers it all.
    let mut rest = opened.reader.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| read_failed(path, e))?;
    let tally = opened.tally.borrow();
    Ok(Watermark {
        len: tally.len(),
        mtime_ns,
        xxh3: hex(tally.digest()),
    })
}

/// One record → an object, or the reason it is not one.
fn parse_row(
    settings: &CsvSettings,
    layout: &Layout,
    record: &Record,
    encoding: FileEncoding,
    keep_raw: bool,
) -> Row {
    let line = record.line;
    let width = layout.names.len();
    let mut fields = Vec::with_capacity(record.len());
    // Fields that are not text: (field, what is wrong, what to do).
    let mut bad: Vec<(usize, String, &str)> = Vec::new();
    let encoding_hint = "save the file as UTF-8, or as UTF-16 LE with a BOM, or fix encoding in the connector settings";
    // A NUL is no text in any encoding: the file is damaged there (or UTF-16 read as UTF-8).
    let nul = record.has_nul();
    for (i, bytes) in record.iter().enumerate() {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                if encoding == FileEncoding::Utf16Le && s.contains('\u{FFFD}') {
                    bad.push((
                        i,
                        "holds bytes that are not valid UTF-16 LE".to_owned(),
                        encoding_hint,
                    ));
                } else if nul && let Some(at) = s.chars().position(|c| c == '\0') {
                    bad.push((
                        i,
                        format!(
                            "holds a NUL character (U+0000) at position {}, which no text holds: the file is damaged there, or it is UTF-16 read as UTF-8",
                            at + 1
                        ),
                        "fix the line, or set encoding = \"utf-16le\" in the connector settings if the file is UTF-16, and import again",
                    ));
                }
                fields.push(s.to_owned());
            }
            Err(e) => {
                bad.push((
                    i,
                    format!(
                        "holds bytes that are not valid UTF-8 (at byte {} of the value)",
                        e.valid_up_to() + 1
                    ),
                    encoding_hint,
                ));
                fields.push(String::from_utf8_lossy(bytes).into_owned());
            }
        }
    }
    let anchor = layout.anchor(|i| {
        if bad.iter().any(|(b, _, _)| *b == i) {
            None
        } else {
            fields.get(i).map(String::as_str)
        }
    });
    let column = |i: usize| match layout.names.get(i) {
        Some(name) => format!("column {} (\"{name}\")", i + 1),
        None => format!("column {}", i + 1),
    };
    let fail = |message: String| {
        Err(RowError {
            anchor: anchor.clone(),
            message,
        })
    };

    let outcome = if let Some(damage) = reader::damage(record, width, settings.delimiter, column) {
        fail(format!("{damage}; fix it and import again"))
    } else if let Some((i, what, hint)) = bad.first() {
        fail(format!(
            "line {line}, {} {what}; {hint} (now \"{}\")",
            column(*i),
            settings.encoding.name()
        ))
    } else if anchor.is_none() {
        let empty = layout
            .key_index
            .iter()
            .find(|&&i| fields.get(i).is_none_or(|v| v.trim().is_empty()))
            .copied()
            .unwrap_or(0);
        fail(format!(
            "line {line}: key {} is empty; every row needs a value there to be identified, fill it in or remove the row",
            column(empty)
        ))
    } else {
        match object_type(settings, layout, &fields) {
            Err(message) => fail(format!("line {line}, {}", message)),
            Ok(object_type) => Ok(ImportRecord {
                anchor: anchor.clone().unwrap_or_default(),
                object_type,
                attrs: layout.attrs(settings, &fields),
                locator: Some(format!("line {line}")),
            }),
        }
    };
    Row {
        lines: (record.line, record.last_line),
        outcome,
        raw: if keep_raw { fields } else { Vec::new() },
    }
}

fn object_type(
    settings: &CsvSettings,
    layout: &Layout,
    fields: &[String],
) -> Result<String, String> {
    let allowed = settings.allowed_types();
    let Some(i) = layout.type_index else {
        return Ok(allowed.first().cloned().unwrap_or_default());
    };
    let value = fields.get(i).map(|v| v.trim()).unwrap_or_default();
    if allowed.iter().any(|t| t == value) {
        return Ok(value.to_owned());
    }
    let name = &layout.names[i];
    Err(if value.is_empty() {
        format!(
            "column {} (\"{name}\"): the object type is empty; write one of: {}",
            i + 1,
            allowed.join(", ")
        )
    } else {
        format!(
            "column {} (\"{name}\"): object type \"{value}\" is not allowed; use one of: {}, or add it to object_types in the connector settings",
            i + 1,
            allowed.join(", ")
        )
    })
}

/// The import status file being written: the input's columns plus `status` and
/// `statusMessage`, one row per input row, then one per deleted object.
struct StatusFile {
    file: Option<AtomicCsv>,
    target: PathBuf,
    rows: Vec<Vec<String>>,
    width: usize,
}

impl StatusFile {
    async fn create(
        target: &Path,
        delimiter: u8,
        encoding: FileEncoding,
        bom: bool,
    ) -> Result<Self, ConnectorError> {
        let t = target.to_owned();
        let file = blocking(move || {
            // What the status files of imports killed while writing them left goes first.
            file::remove_stale_temps(&file::parent_dir(&t), |name| {
                name.ends_with("-import-status.csv")
            });
            // A status file lives in the data directory, which is private to its user.
            AtomicCsv::create(&t, delimiter, encoding, bom, true)
                .and_then(|f| f.make_private().map(|()| f))
                .map_err(|e| status_failed(&t, e))
        })
        .await?;
        Ok(Self {
            file: Some(file),
            target: target.to_owned(),
            rows: Vec::with_capacity(STATUS_CHUNK),
            width: 0,
        })
    }

    /// Adds a row, padded or cut to the input header's width.
    async fn push(
        &mut self,
        mut cells: Vec<String>,
        status: &str,
        message: String,
    ) -> Result<(), ConnectorError> {
        cells.resize(self.width, String::new());
        cells.push(status.to_owned());
        cells.push(message);
        self.rows.push(cells);
        if self.rows.len() >= STATUS_CHUNK {
            self.write_rows().await?;
        }
        Ok(())
    }

    async fn write_rows(&mut self) -> Result<(), ConnectorError> {
        let rows = std::mem::take(&mut self.rows);
        let Some(mut file) = self.file.take() else {
            return Ok(());
        };
        let target = self.target.clone();
        let file = blocking(move || {
            for row in rows {
                file.write_row(&row)
                    .map_err(|e| status_failed(&target, e))?;
            }
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    async fn commit(mut self) -> Result<(), ConnectorError> {
        self.write_rows().await?;
        let target = self.target.clone();
        if let Some(file) = self.file.take() {
            blocking(move || file.commit().map_err(|e| status_failed(&target, e))).await?;
        }
        Ok(())
    }
}

fn status_failed(target: &Path, e: std::io::Error) -> ConnectorError {
    ConnectorError::Unavailable(format!(
        "cannot write the import status file {}: {e}; check that its directory can be created and written by ucsync and that the disk has space",
        target.display()
    ))
}
