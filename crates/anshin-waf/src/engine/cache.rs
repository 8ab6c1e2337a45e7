//! The per-request caches: value ids, which name a request value for the
//! whole transaction, the dense (value id, column) table behind the
//! transformation and regex-set caches, and the hasher of the maps whose
//! keys the engine makes.
//!
//! A cache must never change an answer: only values that cannot change
//! during the transaction get an id, and nothing cached outlives the
//! request (a `Tx` owns every cache). Keys taken from request bytes must
//! never go through [`IdHasher`].

use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use regex::bytes::RegexSet;

use crate::variables::{Coll, VarSpec};

/// Hasher of the per-request maps. Their keys are made by the engine
/// (value positions with chain or group numbers, variable names from the
/// rules), never taken from request bytes, so a multiply-mix with a
/// SplitMix64 finish is enough, and much cheaper than SipHash.
#[derive(Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            for (d, s) in buf.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub(super) type IdBuild = BuildHasherDefault<IdHasher>;

/// Where a value comes from, for the per-request caches: values of the
/// request (headers, arguments, cookies, body fields, URI parts) do not
/// change during a transaction, so `kind << 24 | index` names one for good.
/// Values rules can change (`TX`, `MATCHED_VAR`, …) have no id and are
/// never cached.
pub(super) mod src {
    pub const HEADERS: u32 = 1;
    pub const HEADER_NAMES: u32 = 2;
    pub const ARGS_GET: u32 = 3;
    pub const ARGS_GET_NAMES: u32 = 4;
    pub const ARGS_POST: u32 = 5;
    pub const ARGS_POST_NAMES: u32 = 6;
    pub const COOKIES: u32 = 7;
    pub const COOKIE_NAMES: u32 = 8;
    pub const FILES: u32 = 9;
    pub const FILES_NAMES: u32 = 10;
    pub const PART_HEADERS: u32 = 11;
    pub const XML: u32 = 12;
    /// Scalars: the index is `generation * 64 + slot`; the generation
    /// changes when the body processor (re)sets scalars.
    pub const SCALAR: u32 = 13;
}

/// Scalars that get a value id (see [`src`]); the others are cheap to
/// recompute or change during the transaction.
pub(super) const SCALAR_SLOTS: [&str; 14] = [
    "REQUEST_LINE",
    "REQUEST_METHOD",
    "REQUEST_PROTOCOL",
    "REQUEST_URI_RAW",
    "REQUEST_URI",
    "REQUEST_FILENAME",
    "PATH_INFO",
    "REQUEST_BASENAME",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "SERVER_NAME",
    "REQUEST_BODY",
    "UNIQUE_ID",
];

#[inline]
pub(super) fn value_id(kind: u32, index: usize) -> Option<u32> {
    u32::try_from(index)
        .ok()
        .filter(|i| *i < 1 << 24)
        .map(|i| (kind << 24) | i)
}

/// A value after a transformation chain: the input itself when no step
/// changed it, else a shared result from the cache.
pub(super) enum Transformed<'v> {
    Same(&'v [u8]),
    New(Rc<Vec<u8>>),
}

impl Transformed<'_> {
    #[inline]
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Transformed::Same(v) => v,
            Transformed::New(v) => v.as_slice(),
        }
    }
}

/// A rule's shared set: group number, group chain, the set, the rule's
/// pattern index in it.
pub(super) type SetRef<'s> = (usize, u32, &'s RegexSet, usize);

/// Per (value id, chain): the transformed value, `None` when unchanged.
pub(super) type TransformCache = DenseCache<Option<Rc<Vec<u8>>>>;

/// A per-request table keyed by (value id, column) without hashing: a
/// value's row is found through its id's kind and index (see [`src`]),
/// then the column (a chain or set-group number) indexes the row, whose
/// cell holds 1 + the entry's position in `items` (0: nothing stored).
/// Rows are appended to one flat vector when a value is first stored, so
/// a request adds a row only for values some rule looked at. Looked up
/// several times per rule and value, where a hash map's hashing, probing
/// and growth were most of the cache's cost.
pub(super) struct DenseCache<T> {
    columns: usize,
    /// Per value kind, per index: 1 + the value's row number, 0 for none.
    rows: [Vec<u32>; 16],
    cells: Vec<u32>,
    items: Vec<T>,
}

