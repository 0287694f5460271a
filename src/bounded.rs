//! A map that remembers insertion order and forgets its oldest entries past a limit, so that
//! every history and store in the sandbox stays bounded however long it runs.
//!
//! A map can also keep track of the keys it changed (inserted, replaced, lent out for change,
//! removed or evicted) for the persistence layer to write: [`BoundedMap::tracked`] turns that
//! on, [`BoundedMap::take_changed`] hands them over. Untracked maps pay one branch.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

/// Keys changed since they were last handed over, in the order they first changed.
#[derive(Debug, Clone)]
pub(crate) struct Changed<K> {
    order: Vec<K>,
    seen: HashSet<K>,
}

impl<K: Eq + Hash + Clone> Default for Changed<K> {
    fn default() -> Self {
        Self {
            order: Vec::new(),
            seen: HashSet::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Changed<K> {
    pub(crate) fn mark(&mut self, key: &K) {
        if !self.seen.contains(key) {
            self.seen.insert(key.clone());
            self.order.push(key.clone());
        }
    }

    pub(crate) fn take(&mut self) -> Vec<K> {
        self.seen.clear();
        std::mem::take(&mut self.order)
    }
}

/// Values are boxed: a hash table keeps up to twice as many slots as entries, and an empty slot
/// of a boxed value costs a pointer rather than a whole record (a stored link or order is 1 KB
/// or more).
#[derive(Debug, Clone)]
pub(crate) struct BoundedMap<K, V> {
    map: HashMap<K, Box<V>>,
    order: VecDeque<K>,
    limit: usize,
    changed: Option<Changed<K>>,
}

impl<K: Eq + Hash + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            limit: limit.max(1),
            changed: None,
        }
    }

    /// The same map, keeping track of the keys it changes when `on`.
    pub(crate) fn tracked(mut self, on: bool) -> Self {
        self.changed = on.then(Changed::default);
        self
    }

    /// Starts (or stops) keeping track of changes, forgetting what was tracked so far: a map
    /// filled from saved rows starts out unchanged.
    pub(crate) fn track(&mut self, on: bool) {
        self.changed = on.then(Changed::default);
    }

    /// Makes room for `more` entries at once (a map filled from a saved state).
    pub(crate) fn reserve(&mut self, more: usize) {
        self.map.reserve(more.min(self.limit));
        self.order.reserve(more.min(self.limit));
    }

    /// The keys changed since the last call (none when untracked), in the order they first
    /// changed; a key no longer in the map was removed.
    pub(crate) fn take_changed(&mut self) -> Vec<K> {
        self.changed.as_mut().map(Changed::take).unwrap_or_default()
    }

    fn mark<Q: Hash + Eq + ?Sized>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
    {
        if let Some(changed) = &mut self.changed
            && let Some((k, _)) = self.map.get_key_value(key)
        {
            changed.mark(k);
        }
    }

    /// Forgets every entry (each counts as changed).
    pub(crate) fn clear(&mut self) {
        if let Some(changed) = &mut self.changed {
            for k in &self.order {
                changed.mark(k);
            }
        }
        self.map.clear();
        self.order.clear();
    }

    /// Inserts or replaces. A new key goes to the back; past the limit the oldest is dropped and
    /// returned.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(changed) = &mut self.changed {
            changed.mark(&key);
        }
        if let Some(slot) = self.map.get_mut(&key) {
            **slot = value;
            return None;
        }
        self.map.insert(key.clone(), Box::new(value));
        self.order.push_back(key);
        if self.order.len() > self.limit {
            while let Some(old) = self.order.pop_front() {
                if let Some(v) = self.map.remove(&old) {
                    if let Some(changed) = &mut self.changed {
                        changed.mark(&old);
                    }
                    return Some((old, *v));
                }
            }
        }
        None
    }

    pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key).map(|v| &**v)
    }

    /// The value of `key`, lent out for change (a tracked map counts it as changed).
    pub(crate) fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.mark(key);
        self.map.get_mut(key).map(|v| &mut **v)
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
        self.mark(key);
        let value = self.map.remove(key)?;
        self.order.retain(|k| k.borrow() != key);
        Some(*value)
    }

    /// How many entries are kept.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Keys and values from oldest to newest.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.order
            .iter()
            .filter_map(|k| self.map.get_key_value(k).map(|(k, v)| (k, &**v)))
    }

    /// Values from oldest to newest.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.order
            .iter()
            .filter_map(|k| self.map.get(k).map(|v| &**v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_map_hands_over_what_it_changed_once() {
        let mut m = BoundedMap::new(2).tracked(true);
        m.insert("a", 1);
        m.insert("b", 2);
        assert_eq!(m.take_changed(), vec!["a", "b"]);
        assert!(m.take_changed().is_empty());
        let _ = m.get("a");
        assert!(m.take_changed().is_empty(), "a read changes nothing");
        *m.get_mut("b").unwrap() = 20;
        m.insert("c", 3);
        assert_eq!(m.take_changed(), vec!["b", "c", "a"], "the evicted key too");
        m.remove("b");
        assert_eq!(m.take_changed(), vec!["b"]);
        let mut untracked = BoundedMap::new(2);
        untracked.insert("x", 1);
        assert!(untracked.take_changed().is_empty());
    }

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
