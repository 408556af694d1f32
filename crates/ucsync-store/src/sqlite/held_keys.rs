//! Join keys held in memory while a large sync runs.
//!
//! The key index is ordered by key hash, so the keys of each batch of new entries land all over
//! it: every batch rewrote nearly every page of the index, a gigabyte of writes for a million
//! entries. Held here instead, the keys are found by lookups as if they were stored, and written
//! once, in key order, when the sync ends. Meanwhile the enterprise's stored key spec is cleared,
//! so a run that never gets there (a crash) leaves the next sync to rebuild every key.

use std::collections::HashMap;

/// (key, entry) pairs, as the `entry_keys` table holds them.
#[derive(Default)]
pub(crate) struct HeldKeys {
    /// The entry of each key; most keys belong to one entry.
    first: HashMap<i64, i64>,
    /// Further entries of a key that several entries share.
    more: HashMap<i64, Vec<i64>>,
}

impl HeldKeys {
    pub fn add(&mut self, key: i64, entry: i64) {
        match self.first.get(&key) {
            None => {
                self.first.insert(key, entry);
            }
            Some(e) if *e == entry => {}
            Some(_) => {
                let more = self.more.entry(key).or_default();
                if !more.contains(&entry) {
                    more.push(entry);
                }
            }
        }
    }

    pub fn remove(&mut self, key: i64, entry: i64) {
        if self.first.get(&key) == Some(&entry) {
            let next = self.more.get_mut(&key).and_then(Vec::pop);
            match next {
                Some(e) => {
                    self.first.insert(key, e);
                }
                None => {
                    self.first.remove(&key);
                }
            }
        } else if let Some(more) = self.more.get_mut(&key) {
            more.retain(|e| *e != entry);
        }
        if self.more.get(&key).is_some_and(Vec::is_empty) {
            self.more.remove(&key);
        }
    }

    /// Adds the (key, entry) pairs held for `key` to `out`.
    pub fn find(&self, key: i64, out: &mut Vec<(i64, i64)>) {
        out.extend(self.first.get(&key).map(|e| (key, *e)));
        if let Some(more) = self.more.get(&key) {
            out.extend(more.iter().map(|e| (key, *e)));
        }
    }

    /// Every pair, in the index's order.
    pub fn into_sorted(self) -> Vec<(i64, i64)> {
        let mut all: Vec<(i64, i64)> = self.first.into_iter().collect();
        for (key, more) in self.more {
            all.extend(more.into_iter().map(|e| (key, e)));
        }
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::HeldKeys;

    fn found(h: &HeldKeys, key: i64) -> Vec<i64> {
        let mut out = Vec::new();
        h.find(key, &mut out);
        let mut entries: Vec<i64> = out.into_iter().map(|(_, e)| e).collect();
        entries.sort();
        entries
    }

    #[test]
    fn a_key_shared_by_entries_keeps_each_until_removed() {
        let mut h = HeldKeys::default();
        h.add(7, 1);
        h.add(7, 2);
        h.add(7, 2);
        h.add(8, 3);
        assert_eq!(found(&h, 7), [1, 2]);
        h.remove(7, 1);
        assert_eq!(found(&h, 7), [2]);
        h.remove(7, 2);
        assert!(found(&h, 7).is_empty());
        h.remove(9, 1);
        h.add(7, 4);
        assert_eq!(h.into_sorted(), [(7, 4), (8, 3)]);
    }
}
