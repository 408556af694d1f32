//! Join rules and projection: how an unlinked staged object finds its directory entry, or gets
//! one.

use ucsync_engine::{Profile, RunStatus};

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people; `pbx` only joins them (with the given join rules) and gives their
/// phone numbers.
fn config(join: &str) -> String {
    format!(
        r#"version = 1

[enterprises.default]
sync_order = ["hr", "pbx"]

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = {{ person = "person" }}
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"
mail = "mail"

[connectors.pbx]
kind = "csv"
[connectors.pbx.settings]
path = "pbx.csv"
key = ["ext"]
[connectors.pbx.rules]
join = [{join}]
[connectors.pbx.rules.import_flows]
telephoneNumber = "phone"
"#
    )
}

const BY_MAIL: &str = r#"{ staged = "email", directory = "mail" }"#;
const PBX_HEADER: &str = "ext,email,staffNo,phone\n";

async fn hub(join: &str, hr: &str, pbx: &str) -> Hub {
    Hub::new(
        &config(join),
        &[
            ("hr.csv", &format!("id,name,mail\n{hr}")),
            ("pbx.csv", &format!("{PBX_HEADER}{pbx}")),
        ],
    )
    .await
}

#[tokio::test]
async fn join_links_an_object_whose_value_equals_the_entry_attribute() {
    let hub = hub(
        BY_MAIL,
        "1,Ann,ann@acme.com\n2,Bob,bob@acme.com\n",
        "100,ann@acme.com,,+1 100\n300,carol@acme.com,,+1 300\n",
    )
    .await;
    let report = hub.sync_ok().await;

    assert_eq!(hub.entries().await.len(), 2, "pbx projects nothing");
    let ann = hub.entry("uid", "1").await;
    let bob = hub.entry("uid", "2").await;
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(ann.id));
    assert_eq!(ann.attrs.get("telephoneNumber"), ["+1 100"]);
    assert!(bob.attrs.get("telephoneNumber").is_empty());
    let carol = hub.object("pbx", "300").await;
    assert_eq!(carol.entry_id, None, "no entry has carol's mail");
    assert_eq!(carol.sync_error, None);

    let sync = step(&report, "pbx", Profile::DeltaSync);
    let outcomes = hub.all_outcomes(sync).await;
    assert!(has_outcome(&outcomes, "joined", "100"), "{outcomes:#?}");
    assert!(!has_outcome(&outcomes, "joined", "300"), "{outcomes:#?}");
}

#[tokio::test]
async fn ignore_case_joins_values_that_differ_in_case() {
    let hr = "1,Ann,ann@acme.com\n";
    let pbx = "100,ANN@Acme.COM,,+1 100\n";
    let hub = hub(
        r#"{ staged = "email", directory = "mail", ignore_case = true }"#,
        hr,
        pbx,
    )
    .await;
    hub.sync_ok().await;
    let ann = hub.entry("uid", "1").await;
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(ann.id));
    assert_eq!(ann.attrs.get("telephoneNumber"), ["+1 100"]);
}

#[tokio::test]
async fn without_ignore_case_values_that_differ_in_case_do_not_join() {
    let hub = hub(
        BY_MAIL,
        "1,Ann,ann@acme.com\n",
        "100,ANN@Acme.COM,,+1 100\n",
    )
    .await;
    hub.sync_ok().await;
    let ann = hub.entry("uid", "1").await;
    let pbx = hub.object("pbx", "100").await;
    assert_eq!(pbx.entry_id, None);
    assert_eq!(pbx.sync_error, None, "no match is not an error");
    assert!(ann.attrs.get("telephoneNumber").is_empty());
}

