use std::process::Command;
use std::time::{Duration, Instant};

use ucsync_testkit::{Scope, Slapd, SlapdOptions, UsersLdif};

fn person(dn_parent: &str, uid: &str, cn: &str, mail: &str) -> String {
    format!(
        "dn: uid={uid},{dn_parent}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\nmail: {mail}\n\n"
    )
}

#[test]
fn add_search_modify_and_stop() {
    let mut slapd = Slapd::start(SlapdOptions::default());
    eprintln!("slapd started in {:?}", slapd.started_in());
    assert!(slapd.uri().starts_with("ldap://127.0.0.1:"));
    assert_eq!(slapd.root_dn(), "cn=admin,dc=example,dc=com");
    assert!(slapd.ldaps_uri().is_none());
    assert!(slapd.get(slapd.suffix(), &[]).is_some(), "base entry");

    let people = slapd.add_ou("people");
    assert_eq!(people, "ou=people,dc=example,dc=com");
    slapd.ldapadd(&format!(
        "{}{}",
        person(&people, "anna", "Anna Lang", "anna@example.com"),
        person(&people, "bob", "Bob Mayer", "bob@example.com"),
    ));

    let found = slapd.search(&people, "(objectClass=inetOrgPerson)", &["uid", "mail"]);
    let mut uids: Vec<&str> = found.iter().filter_map(|e| e.first("uid")).collect();
    uids.sort_unstable();
    assert_eq!(uids, ["anna", "bob"]);
    assert_eq!(slapd.count(slapd.suffix(), "(objectClass=*)"), 4);

    slapd.ldapmodify(&format!(
        "dn: uid=anna,{people}\nchangetype: modify\nreplace: mail\nmail: anna.lang@example.com\n-\nadd: telephoneNumber\ntelephoneNumber: +1 555 0100\n"
    ));
    let anna = slapd
        .get(&format!("uid=anna,{people}"), &["*", "+"])
        .expect("anna");
    assert_eq!(anna.get("mail"), ["anna.lang@example.com"]);
    assert_eq!(anna.first("telephoneNumber"), Some("+1 555 0100"));
    let uuid = anna.first("entryUUID").expect("entryUUID");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert!(anna.has("entryCSN"));

    // Failures come back with the LDAP result code.
    let err = slapd
        .try_ldapadd(&person(&people, "bob", "Bob", "b@x"))
        .unwrap_err();
    assert_eq!(err.ldap_code(), Some(68), "{err}");
    assert!(err.to_string().contains("Already exists"), "{err}");

    let uri = slapd.uri();
    slapd.stop();
    assert!(!slapd.is_running());
    let after =
        ucsync_testkit::LdapCli::new(uri).try_search_scope("", Scope::Base, "(objectClass=*)", &[]);
    assert!(after.is_err(), "slapd still answers after stop");
}

#[test]
fn modrdn_delete_and_restart() {
    let mut slapd = Slapd::start(SlapdOptions {
        dbnosync: true,
        ..SlapdOptions::default()
    });
    let people = slapd.add_ou("people");
    let moved = slapd.add_ou("moved");
    slapd.ldapadd(&person(&people, "carl", "Carl", "carl@example.com"));
    slapd.ldapmodrdn(
        &format!("uid=carl,{people}"),
        "uid=karl",
        true,
        Some(&moved),
    );
    assert!(slapd.get(&format!("uid=carl,{people}"), &[]).is_none());
    let karl = slapd.get(&format!("uid=karl,{moved}"), &[]).expect("moved");
    assert_eq!(karl.get("uid"), ["karl"]);

    let port = slapd.port();
    slapd.restart();
    assert_eq!(slapd.port(), port);
    assert!(slapd.get(&format!("uid=karl,{moved}"), &[]).is_some());

    slapd.ldapdelete(&format!("uid=karl,{moved}"));
    assert_eq!(slapd.count(&moved, "(uid=*)"), 0);
    slapd.delete_tree(&people);
    assert!(slapd.get(&people, &[]).is_none());
}

#[test]
fn tls_serves_ldaps_with_the_generated_ca() {
    let slapd = Slapd::start(SlapdOptions {
        tls: true,
        ..SlapdOptions::default()
    });
    eprintln!("TLS slapd started in {:?}", slapd.started_in());
    let ldaps = slapd.ldaps_uri().expect("ldaps uri");
    assert!(ldaps.starts_with("ldaps://127.0.0.1:"));
    let ca = slapd.ca_file().expect("ca file");
    assert!(ca.is_file());

    let search = |ca: Option<&std::path::Path>| {
        let mut cmd = Command::new("ldapsearch");
        cmd.args(["-x", "-LLL", "-H", &ldaps, "-b", "", "-s", "base"])
            .arg("namingContexts")
            .env("LDAPTLS_REQCERT", "demand");
        match ca {
            Some(ca) => cmd.env("LDAPTLS_CACERT", ca),
            None => cmd.env("LDAPTLS_CACERT", "/dev/null"),
        };
        cmd.output().expect("ldapsearch (install ldap-utils)")
    };
    let out = search(Some(ca));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("namingContexts: dc=example,dc=com"));
    // Without the CA the certificate is refused: the TLS is real.
    assert!(!search(None).status.success());

    // The helpers work over ldaps too.
    let cli = slapd.ldaps_cli().expect("ldaps cli");
    assert_eq!(cli.count(slapd.suffix(), "(objectClass=dcObject)"), 1);
}

