//! The connector reading real export files: columns by header name, bad rows, encodings, the
//! delta watermark, `dynamic_extensions_only`, MiVoice Office 250, and the example exports.

use std::path::Path;

use ucsync_model::{Attrs, ConnectorError, ConnectorFactory, ImportMode};

use super::{MemorySink, attrs, connector, full_import, request, utf16le};
use crate::Connectors;

const HEADER: &str =
    "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic";

fn write(dir: &Path, text: &str) {
    std::fs::write(dir.join("pbx.csv"), text).unwrap();
}

/// (anchor, locator, message) as borrowed strings.
fn notices(list: &[(Option<String>, String, String)]) -> Vec<(Option<&str>, &str, &str)> {
    list.iter()
        .map(|(a, l, m)| (a.as_deref(), l.as_str(), m.as_str()))
        .collect()
}

#[tokio::test]
async fn columns_are_found_by_header_name_in_any_order_and_case() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dynamic,NUMBER,last name,First Name,device type,Department,mac address,GROUP,group kind,Pilot\n\
         no,1001,Berg,Anna,5330e IP,Sales,,7001,prg,yes\n\
         ,2001,Berg,Anna,5020 IP,Sales,a1-21-00-00-12-34,7001,PRG,\n\
         \n\
         YES,1002,Ek,Bo,5020 IP,,00-08-5d-11-22-33,,,\n\
         0, 2002 , Ek , Bo ,app server port,,,,,\n",
    );
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let mut sink = MemorySink::new();
    let summary = full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.warnings, []);
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales", "Bo|Ek|"]);
    let anna = sink.object("Anna|Berg|Sales");
    assert_eq!(anna.object_type, "account");
    assert_eq!(
        anna.locator.as_deref(),
        Some("numbers 1001, 2001 (lines 2, 3)")
    );
    assert_eq!(
        anna.attrs,
        attrs(&[
            ("givenName", &["Anna"]),
            ("sn", &["Berg"]),
            ("department", &["Sales"]),
            ("telephoneNumber", &["1001", "2001"]),
            ("deskphone", &["1001"]),
            ("softphone", &["2001"]),
            ("softphoneType", &["minet"]),
            ("pilot", &["1001"]),
            ("pbxGroup", &["7001"]),
            ("pbxGroupKind", &["prg"]),
        ])
    );
    // An empty line is skipped, and lines keep their numbers.
    assert_eq!(
        sink.object("Bo|Ek|").locator.as_deref(),
        Some("numbers 1002, 2002 (lines 5, 6)")
    );
    // A 5020 IP with another vendor's MAC address is a deskphone; cells are trimmed.
    assert_eq!(
        sink.object("Bo|Ek|").attrs,
        attrs(&[
            ("givenName", &["Bo"]),
            ("sn", &["Ek"]),
            ("telephoneNumber", &["1002", "2002"]),
            ("deskphone", &["1002"]),
            ("softphone", &["2002"]),
            ("softphoneType", &["minet"]),
            ("dynamicExtension", &["1002"]),
        ])
    );
    assert_eq!(sink.listings_ended, 1);
    assert!(summary.watermark.is_some());
    assert!(!summary.skipped_unchanged);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_their_accounts_are_kept_as_staged() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{HEADER}\n\
             1001,Anna,Berg,Sales,5330e IP,,,,,\n\
             2001,Anna,Berg,Sales,5020 IP,A1:21:00,,,,\n\
             1002,Bo,Ek,,5330e IP,,,,maybe,\n\
             12a4,Cy,Lo,,5330e IP,,,,,\n\
             1003,Di,Mo,,5330e IP,,,,,\n\
             1003,Ed,No,,5330e IP,,,,,\n\
             1004,Fa,Po,,5330e IP,,8001,XYZ,yes,\n\
             1005,Gu,Qu,,5330e IP\n\
             1006,Ha,Ro,,5330e IP,,,,,\n"
        ),
    );
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let mut sink = MemorySink::new();
    for anchor in ["Anna|Berg|Sales", "Zed|Gone|"] {
        sink.staged
            .insert(anchor.to_owned(), ("account".to_owned(), Attrs::new()));
    }
    full_import(c.as_ref(), &mut sink).await;

    assert_eq!(sink.anchors(), ["Di|Mo|", "Ha|Ro|"]);
    let errors = notices(&sink.errors);
    let keys: Vec<(Option<&str>, &str)> = errors.iter().map(|(a, l, _)| (*a, *l)).collect();
    assert_eq!(
        keys,
        [
            (Some("Anna|Berg|Sales"), "line 3"),
            (Some("Bo|Ek|"), "line 4"),
            (Some("Cy|Lo|"), "line 5"),
            (Some("Ed|No|"), "line 7"),
            (Some("Fa|Po|"), "line 8"),
            (Some("Gu|Qu|"), "line 9"),
        ]
    );
    let said = |line: &str, words: &[&str]| {
        let (_, _, m) = errors.iter().find(|(_, l, _)| *l == line).unwrap();
        for w in words {
            assert!(m.contains(w), "{line}: \"{m}\" does not say \"{w}\"");
        }
    };
    said(
        "line 3",
        &[
            "line 3",
            "number 2001",
            "\"MAC Address\"",
            "A1:21:00",
            "six pairs",
        ],
    );
    said(
        "line 4",
        &["number 1002", "\"Pilot\"", "\"maybe\"", "yes, no"],
    );
    said("line 5", &["number 12a4", "\"Number\"", "'a'"]);
    said("line 7", &["number 1003", "also on line 6"]);
    said("line 8", &["\"Group Kind\"", "\"XYZ\"", "PRG or MDUG"]);
    said("line 9", &["number 1005", "5 fields but the header has 10"]);
    // The accounts with a bad row stay as they were staged; so does the account gone from the
    // export: with rows in error the listing is incomplete, and nothing is deleted.
    assert!(sink.staged.contains_key("Anna|Berg|Sales"));
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
    assert!(sink.staged.contains_key("Zed|Gone|"));
    assert!(sink.withheld.is_some());
}

