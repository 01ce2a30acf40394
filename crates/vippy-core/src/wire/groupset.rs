//! The set of groups a node holds, by index in its config's group list, and
//! its compact encoding: a bitmap or a sorted index list, whichever is
//! smaller (docs/PROTOCOL.md, "Group set").

use super::error::{EncodeError, WireError};
use super::reader::Reader;

/// A set of group indices with a known universe size (the sender's group
/// count, at most [`GroupSet::MAX_LEN`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupSet {
    len: usize,
    // Bit `i % 64` of word `i / 64` is group `i`. Invariant: exactly
    // `len.div_ceil(64)` words, and bits at or past `len` are zero, so the
    // derived equality is set equality.
    words: Vec<u64>,
}

const TAG_BITMAP: u8 = 0;
const TAG_LIST: u8 = 1;

impl GroupSet {
    /// The largest universe the wire format carries (the size is a u16).
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// An empty set over `len` groups. A `len` above [`GroupSet::MAX_LEN`]
    /// is allowed here but refused by [`encode`](super::encode).
    pub fn new(len: usize) -> Self {
        GroupSet {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// The universe size: how many groups the sender has, not how many it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds group `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`: the caller indexes its own config, so an index
    /// out of range is a bug, not input.
    pub fn insert(&mut self, i: usize) {
        assert!(
            i < self.len,
            "group index {i} out of range for a set over {} groups",
            self.len
        );
        if let Some(word) = self.words.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    /// Removes group `i`; an index out of range is simply not there.
    pub fn remove(&mut self, i: usize) {
        if let Some(word) = self.words.get_mut(i / 64) {
            *word &= !(1 << (i % 64));
        }
    }

    /// Whether group `i` is in the set; `false` for an index out of range.
    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The groups in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(wi * 64 + bit)
            })
        })
    }

    /// How many groups are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set holds no group (whatever its universe size).
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    fn bitmap_len(len: usize) -> usize {
        len.div_ceil(8)
    }

    fn list_len(count: usize) -> usize {
        count.saturating_mul(2).saturating_add(2)
    }

    /// The list form is used only when strictly smaller than the bitmap, so
    /// every set has exactly one encoding.
    fn use_list(len: usize, count: usize) -> bool {
        Self::list_len(count) < Self::bitmap_len(len)
    }

    /// The encoded size in bytes: universe, tag and payload.
    #[cfg(test)]
    pub(crate) fn encoded_len(&self) -> usize {
        3 + Self::bitmap_len(self.len).min(Self::list_len(self.count()))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len =
            u16::try_from(self.len).map_err(|_| EncodeError::TooManyGroups { len: self.len })?;
        out.extend_from_slice(&len.to_be_bytes());
        self.encode_members(out);
        Ok(())
    }

    /// The form tag and members without the universe size, for a second set
    /// over a universe the message has given already.
    pub(crate) fn encode_members(&self, out: &mut Vec<u8>) {
        let count = self.count();
        if Self::use_list(self.len, count) {
            out.push(TAG_LIST);
            // count <= len <= u16::MAX, and every index < len.
            out.extend_from_slice(&(count as u16).to_be_bytes());
            for i in self.iter() {
                out.extend_from_slice(&(i as u16).to_be_bytes());
            }
        } else {
            out.push(TAG_BITMAP);
            // Group i is bit 7 - i % 8 of byte i / 8 (most significant first).
            let bytes = self
                .words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .map(u8::reverse_bits)
                .take(Self::bitmap_len(self.len));
            out.extend(bytes);
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let len = usize::from(r.u16("group count")?);
        Self::read_members(r, len)
    }

    /// Reads what [`encode_members`](Self::encode_members) wrote, over `len` groups.
    pub(crate) fn read_members(r: &mut Reader<'_>, len: usize) -> Result<Self, WireError> {
        let mut set = GroupSet::new(len);
        match r.u8("group set form")? {
            TAG_BITMAP => {
                let bytes = r.take(Self::bitmap_len(len), "group bitmap")?;
                for (word, chunk) in set.words.iter_mut().zip(bytes.chunks(8)) {
                    let mut le = [0u8; 8];
                    for (dst, src) in le.iter_mut().zip(chunk) {
                        *dst = src.reverse_bits();
                    }
                    *word = u64::from_le_bytes(le);
                }
                if let Some(last) = set.words.last() {
                    let used = len % 64;
                    if used != 0 && last >> used != 0 {
                        return Err(WireError::Malformed("group bitmap padding bits set"));
                    }
                }
                if Self::use_list(len, set.count()) {
                    return Err(WireError::Malformed("group set not in its smaller form"));
                }
            }
            TAG_LIST => {
                let count = usize::from(r.u16("group list count")?);
                if !Self::use_list(len, count) {
                    return Err(WireError::Malformed("group set not in its smaller form"));
                }
                let mut next_allowed = 0;
                for _ in 0..count {
                    let i = usize::from(r.u16("group list")?);
                    if i < next_allowed {
                        return Err(WireError::Malformed("group list not strictly ascending"));
                    }
                    if i >= len {
                        return Err(WireError::Malformed("group index out of range"));
                    }
                    set.insert(i);
                    next_allowed = i + 1;
                }
            }
            _ => return Err(WireError::Malformed("unknown group set form")),
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(len: usize, members: &[usize]) -> GroupSet {
        let mut s = GroupSet::new(len);
        for &i in members {
            s.insert(i);
        }
        s
    }

    fn encoded(s: &GroupSet) -> Vec<u8> {
        let mut out = Vec::new();
        s.encode(&mut out).expect("encodable");
        assert_eq!(out.len(), s.encoded_len());
        out
    }

    fn read(bytes: &[u8]) -> Result<GroupSet, WireError> {
        let mut r = Reader::new(bytes);
        let s = GroupSet::read(&mut r)?;
        r.finish()?;
        Ok(s)
    }

    #[test]
    fn set_operations() {
        let mut s = set(130, &[129, 0, 64, 63]);
        assert_eq!(s.len(), 130);
        assert_eq!(s.count(), 4);
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 63, 64, 129]);
        assert!(s.contains(64) && !s.contains(65) && !s.contains(1000));
        s.remove(64);
        s.remove(1000);
        assert_eq!(s.iter().collect::<Vec<_>>(), [0, 63, 129]);
        assert!(!s.is_empty());
        assert!(GroupSet::new(10).is_empty());
        assert_eq!(GroupSet::default(), GroupSet::new(0));
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn insert_out_of_range_panics() {
        GroupSet::new(3).insert(3);
    }

    #[test]
    fn bitmap_is_most_significant_bit_first() {
        assert_eq!(encoded(&set(10, &[0, 9])), [0, 10, TAG_BITMAP, 0x80, 0x40]);
        assert_eq!(encoded(&GroupSet::new(0)), [0, 0, TAG_BITMAP]);
    }

    #[test]
    fn sparse_sets_use_the_list() {
        // 64 groups: bitmap 8 bytes, a list of 2 is 6 bytes, of 3 is 8 (a tie: bitmap).
        assert_eq!(
            encoded(&set(64, &[5, 40])),
            [0, 64, TAG_LIST, 0, 2, 0, 5, 0, 40]
        );
        assert_eq!(encoded(&set(64, &[1, 2, 3]))[2], TAG_BITMAP);
    }

    #[test]
    fn round_trips_at_the_edges() {
        for s in [
            GroupSet::new(0),
            set(1, &[0]),
            set(64, &[63]),
            set(65, &[64]),
            set(4096, &(0..4096).collect::<Vec<_>>()),
            set(4096, &[4095]),
            set(GroupSet::MAX_LEN, &[0, GroupSet::MAX_LEN - 1]),
        ] {
            assert_eq!(read(&encoded(&s)), Ok(s));
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        // Padding bit set past a universe of 10.
        assert_eq!(
            read(&[0, 10, TAG_BITMAP, 0x80, 0x20]),
            Err(WireError::Malformed("group bitmap padding bits set"))
        );
        // A bitmap where the list is smaller, and a list where the bitmap is.
        let mut sparse = vec![0, 64, TAG_BITMAP, 0x80];
        sparse.extend([0; 7]);
        assert_eq!(
            read(&sparse),
            Err(WireError::Malformed("group set not in its smaller form"))
        );
        assert_eq!(
            read(&[0, 8, TAG_LIST, 0, 0]),
            Err(WireError::Malformed("group set not in its smaller form"))
        );
        // Lists must be in range and strictly ascending.
        assert_eq!(
            read(&[0, 64, TAG_LIST, 0, 2, 0, 5, 0, 5]),
            Err(WireError::Malformed("group list not strictly ascending"))
        );
        assert_eq!(
            read(&[0, 64, TAG_LIST, 0, 1, 0, 64]),
            Err(WireError::Malformed("group index out of range"))
        );
        assert_eq!(
            read(&[0, 64, 2]),
            Err(WireError::Malformed("unknown group set form"))
        );
    }

    #[test]
    fn refuses_a_universe_past_u16() {
        let mut out = Vec::new();
        assert_eq!(
            GroupSet::new(GroupSet::MAX_LEN + 1).encode(&mut out),
            Err(EncodeError::TooManyGroups { len: 65536 })
        );
    }
}