#[test]
fn several_instances_run_side_by_side() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let slapd = Slapd::start(SlapdOptions::default());
                let ou = slapd.add_ou(&format!("team{i}"));
                for n in 0..=i {
                    slapd.ldapadd(&person(&ou, &format!("u{n}"), "U", "u@example.com"));
                }
                (slapd.port(), slapd.count(slapd.suffix(), "(uid=*)"), slapd)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let mut ports: Vec<u16> = results.iter().map(|r| r.0).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
    for (i, (_, count, _)) in results.iter().enumerate() {
        assert_eq!(*count, i + 1);
    }
}

#[test]
fn size_limit_applies_to_everyone_but_the_rootdn() {
    let slapd = Slapd::start(SlapdOptions {
        size_limit: Some(2),
        ..SlapdOptions::default()
    });
    let people = slapd.add_ou("people");
    for i in 0..5 {
        slapd.ldapadd(&person(&people, &format!("p{i}"), "P", "p@example.com"));
    }
    assert_eq!(slapd.count(&people, "(uid=*)"), 5);
    let err = slapd
        .anonymous_cli()
        .try_search(&people, "(uid=*)", &["uid"])
        .unwrap_err();
    assert_eq!(err.ldap_code(), Some(4), "{err}");
    assert_eq!(ucsync_testkit::parse_ldif(err.stdout()).len(), 2);
}

#[test]
fn acl_option_replaces_the_default_access() {
    let slapd = Slapd::start(SlapdOptions {
        acl: Some(vec!["access to * by * none".to_owned()]),
        ..SlapdOptions::default()
    });
    slapd.add_ou("people");
    assert_eq!(slapd.count(slapd.suffix(), "(objectClass=*)"), 2);
    let anonymous = slapd
        .anonymous_cli()
        .try_search(slapd.suffix(), "(objectClass=*)", &[]);
    assert!(
        anonymous.as_ref().map_or(true, Vec::is_empty),
        "{anonymous:?}"
    );
}

#[test]
fn bulk_load_with_slapadd() {
    let spec = UsersLdif::new("dc=example,dc=com", 1000).with_groups(10, 50);
    let t0 = Instant::now();
    let slapd = Slapd::start_with_ldif(SlapdOptions::default(), &spec.build());
    eprintln!(
        "slapd with {} entries loaded and started in {:?}",
        spec.entry_count(),
        t0.elapsed()
    );
    assert_eq!(
        slapd.count(slapd.suffix(), "(objectClass=*)"),
        spec.entry_count() + 1
    );
    let user = slapd.get(&spec.user_dn(1000), &["*", "+"]).expect("user");
    assert!(user.has("entryUUID"));
    assert_eq!(user.first("mail"), Some("user001000@example.com"));
    let group = slapd.get(&spec.group_dn(10), &["member"]).expect("group");
    assert_eq!(group.get("member").len(), 50);
    // The syncprov context CSN was written by slapadd -w.
    let base = slapd.get(slapd.suffix(), &["contextCSN"]).expect("base");
    assert!(base.has("contextCSN"));
}

#[test]
fn consumer_replicates_from_provider() {
    let provider = Slapd::start(SlapdOptions::default());
    let people = provider.add_ou("people");
    provider.ldapadd(&person(&people, "dora", "Dora", "dora@example.com"));
    let consumer = Slapd::start(SlapdOptions {
        consumer_of: Some(provider.uri()),
        ..SlapdOptions::default()
    });
    let wait_for = |filter: &str, expected: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n = consumer
                .cli()
                .try_count(consumer.suffix(), filter)
                .unwrap_or(0);
            if n == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "consumer has {n} of {expected} entries for {filter}; log:\n{}",
                consumer.log_tail(20)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("(objectClass=*)", 3);
    provider.ldapadd(&person(&people, "emil", "Emil", "emil@example.com"));
    wait_for("(uid=emil)", 1);
    // A consumer stops promptly (its persistent search does not hold up the shutdown).
    let mut consumer = consumer;
    let t0 = Instant::now();
    consumer.stop();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn start_failure_says_what_failed() {
    let err = Slapd::try_start(SlapdOptions {
        extra_config: vec!["no-such-directive on".to_owned()],
        ..SlapdOptions::default()
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("slapadd"), "{message}");
    assert!(message.contains("no-such-directive"), "{message}");

    // A failure of slapd itself (slapadd does not open the certificates; slapd does) comes
    // with slapd's log tail.
    let err = Slapd::try_start(SlapdOptions {
        extra_config: vec![
            "TLSCertificateFile /nonexistent/server.crt".to_owned(),
            "TLSCertificateKeyFile /nonexistent/server.key".to_owned(),
        ],
        ..SlapdOptions::default()
    })
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("slapd exited"), "{message}");
    assert!(message.contains("log tail"), "{message}");
}
