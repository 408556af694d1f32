//! The column layout of one file: what each column holds, where the key and the object type
//! are, how a row becomes an attribute set and how an attribute set becomes a row. Import and
//! export build their layout here from a header, so a file export writes reads back the same.
//!
//! This module knows the settings' column mapping; it reads and writes no files and knows
//! nothing of encodings.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use ucsync_model::Attrs;

use super::config::{CsvSettings, Role};

/// What one column of a layout holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Attr(String),
    /// The `rank`-th value (0-based, in column-number order) of a numbered attribute.
    Numbered {
        attr: String,
        rank: usize,
    },
    ObjectType,
    Dropped,
}

/// The columns of a numbered attribute in one layout.
#[derive(Debug, Clone)]
struct NumberedColumns {
    count: usize,
    max_number: u64,
    last_index: usize,
}

/// The columns of one file and what each holds.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Column names, as in the file.
    pub names: Vec<String>,
    cells: Vec<Cell>,
    /// Positions of the key columns, in key order.
    pub key_index: Vec<usize>,
    /// Position of the object type column, when one is configured.
    pub type_index: Option<usize>,
    numbered: BTreeMap<String, NumberedColumns>,
    plain: BTreeSet<String>,
    /// Positions of the attribute columns, ordered by attribute name (a later column of the
    /// same name after an earlier one), so that a row's attributes come out sorted.
    by_name: Vec<usize>,
}

