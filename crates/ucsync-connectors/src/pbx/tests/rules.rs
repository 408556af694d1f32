//! The account rules for numbers in no group (MiVoice Business) and for MiVoice Office 250, as
//! tables: the rows a PBX export holds and the accounts, warnings and errors they give.

use super::super::records::BadRow;
use super::super::rules::{Identity, escape, number_order};
use super::{ASP, Case, DESK, MINET_MAC, RowExt, UC, check, row};

const ANNA: [&str; 3] = ["Anna", "Berg", "Sales"];
const BO: [&str; 3] = ["Bo", "Ek", ""];

/// Rule 1: a Minet softphone is an `App Server Port`, or a `5020 IP` with a MAC address
/// starting `A1:21:00`; device types are compared without case.
pub fn rule1_cases() -> Vec<Case> {
    vec![
        Case::business(
            "App Server Port is a Minet softphone",
            vec![row(2, "1001", ANNA, DESK), row(3, "2001", ANNA, ASP)],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "2001"]),
                ("deskphone", &["1001"]),
                ("softphone", &["2001"]),
                ("softphoneType", &["minet"]),
            ],
        ),
        Case::business(
            "5020 IP with a Minet MAC address is a Minet softphone",
            vec![row(2, "2002", ANNA, "5020 IP").mac(MINET_MAC)],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["2002"]),
                ("softphone", &["2002"]),
                ("softphoneType", &["minet"]),
            ],
        ),
        Case::business(
            "device types and MAC addresses are compared without case or separator",
            vec![
                row(2, "2003", ANNA, "app server PORT"),
                row(3, "2004", BO, "5020 ip").mac("a1-21-00-ab-cd-ef"),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["2003"]),
                ("softphone", &["2003"]),
                ("softphoneType", &["minet"]),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["2004"]),
                ("softphone", &["2004"]),
                ("softphoneType", &["minet"]),
            ],
        ),
        Case::business(
            "5020 IP with another vendor's MAC address, or none, is a deskphone",
            vec![
                row(2, "1005", ANNA, "5020 IP").mac("00:08:5D:11:22:33"),
                row(3, "1006", BO, "5020 IP"),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1005"]),
                ("deskphone", &["1005"]),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1006"]),
                ("deskphone", &["1006"]),
            ],
        ),
    ]
}

#[test]
fn rule1_minet_softphones_are_recognised_by_device_type_or_mac_address() {
    check(&rule1_cases());
}

/// Rule 2: a UC endpoint is the SIP softphone only when the account has no Minet softphone.
pub fn rule2_cases() -> Vec<Case> {
    vec![
        Case::business(
            "a UC endpoint alone is the SIP softphone",
            vec![row(2, "1001", ANNA, DESK), row(3, "3001", ANNA, UC)],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "3001"]),
                ("deskphone", &["1001"]),
                ("ucEndpoint", &["3001"]),
                ("softphoneType", &["sip"]),
            ],
        ),
        Case::business(
            "a Minet softphone and a UC endpoint: the Minet softphone wins, with a warning",
            vec![
                row(2, "1001", ANNA, DESK),
                row(3, "3001", ANNA, UC),
                row(4, "2001", ANNA, ASP),
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "2001", "3001"]),
                ("deskphone", &["1001"]),
                ("softphone", &["2001"]),
                ("softphoneType", &["minet"]),
            ],
        )
        .warning(
            "Anna|Berg|Sales",
            "lines 3, 4",
            &["Minet softphone (2001)", "UC endpoint (3001)"],
        ),
    ]
}

#[test]
fn rule2_a_uc_endpoint_is_the_softphone_only_without_a_minet_softphone() {
    check(&rule2_cases());
}

