//! Attribute sets: the values of one staged object or one directory entry.
//!
//! An attribute holds one or more string values; an attribute with no value is absent. Names are
//! kept as given (case-sensitive). `Attrs` is ordered, so its encoding and its hash are canonical:
//! two sets with the same values always hash the same, which is how imports tell what changed.
//! This module knows nothing of connectors or of the store; it only gives them a compact binary
//! form to keep.

use std::collections::BTreeMap;
use std::fmt;

use crate::names::NameMap;

/// The values of one object, by attribute name.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attrs(NameMap<Vec<String>>);

/// A JSON object of attribute → values, as API answers and previews show it.
impl serde::Serialize for Attrs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl<'de> serde::Deserialize<'de> for Attrs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Vec<String>>::deserialize(d)?;
        Ok(map.into_iter().collect())
    }
}

impl fmt::Debug for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl Attrs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The values of `name`; empty when the attribute is absent.
    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first value of `name`, if any.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().map(String::as_str)
    }

    /// Sets `name` to `values`, dropping empty strings; no value left removes the attribute.
    pub fn set(&mut self, name: impl Into<String>, values: Vec<String>) {
        let name = name.into();
        let mut values = values;
        values.retain(|v| !v.is_empty());
        if values.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, values);
        }
    }

    /// Sets `name` to a single value (an empty value removes it).
    pub fn set_one(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set(name, vec![value.into()]);
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        self.0.remove(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// The compact binary form kept by the store.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(64 + self.0.len() * 24);
        put_len(&mut buf, self.0.len());
        for (name, values) in self.0.iter() {
            put_str(&mut buf, name);
            put_len(&mut buf, values.len());
            for v in values {
                put_str(&mut buf, v);
            }
        }
        buf
    }

    /// Reads what [`Attrs::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.len()?;
        // Written in name order, so the map is taken as it comes.
        let mut pairs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let name = r.string()?;
            let count = r.len()?;
            let mut values = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                values.push(r.string()?);
            }
            pairs.push((name, values));
        }
        Ok(Attrs(NameMap::from_pairs(pairs)))
    }

    /// Whether `other` holds the same attributes with the same values, in any order.
    pub fn same_values(&self, other: &Attrs) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().all(|(name, values)| {
                other.0.get(name).is_some_and(|o| {
                    let mut a: Vec<&String> = values.iter().collect();
                    let mut b: Vec<&String> = o.iter().collect();
                    a.sort_unstable();
                    b.sort_unstable();
                    a == b
                })
            })
    }

    /// Attribute-by-attribute differences from `self` (old) to `new`.
    pub fn diff(&self, new: &Attrs) -> Vec<AttrChange> {
        let mut out = Vec::new();
        for (name, old_values) in self.0.iter() {
            match new.0.get(name) {
                Some(new_values) if new_values == old_values => {}
                Some(new_values) => out.push(AttrChange {
                    attribute: name.clone(),
                    old: old_values.clone(),
                    new: new_values.clone(),
                }),
                None => out.push(AttrChange {
                    attribute: name.clone(),
                    old: old_values.clone(),
                    new: Vec::new(),
                }),
            }
        }
        for (name, new_values) in new.0.iter() {
            if !self.0.contains_key(name) {
                out.push(AttrChange {
                    attribute: name.clone(),
                    old: Vec::new(),
                    new: new_values.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.attribute.cmp(&b.attribute));
        out
    }
}

impl IntoIterator for Attrs {
    type Item = (String, Vec<String>);
    type IntoIter = std::vec::IntoIter<(String, Vec<String>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// As if each pair were [`Attrs::set`] in turn, but built in one pass.
impl FromIterator<(String, Vec<String>)> for Attrs {
    fn from_iter<T: IntoIterator<Item = (String, Vec<String>)>>(iter: T) -> Self {
        let iter = iter.into_iter();
        // Sized for the most the iterator may give (a filtered list of flows, say).
        let (least, most) = iter.size_hint();
        let mut pairs = Vec::with_capacity(most.unwrap_or(least).min(1024));
        pairs.extend(iter.map(|(k, mut v)| {
            v.retain(|x| !x.is_empty());
            (k, v)
        }));
        let mut map = NameMap::from_pairs(pairs);
        map.retain(|v| !v.is_empty());
        Attrs(map)
    }
}

/// Attributes in the compact binary form the store keeps ([`Attrs::encode`]), decoded where
/// they are used. An image export hands objects over this way, so that the thread that writes
/// them also decodes and frees them: one allocation an object crosses threads, not one a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedAttrs(Vec<u8>);

impl EncodedAttrs {
    /// Bytes that [`Attrs::encode`] wrote; they are checked when decoded.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        EncodedAttrs(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn decode(&self) -> Result<Attrs, DecodeError> {
        Attrs::decode(&self.0)
    }
}

impl From<&Attrs> for EncodedAttrs {
    fn from(attrs: &Attrs) -> Self {
        EncodedAttrs(attrs.encode())
    }
}

/// One attribute's change: the values before and after (empty = absent).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttrChange {
    pub attribute: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub old: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new: Vec<String>,
}

/// The hash the store keeps for an object: its type and its encoded attributes
/// ([`Attrs::encode`]), so that a change of either is seen.
pub fn object_hash(object_type: &str, encoded: &[u8]) -> i64 {
    hash_bytes(encoded) ^ hash_bytes(object_type.as_bytes()).rotate_left(1)
}

/// A stable 64-bit hash (xxh3) of bytes, as a signed integer for SQL.
pub fn hash_bytes(bytes: &[u8]) -> i64 {
    xxhash_rust::xxh3::xxh3_64(bytes) as i64
}

#[derive(Debug, thiserror::Error)]
#[error(
    "stored attribute data is corrupt at byte {at}: {what}; restore the data directory from a backup or run a full import of this connector"
)]
pub struct DecodeError {
    pub at: usize,
    pub what: &'static str,
}

