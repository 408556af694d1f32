//! Accounts: directory entries of people as a UC service sees them. Besides what connectors
//! give, an account carries data of its own, set by hand and owned by no connector:
//!
//! - numbers an administrator added (`manualNumber`, one number per value);
//! - dynamic statuses (`dynamicStatus`), each `NAME=NUMBER`: the status's name and the number
//!   it makes calls from ("make call from").
//!
//! Both are references for the number-retention rule: a number a PBX node no longer lists stays
//! on its account while one of them refers to it ([`referenced_numbers`]).

use std::collections::BTreeSet;

use crate::entry::EntryAttrs;

/// Numbers added to an account by hand.
pub const MANUAL_NUMBER: &str = "manualNumber";
/// Dynamic statuses, `NAME=NUMBER`.
pub const DYNAMIC_STATUS: &str = "dynamicStatus";

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
}
