//! The export file of a PBX node: its encoding, its header and its rows, each checked on its
//! own. A good row becomes a [`Row`]; a bad one a [`BadRow`] that keeps whatever could still be
//! read of it (names, group, pilot flag), so that the account it belongs to can be kept as it
//! was instead of losing the number.
//!
//! The file is read with the csv connector's record reader ([`reader`]), so a row whose quoting
//! swallowed the lines after it, a row cut off at the end of the file or a NUL in a cell is a
//! bad row naming its lines, never a silently shorter export.
//!
//! This module knows the file format of `docs/PBX.md`; it knows nothing of accounts (`rules`)
//! nor of the engine's sink.

use std::borrow::Cow;
use std::collections::BTreeMap;

use ucsync_model::ConnectorError;
use ucsync_model::account::check_number;

use super::config::{FileEncoding, Flavor, PbxSettings};
use crate::csv::reader::{self, Record, Records};

/// One column of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Number,
    FirstName,
    LastName,
    Department,
    DeviceType,
    MacAddress,
    Group,
    GroupKind,
    Pilot,
    Dynamic,
}

/// Every column, its header name and whether the file must have it.
const COLUMNS: [(Col, &str, bool); 10] = [
    (Col::Number, "Number", true),
    (Col::FirstName, "First Name", false),
    (Col::LastName, "Last Name", false),
    (Col::Department, "Department", false),
    (Col::DeviceType, "Device Type", true),
    (Col::MacAddress, "MAC Address", false),
    (Col::Group, "Group", false),
    (Col::GroupKind, "Group Kind", false),
    (Col::Pilot, "Pilot", false),
    (Col::Dynamic, "Dynamic", false),
];

fn col_name(col: Col) -> &'static str {
    COLUMNS[col as usize].1
}

/// The kind of a MiVoice Business group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupKind {
    /// Personal Ring Group.
    Prg,
    /// Multi-Device User Group.
    Mdug,
}

impl GroupKind {
    /// The value of `pbxGroupKind`.
    pub fn value(self) -> &'static str {
        match self {
            GroupKind::Prg => "prg",
            GroupKind::Mdug => "mdug",
        }
    }

    /// As the PBX writes it.
    pub fn label(self) -> &'static str {
        match self {
            GroupKind::Prg => "PRG",
            GroupKind::Mdug => "MDUG",
        }
    }
}

/// One good row: a number and what the PBX says of it, every cell trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub line: u64,
    pub number: String,
    pub first: String,
    pub last: String,
    pub department: String,
    pub device_type: String,
    /// Upper case, `:` separators.
    pub mac: Option<String>,
    pub group: Option<String>,
    pub group_kind: Option<GroupKind>,
    pub pilot: bool,
    pub dynamic: bool,
    /// Filled columns this flavor has no use for (MiVoice Office 250: the group columns).
    pub ignored: Vec<&'static str>,
}

/// A row that could not be read whole, with what could be read of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BadRow {
    pub line: u64,
    /// The Number cell, when it is not empty.
    pub number: Option<String>,
    pub first: String,
    pub last: String,
    pub department: String,
    pub group: Option<String>,
    /// `None` when the Pilot cell could not be read.
    pub pilot: Option<bool>,
    /// `None` when the Dynamic cell could not be read.
    pub dynamic: Option<bool>,
    /// What is wrong and what to fix; names the line, the number and the column.
    pub message: String,
}

/// One line as read.
enum Line {
    Good(Row),
    Bad(BadRow),
}

/// The rows of one export.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<Row>,
    pub bad: Vec<BadRow>,
    /// Rows left out by `dynamic_extensions_only`.
    pub skipped_not_dynamic: u64,
}

/// The file's text as UTF-8 bytes (checked field by field later) and the encoding it was read
/// in: a UTF-8 or UTF-16 LE BOM wins over the configured encoding.
fn decode(bytes: &[u8], configured: FileEncoding) -> Option<(FileEncoding, Cow<'_, [u8]>)> {
    let (encoding, bom_len) = crate::csv::sniff_bom(bytes, configured)?;
    let rest = &bytes[bom_len..];
    Some(match encoding {
        FileEncoding::Utf8 => (encoding, Cow::Borrowed(rest)),
        FileEncoding::Utf16Le => {
            let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(rest);
            (encoding, Cow::Owned(text.into_owned().into_bytes()))
        }
    })
}