pub(crate) fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    // LEB128: small lengths take one byte.
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_len(buf, s.len());
    buf.extend_from_slice(s.as_bytes());
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    /// The same bytes when all of them are UTF-8 (short attributes: the lengths are ASCII
    /// too), so that each string is checked once, with the whole, instead of on its own.
    text: Option<&'a str>,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            text: std::str::from_utf8(bytes).ok(),
            pos: 0,
        }
    }

    #[inline]
    pub fn len(&mut self) -> Result<usize, DecodeError> {
        // Most lengths take one byte.
        if let Some(&n) = self.bytes.get(self.pos)
            && n < 0x80
        {
            self.pos += 1;
            return Ok(usize::from(n));
        }
        self.long_len()
    }

    fn long_len(&mut self) -> Result<usize, DecodeError> {
        let mut n: usize = 0;
        let mut shift = 0;
        loop {
            let byte = *self.bytes.get(self.pos).ok_or(DecodeError {
                at: self.pos,
                what: "length runs past the end",
            })?;
            self.pos += 1;
            n |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
            if shift > 56 {
                return Err(DecodeError {
                    at: self.pos,
                    what: "length too long",
                });
            }
        }
    }

    /// A reader that takes strings as bytes ([`Reader::bytes`]), without checking the text.
    pub fn unchecked(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            text: None,
            pos: 0,
        }
    }

    pub fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.len()?;
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or(DecodeError {
            at: self.pos,
            what: "string runs past the end",
        })?;
        // A slice of UTF-8 text that starts and ends on character boundaries is UTF-8.
        let s = match self.text {
            Some(text) => text.get(self.pos..end),
            None => std::str::from_utf8(&self.bytes[self.pos..end]).ok(),
        };
        let s = s.ok_or(DecodeError {
            at: self.pos,
            what: "string is not UTF-8",
        })?;
        self.pos = end;
        Ok(s.to_owned())
    }

    /// The next string's bytes, in place and not checked as text.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len()?;
        let at = self.pos;
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or(DecodeError {
                at,
                what: "string runs past the end",
            })?;
        self.pos += n;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Attrs {
        let mut a = Attrs::new();
        a.set_one("mail", "anna@example.com");
        a.set("TC", vec!["A".into(), "".into(), "B".into()]);
        a.set_one("empty", "");
        a.set_one("givenName", "Ännä");
        a
    }

    #[test]
    fn empty_values_are_absent() {
        let a = sample();
        assert!(!a.contains("empty"));
        assert_eq!(a.get("TC"), ["A", "B"]);
    }

    #[test]
    fn encoding_round_trips_and_hash_is_canonical() {
        let a = sample();
        let back = Attrs::decode(&a.encode()).unwrap();
        assert_eq!(a, back);
        let mut b = Attrs::new();
        b.set_one("givenName", "Ännä");
        b.set("TC", vec!["A".into(), "B".into()]);
        b.set_one("mail", "anna@example.com");
        assert_eq!(object_hash("t", &a.encode()), object_hash("t", &b.encode()));
        b.set_one("mail", "other@example.com");
        assert_ne!(object_hash("t", &a.encode()), object_hash("t", &b.encode()));
        assert_ne!(object_hash("t", &a.encode()), object_hash("u", &a.encode()));
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            let _ = Attrs::decode(&bytes[..cut]);
        }
        assert!(Attrs::decode(&[5, 200]).is_err());
    }

    #[test]
    fn strings_are_checked_as_utf8_whether_or_not_the_whole_is() {
        // The whole is UTF-8 ("ä" spans the name's end and the count), the name is not.
        assert!(Attrs::decode(&[1, 2, b'x', 0xC3, 0xA4, 0]).is_err());
        // A long value's length is not UTF-8: each string is checked on its own.
        let mut a = sample();
        a.set_one("note", "Ännä ".repeat(40));
        let bytes = a.encode();
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(Attrs::decode(&bytes).unwrap(), a);
        let mut broken = bytes.clone();
        let at = broken.iter().position(|b| *b == 0xC3).unwrap();
        broken[at] = 0xFF;
        assert!(Attrs::decode(&broken).is_err());
    }

    #[test]
    fn diff_lists_added_changed_and_removed() {
        let a = sample();
        let mut b = a.clone();
        b.remove("TC");
        b.set_one("mail", "x@y");
        b.set_one("sn", "Berg");
        let d = a.diff(&b);
        let names: Vec<_> = d.iter().map(|c| c.attribute.as_str()).collect();
        assert_eq!(names, ["TC", "mail", "sn"]);
        assert!(d[0].new.is_empty());
        assert!(d[2].old.is_empty());
    }
}
