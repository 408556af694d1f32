//! Settings validation and the connector registry.

use std::collections::BTreeMap;

use ucsync_model::{ConfigProblem, ConnectorFactory, ExportStyle};

use super::super::config::{CsvSettings, CsvSettingsAsWritten, FileEncoding, ObjectTypes};
use crate::Connectors;
use crate::settings::{fields_of, read};

const AT: &str = "connectors.hr.settings";

fn problems(settings: &str) -> Vec<ConfigProblem> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors.validate("csv", &table, AT)
}

/// Problems by key path (relative to the settings table).
fn by_path(settings: &str) -> BTreeMap<String, String> {
    problems(settings)
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
    let table: toml::Table = r#"path = "users.csv"
key = ["Email"]"#
        .parse()
        .unwrap();
    let s = read::<CsvSettings>(&table, AT).unwrap();
    assert_eq!(s.object_types, ObjectTypes::Fixed("person".into()));
    assert_eq!(s.delimiter, b',');
    assert_eq!(s.encoding, FileEncoding::Utf8);
    assert!(!s.bom);
    assert!(s.status_file);
    assert_eq!(s.key, ["Email"]);
    assert_eq!(s.export_target(), std::path::Path::new("users.csv"));
}

#[test]
fn a_single_key_column_may_be_a_string_and_tab_is_a_delimiter() {
    let table: toml::Table =
        "path = \"u.tsv\"\nkey = \"Email\"\ndelimiter = \"\\t\"\nencoding = \"UTF-16LE\""
            .parse()
            .unwrap();
    let s = read::<CsvSettings>(&table, AT).unwrap();
    assert_eq!(s.key, ["Email"]);
    assert_eq!(s.delimiter, b'\t');
    assert_eq!(s.encoding, FileEncoding::Utf16Le);
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let p = by_path(
        r#"
        pth = "users.csv"
        delimiter = ";;"
        encoding = "latin1"
        bom = "yes"
        key = ["Email", 3]
        columns = { FirstName = "givenName", Age = 42 }
        numbered = { TC1 = "trackingCode" }
        multi_valued = { member = "" }
        status_file = 1
        "#,
    );
    let paths: Vec<&str> = p.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "bom",
            "columns.Age",
            "delimiter",
            "encoding",
            "key[1]",
            "multi_valued.member",
            "numbered.TC1",
            "path",
            "pth",
            "status_file",
        ]
    );
    let allowed = fields_of::<CsvSettingsAsWritten>();
    assert_eq!(
        p["pth"],
        format!("unknown key; allowed here: {}", allowed.join(", "))
    );
    assert!(p["path"].starts_with("required"), "{}", p["path"]);
    assert!(
        p["delimiter"].contains("one ASCII character"),
        "{}",
        p["delimiter"]
    );
    assert!(
        p["encoding"].contains("\"utf-8\", \"utf-16le\""),
        "{}",
        p["encoding"]
    );
    assert!(p["bom"].contains("true or false"), "{}", p["bom"]);
    assert!(
        p["columns.Age"].contains("expected a string, found integer"),
        "{}",
        p["columns.Age"]
    );
    assert!(p["key[1]"].contains("found integer"), "{}", p["key[1]"]);
    assert!(
        p["numbered.TC1"].contains("not end with a digit"),
        "{}",
        p["numbered.TC1"]
    );
    assert!(
        p["status_file"].contains("true or false"),
        "{}",
        p["status_file"]
    );
}

#[test]
fn key_columns_must_be_single_valued_attributes() {
    let p = by_path(
        r#"
        path = "u.csv"
        key = ["UserName", "TC1", "Groups", "Type", "Email", "Email"]
        object_type_column = "Type"
        object_types = ["person"]
        columns = { UserName = "", Groups = "member" }
        numbered = { TC = "trackingCode" }
        multi_valued = { member = ";" }
        "#,
    );
    assert!(p["key[0]"].contains("dropped"), "{}", p["key[0]"]);
    assert!(p["key[1]"].contains("numbered"), "{}", p["key[1]"]);
    assert!(p["key[2]"].contains("multi-valued"), "{}", p["key[2]"]);
    assert!(
        p["key[3]"].contains("object_type_column"),
        "{}",
        p["key[3]"]
    );
    assert!(p["key[5]"].contains("listed twice"), "{}", p["key[5]"]);
    assert!(!p.contains_key("key[4]"));
}

