//! The rule for enterprise IDs: the name by which an enterprise is known to other servers (a
//! peer's `peer_enterprise_id`, a local `[enterprises.NAME] id`). It appears in URLs and in
//! lists separated by `|`, `,`, `;` or `:`, so it holds none of them and no space.
//!
//! This module owns the rule and its words; it knows nothing of where an ID is configured.

/// The rule, as messages state it.
pub const ENTERPRISE_ID_RULE: &str = "an enterprise ID has 4 to 32 characters, each a letter (a-z, A-Z), a digit or a dash '-', never a space or one of | , ; :";

/// The shortest and the longest enterprise ID, in characters.
pub const ENTERPRISE_ID_LENGTH: std::ops::RangeInclusive<usize> = 4..=32;

/// Whether `id` is a valid enterprise ID; the error names the first thing wrong and the rule.
pub fn check_enterprise_id(id: &str) -> Result<(), String> {
    if let Some((at, c)) = id
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let what = match c {
            ' ' => "a space".to_owned(),
            '|' | ',' | ';' | ':' => format!("'{c}'"),
            c if c.is_alphanumeric() => format!("'{c}', which is not a letter from a to z"),
            c if c.is_control() || c.is_whitespace() => {
                format!(
                    "U+{:04X}, which is not a letter, digit or dash",
                    u32::from(c)
                )
            }
            c => format!("'{c}', which is not a letter, digit or dash"),
        };
        return Err(format!(
            "{id:?} holds {what} at character {}; {ENTERPRISE_ID_RULE}",
            at + 1
        ));
    }
    let n = id.chars().count();
    if !ENTERPRISE_ID_LENGTH.contains(&n) {
        let size = if n < *ENTERPRISE_ID_LENGTH.start() {
            "too short"
        } else {
            "too long"
        };
        return Err(format!(
            "{id:?} is {size} ({n} characters); {ENTERPRISE_ID_RULE}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(id: &str) -> String {
        match check_enterprise_id(id) {
            Ok(()) => format!("{id:?} was accepted"),
            Err(m) => m,
        }
    }

    #[test]
    fn ids_of_4_to_32_characters_are_valid() {
        for id in ["abcd", "acme-hq", "A1-b2", &"x".repeat(32), "----", "2024"] {
            assert_eq!(check_enterprise_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn ids_of_3_or_33_characters_are_not() {
        let m = refused("abc");
        assert!(m.contains("too short (3 characters)"), "{m}");
        assert!(m.contains("4 to 32 characters"), "{m}");
        let m = refused(&"x".repeat(33));
        assert!(m.contains("too long (33 characters)"), "{m}");
        assert!(refused("").contains("too short (0 characters)"));
        // Characters are counted, not bytes.
        assert!(refused("äbcd").contains("'ä', which is not a letter from a to z"));
    }

    #[test]
    fn each_forbidden_character_is_named_with_its_place() {
        for (id, what) in [
            ("acme hq", "a space at character 5"),
            ("acme|hq", "'|' at character 5"),
            ("acme,hq", "',' at character 5"),
            ("acme;hq", "';' at character 5"),
            ("acme:hq", "':' at character 5"),
            ("acme_hq", "'_', which is not a letter, digit or dash"),
            ("acme.hq", "'.', which is not a letter, digit or dash"),
            ("acme/hq", "'/', which is not a letter, digit or dash"),
            ("acme\thq", "U+0009, which is not a letter, digit or dash"),
        ] {
            let m = refused(id);
            assert!(m.contains(what), "{id:?}: {m}");
            assert!(m.ends_with(ENTERPRISE_ID_RULE), "{id:?}: {m}");
        }
        // A bad character is named before the length.
        assert!(refused("a b").contains("a space"));
    }
}
