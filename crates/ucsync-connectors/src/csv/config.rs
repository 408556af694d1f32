//! The settings of a `csv` connector (`[connectors.NAME.settings]`): the table as written
//! ([`CsvSettingsAsWritten`], read by [`crate::settings`]), validation that reports every
//! problem with its key path, and the column mapping every other part of the
//! connector reads (which attribute a column holds, which column an attribute goes to).
//!
//! This module knows TOML and the meaning of each setting; it does not read or write files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ucsync_model::ConfigProblem;

/// A key column given as one name or a list of names; a list's entries are read one by one, so
/// that a wrong one is named by its index.
#[derive(Debug, Clone)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a column name or a list of column names, e.g. key = [\"Email\"]")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(OneOrMany::Many(names))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A csv settings table as written; its fields are the keys it may hold, every one optional so
/// that each problem can be reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CsvSettingsAsWritten {
    path: Option<String>,
    export_path: Option<String>,
    object_type: Option<String>,
    object_type_column: Option<String>,
    object_types: Option<Vec<String>>,
    delimiter: Option<String>,
    encoding: Option<String>,
    bom: Option<bool>,
    key: Option<OneOrMany>,
    columns: BTreeMap<String, String>,
    numbered: BTreeMap<String, String>,
    multi_valued: BTreeMap<String, String>,
    header: Option<Vec<String>>,
    status_file: Option<bool>,
}

/// How a file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    Utf8,
    Utf16Le,
}

impl FileEncoding {
    pub fn name(self) -> &'static str {
        match self {
            FileEncoding::Utf8 => "utf-8",
            FileEncoding::Utf16Le => "utf-16le",
        }
    }
}

/// Where a row's object type comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectTypes {
    /// Every row has this type.
    Fixed(String),
    /// A column holds the type; only the listed types are allowed.
    Column {
        column: String,
        allowed: Vec<String>,
    },
}

/// What one file column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// One attribute (split into several values when it is multi-valued).
    Attr(String),
    /// One value of a numbered attribute (`TC3` → number 3 of `trackingCode`).
    Numbered { attr: String, number: u64 },
    /// The row's object type.
    ObjectType,
    /// Nothing: the column is neither imported nor exported.
    Dropped,
}

/// The validated settings of one csv connector.
#[derive(Debug, Clone)]
pub struct CsvSettings {
    /// The file imported (and written by export unless `export_path` is set).
    pub path: PathBuf,
    pub export_path: Option<PathBuf>,
    pub object_types: ObjectTypes,
    pub delimiter: u8,
    pub encoding: FileEncoding,
    /// Write a UTF-8 BOM on export (UTF-16 LE files always get one).
    pub bom: bool,
    /// The key columns, as named in the file.
    pub key: Vec<String>,
    /// File column → attribute; an empty attribute drops the column.
    pub columns: BTreeMap<String, String>,
    /// Prefix → attribute.
    pub numbered: BTreeMap<String, String>,
    /// Attribute → separator.
    pub multi_valued: BTreeMap<String, String>,
    /// The column layout export writes, when set.
    pub header: Option<Vec<String>>,
    pub status_file: bool,
    /// Attribute → the column `columns` renames to it.
    renamed_from: BTreeMap<String, String>,
    /// Numbered attribute → its prefix.
    numbered_attrs: BTreeMap<String, String>,
}

impl CsvSettings {
    /// The file import reads: the export target once it exists (it is then the system's
    /// current state), else `path`.
    pub fn import_source(&self) -> &Path {
        match &self.export_path {
            Some(e) if e.exists() => e,
            _ => &self.path,
        }
    }

    /// The file export writes.
    pub fn export_target(&self) -> &Path {
        self.export_path.as_deref().unwrap_or(&self.path)
    }

    /// The object types this connector stages.
    pub fn allowed_types(&self) -> &[String] {
        match &self.object_types {
            ObjectTypes::Fixed(t) => std::slice::from_ref(t),
            ObjectTypes::Column { allowed, .. } => allowed,
        }
    }

    pub fn type_column(&self) -> Option<&str> {
        match &self.object_types {
            ObjectTypes::Fixed(_) => None,
            ObjectTypes::Column { column, .. } => Some(column),
        }
    }

