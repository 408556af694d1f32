//! The MiVoice Business group rules as tables: a PRG or MDUG is the account of its pilot, keeps
//! every device, wins over numbers in no group, and a broken group forms no account.

use super::super::records::GroupKind::{Mdug, Prg};
use super::super::rules::attr;
use super::{ASP, Case, DESK, MINET_MAC, RowExt, UC, check, row};

const ANNA: [&str; 3] = ["Anna", "Berg", "Sales"];
const CARL: [&str; 3] = ["Carl", "Dahl", "Support"];

/// Rule 5 (the pilot names the account) and rule 6 (a group keeps several devices of a kind).
pub fn group_cases() -> Vec<Case> {
    vec![
        Case::business(
            "all devices in a PRG form one account, whatever the members' names",
            vec![
                row(2, "2002", ["anna", "berg", ""], ASP).group("7001", Some(Prg)),
                row(3, "1002", ["A.", "Berg", "Lab"], DESK).group("7001", Some(Prg)),
                row(4, "1001", ANNA, DESK).group("7001", Some(Prg)).pilot(),
                row(5, "2001", ANNA, "5020 IP")
                    .mac(MINET_MAC)
                    .group("7001", Some(Prg)),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "1002", "2001", "2002"]),
                ("deskphone", &["1001", "1002"]),
                ("softphone", &["2001", "2002"]),
                ("softphoneType", &["minet"]),
                ("pilot", &["1001"]),
                ("pbxGroup", &["7001"]),
                ("pbxGroupKind", &["prg"]),
            ],
        ),
        Case::business(
            "an MDUG keeps several UC endpoints",
            vec![
                row(2, "1001", ANNA, DESK).group("m-1", Some(Mdug)).pilot(),
                row(3, "3002", ANNA, UC).group("m-1", Some(Mdug)).dynamic(),
                row(4, "3001", ANNA, UC).group("m-1", None),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "3001", "3002"]),
                ("deskphone", &["1001"]),
                ("ucEndpoint", &["3001", "3002"]),
                ("softphoneType", &["sip"]),
                ("pilot", &["1001"]),
                ("pbxGroup", &["m-1"]),
                ("pbxGroupKind", &["mdug"]),
                ("dynamicExtension", &["3002"]),
            ],
        ),
        Case::business(
            "a pilot that is a softphone is the account's softphone and its primary number",
            vec![
                row(2, "1001", ANNA, DESK).group("7001", Some(Prg)),
                row(3, "2001", CARL, ASP).group("7001", Some(Prg)).pilot(),
            ],
        )
        .account(
            "Carl|Dahl|Support",
            &[
                ("givenName", &["Carl"]),
                ("sn", &["Dahl"]),
                ("department", &["Support"]),
                ("telephoneNumber", &["2001", "1001"]),
                ("deskphone", &["1001"]),
                ("softphone", &["2001"]),
                ("softphoneType", &["minet"]),
                ("pilot", &["2001"]),
                ("pbxGroup", &["7001"]),
                ("pbxGroupKind", &["prg"]),
            ],
        ),
        Case::business(
            "a Minet softphone and a UC endpoint in one group: the Minet softphone wins",
            vec![
                row(2, "3001", CARL, UC).group("7001", Some(Prg)).pilot(),
                row(3, "2001", CARL, ASP).group("7001", Some(Prg)),
            ],
        )
        .account(
            "Carl|Dahl|Support",
            &[
                ("givenName", &["Carl"]),
                ("sn", &["Dahl"]),
                ("department", &["Support"]),
                ("telephoneNumber", &["3001", "2001"]),
                ("softphone", &["2001"]),
                ("softphoneType", &["minet"]),
                ("pilot", &["3001"]),
                ("pbxGroup", &["7001"]),
                ("pbxGroupKind", &["prg"]),
            ],
        )
        .warning(
            "Carl|Dahl|Support",
            "lines 2, 3",
            &["Minet softphone (2001)", "UC endpoint (3001)"],
        ),
        Case::business(
            "numbers in no group with the names of a group's pilot are dropped",
            vec![
                row(2, "1009", ANNA, DESK),
                row(3, "1001", ANNA, DESK).group("7001", Some(Prg)).pilot(),
                row(4, "2009", ANNA, ASP),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001"]),
                ("deskphone", &["1001"]),
                ("pilot", &["1001"]),
                ("pbxGroup", &["7001"]),
                ("pbxGroupKind", &["prg"]),
            ],
        )
        .warning(
            "Anna|Berg|Sales",
            "lines 2, 4",
            &["1009, 2009", "add them to group 7001"],
        ),
        Case::business(
            "of two groups whose pilots have the same names, the lowest id wins",
            vec![
                row(2, "1002", ANNA, DESK).group("b", Some(Prg)).pilot(),
                row(3, "2002", ANNA, ASP).group("b", Some(Prg)),
                row(4, "1001", ANNA, DESK).group("a", Some(Mdug)).pilot(),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001"]),
                ("deskphone", &["1001"]),
                ("pilot", &["1001"]),
                ("pbxGroup", &["a"]),
                ("pbxGroupKind", &["mdug"]),
            ],
        )
        .warning(
            "Anna|Berg|Sales",
            "lines 2, 3",
            &["group b (numbers 1002, 2002) is dropped", "group a"],
        ),
    ]
}

