//! Settings validation: defaults, every key, and every problem named with its key path.

use std::collections::BTreeMap;
use std::path::Path;

use ucsync_model::ConnectorFactory;

use super::super::config::{FileEncoding, Flavor, PbxSettings, PbxSettingsAsWritten};
use crate::Connectors;
use crate::settings::{KindSettings, fields_of, read};

const AT: &str = "connectors.node-1.settings";

/// Problems by key path (relative to the settings table).
fn by_path(settings: &str) -> BTreeMap<String, String> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors
        .validate("pbx", &table, AT)
        .into_iter()
        .map(|p| {
            let path = p
                .path
                .strip_prefix(&format!("{AT}."))
                .unwrap_or(&p.path)
                .to_owned();
            (path, p.message)
        })
        .collect()
}

#[test]
fn minimal_settings_take_the_defaults() {
    let table: toml::Table = "path = \"node-1.csv\"".parse().unwrap();
    let mut s = read::<PbxSettings>(&table, AT).unwrap();
    assert_eq!(
        s,
        PbxSettings {
            path: "node-1.csv".into(),
            flavor: Flavor::MivoiceBusiness,
            feature_profile: None,
            dynamic_extensions_only: false,
            delimiter: b',',
            encoding: FileEncoding::Utf8,
            outgoing_digit: None,
        }
    );
    s.resolve_paths(Path::new("/etc/ucsync"));
    assert_eq!(s.path, Path::new("/etc/ucsync/node-1.csv"));
}

#[test]
fn every_key_is_read() {
    let table: toml::Table = r#"
path = "/data/node-2.csv"
flavor = "MiVoice-Office-250"
feature_profile = " Standard UC "
dynamic_extensions_only = true
delimiter = "\t"
encoding = "UTF-16LE"
outgoing_digit = " 9 "
"#
    .parse()
    .unwrap();
    let mut s = read::<PbxSettings>(&table, AT).unwrap();
    s.resolve_paths(Path::new("/etc/ucsync"));
    assert_eq!(
        s,
        PbxSettings {
            path: "/data/node-2.csv".into(),
            flavor: Flavor::MivoiceOffice250,
            feature_profile: Some("Standard UC".into()),
            dynamic_extensions_only: true,
            delimiter: b'\t',
            encoding: FileEncoding::Utf16Le,
            outgoing_digit: Some("9".into()),
        }
    );
    // Every key of the table as written was given.
    assert_eq!(fields_of::<PbxSettingsAsWritten>().len(), table.len());
}

#[test]
fn every_problem_is_named_with_its_key_path() {
    let p = by_path(
        r#"
flavor = "mivoice-5000"
feature_profile = ""
dynamic_extensions_only = "yes"
delimiter = ";;"
encoding = "latin-1"
outgoing_digit = "9#"
paths = "x.csv"
character_rule = true
"#,
    );
    let keys: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "character_rule",
            "delimiter",
            "dynamic_extensions_only",
            "encoding",
            "feature_profile",
            "flavor",
            "outgoing_digit",
            "path",
            "paths",
        ]
    );
    assert!(p["flavor"].contains("\"mivoice-business\", \"mivoice-office-250\""));
    assert!(p["feature_profile"].contains("empty"));
    assert!(
        p["dynamic_extensions_only"].contains("expected a boolean, found string"),
        "{p:?}"
    );
    assert!(p["delimiter"].contains("one ASCII character"));
    assert!(p["encoding"].contains("\"utf-16le\""));
    assert!(p["outgoing_digit"].contains("\"9#\" is not an outgoing digit"));
    assert!(p["path"].starts_with("required"));
    assert!(p["paths"].contains("unknown key; allowed here: path, flavor"));
    // The connector-level key belongs beside `settings`, not inside.
    assert!(p["character_rule"].contains("unknown key"));

    let p = by_path("path = 7");
    assert_eq!(p.len(), 1);
    assert!(
        p["path"].contains("expected a string, found integer"),
        "{p:?}"
    );
    let p = by_path("path = \" \"");
    assert!(p["path"].contains("the path is empty"));
}

#[test]
fn an_outgoing_digit_is_one_or_two_digits() {
    for digit in ["9", "00"] {
        let table: toml::Table = format!("path = \"n.csv\"\noutgoing_digit = {digit:?}")
            .parse()
            .unwrap();
        let s = read::<PbxSettings>(&table, AT).unwrap();
        assert_eq!(s.outgoing_digit.as_deref(), Some(digit));
    }
    for digit in ["", "123", "x", "9a"] {
        let p = by_path(&format!("path = \"n.csv\"\noutgoing_digit = {digit:?}"));
        assert_eq!(p.len(), 1, "{digit:?}: {p:?}");
        assert!(
            p["outgoing_digit"].contains("not an outgoing digit"),
            "{digit:?}: {p:?}"
        );
    }
}

#[test]
fn the_factory_builds_and_names_problems_of_the_pbx_kind() {
    assert!(Connectors.kinds().contains(&"pbx"));
    let table: toml::Table = "flavor = 1".parse().unwrap();
    let err = Connectors
        .build("node-1", "pbx", &table, Path::new("."))
        .err()
        .unwrap();
    assert!(err.contains("connectors.node-1.settings.flavor"), "{err}");
    assert!(
        err.contains("connectors.node-1.settings.path: required"),
        "{err}"
    );
}
