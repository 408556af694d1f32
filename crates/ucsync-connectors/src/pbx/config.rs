//! The settings of a `pbx` connector (`[connectors.NAME.settings]`): parsing and validation that
//! reports every problem with its key path, like the other kinds.
//!
//! This module knows TOML and the meaning of each setting; it does not read the export file.

use std::path::{Path, PathBuf};

use ucsync_model::ConfigProblem;

pub use crate::csv::FileEncoding;

/// Every key a pbx settings table may hold, with what it expects (used in error messages).
pub const SETTING_KEYS: &[(&str, &str)] = &[
    (
        "path",
        "a file path, e.g. path = \"exports/pbx-node-1.csv\"",
    ),
    ("flavor", "\"mivoice-business\" or \"mivoice-office-250\""),
    (
        "feature_profile",
        "a profile name, e.g. feature_profile = \"Standard\"",
    ),
    ("dynamic_extensions_only", "true or false"),
    (
        "delimiter",
        "one character, e.g. delimiter = \";\" or \"\\t\"",
    ),
    ("encoding", "\"utf-8\" or \"utf-16le\""),
];

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
}

impl PbxSettings {
    /// Parses and validates a settings table; `at` is the table's key path. Every problem found
    /// is returned, each with the path of its key.
    pub fn parse(table: &toml::Table, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        let mut problem = |key: &str, message: String| {
            p.push(ConfigProblem::new(format!("{at}.{key}"), message));
        };
        let mut path = None;
        let mut path_seen = false;
        let mut settings = PbxSettings {
            path: PathBuf::new(),
            flavor: Flavor::MivoiceBusiness,
            feature_profile: None,
            dynamic_extensions_only: false,
            delimiter: b',',
            encoding: FileEncoding::Utf8,
        };
        for (key, value) in table {
            let expected = SETTING_KEYS
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, what)| *what);
            let Some(expected) = expected else {
                let allowed: Vec<&str> = SETTING_KEYS.iter().map(|(k, _)| *k).collect();
                problem(
                    key,
                    format!("unknown key; allowed here: {}", allowed.join(", ")),
                );
                continue;
            };
            let wrong_type = |found: &toml::Value| {
                format!(
                    "expected {}, found {}; write {expected}",
                    if key == "dynamic_extensions_only" {
                        "a boolean"
                    } else {
                        "a string"
                    },
                    found.type_str()
                )
            };
            match (key.as_str(), value) {
                ("dynamic_extensions_only", toml::Value::Boolean(b)) => {
                    settings.dynamic_extensions_only = *b;
                }
                ("dynamic_extensions_only", other) => problem(key, wrong_type(other)),
                (_, toml::Value::String(s)) => match key.as_str() {
                    "path" => {
                        path_seen = true;
                        if s.trim().is_empty() {
                            problem(
                                key,
                                "the path is empty; name the file the PBX node exports, e.g. path = \"exports/pbx-node-1.csv\"".into(),
                            );
                        } else {
                            path = Some(PathBuf::from(s.trim()));
                        }
                    }
                    "flavor" => match s.to_ascii_lowercase().as_str() {
                        "mivoice-business" => settings.flavor = Flavor::MivoiceBusiness,
                        "mivoice-office-250" => settings.flavor = Flavor::MivoiceOffice250,
                        _ => problem(
                            key,
                            format!(
                                "{s:?} is not a PBX flavor this connector reads; allowed: \"mivoice-business\", \"mivoice-office-250\""
                            ),
                        ),
                    },
                    "feature_profile" => {
                        if s.trim().is_empty() {
                            problem(
                                key,
                                "the feature profile is empty; name one, or remove feature_profile so that new accounts get none".into(),
                            );
                        } else {
                            settings.feature_profile = Some(s.trim().to_owned());
                        }
                    }
                    "delimiter" => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) if c.is_ascii() && !matches!(c, '"' | '\r' | '\n') => {
                                settings.delimiter = c as u8;
                            }
                            _ => problem(
                                key,
                                format!(
                                    "{s:?} is not allowed; use one ASCII character other than a quote or a line break, e.g. \",\", \";\" or \"\\t\""
                                ),
                            ),
                        }
                    }
                    "encoding" => match s.to_ascii_lowercase().as_str() {
                        "utf-8" => settings.encoding = FileEncoding::Utf8,
                        "utf-16le" => settings.encoding = FileEncoding::Utf16Le,
                        _ => problem(
                            key,
                            format!("{s:?} is not supported; allowed: \"utf-8\", \"utf-16le\""),
                        ),
                    },
                    _ => problem(key, wrong_type(value)),
                },
                (_, other) => {
                    if key == "path" {
                        path_seen = true;
                    }
                    problem(key, wrong_type(other));
                }
            }
        }
        match path {
            Some(path) => settings.path = path,
            None if path_seen => {}
            None => problem(
                "path",
                "required: the CSV file the PBX node exports (one row per number), e.g. path = \"exports/pbx-node-1.csv\"".into(),
            ),
        }
        if p.is_empty() { Ok(settings) } else { Err(p) }
    }

    /// Makes a relative path absolute from `base_dir` (the configuration file's directory).
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if self.path.is_relative() {
            self.path = base_dir.join(&self.path);
        }
    }
}

impl crate::KindSettings for PbxSettings {
    fn parse(table: &toml::Table, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        PbxSettings::parse(table, at)
    }

    fn resolve_paths(&mut self, base_dir: &Path) {
        PbxSettings::resolve_paths(self, base_dir);
    }
}