    /// What a file column holds.
    pub fn role_of(&self, column: &str) -> Role {
        if self.type_column() == Some(column) {
            return Role::ObjectType;
        }
        if let Some(attr) = self.columns.get(column) {
            return if attr.is_empty() {
                Role::Dropped
            } else {
                Role::Attr(attr.clone())
            };
        }
        if column.is_empty() {
            return Role::Dropped;
        }
        if let Some((attr, number)) = self.numbered_match(column) {
            return Role::Numbered { attr, number };
        }
        Role::Attr(column.to_owned())
    }

    /// The attribute of a key column (validation makes sure it is a plain attribute).
    pub fn key_attr(&self, column: &str) -> String {
        match self.role_of(column) {
            Role::Attr(a) => a,
            _ => column.to_owned(),
        }
    }

    fn numbered_match(&self, column: &str) -> Option<(String, u64)> {
        let digits_at = column.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, digits) = column.split_at(digits_at);
        if digits.is_empty() {
            return None;
        }
        let attr = self.numbered.get(prefix)?;
        Some((attr.clone(), digits.parse().ok()?))
    }

    /// The prefix of a numbered attribute.
    pub fn numbered_prefix(&self, attr: &str) -> Option<&str> {
        self.numbered_attrs.get(attr).map(String::as_str)
    }

    /// The separator of a multi-valued attribute.
    pub fn separator(&self, attr: &str) -> Option<&str> {
        self.multi_valued.get(attr).map(String::as_str)
    }

    /// The column an attribute is written to when export makes up the header, or `None` when no
    /// column could carry it back on import (its own name is renamed, dropped or numbered).
    /// Numbered attributes have their own columns and are not covered here.
    pub fn column_for_attr(&self, attr: &str) -> Option<String> {
        if let Some(column) = self.renamed_from.get(attr) {
            return Some(column.clone());
        }
        match self.role_of(attr) {
            Role::Attr(a) if a == attr => Some(attr.to_owned()),
            _ => None,
        }
    }
}