/// Which field holds each column.
struct Header {
    at: [Option<usize>; COLUMNS.len()],
    width: usize,
}

/// One record as read: its cells as text and what is wrong with how it was read.
struct Scanned {
    line: u64,
    fields: Vec<String>,
    /// Cells that are not valid text in the file's encoding.
    bad_text: Vec<usize>,
    /// Cells holding a NUL.
    nul: Vec<usize>,
    /// The record's quoting or number of fields is wrong ([`reader::damage`]).
    shape: Option<String>,
}

impl Header {
    /// The name of the column in field `i`, for messages.
    fn name(&self, i: usize) -> &'static str {
        COLUMNS
            .iter()
            .enumerate()
            .find(|(c, _)| self.at[*c] == Some(i))
            .map_or("?", |(_, (_, n, _))| *n)
    }

    /// Columns by name, case-insensitively, in any order; every unknown, repeated or missing
    /// column is named.
    fn read(names: &[String]) -> Result<Self, String> {
        let mut at = [None; COLUMNS.len()];
        let mut problems = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match COLUMNS
                .iter()
                .position(|(_, known, _)| known.eq_ignore_ascii_case(name))
            {
                Some(c) if at[c].is_some() => problems.push(format!(
                    "column \"{}\" is in the header twice (columns {} and {})",
                    COLUMNS[c].1,
                    at[c].map_or(0, |f: usize| f + 1),
                    i + 1
                )),
                Some(c) => at[c] = Some(i),
                None if name.is_empty() => {
                    problems.push(format!("column {} has no name", i + 1));
                }
                None => problems.push(format!(
                    "column {} (\"{name}\") is not a column of a PBX export",
                    i + 1
                )),
            }
        }
        for (c, (_, name, required)) in COLUMNS.iter().enumerate() {
            if *required && at[c].is_none() {
                problems.push(format!("the required column \"{name}\" is missing"));
            }
        }
        if problems.is_empty() {
            return Ok(Self {
                at,
                width: names.len(),
            });
        }
        let known: Vec<&str> = COLUMNS.iter().map(|(_, n, _)| *n).collect();
        Err(format!(
            "{}; the known columns are {} (Number and Device Type required, any order, any case): fix the header line of the export",
            problems.join("; "),
            known.join(", ")
        ))
    }
}

/// Reads and checks every row of an export. Errors that stop the import: an unreadable
/// encoding, no header line, a bad header, a broken CSV stream.
pub fn parse(settings: &PbxSettings, bytes: &[u8]) -> Result<Parsed, ConnectorError> {
    let path = settings.path.display();
    let Some((encoding, text)) = decode(bytes, settings.encoding) else {
        return Err(ConnectorError::Config(format!(
            "{path} is UTF-16 big-endian (it starts with that BOM), which is not read; export it as UTF-16 LE or UTF-8"
        )));
    };
    let mut reader = Records::new(text.as_ref(), settings.delimiter);
    // Reading bytes in memory fails only if the reader itself does.
    let broken = |e: std::io::Error| {
        ConnectorError::Unavailable(format!(
            "reading {path} failed: {e}; check the export, then run the import again"
        ))
    };
    let mut record = Record::default();
    if !reader.read(&mut record).map_err(broken)? {
        return Err(ConnectorError::Unavailable(format!(
            "{path} is empty: it has no header line; an empty export is not taken as \"no numbers\" so that no account is deleted by mistake. Check the export of the PBX node"
        )));
    }
    let mut names = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(s) if !s.contains('\0') && !s.contains('\u{FFFD}') => {
                names.push(s.trim().to_owned())
            }
            _ => {
                return Err(ConnectorError::Config(format!(
                    "the header line of {path} is not valid {} (column {}); export the file as UTF-8 or as UTF-16 LE with a BOM, or fix encoding in the connector settings",
                    encoding.name(),
                    i + 1
                )));
            }
        }
    }
    let header = Header::read(&names)
        .map_err(|m| ConnectorError::Config(format!("cannot import {path}: {m}")))?;

    let mut out = Parsed::default();
    let mut rows: Vec<Line> = Vec::new();
    while reader.read(&mut record).map_err(broken)? {
        let mut scanned = Scanned {
            line: record.line,
            fields: Vec::with_capacity(record.len()),
            bad_text: Vec::new(),
            nul: Vec::new(),
            shape: reader::damage(&record, header.width, settings.delimiter, |i| {
                format!("column \"{}\"", header.name(i))
            }),
        };
        for (i, bytes) in record.iter().enumerate() {
            match std::str::from_utf8(bytes) {
                Ok(s) => {
                    if encoding == FileEncoding::Utf16Le && s.contains('\u{FFFD}') {
                        scanned.bad_text.push(i);
                    } else if s.contains('\0') {
                        scanned.nul.push(i);
                    }
                    scanned.fields.push(s.to_owned());
                }
                Err(_) => {
                    scanned.bad_text.push(i);
                    scanned
                        .fields
                        .push(String::from_utf8_lossy(bytes).into_owned());
                }
            }
        }
        let row = parse_row(settings.flavor, &header, &scanned, encoding);
        let dynamic = match &row {
            Line::Good(r) => Some(r.dynamic),
            Line::Bad(b) => b.dynamic,
        };
        if settings.dynamic_extensions_only && dynamic == Some(false) {
            out.skipped_not_dynamic += 1;
            continue;
        }
        rows.push(row);
    }
    // A number is listed once: a later row with the same number is a bad row.
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        match row {
            Line::Good(r) => match first_line.get(&r.number) {
                Some(first) => out.bad.push(duplicate(r, *first)),
                None => {
                    first_line.insert(r.number.clone(), r.line);
                    out.rows.push(r);
                }
            },
            Line::Bad(b) => {
                if let Some(n) = &b.number {
                    first_line.entry(n.clone()).or_insert(b.line);
                }
                out.bad.push(b);
            }
        }
    }
    Ok(out)
}

