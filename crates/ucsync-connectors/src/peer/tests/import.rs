//! Full and delta imports from a scripted changes feed that answers what `docs/PEER.md`
//! describes, page by page, and checks the cursor each page is asked with. (Against a real
//! ucsync server once its side of the protocol is on main: the end-to-end tests.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::json;
use ucsync_model::{ImportMode, ImportRequest, ImportSink};

use super::*;
use crate::peer::client::{Failure, Page, Pages};
use crate::peer::import;

/// A scripted answer: the cursor it must be asked with, and the page (or failure).
type Scripted = (Option<&'static str>, Result<Page, Failure>);

/// Answers each page in turn; the cursor asked for must be the one scripted with it.
struct Script {
    pages: Mutex<VecDeque<Scripted>>,
}

impl Script {
    fn new(pages: Vec<Scripted>) -> Arc<Self> {
        Arc::new(Self {
            pages: Mutex::new(pages.into()),
        })
    }

    fn left(&self) -> usize {
        self.pages.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl Pages for Script {
    async fn page(&self, cursor: Option<&str>) -> Result<Page, Failure> {
        let (expected, answer) = self
            .pages
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no page scripted after cursor {cursor:?}"));
        assert_eq!(cursor, expected);
        answer
    }

    fn feed(&self) -> String {
        "the script".to_owned()
    }
}

fn page(contacts: serde_json::Value, deleted: &[&str], cursor: &str, more: bool) -> Page {
    serde_json::from_value(json!({
        "protocol": 1,
        "server": {"product": "ucsync", "version": "0.1.0"},
        "enterprise": "acme-hq",
        "full": false,
        "contacts": contacts,
        "deleted": deleted,
        "cursor": cursor,
        "more": more,
    }))
    .unwrap()
}

fn ann(tel: &str) -> serde_json::Value {
    json!({"id": "1042", "type": "person", "displayName": ["Ann Example"],
           "mail": ["ann@acme.example"], "telephoneNumber": [tel, "4799"]})
}

fn ben() -> serde_json::Value {
    json!({"id": "1043", "type": "contact", "displayName": ["Ben Ott"]})
}

fn request(mode: ImportMode, watermark: Option<&str>) -> ImportRequest {
    ImportRequest {
        mode,
        watermark: watermark.map(str::to_owned),
        status_file: None,
        absent_is_empty: false,
    }
}

fn settings() -> PeerSettings {
    valid("dialing_prefix = \"8\"\noutgoing_digit = \"9\"\n")
}

#[tokio::test]
async fn a_full_import_stages_each_contact_once_in_its_last_version() {
    // Ann changed while the feed was read: she comes again on the second page.
    let script = Script::new(vec![
        (None, Ok(page(json!([ann("4711"), ben()]), &[], "c1", true))),
        (Some("c1"), Ok(page(json!([ann("4712")]), &[], "c2", false))),
    ]);
    let mut sink = MemorySink::new();
    let summary = import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Full, None),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(summary.watermark.as_deref(), Some("c2"));
    // The peer's version, for the connector's status.
    assert_eq!(summary.note.as_deref(), Some("peer server: ucsync 0.1.0"));
    assert_eq!(sink.anchors(), ["1043", "1042"]);
    assert_eq!(sink.again, ["1042"]);
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    assert_eq!(sink.listings_ended, 1);
    let a = &sink.object("1042").attrs;
    assert_eq!(a.get("telephoneNumber"), ["4712", "4799"]);
    assert_eq!(a.get("dialString"), ["984712", "984799"]);
    assert_eq!(a.get("federation"), ["enabled"]);
    assert_eq!(a.get("peer"), ["Branch B"]);
    assert_eq!(a.get("type"), ["person"]);
    assert_eq!(a.get("mail"), ["ann@acme.example"]);
    assert!(!a.contains("id"));
    assert_eq!(sink.object("1042").object_type, "contact");
    assert!(!sink.object("1043").attrs.contains("dialString"));
}

/// A contact deleted while a full listing is read: its tombstone comes after it, and it goes;
/// the tombstone of one the listing never gave is not needed (the listing's end deletes it).
#[tokio::test]
async fn a_full_listing_deletes_a_contact_it_gave_and_then_lost() {
    let script = Script::new(vec![
        (None, Ok(page(json!([ann("4711"), ben()]), &[], "c1", true))),
        (
            Some("c1"),
            Ok(page(json!([]), &["1043", "977"], "c2", false)),
        ),
    ]);
    let mut sink = MemorySink::new();
    import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Full, None),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(sink.deletes, ["1043"]);
    assert_eq!(sink.listings_ended, 1);
}

#[tokio::test]
async fn a_delta_stages_changes_and_tombstones_from_the_watermark_on() {
    let script = Script::new(vec![
        (Some("c2"), Ok(page(json!([ben()]), &["977"], "c3", true))),
        (Some("c3"), Ok(page(json!([]), &["1042"], "c4", false))),
    ]);
    let mut sink = MemorySink::new();
    let summary = import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Delta, Some("c2")),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(summary.watermark.as_deref(), Some("c4"));
    assert_eq!(sink.anchors(), ["1043"]);
    assert_eq!(sink.deletes, ["977", "1042"]);
    assert_eq!(sink.listings_ended, 0);
}

