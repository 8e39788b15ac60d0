//! [`TokenCache`]: verified tokens remembered per isolate, so a client that sends the same token
//! on every request pays for its signature once.
//!
//! Keyed by the whole token (a weak hash would let a forged token collide with a good one).
//! Bounded, oldest out first. A hit still runs the time checks at the caller's `now`, so a cached
//! token is never accepted past its `exp` or before its `nbf`.

use crate::Principal;
use std::collections::{HashMap, VecDeque};

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
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn get(&self, token: &str) -> Option<&Verified> {
        self.entries.get(token)
    }

    pub fn insert(&mut self, token: &str, verified: Verified) {
        if self.capacity == 0 || self.entries.contains_key(token) {
            return;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
        self.order.push_back(token.into());
        self.entries.insert(token.into(), verified);
    }

    /// Drops a token that failed its time checks, so dead entries do not hold places.
    pub fn remove(&mut self, token: &str) {
        if self.entries.remove(token).is_some() {
            self.order.retain(|t| &**t != token);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified() -> Verified {
        Verified {
            principal: Principal::default(),
            not_before: None,
        }
    }

    #[test]
    fn bounded_oldest_out() {
        let mut cache = TokenCache::new(2);
        cache.insert("a", verified());
        cache.insert("b", verified());
        cache.insert("a", verified());
        cache.insert("c", verified());
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        assert_eq!(cache.len(), 2);
        cache.remove("b");
        assert_eq!(cache.len(), 1);
        let mut off = TokenCache::new(0);
        off.insert("a", verified());
        assert!(off.get("a").is_none());
    }
}
