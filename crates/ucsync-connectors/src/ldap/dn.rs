//! Distinguished names (RFC 4514): parsing into normalized parts to compare them, splitting
//! off the RDN and the parent, and building a DN from an attribute value.

/// One RDN, normalized for comparison: attribute types lowercased, values unescaped, trimmed
/// and lowercased (the naming attributes in use match case-insensitively). A multi-valued RDN
/// keeps its parts sorted.
pub type NormRdn = Vec<(String, String)>;

/// The normalized RDNs of a DN, most specific first; `None` when it is not a DN.
///
/// Lenient where servers and people are (spaces around separators, `\,` as well as `\2C`), so
/// that every DN a server sends is understood; [`check`] is the strict test for DNs ucsync is
/// about to send.
pub fn parse(dn: &str) -> Option<Vec<NormRdn>> {
    let dn = trim(dn);
    if dn.is_empty() {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for rdn in split_unescaped(dn, ',') {
        let mut parts = Vec::new();
        for ava in split_unescaped(rdn, '+') {
            let (t, v) = split_once_unescaped(ava, '=')?;
            let t = t.trim();
            if t.is_empty()
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return None;
            }
            parts.push((t.to_ascii_lowercase(), unescape(trim(v))?.to_lowercase()));
        }
        parts.sort();
        out.push(parts);
    }
    Some(out)
}

/// Whether two DNs name the same entry.
pub fn same(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// Why `dn` is not a DN ucsync should send (RFC 4514), or `Ok` when it is one: every RDN
/// `type=value`, the type a name or an OID, the value not empty, the characters `" ; < > \\`
/// escaped, a leading `#` only for a hex (BER) value, every escape `\\` + special character
/// or two hex digits.
pub fn check(dn: &str) -> Result<(), String> {
    let dn = trim(dn);
    if dn.is_empty() {
        return Err("it is empty".to_owned());
    }
    for rdn in split_unescaped(dn, ',') {
        for ava in split_unescaped(rdn, '+') {
            let Some((t, v)) = split_once_unescaped(ava, '=') else {
                return Err(format!("\"{}\" is not attribute=value", ava.trim()));
            };
            let t = t.trim();
            let name = t.starts_with(|c: char| c.is_ascii_alphabetic())
                && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let oid = !t.is_empty()
                && t.split('.')
                    .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !name && !oid {
                return Err(format!("\"{t}\" is not an attribute type"));
            }
            check_value(t, trim(v))?;
        }
    }
    Ok(())
}

fn check_value(t: &str, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("the value of {t} is empty"));
    }
    if let Some(hex) = v.strip_prefix('#') {
        return if !hex.is_empty()
            && hex.len().is_multiple_of(2)
            && hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            Ok(())
        } else {
            Err(format!(
                "the value of {t} starts with # but is not hex (write \\# for a #)"
            ))
        };
    }
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let special = |c: u8| b"\\\" +,;<>#= ".contains(&c);
                match (b.get(i + 1), b.get(i + 2)) {
                    (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                    (Some(x), _) if special(*x) => i += 2,
                    _ => {
                        return Err(format!(
                            "the value of {t} has a \\ that escapes nothing (write \\\\ for a backslash)"
                        ));
                    }
                }
            }
            c @ (b'"' | b';' | b'<' | b'>') => {
                return Err(format!(
                    "the value of {t} holds {} without a \\ before it",
                    c as char
                ));
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The first RDN as written and the parent DN as written.
pub fn split_first(dn: &str) -> (&str, &str) {
    let dn = trim(dn);
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => return (trim(&dn[..i]), trim(&dn[i + 1..])),
            _ => escaped = false,
        }
    }
    (dn, "")
}

/// The attribute type and the value (unescaped, as written) of a DN's first RDN; `None` when
/// that RDN is multi-valued or not `type=value`.
pub fn first_ava(dn: &str) -> Option<(String, String)> {
    let (rdn, _) = split_first(dn);
    let [ava] = split_unescaped(rdn, '+')[..] else {
        return None;
    };
    let (t, v) = split_once_unescaped(ava, '=')?;
    Some((t.trim().to_owned(), unescape(trim(v))?))
}

