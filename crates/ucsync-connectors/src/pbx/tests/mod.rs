//! Tests of the pbx connector: the account rules as tables of rows and the accounts expected
//! (`rules`, `groups`), and the connector reading real export files in temporary directories
//! through the same [`ConnectorFactory`] the engine uses (`import`, `config`).

mod config;
mod groups;
mod import;
mod records;
mod rules;

use std::path::Path;
use std::sync::Arc;

use ucsync_model::{Attrs, Connector, ConnectorFactory, ImportMode, ImportRequest, ImportSummary};

use super::config::Flavor;
use super::records::{BadRow, GroupKind, Row};
use super::rules::{Built, build_accounts};
use crate::Connectors;
pub use crate::test_sink::MemorySink;

/// Attributes from `(name, values)` pairs.
pub fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs
        .iter()
        .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect()
}

/// A good row in no group.
pub fn row(line: u64, number: &str, names: [&str; 3], device_type: &str) -> Row {
    Row {
        line,
        number: number.to_owned(),
        first: names[0].to_owned(),
        last: names[1].to_owned(),
        department: names[2].to_owned(),
        device_type: device_type.to_owned(),
        ..Row::default()
    }
}

/// Builders for the optional cells of a row.
pub trait RowExt {
    fn mac(self, mac: &str) -> Row;
    fn group(self, id: &str, kind: Option<GroupKind>) -> Row;
    fn pilot(self) -> Row;
    fn dynamic(self) -> Row;
}

impl RowExt for Row {
    fn mac(mut self, mac: &str) -> Row {
        self.mac = Some(mac.to_owned());
        self
    }

    fn group(mut self, id: &str, kind: Option<GroupKind>) -> Row {
        self.group = Some(id.to_owned());
        self.group_kind = kind;
        self
    }

    fn pilot(mut self) -> Row {
        self.pilot = true;
        self
    }

    fn dynamic(mut self) -> Row {
        self.dynamic = true;
        self
    }
}

pub const DESK: &str = "5330e IP";
pub const ASP: &str = "App Server Port";
pub const UC: &str = "MiCollab Client Endpoint";
pub const MINET_MAC: &str = "A1:21:00:00:12:34";

/// One table entry: rows in, accounts, warnings and errors out.
pub struct Case {
    pub name: &'static str,
    pub flavor: Flavor,
    pub rows: Vec<Row>,
    pub bad: Vec<BadRow>,
    /// Anchor and every attribute, in the order of the accounts' first lines.
    pub accounts: Vec<(&'static str, Attrs)>,
    /// Anchor, locator and words the message must hold, in line order.
    pub warnings: Vec<(&'static str, &'static str, Vec<&'static str>)>,
    /// Anchor (if any), locator and words the message must hold, in line order.
    pub errors: Vec<(Option<&'static str>, &'static str, Vec<&'static str>)>,
}

impl Case {
    pub fn business(name: &'static str, rows: Vec<Row>) -> Self {
        Self {
            name,
            flavor: Flavor::MivoiceBusiness,
            rows,
            bad: Vec::new(),
            accounts: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn office(name: &'static str, rows: Vec<Row>) -> Self {
        Self {
            flavor: Flavor::MivoiceOffice250,
            ..Self::business(name, rows)
        }
    }

    pub fn bad(mut self, bad: Vec<BadRow>) -> Self {
        self.bad = bad;
        self
    }

    pub fn account(mut self, anchor: &'static str, a: &[(&str, &[&str])]) -> Self {
        self.accounts.push((anchor, attrs(a)));
        self
    }

    pub fn warning(
        mut self,
        anchor: &'static str,
        locator: &'static str,
        words: &[&'static str],
    ) -> Self {
        self.warnings.push((anchor, locator, words.to_vec()));
        self
    }

    pub fn error(
        mut self,
        anchor: Option<&'static str>,
        locator: &'static str,
        words: &[&'static str],
    ) -> Self {
        self.errors.push((anchor, locator, words.to_vec()));
        self
    }
}

/// Runs every case of a table; a failure names its case.
pub fn check(cases: &[Case]) -> Vec<Built> {
    let mut out = Vec::new();
    for case in cases {
        let built = build_accounts(case.flavor, &case.rows, &case.bad);
        let name = case.name;
        let got: Vec<(&str, &Attrs)> = built
            .accounts
            .iter()
            .map(|a| (a.anchor.as_str(), &a.attrs))
            .collect();
        let want: Vec<(&str, &Attrs)> = case.accounts.iter().map(|(a, x)| (*a, x)).collect();
        assert_eq!(got, want, "case \"{name}\": accounts");
        let notices = [
            ("warnings", &built.warnings, {
                let w: Vec<(Option<&str>, &str, &[&str])> = case
                    .warnings
                    .iter()
                    .map(|(a, l, w)| (Some(*a), *l, w.as_slice()))
                    .collect();
                w
            }),
            ("errors", &built.errors, {
                let e: Vec<(Option<&str>, &str, &[&str])> = case
                    .errors
                    .iter()
                    .map(|(a, l, w)| (*a, *l, w.as_slice()))
                    .collect();
                e
            }),
        ];
        for (what, got, want) in notices {
            let got_keys: Vec<(Option<&str>, &str)> = got
                .iter()
                .map(|n| (n.anchor.as_deref(), n.locator.as_str()))
                .collect();
            let want_keys: Vec<(Option<&str>, &str)> =
                want.iter().map(|(a, l, _)| (*a, *l)).collect();
            assert_eq!(got_keys, want_keys, "case \"{name}\": {what}: {got:#?}");
            for (n, (_, _, words)) in got.iter().zip(&want) {
                for word in *words {
                    assert!(
                        n.message.contains(word),
                        "case \"{name}\": {what}: \"{}\" does not say \"{word}\"",
                        n.message
                    );
                }
            }
        }
        out.push(built);
    }
    out
}

/// A pbx connector built by the factory from TOML settings, with `dir` as the base directory.
pub fn connector(dir: &Path, settings: &str) -> Arc<dyn Connector> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors.build("node-1", "pbx", &table, dir).unwrap()
}

pub fn request(mode: ImportMode, watermark: Option<String>) -> ImportRequest {
    ImportRequest {
        mode,
        watermark,
        status_file: None,
        absent_is_empty: false,
    }
}

pub async fn full_import(c: &dyn Connector, sink: &mut MemorySink) -> ImportSummary {
    c.import(request(ImportMode::Full, None), sink)
        .await
        .unwrap()
}

/// `text` as UTF-16 LE bytes with a BOM.
pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}
