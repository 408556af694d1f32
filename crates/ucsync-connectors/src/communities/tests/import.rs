//! What full and delta imports stage, and the requests they make to read it.

use std::collections::BTreeSet;
use std::time::Duration;

use ucsync_model::Attrs;
use ucsync_testkit::connections::FakeCommunity;
use ucsync_testkit::{FakeConnections, Fault};

use super::*;

/// Attributes from `(name, values)` pairs.
fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
    pairs
        .iter()
        .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
        .collect()
}

#[tokio::test]
async fn a_full_import_stages_communities_with_their_fields_and_each_person_once() {
    let fake = sales_and_board();
    let c = reading(&fake, "");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();

    let s = &sink.memory;
    assert_eq!(
        (s.errors.len(), s.warnings.len(), s.listings_ended),
        (0, 0, 1),
        "{:?} {:?}",
        s.errors,
        s.warnings
    );
    let sales = s.object("c-sales");
    assert_eq!(sales.object_type, "community");
    assert_eq!(
        sales.attrs,
        attrs(&[
            ("communityUuid", &["c-sales"]),
            ("name", &["Sales"]),
            ("description", &["Deals & leads"]),
            ("communityType", &["public"]),
            ("tags", &["crm", "sales"]),
            ("memberCount", &["2"]),
            ("member", &["anna", "ben"]),
            ("owner", &["anna"]),
        ])
    );
    // Private, and the administrator is none of its members: seen all the same.
    let board = s.object("c-board");
    assert_eq!(
        board.attrs,
        attrs(&[
            ("communityUuid", &["c-board"]),
            ("name", &["Board"]),
            ("communityType", &["private"]),
            ("memberCount", &["3"]),
            ("member", &["anna", "ben", "cleo"]),
            ("owner", &["anna", "ben"]),
        ])
    );
    assert_eq!(
        s.object("anna").attrs,
        attrs(&[
            ("userid", &["anna"]),
            ("displayName", &["Anna Lang"]),
            ("email", &["anna@example.com"]),
            ("userState", &["active"]),
        ])
    );
    assert_eq!(s.object("anna").object_type, "person");
    assert_eq!(s.object("cleo").attrs.first("userState"), Some("inactive"));
    // Anna and Ben are in both communities and handed over once each.
    for person in ["anna", "ben", "cleo"] {
        assert_eq!(sink.times_sent(person), 1, "{person}: {:?}", sink.sent);
    }
    let staged: BTreeSet<&str> = s.staged.keys().map(String::as_str).collect();
    assert_eq!(
        staged,
        BTreeSet::from(["anna", "ben", "c-board", "c-sales", "cleo"])
    );
}

#[tokio::test]
async fn with_hidden_emails_persons_are_staged_by_userid_without_email() {
    let fake = sales_and_board();
    fake.hide_emails(true);
    let c = reading(&fake, "");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();

    let s = &sink.memory;
    assert!(
        s.errors.is_empty() && s.warnings.is_empty(),
        "{:?}",
        s.errors
    );
    assert_eq!(
        s.object("ben").attrs,
        attrs(&[
            ("userid", &["ben"]),
            ("displayName", &["Ben Ott"]),
            ("userState", &["active"]),
        ])
    );
    assert_eq!(
        s.object("c-sales").attrs.get("member"),
        ["anna".to_owned(), "ben".to_owned()]
    );
    assert!(
        s.objects.iter().all(|o| !o.attrs.contains("email")),
        "{:?}",
        s.objects
    );
}

