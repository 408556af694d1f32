//! The ldap connector's synchronization cookie against real private slapd instances: a cookie
//! the server no longer honours (too old, or newer than the server) is refused, and the import
//! reads everything again without losing or doubling an entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ucsync_model::ImportMode;
use ucsync_testkit::{Slapd, SlapdOptions};

use super::error_tests::{admin, assert_has, staged};
use super::tests::{anchor_of, import, person, seed, seeded};
use crate::test_sink::MemorySink;

/// The watermark of `w` with its cookie's CSN changed by `f`.
fn with_csn(w: &str, f: impl Fn(&str) -> String) -> String {
    let mut v: serde_json::Value = serde_json::from_str(w).unwrap();
    let hex = v["cookie"].as_str().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let cookie = String::from_utf8(bytes).unwrap();
    let at = cookie.find("csn=").expect("a csn in the cookie") + 4;
    let changed = format!("{}{}", &cookie[..at], f(&cookie[at..]));
    v["cookie"] = changed
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into();
    v.to_string()
}

#[tokio::test]
async fn a_stale_cookie_is_refused_and_the_import_reads_everything_again() {
    // With syncprov-reloadhint, slapd refuses a cookie it cannot serve: the session log (two
    // operations) does not reach back to it and no entry is left as old as it.
    let slapd = Slapd::start(SlapdOptions {
        syncprov_reloadhint: true,
        syncprov_sessionlog: Some(2),
        ..SlapdOptions::default()
    });
    let (people, groups) = seed(&slapd, &["ann"]);
    let c = admin(&slapd);
    let mut sink = MemorySink::new();
    let first = import(&c, &mut sink, ImportMode::Delta, None)
        .await
        .unwrap();
    let cookie = first.watermark.clone().unwrap();
    let cyd = anchor_of(&sink, "cyd");

    // Every entry changes after the cookie; cyd goes. slapd finds the entries at least as old
    // as a cookie through its entryCSN index, whose keys are whole seconds: the changes must
    // come in a later second than the cookie's, as they do for a cookie that really expired.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let describe = |dn: &str| {
        format!("dn: {dn}\nchangetype: modify\nreplace: description\ndescription: changed\n\n")
    };
    slapd.ldapmodify(&format!(
        "{}{}{}{}dn: uid=ann,{people}\nchangetype: modify\nreplace: mail\nmail: ann@new.example\n\ndn: uid=bob,{people}\nchangetype: modify\nreplace: mail\nmail: bob@new.example\n",
        describe(slapd.suffix()),
        describe(&people),
        describe(&groups),
        describe(&format!("cn=staff,{groups}")),
    ));
    slapd.ldapdelete(&format!("uid=cyd,{people}"));

    let again = import(&c, &mut sink, ImportMode::Delta, Some(cookie.clone()))
        .await
        .unwrap();
    let note = again.note.clone().unwrap_or_default();
    assert_has(
        &note,
        &[
            "refused the synchronization cookie",
            "syncRefreshRequired (result code 4096)",
            "everything was read again",
        ],
    );
    assert_eq!(
        sink.listings_ended, 2,
        "the full refresh is a listing, as the first one was"
    );
    assert!(
        !sink.staged.contains_key(&cyd),
        "cyd's delete was found: {:?}",
        sink.staged.keys()
    );
    assert_eq!(
        sink.deleted
            .iter()
            .map(|d| d.anchor.clone())
            .collect::<Vec<_>>(),
        [cyd]
    );
    assert_eq!(sink.staged.len(), 3);
    assert_eq!(
        staged(&sink, &anchor_of(&sink, "ann")).get("mail"),
        ["ann@new.example"]
    );
    assert_eq!(
        staged(&sink, &anchor_of(&sink, "bob")).get("mail"),
        ["bob@new.example"]
    );
    let fresh = again.watermark.clone().unwrap();
    assert_ne!(fresh, cookie);

    // The new cookie is served as usual.
    slapd.ldapadd(&person("dee", &people));
    let next = import(&c, &mut sink, ImportMode::Delta, Some(fresh))
        .await
        .unwrap();
    assert!(next.note.is_none(), "{:?}", next.note);
    assert_eq!(sink.anchors(), [anchor_of(&sink, "dee").as_str()]);
    assert_eq!(sink.staged.len(), 4);
}

#[tokio::test]
async fn a_cookie_newer_than_the_server_is_refused_and_everything_read_again() {
    // As after the server was restored from an older backup: slapd answers unwillingToPerform
    // ("consumer state is newer than provider") whatever its configuration.
    let slapd = seeded();
    let c = admin(&slapd);
    let mut sink = MemorySink::new();
    let first = import(&c, &mut sink, ImportMode::Delta, None)
        .await
        .unwrap();
    let cyd = anchor_of(&sink, "cyd");
    slapd.ldapdelete(&format!("uid=cyd,ou=people,{}", slapd.suffix()));
    let future = with_csn(&first.watermark.unwrap(), |csn| {
        format!("2999{}", &csn[4..])
    });
    let again = import(&c, &mut sink, ImportMode::Delta, Some(future))
        .await
        .unwrap();
    assert_has(
        &again.note.unwrap_or_default(),
        &[
            "refused the synchronization cookie",
            "unwillingToPerform (result code 53)",
            "newer than provider",
            "everything was read again",
        ],
    );
    assert!(!sink.staged.contains_key(&cyd));
    assert_eq!(sink.staged.len(), 3);
}
