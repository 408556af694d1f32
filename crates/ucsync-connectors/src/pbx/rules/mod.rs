//! The PBX account rules: which numbers form one account, and what the account says of them.
//! A pure function of the rows ([`build_accounts`]); every choice it makes is deterministic and
//! written down in `docs/PBX.md`.
//!
//! MiVoice Business: numbers are classified (deskphone, Minet softphone, UC endpoint); a PRG or
//! MDUG forms one account named after its pilot; numbers in no group form the account of their
//! exact first name, last name and department, with one device of each kind. MiVoice Office
//! 250: accounts by exact names, every number kept. An account touched by a row or group error
//! is not built at all: the error carries its anchor, so the engine keeps it as it was.
//!
//! This module knows nothing of files (`records`) nor of the engine's sink.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use ucsync_model::Attrs;

use super::config::Flavor;
use super::records::{BadRow, Row};

mod business;

/// The attributes an account record carries.
pub mod attr {
    pub const GIVEN_NAME: &str = "givenName";
    pub const SN: &str = "sn";
    pub const DEPARTMENT: &str = "department";
    pub const TELEPHONE_NUMBER: &str = "telephoneNumber";
    pub const DESKPHONE: &str = "deskphone";
    pub const SOFTPHONE: &str = "softphone";
    pub const UC_ENDPOINT: &str = "ucEndpoint";
    pub const SOFTPHONE_TYPE: &str = "softphoneType";
    pub const PILOT: &str = "pilot";
    pub const PBX_GROUP: &str = "pbxGroup";
    pub const PBX_GROUP_KIND: &str = "pbxGroupKind";
    pub const DYNAMIC_EXTENSION: &str = "dynamicExtension";
    /// Given by `Connector::initial_values`, not by the records.
    pub const FEATURE_PROFILE: &str = "featureProfile";
}

/// Who an account belongs to: the exact first name, last name and department, case included.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    pub first: String,
    pub last: String,
    pub department: String,
}

impl Identity {
    pub fn new(first: &str, last: &str, department: &str) -> Self {
        Self {
            first: first.to_owned(),
            last: last.to_owned(),
            department: department.to_owned(),
        }
    }

    /// A first or a last name: without either, names identify nobody.
    fn is_named(&self) -> bool {
        !self.first.is_empty() || !self.last.is_empty()
    }

    /// `First|Last|Department`, each part with `\` and `|` escaped by a `\`.
    pub fn anchor(&self) -> String {
        [&self.first, &self.last, &self.department]
            .map(|part| escape(part))
            .join("|")
    }
}

/// A part of an anchor: `\` → `\\`, `|` → `\|`.
pub fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        if matches!(c, '\\' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The identity of a row's own names, when it has a first or a last name.
fn named(first: &str, last: &str, department: &str) -> Option<Identity> {
    Some(Identity::new(first, last, department)).filter(Identity::is_named)
}

fn own(row: &Row) -> Option<Identity> {
    named(&row.first, &row.last, &row.department)
}

/// Number order: shorter first, then character by character (for digit strings without
/// leading zeros, numeric order).
pub fn number_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn sorted<'a>(numbers: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = numbers.into_iter().collect();
    v.sort_by(|a, b| number_order(a, b));
    v
}

/// One account as the PBX shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub anchor: String,
    pub attrs: Attrs,
    /// `numbers 1001, 2001 (lines 2, 5)`.
    pub locator: String,
    first_line: u64,
}

/// A per-object warning or error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The account it concerns, when one is identified.
    pub anchor: Option<String>,
    /// `line 7` or `lines 3, 4`.
    pub locator: String,
    pub message: String,
    line: u64,
}

/// What the rules made of an export.
#[derive(Debug, Default)]
pub struct Built {
    /// In the order of their first line.
    pub accounts: Vec<Account>,
    /// In line order.
    pub warnings: Vec<Notice>,
    /// In line order; an error with an anchor means that account is not in `accounts`.
    pub errors: Vec<Notice>,
}

#[derive(Default)]
struct Out {
    built: Built,
}

fn lines_locator(lines: &[u64]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    lines.dedup();
    let list: Vec<String> = lines.iter().map(u64::to_string).collect();
    match list.len() {
        1 => format!("line {}", list.join("")),
        _ => format!("lines {}", list.join(", ")),
    }
}

impl Out {
    fn error(&mut self, anchor: Option<&Identity>, line: u64, message: String) {
        self.built.errors.push(Notice {
            anchor: anchor.map(Identity::anchor),
            locator: format!("line {line}"),
            message,
            line,
        });
    }