#[tokio::test]
async fn unknown_or_missing_columns_stop_the_import_before_anything_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    for (text, words) in [
        (
            "Number,Name,Device Type,Extension\n1001,Anna,5330e IP,1\n",
            &[
                "column 2 (\"Name\")",
                "column 4 (\"Extension\")",
                "First Name, Last Name",
            ][..],
        ),
        (
            "First Name,Department\nAnna,Sales\n",
            &["\"Number\" is missing", "\"Device Type\" is missing"][..],
        ),
        (
            "Number,Device Type,number\n",
            &["\"Number\" is in the header twice"][..],
        ),
    ] {
        write(dir.path(), text);
        let mut sink = MemorySink::new();
        let err = c
            .import(request(ImportMode::Full, None), &mut sink)
            .await
            .unwrap_err();
        let ConnectorError::Config(message) = err else {
            panic!("not a configuration error: {err}");
        };
        for w in words {
            assert!(message.contains(w), "\"{message}\" does not say \"{w}\"");
        }
        assert_eq!(sink.listings_ended, 0);
    }
}

#[tokio::test]
async fn a_missing_or_empty_export_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let err = c.check_connection().await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let mut sink = MemorySink::new();
    let err = c
        .import(request(ImportMode::Full, None), &mut sink)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err}");
    write(dir.path(), "");
    let err = c
        .import(request(ImportMode::Full, None), &mut sink)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no header line"), "{err}");
    assert_eq!(sink.listings_ended, 0);
    write(dir.path(), &format!("{HEADER}\n"));
    c.check_connection().await.unwrap();
}

#[tokio::test]
async fn utf16le_exports_are_read_by_their_bom_or_by_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\r\n1001,Åsa,Öberg,Försäljning,5330e IP,,,,,\r\n");
    let want = attrs(&[
        ("givenName", &["Åsa"]),
        ("sn", &["Öberg"]),
        ("department", &["Försäljning"]),
        ("telephoneNumber", &["1001"]),
        ("deskphone", &["1001"]),
    ]);
    // With its BOM, whatever the setting says.
    std::fs::write(dir.path().join("pbx.csv"), utf16le(&text)).unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.object("Åsa|Öberg|Försäljning").attrs, want);
    // Without a BOM, by the setting.
    std::fs::write(dir.path().join("pbx.csv"), &utf16le(&text)[2..]).unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"\nencoding = \"utf-16le\"");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.object("Åsa|Öberg|Försäljning").attrs, want);
    // Semicolons, as some exports have them.
    write(
        dir.path(),
        "Number;Device Type;Last Name\n1001;5330e IP;Berg\n",
    );
    let c = connector(dir.path(), "path = \"pbx.csv\"\ndelimiter = \";\"");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["|Berg|"]);
}

