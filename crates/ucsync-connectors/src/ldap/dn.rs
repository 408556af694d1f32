//! Distinguished names (RFC 4514): parsing into normalized parts to compare them, splitting
//! off the RDN and the parent, and building a DN from an attribute value.

/// One RDN, normalized for comparison: attribute types lowercased, values unescaped, trimmed
/// and lowercased (the naming attributes in use match case-insensitively). A multi-valued RDN
/// keeps its parts sorted.
pub type NormRdn = Vec<(String, String)>;

/// The normalized RDNs of a DN, most specific first; `None` when it is not a DN.
pub fn parse(dn: &str) -> Option<Vec<NormRdn>> {
    let dn = dn.trim();
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
            parts.push((t.to_ascii_lowercase(), unescape(v.trim())?.to_lowercase()));
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

/// The first RDN as written and the parent DN as written.
pub fn split_first(dn: &str) -> (&str, &str) {
    let dn = dn.trim();
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => return (dn[..i].trim(), dn[i + 1..].trim()),
            _ => escaped = false,
        }
    }
    (dn, "")
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
}