/// Rule 4: numbers in no group pair only on exactly equal first name, last name and
/// department.
pub fn rule4_cases() -> Vec<Case> {
    vec![
        Case::business(
            "names that differ in case are two accounts",
            vec![
                row(2, "1001", ANNA, DESK),
                row(3, "2001", ["anna", "berg", "Sales"], ASP),
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
            ],
        )
        .account(
            "anna|berg|Sales",
            &[
                ("givenName", &["anna"]),
                ("sn", &["berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["2001"]),
                ("softphone", &["2001"]),
                ("softphoneType", &["minet"]),
            ],
        ),
        Case::business(
            "a missing department pairs with a missing department only",
            vec![
                row(2, "1001", BO, DESK),
                row(3, "3001", BO, UC),
                row(4, "1002", ["Bo", "Ek", "Lab"], DESK),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1001", "3001"]),
                ("deskphone", &["1001"]),
                ("ucEndpoint", &["3001"]),
                ("softphoneType", &["sip"]),
            ],
        )
        .account(
            "Bo|Ek|Lab",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("department", &["Lab"]),
                ("telephoneNumber", &["1002"]),
                ("deskphone", &["1002"]),
            ],
        ),
        Case::business(
            "the deskphone is the primary number, then the rest in number order",
            vec![
                row(2, "3001", ["Cy", "", ""], UC),
                row(3, "20001", ["Cy", "", ""], ASP),
                row(4, "9001", ["Cy", "", ""], DESK).dynamic(),
            ],
        )
        .account(
            "Cy||",
            &[
                ("givenName", &["Cy"]),
                ("telephoneNumber", &["9001", "3001", "20001"]),
                ("deskphone", &["9001"]),
                ("softphone", &["20001"]),
                ("softphoneType", &["minet"]),
                ("dynamicExtension", &["9001"]),
            ],
        )
        .warning("Cy||", "lines 2, 3", &["20001", "3001"]),
    ]
}

#[test]
fn rule4_numbers_in_no_group_pair_only_on_exactly_equal_names() {
    check(&rule4_cases());
}

/// Rule 6 without groups: one device of each kind, the lowest number kept.
pub fn rule6_cases() -> Vec<Case> {
    vec![
        Case::business(
            "two deskphones and no group: the lowest number is kept, the warning names both",
            vec![row(2, "1002", ANNA, DESK), row(3, "1001", ANNA, DESK)],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001"]),
                ("deskphone", &["1001"]),
            ],
        )
        .warning(
            "Anna|Berg|Sales",
            "lines 2, 3",
            &["2 deskphones", "kept 1001", "dropped 1002", "PRG or MDUG"],
        ),
        Case::business(
            "number order is by length first: 999 comes before 1000",
            vec![
                row(2, "1000", BO, ASP),
                row(3, "999", BO, ASP),
                row(4, "3002", BO, UC),
                row(5, "3001", BO, UC),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["999", "3001"]),
                ("softphone", &["999"]),
                ("softphoneType", &["minet"]),
            ],
        )
        .warning("Bo|Ek|", "lines 2, 3", &["kept 999", "dropped 1000"])
        .warning("Bo|Ek|", "lines 3, 5", &["Minet softphone (999)"])
        .warning("Bo|Ek|", "lines 4, 5", &["kept 3001", "dropped 3002"]),
        Case::business(
            "a number with neither first nor last name and no group is an error",
            vec![
                row(2, "1001", ["", "", "Sales"], DESK),
                row(3, "1002", BO, DESK),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1002"]),
                ("deskphone", &["1002"]),
            ],
        )
        .error(None, "line 2", &["1001", "identifies no account"]),
    ]
}

#[test]
fn rule6_several_devices_of_one_kind_without_a_group_keep_the_lowest_number() {
    check(&rule6_cases());
}

