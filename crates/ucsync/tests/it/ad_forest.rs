//! An Active Directory forest (a real Samba AD DC) whose users become contacts in a central
//! OpenLDAP forest, through the binary: a first sync-now, then adds, modifies, renames and
//! deletes made on the domain controller carried over by a delta import from the `uSNChanged`
//! watermark, with nothing else read.

use ucsync_testkit::SambaDc;

use crate::harness::{Env, counters};
use crate::ldap_forests::{CENTRAL_TYPES, forest, ldap_connector};

fn ad_connector(dc: &SambaDc, base: &str) -> String {
    format!(
        r#"
[connectors.ad]
kind = "ldap"
[connectors.ad.settings]
url = "{uri}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
[[connectors.ad.settings.object_types]]
name = "user"
object_classes = ["user"]
filter = "(!(objectClass=computer))"
attributes = ["sAMAccountName", "cn", "sn", "mail", "telephoneNumber"]
[[connectors.ad.settings.object_types]]
name = "group"
object_classes = ["group"]
attributes = ["sAMAccountName", "cn", "member"]
[connectors.ad.rules]
projection = {{ user = "person", group = "group" }}
[connectors.ad.rules.import_flows]
name = "sAMAccountName"
sn = "coalesce(sn, sAMAccountName)"
mail = "lower(mail)"
displayName = "cn"
telephoneNumber = "telephoneNumber"
member = "member"
"#,
        uri = dc.uri(),
        dn = dc.admin_dn(),
        pw = dc.admin_pw(),
    )
}

fn user(sam: &str, ou: &str, phone: &str) -> String {
    format!(
        "dn: CN={sam} Smith,{ou}\nobjectClass: user\ncn: {sam} Smith\nsAMAccountName: {sam}\nsn: Smith\nmail: {sam}@AD.example\ntelephoneNumber: {phone}\n\n"
    )
}

#[test]
fn active_directory_users_become_contacts_and_deltas_carry_only_their_changes() {
    let dc = SambaDc::start();
    let central = forest("dc=central,dc=test");
    let staff = dc.add_ou("Staff");
    dc.ldapadd(&format!(
        "{}{}{}dn: CN=team,{staff}\nobjectClass: group\ncn: team\nsAMAccountName: team\nmember: CN=ann Smith,{staff}\nmember: CN=bob Smith,{staff}\n",
        user("ann", &staff, "+1 555 0001"),
        user("bob", &staff, "+1 555 0002"),
        user("cyd", &staff, "+1 555 0003"),
    ));
    // Someone outside the base, changed later: never read.
    let outsider = dc.add_user("outsider");

    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"ad\"]\nreferences = [\"member\"]\n{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ad_connector(&dc, &staff),
        ),
    );
    let first = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&first, "ad", "delta-import"))[..3],
        [4, 0, 0],
        "{first:#}"
    );
    let contacts = format!("ou=Contacts,{}", central.suffix());
    assert_eq!(central.count(&contacts, "(objectClass=inetOrgPerson)"), 3);
    let ann = central
        .get(
            &format!("cn=ann,{contacts}"),
            &["mail", "displayName", "telephoneNumber", "employeeType"],
        )
        .expect("ann's contact");
    assert_eq!(ann.attrs["mail"], ["ann@ad.example"]);
    assert_eq!(ann.attrs["displayName"], ["ann Smith"]);
    assert_eq!(ann.attrs["employeeType"], ["uc-enabled"]);
    let team = central
        .get(
            &format!("cn=team,ou=Groups,{}", central.suffix()),
            &["member"],
        )
        .expect("the group in central");
    let mut members = team.attrs["member"].clone();
    members.sort();
    assert_eq!(
        members,
        [format!("cn=ann,{contacts}"), format!("cn=bob,{contacts}")]
    );

    // Changes on the domain controller: an add, a modify, a rename, a delete, and a change
    // outside the base.
    dc.ldapadd(&user("dee", &staff, "+1 555 0004"));
    dc.ldapmodify(&format!(
        "dn: CN=ann Smith,{staff}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 9999\n"
    ));
    dc.ldapmodrdn(
        &format!("CN=bob Smith,{staff}"),
        "CN=Robert Smith",
        true,
        None,
    );
    dc.ldapdelete(&format!("CN=cyd Smith,{staff}"));
    dc.ldapmodify(&format!(
        "dn: {outsider}\nchangetype: modify\nreplace: description\ndescription: changed\n"
    ));

    let import = env.json(&["run", "ad", "delta-import"], 0);
    assert_eq!(counters(&import)[..3], [1, 2, 1], "{import:#}");
    let note = import["message"].as_str().unwrap_or_default();
    assert!(note.contains("changes after USN"), "{import:#}");
    let sync = env.json(&["run", "ad", "delta-sync"], 0);
    assert_eq!(counters(&sync)[4], 0, "{sync:#}");
    let export = env.json(&["run", "central", "export"], 0);
    assert_eq!(counters(&export)[..3], [1, 2, 1], "{export:#}");

    assert_eq!(central.count(&contacts, "(objectClass=inetOrgPerson)"), 3);
    assert!(
        central
            .get(&format!("cn=cyd,{contacts}"), &["cn"])
            .is_none()
    );
    let bob = central
        .get(&format!("cn=bob,{contacts}"), &["displayName"])
        .expect("bob keeps his contact: his account name did not change");
    assert_eq!(bob.attrs["displayName"], ["Robert Smith"]);
    assert!(
        central
            .get(&format!("cn=dee,{contacts}"), &["cn"])
            .is_some()
    );
    let ann = central
        .get(&format!("cn=ann,{contacts}"), &["telephoneNumber"])
        .unwrap();
    assert_eq!(ann.attrs["telephoneNumber"], ["+1 555 9999"]);

    // Nothing more changed: the next delta reads nothing.
    let quiet = env.json(&["run", "ad", "delta-import"], 0);
    assert_eq!(counters(&quiet)[..3], [0, 0, 0], "{quiet:#}");

    // Disabled accounts out of scope (docs/LDAP.md): dee is disabled, ann and Robert are
    // enabled (544: a normal account that needs no password; 546: the same, disabled).
    for (cn, uac) in [
        ("ann Smith", 544),
        ("Robert Smith", 544),
        ("dee Smith", 546),
    ] {
        dc.ldapmodify(&format!(
            "dn: CN={cn},{staff}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n"
        ));
    }
    let scoped = ad_connector(&dc, &staff)
        .replace(
            "[connectors.ad.rules]\n",
            "[connectors.ad.rules]\nscope = 'not bit(userAccountControl, 2)'\n",
        )
        .replace(
            "\"telephoneNumber\"]",
            "\"telephoneNumber\", \"userAccountControl\"]",
        );
    assert!(scoped.contains("scope = 'not bit(") && scoped.contains("\"userAccountControl\"]"));
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"ad\"]\nreferences = [\"member\"]\n{}{scoped}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
        ),
    );
    let disabled_out = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&disabled_out, "central", "export"))[2],
        1,
        "{disabled_out:#}"
    );
    assert!(
        central
            .get(&format!("cn=dee,{contacts}"), &["cn"])
            .is_none(),
        "the disabled account's contact is deprovisioned"
    );
    for kept in ["ann", "bob"] {
        assert!(
            central
                .get(&format!("cn={kept},{contacts}"), &["cn"])
                .is_some(),
            "{kept} is enabled"
        );
    }
}
