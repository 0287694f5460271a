//! A map that remembers insertion order and forgets its oldest entries past a limit, so that
//! every history and store in the sandbox stays bounded however long it runs.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug, Clone)]
pub(crate) struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
    limit: usize,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Inserts or replaces. A new key goes to the back; past the limit the oldest is dropped and
    /// returned.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return None;
        }
        self.map.insert(key.clone(), value);
        self.order.push_back(key);
        if self.order.len() > self.limit {
            while let Some(old) = self.order.pop_front() {
                if let Some(v) = self.map.remove(&old) {
                    return Some((old, v));
                }
            }
        }
        None
    }

    pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub(crate) fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.map.get_mut(key)
    }

    pub(crate) fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Removes `key`; O(n) in the entries kept, for rare removals of small maps.
    pub(crate) fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let value = self.map.remove(key)?;
        self.order.retain(|k| k.borrow() != key);
        Some(value)
    }

    /// How many entries are kept.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Keys and values from oldest to newest.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.order.iter().filter_map(|k| self.map.get_key_value(k))
    }

    /// Values from oldest to newest.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.order.iter().filter_map(|k| self.map.get(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first() {
        let mut m = BoundedMap::new(2);
        assert!(m.insert("a", 1).is_none());
        assert!(m.insert("b", 2).is_none());
        assert_eq!(m.insert("c", 3), Some(("a", 1)));
        assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn replacing_keeps_the_position() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        m.insert("a", 10);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![10, 2]);
    }
}
