//! The valid-character rule: the characters a value may hold (`character_rule`, on by default
//! for every connector kind, `character_rule = false` turns it off for one connector): 0x9,
//! 0xA, 0xD, 0x20–0xD7FF, 0xE000–0xFFFD and 0x10000–0x10FFFF (the characters of XML 1.0).
//! Anything else is invalid. The engine checks what a connector imports and what it is asked to
//! export with the same functions, so both report an invalid value in the same words.
//!
//! The surrogates 0xD800–0xDFFF never reach this check: a Rust `str` cannot hold them, so a
//! decoder has already rejected them or replaced them with U+FFFD.

use std::fmt;

use crate::attrs::{Attrs, DecodeError, EncodedAttrs, Reader};

/// Whether `c` is allowed by the valid-character rule.
pub fn is_valid(c: char) -> bool {
    matches!(
        u32::from(c),
        0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF
    )
}

/// Whether `bytes` may hold an invalid character. In UTF-8 an invalid character starts with a
/// control byte (< 0x20; tab, line feed and carriage return are let through here and decided
/// by [`is_valid`]) or is U+FFFE / U+FFFF (lead byte 0xEF). Eight bytes are looked at a time:
/// most values hold no such byte, and this runs for every value imported and exported.
fn suspect(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `x` is below 0x20 or is 0xEF (a byte equal to 0xEF is a zero byte of
    // `x ^ 0xEF…`). Each test may only err when another byte of the word does match.
    let word = |x: u64| {
        let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let y = x ^ (ONES * 0xEF);
        let ef = y.wrapping_sub(ONES) & !y & HIGH;
        below | ef != 0
    };
    let load = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0x2020_2020_2020_2020, u64::from_le_bytes)
    };
    let n = bytes.len();
    if n < 8 {
        return bytes.iter().any(|&b| b < 0x20 || b == 0xEF);
    }
    let mut at = 0;
    while at + 8 <= n {
        if word(load(at)) {
            return true;
        }
        at += 8;
    }
    // The last bytes, as the last eight (some of them seen already).
    at < n && word(load(n - 8))
}

/// The first character of `value` the rule does not allow: its 1-based position in characters
/// (not bytes) and the character.
pub fn first_invalid(value: &str) -> Option<(usize, char)> {
    // Most values are short and ASCII: a value without a suspect byte needs no decoding.
    if !suspect(value.as_bytes()) {
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

/// Where the first invalid character of an attribute set is. Displayed as
/// `attribute "displayName" has an invalid character U+0007 at position 5`, with `(value 2 of
/// 3)` after the name when the attribute has several values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub attribute: String,
    /// The 1-based index of the value among `values`.
    pub value: usize,
    pub values: usize,
    /// The 1-based position of the character in the value, in characters.
    pub position: usize,
    pub character: char,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attribute \"{}\"", self.attribute)?;
        if self.values > 1 {
            write!(f, " (value {} of {})", self.value, self.values)?;
        }
        write!(
            f,
            " has an invalid character {} at position {}",
            code_point(self.character),
            self.position
        )
    }
}

/// Checks value `index` (0-based) of the `count` values of attribute `name`.
fn invalid_value(name: &str, index: usize, count: usize, value: &str) -> Option<Invalid> {
    first_invalid(value).map(|(position, character)| Invalid {
        attribute: name.to_owned(),
        value: index + 1,
        values: count,
        position,
        character,
    })
}

/// The first invalid character of any value of `attrs`, in name order.
pub fn invalid_in(attrs: &Attrs) -> Option<Invalid> {
    attrs.iter().find_map(|(name, values)| {
        values
            .iter()
            .enumerate()
            .find_map(|(i, v)| invalid_value(name, i, values.len(), v))
    })
}

