//! Damaged files: quoting that swallows rows, a last line cut off, NUL bytes. Each damaged row
//! is an error naming its line(s), the rows a quote swallowed included; the rows around it
//! still arrive, and the listing is then incomplete, so nothing is deleted.

use super::{MemorySink, connector, full_import};

const HEADER: &str = "Email,Name,Note\n";

/// Imports `text` after a clean import of `Email,Name,Note` rows for a@x … f@x.
async fn import_damaged(text: &[u8]) -> MemorySink {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.csv");
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    let clean: String = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|k| format!("{k}@x,{k},\"Smith, {k}\"\n"))
        .collect();
    std::fs::write(&path, format!("{HEADER}{clean}")).unwrap();
    full_import(c.as_ref(), &mut sink).await;
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    sink.next_run();
    std::fs::write(&path, text).unwrap();
    full_import(c.as_ref(), &mut sink).await;
    sink
}

fn only_error(sink: &MemorySink) -> (Option<&str>, &str, &str) {
    assert_eq!(sink.errors.len(), 1, "{:?}", sink.errors);
    let (a, l, m) = &sink.errors[0];
    (a.as_deref(), l.as_str(), m.as_str())
}

fn assert_says(message: &str, parts: &[&str]) {
    for p in parts {
        assert!(message.contains(p), "\"{message}\" does not say \"{p}\"");
    }
}

#[tokio::test]
async fn a_quote_never_closed_names_the_lines_it_swallowed_and_deletes_nothing() {
    // Line 3 (b@x) opens a quote that nothing closes: c@x … f@x are swallowed.
    let text =
        format!("{HEADER}a@x,a,\"Smith, a\"\nb@x,\"b,x\nc@x,c,y\nd@x,d,y\ne@x,e,y\nf@x,f,y\n");
    let sink = import_damaged(text.as_bytes()).await;
    let (anchor, locator, message) = only_error(&sink);
    assert_eq!((anchor, locator), (Some("b@x"), "lines 3–7"));
    assert_says(
        message,
        &[
            "lines 3–7 were read as one row: the quoted value of column 2 (\"Name\") opened on line 3 is never closed",
            "runs to the end of the file and swallowed lines 4–7",
            "fix it and import again",
        ],
    );
    assert_eq!(sink.anchors(), ["a@x"]);
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
    assert!(sink.withheld.is_some());
}

#[tokio::test]
async fn a_quote_that_closes_on_another_values_quote_names_the_swallowed_lines() {
    // The closing quote of b@x's note is missing: the value runs on to the quote that opens
    // e@x's note, whose text follows it.
    let text = format!(
        "{HEADER}a@x,a,\"Smith, a\"\nb@x,b,\"Smith, b\nc@x,c,y\nd@x,d,y\ne@x,e,\"Smith, e\"\nf@x,f,\"Smith, f\"\n"
    );
    let sink = import_damaged(text.as_bytes()).await;
    let (anchor, locator, message) = only_error(&sink);
    assert_eq!((anchor, locator), (Some("b@x"), "lines 3–6"));
    assert_says(
        message,
        &[
            "lines 3–6 were read as one row",
            "opened on line 3 closes only at a quote on line 6",
            "so lines 4–6 were swallowed",
            "look for an unbalanced quote on line 3",
        ],
    );
    assert_eq!(sink.anchors(), ["a@x", "f@x"]);
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
}

#[tokio::test]
async fn a_last_line_cut_off_is_an_error_and_deletes_nothing() {
    let text = format!("{HEADER}a@x,a,\"Smith, a\"\nb@x,b,y\nc@x,c");
    let sink = import_damaged(text.as_bytes()).await;
    let (anchor, locator, message) = only_error(&sink);
    assert_eq!((anchor, locator), (Some("c@x"), "line 4"));
    assert_says(
        message,
        &[
            "line 4, the last line, has 2 fields but the header has 3",
            "ends without a line break",
            "the file looks cut off",
        ],
    );
    assert_eq!(sink.anchors(), ["a@x", "b@x"]);
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
}

#[tokio::test]
async fn a_nul_byte_is_an_error_naming_the_column_and_position() {
    let mut text = format!("{HEADER}a@x,a,y\n").into_bytes();
    text.extend(b"b@x,Hu\0go,y\n");
    text.extend(b"c@x,c,y\nd@x,d,y\ne@x,e,y\nf@x,f,y\n");
    let sink = import_damaged(&text).await;
    let (anchor, locator, message) = only_error(&sink);
    assert_eq!((anchor, locator), (Some("b@x"), "line 3"));
    assert_says(
        message,
        &[
            "line 3, column 2 (\"Name\") holds a NUL character (U+0000) at position 3",
            "the file is damaged there",
        ],
    );
    assert!(sink.staged.contains_key("b@x"));
    assert_eq!(sink.staged["b@x"].1.first("Name"), Some("b"));
}

#[tokio::test]
async fn text_after_a_closing_quote_on_one_line_is_an_error() {
    let text = format!("{HEADER}a@x,a,\"Smith\" Jr\nb@x,b,y\nc@x,c,y\nd@x,d,y\ne@x,e,y\nf@x,f,y\n");
    let sink = import_damaged(text.as_bytes()).await;
    let (anchor, locator, message) = only_error(&sink);
    assert_eq!((anchor, locator), (Some("a@x"), "line 2"));
    assert_says(
        message,
        &["line 2, column 3 (\"Note\"): text follows the quote that closes its quoted value"],
    );
}

#[tokio::test]
async fn a_header_whose_quote_is_never_closed_stops_the_import() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("u.csv"), "Email,\"Name,Note\na@x,a,y\n").unwrap();
    let c = connector(dir.path(), "path = \"u.csv\"\nkey = [\"Email\"]");
    let mut sink = MemorySink::new();
    let err = c
        .import(
            super::request(ucsync_model::ImportMode::Full, None, None),
            &mut sink,
        )
        .await
        .unwrap_err()
        .to_string();
    assert_says(
        &err,
        &[
            "the header line of",
            "lines 1–2 were read as one row: the quoted value of column 2 opened on line 1 is never closed",
            "nothing was imported or deleted",
        ],
    );
    assert_eq!(sink.listings_ended, 0);
}

/// Writes of different files in one directory at once (the status files of runs of several
/// enterprises): the sweep for temporary files that killed writes left never takes the temporary
/// file of a write that has only just started, so every write commits.
#[test]
fn writes_at_once_in_one_directory_never_remove_each_others_temporary_files() {
    use crate::csv::config::FileEncoding;
    use crate::csv::file::{AtomicCsv, remove_stale_temps};
    let dir = tempfile::tempdir().unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let target = dir.join(format!("{w}-{i}-import-status.csv"));
                    let mut file =
                        AtomicCsv::create(&target, b',', FileEncoding::Utf8, false, true).unwrap();
                    remove_stale_temps(&dir, |name| name.ends_with("-import-status.csv"));
                    file.write_row(["a", "b"]).unwrap();
                    file.commit()
                        .unwrap_or_else(|e| panic!("writer {w}, file {i}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4 * 300);
}