fn duplicate(r: Row, first: u64) -> BadRow {
    let message = format!(
        "line {}, number {}: column \"Number\": the number is also on line {first}; a number is listed once, remove or correct one of the two on the PBX and export again",
        r.line, r.number
    );
    BadRow {
        line: r.line,
        number: Some(r.number),
        first: r.first,
        last: r.last,
        department: r.department,
        group: r.group,
        pilot: Some(r.pilot),
        dynamic: Some(r.dynamic),
        message,
    }
}

/// yes/no/true/false/1/0, any case; empty is no.
pub fn parse_bool(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" | "" => Some(false),
        _ => None,
    }
}

/// A MAC address with `:` or `-` between six pairs of hex digits, as upper case with `:`.
/// `Ok(None)` for an empty cell.
pub fn parse_mac(cell: &str) -> Result<Option<String>, ()> {
    if cell.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&str> = cell.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(Some(parts.join(":").to_ascii_uppercase()))
    } else {
        Err(())
    }
}

fn parse_kind(cell: &str) -> Option<GroupKind> {
    if cell.eq_ignore_ascii_case("prg") {
        Some(GroupKind::Prg)
    } else if cell.eq_ignore_ascii_case("mdug") {
        Some(GroupKind::Mdug)
    } else {
        None
    }
}

