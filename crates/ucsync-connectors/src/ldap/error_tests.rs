//! How the ldap connector fails, against real private slapd instances: access refused by ACLs,
//! DNs that are not DNs (and values that only need escaping), and the state an exported group
//! reads back as (a refused synchronization cookie: `cookie_tests.rs`). Every failure must name the
//! object and say what to do, and leave nothing half-applied.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ucsync_model::{
    Attrs, Connector, ConnectorFactory, ExportChange, ExportOp, ExportResult, ImportMode,
};
use ucsync_testkit::{Slapd, SlapdOptions};

use super::tests::{anchor_of, build, import, person, seeded, settings};
use crate::Connectors;
use crate::test_sink::MemorySink;

const READER_PW: &str = "reader-pw";

fn reader_dn(slapd: &Slapd) -> String {
    format!("cn=reader,{}", slapd.suffix())
}

/// `seeded()` with these access rules instead of the default ones, and `cn=reader` (outside
/// every object type) that can bind.
fn seeded_with_acl(acl: &[&str], extra: impl FnOnce(&mut SlapdOptions)) -> Slapd {
    let mut options = SlapdOptions {
        acl: Some(acl.iter().map(|l| (*l).to_owned()).collect()),
        ..SlapdOptions::default()
    };
    extra(&mut options);
    let slapd = Slapd::start(options);
    let people = slapd.add_ou("people");
    let groups = slapd.add_ou("groups");
    let mut ldif = format!(
        "dn: {}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: {READER_PW}\n\n",
        reader_dn(&slapd)
    );
    for u in ["ann", "bob", "cyd"] {
        ldif.push_str(&person(u, &people));
    }
    ldif.push_str(&format!(
        "dn: cn=staff,{groups}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ann,{people}\nmember: uid=bob,{people}\n"
    ));
    slapd.ldapadd(&ldif);
    slapd
}

fn as_reader(slapd: &Slapd) -> Arc<dyn Connector> {
    let mut t = settings(slapd, "");
    t.insert("bind_dn".into(), reader_dn(slapd).into());
    t.insert("password".into(), READER_PW.into());
    build(&t)
}

fn change(anchor: &str, ty: &str, op: ExportOp, attrs: Attrs, old: Option<Attrs>) -> ExportChange {
    ExportChange {
        anchor: anchor.to_owned(),
        object_type: ty.to_owned(),
        op,
        attrs,
        old,
    }
}

fn add(anchor: &str, ty: &str, attrs: Attrs) -> ExportChange {
    change(anchor, ty, ExportOp::Add, attrs, None)
}

fn update(anchor: &str, ty: &str, new: Attrs, old: Attrs) -> ExportChange {
    change(anchor, ty, ExportOp::Update, new, Some(old))
}

fn delete(anchor: &str, ty: &str, old: Attrs) -> ExportChange {
    change(anchor, ty, ExportOp::Delete, Attrs::new(), Some(old))
}

/// The connector bound as the rootdn.
pub(super) fn admin(slapd: &Slapd) -> Arc<dyn Connector> {
    build(&settings(slapd, ""))
}

fn new_person(uid: &str) -> Attrs {
    let mut a = Attrs::new();
    a.set_one("uid", uid);
    a.set_one("cn", format!("{uid} Person"));
    a.set_one("sn", "Person");
    a
}

fn failure(r: &ExportResult) -> &str {
    match r {
        ExportResult::Failed(msg) => msg,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn added(r: &ExportResult) -> &str {
    match r.anchor() {
        Some(a) => a,
        None => panic!("expected an add with an anchor, got {r:?}"),
    }
}

pub(super) fn staged(sink: &MemorySink, anchor: &str) -> Attrs {
    sink.staged[anchor].1.clone()
}

fn members(a: &Attrs) -> BTreeSet<String> {
    a.get("member").iter().cloned().collect()
}

pub(super) fn assert_has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "\"{p}\" missing from: {msg}");
    }
}

