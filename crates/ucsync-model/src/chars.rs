//! The valid-character rule: the characters a value may hold when a connector checks them
//! (`character_rule`, on by default for LDAP): 0x9, 0xA, 0xD, 0x20–0xD7FF, 0xE000–0xFFFD and
//! 0x10000–0x10FFFF (the characters of XML 1.0). Anything else is invalid.
//!
//! The surrogates 0xD800–0xDFFF never reach this check: a Rust `str` cannot hold them, so a
//! decoder has already rejected them or replaced them with U+FFFD.

/// Whether `c` is allowed by the valid-character rule.
pub fn is_valid(c: char) -> bool {
    matches!(
        u32::from(c),
        0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF
    )
}

/// The first character of `value` the rule does not allow: its 1-based position in characters
/// (not bytes) and the character.
pub fn first_invalid(value: &str) -> Option<(usize, char)> {
    // Most values are short and ASCII. In UTF-8 an invalid character starts with a control byte
    // (< 0x20 other than tab, line feed, carriage return) or is U+FFFE / U+FFFF (lead byte
    // 0xEF); a value without such a byte needs no decoding.
    let suspect = value
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspect {
        return None;
    }
    value
        .chars()
        .enumerate()
        .find(|&(_, c)| !is_valid(c))
        .map(|(i, c)| (i + 1, c))
}

/// A character as `U+XXXX` (at least four hex digits), for messages.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(cp: u32) -> char {
        char::from_u32(cp).unwrap_or_else(|| panic!("{cp:#x} is not a char"))
    }

    #[test]
    fn every_range_boundary() {
        let valid = [
            0x9, 0xA, 0xD, 0x20, 0x7E, 0x7F, 0xA0, 0xD7FF, 0xE000, 0xEFFF, 0xF000, 0xFFFD, 0x10000,
            0x10FFFF,
        ];
        let invalid = [0x0, 0x1, 0x8, 0xB, 0xC, 0xE, 0x1F, 0xFFFE, 0xFFFF];
        for cp in valid {
            let c = ch(cp);
            assert!(is_valid(c), "{cp:#x} must be valid");
            let s = format!("a{c}b");
            assert_eq!(first_invalid(&s), None, "{cp:#x} alone in {s:?}");
        }
        for cp in invalid {
            let c = ch(cp);
            assert!(!is_valid(c), "{cp:#x} must be invalid");
            let s = format!("a{c}b");
            assert_eq!(first_invalid(&s), Some((2, c)), "{cp:#x} in {s:?}");
            assert_eq!(first_invalid(&c.to_string()), Some((1, c)), "{cp:#x} alone");
        }
    }

    #[test]
    fn the_surrogate_gap_cannot_be_represented() {
        // 0xD800–0xDFFF are not chars: nothing to check, nothing to miss.
        assert!(char::from_u32(0xD800).is_none());
        assert!(char::from_u32(0xDFFF).is_none());
        // The neighbours are valid.
        assert!(is_valid(ch(0xD7FF)) && is_valid(ch(0xE000)));
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(first_invalid(""), None);
        assert_eq!(first_invalid("plain ascii"), None);
        assert_eq!(first_invalid("tab\tlf\ncr\r"), None);
        assert_eq!(first_invalid("Jörg\u{7}"), Some((5, '\u{7}')));
        assert_eq!(first_invalid("李小龙\u{FFFF}x"), Some((4, '\u{FFFF}')));
        assert_eq!(first_invalid("😀\u{1F}"), Some((2, '\u{1F}')));
        // Only the first is reported.
        assert_eq!(first_invalid("ab\u{0}\u{1}"), Some((3, '\u{0}')));
        // 0xEF lead bytes of valid characters are not errors.
        assert_eq!(first_invalid("\u{FEFF}\u{FFFD}\u{F8FF}"), None);
    }

    #[test]
    fn code_points_are_written_with_at_least_four_digits() {
        assert_eq!(code_point('\u{7}'), "U+0007");
        assert_eq!(code_point('\u{FFFE}'), "U+FFFE");
        assert_eq!(code_point('\u{10FFFF}'), "U+10FFFF");
    }
}
