//! Import: mapping, encodings, bad rows, the status file, delta watermarks.

use ucsync_model::{ConnectorError, ImportMode};

use super::{MemorySink, attrs, connector, from_utf16le, full_import, request, utf16le};

const WEBEX: &str = r#"
path = "users.csv"
key = ["Email"]
columns = { UserName = "", FirstName = "firstName", LastName = "lastName", Email = "email", "State/Prov" = "state" }
numbered = { TC = "trackingCode" }
multi_valued = { groups = ";" }
"#;

#[tokio::test]
async fn columns_are_renamed_dropped_or_kept_and_numbered_columns_form_one_attribute() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.csv"),
        "UserName,FirstName,LastName,Email,State/Prov,TC10,TC1,TC2,groups,Extra\n\
         anna,Anna,Berg,anna@x.com,ON,ten,one,,sales; eu ;;,kept\n\
         bo,Bo,Ek,bo@x.com,,,,,,\n",
    )
    .unwrap();
    let c = connector(dir.path(), WEBEX);
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.errors, []);
    assert_eq!(sink.anchors(), ["anna@x.com", "bo@x.com"]);
    let anna = sink.object("anna@x.com");
    assert_eq!(anna.object_type, "person");
    assert_eq!(anna.locator.as_deref(), Some("line 2"));
    assert_eq!(
        anna.attrs,
        attrs(&[
            ("firstName", &["Anna"]),
            ("lastName", &["Berg"]),
            ("email", &["anna@x.com"]),
            ("state", &["ON"]),
            ("trackingCode", &["one", "ten"]),
            ("groups", &["sales", "eu"]),
            ("Extra", &["kept"]),
        ])
    );
    let bo = sink.object("bo@x.com");
    assert_eq!(bo.locator.as_deref(), Some("line 3"));
    assert_eq!(
        bo.attrs,
        attrs(&[
            ("firstName", &["Bo"]),
            ("lastName", &["Ek"]),
            ("email", &["bo@x.com"])
        ])
    );
    assert_eq!(sink.listings_ended, 1);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_the_good_rows_still_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"Email,FirstName,Note\n".to_vec();
    bytes.extend(b"a@x,Anna,\"two\nlines\"\n"); // lines 2-3
    bytes.extend(b"b@x,Bo\n"); // line 4: a field short
    bytes.extend(b"c@x,C\xE9cile,ok\n"); // line 5: Latin-1, not UTF-8
    bytes.extend(b" ,Nobody,x\n"); // line 6: empty key
    bytes.extend(b"d@x,Dan,x,extra\n"); // line 7: a field too many
    bytes.extend(b"e@x,Eve,x\n"); // line 8
    std::fs::write(dir.path().join("users.csv"), bytes).unwrap();
    let c = connector(dir.path(), "path = \"users.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;

    assert_eq!(sink.anchors(), ["a@x", "e@x"]);
    assert_eq!(sink.object("a@x").attrs.first("Note"), Some("two\nlines"));
    assert_eq!(sink.object("e@x").locator.as_deref(), Some("line 8"));
    let errors: Vec<(Option<&str>, &str)> = sink
        .errors
        .iter()
        .map(|(a, l, _)| (a.as_deref(), l.as_str()))
        .collect();
    assert_eq!(
        errors,
        [
            (Some("b@x"), "line 4"),
            (Some("c@x"), "line 5"),
            (None, "line 6"),
            (Some("d@x"), "line 7"),
        ]
    );
    let messages: Vec<&str> = sink.errors.iter().map(|(_, _, m)| m.as_str()).collect();
    assert!(
        messages[0].starts_with("line 4 has 2 fields but the header has 3;"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1]
            .starts_with("line 5, column 2 (\"FirstName\") holds bytes that are not valid UTF-8"),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].contains("save the file as UTF-8"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].starts_with("line 6: key column 1 (\"Email\") is empty;"),
        "{}",
        messages[2]
    );
    assert!(
        messages[3].starts_with("line 7 has 4 fields"),
        "{}",
        messages[3]
    );
}

