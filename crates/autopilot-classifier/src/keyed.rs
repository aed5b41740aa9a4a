//! Maps keyed by text that is hashed once: a record's message is hashed when it is read, and
//! every map it is looked up in (label cache, cascade linker) reuses that hash.
//!
//! The hash is foldhash with a seed drawn at random once per process. SipHash (the standard
//! library's) was a twentieth of classifying a legacy log; foldhash is several times faster and
//! still keyed, so a log cannot be written in advance to make its messages collide. What it
//! gives up is SipHash's resistance to an attacker who watches a long-running process to learn
//! its seed: `autopilot classify` is a run that ends, whose timings nobody feeding it a log
//! sees while it runs — the case foldhash's authors name as the one it is not for.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::LazyLock;

/// This process's hash keys.
static KEYS: LazyLock<foldhash::fast::RandomState> =
    LazyLock::new(foldhash::fast::RandomState::default);

/// A text with its hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hashed<'a> {
    hash: u64,
    text: &'a str,
}

impl<'a> Hashed<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Hashed {
            hash: KEYS.hash_one(text),
            text,
        }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }
}

/// A key as stored: the text copied, its hash kept.
#[derive(Debug)]
struct Key {
    hash: u64,
    text: Box<str>,
}

/// What a stored key and a borrowed one share, so a map of [`Key`]s is searched with a
/// [`Hashed`] (no copy of the text to look it up).
trait View {
    fn hash(&self) -> u64;
    fn text(&self) -> &str;
}

impl View for Key {
    fn hash(&self) -> u64 {
        self.hash
    }

    fn text(&self) -> &str {
        &self.text
    }
}

impl View for Hashed<'_> {
    fn hash(&self) -> u64 {
        self.hash
    }

    fn text(&self) -> &str {
        self.text
    }
}

impl<'a> Borrow<dyn View + 'a> for Key {
    fn borrow(&self) -> &(dyn View + 'a) {
        self
    }
}

impl Hash for dyn View + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(View::hash(self));
    }
}

impl PartialEq for dyn View + '_ {
    fn eq(&self, other: &Self) -> bool {
        View::hash(self) == View::hash(other) && self.text() == other.text()
    }
}

impl Eq for dyn View + '_ {}

// A `Key` hashes and compares as its view does (the `Borrow` contract).
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Hash::hash(self as &dyn View, state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        (self as &dyn View) == (other as &dyn View)
    }
}

impl Eq for Key {}

/// Hands the key's own hash to the table.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is called (see `Hash for dyn View`); anything else still hashes.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map from text to `V`, searched with [`Hashed`] texts.
#[derive(Debug)]
pub(crate) struct TextMap<V> {
    map: HashMap<Key, V, BuildHasherDefault<PassThrough>>,
}

impl<V> Default for TextMap<V> {
    fn default() -> Self {
        TextMap {
            map: HashMap::default(),
        }
    }
}

impl<V> TextMap<V> {
    pub(crate) fn get(&self, key: Hashed<'_>) -> Option<&V> {
        self.map.get(&key as &dyn View)
    }

    /// Inserts (or replaces) the value of `key`, copying its text.
    pub(crate) fn insert(&mut self, key: Hashed<'_>, value: V) {
        let key = Key {
            hash: key.hash,
            text: key.text.into(),
        };
        self.map.insert(key, value);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_found_by_their_text_only() {
        let mut map = TextMap::default();
        map.insert(Hashed::new("'x' was not declared"), 1);
        map.insert(Hashed::new("expected ';'"), 2);
        assert_eq!(map.get(Hashed::new("'x' was not declared")), Some(&1));
        assert_eq!(map.get(Hashed::new("expected ';'")), Some(&2));
        assert_eq!(map.get(Hashed::new("expected")), None);
        map.insert(Hashed::new("expected ';'"), 3);
        assert_eq!(
            (map.get(Hashed::new("expected ';'")), map.len()),
            (Some(&3), 2)
        );
        // Equal hashes alone do not make equal keys.
        let forged = Hashed {
            hash: Hashed::new("expected ';'").hash,
            text: "something else",
        };
        assert_eq!(map.get(forged), None);
        map.clear();
        assert_eq!(map.len(), 0);
    }
}
