//! Bulk adds in LDAP transactions (`transactions = true`), against a real slapd: the adds of a batch are committed
//! together (slapd's log shows the end-transaction operation), each comes back with the
//! entryUUID slapd gave it, and one bad add in a batch fails alone while the rest are added.

use std::collections::HashSet;

use ucsync_model::{Attrs, ExportChange, ExportOp, ExportResult};
use ucsync_testkit::{Slapd, SlapdOptions};

use super::tests::{build, settings};
use super::txn;

const END_TXN: &str = "EXT oid=1.3.6.1.1.21.3";

fn logged() -> Slapd {
    let slapd = Slapd::start(SlapdOptions {
        log_level: "stats".to_owned(),
        ..SlapdOptions::default()
    });
    slapd.add_ou("people");
    slapd.add_ou("groups");
    slapd
}

fn person_add(uid: &str) -> ExportChange {
    let mut attrs = Attrs::new();
    attrs.set_one("uid", uid);
    attrs.set_one("cn", format!("{uid} Example"));
    attrs.set_one("sn", "Example");
    attrs.set_one("mail", format!("{uid}@example.com"));
    ExportChange {
        anchor: format!("uid={uid},provisional"),
        object_type: "person".into(),
        op: ExportOp::Add,
        attrs,
        old: None,
    }
}

fn end_txns(slapd: &Slapd) -> usize {
    std::fs::read_to_string(slapd.log_file())
        .unwrap()
        .matches(END_TXN)
        .count()
}

fn entry_uuid(slapd: &Slapd, uid: &str) -> String {
    let people = format!("ou=people,{}", slapd.suffix());
    let found = slapd
        .cli()
        .search(&people, &format!("(uid={uid})"), &["entryUUID"]);
    assert_eq!(found.len(), 1, "{uid}: {found:?}");
    found[0].get("entryUUID")[0].clone()
}

#[tokio::test]
async fn bulk_adds_are_committed_in_one_transaction_with_their_anchors() {
    let slapd = logged();
    let c = build(&settings(&slapd, "transactions = true"));
    let changes: Vec<ExportChange> = (0..40).map(|i| person_add(&format!("t{i:02}"))).collect();
    let results = c.export_changes(&changes).await.unwrap();
    assert_eq!(end_txns(&slapd), 1, "{}", slapd.log_tail(40));
    for (i, r) in results.iter().enumerate() {
        let uid = format!("t{i:02}");
        assert_eq!(r.anchor(), Some(entry_uuid(&slapd, &uid).as_str()), "{uid}");
    }

    // Below the bulk size, adds go one by one with the post-read control.
    let few: Vec<ExportChange> = (0..3).map(|i| person_add(&format!("f{i}"))).collect();
    let results = c.export_changes(&few).await.unwrap();
    assert_eq!(end_txns(&slapd), 1);
    for (i, r) in results.iter().enumerate() {
        let uid = format!("f{i}");
        assert_eq!(r.anchor(), Some(entry_uuid(&slapd, &uid).as_str()));
    }
}

#[tokio::test]
async fn many_adds_go_in_several_transactions_under_way_together() {
    let slapd = logged();
    let c = build(&settings(&slapd, "transactions = true"));
    let changes: Vec<ExportChange> = (0..1_200)
        .map(|i| person_add(&format!("m{i:04}")))
        .collect();
    let results = c.export_changes(&changes).await.unwrap();
    assert_eq!(end_txns(&slapd), 3, "{}", slapd.log_tail(20));
    let people = format!("ou=people,{}", slapd.suffix());
    let uuids: std::collections::HashMap<String, String> = slapd
        .cli()
        .search(&people, "(uid=m*)", &["uid", "entryUUID"])
        .into_iter()
        .map(|e| (e.get("uid")[0].clone(), e.get("entryUUID")[0].clone()))
        .collect();
    assert_eq!(uuids.len(), 1_200);
    for (i, r) in results.iter().enumerate() {
        let uid = format!("m{i:04}");
        assert_eq!(r.anchor(), Some(uuids[&uid].as_str()), "{uid}");
    }
}

