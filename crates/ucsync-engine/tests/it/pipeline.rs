//! Sync batches overlap (one is decided while the two before it are written): with tiny
//! batches, objects that depend on what an earlier batch wrote are decided again once it
//! committed, so the result is the same as one batch after the other.

use ucsync_engine::Profile;

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people and joins its own objects by name, so a second object with a name
/// already projected is refused as ambiguous rather than becoming a second entry.
const CONFIG: &str = r#"version = 1
[enterprises.default]
sync_order = ["hr", "phones"]

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
join = [{ staged = "name", directory = "cn" }]
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"

[connectors.phones]
kind = "csv"
[connectors.phones.settings]
path = "phones.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn"]
[connectors.phones.rules]
join = [{ staged = "uid", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.phones.rules.export_flows]
uid = "uid"
cn = "cn"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_depend_on_the_previous_batch_see_its_writes() {
    // Batches of 4: ids 5-8 carry the names of ids 1-4, decided while 1-4 are being written.
    // Four batches or more: the step holds its join keys in memory until its end, so the later
    // objects find the earlier entries through the held keys.
    let mut rows = String::from("id,name\n");
    for i in 1..=16 {
        rows.push_str(&format!("{i},P{}\n", (i - 1) % 4));
    }
    let hub = Hub::new(CONFIG, &[("hr.csv", &rows), ("phones.csv", "uid,cn\n")]).await;
    let mut options = hub.options(false, None);
    options.sync_batch = Some(4);
    let report = hub.sync_now_with(&options).await;

    let entries = hub.entries().await;
    assert_eq!(entries.len(), 4, "one entry per name: {entries:#?}");
    let sync = step(&report, "hr", Profile::DeltaSync);
    assert_eq!(sync.counters.added, 4, "{:?}", sync.counters);
    assert_eq!(sync.counters.errors, 12, "{:?}", sync.counters);
    let outcomes = hub.all_outcomes(sync).await;
    for later in 5..=16 {
        assert!(
            outcomes.iter().any(|o| o.object == later.to_string()
                && o.message
                    .as_deref()
                    .unwrap_or("")
                    .contains("already linked")),
            "{later}: {outcomes:#?}"
        );
    }
    for first in 1..=4 {
        assert!(
            has_outcome(&outcomes, "projected", &first.to_string()),
            "{outcomes:#?}"
        );
    }
    // The provisioned contacts: exactly one per entry.
    let phones = hub.rows("phones.csv");
    assert_eq!(phones.len(), 4, "{phones:?}");
}

/// Two batches are in flight at once (one written, the next waiting its turn): a batch that
/// depends on the batch before the previous one is decided again too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_depend_on_a_batch_two_back_see_its_writes() {
    // Batches of 4, in rounds of P, Q, P, Q with names of their own: the third batch of a round
    // is decided while the first may still be written.
    const ROUNDS: usize = 6;
    let mut rows = String::from("id,name\n");
    let mut id = 0;
    for round in 0..ROUNDS {
        for letter in ['P', 'Q', 'P', 'Q'] {
            for n in 0..4 {
                id += 1;
                rows.push_str(&format!("{id},{letter}{round}-{n}\n"));
            }
        }
    }
    let hub = Hub::new(CONFIG, &[("hr.csv", &rows), ("phones.csv", "uid,cn\n")]).await;
    let mut options = hub.options(false, None);
    options.sync_batch = Some(4);
    let report = hub.sync_now_with(&options).await;

    assert_eq!(hub.entries().await.len(), 8 * ROUNDS, "one entry per name");
    let sync = step(&report, "hr", Profile::DeltaSync);
    assert_eq!(
        sync.counters.added,
        8 * ROUNDS as i64,
        "{:?}",
        sync.counters
    );
    assert_eq!(
        sync.counters.errors,
        8 * ROUNDS as i64,
        "{:?}",
        sync.counters
    );
    let outcomes = hub.all_outcomes(sync).await;
    let refused = outcomes
        .iter()
        .filter(|o| {
            o.message
                .as_deref()
                .unwrap_or("")
                .contains("already linked")
        })
        .count();
    assert_eq!(refused, 8 * ROUNDS, "{outcomes:#?}");
    assert_eq!(hub.rows("phones.csv").len(), 8 * ROUNDS);
}

/// An image export reads the next page of the staging space while the connector writes the
/// current one: pages of 3 give every object once, in staging order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_export_read_page_by_page_writes_every_object_once() {
    let mut rows = String::from("id,name\n");
    for i in 1..=10 {
        rows.push_str(&format!("{i},P{i}\n"));
    }
    let hub = Hub::new(CONFIG, &[("hr.csv", &rows), ("phones.csv", "uid,cn\n")]).await;
    let mut options = hub.options(false, None);
    options.export_batch = Some(3);
    let report = hub.sync_now_with(&options).await;

    let export = step(&report, "phones", Profile::Export);
    assert_eq!(export.counters.added, 10, "{:?}", export.counters);
    let uids: Vec<String> = hub
        .rows("phones.csv")
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    let want: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    assert_eq!(uids, want);
}