#[tokio::test]
async fn without_write_access_each_change_fails_alone_naming_entry_and_bind_dn() {
    // The reader may read everything and write only below ou=groups.
    let slapd = seeded_with_acl(
        &[
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to dn.subtree=\"ou=groups,dc=example,dc=com\" by dn.exact=\"cn=reader,dc=example,dc=com\" write by * read",
            "access to * by * read",
        ],
        |_| {},
    );
    let people = format!("ou=people,{}", slapd.suffix());
    let groups = format!("ou=groups,{}", slapd.suffix());
    let mut sink = MemorySink::new();
    import(&admin(&slapd), &mut sink, ImportMode::Full, None)
        .await
        .unwrap();
    let (ann, cyd) = (anchor_of(&sink, "ann"), anchor_of(&sink, "cyd"));
    let staff = sink
        .objects
        .iter()
        .find(|o| o.object_type == "group")
        .unwrap();
    let (staff_anchor, staff_old) = (staff.anchor.clone(), staff.attrs.clone());

    let c = as_reader(&slapd);
    let eve = new_person("eve");
    let mut ann_new = staged(&sink, &ann);
    ann_new.set_one("mail", "ann@new.example");
    let mut staff_new = staff_old.clone();
    staff_new.set("member", vec![ann.clone()]);
    let mut team = Attrs::new();
    team.set_one("cn", "team");
    team.set("member", vec![ann.clone()]);
    let results = c
        .export_changes(&[
            add(&c.anchor_for("person", &eve).unwrap(), "person", eve),
            update(&ann, "person", ann_new, staged(&sink, &ann)),
            delete(&cyd, "person", staged(&sink, &cyd)),
            update(&staff_anchor, "group", staff_new, staff_old),
            add("team", "group", team),
        ])
        .await
        .unwrap();
    let reader = reader_dn(&slapd);
    let refused = [
        "insufficientAccessRights (result code 50)",
        &reader,
        "lacks the access rights",
    ];
    assert_has(failure(&results[0]), &[&format!("add uid=eve,{people}")]);
    assert_has(failure(&results[1]), &[&format!("modify uid=ann,{people}")]);
    assert_has(failure(&results[2]), &[&format!("delete uid=cyd,{people}")]);
    for r in &results[..3] {
        assert_has(failure(r), &refused);
    }
    // The others went on.
    assert_eq!(results[3], ExportResult::Done);
    added(&results[4]);

    assert!(slapd.get(&format!("uid=eve,{people}"), &["uid"]).is_none());
    let a = slapd.get(&format!("uid=ann,{people}"), &["mail"]).unwrap();
    assert_eq!(a.attrs["mail"], ["ann@example.com"]);
    assert!(slapd.get(&format!("uid=cyd,{people}"), &["uid"]).is_some());
    let s = slapd
        .get(&format!("cn=staff,{groups}"), &["member"])
        .unwrap();
    assert_eq!(s.attrs["member"], [format!("uid=ann,{people}")]);
    assert!(slapd.get(&format!("cn=team,{groups}"), &["cn"]).is_some());
}

