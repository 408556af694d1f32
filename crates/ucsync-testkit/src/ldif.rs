//! Reading the LDIF that `ldapsearch -LLL` prints into [`Entry`] values.

use std::collections::BTreeMap;

/// One entry as `ldapsearch` returned it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The DN as the server spelled it.
    pub dn: String,
    /// Every attribute with its values as text, under the name the server printed. A value
    /// that LDIF gave in base64 (`attr:: …`) is decoded; one that is not UTF-8 (objectGUID,
    /// objectSid, …) stays in base64 here and is in [`Entry::raw`] as bytes.
    pub attrs: BTreeMap<String, Vec<String>>,
    /// Every attribute with its values as the exact bytes.
    pub raw: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// The text values of `attr` (name matched without regard to case), empty when absent.
    #[must_use]
    pub fn get(&self, attr: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(attr))
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// The first text value of `attr`.
    #[must_use]
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.get(attr).first().map(String::as_str)
    }

    /// The values of `attr` as bytes (for binary attributes such as objectGUID).
    #[must_use]
    pub fn bytes(&self, attr: &str) -> &[Vec<u8>] {
        self.raw
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(attr))
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// Whether the entry has `attr`.
    #[must_use]
    pub fn has(&self, attr: &str) -> bool {
        !self.get(attr).is_empty()
    }

    fn push(&mut self, name: &str, value: Vec<u8>, base64: &str) {
        let text = match String::from_utf8(value.clone()) {
            Ok(text) => text,
            Err(_) => base64.to_owned(),
        };
        self.attrs.entry(name.to_owned()).or_default().push(text);
        self.raw.entry(name.to_owned()).or_default().push(value);
    }
}

/// Parses search results in LDIF (as `ldapsearch -LLL -o ldif-wrap=no` prints them; folded
/// lines, `attr:: base64` values, comments and search references are handled). Lines that are
/// not `name: value` are skipped.
#[must_use]
pub fn parse_ldif(text: &str) -> Vec<Entry> {
    // Unfold: a line starting with one space continues the previous line.
    let mut logical: Vec<String> = Vec::new();
    let mut in_comment = false;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = line.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            if let Some(last) = logical.last_mut()
                && !last.is_empty()
            {
                last.push_str(rest);
                continue;
            }
        }
        in_comment = line.starts_with('#');
        if in_comment {
            continue;
        }
        logical.push(line.to_owned());
    }

    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    for line in logical {
        if line.trim().is_empty() {
            entries.extend(current.take());
            continue;
        }
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let (value, base64) = if let Some(encoded) = rest.strip_prefix(':') {
            let encoded = encoded.trim();
            match decode_base64(encoded) {
                Some(bytes) => (bytes, encoded.to_owned()),
                None => (encoded.as_bytes().to_vec(), encoded.to_owned()),
            }
        } else {
            let value = rest.trim_start_matches(' ');
            (value.as_bytes().to_vec(), String::new())
        };
        if name.eq_ignore_ascii_case("dn") {
            entries.extend(current.take());
            current = Some(Entry {
                dn: String::from_utf8_lossy(&value).into_owned(),
                ..Entry::default()
            });
        } else if let Some(entry) = current.as_mut() {
            entry.push(name, value, &base64);
        }
        // `version: 1` and anything else before the first dn is ignored.
    }
    entries.extend(current);
    entries
}

/// Standard base64 (with or without padding); `None` when `text` is not base64.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(
            match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            }
            .into(),
        )
    }
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let digits = digits
        .strip_suffix(b"==")
        .unwrap_or(digits.strip_suffix(b"=").unwrap_or(digits.as_slice()));
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | sextet(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Standard base64 with padding.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One `name: value` LDIF line, in base64 (`name:: …`) when LDIF requires it (a value that is
/// not plain ASCII, starts with a space, `:` or `<`, or ends with a space).
#[must_use]
pub fn ldif_line(name: &str, value: &str) -> String {
    let safe = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        format!("{name}: {value}\n")
    } else {
        format!("{name}:: {}\n", encode_base64(value.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "Müller ", "\u{1F600}x"] {
            let encoded = encode_base64(s.as_bytes());
            assert_eq!(decode_base64(&encoded).unwrap(), s.as_bytes(), "{encoded}");
        }
        assert_eq!(encode_base64(b"ab"), "YWI=");
        assert_eq!(decode_base64("YWI").unwrap(), b"ab");
        assert!(decode_base64("a*b=").is_none());
    }

    #[test]
    fn parses_folded_base64_comments_and_references() {
        let text = "version: 1\n\n# comment that\n  continues\ndn: uid=a,ou=people,dc=x\nobjectClass: top\nobjectClass: person\ncn: Anna\n  Lang\nsn:: TcO8bGxlcg==\nobjectGUID:: zFLQWiA5Z0mQRn+G8lD7Sg==\n\n# refldap://example.test/CN=Configuration,DC=example,DC=test\n\ndn:: Y249TcO8bGxlcixkYz14\ncn: M\n";
        let entries = parse_ldif(text);
        assert_eq!(entries.len(), 2);
        let a = &entries[0];
        assert_eq!(a.dn, "uid=a,ou=people,dc=x");
        assert_eq!(a.get("objectclass"), ["top", "person"]);
        assert_eq!(a.first("cn"), Some("Anna Lang"));
        assert_eq!(a.first("sn"), Some("Müller"));
        assert_eq!(a.first("objectGUID"), Some("zFLQWiA5Z0mQRn+G8lD7Sg=="));
        assert_eq!(a.bytes("objectGUID")[0].len(), 16);
        assert!(!a.has("mail"));
        assert_eq!(entries[1].dn, "cn=Müller,dc=x");
    }

    #[test]
    fn ldif_lines_are_safe() {
        assert_eq!(ldif_line("cn", "Anna"), "cn: Anna\n");
        assert_eq!(ldif_line("sn", "Müller"), "sn:: TcO8bGxlcg==\n");
        assert_eq!(ldif_line("x", " lead"), "x:: IGxlYWQ=\n");
    }
}