#[test]
fn rule5_and_rule6_a_group_is_the_account_of_its_pilot_with_every_device() {
    check(&group_cases());
}

/// A group without exactly one named pilot, or of two kinds, forms no account.
pub fn broken_group_cases() -> Vec<Case> {
    vec![
        Case::business(
            "a group without a pilot: an error on every number, the members' accounts kept",
            vec![
                row(2, "1001", ANNA, DESK).group("7001", Some(Prg)),
                row(3, "1002", ["", "", ""], DESK).group("7001", Some(Prg)),
                row(4, "2001", ANNA, ASP),
                row(5, "2002", CARL, ASP),
            ],
        )
        .account(
            "Carl|Dahl|Support",
            &[
                ("givenName", &["Carl"]),
                ("sn", &["Dahl"]),
                ("department", &["Support"]),
                ("telephoneNumber", &["2002"]),
                ("softphone", &["2002"]),
                ("softphoneType", &["minet"]),
            ],
        )
        .error(
            Some("Anna|Berg|Sales"),
            "line 2",
            &["group 7001 (numbers 1001, 1002) has no pilot", "Pilot"],
        )
        .error(None, "line 3", &["number 1002", "no pilot"]),
        Case::business(
            "a group with two pilots",
            vec![
                row(2, "1001", ANNA, DESK).group("7001", Some(Prg)).pilot(),
                row(3, "1002", CARL, DESK).group("7001", Some(Prg)).pilot(),
            ],
        )
        .error(
            Some("Anna|Berg|Sales"),
            "line 2",
            &["2 pilots (1001, 1002)"],
        )
        .error(Some("Carl|Dahl|Support"), "line 3", &["2 pilots"]),
        Case::business(
            "members disagreeing on the group kind: the pilot's account is kept as it was",
            vec![
                row(2, "1001", ANNA, DESK).group("7001", Some(Prg)).pilot(),
                row(3, "1002", CARL, DESK).group("7001", Some(Mdug)),
            ],
        )
        .error(Some("Anna|Berg|Sales"), "line 2", &["PRG and MDUG"])
        .error(Some("Anna|Berg|Sales"), "line 3", &["PRG and MDUG"]),
        Case::business(
            "a pilot without names identifies no account",
            vec![
                row(2, "1001", ["", "", "Sales"], DESK)
                    .group("7001", None)
                    .pilot(),
                row(3, "1002", CARL, DESK).group("7001", None),
            ],
        )
        .error(None, "line 2", &["neither first nor last name"])
        .error(Some("Carl|Dahl|Support"), "line 3", &["pilot 1001"]),
    ]
}

#[test]
fn a_broken_group_is_an_error_on_every_number_and_forms_no_account() {
    check(&broken_group_cases());
}

/// Rule 3 over every table: an account has a Minet softphone or a SIP softphone, never both.
#[test]
fn rule3_no_account_has_both_a_minet_and_a_sip_softphone() {
    let tables = [
        super::rules::rule1_cases(),
        super::rules::rule2_cases(),
        super::rules::rule4_cases(),
        super::rules::rule6_cases(),
        super::rules::bad_row_cases(),
        group_cases(),
        broken_group_cases(),
    ];
    let mut both_seen = 0;
    for table in &tables {
        for built in check(table) {
            for a in &built.accounts {
                let (minet, uc) = (a.attrs.get(attr::SOFTPHONE), a.attrs.get(attr::UC_ENDPOINT));
                assert!(
                    minet.is_empty() || uc.is_empty(),
                    "{} has both kinds of softphone: {:?}",
                    a.anchor,
                    a.attrs
                );
                let kind = a.attrs.get(attr::SOFTPHONE_TYPE);
                assert!(kind.len() <= 1, "{}: {kind:?}", a.anchor);
                if !minet.is_empty() {
                    assert_eq!(kind, ["minet"]);
                } else if !uc.is_empty() {
                    assert_eq!(kind, ["sip"]);
                }
                let numbers = a.attrs.get(attr::TELEPHONE_NUMBER);
                if !minet.is_empty()
                    && numbers.iter().any(|n| {
                        table
                            .iter()
                            .flat_map(|c| &c.rows)
                            .any(|r| &r.number == n && r.device_type == UC)
                    })
                {
                    both_seen += 1;
                }
            }
        }
    }
    assert!(
        both_seen >= 3,
        "the tables cover accounts with both kinds of device"
    );
}