#[tokio::test]
async fn a_delta_import_skips_an_export_whose_content_hash_is_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEADER}\n1001,Anna,Berg,Sales,5330e IP,,,,,\n");
    write(dir.path(), &text);
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let mut sink = MemorySink::new();
    let first = full_import(c.as_ref(), &mut sink).await;
    let mark = first.watermark.clone().unwrap();
    assert!(mark.contains("xxh3"), "{mark}");

    // Rewritten with the same content: skipped, nothing listed.
    write(dir.path(), &text);
    sink.next_run();
    let again = c
        .import(request(ImportMode::Delta, Some(mark.clone())), &mut sink)
        .await
        .unwrap();
    assert!(again.skipped_unchanged);
    assert_eq!(again.watermark.as_deref(), Some(mark.as_str()));
    assert!(sink.objects.is_empty());
    assert_eq!(
        sink.listings_ended, 1,
        "only the first import ended a listing"
    );

    // A full import reads it anyway.
    let full = c
        .import(request(ImportMode::Full, Some(mark.clone())), &mut sink)
        .await
        .unwrap();
    assert!(!full.skipped_unchanged);
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales"]);

    // Changed content: read.
    write(dir.path(), &format!("{text}1002,Bo,Ek,,5330e IP,,,,,\n"));
    sink.next_run();
    let changed = c
        .import(request(ImportMode::Delta, Some(mark.clone())), &mut sink)
        .await
        .unwrap();
    assert!(!changed.skipped_unchanged);
    assert_ne!(changed.watermark, Some(mark));
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales", "Bo|Ek|"]);

    // A watermark it cannot read: the whole export is read, and the run record says so.
    sink.next_run();
    let odd = c
        .import(
            request(ImportMode::Delta, Some("cookie".to_owned())),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(odd.note.unwrap().contains("not understood"));
    assert_eq!(sink.anchors().len(), 2);
}

#[tokio::test]
async fn dynamic_extensions_only_skips_the_other_numbers_silently_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{HEADER}\n\
             1001,Anna,Berg,Sales,5330e IP,,,,,yes\n\
             1002,Anna,Berg,Sales,5330e IP,,,,,no\n\
             1003,Bo,Ek,,5020 IP,not-a-mac,,,,\n\
             1004,Cy,Lo,,App Server Port,,,,,1\n"
        ),
    );
    let c = connector(
        dir.path(),
        "path = \"pbx.csv\"\ndynamic_extensions_only = true",
    );
    let mut sink = MemorySink::new();
    let summary = full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.warnings, []);
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales", "Cy|Lo|"]);
    assert_eq!(
        sink.object("Anna|Berg|Sales").attrs.get("dynamicExtension"),
        ["1001"]
    );
    assert_eq!(
        summary.note.as_deref(),
        Some("2 numbers skipped: not dynamic extensions (dynamic_extensions_only)")
    );

    // Without the setting every number is read.
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let mut sink = MemorySink::new();
    let summary = full_import(c.as_ref(), &mut sink).await;
    assert_eq!(summary.note, None);
    assert_eq!(notices(&sink.errors)[0].1, "line 4");
}

#[tokio::test]
async fn a_mivoice_office_250_export_gives_accounts_by_names_and_ignores_groups() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &format!(
            "{HEADER}\n\
             201,Anna,Berg,Sales,Mitel 5330,,,,,\n\
             202,Anna,Berg,Sales,Mitel 5330,not-read,G1,PRG,yes,\n\
             203,anna,berg,Sales,Mitel 5330,,,,,\n"
        ),
    );
    let c = connector(
        dir.path(),
        "path = \"pbx.csv\"\nflavor = \"mivoice-office-250\"",
    );
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales", "anna|berg|Sales"]);
    assert_eq!(
        sink.object("Anna|Berg|Sales").attrs,
        attrs(&[
            ("givenName", &["Anna"]),
            ("sn", &["Berg"]),
            ("department", &["Sales"]),
            ("telephoneNumber", &["201", "202"]),
        ])
    );
    let warnings = notices(&sink.warnings);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0, Some("Anna|Berg|Sales"));
    assert_eq!(warnings[0].1, "line 3");
    assert!(
        warnings[0].2.contains("Group, Group Kind, Pilot"),
        "{}",
        warnings[0].2
    );
}