#[tokio::test]
async fn join_rules_are_tried_in_order_and_the_first_with_a_match_wins() {
    let hub = hub(
        &format!(r#"{{ staged = "staffNo", directory = "uid" }}, {BY_MAIL}"#),
        "1,Ann,ann@acme.com\n2,Bob,bob@acme.com\n3,Cid,cid@acme.com\n",
        // 100: rule 1 finds Ann, rule 2 would find Bob. 200: rule 1 finds nothing, rule 2 finds
        // Cid. 300: neither finds anything.
        "100,bob@acme.com,1,+1 100\n200,cid@acme.com,99,+1 200\n300,nobody@acme.com,,+1 300\n",
    )
    .await;
    hub.sync_ok().await;
    let ann = hub.entry("uid", "1").await;
    let bob = hub.entry("uid", "2").await;
    let cid = hub.entry("uid", "3").await;
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(ann.id));
    assert_eq!(hub.object("pbx", "200").await.entry_id, Some(cid.id));
    assert_eq!(hub.object("pbx", "300").await.entry_id, None);
    assert_eq!(ann.attrs.get("telephoneNumber"), ["+1 100"]);
    assert_eq!(cid.attrs.get("telephoneNumber"), ["+1 200"]);
    assert!(bob.attrs.get("telephoneNumber").is_empty());
}

#[tokio::test]
async fn a_first_rule_with_one_match_wins_over_a_later_ambiguous_rule() {
    let hub = hub(
        &format!(r#"{{ staged = "staffNo", directory = "uid" }}, {BY_MAIL}"#),
        "1,Ann,shared@acme.com\n2,Bob,shared@acme.com\n",
        "100,shared@acme.com,2,+1 100\n",
    )
    .await;
    hub.sync_ok().await;
    let bob = hub.entry("uid", "2").await;
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(bob.id));
}

#[tokio::test]
async fn an_ambiguous_join_is_an_error_naming_both_entries_and_is_retried() {
    let hub = hub(
        BY_MAIL,
        "1,Ann,shared@acme.com\n2,Bob,shared@acme.com\n",
        "100,shared@acme.com,,+1 100\n",
    )
    .await;
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let sync = step(&report, "pbx", Profile::DeltaSync);
    assert_eq!(sync.status, RunStatus::CompletedWithErrors);
    assert_eq!(sync.counters.errors, 1);

    let ann = hub.entry("uid", "1").await;
    let bob = hub.entry("uid", "2").await;
    let outcomes = hub.all_outcomes(sync).await;
    let error = outcomes
        .iter()
        .find(|o| o.action == "error" && o.object == "100")
        .unwrap_or_else(|| panic!("no error for 100: {outcomes:#?}"));
    let message = error.message.clone().unwrap_or_default();
    for id in [ann.id, bob.id] {
        assert!(
            message.contains(&format!("entry {id} (")),
            "the message names entry {id}: {message}"
        );
    }
    let object = hub.object("pbx", "100").await;
    assert_eq!(object.entry_id, None, "nothing was joined");
    assert!(object.sync_error.is_some());
    assert!(ann.attrs.get("telephoneNumber").is_empty());
    assert!(bob.attrs.get("telephoneNumber").is_empty());

    // The object stays in the sync queue: the next delta sync tries again (and fails again).
    let again = hub.run("pbx", Profile::DeltaSync).await;
    assert_eq!(again.status, RunStatus::CompletedWithErrors);
    assert_eq!(again.counters.errors, 1);
    let outcomes = hub.all_outcomes(&again).await;
    assert!(has_outcome(&outcomes, "error", "100"), "{outcomes:#?}");
    let next = hub.sync_now().await;
    assert_eq!(
        step(&next, "pbx", Profile::DeltaSync).counters.errors,
        1,
        "a sync-now whose files did not change retries the object"
    );

    // Once the source is fixed, the retry joins.
    hub.write(
        "hr.csv",
        "id,name,mail\n1,Ann,shared@acme.com\n2,Bob,bob@acme.com\n",
    );
    hub.sync_ok().await;
    let object = hub.object("pbx", "100").await;
    assert_eq!(object.entry_id, Some(ann.id));
    assert_eq!(object.sync_error, None, "the error is cleared once joined");
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["+1 100"]
    );
}