#[tokio::test]
async fn without_read_access_to_base_dn_imports_fail_and_delete_nothing() {
    // slapd answers noSuchObject (32) for a base the bind DN may not see, never an empty list.
    let slapd = seeded_with_acl(
        &[
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by dn.exact=\"cn=reader,dc=example,dc=com\" none by * read",
        ],
        |_| {},
    );
    let mut sink = MemorySink::new();
    let first = import(&admin(&slapd), &mut sink, ImportMode::Delta, None)
        .await
        .unwrap();
    assert_eq!(sink.staged.len(), 4);
    let before = sink.staged.clone();

    let c = as_reader(&slapd);
    let base = slapd.suffix().to_owned();
    for mode in [ImportMode::Full, ImportMode::Delta] {
        let err = import(&c, &mut sink, mode, None)
            .await
            .unwrap_err()
            .to_string();
        assert_has(
            &err,
            &[&base, "noSuchObject (result code 32)", "may not see it"],
        );
        assert_eq!(
            sink.listings_ended, 1,
            "only the first import listed: {err}"
        );
        assert!(sink.deleted.is_empty() && sink.deletes.is_empty());
        assert_eq!(sink.staged, before, "nothing staged changed");
    }
    // With the last cookie and nothing changed since, slapd answers "no change" before it
    // looks at the base (an import that checks its bases first fails instead): either way
    // nothing is read, listed or deleted.
    match import(&c, &mut sink, ImportMode::Delta, first.watermark.clone()).await {
        Ok(same) => assert_eq!(same.watermark, first.watermark),
        Err(e) => assert_has(&e.to_string(), &[&base, "may not see it"]),
    }
    assert!(sink.objects.is_empty() && sink.deleted.is_empty() && sink.deletes.is_empty());
    assert_eq!((sink.listings_ended, &sink.staged), (1, &before));
    let err = c.check_connection().await.unwrap_err().to_string();
    assert_has(&err, &["base_dn", &base, "may not see it"]);
}

#[test]
fn a_base_dn_that_is_not_a_dn_is_a_configuration_problem() {
    for bad in [
        "example.com",
        "dc=example,,dc=com",
        "dc=example,dc=com,",
        "=example",
    ] {
        let table: toml::Table = toml::from_str(&format!(
            r#"
url = "ldap://localhost"
base_dn = "{bad}"
[[object_types]]
name = "person"
object_classes = ["inetOrgPerson"]
attributes = ["cn"]
"#
        ))
        .unwrap();
        let problems = Connectors.validate("ldap", &table, "connectors.t.settings");
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            all.iter()
                .any(|p| p.contains("connectors.t.settings.base_dn")
                    && p.contains(bad)
                    && p.contains("is not a DN")),
            "{bad}: {all:?}"
        );
    }
}

#[tokio::test]
async fn a_base_dn_the_server_refuses_fails_the_run_with_a_hint() {
    // Well-formed, but slapd's schema has no attribute type "nosuchattr": invalidDNSyntax.
    let slapd = seeded();
    let bogus = format!("nosuchattr=x,{}", slapd.suffix());
    let mut t = settings(&slapd, "");
    t.insert("base_dn".into(), bogus.clone().into());
    for ty in t["object_types"].as_array_mut().unwrap() {
        let ty = ty.as_table_mut().unwrap();
        let base = format!(
            "ou={},{bogus}",
            if ty["name"].as_str() == Some("person") {
                "people"
            } else {
                "groups"
            }
        );
        ty.insert("base".into(), base.into());
    }
    let c = build(&t);
    let err = c.check_connection().await.unwrap_err().to_string();
    assert_has(
        &err,
        &[&bogus, "invalidDNSyntax (result code 34)", "base_dn"],
    );
    let mut sink = MemorySink::new();
    let err = import(&c, &mut sink, ImportMode::Full, None)
        .await
        .unwrap_err()
        .to_string();
    assert_has(
        &err,
        &[&bogus, "invalidDNSyntax (result code 34)", "base_dn"],
    );
    assert_eq!(sink.listings_ended, 0);
}