#[tokio::test]
async fn the_connector_is_import_only_and_gives_the_feature_profile_to_new_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(
        dir.path(),
        "path = \"pbx.csv\"\nfeature_profile = \"Standard UC\"",
    );
    assert_eq!(c.kind(), "pbx");
    assert_eq!(c.object_types(), ["account"]);
    assert_eq!(
        c.initial_values("account"),
        attrs(&[("featureProfile", &["Standard UC"])])
    );
    assert!(c.initial_values("person").is_empty());
    assert!(c.character_rule_default());
    assert!(c.capabilities().retains_referenced_numbers);
    let err = c.anchor_for("account", &Attrs::new()).unwrap_err();
    assert!(err.contains("import-only"), "{err}");
    let caps = Connectors.capabilities("pbx").unwrap();
    assert!(!caps.delta_import);
    assert_eq!(caps.export, None);

    let plain = connector(
        dir.path(),
        "path = \"pbx.csv\"\nflavor = \"mivoice-office-250\"",
    );
    assert!(plain.initial_values("account").is_empty());
    assert!(plain.capabilities().retains_referenced_numbers);
}

/// The sample exports in `examples/pbx` read without an error.
#[tokio::test]
async fn the_example_exports_read_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pbx");
    for (settings, accounts) in [
        ("path = \"mivoice-business.csv\"", 13),
        (
            "path = \"mivoice-office-250.csv\"\nflavor = \"mivoice-office-250\"",
            4,
        ),
    ] {
        let c = connector(&dir, settings);
        let mut sink = MemorySink::new();
        full_import(c.as_ref(), &mut sink).await;
        assert_eq!(sink.errors, [], "{settings}");
        assert_eq!(
            sink.objects.len(),
            accounts,
            "{settings}: {:?}",
            sink.anchors()
        );
    }
}

#[tokio::test]
async fn a_quote_that_swallows_rows_is_an_error_naming_them_and_deletes_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    let rows = "1001,Anna,Berg,Sales,5330e IP,,,,,\n\
                1002,Bo,Ek,,5330e IP,,,,,\n\
                1003,Cy,Lo,,5330e IP,,,,,\n\
                1004,Di,Mo,,5330e IP,,,,,\n";
    write(dir.path(), &format!("{HEADER}\n{rows}"));
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.staged.len(), 4);
    sink.next_run();

    // A quote opened in Bo's department is never closed: Cy's and Di's lines are swallowed.
    write(
        dir.path(),
        &format!("{HEADER}\n{}", rows.replace(",Ek,,", ",Ek,\"Ops,")),
    );
    full_import(c.as_ref(), &mut sink).await;
    let errors = notices(&sink.errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (_, locator, message) = errors[0];
    assert_eq!(locator, "line 3");
    for part in [
        "lines 3–5 were read as one row: the quoted value of column \"Department\" opened on line 3 is never closed",
        "swallowed lines 4–5",
        "fix the line on the PBX and export again",
    ] {
        assert!(
            message.contains(part),
            "\"{message}\" does not say \"{part}\""
        );
    }
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales"]);
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
    assert_eq!(sink.staged.len(), 4);
}

#[tokio::test]
async fn a_nul_in_a_cell_and_a_last_line_cut_off_are_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"pbx.csv\"");
    write(
        dir.path(),
        &format!(
            "{HEADER}\n1001,Anna,Berg,Sales,5330e IP,,,,,\n1002,B\0o,Ek,,5330e IP,,,,,\n1003,Cy,Lo"
        ),
    );
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    let errors = notices(&sink.errors);
    let said: Vec<(&str, &str)> = errors.iter().map(|(_, l, m)| (*l, *m)).collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(said[0].0, "line 3");
    assert!(
        said[0]
            .1
            .contains("column \"First Name\" holds a NUL character (U+0000)"),
        "{}",
        said[0].1
    );
    assert_eq!(said[1].0, "line 4");
    assert!(
        said[1].1.contains("the file looks cut off"),
        "{}",
        said[1].1
    );
    assert_eq!(sink.anchors(), ["Anna|Berg|Sales"]);
}
