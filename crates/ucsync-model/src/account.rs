//! Accounts: directory entries of people as a UC service sees them. Besides what connectors
//! give, an account carries data of its own, set by hand and owned by no connector:
//!
//! - numbers an administrator added (`manualNumber`, one number per value);
//! - dynamic statuses (`dynamicStatus`), each `NAME=NUMBER`: the status's name and the number
//!   it makes calls from ("make call from").
//!
//! Both are references for the number-retention rule: a number a PBX node no longer lists stays
//! on its account while one of them refers to it ([`referenced_numbers`]), and an account the
//! node no longer gives at all stays while it has any of them ([`has_own_data`]). Hand-added
//! numbers are among the account's numbers (`telephoneNumber`) wherever numbers are listed
//! ([`listed_numbers`]).

use std::collections::BTreeSet;

use crate::entry::EntryAttrs;

/// Numbers added to an account by hand.
pub const MANUAL_NUMBER: &str = "manualNumber";
/// Dynamic statuses, `NAME=NUMBER`.
pub const DYNAMIC_STATUS: &str = "dynamicStatus";
/// The directory attribute that lists every number of an account (a PBX node gives its
/// numbers there, the primary number first).
pub const NUMBERS: &str = "telephoneNumber";

/// Checks a phone number typed by an administrator: digits, optionally a leading `+`, and the
/// dial-pad signs `*` and `#`; 1 to 32 characters.
pub fn check_number(number: &str) -> Result<(), String> {
    let body = number.strip_prefix('+').unwrap_or(number);
    if body.is_empty() || number.len() > 32 {
        return Err(format!(
            "\"{number}\" is not a phone number: give 1 to 32 digits (a leading + and the signs * and # are allowed)"
        ));
    }
    match body
        .chars()
        .find(|c| !(c.is_ascii_digit() || *c == '*' || *c == '#'))
    {
        Some(c) => Err(format!(
            "\"{number}\" is not a phone number: '{c}' is not allowed; give digits (a leading + and the signs * and # are allowed)"
        )),
        None => Ok(()),
    }
}

/// Checks a dynamic status name: 1 to 64 characters, no `=`, no control characters.
pub fn check_status_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err(format!(
            "\"{name}\" is not a status name: give 1 to 64 characters"
        ));
    }
    if let Some(c) = name.chars().find(|c| *c == '=' || c.is_control()) {
        return Err(format!(
            "status name \"{name}\" contains {c:?}, which a status name cannot hold"
        ));
    }
    Ok(())
}

/// One `dynamicStatus` value.
pub fn status_value(name: &str, make_call_from: &str) -> String {
    format!("{name}={make_call_from}")
}

/// A `dynamicStatus` value split into its name and its "make call from" number.
pub fn parse_status(value: &str) -> (&str, &str) {
    match value.rsplit_once('=') {
        Some((name, number)) => (name, number),
        None => (value, ""),
    }
}

/// The numbers an entry's own data refers to: its hand-added numbers and the "make call from"
/// number of each dynamic status.
pub fn referenced_numbers(entry: &EntryAttrs) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = entry.get(MANUAL_NUMBER).iter().cloned().collect();
    for s in entry.get(DYNAMIC_STATUS) {
        let (_, number) = parse_status(s);
        if !number.is_empty() {
            out.insert(number.to_owned());
        }
    }
    out
}

/// The values of an attribute when they were set by hand (an attribute of that name that a
/// connector gives is not the account's own data).
fn own<'a>(entry: &'a EntryAttrs, name: &str) -> &'a [String] {
    match entry.source(name) {
        Some(None) => entry.get(name),
        _ => &[],
    }
}

/// The numbers an administrator added to the account by hand.
pub fn hand_added_numbers(entry: &EntryAttrs) -> &[String] {
    own(entry, MANUAL_NUMBER)
}

/// Whether the account has data of its own that keeps it when no connector gives it any more:
/// a number added by hand or a dynamic status.
pub fn has_own_data(entry: &EntryAttrs) -> bool {
    !own(entry, MANUAL_NUMBER).is_empty() || !own(entry, DYNAMIC_STATUS).is_empty()
}