    fn warning(&mut self, anchor: &Identity, lines: &[u64], message: String) {
        self.built.warnings.push(Notice {
            anchor: Some(anchor.anchor()),
            locator: lines_locator(lines),
            message,
            line: lines.iter().copied().min().unwrap_or(0),
        });
    }

    /// Drops the accounts an error names, and puts everything in order.
    fn finish(self) -> Built {
        let mut built = self.built;
        let withheld: BTreeSet<&String> = built
            .errors
            .iter()
            .filter_map(|e| e.anchor.as_ref())
            .collect();
        let accounts = std::mem::take(&mut built.accounts);
        let mut accounts: Vec<Account> = accounts
            .into_iter()
            .filter(|a| !withheld.contains(&a.anchor))
            .collect();
        accounts.sort_by_key(|a| a.first_line);
        built.accounts = accounts;
        built.warnings.sort_by_key(|n| n.line);
        built.errors.sort_by_key(|n| n.line);
        built
    }
}

/// The accounts of an export's good rows; `bad` are the rows that could not be read, whose
/// accounts (when they can still be told) are reported with their anchor and not built.
pub fn build_accounts(flavor: Flavor, rows: &[Row], bad: &[BadRow]) -> Built {
    let mut out = Out::default();
    match flavor {
        Flavor::MivoiceBusiness => business::business(rows, bad, &mut out),
        Flavor::MivoiceOffice250 => office_250(rows, bad, &mut out),
    }
    out.finish()
}

fn no_names(row: &Row, why: &str) -> String {
    format!(
        "line {}, number {}: columns \"First Name\" and \"Last Name\" are empty{why}, so the number identifies no account; give it the user's names on the PBX",
        row.line, row.number
    )
}

fn office_250(rows: &[Row], bad: &[BadRow], out: &mut Out) {
    for b in bad {
        let anchor = named(&b.first, &b.last, &b.department);
        out.error(anchor.as_ref(), b.line, b.message.clone());
    }
    let mut accounts: BTreeMap<Identity, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let Some(identity) = own(r) else {
            out.error(None, r.line, no_names(r, ""));
            continue;
        };
        if !r.ignored.is_empty() {
            out.warning(
                &identity,
                &[r.line],
                format!(
                    "line {}, number {}: {} {} filled, but a MiVoice Office 250 has no groups or pilots, so {} ignored; if this export comes from a MiVoice Business, set flavor = \"mivoice-business\"",
                    r.line,
                    r.number,
                    if r.ignored.len() == 1 { "column" } else { "columns" },
                    if r.ignored.len() == 1 {
                        format!("{} is", r.ignored.join(", "))
                    } else {
                        format!("{} are", r.ignored.join(", "))
                    },
                    if r.ignored.len() == 1 { "it is" } else { "they are" }
                ),
            );
        }
        accounts.entry(identity).or_default().push(r);
    }
    for (identity, rows) in accounts {
        let numbers = sorted(rows.iter().map(|r| r.number.as_str()));
        let mut attrs = names(&identity);
        set(&mut attrs, attr::TELEPHONE_NUMBER, &numbers);
        set(&mut attrs, attr::DYNAMIC_EXTENSION, &dynamic(&rows));
        push_account(out, &identity, attrs, &numbers, &rows);
    }
}

fn names(identity: &Identity) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.set_one(attr::GIVEN_NAME, identity.first.as_str());
    attrs.set_one(attr::SN, identity.last.as_str());
    attrs.set_one(attr::DEPARTMENT, identity.department.as_str());
    attrs
}

fn set(attrs: &mut Attrs, name: &str, values: &[&str]) {
    attrs.set(name, values.iter().map(|v| (*v).to_owned()).collect());
}

/// The numbers flagged as dynamic extensions, in number order.
fn dynamic<'a>(rows: &[&'a Row]) -> Vec<&'a str> {
    sorted(rows.iter().filter(|r| r.dynamic).map(|r| r.number.as_str()))
}

fn push_account(out: &mut Out, identity: &Identity, attrs: Attrs, numbers: &[&str], rows: &[&Row]) {
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    let locator = format!(
        "{} {} ({})",
        if numbers.len() == 1 {
            "number"
        } else {
            "numbers"
        },
        numbers.join(", "),
        lines_locator(&lines)
    );
    out.built.accounts.push(Account {
        anchor: identity.anchor(),
        attrs,
        locator,
        first_line: lines.iter().copied().min().unwrap_or(0),
    });
}