impl Layout {
    /// The layout of a header. The error says what is wrong with the header and what to fix.
    pub fn from_header(settings: &CsvSettings, names: Vec<String>) -> Result<Self, String> {
        let mut cells = vec![Cell::Dropped; names.len()];
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut plain: BTreeMap<String, usize> = BTreeMap::new();
        let mut numbered: BTreeMap<String, Vec<(u64, usize)>> = BTreeMap::new();
        let mut type_index = None;
        for (i, name) in names.iter().enumerate() {
            if !name.is_empty()
                && let Some(j) = seen.insert(name, i)
            {
                return Err(format!(
                    "column \"{name}\" appears twice in the header (columns {} and {}); rename or remove one",
                    j + 1,
                    i + 1
                ));
            }
            match settings.role_of(name) {
                Role::Attr(attr) => {
                    if let Some(j) = plain.insert(attr.clone(), i) {
                        return Err(format!(
                            "columns \"{}\" and \"{name}\" would both become attribute \"{attr}\"; map one of them to another attribute in columns, or drop it with \"{name}\" = \"\"",
                            names[j]
                        ));
                    }
                    cells[i] = Cell::Attr(attr);
                }
                Role::Numbered { attr, number } => {
                    numbered.entry(attr).or_default().push((number, i));
                }
                Role::ObjectType => {
                    type_index = Some(i);
                    cells[i] = Cell::ObjectType;
                }
                Role::Dropped => {}
            }
        }
        let mut numbered_columns = BTreeMap::new();
        for (attr, mut columns) in numbered {
            if let Some(&j) = plain.get(&attr) {
                return Err(format!(
                    "column \"{}\" and the numbered columns {}… would both become attribute \"{attr}\"; map that column to another attribute in columns",
                    names[j],
                    settings.numbered_prefix(&attr).unwrap_or_default()
                ));
            }
            columns.sort();
            for (rank, &(_, i)) in columns.iter().enumerate() {
                cells[i] = Cell::Numbered {
                    attr: attr.clone(),
                    rank,
                };
            }
            let info = NumberedColumns {
                count: columns.len(),
                max_number: columns.iter().map(|(n, _)| *n).max().unwrap_or(0),
                last_index: columns.iter().map(|(_, i)| *i).max().unwrap_or(0),
            };
            numbered_columns.insert(attr, info);
        }
        let header_list = || {
            if names.is_empty() {
                "(no columns)".to_owned()
            } else {
                names.join(", ")
            }
        };
        let mut key_index = Vec::with_capacity(settings.key.len());
        for k in &settings.key {
            match names.iter().position(|n| n == k) {
                Some(i) => key_index.push(i),
                None => {
                    return Err(format!(
                        "the key column \"{k}\" is not in the header, which has: {}; fix key in the connector settings or the file's header line",
                        header_list()
                    ));
                }
            }
        }
        if let Some(tc) = settings.type_column()
            && type_index.is_none()
        {
            return Err(format!(
                "the object type column \"{tc}\" is not in the header, which has: {}; fix object_type_column in the connector settings or the file's header line",
                header_list()
            ));
        }
        let mut by_name: Vec<usize> = (0..cells.len())
            .filter(|&i| matches!(cells[i], Cell::Attr(_)))
            .collect();
        by_name.sort_by(|&a, &b| match (&cells[a], &cells[b]) {
            (Cell::Attr(x), Cell::Attr(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        Ok(Layout {
            names,
            cells,
            by_name,
            key_index,
            type_index,
            numbered: numbered_columns,
            plain: plain.into_keys().collect(),
        })
    }

    /// The attributes a row of this layout can give.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.plain
            .iter()
            .chain(self.numbered.keys())
            .map(String::as_str)
    }

    /// The layout export makes up when there is neither a `header` setting nor a file: the key
    /// columns, the object type column, then the other attributes sorted by name, each under the
    /// column that reads back as that attribute (numbered attributes as `count` columns).
    pub fn derived(
        settings: &CsvSettings,
        attrs: &BTreeSet<String>,
        numbered_counts: &BTreeMap<String, usize>,
    ) -> Result<Self, String> {
        let mut names = settings.key.clone();
        names.extend(settings.type_column().map(str::to_owned));
        let key_attrs: BTreeSet<String> =
            settings.key.iter().map(|k| settings.key_attr(k)).collect();
        for attr in attrs {
            if key_attrs.contains(attr) {
                continue;
            }
            if let Some(prefix) = settings.numbered_prefix(attr) {
                let count = numbered_counts.get(attr).copied().unwrap_or(0);
                names.extend((1..=count).map(|n| format!("{prefix}{n}")));
            } else if let Some(column) = settings.column_for_attr(attr) {
                names.push(column);
            }
        }
        Layout::from_header(settings, names)
    }

    /// This layout with at least `wanted[attr]` columns for every numbered attribute it already
    /// has columns for; new columns follow the attribute's last one, numbered on from the highest.
    pub fn with_numbered_columns(
        self,
        settings: &CsvSettings,
        wanted: &BTreeMap<String, usize>,
    ) -> Result<Self, String> {
        let mut extra: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut taken: BTreeSet<String> = self.names.iter().cloned().collect();
        for (attr, info) in &self.numbered {
            let want = wanted.get(attr).copied().unwrap_or(0);
            let prefix = settings.numbered_prefix(attr).unwrap_or_default();
            let mut number = info.max_number;
            for _ in info.count..want {
                let name = loop {
                    number += 1;
                    let name = format!("{prefix}{number}");
                    if !taken.contains(&name) {
                        break name;
                    }
                };
                taken.insert(name.clone());
                extra.entry(info.last_index).or_default().push(name);
            }
        }
        if extra.is_empty() {
            return Ok(self);
        }
        let mut names = Vec::with_capacity(self.names.len() + extra.len());
        for (i, name) in self.names.into_iter().enumerate() {
            names.push(name);
            if let Some(more) = extra.remove(&i) {
                names.extend(more);
            }
        }
        Layout::from_header(settings, names)
    }

    /// Whether some column of this layout holds `attr`.
    pub fn writes(&self, attr: &str) -> bool {
        self.plain.contains(attr) || self.numbered.contains_key(attr)
    }

    /// The anchor of a row: its key cells, trimmed and joined with `|`; `None` when a key cell
    /// is empty or missing.
    pub fn anchor<'a>(&self, cell: impl Fn(usize) -> Option<&'a str>) -> Option<String> {
        let mut parts = Vec::with_capacity(self.key_index.len());
        for &i in &self.key_index {
            let value = cell(i)?.trim();
            if value.is_empty() {
                return None;
            }
            parts.push(value);
        }
        Some(parts.join("|"))
    }

    /// The attributes of a row with one field per column.
    pub fn attrs(&self, settings: &CsvSettings, fields: &[String]) -> Attrs {
        // Collected in name order, as if each were set in turn, a later column of the same
        // attribute winning; numbered attributes come after the others and are sorted in.
        let mut attrs: Vec<(String, Vec<String>)> = Vec::with_capacity(self.cells.len());
        for &i in &self.by_name {
            let (Some(Cell::Attr(attr)), Some(value)) = (self.cells.get(i), fields.get(i)) else {
                continue;
            };
            let values = match settings.separator(attr) {
                Some(sep) => value
                    .split(sep)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect(),
                None => vec![value.clone()],
            };
            attrs.push((attr.clone(), values));
        }
        let mut numbered: BTreeMap<&str, Vec<(usize, &str)>> = BTreeMap::new();
        for (cell, value) in self.cells.iter().zip(fields) {
            if let Cell::Numbered { attr, rank } = cell {
                numbered.entry(attr).or_default().push((*rank, value));
            }
        }
        for (attr, mut values) in numbered {
            values.sort_by_key(|(rank, _)| *rank);
            attrs.push((
                attr.to_owned(),
                values.into_iter().map(|(_, v)| v.to_owned()).collect(),
            ));
        }
        attrs.into_iter().collect()
    }

    /// The row of an object, one field per column.
    pub fn row(&self, settings: &CsvSettings, object_type: &str, attrs: &Attrs) -> Vec<String> {
        self.fields(settings, object_type, attrs)
            .map(|f| f.0.into_owned())
            .collect()
    }

    /// The fields of an object's row, borrowed from it where a cell holds one value as it is.
    pub fn fields<'a>(
        &'a self,
        settings: &'a CsvSettings,
        object_type: &'a str,
        attrs: &'a Attrs,
    ) -> impl Iterator<Item = Field<'a>> {
        self.cells.iter().map(move |cell| {
            Field(match cell {
                Cell::Attr(attr) => {
                    let values = attrs.get(attr);
                    match settings.separator(attr) {
                        Some(sep) => Cow::Owned(values.join(sep)),
                        None => values
                            .first()
                            .map_or(Cow::Borrowed(""), |v| Cow::Borrowed(v)),
                    }
                }
                Cell::Numbered { attr, rank } => {
                    Cow::Borrowed(attrs.get(attr).get(*rank).map_or("", String::as_str))
                }
                Cell::ObjectType => Cow::Borrowed(object_type),
                Cell::Dropped => Cow::Borrowed(""),
            })
        })
    }
}

/// One field of a row as [`Layout::fields`] gives it.
pub struct Field<'a>(Cow<'a, str>);

impl AsRef<[u8]> for Field<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}
