//! The dial-string rule: outgoing digit + prefix + number; `-` drops the outgoing digit; no
//! prefix dials the number as it is.

use crate::peer::dial::{dial_string, dial_strings};

#[test]
fn dial_strings_follow_the_rule() {
    let table: [(Option<&str>, &str, &str, &str); 9] = [
        // outgoing digit, prefix, number, dial string
        (Some("9"), "8", "4711", "984711"),
        (Some("9"), "-8", "4711", "84711"),
        (Some("9"), "", "4711", "4711"),
        (None, "8", "4711", "84711"),
        (None, "-8", "4711", "84711"),
        (None, "", "4711", "4711"),
        (Some("00"), "0049", "894711", "000049894711"),
        (Some("9"), "-", "4711", "4711"),
        (Some("9"), "-12-", "4711", "12-4711"),
    ];
    for (digit, prefix, number, expected) in table {
        assert_eq!(
            dial_string(digit, prefix, number),
            expected,
            "{digit:?} {prefix:?} {number:?}"
        );
    }
}

#[test]
fn several_numbers_get_one_dial_string_each_in_order() {
    let numbers = vec!["4711".to_owned(), "4712".to_owned(), "+49 89 1".to_owned()];
    assert_eq!(
        dial_strings(Some("9"), "8", &numbers),
        ["984711", "984712", "98+49 89 1"]
    );
    assert_eq!(
        dial_strings(Some("9"), "-8", &numbers),
        ["84711", "84712", "8+49 89 1"]
    );
    assert!(dial_strings(Some("9"), "8", &[]).is_empty());
}