/// Checks what types cannot; returns the settings when nothing essential is missing.
fn check(raw: CsvSettingsAsWritten, at: &str, p: &mut Vec<ConfigProblem>) -> Option<CsvSettings> {
    let mut problem = |key: &str, message: String| {
        let path = if key.is_empty() {
            at.to_owned()
        } else {
            format!("{at}.{key}")
        };
        p.push(ConfigProblem::new(path, message));
    };

    let path = match raw.path.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(PathBuf::from(s)),
        Some(_) => {
            problem(
                "path",
                "the path is empty; name the CSV file, e.g. path = \"users.csv\"".into(),
            );
            None
        }
        None => {
            problem(
                "path",
                "required: the CSV file to import (and to write on export unless export_path is set), e.g. path = \"users.csv\"".into(),
            );
            None
        }
    };
    let export_path = match raw.export_path.as_deref().map(str::trim) {
        Some("") => {
            problem(
                "export_path",
                "the path is empty; remove export_path to export to path, or name a file".into(),
            );
            None
        }
        other => other.map(PathBuf::from),
    };

    // Object types.
    let object_types = match (raw.object_type, raw.object_type_column) {
        (Some(_), Some(_)) => {
            problem(
                "object_type",
                "set either object_type (one type for every row) or object_type_column (a column holding each row's type), not both".into(),
            );
            None
        }
        (None, Some(column)) => {
            if column.trim().is_empty() {
                problem(
                    "object_type_column",
                    "the column name is empty; name the column that holds each row's object type"
                        .into(),
                );
            }
            let allowed = raw.object_types.clone().unwrap_or_default();
            if allowed.is_empty() {
                problem(
                    "object_types",
                    "list the object types the column may hold, e.g. object_types = [\"person\", \"contact\"]".into(),
                );
            }
            Some(ObjectTypes::Column { column, allowed })
        }
        (fixed, None) => {
            if raw.object_types.is_some() {
                problem(
                    "object_types",
                    "object_types is used only with object_type_column; remove it or set object_type_column".into(),
                );
            }
            let fixed = fixed.unwrap_or_else(|| "person".to_owned());
            if fixed.trim().is_empty() {
                problem(
                    "object_type",
                    "the object type is empty; e.g. object_type = \"person\"".into(),
                );
            }
            Some(ObjectTypes::Fixed(fixed))
        }
    };
    if let Some(list) = &raw.object_types {
        check_names(list, "object_types", "object type", &mut problem);
    }

    let delimiter = delimiter_setting(raw.delimiter.as_deref()).unwrap_or_else(|m| {
        problem("delimiter", m);
        b','
    });
    let encoding = encoding_setting(raw.encoding.as_deref()).unwrap_or_else(|m| {
        problem("encoding", m);
        FileEncoding::Utf8
    });
    if encoding == FileEncoding::Utf16Le && raw.bom == Some(false) {
        problem(
            "bom",
            "UTF-16 LE files are always written with a BOM so that readers can tell the encoding; remove bom or set encoding = \"utf-8\"".into(),
        );
    }

    // Columns, numbered columns, multi-valued attributes.
    let mut renamed_from: BTreeMap<String, String> = BTreeMap::new();
    for (column, attr) in &raw.columns {
        if column.is_empty() {
            problem(
                "columns",
                "a column name is empty; write columns = { \"File column\" = \"attribute\" }"
                    .into(),
            );
        } else if !attr.is_empty()
            && let Some(first) = renamed_from.insert(attr.clone(), column.clone())
        {
            problem(
                &format!("columns.{column}"),
                format!(
                    "columns \"{first}\" and \"{column}\" both become attribute \"{attr}\"; map each column to its own attribute, or drop one with \"\""
                ),
            );
        }
    }
    let mut numbered_attrs: BTreeMap<String, String> = BTreeMap::new();
    for (prefix, attr) in &raw.numbered {
        let key = format!("numbered.{prefix}");
        if prefix.is_empty() || prefix.ends_with(|c: char| c.is_ascii_digit()) {
            problem(
                &key,
                format!(
                    "the prefix {prefix:?} must be non-empty and not end with a digit (columns are the prefix followed by 1, 2, …)"
                ),
            );
        }
        if attr.is_empty() {
            problem(
                &key,
                "name the multi-valued attribute the columns form, e.g. TC = \"trackingCode\""
                    .into(),
            );
            continue;
        }
        if let Some(first) = numbered_attrs.insert(attr.clone(), prefix.clone()) {
            problem(
                &key,
                format!(
                    "prefixes \"{first}\" and \"{prefix}\" both form attribute \"{attr}\"; give each its own attribute"
                ),
            );
        }
        if let Some(column) = renamed_from.get(attr) {
            problem(
                &key,
                format!(
                    "attribute \"{attr}\" is also the target of columns.{column}; give the numbered columns another attribute"
                ),
            );
        }
        if raw.multi_valued.contains_key(attr) {
            problem(
                &key,
                format!(
                    "attribute \"{attr}\" is also in multi_valued; numbered columns already hold one value each, remove it from multi_valued"
                ),
            );
        }
    }
    for (attr, sep) in &raw.multi_valued {
        if attr.is_empty() {
            problem(
                "multi_valued",
                "an attribute name is empty; write multi_valued = { member = \";\" }".into(),
            );
        }
        if sep.is_empty() {
            problem(
                &format!("multi_valued.{attr}"),
                "the separator is empty; e.g. \";\"".into(),
            );
        }
    }
    let type_column = match &object_types {
        Some(ObjectTypes::Column { column, .. }) => Some(column.clone()),
        _ => None,
    };
    if let Some(tc) = &type_column
        && raw.columns.contains_key(tc)
    {
        problem(
            &format!("columns.{tc}"),
            format!(
                "\"{tc}\" is the object_type_column, which holds the object type, not an attribute; remove it from columns"
            ),
        );
    }

    let has_path = path.is_some();
    let mut settings = CsvSettings {
        path: path.unwrap_or_default(),
        export_path,
        object_types: object_types.unwrap_or_else(|| ObjectTypes::Fixed("person".to_owned())),
        delimiter,
        encoding,
        bom: raw.bom.unwrap_or(false),
        key: Vec::new(),
        columns: raw.columns,
        numbered: raw.numbered,
        multi_valued: raw.multi_valued,
        header: raw.header,
        status_file: raw.status_file.unwrap_or(true),
        renamed_from,
        numbered_attrs,
    };

    // Key columns (checked against the mapping above).
    let key = match raw.key {
        Some(OneOrMany::One(k)) => vec![k],
        Some(OneOrMany::Many(ks)) => ks,
        None => Vec::new(),
    };
    if key.is_empty() {
        problem(
            "key",
            "required: the column(s) whose values identify a row, e.g. key = [\"Email\"] or key = [\"LastName\", \"FirstName\"]".into(),
        );
    }
    check_names(&key, "key", "key column", &mut problem);
    for (i, k) in key.iter().enumerate() {
        let at_key = format!("key[{i}]");
        match settings.role_of(k) {
            Role::Dropped if !k.is_empty() => problem(
                &at_key,
                format!(
                    "key column \"{k}\" is dropped by columns.{k} = \"\"; a key column must be imported, map it to an attribute"
                ),
            ),
            Role::ObjectType => problem(
                &at_key,
                format!(
                    "key column \"{k}\" is the object_type_column; choose a column that identifies the row"
                ),
            ),
            Role::Numbered { .. } => problem(
                &at_key,
                format!(
                    "key column \"{k}\" is one of the numbered columns; choose a column that holds one value"
                ),
            ),
            Role::Attr(attr) if settings.multi_valued.contains_key(&attr) => problem(
                &at_key,
                format!(
                    "key column \"{k}\" holds multi-valued attribute \"{attr}\"; a key column must hold one value"
                ),
            ),
            Role::Attr(attr) if settings.numbered_attrs.contains_key(&attr) => problem(
                &at_key,
                format!(
                    "key column \"{k}\" holds attribute \"{attr}\", which is also a numbered attribute; choose a column that holds one value"
                ),
            ),
            _ => {}
        }
    }
    settings.key = key;

    if let Some(header) = &settings.header {
        if header.is_empty() {
            problem("header", "the header is empty; list the columns export writes, or remove header to keep the file's own".into());
        }
        check_names(header, "header", "column", &mut problem);
        for k in &settings.key {
            if !header.contains(k) {
                problem(
                    "header",
                    format!(
                        "key column \"{k}\" is missing; the written file must hold every key column"
                    ),
                );
            }
        }
        if let Some(tc) = &type_column
            && !header.contains(tc)
        {
            problem(
                "header",
                format!(
                    "object_type_column \"{tc}\" is missing; the written file must hold each row's type"
                ),
            );
        }
    }

    has_path.then_some(settings)
}