#[tokio::test]
async fn the_status_file_has_one_row_per_input_row_then_the_deleted_objects_or_why_none_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    let status = dir.path().join("runs/7/status.csv");
    let settings = "path = \"users.csv\"\nkey = [\"Email\"]\ncolumns = { First = \"givenName\", UserName = \"\" }\nmulti_valued = { groups = \";\" }";
    let c = connector(dir.path(), settings);
    let mut sink = MemorySink::new();

    std::fs::write(
        &path,
        "Email,First,UserName,groups\na@x,Anna,anna,s;t\ngone@x,Gone,g,\n",
    )
    .unwrap();
    full_import(c.as_ref(), &mut sink).await;
    sink.next_run();

    std::fs::write(
        &path,
        "Email,First,UserName,groups\n\
         a@x,Anna,anna,s;t\n\
         b@x,Bo,bo,\n\
         a@x,Again,a2,\n\
         c@x,\"Cé, \"\"Cil\"\"\"\n\
         ,Nobody,n,x,y,z\n",
    )
    .unwrap();
    c.import(
        request(ImportMode::Full, None, Some(status.clone())),
        &mut sink,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&status).unwrap();
    let expected = "Email,First,UserName,groups,status,statusMessage\r\n\
        a@x,Anna,anna,s;t,unchanged,\r\n\
        b@x,Bo,bo,,created,\r\n\
        a@x,Again,a2,,error,another row already has the anchor a@x\r\n\
        c@x,\"Cé, \"\"Cil\"\"\",,,error,\"line 5 has 2 fields but the header has 4; look for a missing or extra \"\",\"\" or an unbalanced quote on this line; fix it and import again\"\r\n\
        ,Nobody,n,x,error,\"line 6 has 6 fields but the header has 4; look for a missing or extra \"\",\"\" or an unbalanced quote on this line; fix it and import again\"\r\n\
        ,,,,incomplete,the listing is incomplete: 2 records could not be read and 0 gaps; so no deletions were inferred\r\n";
    assert_eq!(text, expected);
    assert_eq!(super::files_in(&dir.path().join("runs/7")), ["status.csv"]);

    // Once every row reads, the objects no longer in the file are deleted, each with a row.
    sink.next_run();
    std::fs::write(
        &path,
        "Email,First,UserName,groups\na@x,Anna,anna,s;t\nb@x,Bo,bo,\n",
    )
    .unwrap();
    c.import(
        request(ImportMode::Full, None, Some(status.clone())),
        &mut sink,
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&status).unwrap();
    let expected = "Email,First,UserName,groups,status,statusMessage\r\n\
        a@x,Anna,anna,s;t,unchanged,\r\n\
        b@x,Bo,bo,,unchanged,\r\n\
        gone@x,Gone,,,deleted,not in the file any more; removed from the staging space\r\n";
    assert_eq!(text, expected);
}

#[tokio::test]
async fn no_status_file_when_the_setting_is_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.csv"), "Email\na@x\n").unwrap();
    let c = connector(
        dir.path(),
        "path = \"u.csv\"\nkey = \"Email\"\nstatus_file = false",
    );
    let status = dir.path().join("status.csv");
    let mut sink = MemorySink::new();
    c.import(
        request(ImportMode::Full, None, Some(status.clone())),
        &mut sink,
    )
    .await
    .unwrap();
    assert!(!status.exists());
    assert_eq!(sink.anchors(), ["a@x"]);
}