#[tokio::test]
async fn pages_of_two_are_read_with_exactly_the_requests_needed() {
    let fake = fake();
    for i in 1..=5 {
        let id = format!("u{i}");
        fake.add_user(
            &id,
            &format!("User {i}"),
            &format!("{id}@example.com"),
            None,
            false,
        );
    }
    for i in 1..=5 {
        fake.add_community(FakeCommunity::new(
            &format!("p-{i}"),
            &format!("P {i}"),
            "u1",
        ));
    }
    for i in 2..=5 {
        fake.add_member("p-3", &format!("u{i}"), false);
    }
    let c = reading(&fake, "page_size = 2");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();

    let s = &sink.memory;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(
        s.object("p-3").attrs.get("member"),
        ["u1", "u2", "u3", "u4", "u5"].map(str::to_owned)
    );
    assert_eq!(s.anchors().len(), 10, "{:?}", s.anchors());
    // 5 communities: pages 1 to 3; 5 members: pages 1 to 3; one member: page 1.
    let pages = |path: &str, uuid: Option<&str>| -> Vec<(String, String)> {
        requests_to(&fake, path)
            .iter()
            .filter(|r| uuid.is_none_or(|u| param(r, "communityUuid").as_deref() == Some(u)))
            .map(|r| (param(r, "page").unwrap(), param(r, "ps").unwrap()))
            .collect()
    };
    let expect = |n: u32| -> Vec<(String, String)> {
        (1..=n).map(|p| (p.to_string(), "2".to_owned())).collect()
    };
    assert_eq!(pages(ALL, None), expect(3));
    assert_eq!(pages(MEMBERS, Some("p-3")), expect(3));
    for other in ["p-1", "p-2", "p-4", "p-5"] {
        assert_eq!(pages(MEMBERS, Some(other)), expect(1), "{other}");
    }
    assert_eq!(fake.requests().len(), 10, "{:#?}", fake.requests());
}

/// Five communities read by a full import; then one added, one renamed, one deleted, a member
/// added to one and removed from another.
#[tokio::test]
async fn a_delta_hands_over_the_changed_communities_and_deletes_the_deleted_one() {
    let fake = fake();
    for (id, name) in [
        ("anna", "Anna"),
        ("ben", "Ben"),
        ("cleo", "Cleo"),
        ("dora", "Dora"),
    ] {
        fake.add_user(id, name, &format!("{id}@example.com"), None, false);
    }
    for (uuid, name, author) in [
        ("c-1", "One", "anna"),
        ("c-2", "Two", "anna"),
        ("c-3", "Three", "anna"),
        ("c-4", "Four", "anna"),
        ("c-5", "Five", "dora"),
    ] {
        fake.add_community(FakeCommunity::new(uuid, name, author));
    }
    fake.add_member("c-3", "ben", false);
    // The watermark is the server's Date, to the second: let it pass the setup's changes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = reading(&fake, "overlap_secs = 0");
    let mut sink = Sink::default();
    let watermark = full(c.as_ref(), &mut sink).await.unwrap().watermark;
    assert_eq!(sink.memory.staged.len(), 8);

    fake.add_community(FakeCommunity::new("c-6", "Six", "cleo"));
    fake.rename_community("c-1", "One renamed");
    fake.delete_community("c-4");
    fake.add_member("c-2", "cleo", false);
    fake.remove_member("c-3", "ben");
    fake.clear_requests();
    sink.next_run();
    delta(c.as_ref(), &mut sink, watermark.clone())
        .await
        .unwrap();

    let s = &sink.memory;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let sent: BTreeSet<&str> = sink.sent.iter().map(String::as_str).collect();
    assert_eq!(
        sent,
        BTreeSet::from(["anna", "c-1", "c-2", "c-3", "c-6", "cleo"])
    );
    assert_eq!(sink.sent.len(), 6, "each once: {:?}", sink.sent);
    assert_eq!(s.present, ["c-5"]);
    assert_eq!(s.object("c-1").attrs.first("name"), Some("One renamed"));
    assert_eq!(
        s.object("c-2").attrs.get("member"),
        ["anna".to_owned(), "cleo".to_owned()]
    );
    assert_eq!(s.object("c-3").attrs.get("member"), ["anna".to_owned()]);
    // The listing of communities ended: the deleted one goes, no person does (Ben is in no
    // community any more and stays until a full import).
    let deleted: Vec<(&str, &str)> = s
        .deleted
        .iter()
        .map(|d| (d.anchor.as_str(), d.object_type.as_str()))
        .collect();
    assert_eq!(deleted, [("c-4", "community")]);
    assert_eq!(s.withheld, None);
    assert!(s.staged.contains_key("ben") && s.staged.contains_key("dora"));

    // Changes since the first import's watermark were asked for.
    let since: Vec<Option<String>> = requests_to(&fake, ALL)
        .iter()
        .map(|r| param(r, "since"))
        .collect();
    assert_eq!(since, [watermark, None], "a delta read, then the listing");
}