/// Bad rows (read by `records`) keep the account they belong to as it was.
pub fn bad_row_cases() -> Vec<Case> {
    let bad = |line: u64, names: [&str; 3], group: Option<&str>, pilot: Option<bool>| BadRow {
        line,
        number: Some(format!("{line}00")),
        first: names[0].to_owned(),
        last: names[1].to_owned(),
        department: names[2].to_owned(),
        group: group.map(str::to_owned),
        pilot,
        dynamic: Some(false),
        message: format!("line {line}: bad"),
    };
    vec![
        Case::business(
            "a bad row with names withholds that account",
            vec![row(2, "1001", ANNA, DESK), row(4, "1002", BO, DESK)],
        )
        .bad(vec![bad(3, ANNA, None, Some(false))])
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1002"]),
                ("deskphone", &["1002"]),
            ],
        )
        .error(Some("Anna|Berg|Sales"), "line 3", &["bad"]),
        Case::business(
            "a bad row in a group withholds the account of the group's pilot",
            vec![
                row(2, "1001", ANNA, DESK).group("7001", None).pilot(),
                row(4, "1002", BO, DESK),
            ],
        )
        .bad(vec![bad(3, ["", "", ""], Some("7001"), Some(false))])
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1002"]),
                ("deskphone", &["1002"]),
            ],
        )
        .error(Some("Anna|Berg|Sales"), "line 3", &["bad"]),
        Case::business(
            "a bad row that identifies no account is an error without an anchor",
            vec![row(2, "1001", ANNA, DESK)],
        )
        .bad(vec![bad(3, ["", "", "Sales"], None, Some(false))])
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001"]),
                ("deskphone", &["1001"]),
            ],
        )
        .error(None, "line 3", &["bad"]),
        Case::business(
            "a group with a bad row and no readable pilot: every number is an error",
            vec![row(2, "1001", ANNA, DESK).group("7001", None)],
        )
        .bad(vec![bad(3, BO, Some("7001"), Some(false))])
        .error(
            Some("Anna|Berg|Sales"),
            "line 2",
            &["group 7001", "line 3", "could not be read"],
        )
        .error(None, "line 3", &["bad"]),
        Case::office(
            "office 250: a bad row withholds the account of its names",
            vec![row(2, "1001", ANNA, DESK)],
        )
        .bad(vec![bad(3, ANNA, None, None)])
        .error(Some("Anna|Berg|Sales"), "line 3", &["bad"]),
    ]
}

#[test]
fn bad_rows_withhold_the_account_they_belong_to() {
    check(&bad_row_cases());
}

/// MiVoice Office 250: accounts by exact names, every number kept, group columns ignored.
pub fn office_cases() -> Vec<Case> {
    let mut grouped = row(4, "1003", BO, DESK);
    grouped.ignored = vec!["Group", "Pilot"];
    vec![
        Case::office(
            "every number of the same names is on one account, without device kinds",
            vec![
                row(2, "2001", ANNA, ASP),
                row(3, "1002", ANNA, DESK).dynamic(),
                row(5, "1001", ANNA, DESK),
                row(6, "3001", ["anna", "Berg", "Sales"], UC),
                grouped,
            ],
        )
        .account(
            "Anna|Berg|Sales",
            &[
                ("givenName", &["Anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["1001", "1002", "2001"]),
                ("dynamicExtension", &["1002"]),
            ],
        )
        .account(
            "Bo|Ek|",
            &[
                ("givenName", &["Bo"]),
                ("sn", &["Ek"]),
                ("telephoneNumber", &["1003"]),
            ],
        )
        .account(
            "anna|Berg|Sales",
            &[
                ("givenName", &["anna"]),
                ("sn", &["Berg"]),
                ("department", &["Sales"]),
                ("telephoneNumber", &["3001"]),
            ],
        )
        .warning("Bo|Ek|", "line 4", &["Group, Pilot", "ignored"]),
        Case::office(
            "a number without names identifies no account",
            vec![row(2, "1001", ["", "", "Sales"], DESK)],
        )
        .error(None, "line 2", &["identifies no account"]),
    ]
}

#[test]
fn office_250_forms_accounts_by_names_and_keeps_every_number() {
    check(&office_cases());
}

#[test]
fn anchors_escape_bars_and_backslashes() {
    assert_eq!(
        Identity::new("Anna", "Berg", "Sales").anchor(),
        "Anna|Berg|Sales"
    );
    assert_eq!(Identity::new("Bo", "Ek", "").anchor(), "Bo|Ek|");
    assert_eq!(Identity::new("", "", "").anchor(), "||");
    assert_eq!(
        Identity::new("A|b", "C\\d", "|").anchor(),
        "A\\|b|C\\\\d|\\|"
    );
    assert_eq!(escape("a\\|b"), "a\\\\\\|b");
    // Names that would collide unescaped do not.
    assert_ne!(
        Identity::new("a|b", "c", "").anchor(),
        Identity::new("a", "b|c", "").anchor()
    );
}

#[test]
fn number_order_is_by_length_then_character() {
    let mut numbers = vec!["2001", "+4930", "999", "1000", "*72", "#1", "10"];
    numbers.sort_by(|a, b| number_order(a, b));
    assert_eq!(numbers, ["#1", "10", "*72", "999", "1000", "2001", "+4930"]);
}