#[tokio::test]
async fn utf16le_with_a_bom_is_read_and_its_status_file_is_utf16le_too() {
    let dir = tempfile::tempdir().unwrap();
    let text = "Email\tName\tTC1\tTC2\r\nzoe@x\tZoë Ångström\tα\tβ\r\nli@x\t李小龙\t\t龙\r\n";
    std::fs::write(dir.path().join("u.tsv"), utf16le(text)).unwrap();
    let settings = "path = \"u.tsv\"\nkey = [\"Email\"]\ndelimiter = \"\\t\"\nencoding = \"utf-16le\"\nnumbered = { TC = \"code\" }";
    let c = connector(dir.path(), settings);
    let status = dir.path().join("status.tsv");
    let mut sink = MemorySink::new();
    c.import(
        request(ImportMode::Full, None, Some(status.clone())),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(sink.errors, []);
    assert_eq!(
        sink.object("zoe@x").attrs,
        attrs(&[
            ("Email", &["zoe@x"]),
            ("Name", &["Zoë Ångström"]),
            ("code", &["α", "β"])
        ])
    );
    assert_eq!(
        sink.object("li@x").attrs,
        attrs(&[
            ("Email", &["li@x"]),
            ("Name", &["李小龙"]),
            ("code", &["龙"])
        ])
    );
    let written = from_utf16le(&std::fs::read(&status).unwrap());
    assert_eq!(
        written,
        "Email\tName\tTC1\tTC2\tstatus\tstatusMessage\r\n\
         zoe@x\tZoë Ångström\tα\tβ\tcreated\t\r\n\
         li@x\t李小龙\t\t龙\tcreated\t\r\n"
    );
}

#[tokio::test]
async fn a_bom_wins_over_the_encoding_setting() {
    let dir = tempfile::tempdir().unwrap();
    // UTF-16 LE with a BOM while the setting says UTF-8.
    std::fs::write(dir.path().join("a.csv"), utf16le("Email,Name\nzoe@x,Zoë\n")).unwrap();
    let c = connector(dir.path(), "path = \"a.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.object("zoe@x").attrs.first("Name"), Some("Zoë"));

    // UTF-8 with a BOM while the setting says UTF-16 LE; the BOM is not part of the first name.
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend("Email,Name\nli@x,李小龙\n".as_bytes());
    std::fs::write(dir.path().join("b.csv"), bytes).unwrap();
    let c = connector(
        dir.path(),
        "path = \"b.csv\"\nkey = [\"Email\"]\nencoding = \"utf-16le\"",
    );
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.object("li@x").attrs.first("Name"), Some("李小龙"));

    // UTF-16 LE without a BOM is read when the setting says so.
    let bytes: Vec<u8> = "Email\nnobom@x\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(dir.path().join("c.csv"), bytes).unwrap();
    let c = connector(
        dir.path(),
        "path = \"c.csv\"\nkey = [\"Email\"]\nencoding = \"utf-16le\"",
    );
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["nobom@x"]);
}

#[tokio::test]
async fn an_invalid_utf16_sequence_is_an_error_for_its_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = utf16le("Email,Name\na@x,");
    bytes.extend([0x00, 0xD8]); // a lone high surrogate
    bytes.extend(&utf16le("\nb@x,Bo\n")[2..]);
    std::fs::write(dir.path().join("u.csv"), bytes).unwrap();
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["b@x"]);
    assert_eq!(sink.errors.len(), 1);
    let (anchor, locator, message) = &sink.errors[0];
    assert_eq!(
        (anchor.as_deref(), locator.as_str()),
        (Some("a@x"), "line 2")
    );
    assert!(
        message.starts_with("line 2, column 2 (\"Name\") holds bytes that are not valid UTF-16 LE"),
        "{message}"
    );
}

#[tokio::test]
async fn objects_no_longer_in_the_file_are_deleted_and_changes_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Last\", \"First\"]");
    let mut sink = MemorySink::new();
    std::fs::write(
        &path,
        "Last,First,Dept\nBerg,Anna,Sales\nEk,Bo,IT\nLi,Lu,HR\n",
    )
    .unwrap();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.anchors(), ["Berg|Anna", "Ek|Bo", "Li|Lu"]);
    sink.next_run();
    std::fs::write(&path, "Last,First,Dept\nBerg,Anna,Sales\nEk,Bo,Ops\n").unwrap();
    full_import(c.as_ref(), &mut sink).await;
    let deleted: Vec<&str> = sink.deleted.iter().map(|d| d.anchor.as_str()).collect();
    assert_eq!(deleted, ["Li|Lu"]);
    assert_eq!(sink.staged["Ek|Bo"].1.first("Dept"), Some("Ops"));
}

#[tokio::test]
async fn a_row_with_an_unreadable_key_keeps_its_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    std::fs::write(&path, "Email,Name\na@x,Anna\nb@x,Bo\n").unwrap();
    full_import(c.as_ref(), &mut sink).await;
    sink.next_run();
    // b@x's row is broken but still names b@x: it is kept, not deleted.
    std::fs::write(&path, "Email,Name\na@x,Anna\nb@x,Bo,oops\n").unwrap();
    full_import(c.as_ref(), &mut sink).await;
    assert!(sink.deleted.is_empty());
    assert!(sink.staged.contains_key("b@x"));
}

#[tokio::test]
async fn object_types_come_from_a_column_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("u.csv"),
        "Id,Kind,Name\n1,person,Anna\n2,contact,Bo\n3,robot,R2\n4,,Empty\n",
    )
    .unwrap();
    let settings = "path = \"u.csv\"\nkey = [\"Id\"]\nobject_type_column = \"Kind\"\nobject_types = [\"person\", \"contact\"]";
    let c = connector(dir.path(), settings);
    assert_eq!(c.object_types(), ["person", "contact"]);
    let mut sink = MemorySink::new();
    full_import(c.as_ref(), &mut sink).await;
    assert_eq!(sink.object("2").object_type, "contact");
    assert!(!sink.object("2").attrs.contains("Kind"));
    let messages: Vec<&str> = sink.errors.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(messages.len(), 2);
    assert!(
        messages[0].starts_with("line 4, column 2 (\"Kind\"): object type \"robot\" is not allowed; use one of: person, contact"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("the object type is empty"),
        "{}",
        messages[1]
    );
}

