//! Directory entries: the joined view of one person, contact, group, … in an enterprise.
//!
//! Each attribute remembers which connector gave it (`source`), or none when an administrator
//! set it by hand. The engine recomputes connector-given attributes from the linked staged
//! objects; hand-set ones are kept.

use crate::attrs::{Attrs, DecodeError, Reader, put_len, put_str};
use crate::names::NameMap;

/// The connector that gave a value (store id), or `None` for a value set by hand.
pub type Source = Option<i64>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryAttrs(NameMap<(Source, Vec<String>)>);

impl EntryAttrs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty, with room for `n` attributes.
    pub fn with_capacity(n: usize) -> Self {
        EntryAttrs(NameMap::with_capacity(n))
    }

    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(|(_, v)| v.as_slice()).unwrap_or(&[])
    }

    pub fn source(&self, name: &str) -> Option<Source> {
        self.0.get(name).map(|(s, _)| *s)
    }

    /// Sets an attribute with its source; no value removes it.
    pub fn set(&mut self, name: impl Into<String>, source: Source, values: Vec<String>) {
        let name = name.into();
        let mut values = values;
        values.retain(|v| !v.is_empty());
        if values.is_empty() {
            self.0.remove(&name);
        } else {
            self.0.insert(name, (source, values));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Source, &Vec<String>)> {
        self.0.iter().map(|(k, (s, v))| (k, s, v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The attributes set by hand (no connector).
    pub fn manual(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0
            .iter()
            .filter(|(_, (s, _))| s.is_none())
            .map(|(k, (_, v))| (k, v))
    }

    /// The values without their sources.
    pub fn to_attrs(&self) -> Attrs {
        self.0
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.clone()))
            .collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(64 + self.0.len() * 24);
        put_len(&mut buf, self.0.len());
        for (name, (source, values)) in self.0.iter() {
            put_str(&mut buf, name);
            // 0 = set by hand, otherwise connector id + 1.
            put_len(&mut buf, source.map(|s| s as usize + 1).unwrap_or(0));
            put_len(&mut buf, values.len());
            for v in values {
                put_str(&mut buf, v);
            }
        }
        buf
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let n = r.len()?;
        // Written in name order, so the map is taken as it comes.
        let mut pairs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let name = r.string()?;
            let source = match r.len()? {
                0 => None,
                s => Some(s as i64 - 1),
            };
            let count = r.len()?;
            let mut values = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                values.push(r.string()?);
            }
            pairs.push((name, (source, values)));
        }
        Ok(EntryAttrs(NameMap::from_pairs(pairs)))
    }
}

impl crate::expr::Lookup for EntryAttrs {
    fn values(&self, name: &str) -> &[String] {
        self.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_sources() {
        let mut e = EntryAttrs::new();
        e.set("mail", Some(3), vec!["a@b".into()]);
        e.set("note", None, vec!["by hand".into()]);
        e.set("gone", Some(1), vec![String::new()]);
        let back = EntryAttrs::decode(&e.encode()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.source("mail"), Some(Some(3)));
        assert_eq!(back.source("note"), Some(None));
        assert_eq!(back.manual().count(), 1);
        assert!(back.get("gone").is_empty());
    }
}
