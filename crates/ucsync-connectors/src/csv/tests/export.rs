//! Export: layouts, rejections, atomic replacement, and the export → import round trip.

use ucsync_model::{Attrs, ConnectorError, EncodedAttrs, ImageObject};

use super::{MemorySink, VecSource, attrs, connector, files_in, from_utf16le, full_import, image};

const WEBEX: &str = r#"
path = "users.csv"
key = ["Email"]
columns = { UserName = "", FirstName = "firstName", LastName = "lastName", Email = "email" }
numbered = { TC = "trackingCode" }
multi_valued = { groups = ";" }
"#;

fn people() -> Vec<ImageObject> {
    vec![
        image(
            "zoe@x.com",
            "person",
            attrs(&[
                ("email", &["zoe@x.com"]),
                ("firstName", &["Zoë"]),
                ("lastName", &["Ångström"]),
                ("trackingCode", &["A", "B", "C"]),
                ("groups", &["sales", "eu"]),
                ("city", &["Oslo"]),
            ]),
        ),
        image(
            "li@x.com",
            "person",
            attrs(&[
                ("email", &["li@x.com"]),
                ("firstName", &["小龙"]),
                ("lastName", &["李"]),
                ("trackingCode", &["Z"]),
            ]),
        ),
    ]
}

#[tokio::test]
async fn without_header_or_file_the_layout_is_key_then_sorted_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), WEBEX);
    let summary = c
        .export_image(&mut VecSource::new(people(), 1))
        .await
        .unwrap();
    assert_eq!(summary.objects, 2);
    assert!(summary.rejected.is_empty());
    let text = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert_eq!(
        text,
        "Email,city,FirstName,groups,LastName,TC1,TC2,TC3\r\n\
         zoe@x.com,Oslo,Zoë,sales;eu,Ångström,A,B,C\r\n\
         li@x.com,,小龙,,李,Z,,\r\n"
    );
    assert_eq!(
        files_in(dir.path()),
        ["users.csv"],
        "no temporary file is left"
    );
}

#[tokio::test]
async fn an_existing_file_keeps_its_layout_and_gains_numbered_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(
        &path,
        "UserName,Email,TC1,LastName,Note\nold,old@x.com,,Old,n\n",
    )
    .unwrap();
    let c = connector(dir.path(), WEBEX);
    let summary = c
        .export_image(&mut VecSource::new(people(), 5))
        .await
        .unwrap();
    assert_eq!(summary.objects, 2);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "UserName,Email,TC1,TC2,TC3,LastName,Note\r\n\
         ,zoe@x.com,A,B,C,Ångström,\r\n\
         ,li@x.com,Z,,,李,\r\n"
    );
}

#[tokio::test]
async fn the_header_setting_chooses_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        format!("{WEBEX}\nheader = [\"LastName\", \"Email\", \"TC1\", \"TC2\", \"TC3\", \"TC4\"]");
    let c = connector(dir.path(), &settings);
    c.export_image(&mut VecSource::new(people(), 5))
        .await
        .unwrap();
    let text = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert_eq!(
        text,
        "LastName,Email,TC1,TC2,TC3,TC4\r\nÅngström,zoe@x.com,A,B,C,\r\n李,li@x.com,Z,,,\r\n"
    );
}

#[tokio::test]
async fn objects_with_the_same_attribute_names_are_each_checked() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), WEBEX);
    let person = |anchor: &str, city: &[&str], groups: &[&str]| {
        let email = format!("{anchor}@x");
        image(
            anchor,
            "person",
            attrs(&[("email", &[&email]), ("city", city), ("groups", groups)]),
        )
    };
    let objects = vec![
        person("a", &["A"], &["g"]),
        person("b", &["A", "B"], &["g"]),
        person("c", &["C"], &["g", "h"]),
        person("d", &["D"], &["g;h"]),
        person("e", &["E"], &[" g"]),
    ];
    let summary = c
        .export_image(&mut VecSource::new(objects, 2))
        .await
        .unwrap();
    assert_eq!(summary.objects, 2);
    let rejected: Vec<&str> = summary.rejected.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(rejected, ["b", "d", "e"]);
    let text = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert!(text.contains("a@x") && text.contains("c@x"), "{text}");
}