impl<T> DenseCache<T> {
    #[inline]
    pub(super) fn new(columns: usize, rows_hint: usize, items_hint: usize) -> Self {
        DenseCache {
            columns,
            rows: Default::default(),
            cells: Vec::with_capacity(columns.saturating_mul(rows_hint)),
            items: Vec::with_capacity(items_hint),
        }
    }

    /// Kind and index of a value id.
    #[inline]
    fn split(id: u32) -> (usize, usize) {
        ((id >> 24) as usize, (id & 0x00ff_ffff) as usize)
    }

    #[inline]
    pub(super) fn get(&self, id: u32, col: usize) -> Option<&T> {
        let (kind, index) = Self::split(id);
        let row = *self.rows.get(kind)?.get(index)?;
        let row = (row as usize).checked_sub(1)?;
        let cell = *self.cells.get(row * self.columns + col)?;
        self.items.get((cell as usize).checked_sub(1)?)
    }

    #[inline]
    pub(super) fn insert(&mut self, id: u32, col: usize, value: T) {
        if col >= self.columns {
            return;
        }
        let Ok(item) = u32::try_from(self.items.len() + 1) else {
            return;
        };
        let (kind, index) = Self::split(id);
        let Some(rows) = self.rows.get_mut(kind) else {
            return;
        };
        if rows.len() <= index {
            rows.resize(index + 1, 0);
        }
        let Some(slot) = rows.get_mut(index) else {
            return;
        };
        if *slot == 0 {
            let Ok(next) = u32::try_from(self.cells.len() / self.columns + 1) else {
                return;
            };
            self.cells.resize(self.cells.len() + self.columns, 0);
            *slot = next;
        }
        let row = *slot as usize - 1;
        if let Some(c) = self.cells.get_mut(row * self.columns + col) {
            *c = item;
            self.items.push(value);
        }
    }
}

/// What a request knows of a set group's values (see
/// [`Tx::group_may_match`](super::eval::Tx::group_may_match)).
#[derive(Clone, Default)]
pub(super) enum GroupUnion {
    #[default]
    Unknown,
    /// The group's targets can produce values that change during the
    /// transaction: no shortcut.
    Unusable,
    /// Bit `i` set when some value matched pattern `i`; valid while the
    /// request's values are those of `epoch` (see
    /// [`Tx::value_epoch`](super::eval::Tx::value_epoch)).
    Known { epoch: (bool, u32), bits: Vec<u64> },
}

/// Targets whose values are fixed for a body-processing epoch and all
/// carry a value id: the request's own collections, and the scalars that
/// get ids. Counts, `TX` and the other transaction collections,
/// `MATCHED_VARS` are excluded (rules change them).
#[inline]
pub(super) fn stable_target(spec: &VarSpec) -> bool {
    if spec.count {
        return false;
    }
    match spec.kind {
        Coll::Persistent | Coll::MatchedVars | Coll::MatchedVarsNames => false,
        Coll::Scalar => SCALAR_SLOTS.contains(&spec.collection.as_str()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn dense_cache() {
        let mut c: DenseCache<u8> = DenseCache::new(3, 1, 1);
        let a = value_id(src::HEADERS, 0).unwrap();
        let b = value_id(src::ARGS_GET, 5).unwrap();
        let s = value_id(src::SCALAR, 64 + 4).unwrap();
        assert_eq!(c.get(a, 0), None);
        c.insert(a, 2, 7);
        c.insert(b, 0, 8);
        c.insert(s, 1, 9);
        c.insert(a, 3, 1); // no such column: ignored
        assert_eq!(c.get(a, 2), Some(&7));
        assert_eq!(c.get(a, 0), None);
        assert_eq!(c.get(b, 0), Some(&8));
        assert_eq!(c.get(value_id(src::ARGS_GET, 4).unwrap(), 0), None);
        assert_eq!(c.get(value_id(src::ARGS_GET_NAMES, 5).unwrap(), 0), None);
        assert_eq!(c.get(s, 1), Some(&9));
        assert_eq!(c.get(value_id(src::SCALAR, 4).unwrap(), 1), None);
        c.insert(a, 2, 3);
        assert_eq!(c.get(a, 2), Some(&3));
        let mut empty: DenseCache<u8> = DenseCache::new(0, 4, 4);
        empty.insert(a, 0, 1);
        assert_eq!(empty.get(a, 0), None);
    }
}
