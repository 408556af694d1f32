//! Enterprise IDs: how a peer server names the enterprise it reads, and how this server names
//! its own enterprises for peers.

/// The shortest and longest enterprise ID.
pub const ENTERPRISE_ID_LENGTH: std::ops::RangeInclusive<usize> = 4..=32;

/// Why `id` is not an enterprise ID, if it is not one: 4 to 32 characters of letters, digits
/// and dashes (never spaces, `|`, `,`, `;` or `:`).
pub fn check_enterprise_id(id: &str) -> Result<(), String> {
    let len = id.chars().count();
    if !ENTERPRISE_ID_LENGTH.contains(&len) {
        return Err(format!(
            "\"{id}\" has {len} characters; an enterprise ID has {} to {}",
            ENTERPRISE_ID_LENGTH.start(),
            ENTERPRISE_ID_LENGTH.end()
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let what = match c {
            ' ' => "a space".to_owned(),
            c => format!("\"{c}\""),
        };
        return Err(format!(
            "\"{id}\" holds {what}; an enterprise ID holds only letters, digits and dashes (never spaces or | , ; :)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_id_has_4_to_32_letters_digits_and_dashes() {
        assert!(check_enterprise_id("acme").is_ok());
        assert!(check_enterprise_id(&"a-1".repeat(10)[..30]).is_ok());
        assert!(check_enterprise_id(&"x".repeat(32)).is_ok());
        for bad in ["abc", &"x".repeat(33)] {
            let e = check_enterprise_id(bad).unwrap_err();
            assert!(e.contains("4 to 32"), "{e}");
        }
        for c in [' ', '|', ',', ';', ':', '_', '.', 'é'] {
            let id = format!("acme{c}hq");
            let e = check_enterprise_id(&id).unwrap_err();
            assert!(e.contains("only letters, digits and dashes"), "{id}: {e}");
        }
    }
}