#[tokio::test]
async fn objects_that_would_not_read_back_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), WEBEX);
    let objects = vec![
        image("ok", "person", attrs(&[("email", &["ok@x"])])),
        image("nokey", "person", attrs(&[("firstName", &["No"])])),
        image(
            "two",
            "person",
            attrs(&[("email", &["t@x"]), ("city", &["A", "B"])]),
        ),
        image(
            "sep",
            "person",
            attrs(&[("email", &["s@x"]), ("groups", &["a;b"])]),
        ),
        image("group", "group", attrs(&[("email", &["g@x"])])),
    ];
    let summary = c
        .export_image(&mut VecSource::new(objects, 2))
        .await
        .unwrap();
    assert_eq!(summary.objects, 1);
    let reasons: Vec<(&str, &str)> = summary
        .rejected
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[0].0, "nokey");
    assert!(
        reasons[0]
            .1
            .contains("attribute \"email\" (key column \"Email\") has no value"),
        "{}",
        reasons[0].1
    );
    assert!(
        reasons[1]
            .1
            .contains("\"city\" has 2 values but its column holds one"),
        "{}",
        reasons[1].1
    );
    assert!(
        reasons[2].1.contains("contains its separator \";\""),
        "{}",
        reasons[2].1
    );
    assert!(
        reasons[3].1.contains("object type \"group\""),
        "{}",
        reasons[3].1
    );
    let text = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    assert_eq!(text, "Email\r\nok@x\r\n");
}

#[tokio::test]
async fn an_object_whose_stored_attributes_are_corrupt_is_rejected_and_the_others_written() {
    // Laid out from the objects (spooled first), and with a fixed header (written as they come).
    let fixed = "path = \"users.csv\"\nkey = [\"email\"]\nheader = [\"email\"]\n";
    for (settings, written) in [(WEBEX, "Email\r\nok@x\r\n"), (fixed, "email\r\nok@x\r\n")] {
        let dir = tempfile::tempdir().unwrap();
        let c = connector(dir.path(), settings);
        let mut broken = image("broken", "person", attrs(&[("email", &["b@x"])]));
        broken.attrs = EncodedAttrs::from_bytes(vec![5, 200]);
        let objects = vec![
            image("ok", "person", attrs(&[("email", &["ok@x"])])),
            broken,
        ];
        let summary = c
            .export_image(&mut VecSource::new(objects, 2))
            .await
            .unwrap();
        assert_eq!(summary.objects, 1, "{settings}");
        assert_eq!(summary.rejected.len(), 1, "{settings}");
        let (anchor, reason) = &summary.rejected[0];
        assert_eq!(anchor, "broken");
        assert!(
            reason.contains("stored attribute data is corrupt"),
            "{reason}"
        );
        let text = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
        assert_eq!(text, written, "{settings}");
    }
}

#[tokio::test]
async fn a_failed_export_leaves_the_old_file_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(&path, "Email\nkeep@x\n").unwrap();
    let c = connector(dir.path(), WEBEX);
    let mut source = VecSource::new(people(), 1).failing_at(1);
    let err = c.export_image(&mut source).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Sink(_)), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "Email\nkeep@x\n");
    assert_eq!(files_in(dir.path()), ["users.csv"]);
}

#[tokio::test]
async fn anchor_for_gives_the_anchor_import_will_find() {
    let dir = tempfile::tempdir().unwrap();
    let settings = "path = \"u.csv\"\nkey = [\"Last\", \"First\"]\ncolumns = { Last = \"sn\", First = \"givenName\" }";
    let c = connector(dir.path(), settings);
    let a = attrs(&[("sn", &[" Berg "]), ("givenName", &["Anna"])]);
    assert_eq!(c.anchor_for("person", &a).unwrap(), "Berg|Anna");
    let err = c
        .anchor_for("person", &attrs(&[("sn", &["Berg"])]))
        .unwrap_err();
    assert!(
        err.contains("attribute \"givenName\" (key column \"First\") has no value"),
        "{err}"
    );
    let err = c.anchor_for("group", &a).unwrap_err();
    assert!(err.contains("allowed: person"), "{err}");

    c.export_image(&mut VecSource::new(vec![image("?", "person", a)], 1))
        .await
        .unwrap();
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["Berg|Anna"]);
}

