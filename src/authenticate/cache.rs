//! [`TokenCache`]: verified tokens remembered per isolate, so a client that sends the same token
//! on every request pays for its signature once.
//!
//! Keyed by the whole token (a weak hash would let a forged token collide with a good one).
//! Bounded in count and in bytes, oldest out first. A hit still runs the time checks at the
//! caller's `now`, so a cached token is never accepted past its `exp` or before its `nbf`. The
//! verifier empties it whenever its keys change, so no entry outlives the keys that verified it.

use crate::Principal;
use std::collections::{HashMap, VecDeque};

/// The bytes one entry is counted for besides its token: the principal and the bookkeeping.
const ENTRY_OVERHEAD: usize = 256;

/// A verified token's principal and its validity window.
#[derive(Debug, Clone)]
pub(super) struct Verified {
    pub principal: Principal,
    pub not_before: Option<i64>,
}

/// The cache. Single-threaded, like a Workers isolate.
#[derive(Debug, Default)]
pub(super) struct TokenCache {
    entries: HashMap<Box<str>, Verified>,
    order: VecDeque<Box<str>>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens and `max_bytes` (0 tokens disables it).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            ..Self::default()
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The same limits, no entries.
    pub fn emptied(&self) -> Self {
        Self::new(self.capacity, self.max_bytes)
    }

    pub fn get(&self, token: &str) -> Option<&Verified> {
        self.entries.get(token)
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        let size = token.len() + ENTRY_OVERHEAD;
        if self.capacity == 0 || size > self.max_bytes || self.entries.contains_key(token) {
            return;
        }
        while self.order.len() >= self.capacity || self.bytes + size > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
            self.bytes -= oldest.len() + ENTRY_OVERHEAD;
        }
        self.order.push_back(token.into());
        self.entries.insert(token.into(), verified);
        self.bytes += size;
    }

    /// Drops a token that failed its time checks, so dead entries do not hold places.
    pub fn remove(&mut self, token: &str) {
        if self.entries.remove(token).is_some() {
            self.order.retain(|t| &**t != token);
            self.bytes -= token.len() + ENTRY_OVERHEAD;
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified() -> Verified {
        Verified {
            principal: Principal::for_test(None, &[]),
            not_before: None,
        }
    }

    #[test]
    fn bounded_oldest_out() {
        let mut cache = TokenCache::new(2, 1 << 20);
        cache.insert("a", verified());
        cache.insert("b", verified());
        cache.insert("a", verified());
        cache.insert("c", verified());
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!(cache.len(), 2);
        cache.remove("b");
        assert_eq!(cache.len(), 1);
        let mut off = TokenCache::new(0, 1 << 20);
        off.insert("a", verified());
        assert!(off.get("a").is_none());
    }

    #[test]
    fn bounded_in_bytes() {
        let mut cache = TokenCache::new(100, 3 * (1000 + ENTRY_OVERHEAD));
        for name in ["a", "b", "c", "d"] {
            cache.insert(&name.repeat(1000), verified());
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&"a".repeat(1000)).is_none());
        assert!(cache.bytes() <= 3 * (1000 + ENTRY_OVERHEAD));
        // A token bigger than the whole budget is not kept, and evicts nothing.
        cache.insert(&"e".repeat(5000), verified());
        assert_eq!(cache.len(), 3);
    }
}
