//! One entry of a peer's page, read as the import takes it: each member's value a list of
//! strings where it is one (every attribute), so that the strings move into the staged
//! attributes as they were parsed. Anything else is kept as JSON, for the error that names it.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// An entry's members in the order sent. (A list rather than a map: an entry's members are read
/// once, in order; building and dropping a map for each of 100,000 entries was a tenth of a
/// first import's CPU.)
#[derive(Debug, Clone, Default)]
pub struct Entry(pub Vec<(String, Member)>);

impl Entry {
    /// Takes the member `name` out (the last one, should it come twice).
    pub fn remove(&mut self, name: &str) -> Option<Member> {
        let at = self.0.iter().rposition(|(n, _)| n == name)?;
        Some(self.0.remove(at).1)
    }

    pub fn get(&self, name: &str) -> Option<&Member> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A member's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Member {
    /// A list of strings: an attribute's values.
    Strings(Vec<String>),
    /// One string: the entry's `id` and `type`.
    One(String),
    /// Anything else, as sent.
    Other(Value),
}

impl Member {
    /// The value as the peer sent it, for messages.
    pub fn into_json(self) -> Value {
        match self {
            Member::Strings(v) => Value::Array(v.into_iter().map(Value::String).collect()),
            Member::One(v) => Value::String(v),
            Member::Other(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Entry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an entry: a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entry, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Entry(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor)
    }
}

struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Member, E> {
        Ok(Member::One(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Member, E> {
        Ok(Member::One(v))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Member, S::Error> {
        let mut strings = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(item) = seq.next_element::<Value>()? {
            match item {
                Value::String(s) => strings.push(s),
                other => {
                    // Not a list of strings: the rest is kept as sent, for the message.
                    let mut items: Vec<Value> = strings.into_iter().map(Value::String).collect();
                    items.push(other);
                    while let Some(rest) = seq.next_element::<Value>()? {
                        items.push(rest);
                    }
                    return Ok(Member::Other(Value::Array(items)));
                }
            }
        }
        Ok(Member::Strings(strings))
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Member, M::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Member::Other)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Member, E> {
        Ok(Member::Other(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Member, E> {
        Ok(Member::Other(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Member, E> {
        Ok(Member::Other(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Member, E> {
        Ok(Member::Other(Value::from(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Member, E> {
        Ok(Member::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Member, E> {
        Ok(Member::Other(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn members(text: &str) -> Vec<(String, Member)> {
        serde_json::from_str::<Entry>(text).unwrap().0
    }

    #[test]
    fn lists_of_strings_and_single_strings_are_read_as_such_and_the_rest_as_sent() {
        let got = members(
            r#"{"id": "7", "sn": ["Ng", "Ngo"], "none": [], "mixed": ["a", 1, "b"],
                "n": 5, "x": -2, "f": 1.5, "t": true, "z": null, "o": {"k": ["v"]}}"#,
        );
        let want = vec![
            ("id", Member::One("7".into())),
            ("sn", Member::Strings(vec!["Ng".into(), "Ngo".into()])),
            ("none", Member::Strings(vec![])),
            ("mixed", Member::Other(json!(["a", 1, "b"]))),
            ("n", Member::Other(json!(5))),
            ("x", Member::Other(json!(-2))),
            ("f", Member::Other(json!(1.5))),
            ("t", Member::Other(json!(true))),
            ("z", Member::Other(Value::Null)),
            ("o", Member::Other(json!({"k": ["v"]}))),
        ];
        let want: Vec<(String, Member)> = want.into_iter().map(|(n, m)| (n.into(), m)).collect();
        assert_eq!(got, want);
        // Read from a JSON value too (as the tests' scripted pages are).
        let value = json!({"sn": ["Ng"], "mixed": [1, "a"]});
        let from_value = serde_json::from_value::<Entry>(value).unwrap();
        assert_eq!(
            from_value.get("sn"),
            Some(&Member::Strings(vec!["Ng".into()]))
        );
        assert_eq!(
            from_value.get("mixed"),
            Some(&Member::Other(json!([1, "a"])))
        );
    }

    #[test]
    fn a_member_gives_back_the_json_it_was() {
        for v in [
            json!(["a", "b"]),
            json!("a"),
            json!([1, "a"]),
            json!({"k": 1}),
        ] {
            let m: Member = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(m.into_json(), v);
        }
    }

    #[test]
    fn a_member_named_twice_is_its_last_value() {
        let mut e: Entry = serde_json::from_str(r#"{"sn": ["a"], "sn": ["b"]}"#).unwrap();
        assert_eq!(e.get("sn"), Some(&Member::Strings(vec!["b".into()])));
        assert_eq!(e.remove("sn"), Some(Member::Strings(vec!["b".into()])));
        assert_eq!(e.remove("sn"), Some(Member::Strings(vec!["a".into()])));
        assert_eq!(e.remove("sn"), None);
    }
}