#[tokio::test]
async fn the_watermark_is_the_servers_clock_less_overlap_secs_and_is_sent_as_since() {
    let fake = sales_and_board();
    let c = reading(&fake, "overlap_secs = 3600");
    let mut sink = Sink::default();
    let before = jiff::Timestamp::now();
    let watermark = full(c.as_ref(), &mut sink)
        .await
        .unwrap()
        .watermark
        .unwrap();
    let after = jiff::Timestamp::now();

    let at: jiff::Timestamp = watermark.parse().unwrap();
    // The server's Date is to the second; the local clock would have milliseconds.
    assert_eq!(at.subsec_nanosecond(), 0, "{watermark}");
    let server = at + jiff::SignedDuration::from_secs(3600);
    let floor = jiff::Timestamp::from_second(before.as_second()).unwrap();
    assert!(
        floor <= server && server <= after,
        "{watermark} {before} {after}"
    );

    fake.clear_requests();
    sink.next_run();
    delta(c.as_ref(), &mut sink, Some(watermark.clone()))
        .await
        .unwrap();
    let first = &requests_to(&fake, ALL)[0];
    assert_eq!(param(first, "since"), Some(watermark));
    // Everything changed within the last hour: read again.
    assert!(sink.memory.present.is_empty(), "{:?}", sink.memory.present);
}

#[tokio::test]
async fn nothing_is_ever_written_every_request_is_a_get_to_the_configured_host() {
    let fake = sales_and_board();
    let c = reading(&fake, "overlap_secs = 0");
    let mut sink = Sink::default();
    let watermark = full(c.as_ref(), &mut sink).await.unwrap().watermark;
    fake.rename_community("c-board", "Board of directors");
    sink.next_run();
    delta(c.as_ref(), &mut sink, watermark).await.unwrap();
    c.check_connection().await.unwrap();

    let requests = fake.requests();
    // 3 of the full import, at least 3 of the delta, 1 of the check.
    assert!(requests.len() >= 7, "{requests:#?}");
    assert!(requests.iter().any(|r| r.path_and_query.contains("since=")));
    let host = format!("127.0.0.1:{}", fake.port());
    for r in &requests {
        assert_eq!(r.method, "GET", "{r:?}");
        assert_eq!(r.host.as_deref(), Some(host.as_str()), "{r:?}");
        assert_eq!(r.body_len, 0, "{r:?}");
        assert_eq!(r.user.as_deref(), Some(ADMIN), "{r:?}");
    }
}

#[tokio::test]
async fn a_server_that_serves_smaller_pages_than_page_size_is_still_read_whole() {
    // The fake serves at most 500 communities a page, whatever ps asks.
    let fake = fake();
    fake.populate(600, 1, 600);
    let c = reading(&fake, "page_size = 1000");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();

    let s = &sink.memory;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let communities = s.objects.iter().filter(|o| o.object_type == "community");
    assert_eq!(communities.count(), 600);
    let pages: Vec<(String, String)> = requests_to(&fake, ALL)
        .iter()
        .map(|r| (param(r, "page").unwrap(), param(r, "ps").unwrap()))
        .collect();
    assert_eq!(
        pages,
        [("1".into(), "1000".into()), ("2".into(), "500".into())]
    );
}

#[tokio::test]
async fn with_members_owners_only_the_owners_are_read() {
    let fake = sales_and_board();
    let c = reading(&fake, "members = \"owners\"");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();

    let s = &sink.memory;
    let board = &s.object("c-board").attrs;
    assert_eq!(board.get("member"), ["anna".to_owned(), "ben".to_owned()]);
    assert_eq!(board.get("owner"), board.get("member"));
    assert!(!s.staged.contains_key("cleo"), "a plain member was staged");
    let members = requests_to(&fake, MEMBERS);
    assert!(!members.is_empty());
    for r in &members {
        assert_eq!(param(r, "role").as_deref(), Some("owner"), "{r:?}");
    }
}

