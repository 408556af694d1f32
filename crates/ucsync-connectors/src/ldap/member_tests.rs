//! Member DNs become anchors only for entries of the object types: a member outside every
//! base, or without the object classes, or not matching the filter, is left out and counted
//! in the import's note (issue 18: such members were kept by their anchor, and every sync then
//! waited for them to reach the directory).

use ucsync_model::ImportMode;

use super::tests::{anchor_of, build, import, person, seeded, settings};
use crate::test_sink::MemorySink;

#[tokio::test]
async fn members_outside_the_object_types_are_left_out_and_counted() {
    let slapd = seeded();
    let suffix = slapd.suffix().to_owned();
    let elsewhere = slapd.add_ou("elsewhere");
    let people = format!("ou=people,{suffix}");
    // Eve is a person outside ou=people; the room is in it but is no person.
    slapd.ldapadd(&format!(
        "{}dn: cn=room,{people}\nobjectClass: device\ncn: room\n",
        person("eve", &elsewhere)
    ));
    slapd.ldapmodify(&format!(
        "dn: cn=staff,ou=groups,{suffix}\nchangetype: modify\nadd: member\nmember: uid=eve,{elsewhere}\nmember: cn=room,{people}\n"
    ));
    let c = build(&settings(&slapd, ""));
    let mut sink = MemorySink::new();
    let summary = import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    let group = sink
        .objects
        .iter()
        .find(|o| o.object_type == "group")
        .unwrap();
    let mut members = group.attrs.get("member").to_vec();
    members.sort();
    let mut want = vec![anchor_of(&sink, "ann"), anchor_of(&sink, "bob")];
    want.sort();
    assert_eq!(members, want);
    assert_eq!(
        summary.note.as_deref(),
        Some(
            "2 reference values name entries outside this connector's object types and were left out"
        )
    );
}
