//! Search result entries as ucsync stages them: the BER of an entry read without ever
//! panicking on what a server sends, each entry classified into an object type, its anchor
//! formatted, its values checked to be text.

use ldap3::asn1::{PL, StructureTag};

use super::config::{LdapSettings, Mode, ObjectType};
use super::dn;
use ucsync_model::Attrs;

/// One entry as the server sent it.
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    pub fn get(&self, name: &str) -> Option<&[Vec<u8>]> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads a SearchResultEntry (`[APPLICATION 4] { objectName, attributes }`); `None` when the
/// BER is not one.
pub fn parse(tag: StructureTag) -> Option<RawEntry> {
    let mut parts = match tag.payload {
        PL::C(parts) if tag.id == 4 => parts.into_iter(),
        _ => return None,
    };
    let dn = octets(parts.next()?)?;
    let dn = String::from_utf8(dn).ok()?;
    let mut attrs = Vec::new();
    if let Some(PL::C(list)) = parts.next().map(|t| t.payload) {
        for a in list {
            let PL::C(pair) = a.payload else { return None };
            let mut pair = pair.into_iter();
            let name = String::from_utf8(octets(pair.next()?)?).ok()?;
            let values = match pair.next().map(|t| t.payload) {
                Some(PL::C(vals)) => vals.into_iter().filter_map(octets).collect(),
                _ => Vec::new(),
            };
            attrs.push((name, values));
        }
    }
    Some(RawEntry { dn, attrs })
}

fn octets(t: StructureTag) -> Option<Vec<u8>> {
    match t.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

/// A 16-byte UUID as text: RFC 4122 order for `entryUUID`, Active Directory's mixed-endian
/// order for `objectGUID`.
pub fn uuid_text(bytes: &[u8], mode: Mode) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    let (d1, d2, d3) = match mode {
        Mode::OpenLdap => ([b[0], b[1], b[2], b[3]], [b[4], b[5]], [b[6], b[7]]),
        Mode::ActiveDirectory => ([b[3], b[2], b[1], b[0]], [b[5], b[4]], [b[7], b[6]]),
    };
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex(&d1),
        hex(&d2),
        hex(&d3),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}

/// The object type an entry belongs to: the first whose object classes it has and whose base
/// and scope hold its DN; none for an entry in a container of `exclude_dns`.
pub fn classify<'a>(s: &'a LdapSettings, e: &RawEntry) -> Option<&'a ObjectType> {
    if s.excluded(&e.dn) {
        return None;
    }
    let classes: Vec<String> = e
        .get("objectClass")
        .unwrap_or(&[])
        .iter()
        .map(|v| String::from_utf8_lossy(v).to_ascii_lowercase())
        .collect();
    let parsed = dn::parse(&e.dn)?;
    s.object_types.iter().find(|t| {
        t.object_classes
            .iter()
            .all(|c| classes.contains(&c.to_ascii_lowercase()))
            && s.bases_of(t)
                .into_iter()
                .any(|b| in_scope(&parsed, b, t.scope))
    })
}

fn in_scope(dn: &[dn::NormRdn], base: &str, scope: super::config::Scope) -> bool {
    let Some(b) = dn::parse(base) else {
        return false;
    };
    if dn.len() < b.len() || dn[dn.len() - b.len()..] != b[..] {
        return false;
    }
    match scope {
        super::config::Scope::Base => dn.len() == b.len(),
        super::config::Scope::One => dn.len() == b.len() + 1,
        super::config::Scope::Sub => true,
    }
}

/// The anchor of an entry, as text.
pub fn anchor(s: &LdapSettings, e: &RawEntry) -> Result<String, String> {
    let values = e.get(&s.anchor).unwrap_or(&[]);
    let Some(v) = values.first() else {
        return Err(format!(
            "the entry has no {} (the anchor); check that the bind DN may read it",
            s.anchor
        ));
    };
    if s.anchor.eq_ignore_ascii_case("objectGUID") {
        return uuid_text(v, Mode::ActiveDirectory)
            .ok_or_else(|| "objectGUID is not 16 bytes".to_owned());
    }
    String::from_utf8(v.clone()).map_err(|_| format!("the anchor {} is not text", s.anchor))
}

/// The staged attributes of an entry: `dn`, `objectClass` and the type's attributes under
/// their staged names. Values that are not UTF-8 text are an error naming the attribute.
pub fn staged_attrs(t: &ObjectType, e: &RawEntry) -> Result<Attrs, String> {
    let mut attrs = Attrs::new();
    attrs.set("dn".to_owned(), vec![e.dn.clone()]);
    for (name, values) in &e.attrs {
        let staged = if name.eq_ignore_ascii_case("objectClass") {
            "objectClass"
        } else {
            match t.staged_name(name) {
                Some(s) => s,
                None => continue,
            }
        };
        let mut text = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            match std::str::from_utf8(v) {
                Ok(s) => text.push(s.to_owned()),
                Err(_) => {
                    return Err(format!(
                        "attribute {name} value {} is binary, not text; remove {name} from the attributes of object type {}",
                        i + 1,
                        t.name
                    ));
                }
            }
        }
        attrs.set(staged.to_owned(), text);
    }
    Ok(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_in_both_byte_orders() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            uuid_text(&b, Mode::OpenLdap).as_deref(),
            Some("00010203-0405-0607-0809-0a0b0c0d0e0f")
        );
        assert_eq!(
            uuid_text(&b, Mode::ActiveDirectory).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(uuid_text(&b[..15], Mode::OpenLdap), None);
    }
}