#[tokio::test]
async fn an_entry_linked_to_another_object_of_the_connector_is_not_linked_again() {
    let hub = hub(
        BY_MAIL,
        "1,Ann,ann@acme.com\n",
        "100,ann@acme.com,,+1 100\n",
    )
    .await;
    hub.sync_ok().await;
    let ann = hub.entry("uid", "1").await;
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(ann.id));

    hub.write(
        "pbx.csv",
        &format!("{PBX_HEADER}100,ann@acme.com,,+1 100\n101,ann@acme.com,,+1 101\n"),
    );
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let sync = step(&report, "pbx", Profile::DeltaSync);
    assert_eq!(sync.counters.errors, 1);
    let outcomes = hub.all_outcomes(sync).await;
    let error = outcomes
        .iter()
        .find(|o| o.action == "error" && o.object == "101")
        .unwrap_or_else(|| panic!("no error for 101: {outcomes:#?}"));
    let message = error.message.clone().unwrap_or_default();
    assert!(
        message.contains("\"100\""),
        "names the linked object: {message}"
    );

    assert_eq!(hub.object("pbx", "101").await.entry_id, None);
    assert_eq!(hub.object("pbx", "100").await.entry_id, Some(ann.id));
    let pbx_id = hub.connector_id("pbx").await;
    let links = hub.linked(ann.id).await;
    assert_eq!(
        links.iter().filter(|s| s.connector_id == pbx_id).count(),
        1,
        "{links:#?}"
    );
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["+1 100"]
    );
}

#[tokio::test]
async fn two_objects_of_one_run_matching_one_entry_link_only_one() {
    let hub = hub(
        BY_MAIL,
        "1,Ann,ann@acme.com\n",
        "100,ann@acme.com,,+1 100\n101,ann@acme.com,,+1 101\n",
    )
    .await;
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    assert_eq!(step(&report, "pbx", Profile::DeltaSync).counters.errors, 1);
    let ann = hub.entry("uid", "1").await;
    let pbx_id = hub.connector_id("pbx").await;
    let links: Vec<_> = hub
        .linked(ann.id)
        .await
        .into_iter()
        .filter(|s| s.connector_id == pbx_id)
        .collect();
    assert_eq!(links.len(), 1, "{links:#?}");
    let other = if links[0].anchor == "100" {
        "101"
    } else {
        "100"
    };
    let unlinked = hub.object("pbx", other).await;
    assert_eq!(unlinked.entry_id, None);
    assert!(unlinked.sync_error.is_some());
}

#[tokio::test]
async fn projection_creates_entries_only_for_the_listed_types() {
    let config = r#"version = 1

[connectors.src]
kind = "csv"
[connectors.src.settings]
path = "src.csv"
key = ["id"]
object_type_column = "Type"
object_types = ["employee", "contractor", "room"]
[connectors.src.rules]
projection = { employee = "person", contractor = "contact" }
[connectors.src.rules.import_flows]
uid = "id"
cn = "name"
"#;
    let hub = Hub::new(
        config,
        &[(
            "src.csv",
            "id,Type,name\ne1,employee,Ann\nc1,contractor,Bob\nr1,room,Board room\n",
        )],
    )
    .await;
    let report = hub.sync_ok().await;
    let sync = step(&report, "src", Profile::DeltaSync);
    assert_eq!(sync.counters.added, 2);

    let entries = hub.entries().await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(hub.entry("uid", "e1").await.object_type, "person");
    assert_eq!(hub.entry("uid", "c1").await.object_type, "contact");
    assert!(
        entries.iter().all(|e| e.attrs.get("uid") != ["r1"]),
        "the room has no entry"
    );
    let room = hub.object("src", "r1").await;
    assert_eq!(room.entry_id, None);
    assert_eq!(room.sync_error, None);
}

#[tokio::test]
async fn a_join_rule_added_later_finds_entries_that_existed_before() {
    // First pbx joins by mail; its row for Bob carries only a staff number, so it stays
    // unlinked. Then a rule on uid is added: Bob's entry, written before that rule existed,
    // must be found.
    let mut hub = hub(
        BY_MAIL,
        "1,Ann,ann@acme.com\n2,Bob,bob@acme.com\n",
        "100,ann@acme.com,,+1 100\n200,,2,+1 200\n",
    )
    .await;
    hub.sync_ok().await;
    assert_eq!(hub.object("pbx", "200").await.entry_id, None);

    let both = format!(r#"{BY_MAIL}, {{ staged = "staffNo", directory = "uid" }}"#);
    hub.reconfigure(&config(&both));
    hub.run("pbx", Profile::FullSync).await;
    let bob = hub.entry("uid", "2").await;
    assert_eq!(hub.object("pbx", "200").await.entry_id, Some(bob.id));
    assert_eq!(bob.attrs.get("telephoneNumber"), ["+1 200"]);
}