/// `attr=value,parent` with the value escaped.
pub fn build(attr: &str, value: &str, parent: &str) -> String {
    let rdn = format!("{attr}={}", ldap3::dn_escape(value));
    if parent.is_empty() {
        rdn
    } else {
        format!("{rdn},{parent}")
    }
}

/// `s` without the spaces around it, an escaped trailing space (`\\ `) kept.
fn trim(s: &str) -> &str {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1].is_ascii_whitespace() {
        let backslashes = b[..end - 1]
            .iter()
            .rev()
            .take_while(|&&c| c == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &s[..end]
}

fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == sep && !escaped => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => escaped = false,
        }
    }
    out.push(&s[start..]);
    out
}

fn split_once_unescaped(s: &str, sep: char) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == sep && !escaped => return Some((&s[..i], &s[i + 1..])),
            _ => escaped = false,
        }
    }
    None
}

/// Removes RFC 4514 escapes (`\,` and `\2C` alike); `None` on a broken escape.
fn unescape(v: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(v.len());
    let raw = v.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let next = *raw.get(i + 1)?;
            if next.is_ascii_hexdigit() && raw.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                bytes.push(next);
                i += 2;
            }
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_compare_normalized() {
        assert!(same(
            "CN=Ann Lee, OU=People,dc=Example,dc=com",
            "cn=ann lee,ou=people,dc=example,dc=com"
        ));
        assert!(same("cn=Lee\\, Ann,dc=x", "cn=lee\\2C ann,dc=x"));
        assert!(!same("cn=a,dc=x", "cn=a,dc=y"));
        assert!(parse("not a dn").is_none());
        assert!(parse("cn=a,=b").is_none());
        assert_eq!(parse("").map(|p| p.len()), Some(0));
    }

    #[test]
    fn first_rdn_and_parent() {
        assert_eq!(
            split_first("cn=Lee\\, Ann,ou=P,dc=x"),
            ("cn=Lee\\, Ann", "ou=P,dc=x")
        );
        assert_eq!(split_first("dc=x"), ("dc=x", ""));
        assert_eq!(
            build("cn", "Lee, Ann", "dc=x"),
            "cn=Lee\\2c Ann,dc=x".replace("\\2c", &ldap3::dn_escape(","))
        );
        assert!(same(&build("cn", "Lee, Ann", "dc=x"), "cn=Lee\\, Ann,dc=x"));
    }

    #[test]
    fn an_escaped_trailing_space_is_part_of_the_value() {
        assert!(same("cn=Ann\\ ,dc=x", "cn=Ann\\20,dc=x"));
        assert!(!same("cn=Ann\\ ,dc=x", "cn=Ann,dc=x"));
        assert_eq!(split_first("cn=Ann\\ ,dc=x"), ("cn=Ann\\ ", "dc=x"));
        assert_eq!(
            first_ava("uid=Lee\\2C Ann\\20,dc=x"),
            Some(("uid".to_owned(), "Lee, Ann ".to_owned()))
        );
        assert_eq!(first_ava("cn=a+sn=b,dc=x"), None);
    }

    #[test]
    fn check_says_why_a_dn_is_not_one() {
        for good in [
            "cn=Lee\\, Ann,ou=People,dc=x",
            "CN=Ann Lee, OU=People,dc=Example,dc=com",
            "cn=a+sn=b,dc=x",
            "2.5.4.3=x,dc=x",
            "cn=#04024869,dc=x",
            "cn=\\23hash\\20,dc=x",
            "cn=eq=sign,dc=x",
            &build("cn", " q\"uote; <a+b> \\ ", "dc=x"),
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("cn=Lee, Ann,dc=x", "\"Ann\" is not attribute=value"),
            ("1cn=x,dc=x", "\"1cn\" is not an attribute type"),
            ("cn=,dc=x", "the value of cn is empty"),
            ("cn=#hash,dc=x", "starts with # but is not hex"),
            ("cn=a\\qb,dc=x", "escapes nothing"),
            ("cn=a;b,dc=x", "holds ; without"),
            ("cn=q\"uote,dc=x", "holds \" without"),
        ] {
            let err = check(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