/// The account's own data in words, for messages: `numbers added by hand: 3001; dynamic
/// statuses: "In a meeting" (make call from 2001)`.
pub fn describe_own_data(entry: &EntryAttrs) -> String {
    let mut parts = Vec::new();
    let numbers = own(entry, MANUAL_NUMBER);
    if !numbers.is_empty() {
        parts.push(format!("numbers added by hand: {}", numbers.join(", ")));
    }
    let statuses: Vec<String> = own(entry, DYNAMIC_STATUS)
        .iter()
        .map(|s| {
            let (name, number) = parse_status(s);
            format!("\"{name}\" (make call from {number})")
        })
        .collect();
    if !statuses.is_empty() {
        parts.push(format!("dynamic statuses: {}", statuses.join(", ")));
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join("; ")
    }
}

/// An account's numbers as they are listed: the values of [`NUMBERS`], then the hand-added
/// numbers not among them (a sync puts them there too); and which of them were added by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedNumbers {
    pub values: Vec<String>,
    pub hand_added: Vec<String>,
}

/// The numbers of an account as listed (`directory show|search`, the API).
pub fn listed_numbers(entry: &EntryAttrs) -> ListedNumbers {
    let mut values = entry.get(NUMBERS).to_vec();
    let hand_added = hand_added_numbers(entry).to_vec();
    for n in &hand_added {
        if !values.contains(n) {
            values.push(n.clone());
        }
    }
    ListedNumbers { values, hand_added }
}

/// A dynamic status: its name and the number it makes calls from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DynamicStatus {
    pub name: String,
    pub make_call_from: String,
}

/// An account's own data, as the CLI's `--json` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountData {
    pub entry: i64,
    pub manual_numbers: Vec<String>,
    pub dynamic_statuses: Vec<DynamicStatus>,
}

impl AccountData {
    pub fn of(entry: i64, attrs: &EntryAttrs) -> Self {
        Self {
            entry,
            manual_numbers: attrs.get(MANUAL_NUMBER).to_vec(),
            dynamic_statuses: attrs
                .get(DYNAMIC_STATUS)
                .iter()
                .map(|s| {
                    let (name, number) = parse_status(s);
                    DynamicStatus {
                        name: name.to_owned(),
                        make_call_from: number.to_owned(),
                    }
                })
                .collect(),
        }
    }

    /// One line for people.
    pub fn summary(&self) -> String {
        let or_none = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let statuses = self
            .dynamic_statuses
            .iter()
            .map(|s| format!("{} (make call from {})", s.name, s.make_call_from))
            .collect();
        format!(
            "entry {}: numbers added by hand: {}; dynamic statuses: {}",
            self.entry,
            or_none(self.manual_numbers.clone()),
            or_none(statuses)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_status_names_are_checked() {
        assert!(check_number("+4930123").is_ok());
        assert!(check_number("*72#").is_ok());
        assert!(check_number("").is_err());
        assert!(check_number("12a4").unwrap_err().contains("'a'"));
        assert!(check_status_name("In a meeting").is_ok());
        assert!(check_status_name("a=b").is_err());
        assert!(check_status_name(" ").is_err());
    }

    #[test]
    fn statuses_and_hand_added_numbers_are_references() {
        let mut e = EntryAttrs::new();
        e.set(MANUAL_NUMBER, None, vec!["3001".into()]);
        e.set(
            DYNAMIC_STATUS,
            None,
            vec![status_value("Away=home", "2001"), "broken".into()],
        );
        let refs: Vec<String> = referenced_numbers(&e).into_iter().collect();
        assert_eq!(refs, ["2001", "3001"]);
        assert_eq!(parse_status("Away=home=2001"), ("Away=home", "2001"));
    }

    #[test]
    fn own_data_is_what_was_set_by_hand() {
        let mut e = EntryAttrs::new();
        e.set(NUMBERS, Some(4), vec!["1001".into(), "3001".into()]);
        e.set("featureProfile", None, vec!["Standard".into()]);
        assert!(!has_own_data(&e), "a feature profile is no reference");
        e.set(MANUAL_NUMBER, Some(4), vec!["3001".into()]);
        assert!(!has_own_data(&e), "given by a connector, not by hand");
        assert_eq!(describe_own_data(&e), "none");
        e.set(MANUAL_NUMBER, None, vec!["3001".into(), "3002".into()]);
        e.set(DYNAMIC_STATUS, None, vec![status_value("Away", "1001")]);
        assert!(has_own_data(&e));
        assert_eq!(
            describe_own_data(&e),
            "numbers added by hand: 3001, 3002; dynamic statuses: \"Away\" (make call from 1001)"
        );
        let listed = listed_numbers(&e);
        assert_eq!(listed.values, ["1001", "3001", "3002"]);
        assert_eq!(listed.hand_added, ["3001", "3002"]);
    }
}
