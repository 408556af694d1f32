//! The directory's changes as peers page through them, against a real file.

use super::*;
use crate::*;

fn write(e: i64, id: i64, object_type: &str, name: &str, is_new: bool) -> EntryWrite {
    let mut attrs = ucsync_model::EntryAttrs::new();
    attrs.set("name", Some(1), vec![name.to_owned()]);
    EntryWrite {
        id,
        enterprise_id: e,
        object_type: object_type.into(),
        attrs: attrs.encode(),
        keys: Vec::new(),
        is_new,
    }
}

/// Each change as `+id:name` or `-id`.
fn said(page: &DirectoryChanges) -> Vec<String> {
    page.items
        .iter()
        .map(|c| match c {
            DirectoryChange::Entry { entry, .. } => {
                format!("+{}:{}", entry.id, entry.attrs.get("name")[0])
            }
            DirectoryChange::Deleted { id, .. } => format!("-{id}"),
        })
        .collect()
}

const PEOPLE: &[&str] = &["person", "contact"];

#[tokio::test]
async fn changes_page_in_order_with_tombstones_and_the_generation_stays_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let e = store.ensure_enterprise("default").await.unwrap();
    let other = store.ensure_enterprise("other").await.unwrap();
    let batch = |entries, deleted_entries| SyncBatch {
        enterprise_id: e,
        entries,
        deleted_entries,
        ..SyncBatch::default()
    };
    store
        .apply_sync_batch(batch(
            vec![
                write(e, 1, "person", "ann", true),
                write(e, 2, "contact", "bob", true),
                write(e, 3, "group", "staff", true),
            ],
            vec![],
        ))
        .await
        .unwrap();
    store
        .apply_sync_batch(SyncBatch {
            enterprise_id: other,
            entries: vec![write(other, 9, "person", "zed", true)],
            ..SyncBatch::default()
        })
        .await
        .unwrap();

    let full = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(said(&full), ["+1:ann", "+2:bob"]);
    assert!(!full.more);
    let cursor = full.items.last().unwrap().position();

    // An update, a delete and an add in one batch; a hand edit after it.
    store
        .apply_sync_batch(batch(
            vec![
                write(e, 1, "person", "ann2", false),
                write(e, 4, "person", "cyd", true),
            ],
            vec![2],
        ))
        .await
        .unwrap();
    let page = store
        .directory_changes(e, Some(cursor), PEOPLE, 10)
        .await
        .unwrap();
    assert_eq!(said(&page), ["+1:ann2", "-2", "+4:cyd"]);
    let after = page.items.last().unwrap().position();
    let edit: HandEdit = Box::new(|_| Ok(vec!["4711".to_owned()]));
    store.edit_hand_set(4, "manualNumber", edit).await.unwrap();
    let page = store
        .directory_changes(e, Some(after), PEOPLE, 10)
        .await
        .unwrap();
    assert_eq!(said(&page), ["+4:cyd"]);

    // Pages of one: `more` until the end, nothing seen twice.
    let mut seen = Vec::new();
    let mut at = Some(cursor);
    loop {
        let page = store.directory_changes(e, at, PEOPLE, 1).await.unwrap();
        seen.extend(said(&page));
        match page.items.last() {
            Some(c) if page.more => at = Some(c.position()),
            _ => break,
        }
    }
    assert_eq!(seen, ["+1:ann2", "-2", "+4:cyd"]);

    // A full listing names what is there, and the deletions (an entry it named early may be
    // deleted before it ends); the generation stays with the store.
    let full = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(said(&full), ["+1:ann2", "-2", "+4:cyd"]);
    let generation = full.generation.clone();
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let again = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(again.generation, generation);
    assert_eq!(again.trimmed_seq, 0);
    let elsewhere = tempfile::tempdir().unwrap();
    let fresh = SqliteStore::open(elsewhere.path()).await.unwrap();
    let e2 = fresh.ensure_enterprise("default").await.unwrap();
    let other_store = fresh.directory_changes(e2, None, PEOPLE, 10).await.unwrap();
    assert_ne!(other_store.generation, generation);
}

