//! The settings of a `pbx` connector (`[connectors.NAME.settings]`): the table as written
//! ([`PbxSettingsAsWritten`], read by [`crate::settings`]) and its validation into
//! [`PbxSettings`], every problem with its key path.
//!
//! This module knows TOML and the meaning of each setting; it does not read the export file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use ucsync_model::ConfigProblem;

pub use crate::csv::FileEncoding;
use crate::csv::{delimiter_setting, encoding_setting};

/// The kind of PBX node the export comes from; it decides the account rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// MiVoice Business: device classification, PRG/MDUG groups and their pilots.
    MivoiceBusiness,
    /// MiVoice Office 250: accounts by name only, every number kept.
    MivoiceOffice250,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::MivoiceBusiness => "mivoice-business",
            Flavor::MivoiceOffice250 => "mivoice-office-250",
        }
    }
}

/// The validated settings of one pbx connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbxSettings {
    /// The CSV file the PBX node exports (one row per number).
    pub path: PathBuf,
    pub flavor: Flavor,
    /// Given to every account this connector creates (attribute `featureProfile`).
    pub feature_profile: Option<String>,
    /// Read only the numbers flagged as dynamic extensions.
    pub dynamic_extensions_only: bool,
    pub delimiter: u8,
    pub encoding: FileEncoding,
    /// The digit (or two) the node dials for an outside line. The node's own import does not
    /// use it: the peers of its enterprise put it before their contacts' numbers.
    pub outgoing_digit: Option<String>,
}

/// A pbx settings table as written; its fields are the keys it may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PbxSettingsAsWritten {
    /// A file path, e.g. path = "exports/pbx-node-1.csv".
    path: Option<String>,
    /// "mivoice-business" (the default) or "mivoice-office-250".
    flavor: Option<String>,
    /// A profile name, e.g. feature_profile = "Standard".
    feature_profile: Option<String>,
    dynamic_extensions_only: bool,
    /// One character, e.g. delimiter = ";" or "\t".
    delimiter: Option<String>,
    /// "utf-8" (the default) or "utf-16le".
    encoding: Option<String>,
    /// One or two digits, e.g. outgoing_digit = "9".
    outgoing_digit: Option<String>,
}

/// What is wrong with an outgoing digit, if anything.
pub fn outgoing_digit_problem(d: &str) -> Option<String> {
    let ok = (1..=2).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit());
    (!ok).then(|| {
        format!(
            "{d:?} is not an outgoing digit; give the digit (or two) the PBX node dials for an outside line, e.g. outgoing_digit = \"9\", or leave it out"
        )
    })
}

impl crate::settings::KindSettings for PbxSettings {
    type Raw = PbxSettingsAsWritten;

    fn validate(raw: PbxSettingsAsWritten, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        let mut problem = |key: &str, message: String| {
            p.push(ConfigProblem::new(format!("{at}.{key}"), message));
        };
        let path = match raw.path.as_deref().map(str::trim) {
            None => {
                problem(
                    "path",
                    "required: the CSV file the PBX node exports (one row per number), e.g. path = \"exports/pbx-node-1.csv\"".into(),
                );
                PathBuf::new()
            }
            Some("") => {
                problem(
                    "path",
                    "the path is empty; name the file the PBX node exports, e.g. path = \"exports/pbx-node-1.csv\"".into(),
                );
                PathBuf::new()
            }
            Some(path) => PathBuf::from(path),
        };
        let flavor = match raw
            .flavor
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("mivoice-business") => Flavor::MivoiceBusiness,
            Some("mivoice-office-250") => Flavor::MivoiceOffice250,
            Some(_) => {
                problem(
                    "flavor",
                    format!(
                        "{:?} is not a PBX flavor this connector reads; allowed: \"mivoice-business\", \"mivoice-office-250\"",
                        raw.flavor.unwrap_or_default()
                    ),
                );
                Flavor::MivoiceBusiness
            }
        };
        let feature_profile = match raw.feature_profile.as_deref().map(str::trim) {
            Some("") => {
                problem(
                    "feature_profile",
                    "the feature profile is empty; name one, or remove feature_profile so that new accounts get none".into(),
                );
                None
            }
            other => other.map(str::to_owned),
        };
        let delimiter = delimiter_setting(raw.delimiter.as_deref()).unwrap_or_else(|m| {
            problem("delimiter", m);
            b','
        });
        let encoding = encoding_setting(raw.encoding.as_deref()).unwrap_or_else(|m| {
            problem("encoding", m);
            FileEncoding::Utf8
        });
        let outgoing_digit = raw.outgoing_digit.map(|d| d.trim().to_owned());
        if let Some(m) = outgoing_digit.as_deref().and_then(outgoing_digit_problem) {
            problem("outgoing_digit", m);
        }
        if !p.is_empty() {
            return Err(p);
        }
        Ok(PbxSettings {
            path,
            flavor,
            feature_profile,
            dynamic_extensions_only: raw.dynamic_extensions_only,
            delimiter,
            encoding,
            outgoing_digit,
        })
    }

    /// Makes a relative path absolute from `base_dir` (the configuration file's directory).
    fn resolve_paths(&mut self, base_dir: &Path) {
        if self.path.is_relative() {
            self.path = base_dir.join(&self.path);
        }
    }
}
