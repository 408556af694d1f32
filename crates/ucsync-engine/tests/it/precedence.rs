//! Import flows with precedence: several connectors give the same directory attribute and one
//! source per attribute wins, by the attribute's precedence list or else the sync order. The
//! winner is recorded as the attribute's source.

use ucsync_engine::Profile;

use crate::harness::Hub;

/// Two sources of people, `a` and `b`, each projecting or joining on `uid`; both give
/// `telephoneNumber`, only `a` gives `department` and only `b` gives `title`.
fn config(order: &str, precedence: &str) -> String {
    format!(
        r#"version = 1

[enterprises.default]
sync_order = [{order}]
{precedence}

[connectors.a]
kind = "csv"
[connectors.a.settings]
path = "a.csv"
key = ["id"]
[connectors.a.rules]
join = [{{ staged = "id", directory = "uid" }}]
projection = {{ person = "person" }}
[connectors.a.rules.import_flows]
uid = "id"
telephoneNumber = "phone"
department = "dept"

[connectors.b]
kind = "csv"
[connectors.b.settings]
path = "b.csv"
key = ["id"]
[connectors.b.rules]
join = [{{ staged = "id", directory = "uid" }}]
projection = {{ person = "person" }}
[connectors.b.rules.import_flows]
uid = "id"
telephoneNumber = "phone"
title = "title"
"#
    )
}

const B_FIRST: &str = "[enterprises.default.precedence]\ntelephoneNumber = [\"b\", \"a\"]";

async fn hub(order: &str, precedence: &str, b_phone: &str) -> Hub {
    Hub::new(
        &config(order, precedence),
        &[
            ("a.csv", "id,phone,dept\n1,+1 111,Sales\n"),
            ("b.csv", &format!("id,phone,title\n1,{b_phone},Engineer\n")),
        ],
    )
    .await
}

#[tokio::test]
async fn the_precedence_list_picks_the_most_trusted_source() {
    let hub = hub(r#""a", "b""#, B_FIRST, "+1 222").await;
    hub.sync_ok().await;
    let (a, b) = (hub.connector_id("a").await, hub.connector_id("b").await);

    let entries = hub.entries().await;
    assert_eq!(entries.len(), 1, "b joined a's entry: {entries:#?}");
    let e = &entries[0];
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 222"]);
    assert_eq!(e.attrs.source("telephoneNumber"), Some(Some(b)));
    // Attributes only one connector gives come from it; unlisted ones follow the sync order.
    assert_eq!(e.attrs.get("department"), ["Sales"]);
    assert_eq!(e.attrs.source("department"), Some(Some(a)));
    assert_eq!(e.attrs.get("title"), ["Engineer"]);
    assert_eq!(e.attrs.source("title"), Some(Some(b)));
    assert_eq!(e.attrs.source("uid"), Some(Some(a)));
}

#[tokio::test]
async fn when_the_trusted_value_is_removed_the_next_source_gives_it() {
    let hub = hub(r#""a", "b""#, B_FIRST, "+1 222").await;
    hub.sync_ok().await;
    let (a, b) = (hub.connector_id("a").await, hub.connector_id("b").await);

    hub.write("b.csv", "id,phone,title\n1,,Engineer\n");
    hub.sync_ok().await;
    let e = hub.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 111"]);
    assert_eq!(e.attrs.source("telephoneNumber"), Some(Some(a)));

    // And when b has a value again, b wins again.
    hub.write("b.csv", "id,phone,title\n1,+1 333,Engineer\n");
    hub.sync_ok().await;
    let e = hub.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 333"]);
    assert_eq!(e.attrs.source("telephoneNumber"), Some(Some(b)));
}

#[tokio::test]
async fn a_change_of_the_less_trusted_source_does_not_override() {
    let hub = hub(r#""a", "b""#, B_FIRST, "+1 222").await;
    hub.sync_ok().await;
    hub.write("a.csv", "id,phone,dept\n1,+1 999,Sales\n");
    hub.sync_ok().await;
    let e = hub.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 222"]);
    assert_eq!(
        e.attrs.source("telephoneNumber"),
        Some(Some(hub.connector_id("b").await))
    );
}

#[tokio::test]
async fn without_a_precedence_list_the_sync_order_decides() {
    let hub_ab = hub(r#""a", "b""#, "", "+1 222").await;
    hub_ab.sync_ok().await;
    let e = hub_ab.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 111"]);
    assert_eq!(
        e.attrs.source("telephoneNumber"),
        Some(Some(hub_ab.connector_id("a").await))
    );

    let hub_ba = hub(r#""b", "a""#, "", "+1 222").await;
    hub_ba.sync_ok().await;
    let entries = hub_ba.entries().await;
    assert_eq!(entries.len(), 1, "a joined b's entry: {entries:#?}");
    let e = &entries[0];
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 222"]);
    assert_eq!(
        e.attrs.source("telephoneNumber"),
        Some(Some(hub_ba.connector_id("b").await))
    );
    assert_eq!(
        e.attrs.source("uid"),
        Some(Some(hub_ba.connector_id("b").await))
    );
}

#[tokio::test]
async fn without_a_precedence_list_a_missing_value_falls_back_in_sync_order() {
    let hub = hub(r#""a", "b""#, "", "+1 222").await;
    hub.sync_ok().await;
    hub.write("a.csv", "id,phone,dept\n1,,Sales\n");
    hub.sync_ok().await;
    let e = hub.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 222"]);
    assert_eq!(
        e.attrs.source("telephoneNumber"),
        Some(Some(hub.connector_id("b").await))
    );
}

#[tokio::test]
async fn connectors_missing_from_a_precedence_list_do_not_give_the_attribute() {
    let hub = hub(
        r#""a", "b""#,
        "[enterprises.default.precedence]\ntelephoneNumber = [\"b\"]",
        "",
    )
    .await;
    hub.sync_ok().await;
    let e = hub.entry("uid", "1").await;
    assert!(
        e.attrs.get("telephoneNumber").is_empty(),
        "a may not give telephoneNumber: {e:#?}"
    );
    assert_eq!(e.attrs.get("department"), ["Sales"]);
}

#[tokio::test]
async fn a_precedence_list_added_later_applies_on_the_next_full_sync() {
    let mut hub = hub(r#""a", "b""#, "", "+1 222").await;
    hub.sync_ok().await;
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["+1 111"]
    );

    hub.reconfigure(&config(r#""a", "b""#, B_FIRST));
    let full = hub.run("a", Profile::FullSync).await;
    assert_eq!(full.counters.updated, 1);
    let e = hub.entry("uid", "1").await;
    assert_eq!(e.attrs.get("telephoneNumber"), ["+1 222"]);
    assert_eq!(
        e.attrs.source("telephoneNumber"),
        Some(Some(hub.connector_id("b").await))
    );
}
