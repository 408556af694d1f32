//! Dial strings: how a number of a peer's contact is dialed from here. The PBX node's outgoing
//! digit, then the peer's dialing prefix, then the number as the peer gives it. A prefix that
//! starts with `-` means "no outgoing digit" (the `-` itself is not dialed); no prefix means the
//! number is dialed as it is.
//!
//! Pure functions: this module knows no settings file and no peer.

/// The dial string of `number` with `prefix` (`dialing_prefix`) and `outgoing_digit`.
pub fn dial_string(outgoing_digit: Option<&str>, prefix: &str, number: &str) -> String {
    if prefix.is_empty() {
        return number.to_owned();
    }
    match prefix.strip_prefix('-') {
        Some(prefix) => format!("{prefix}{number}"),
        None => format!("{}{prefix}{number}", outgoing_digit.unwrap_or("")),
    }
}

/// The dial strings of `numbers`, one each, in their order.
pub fn dial_strings(outgoing_digit: Option<&str>, prefix: &str, numbers: &[String]) -> Vec<String> {
    numbers
        .iter()
        .map(|n| dial_string(outgoing_digit, prefix, n))
        .collect()
}
