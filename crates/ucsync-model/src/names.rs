//! A map from attribute names to values, kept as a vector sorted by name.
//!
//! An object has a handful of attributes, so a sorted vector finds a name about as fast as a
//! `BTreeMap` does, while it is built, copied and dropped with one allocation instead of a node
//! tree; millions of them pass through a sync.

/// Up to how many names a look-up compares them in turn instead of halving.
const LINEAR: usize = 16;

/// Names in ascending order, each once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NameMap<V>(Vec<(String, V)>);

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap(Vec::new())
    }
}

impl<V> NameMap<V> {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// The position of `name`. A handful of names (an object's usual lot) are compared in
    /// turn, length first, which costs less than ordering them by their bytes.
    fn position(&self, name: &str) -> Option<usize> {
        if self.0.len() <= LINEAR {
            self.0.iter().position(|(k, _)| k == name)
        } else {
            self.find(name).ok()
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        NameMap(Vec::with_capacity(n))
    }

    pub fn get(&self, name: &str) -> Option<&V> {
        self.position(name).map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    pub fn insert(&mut self, name: String, value: V) {
        // Names usually come in order (decoded, flowed, copied): after the last one, appended.
        if self
            .0
            .last()
            .is_none_or(|(k, _)| k.as_str() < name.as_str())
        {
            self.0.push((name, value));
            return;
        }
        match self.find(&name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.position(name).map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.0.retain(|(_, v)| keep(v));
    }

    /// From pairs in any order; of two pairs with one name, the later wins (as inserting
    /// them in turn would have it).
    pub fn from_pairs(mut pairs: Vec<(String, V)>) -> Self {
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            // Stable, so equal names keep their order and the last of each run is the later.
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out: Vec<(String, V)> = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match out.last_mut() {
                    Some(last) if last.0 == pair.0 => *last = pair,
                    _ => out.push(pair),
                }
            }
            pairs = out;
        }
        NameMap(pairs)
    }
}

impl<V> IntoIterator for NameMap<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_sorted_and_unique() {
        let mut m = NameMap::default();
        for (k, v) in [("sn", 1), ("mail", 2), ("cn", 3), ("mail", 4)] {
            m.insert(k.to_string(), v);
        }
        let keys: Vec<&String> = m.keys().collect();
        assert_eq!(keys, ["cn", "mail", "sn"]);
        assert_eq!(m.get("mail"), Some(&4));
        assert_eq!(m.remove("cn"), Some(3));
        assert_eq!(m.remove("cn"), None);
        assert!(!m.contains_key("cn"));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn few_and_many_names_are_found_and_kept_in_order() {
        for count in [3, LINEAR, LINEAR + 1, 40] {
            let mut m = NameMap::default();
            // Shuffled by a stride (7 is prime to every count here), then in reverse.
            let names: Vec<String> = (0..count).map(|i| format!("a{i:02}")).collect();
            for round in 0..2 {
                for i in 0..count {
                    let j = match round {
                        0 => (i * 7) % count,
                        _ => count - 1 - i,
                    };
                    m.insert(names[j].clone(), round * 100 + j);
                }
            }
            let keys: Vec<&String> = m.keys().collect();
            let sorted: Vec<&String> = names.iter().collect();
            assert_eq!(keys, sorted, "{count} names");
            for (j, name) in names.iter().enumerate() {
                assert_eq!(m.get(name), Some(&(100 + j)), "{name} of {count}");
            }
            assert!(!m.contains_key("a"), "{count}");
            assert!(!m.contains_key("zz"), "{count}");
            assert_eq!(m.remove(&names[count / 2]), Some(100 + count / 2));
            assert!(!m.contains_key(&names[count / 2]));
        }
    }

    #[test]
    fn pairs_in_any_order_keep_the_later_of_one_name() {
        let pairs = vec![
            ("b".to_string(), 1),
            ("a".to_string(), 2),
            ("b".to_string(), 3),
            ("c".to_string(), 4),
            ("a".to_string(), 5),
        ];
        let m = NameMap::from_pairs(pairs);
        let all: Vec<(String, i32)> = m.into_iter().collect();
        assert_eq!(all, [("a".into(), 5), ("b".into(), 3), ("c".into(), 4)]);
    }
}