/// Problems of a list of names: empty entries and repeats.
fn check_names(list: &[String], key: &str, what: &str, problem: &mut impl FnMut(&str, String)) {
    let mut seen = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        if name.trim().is_empty() {
            problem(&format!("{key}[{i}]"), format!("the {what} name is empty"));
        } else if !seen.insert(name.as_str()) {
            problem(
                &format!("{key}[{i}]"),
                format!("{what} \"{name}\" is listed twice; list it once"),
            );
        }
    }
}

impl crate::settings::KindSettings for CsvSettings {
    type Raw = CsvSettingsAsWritten;

    fn validate(raw: CsvSettingsAsWritten, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        match check(raw, at, &mut p) {
            Some(s) if p.is_empty() => Ok(s),
            _ => Err(p),
        }
    }

    /// Makes relative paths absolute from `base_dir` (the configuration file's directory).
    fn resolve_paths(&mut self, base_dir: &Path) {
        if self.path.is_relative() {
            self.path = base_dir.join(&self.path);
        }
        if let Some(e) = &mut self.export_path
            && e.is_relative()
        {
            *e = base_dir.join(&*e);
        }
    }
}

/// A file's `delimiter` setting: one ASCII character other than a quote or a line break (`,`
/// when not given); the error says what to write. Shared by the kinds that read delimited files.
pub(crate) fn delimiter_setting(value: Option<&str>) -> Result<u8, String> {
    let Some(d) = value else {
        return Ok(b',');
    };
    let mut chars = d.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() && !matches!(c, '"' | '\r' | '\n') => Ok(c as u8),
        _ => Err(format!(
            "{d:?} is not allowed; use one ASCII character other than a quote or a line break, e.g. \",\", \";\" or \"\\t\""
        )),
    }
}

/// A file's `encoding` setting (`utf-8` when not given, any case); the error lists the allowed.
pub(crate) fn encoding_setting(value: Option<&str>) -> Result<FileEncoding, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("utf-8") => Ok(FileEncoding::Utf8),
        Some("utf-16le") => Ok(FileEncoding::Utf16Le),
        Some(_) => Err(format!(
            "{:?} is not supported; allowed: \"utf-8\", \"utf-16le\"",
            value.unwrap_or_default()
        )),
    }
}