#[test]
fn missing_key_and_object_type_choices_are_explained() {
    let p = by_path(
        r#"
        path = "u.csv"
        object_type = "person"
        object_type_column = "Type"
        "#,
    );
    assert!(p["key"].starts_with("required"), "{}", p["key"]);
    assert!(
        p["object_type"].contains("not both"),
        "{}",
        p["object_type"]
    );

    let p = by_path(
        r#"
        path = "u.csv"
        key = ["Email"]
        object_type_column = "Type"
        header = ["Type"]
        "#,
    );
    assert!(
        p["object_types"].contains("list the object types"),
        "{}",
        p["object_types"]
    );
    assert!(
        p["header"].contains("key column \"Email\" is missing"),
        "{}",
        p["header"]
    );

    let p = by_path(
        r#"
        path = "u.csv"
        key = ["Email"]
        object_types = ["person"]
        encoding = "utf-16le"
        bom = false
        "#,
    );
    assert!(p["object_types"].contains("only with object_type_column"));
    assert!(p["bom"].contains("always written with a BOM"));
}

#[test]
fn mapping_collisions_are_refused() {
    let p = problems(
        r#"
        path = "u.csv"
        key = ["Email"]
        columns = { Email = "mail", Mail2 = "mail", Codes = "trackingCode" }
        numbered = { TC = "trackingCode" }
        multi_valued = { trackingCode = ";" }
        "#,
    );
    let has = |path: &str, text: &str| {
        p.iter()
            .any(|q| q.path == format!("{AT}.{path}") && q.message.contains(text))
    };
    assert!(
        has("columns.Mail2", "both become attribute \"mail\""),
        "{p:?}"
    );
    assert!(has("numbered.TC", "also in multi_valued"), "{p:?}");
    assert!(
        has("numbered.TC", "also the target of columns.Codes"),
        "{p:?}"
    );
}

#[test]
fn the_list_of_keys_matches_what_the_parser_accepts() {
    let all = r#"
        path = "u.csv"
        export_path = "out.csv"
        object_type_column = "Type"
        object_types = ["person"]
        delimiter = ";"
        encoding = "utf-8"
        bom = true
        key = ["Email"]
        columns = { First = "givenName" }
        numbered = { TC = "trackingCode" }
        multi_valued = { member = ";" }
        header = ["Email", "Type"]
        status_file = false
        "#;
    assert_eq!(problems(all), []);
    let table: toml::Table = all.parse().unwrap();
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    keys.push("object_type");
    keys.sort();
    let mut listed = fields_of::<CsvSettingsAsWritten>().to_vec();
    listed.sort();
    assert_eq!(keys, listed);
}

#[test]
fn the_registry_knows_csv_and_refuses_other_kinds() {
    assert_eq!(
        Connectors.kinds(),
        ["csv", "ldap", "pbx", "communities", "peer"]
    );
    let caps = Connectors.capabilities("csv").unwrap();
    assert!(!caps.delta_import);
    assert_eq!(caps.export, Some(ExportStyle::Image));
    assert!(Connectors.capabilities("scim").is_none());
    let table = toml::Table::new();
    let p = Connectors.validate("scim", &table, "connectors.x.settings");
    assert_eq!(p.len(), 1);
    assert!(p[0].message.contains("this build knows: csv, ldap, pbx"));
    let err = Connectors
        .build("x", "csv", &table, std::path::Path::new("/"))
        .err()
        .unwrap();
    assert!(
        err.contains("connectors.x.settings.path: required"),
        "{err}"
    );
    assert!(err.contains("connectors.x.settings.key: required"), "{err}");
}

#[tokio::test]
async fn relative_paths_are_taken_from_the_base_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.csv"), "Email\na@x\n").unwrap();
    let c = super::connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    c.check_connection().await.unwrap();
    let mut sink = super::MemorySink::new();
    super::full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["a@x"]);
}

#[test]
fn character_rule_among_the_settings_is_pointed_to_its_place() {
    let text = "version = 1\n[connectors.hr]\nkind = \"csv\"\n[connectors.hr.settings]\npath = \"hr.csv\"\nkey = \"id\"\ncharacter_rule = false\n";
    let Err(ucsync_model::config::ConfigError::Invalid(p)) =
        ucsync_model::config::parse(text, &Connectors)
    else {
        panic!("accepted");
    };
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "connectors.hr.settings.character_rule");
    assert_eq!(
        p[0].message,
        "character_rule is a key of the connector, not of its settings: write it under \
         [connectors.hr], beside settings (character_rule = false turns the valid-character \
         rule off for this connector)"
    );
    let moved = text.replace("character_rule = false\n", "").replace(
        "kind = \"csv\"\n",
        "kind = \"csv\"\ncharacter_rule = false\n",
    );
    let config = ucsync_model::config::parse(&moved, &Connectors).unwrap();
    assert!(!config.connectors["hr"].character_rule(true));
}