#[tokio::test]
async fn tombstones_older_than_the_kept_days_are_trimmed_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let e = store.ensure_enterprise("default").await.unwrap();
    let batch = |entries, deleted_entries| SyncBatch {
        enterprise_id: e,
        entries,
        deleted_entries,
        ..SyncBatch::default()
    };
    store
        .apply_sync_batch(batch(
            vec![
                write(e, 1, "person", "ann", true),
                write(e, 2, "person", "bob", true),
            ],
            vec![],
        ))
        .await
        .unwrap();
    store
        .apply_sync_batch(batch(vec![], vec![1]))
        .await
        .unwrap();
    let before = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(said(&before), ["+2:bob", "-1"]);
    assert_eq!(before.trimmed_seq, 0);
    // The first deletion happened long ago; the next one trims its tombstone.
    {
        let mut conn = store.lock().await;
        sqlx::query("UPDATE entry_tombstones SET deleted_at = '2000-01-01T00:00:00Z'")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    store
        .apply_sync_batch(batch(vec![], vec![2]))
        .await
        .unwrap();
    let after = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(said(&after), ["-2"]);
    // The trimmed tombstone was numbered 2: a cursor before it starts over.
    assert_eq!(after.trimmed_seq, 2);
}

#[tokio::test]
async fn a_deleted_entry_id_is_never_given_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let e = store.ensure_enterprise("default").await.unwrap();
    let first = store.reserve_entry_ids(2).await.unwrap();
    let batch = |entries, deleted_entries| SyncBatch {
        enterprise_id: e,
        entries,
        deleted_entries,
        ..SyncBatch::default()
    };
    let entries = vec![
        write(e, first, "person", "ann", true),
        write(e, first + 1, "person", "bob", true),
    ];
    store
        .apply_sync_batch(batch(entries, vec![]))
        .await
        .unwrap();
    // Bob, the highest id, is deleted; the store is opened again (another process).
    store
        .apply_sync_batch(batch(vec![], vec![first + 1]))
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.reserve_entry_ids(1).await.unwrap(), first + 2);
    // Not even once its tombstone is trimmed.
    {
        let mut conn = store.lock().await;
        sqlx::query("DELETE FROM entry_tombstones")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.reserve_entry_ids(1).await.unwrap(), first + 2);
}

/// What peers read never shows half a batch, a preview's writes, or a batch that failed; and
/// batches of two enterprises written at once each reach their own feed whole.
#[tokio::test]
async fn the_feed_shows_no_failed_batch_no_preview_and_every_batch_of_runs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let e = store.ensure_enterprise("default").await.unwrap();
    let other = store.ensure_enterprise("other").await.unwrap();
    let batch = |e: i64, entries, deleted_entries| SyncBatch {
        enterprise_id: e,
        entries,
        deleted_entries,
        ..SyncBatch::default()
    };
    store
        .apply_sync_batch(batch(e, vec![write(e, 1, "person", "ann", true)], vec![]))
        .await
        .unwrap();
    let before = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();

    // A batch that fails (an id taken twice) leaves no change number and no tombstone.
    let failed = store
        .apply_sync_batch(batch(
            e,
            vec![
                write(e, 2, "person", "bob", true),
                write(e, 2, "person", "bob", true),
            ],
            vec![1],
        ))
        .await;
    assert!(failed.is_err());
    // A preview changes and deletes, and keeps none of it.
    let preview = store.begin_preview().await.unwrap();
    preview
        .apply_sync_batch(batch(e, vec![write(e, 3, "person", "cyd", true)], vec![1]))
        .await
        .unwrap();
    let seen = preview
        .directory_changes(e, None, PEOPLE, 10)
        .await
        .unwrap();
    assert_eq!(said(&seen), ["-1", "+3:cyd"]);
    assert_eq!(
        said(&store.directory_changes(e, None, PEOPLE, 10).await.unwrap()),
        ["+1:ann"]
    );
    preview.end_preview().await.unwrap();
    let after = store.directory_changes(e, None, PEOPLE, 10).await.unwrap();
    assert_eq!(said(&after), ["+1:ann"]);
    assert_eq!(after.last_seq, before.last_seq);

    // Two enterprises' runs writing at once: each feed, paged one by one from the cursor,
    // names each of its entries once.
    let writers: Vec<_> = [(e, 100), (other, 200)]
        .into_iter()
        .map(|(ent, base)| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..20i64 {
                    let entries = (0..5)
                        .map(|i| write(ent, base * 100 + b * 5 + i, "person", "p", true))
                        .collect();
                    store
                        .apply_sync_batch(SyncBatch {
                            enterprise_id: ent,
                            entries,
                            ..SyncBatch::default()
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let cursor = after.items.last().unwrap().position();
    for w in writers {
        w.await.unwrap();
    }
    for (ent, at) in [(e, Some(cursor)), (other, None)] {
        let mut at = at;
        let mut ids = Vec::new();
        loop {
            let page = store.directory_changes(ent, at, PEOPLE, 7).await.unwrap();
            ids.extend(page.items.iter().map(|c| c.position().1));
            match page.items.last() {
                Some(c) if page.more => at = Some(c.position()),
                _ => break,
            }
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((ids.len(), unique.len()), (100, 100), "{ent}: {ids:?}");
    }
}
