//! The cells of an export: booleans and MAC addresses.

use super::super::records::{parse_bool, parse_mac};

#[test]
fn booleans_are_yes_no_true_false_1_0_or_empty_in_any_case() {
    for (cell, want) in [
        ("yes", Some(true)),
        ("YES", Some(true)),
        ("True", Some(true)),
        ("1", Some(true)),
        ("no", Some(false)),
        ("FALSE", Some(false)),
        ("0", Some(false)),
        ("", Some(false)),
        ("y", None),
        ("maybe", None),
        ("2", None),
    ] {
        assert_eq!(parse_bool(cell), want, "{cell:?}");
    }
}

#[test]
fn mac_addresses_take_colons_or_dashes_and_are_written_upper_case_with_colons() {
    for (cell, want) in [
        ("", Ok(None)),
        ("a1-21-00-3c-00-41", Ok(Some("A1:21:00:3C:00:41"))),
        ("A1:21:00:3C:00:41", Ok(Some("A1:21:00:3C:00:41"))),
        ("08:00:0f-4a:10:01", Ok(Some("08:00:0F:4A:10:01"))),
        ("A1:21:00", Err(())),
        ("A121003C0041", Err(())),
        ("A1:21:00:3C:00:4G", Err(())),
        ("A1:21:00:3C:00:411", Err(())),
    ] {
        assert_eq!(
            parse_mac(cell),
            want.map(|m| m.map(str::to_owned)),
            "{cell:?}"
        );
    }
}