/// Objects whose values stress quoting, encodings, numbered and multi-valued columns.
fn tricky() -> Vec<ImageObject> {
    let t = |anchor: &str, object_type: &str, pairs: &[(&str, &[&str])]| {
        image(anchor, object_type, attrs(pairs))
    };
    vec![
        t(
            "zoe@x.com",
            "person",
            &[
                ("email", &["zoe@x.com"]),
                ("firstName", &["Zoë"]),
                ("lastName", &["Ångström"]),
                ("note", &["says \"hi\", then\r\nleaves\nagain"]),
                (
                    "trackingCode",
                    &["1", "  ", "3", "4", "5", "6", "7", "8", "9", "10", "11"],
                ),
                ("groups", &["a,b", "\"q\"", "ü"]),
            ],
        ),
        t(
            "li@x.com",
            "contact",
            &[
                ("email", &["li@x.com"]),
                ("firstName", &["小龙"]),
                ("lastName", &["李"]),
                ("note", &[" leading and trailing "]),
                ("trackingCode", &["only"]),
                ("emoji", &["🎉"]),
            ],
        ),
        t("min@x.com", "person", &[("email", &["min@x.com"])]),
    ]
}

async fn round_trip(encoding: &str) {
    let dir = tempfile::tempdir().unwrap();
    let settings = format!(
        "{WEBEX}\nencoding = \"{encoding}\"\nobject_type_column = \"Type\"\nobject_types = [\"person\", \"contact\"]"
    );
    let c = connector(dir.path(), &settings);
    let objects = tricky();
    let summary = c
        .export_image(&mut VecSource::new(objects.clone(), 2))
        .await
        .unwrap();
    assert_eq!(
        (summary.objects, summary.rejected.len()),
        (3, 0),
        "{:?}",
        summary.rejected
    );
    let bytes = std::fs::read(dir.path().join("users.csv")).unwrap();
    if encoding == "utf-16le" {
        assert!(from_utf16le(&bytes).starts_with("Email,Type,"));
    } else {
        assert!(bytes.starts_with(b"Email,Type,"));
    }

    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    let got: Vec<(String, String, Attrs)> = sink
        .objects
        .iter()
        .map(|o| (o.anchor.clone(), o.object_type.clone(), o.attrs.clone()))
        .collect();
    let want: Vec<(String, String, Attrs)> = objects
        .iter()
        .map(|o| {
            let attrs = o.attrs.decode().unwrap();
            let anchor = c.anchor_for(&o.object_type, &attrs).unwrap();
            (anchor, o.object_type.clone(), attrs)
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(got[0].0, "zoe@x.com");
}

#[tokio::test]
async fn export_then_import_gives_back_the_same_objects_in_utf8() {
    round_trip("utf-8").await;
}

#[tokio::test]
async fn export_then_import_gives_back_the_same_objects_in_utf16le() {
    round_trip("utf-16le").await;
}

#[tokio::test]
async fn boms_and_delimiters_are_written_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(
        dir.path(),
        "path = \"in.csv\"\nexport_path = \"out.csv\"\nkey = [\"Email\"]\nbom = true\ndelimiter = \";\"",
    );
    let objects = vec![image(
        "a",
        "person",
        attrs(&[("Email", &["a@x"]), ("Name", &["A;B"])]),
    )];
    c.export_image(&mut VecSource::new(objects, 1))
        .await
        .unwrap();
    assert!(!dir.path().join("in.csv").exists());
    let bytes = std::fs::read(dir.path().join("out.csv")).unwrap();
    assert_eq!(bytes, "\u{FEFF}Email;Name\r\na@x;\"A;B\"\r\n".as_bytes());

    let c = connector(
        dir.path(),
        "path = \"u16.csv\"\nkey = [\"Email\"]\nencoding = \"utf-16le\"",
    );
    let objects = vec![image("a", "person", attrs(&[("Email", &["a@x"])]))];
    c.export_image(&mut VecSource::new(objects, 1))
        .await
        .unwrap();
    let bytes = std::fs::read(dir.path().join("u16.csv")).unwrap();
    assert_eq!(from_utf16le(&bytes), "Email\r\na@x\r\n");
}

#[tokio::test]
async fn check_connection_names_the_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    c.check_connection().await.unwrap();
    let c = connector(
        dir.path(),
        "path = \"u.csv\"\nexport_path = \"nowhere/out.csv\"\nkey = [\"Email\"]",
    );
    let err = c.check_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("nowhere") && err.contains("does not exist") && err.contains("export_path"),
        "{err}"
    );
    let err = c
        .export_image(&mut VecSource::new(Vec::new(), 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}
