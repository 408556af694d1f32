use std::time::Instant;

use ucsync_testkit::SambaDc;

#[test]
fn samba_dc_adds_users_with_guid_and_usn() {
    let t0 = Instant::now();
    let mut dc = SambaDc::start();
    eprintln!(
        "Samba DC ready in {:?} (samba itself: {:?})",
        t0.elapsed(),
        dc.started_in()
    );
    assert_eq!(dc.base_dn(), "dc=example,dc=test");
    assert_eq!(
        dc.admin_dn(),
        "cn=Administrator,cn=Users,dc=example,dc=test"
    );

    let ou = dc.add_ou("Staff");
    dc.ldapadd(&format!(
        "dn: CN=Anna Lang,{ou}\nobjectClass: user\ncn: Anna Lang\nsAMAccountName: alang\n\
         givenName: Anna\nsn: Lang\nmail: anna@example.test\n"
    ));
    let found = dc.search(
        dc.base_dn(),
        "(sAMAccountName=alang)",
        &["objectGUID", "uSNChanged", "mail", "objectSid"],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let anna = &found[0];
    assert_eq!(
        anna.dn.to_ascii_lowercase(),
        "cn=anna lang,ou=staff,dc=example,dc=test"
    );
    assert_eq!(anna.bytes("objectGUID").len(), 1);
    assert_eq!(anna.bytes("objectGUID")[0].len(), 16);
    assert!(anna.bytes("objectSid")[0].len() >= 24);
    let usn: u64 = anna
        .first("uSNChanged")
        .expect("uSNChanged")
        .parse()
        .unwrap();
    assert_eq!(anna.first("mail"), Some("anna@example.test"));

    dc.ldapmodify(&format!(
        "dn: {}\nchangetype: modify\nreplace: description\ndescription: changed\n",
        anna.dn
    ));
    let after = dc
        .get(&anna.dn, &["uSNChanged", "objectGUID"])
        .expect("anna");
    let usn_after: u64 = after.first("uSNChanged").unwrap().parse().unwrap();
    assert!(usn_after > usn, "{usn_after} > {usn}");
    assert_eq!(after.bytes("objectGUID"), anna.bytes("objectGUID"));

    let bob = dc.add_user("bmayer");
    assert_eq!(dc.count(dc.base_dn(), "(sAMAccountName=bmayer)"), 1);
    dc.ldapdelete(&bob);
    assert_eq!(dc.count(dc.base_dn(), "(sAMAccountName=bmayer)"), 0);

    dc.stop();
    assert!(!dc.is_running());
}

#[test]
fn two_samba_dcs_run_side_by_side() {
    let a = std::thread::spawn(SambaDc::start);
    let b = std::thread::spawn(SambaDc::start);
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    assert_ne!(a.port(), b.port());
    a.add_user("only-in-a");
    assert_eq!(a.count(a.base_dn(), "(sAMAccountName=only-in-a)"), 1);
    assert_eq!(b.count(b.base_dn(), "(sAMAccountName=only-in-a)"), 0);
}