#[tokio::test]
async fn one_bad_add_fails_alone_and_the_rest_of_the_batch_is_added() {
    let slapd = logged();
    let people = format!("ou=people,{}", slapd.suffix());
    slapd.cli().ldapadd(&super::tests::person("t07", &people));
    let c = build(&settings(&slapd, "transactions = true"));
    let mut changes: Vec<ExportChange> = (0..30).map(|i| person_add(&format!("t{i:02}"))).collect();
    // A modify in the same batch goes on its own.
    let mut old = Attrs::new();
    old.set_one("dn", format!("uid=t07,{people}"));
    old.set_one("uid", "t07");
    old.set_one("cn", "t07 Name");
    old.set_one("sn", "Name");
    let mut new = old.clone();
    new.remove("dn");
    new.set_one("telephoneNumber", "+1 555 0107");
    changes.push(ExportChange {
        anchor: entry_uuid(&slapd, "t07"),
        object_type: "person".into(),
        op: ExportOp::Update,
        attrs: new,
        old: Some(old),
    });
    let results = c.export_changes(&changes).await.unwrap();
    // The transaction was tried and failed as a whole; the adds were then sent one by one.
    assert!(
        std::fs::read_to_string(slapd.log_file())
            .unwrap()
            .contains(END_TXN)
    );
    for (i, r) in results[..30].iter().enumerate() {
        let uid = format!("t{i:02}");
        if i == 7 {
            let ExportResult::Failed(why) = r else {
                panic!("{uid}: {r:?}")
            };
            assert!(why.contains(&format!("uid=t07,{people}")), "{why}");
        } else {
            assert_eq!(r.anchor(), Some(entry_uuid(&slapd, &uid).as_str()), "{uid}");
        }
    }
    assert_eq!(results[30], ExportResult::Done);
    let t07 = slapd
        .cli()
        .search(&people, "(uid=t07)", &["telephoneNumber"]);
    assert_eq!(t07[0].get("telephoneNumber"), ["+1 555 0107"]);
}

#[tokio::test]
async fn a_failed_transaction_writes_nothing_and_transactions_are_off_by_default() {
    let slapd = logged();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = build(&settings(&slapd, ""));
    let changes: Vec<ExportChange> = (0..20).map(|i| person_add(&format!("o{i:02}"))).collect();
    let results = c.export_changes(&changes).await.unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, ExportResult::DoneWithState { .. }))
    );
    assert_eq!(
        end_txns(&slapd),
        0,
        "transactions = false sends no transaction"
    );

    // A transaction with one add whose parent does not exist fails as a whole.
    let s =
        crate::settings::read::<super::config::LdapSettings>(&settings(&slapd, ""), "t").unwrap();
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&slapd.uri()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(slapd.root_dn(), slapd.root_pw())
        .await
        .unwrap();
    assert!(txn::offered(&s, &mut ldap).await);
    let entry = |uid: &str| {
        vec![
            (
                "objectClass".to_owned(),
                HashSet::from(["inetOrgPerson".to_owned()]),
            ),
            ("uid".to_owned(), HashSet::from([uid.to_owned()])),
            ("cn".to_owned(), HashSet::from([uid.to_owned()])),
            ("sn".to_owned(), HashSet::from(["X".to_owned()])),
        ]
    };
    let mut adds = vec![
        txn::PreparedAdd {
            dn: format!("uid=x1,{people}"),
            entry: entry("x1"),
        },
        txn::PreparedAdd {
            dn: format!("uid=x2,ou=missing,{}", slapd.suffix()),
            entry: entry("x2"),
        },
        txn::PreparedAdd {
            dn: format!("uid=x3,{people}"),
            entry: entry("x3"),
        },
    ];
    assert!(!txn::commit(&s, &mut ldap, &adds).await);
    assert_eq!(slapd.cli().count(slapd.suffix(), "(uid=x*)"), 0);
    let first = adds.remove(0);
    assert!(txn::commit(&s, &mut ldap, &[first]).await);
    assert_eq!(slapd.cli().count(slapd.suffix(), "(uid=x*)"), 1);
}