#[tokio::test]
async fn rdn_values_that_need_escaping_are_added_read_back_and_kept() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = admin(&slapd);
    let values = [
        "Lee, Ann",
        "a+b",
        "q\"uote",
        "#hash",
        "trail ",
        " lead",
        "back\\slash;<>",
        "eq=sign",
    ];
    let mut changes = Vec::new();
    for v in values {
        let attrs = new_person(v);
        changes.push(add(
            &c.anchor_for("person", &attrs).unwrap(),
            "person",
            attrs,
        ));
    }
    // A dn computed by a flow, escaped as RFC 4514 says.
    let mut flowed = new_person("Lee, Bo");
    flowed.set_one("dn", format!("uid=Lee\\, Bo,{people}"));
    changes.push(add(&format!("uid=Lee\\, Bo,{people}"), "person", flowed));
    let results = c.export_changes(&changes).await.unwrap();
    let anchors: Vec<String> = results.iter().map(|r| added(r).to_owned()).collect();
    for (ch, anchor) in changes.iter().zip(&anchors) {
        let uid = &ch.attrs.get("uid")[0];
        let e = slapd
            .get(&ch.anchor, &["uid", "entryUUID"])
            .unwrap_or_else(|| panic!("no entry at {}", ch.anchor));
        assert_eq!(e.attrs["uid"], std::slice::from_ref(uid), "{}", ch.anchor);
        assert_eq!(e.attrs["entryUUID"], std::slice::from_ref(anchor));
    }

    // A group of them, by anchor; everything reads back as it was written.
    let mut group = Attrs::new();
    group.set_one("cn", "escaped");
    group.set("member", anchors.clone());
    let g = c
        .export_changes(&[add("escaped", "group", group)])
        .await
        .unwrap();
    let group_anchor = added(&g[0]).to_owned();
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    for (ch, anchor) in changes.iter().zip(&anchors) {
        let s = staged(&sink, anchor);
        assert_eq!(s.get("uid"), ch.attrs.get("uid"));
        assert!(
            super::dn::same(&s.get("dn")[0], &ch.anchor),
            "{:?} vs {}",
            s.get("dn"),
            ch.anchor
        );
    }
    assert_eq!(
        members(&staged(&sink, &group_anchor)),
        anchors.iter().cloned().collect()
    );

    // An update that keeps the rdn value is no rename, however the server spells the DN.
    let updates: Vec<ExportChange> = anchors
        .iter()
        .map(|a| {
            let mut new = staged(&sink, a);
            new.set_one("telephoneNumber", "+1 555 0100");
            update(a, "person", new, staged(&sink, a))
        })
        .collect();
    let results = c.export_changes(&updates).await.unwrap();
    assert!(
        results.iter().all(|r| *r == ExportResult::Done),
        "{results:?}"
    );
    for (ch, anchor) in changes.iter().zip(&anchors) {
        let e = slapd
            .get(&ch.anchor, &["telephoneNumber", "entryUUID"])
            .unwrap();
        assert_eq!(e.attrs["telephoneNumber"], ["+1 555 0100"]);
        assert_eq!(e.attrs["entryUUID"], std::slice::from_ref(anchor));
    }
}

#[tokio::test]
async fn a_dn_that_is_not_a_dn_fails_only_its_object_and_changes_nothing() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = admin(&slapd);
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    let (ann, bob) = (anchor_of(&sink, "ann"), anchor_of(&sink, "bob"));

    let mut unescaped = new_person("Lee, Bo");
    unescaped.set_one("dn", format!("uid=Lee, Bo,{people}"));
    let err = c.anchor_for("person", &unescaped).unwrap_err();
    assert_has(
        &err,
        &[
            &format!("uid=Lee, Bo,{people}"),
            "is not a DN",
            "rdn and container",
        ],
    );
    let mut unknown_type = new_person("x");
    unknown_type.set_one("dn", format!("nosuchattr=x,{people}"));
    let mut ann_new = staged(&sink, &ann);
    ann_new.set_one("dn", format!("uid=ann;x,{people}"));
    let mut bob_new = staged(&sink, &bob);
    bob_new.set_one("dn", format!("nosuchattr=bob,{people}"));
    bob_new.set_one("mail", "bob@new.example");
    let results = c
        .export_changes(&[
            add("unescaped", "person", unescaped),
            add("unknown", "person", unknown_type),
            update(&ann, "person", ann_new, staged(&sink, &ann)),
            update(&bob, "person", bob_new, staged(&sink, &bob)),
            add("dee", "person", new_person("dee")),
        ])
        .await
        .unwrap();
    assert_has(
        failure(&results[0]),
        &[
            &format!("\"uid=Lee, Bo,{people}\""),
            "is not a DN",
            "\"Bo\" is not attribute=value",
            "rdn and container",
        ],
    );
    assert_has(
        failure(&results[1]),
        &[
            &format!("add nosuchattr=x,{people}"),
            "invalidDNSyntax (result code 34)",
            "export flow that computes dn",
        ],
    );
    assert_has(
        failure(&results[2]),
        &[
            &format!("cannot rename uid=ann,{people}"),
            "uid=ann;x",
            "holds ; without a \\ before it",
        ],
    );
    assert_has(
        failure(&results[3]),
        &[
            &format!("rename uid=bob,{people} to nosuchattr=bob,{people}"),
            "invalidDNSyntax (result code 34)",
        ],
    );
    added(&results[4]);
    // Nothing of the failed changes reached the directory.
    assert_eq!(slapd.count(&people, "(objectClass=inetOrgPerson)"), 4);
    let b = slapd.get(&format!("uid=bob,{people}"), &["mail"]).unwrap();
    assert_eq!(b.attrs["mail"], ["bob@example.com"]);
    assert!(slapd.get(&format!("uid=ann,{people}"), &["uid"]).is_some());
}