#[tokio::test]
async fn a_cursor_the_peer_refuses_starts_over_with_a_full_listing() {
    // Once at the first page, once after a page of changes was staged: the full listing gives
    // its contacts again as later versions, and no key is staged twice.
    for first_pages in [0, 1] {
        let mut pages = Vec::new();
        if first_pages == 1 {
            pages.push((
                Some("old"),
                Ok(page(json!([ann("4711")]), &["977"], "c5", true)),
            ));
        }
        let gone = Failure::StartOver("410 Gone (the peer says: start over)".to_owned());
        pages.push((Some(if first_pages == 1 { "c5" } else { "old" }), Err(gone)));
        pages.push((None, Ok(page(json!([ann("4711")]), &[], "f1", true))));
        pages.push((Some("f1"), Ok(page(json!([ben()]), &[], "f2", false))));
        let script = Script::new(pages);
        let mut sink = MemorySink::new();
        sink.staged.insert(
            "2000".to_owned(),
            ("contact".to_owned(), ucsync_model::Attrs::new()),
        );
        let summary = import::import(
            script.clone(),
            &settings(),
            request(ImportMode::Delta, Some("old")),
            &mut sink,
        )
        .await
        .unwrap();
        assert_eq!(script.left(), 0);
        assert_eq!(summary.watermark.as_deref(), Some("f2"));
        let note = summary.note.unwrap();
        assert!(note.contains("the peer asked to start over"), "{note}");
        assert_eq!(sink.anchors(), ["1042", "1043"], "{first_pages}");
        assert!(sink.errors.is_empty(), "{:?}", sink.errors);
        // The page staged before the peer asked to start over: its tombstone is the peer's.
        let (deletes, again): (&[&str], &[&str]) = match first_pages {
            1 => (&["977"], &["1042"]),
            _ => (&[], &[]),
        };
        assert_eq!(sink.deletes, deletes);
        assert_eq!(sink.again, again);
        assert_eq!(sink.listings_ended, 1);
        // What the full listing did not name is deleted.
        assert!(!sink.staged.contains_key("2000"), "{first_pages}");
    }
}

#[tokio::test]
async fn a_malformed_entry_is_an_error_and_the_listing_deletes_nothing() {
    let script = Script::new(vec![(
        None,
        Ok(page(
            json!([ben(), {"type": "person"}, {"id": "1044", "mail": "not-a-list"}]),
            &[],
            "c1",
            false,
        )),
    )]);
    let mut sink = MemorySink::new();
    sink.staged.insert(
        "2000".to_owned(),
        ("contact".to_owned(), ucsync_model::Attrs::new()),
    );
    import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Full, None),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(sink.anchors(), ["1043"]);
    let errors: Vec<(Option<&str>, &str)> = sink
        .errors
        .iter()
        .map(|(a, _, m)| (a.as_deref(), m.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].0.is_none() && errors[0].1.contains("no id"),
        "{errors:?}"
    );
    assert_eq!(errors[1].0, Some("1044"));
    assert!(errors[1].1.contains("attribute mail"), "{errors:?}");
    assert!(sink.staged.contains_key("2000"));
}

#[tokio::test]
async fn a_feed_that_repeats_its_cursor_or_fails_stops_the_run() {
    let script = Script::new(vec![(
        Some("c1"),
        Ok(page(json!([ben()]), &[], "c1", true)),
    )]);
    let mut sink = MemorySink::new();
    let e = import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Delta, Some("c1")),
        &mut sink,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("the same cursor again"), "{e}");
    assert!(sink.objects.is_empty());

    let script = Script::new(vec![(None, Err(Failure::Run("refused".to_owned())))]);
    let e = import::import(
        script.clone(),
        &settings(),
        request(ImportMode::Full, None),
        &mut sink,
    )
    .await
    .unwrap_err()
    .to_string();
    // The engine adds that the listing is incomplete and nothing was deleted.
    assert_eq!(e, "refused");
    assert_eq!(sink.listings_ended, 0);
}

#[tokio::test]
async fn an_external_peer_imports_nothing_and_says_so() {
    let c = connector(
        "peer_type = \"external\"\ndescription = \"Partner\"\nhost = \"xmpp.partner.example\"\n",
    );
    let mut sink = MemorySink::new();
    let summary = c
        .import(request(ImportMode::Full, None), &mut sink)
        .await
        .unwrap();
    assert!(sink.objects.is_empty());
    let note = summary.note.unwrap();
    assert!(
        note.contains("external peer") && note.contains("nothing is imported"),
        "{note}"
    );
    c.check_connection().await.unwrap();
    assert_eq!(c.inspect().await.attributes, Some(Default::default()));
    let _: &dyn ImportSink = &sink;
}

#[test]
fn the_import_fingerprint_names_what_changes_the_contacts() {
    let c = connector(&format!("{}dialing_prefix = \"-8\"\n", minimal("")));
    let fp = c.import_settings();
    for part in [
        "host=peer.example.com",
        "port=443",
        "\"acme-hq\"",
        "peer_type=ucsync",
        "\"-8\"",
    ] {
        assert!(fp.contains(part), "{part}: {fp}");
    }
    assert!(!fp.contains("t0ken"), "{fp}");
    let other = connector(&format!(
        "{}dialing_prefix = \"-8\"\noutgoing_digit = \"0\"\n",
        minimal("")
    ));
    assert_ne!(other.import_settings(), fp);
    let e = c
        .anchor_for("contact", &ucsync_model::Attrs::new())
        .unwrap_err();
    assert!(e.contains("one way"), "{e}");
}