#[tokio::test]
async fn delta_import_skips_an_unchanged_file_and_rereads_a_changed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    std::fs::write(&path, "Email,Name\na@x,Anna\n").unwrap();
    let first = full_import(c.as_ref(), &mut sink).await;
    let mark = first.watermark.clone().unwrap();
    let json: serde_json::Value = serde_json::from_str(&mark).unwrap();
    assert_eq!(json["len"], 20);
    assert!(json["xxh3"].as_str().unwrap().len() == 16);
    assert!(json["mtime_ns"].as_u64().is_some());

    sink.next_run();
    let delta = c
        .import(
            request(ImportMode::Delta, Some(mark.clone()), None),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(delta.skipped_unchanged);
    assert_eq!(delta.watermark.as_deref(), Some(mark.as_str()));
    assert!(sink.objects.is_empty());
    assert_eq!(
        sink.listings_ended, 1,
        "a skipped import does not end a listing"
    );

    // Same length, other content: the hash tells.
    std::fs::write(&path, "Email,Name\na@x,Anne\n").unwrap();
    let changed = c
        .import(
            request(ImportMode::Delta, Some(mark.clone()), None),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(!changed.skipped_unchanged);
    assert_ne!(changed.watermark, Some(mark.clone()));
    assert_eq!(sink.object("a@x").attrs.first("Name"), Some("Anne"));

    // Another length.
    sink.next_run();
    std::fs::write(&path, "Email,Name\na@x,Anne\nb@x,Bo\n").unwrap();
    let grown = c
        .import(
            request(ImportMode::Delta, changed.watermark.clone(), None),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(!grown.skipped_unchanged);
    assert_eq!(sink.anchors(), ["a@x", "b@x"]);

    // A full import always reads, and a watermark it cannot parse means a full read.
    sink.next_run();
    let full = c
        .import(
            request(ImportMode::Full, grown.watermark.clone(), None),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(!full.skipped_unchanged);
    assert_eq!(full.watermark, grown.watermark);
    sink.next_run();
    let odd = c
        .import(
            request(ImportMode::Delta, Some("cookie?".into()), None),
            &mut sink,
        )
        .await
        .unwrap();
    assert!(!odd.skipped_unchanged);
    assert!(odd.note.unwrap().contains("watermark"));
    assert_eq!(sink.objects.len(), 2);
}

#[tokio::test]
async fn a_missing_file_or_key_column_stops_the_import_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(dir.path(), "path = \"none.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    let err = c
        .import(request(ImportMode::Full, None, None), &mut sink)
        .await
        .unwrap_err();
    let ConnectorError::Unavailable(m) = err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("none.csv") && m.contains("does not exist"),
        "{m}"
    );

    std::fs::write(dir.path().join("none.csv"), "Mail,Name\na@x,Anna\n").unwrap();
    let err = c
        .import(request(ImportMode::Full, None, None), &mut sink)
        .await
        .unwrap_err();
    let ConnectorError::Config(m) = err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("the key column \"Email\" is not in the header, which has: Mail, Name"),
        "{m}"
    );

    std::fs::write(dir.path().join("none.csv"), "").unwrap();
    let err = c
        .import(request(ImportMode::Full, None, None), &mut sink)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("has no header line"), "{err}");

    std::fs::write(dir.path().join("none.csv"), "Email,Email\n").unwrap();
    let err = c
        .import(request(ImportMode::Full, None, None), &mut sink)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("column \"Email\" appears twice"),
        "{err}"
    );
    assert_eq!(
        sink.listings_ended, 0,
        "a failed import never ends a listing"
    );
    assert!(sink.objects.is_empty());
}