/// One record's fields → a row, or what could be read of it and why it is bad.
fn parse_row(flavor: Flavor, header: &Header, scanned: &Scanned, encoding: FileEncoding) -> Line {
    let line = scanned.line;
    let fields = &scanned.fields;
    let cell = |col: Col| cell(header, fields, col);
    let business = flavor == Flavor::MivoiceBusiness;
    let number = cell(Col::Number);
    let group = Some(cell(Col::Group))
        .filter(|g| business && !g.is_empty())
        .map(str::to_owned);
    let pilot = if business {
        parse_bool(cell(Col::Pilot))
    } else {
        Some(false)
    };
    let dynamic = parse_bool(cell(Col::Dynamic));
    let mut problems: Vec<String> = Vec::new();
    let named = |col: Col, what: String| format!("column \"{}\": {what}", col_name(col));

    // A line read wrongly may have its cells shifted: nothing else of it is trusted.
    let count_ok = scanned.shape.is_none();
    if let Some(shape) = &scanned.shape {
        problems.push(shape.clone());
    } else if let Some(&i) = scanned.bad_text.first() {
        problems.push(format!(
            "column \"{}\" holds bytes that are not valid {}; export the file as UTF-8 or as UTF-16 LE with a BOM, or fix encoding in the connector settings",
            header.name(i),
            encoding.name()
        ));
    } else if let Some(&i) = scanned.nul.first() {
        problems.push(format!(
            "column \"{}\" holds a NUL character (U+0000), which no text holds: the export is damaged there, or it is UTF-16 read as UTF-8 (set encoding = \"utf-16le\")",
            header.name(i)
        ));
    } else {
        if number.is_empty() {
            problems.push(named(
                Col::Number,
                "the number is empty; every line lists one phone number, fill it in or remove the line".into(),
            ));
        } else if let Err(m) = check_number(number) {
            problems.push(named(Col::Number, format!("{m}; correct it on the PBX")));
        }
        if dynamic.is_none() {
            problems.push(named(Col::Dynamic, not_bool(cell(Col::Dynamic))));
        }
        if business {
            check_business(&cell, group.is_some(), pilot, &mut problems);
        }
    }
    let mac = parse_mac(cell(Col::MacAddress)).ok().flatten();
    if problems.is_empty() {
        let mut ignored = Vec::new();
        if !business {
            for col in [Col::Group, Col::GroupKind] {
                if !cell(col).is_empty() {
                    ignored.push(col_name(col));
                }
            }
            if parse_bool(cell(Col::Pilot)) != Some(false) {
                ignored.push(col_name(Col::Pilot));
            }
        }
        return Line::Good(Row {
            line,
            number: number.to_owned(),
            first: cell(Col::FirstName).to_owned(),
            last: cell(Col::LastName).to_owned(),
            department: cell(Col::Department).to_owned(),
            device_type: cell(Col::DeviceType).to_owned(),
            mac: if business { mac } else { None },
            group_kind: group
                .as_ref()
                .and_then(|_| parse_kind(cell(Col::GroupKind))),
            group,
            pilot: pilot.unwrap_or(false),
            dynamic: dynamic.unwrap_or(false),
            ignored,
        });
    }
    let shown = if number.is_empty() { "(none)" } else { number };
    Line::Bad(BadRow {
        line,
        number: (!number.is_empty()).then(|| number.to_owned()),
        first: cell(Col::FirstName).to_owned(),
        last: cell(Col::LastName).to_owned(),
        department: cell(Col::Department).to_owned(),
        group,
        pilot: if count_ok { pilot } else { None },
        // A line with the wrong number of fields may have its cells shifted: never skipped.
        dynamic: if count_ok { dynamic } else { None },
        message: format!(
            "line {line}, number {shown}: {}; fix the line on the PBX and export again",
            problems.join("; ")
        ),
    })
}

/// A trimmed cell; empty when the column is absent or the line too short.
fn cell<'a>(header: &Header, fields: &'a [String], col: Col) -> &'a str {
    header.at[col as usize]
        .and_then(|i| fields.get(i))
        .map_or("", |s| s.trim())
}

fn not_bool(cell: &str) -> String {
    format!("\"{cell}\" is not yes or no; write yes, no, true, false, 1 or 0, or leave it empty")
}

/// The cells only MiVoice Business reads: device type, MAC address, group, group kind, pilot.
fn check_business<'a>(
    cell: &impl Fn(Col) -> &'a str,
    has_group: bool,
    pilot: Option<bool>,
    problems: &mut Vec<String>,
) {
    let named = |col: Col, what: String| format!("column \"{}\": {what}", col_name(col));
    if cell(Col::DeviceType).is_empty() {
        problems.push(named(
            Col::DeviceType,
            "the device type is empty; give the number's device type (e.g. 5330e IP, App Server Port, MiCollab Client Endpoint)".into(),
        ));
    }
    let mac = cell(Col::MacAddress);
    if parse_mac(mac).is_err() {
        problems.push(named(
            Col::MacAddress,
            format!(
                "\"{mac}\" is not a MAC address; write six pairs of hex digits separated by : or - (e.g. 08:00:0F:12:34:56), or leave it empty"
            ),
        ));
    }
    let kind = cell(Col::GroupKind);
    if !kind.is_empty() && parse_kind(kind).is_none() {
        problems.push(named(
            Col::GroupKind,
            format!("\"{kind}\" is not a group kind; write PRG or MDUG"),
        ));
    } else if !kind.is_empty() && !has_group {
        problems.push(named(
            Col::GroupKind,
            format!(
                "the kind is {kind} but column \"Group\" is empty; give the group id, or clear the kind"
            ),
        ));
    }
    match pilot {
        None => problems.push(named(Col::Pilot, not_bool(cell(Col::Pilot)))),
        Some(true) if !has_group => problems.push(named(
            Col::Pilot,
            "the number is a pilot but column \"Group\" is empty; only a PRG or MDUG has a pilot, give the group id or set Pilot to no".into(),
        )),
        Some(_) => {}
    }
}