#[tokio::test]
async fn a_rename_whose_modify_fails_is_undone() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = admin(&slapd);
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    let ann = anchor_of(&sink, "ann");
    let mut new = staged(&sink, &ann);
    new.remove("dn");
    new.set_one("uid", "anna");
    new.set_one("mail", "änna@example.com"); // mail is IA5: invalidAttributeSyntax
    let results = c
        .export_changes(&[update(&ann, "person", new, staged(&sink, &ann))])
        .await
        .unwrap();
    assert_has(
        failure(&results[0]),
        &[
            &format!("modify uid=anna,{people}"),
            "invalidAttributeSyntax (result code 21)",
            "was undone",
            &format!("unchanged at uid=ann,{people}"),
        ],
    );
    assert!(slapd.get(&format!("uid=anna,{people}"), &["uid"]).is_none());
    let e = slapd
        .get(&format!("uid=ann,{people}"), &["uid", "mail", "entryUUID"])
        .unwrap();
    assert_eq!(e.attrs["uid"], ["ann"]);
    assert_eq!(e.attrs["mail"], ["ann@example.com"]);
    assert_eq!(e.attrs["entryUUID"], [ann]);
}

#[tokio::test]
async fn a_member_deleted_since_the_last_import_is_still_removed_from_the_group() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let mut sink = MemorySink::new();
    import(&admin(&slapd), &mut sink, ImportMode::Full, None)
        .await
        .unwrap();
    let ann = anchor_of(&sink, "ann");
    let staff = sink
        .objects
        .iter()
        .find(|o| o.object_type == "group")
        .unwrap()
        .clone();
    // bob goes; without refint the group keeps naming him. A new process knows no DNs.
    slapd.ldapdelete(&format!("uid=bob,{people}"));
    let c = admin(&slapd);
    let mut new = staff.attrs.clone();
    new.set("member", vec![ann]);
    let results = c
        .export_changes(&[update(&staff.anchor, "group", new, staff.attrs.clone())])
        .await
        .unwrap();
    assert_eq!(results, [ExportResult::Done]);
    let g = slapd
        .get(
            &format!("cn=staff,ou=groups,{}", slapd.suffix()),
            &["member", "cn"],
        )
        .unwrap();
    assert_eq!(g.attrs["member"], [format!("uid=ann,{people}")]);
    assert_eq!(g.attrs["cn"], ["staff"]);
}