/// As [`invalid_in`], over attributes still encoded ([`Attrs::encode`]): read in place, as
/// bytes, without decoding them into strings; only a suspect value is read as text. An error
/// when the bytes are not such an encoding.
pub fn invalid_in_encoded(attrs: &EncodedAttrs) -> Result<Option<Invalid>, DecodeError> {
    let mut r = Reader::unchecked(attrs.as_bytes());
    let not_text = |at| DecodeError {
        at,
        what: "string is not UTF-8",
    };
    for _ in 0..r.len()? {
        let name = r.bytes()?;
        let count = r.len()?;
        for i in 0..count {
            let value = r.bytes()?;
            if !suspect(value) {
                continue;
            }
            let value = std::str::from_utf8(value).map_err(|_| not_text(0))?;
            let name = std::str::from_utf8(name).map_err(|_| not_text(0))?;
            if let Some(found) = invalid_value(name, i, count, value) {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
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
    fn every_byte_of_a_word_is_looked_at_and_only_suspect_bytes_are_taken() {
        for len in 1..=20 {
            for at in 0..len {
                for bad in [0x00u8, 0x01, 0x08, 0x0B, 0x1F, 0xEF] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = bad;
                    assert!(suspect(&bytes), "{bad:#x} at {at} of {len}");
                }
                for good in [
                    b'\t', b'\n', b'\r', 0x20, 0x7F, 0x80, 0xC3, 0xEE, 0xF0, 0xFF,
                ] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = good;
                    let expected = matches!(good, b'\t' | b'\n' | b'\r');
                    assert_eq!(suspect(&bytes), expected, "{good:#x} at {at} of {len}");
                }
            }
        }
        assert!(!suspect(b""));
    }

    #[test]
    fn long_values_are_checked_past_the_first_sixteen_bytes() {
        let long = "x".repeat(40);
        for at in [0, 7, 8, 15, 16, 17, 31, 32, 39] {
            let mut s = long.clone();
            s.replace_range(at..=at, "\u{1}");
            assert_eq!(first_invalid(&s), Some((at + 1, '\u{1}')), "at {at}");
        }
        assert_eq!(first_invalid(&long), None);
    }

    fn attrs(pairs: &[(&str, &[&str])]) -> Attrs {
        pairs
            .iter()
            .map(|(n, vs)| (n.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect()
    }

    #[test]
    fn an_attribute_set_names_its_first_invalid_value_decoded_or_encoded() {
        let a = attrs(&[
            ("cn", &["Ann"]),
            ("displayName", &["Hu\u{0}go"]),
            ("member", &["a", "b\u{7}", "c\u{8}"]),
        ]);
        let found = invalid_in(&a).unwrap();
        assert_eq!(
            found.to_string(),
            "attribute \"displayName\" has an invalid character U+0000 at position 3"
        );
        assert_eq!(
            invalid_in_encoded(&EncodedAttrs::from(&a)).unwrap(),
            Some(found)
        );

        let b = attrs(&[("cn", &["Ann"]), ("member", &["a", "b\u{7}", "c\u{8}"])]);
        let found = invalid_in(&b).unwrap();
        assert_eq!(
            found.to_string(),
            "attribute \"member\" (value 2 of 3) has an invalid character U+0007 at position 2"
        );
        assert_eq!(
            invalid_in_encoded(&EncodedAttrs::from(&b)).unwrap(),
            Some(found)
        );

        let good = attrs(&[("cn", &["Ann\tB"]), ("note", &["a\nb", "\u{FFFD}"])]);
        assert_eq!(invalid_in(&good), None);
        assert_eq!(
            invalid_in_encoded(&EncodedAttrs::from(&good)).unwrap(),
            None
        );
        assert!(invalid_in_encoded(&EncodedAttrs::from_bytes(vec![5, 1])).is_err());
    }

    #[test]
    fn code_points_are_written_with_at_least_four_digits() {
        assert_eq!(code_point('\u{7}'), "U+0007");
        assert_eq!(code_point('\u{FFFE}'), "U+FFFE");
        assert_eq!(code_point('\u{10FFFF}'), "U+10FFFF");
    }
}