/// Deletes `uuid` once a request containing `asked` arrived (a `Delay` fault holds its answer).
async fn delete_when_asked(fake: &FakeConnections, asked: &str, uuid: &str) {
    let arrived = || {
        fake.requests()
            .iter()
            .any(|r| r.path_and_query.contains(asked))
    };
    for _ in 0..500 {
        if arrived() {
            fake.delete_community(uuid);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no request with {asked} came: {:#?}", fake.requests());
}

#[tokio::test]
async fn a_community_deleted_while_the_listing_is_read_makes_no_other_one_deleted() {
    let fake = fake();
    fake.add_user("anna", "Anna", "anna@example.com", None, false);
    for i in 1..=5 {
        fake.add_community(FakeCommunity::new(
            &format!("c-{i}"),
            &format!("C {i}"),
            "anna",
        ));
    }
    let c = reading(&fake, "page_size = 2");
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();
    sink.next_run();

    fake.clear_requests();
    // Page 1 is read, then c-1 goes: page 2 starts at c-4, and c-3 is never listed.
    fake.fault("all?page=2", Fault::Delay(Duration::from_millis(600)));
    let delete = delete_when_asked(&fake, "all?page=2", "c-1");
    let (read, ()) = tokio::join!(full(c.as_ref(), &mut sink), delete);
    read.unwrap();

    let s = &sink.memory;
    assert!(
        !sink.sent.iter().any(|a| a == "c-3"),
        "c-3 was listed after all: {:?}",
        sink.sent
    );
    assert!(s.deleted.is_empty(), "{:?}", s.deleted);
    assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
    assert!(s.gaps[0].contains("went from 5 to 4"), "{:?}", s.gaps);
    assert!(s.staged.contains_key("c-3"));

    // The next import lists every community again, and only c-1 goes.
    fake.clear_faults();
    sink.next_run();
    full(c.as_ref(), &mut sink).await.unwrap();
    let deleted: Vec<&str> = sink
        .memory
        .deleted
        .iter()
        .map(|d| d.anchor.as_str())
        .collect();
    assert_eq!(deleted, ["c-1"]);
}

#[tokio::test]
async fn a_delta_that_may_have_passed_a_change_over_keeps_its_watermark() {
    let fake = fake();
    fake.add_user("anna", "Anna", "anna@example.com", None, false);
    for i in 1..=5 {
        fake.add_community(FakeCommunity::new(
            &format!("c-{i}"),
            &format!("C {i}"),
            "anna",
        ));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = reading(&fake, "page_size = 2\noverlap_secs = 0");
    let mut sink = Sink::default();
    let watermark = full(c.as_ref(), &mut sink).await.unwrap().watermark;
    for i in 1..=5 {
        fake.rename_community(&format!("c-{i}"), &format!("C {i} renamed"));
    }
    sink.next_run();
    // So that a watermark moved on differs from the one kept.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.clear_requests();

    // The changes' page 1 is read, then c-1 goes: c-3 is passed over.
    fake.fault("&page=2&ps=2", Fault::Delay(Duration::from_millis(600)));
    let delete = delete_when_asked(&fake, "&page=2&ps=2", "c-1");
    let (read, ()) = tokio::join!(delta(c.as_ref(), &mut sink, watermark.clone()), delete);
    assert!(!sink.sent.iter().any(|a| a == "c-3"), "{:?}", sink.sent);
    let kept = read.unwrap().watermark;
    assert_eq!(kept, watermark, "the watermark moved on");

    fake.clear_faults();
    sink.next_run();
    delta(c.as_ref(), &mut sink, kept).await.unwrap();
    assert_eq!(
        sink.memory.object("c-3").attrs.first("name"),
        Some("C 3 renamed")
    );
}