#[tokio::test]
async fn a_provisioned_group_reads_back_as_the_state_it_was_exported_with() {
    // As the engine provisions them: two new people and, in the same batch, a group naming
    // them by their provisional anchors (their DNs) next to an existing member's anchor.
    let slapd = seeded();
    let groups = format!("ou=groups,{}", slapd.suffix());
    let c = admin(&slapd);
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    let ann = anchor_of(&sink, "ann");
    let (eve, fay) = (new_person("eve"), new_person("fay"));
    let (eve_dn, fay_dn) = (
        c.anchor_for("person", &eve).unwrap(),
        c.anchor_for("person", &fay).unwrap(),
    );
    let mut team = Attrs::new();
    team.set_one("cn", "team");
    team.set("member", vec![eve_dn.clone(), ann.clone(), fay_dn.clone()]);
    let results = c
        .export_changes(&[
            add(&eve_dn, "person", eve),
            add(&fay_dn, "person", fay),
            add(
                &c.anchor_for("group", &team).unwrap(),
                "group",
                team.clone(),
            ),
        ])
        .await
        .unwrap();
    let (eve_a, fay_a, team_a) = (added(&results[0]), added(&results[1]), added(&results[2]));

    // Read back (by a new process, which knows no DN yet): the same members, as anchors.
    let fresh = admin(&slapd);
    import(&fresh, &mut sink, ImportMode::Full, None)
        .await
        .unwrap();
    let read = staged(&sink, team_a);
    let want: BTreeSet<String> = [eve_a, ann.as_str(), fay_a]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(members(&read), want);
    assert_eq!(read.get("cn"), ["team"]);

    // The next cycle's desired state (members by their real anchors, in any order) compared
    // with the exported state or with the state read back sends nothing to the server.
    let csn = |s: &Slapd| {
        s.get(&format!("cn=team,{groups}"), &["entryCSN"])
            .unwrap()
            .attrs["entryCSN"]
            .clone()
    };
    let written = csn(&slapd);
    let mut desired = read.clone();
    desired.set(
        "member",
        vec![fay_a.to_owned(), eve_a.to_owned(), ann.clone()],
    );
    let results = fresh
        .export_changes(&[
            update(team_a, "group", desired.clone(), team),
            update(team_a, "group", desired, read),
        ])
        .await
        .unwrap();
    assert_eq!(results, [ExportResult::Done, ExportResult::Done]);
    assert_eq!(csn(&slapd), written, "no operation reached the group");
}

#[tokio::test]
async fn a_synchronization_that_fails_half_way_deletes_nothing() {
    // Once something changed, slapd plays its session log (naming the changed entries the
    // reader may not see as gone) before it answers noSuchObject for the base.
    let slapd = seeded_with_acl(
        &[
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by dn.exact=\"cn=reader,dc=example,dc=com\" none by * read",
        ],
        |_| {},
    );
    let mut sink = MemorySink::new();
    let first = import(
        &build(&settings(&slapd, "")),
        &mut sink,
        ImportMode::Delta,
        None,
    )
    .await
    .unwrap();
    let before = sink.staged.clone();
    slapd.ldapmodify(&format!(
        "dn: uid=ann,ou=people,{}\nchangetype: modify\nreplace: mail\nmail: ann@new.example\n",
        slapd.suffix()
    ));
    let err = import(
        &as_reader(&slapd),
        &mut sink,
        ImportMode::Delta,
        first.watermark,
    )
    .await
    .unwrap_err()
    .to_string();
    assert_has(&err, &["noSuchObject (result code 32)"]);
    assert!(sink.deletes.is_empty(), "{:?}", sink.deletes);
    assert_eq!(sink.staged, before);
}

#[test]
fn object_type_bases_and_containers_that_are_not_dns_say_why() {
    let table: toml::Table = toml::from_str(
        r#"
url = "ldap://localhost"
base_dn = "dc=example,dc=com"
[[object_types]]
name = "person"
base = "ou=people;x,dc=example,dc=com"
container = "ou=new,,dc=example,dc=com"
object_classes = ["inetOrgPerson"]
attributes = ["cn"]
"#,
    )
    .unwrap();
    let problems = Connectors.validate("ldap", &table, "connectors.t.settings");
    let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        all.iter()
            .any(|p| p.contains("object_types.0.base") && p.contains("holds ; without")),
        "{all:?}"
    );
    assert!(all.iter().any(|p| p.contains("object_types.0.container") && p.contains("is not attribute=value")), "{all:?}");
    assert!(
        !all.iter().any(|p| p.contains("is not under base_dn")),
        "{all:?}"
    );
}