#[tokio::test]
async fn a_sink_failure_stops_the_import_and_leaves_no_status_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Id\n");
    for i in 0..5_000 {
        text.push_str(&format!("{i}\n"));
    }
    std::fs::write(dir.path().join("u.csv"), text).unwrap();
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Id\"]");
    let mut sink = MemorySink {
        fail_on: Some("2500".to_owned()),
        ..MemorySink::default()
    };
    let status_dir = dir.path().join("status");
    let err = c
        .import(
            request(ImportMode::Full, None, Some(status_dir.join("s.csv"))),
            &mut sink,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Sink(_)), "{err:?}");
    assert_eq!(sink.objects.len(), 2500);
    assert_eq!(sink.listings_ended, 0);
    assert_eq!(super::files_in(&status_dir), Vec::<String>::new());
}

#[tokio::test]
async fn utf16_without_a_bom_read_as_utf8_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = "Email\na@x\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(dir.path().join("u.csv"), bytes).unwrap();
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    let err = c
        .import(request(ImportMode::Full, None, None), &mut sink)
        .await
        .unwrap_err();
    let ConnectorError::Config(m) = err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("is not valid utf-8 (column 1)") && m.contains("encoding"),
        "{m}"
    );
}

#[tokio::test]
async fn many_rows_stream_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("Id,Name,TC1,TC2\n");
    for i in 0..20_000 {
        text.push_str(&format!("{i},Name {i},a{i},b{i}\n"));
    }
    std::fs::write(dir.path().join("u.csv"), text).unwrap();
    let c = connector(
        dir.path(),
        "path = \"u.csv\"\nkey = [\"Id\"]\nnumbered = { TC = \"tc\" }",
    );
    let status = dir.path().join("s.csv");
    let mut sink = MemorySink::new();
    c.import(
        request(ImportMode::Full, None, Some(status.clone())),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(sink.objects.len(), 20_000);
    assert_eq!(sink.objects[19_999].locator.as_deref(), Some("line 20001"));
    assert_eq!(
        std::fs::read_to_string(status).unwrap().lines().count(),
        20_001
    );
}

/// Counts what it is given and keeps nothing, so the connector's own memory shows.
#[derive(Default)]
struct CountingSink {
    objects: u64,
    errors: u64,
}

#[async_trait::async_trait]
impl ucsync_model::ImportSink for CountingSink {
    async fn object(
        &mut self,
        _record: ucsync_model::ImportRecord,
    ) -> Result<ucsync_model::RecordStatus, ucsync_model::SinkError> {
        self.objects += 1;
        Ok(ucsync_model::RecordStatus::Created)
    }
    async fn deleted(
        &mut self,
        _anchor: &str,
        _locator: Option<String>,
    ) -> Result<(), ucsync_model::SinkError> {
        Ok(())
    }
    async fn present(&mut self, _anchor: &str) -> Result<(), ucsync_model::SinkError> {
        Ok(())
    }
    async fn error(
        &mut self,
        _anchor: Option<String>,
        _locator: String,
        _message: String,
    ) -> Result<(), ucsync_model::SinkError> {
        self.errors += 1;
        Ok(())
    }
    async fn warning(
        &mut self,
        _anchor: Option<String>,
        _locator: String,
        _message: String,
    ) -> Result<(), ucsync_model::SinkError> {
        Ok(())
    }
    async fn incomplete(&mut self, _reason: String) -> Result<(), ucsync_model::SinkError> {
        Ok(())
    }
    async fn end_of_listing(&mut self) -> Result<ucsync_model::Listed, ucsync_model::SinkError> {
        Ok(ucsync_model::Listed::default())
    }
}

/// The peak resident memory of this process, in KiB (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Many rows stream through in bounded memory, with a status file (the benchmark in `bench/`
/// measures a million).
#[tokio::test]
async fn many_rows_stay_in_bounded_memory() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "Email,FirstName,LastName,Department,TC1,TC2,groups").unwrap();
    for i in 0..100_000u32 {
        writeln!(
            out,
            "user{i}@example.com,Först{i},Läst{i},Dept {},a{i},b{i},g1;g2;g3",
            i % 97
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let c = connector(
        dir.path(),
        "path = \"u.csv\"\nkey = [\"Email\"]\nnumbered = { TC = \"tc\" }\nmulti_valued = { groups = \";\" }",
    );
    let mut sink = CountingSink::default();
    let status = dir.path().join("status.csv");
    c.import(request(ImportMode::Full, None, Some(status)), &mut sink)
        .await
        .unwrap();
    assert_eq!((sink.objects, sink.errors), (100_000, 0));
    if let Some(kib) = peak_rss_kib() {
        eprintln!("peak RSS: {} MiB", kib / 1024);
        assert!(kib < 256 * 1024, "peak RSS {kib} KiB");
    }
}
