//! The kernel: an open-addressing hash table from integer keys to dense group indices.
//!
//! Keys arrive as their bit patterns widened to `u64` (see [`IntKey`]), so one table serves every
//! integer-backed Arrow type of one width. Each slot holds the key next to its group index, so a
//! lookup reads one slot (DataFusion's `GroupValuesPrimitive` reads its hash-table entry and then
//! the key in a separate vector). The table probes linearly and stays at most 3/4 full; the
//! slots of the rows a few places ahead are prefetched, so tables larger than the caches do not
//! stall on every row.

use datafusion::arrow::buffer::NullBuffer;

/// An integer key type, by its bit pattern. Keys of one table all have the same type, so
/// widening (sign- or zero-extending) and narrowing back lose nothing.
pub trait IntKey: Copy {
    /// The key widened to 64 bits.
    fn to_bits(self) -> u64;
    /// The key back from [`IntKey::to_bits`].
    fn from_bits(bits: u64) -> Self;
}

macro_rules! int_key {
    ($($t:ty),+) => {
        $(impl IntKey for $t {
            #[inline]
            fn to_bits(self) -> u64 {
                self as u64
            }
            #[inline]
            fn from_bits(bits: u64) -> Self {
                bits as $t
            }
        })+
    };
}
int_key!(u8, u16, u32, u64);

/// No group in this slot.
const EMPTY: usize = usize::MAX;

/// Rows ahead whose slot is prefetched.
const PREFETCH_DISTANCE: usize = 16;

#[derive(Clone, Copy)]
struct Slot {
    key: u64,
    group: usize,
}

const EMPTY_SLOT: Slot = Slot {
    key: 0,
    group: EMPTY,
};

/// Integer keys to dense group indices `0..len()`, in order of first appearance; a NULL key is
/// a group of its own.
pub struct IntGroupTable {
    /// A power of two in length, at most [`MAX_LOAD`] of them used.
    slots: Vec<Slot>,
    /// `64 - log2(slots.len())`: a hash's top bits pick the slot.
    shift: u32,
    /// The key of each non-NULL group, by group index (the NULL group's entry is a
    /// placeholder).
    keys: Vec<u64>,
    /// The group index of the NULL key, once seen.
    null_group: Option<usize>,
    /// Scratch: each row's hash, reused across batches.
    hashes: Vec<u64>,
}

const INITIAL_SLOTS: usize = 1024;

/// The largest share of slots in use, as (numerator, denominator). At 3/4 a linear-probe hit
/// reads 2.5 slots on average, mostly in the prefetched cache line; at 1/2 it read 1.5 but the
/// table took up to 4 slots (64 bytes) per group, 1.4× the peak memory of DataFusion's.
const MAX_LOAD: (usize, usize) = (3, 4);

/// Spreads a key over all 64 bits: high bits are folded down, then a Fibonacci multiply
/// carries every bit into the top bits, which pick the slot. Sequential keys (the usual ids)
/// land evenly.
#[inline]
fn hash(key: u64) -> u64 {
    (key ^ (key >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Default for IntGroupTable {
    fn default() -> Self {
        Self::new()
    }
}

impl IntGroupTable {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            slots: vec![EMPTY_SLOT; INITIAL_SLOTS],
            shift: 64 - INITIAL_SLOTS.trailing_zeros(),
            keys: Vec::new(),
            null_group: None,
            hashes: Vec::new(),
        }
    }

    /// Number of groups, the NULL group included.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key has been seen since the last [`IntGroupTable::take`].
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
            + self.keys.capacity() * size_of::<u64>()
            + self.hashes.capacity() * size_of::<u64>()
    }

    /// Writes the group index of each key to `groups` (cleared first), adding groups for keys
    /// not seen before. A row that `nulls` marks NULL goes to the NULL group, whatever its key.
    pub fn intern<K: IntKey>(
        &mut self,
        keys: &[K],
        nulls: Option<&NullBuffer>,
        groups: &mut Vec<usize>,
    ) {
        groups.clear();
        groups.reserve(keys.len());
        self.hashes.clear();
        self.hashes.extend(keys.iter().map(|k| hash(k.to_bits())));
        for (row, key) in keys.iter().enumerate() {
            if let Some(&ahead) = self.hashes.get(row + PREFETCH_DISTANCE) {
                self.prefetch(ahead);
            }
            let group = match nulls {
                Some(nulls) if nulls.is_null(row) => self.null_group(),
                _ => self.find_or_insert(key.to_bits(), self.hashes[row]),
            };
            groups.push(group);
        }
    }

    fn null_group(&mut self) -> usize {
        *self.null_group.get_or_insert_with(|| {
            self.keys.push(0);
            self.keys.len() - 1
        })
    }

    #[inline]
    fn find_or_insert(&mut self, key: u64, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut pos = (hash >> self.shift) as usize;
        loop {
            let slot = self.slots[pos];
            if slot.group == EMPTY {
                break;
            }
            if slot.key == key {
                return slot.group;
            }
            pos = (pos + 1) & mask;
        }
        // A new key. Grow first if that would make the table more than MAX_LOAD full; growing
        // moves every slot, so the free slot is looked up again.
        let group = self.keys.len();
        self.keys.push(key);
        let used = self.keys.len() - usize::from(self.null_group.is_some());
        if used * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            self.grow();
            self.place(key, hash, group);
        } else {
            self.slots[pos] = Slot { key, group };
        }
        group
    }

    /// Puts a key known to be absent into its first free slot.
    fn place(&mut self, key: u64, hash: u64, group: usize) {
        let mask = self.slots.len() - 1;
        let mut pos = (hash >> self.shift) as usize;
        while self.slots[pos].group != EMPTY {
            pos = (pos + 1) & mask;
        }
        self.slots[pos] = Slot { key, group };
    }

    /// Doubles the slots and puts every group back.
    fn grow(&mut self) {
        let slots = 2 * self.slots.len();
        self.slots = vec![EMPTY_SLOT; slots];
        self.shift = 64 - slots.trailing_zeros();
        for group in 0..self.keys.len() {
            if Some(group) != self.null_group {
                let key = self.keys[group];
                self.place(key, hash(key), group);
            }
        }
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        let pos = (hash >> self.shift) as usize;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `pos < slots.len()` (the shift leaves log2(len) bits), so the pointer is in
        // bounds; a prefetch reads nothing and changes no memory.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(pos).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = pos;
    }

    /// Removes every group and returns the keys by group index, with the NULL group's index.
    /// The table starts over at its initial size, so its memory is given back.
    pub fn take<K: IntKey>(&mut self) -> (Vec<K>, Option<usize>) {
        let keys = std::mem::take(&mut self.keys);
        let null_group = self.null_group;
        // The slots go before the keys are converted, and 64-bit keys convert in place
        // (`collect` reuses the vector), so emitting holds no second copy of the table.
        *self = Self::new();
        (keys.into_iter().map(K::from_bits).collect(), null_group)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    use super::*;

    /// Group indices the way a reference map assigns them: by first appearance.
    fn reference(keys: &[Option<u64>]) -> (Vec<usize>, Vec<Option<u64>>) {
        let mut map = HashMap::new();
        let mut firsts = vec![];
        let groups = keys
            .iter()
            .map(|k| {
                *map.entry(*k).or_insert_with(|| {
                    firsts.push(*k);
                    firsts.len() - 1
                })
            })
            .collect();
        (groups, firsts)
    }

    fn intern_all(table: &mut IntGroupTable, keys: &[Option<u64>]) -> Vec<usize> {
        let values: Vec<u64> = keys.iter().map(|k| k.unwrap_or(12345)).collect();
        let nulls = NullBuffer::from_iter(keys.iter().map(Option::is_some));
        let mut groups = vec![];
        table.intern(&values, Some(&nulls), &mut groups);
        groups
    }

    #[test]
    fn groups_by_first_appearance_across_batches_and_growth() {
        let mut rng = Pcg64::seed_from_u64(7);
        // Ids, negative numbers as bits, extremes, a few NULLs; 50k distinct keys make the
        // table grow several times mid-batch.
        let keys: Vec<Option<u64>> = (0..200_000)
            .map(|_| match rng.gen_range(0..100) {
                0 => None,
                1 => Some(u64::MAX),
                2 => Some(0),
                3 => Some((-(rng.gen_range(1..1000i64))) as u64),
                _ => Some(rng.gen_range(0..50_000u64) << rng.gen_range(0..3)),
            })
            .collect();
        let (want, firsts) = reference(&keys);
        let mut table = IntGroupTable::new();
        let mut got = vec![];
        for chunk in keys.chunks(8192) {
            got.extend(intern_all(&mut table, chunk));
        }
        assert_eq!(got, want);
        assert_eq!(table.len(), firsts.len());
        let (emitted, null_group) = table.take::<u64>();
        for (group, key) in firsts.iter().enumerate() {
            match key {
                Some(k) => assert_eq!(emitted[group], *k),
                None => assert_eq!(null_group, Some(group)),
            }
        }
    }

    #[test]
    fn take_starts_over() {
        let mut table = IntGroupTable::new();
        assert_eq!(intern_all(&mut table, &[Some(5), None, Some(9)]), [0, 1, 2]);
        let (keys, null_group) = table.take::<u64>();
        assert_eq!((keys[0], keys[2], null_group), (5, 9, Some(1)));
        assert!(table.is_empty());
        // After a take the same keys are new groups again, numbered from 0.
        assert_eq!(
            intern_all(&mut table, &[Some(9), Some(9), Some(5)]),
            [0, 0, 1]
        );
        let (keys, null_group) = table.take::<u64>();
        assert_eq!((keys, null_group), (vec![9, 5], None));
        assert_eq!(table.slots.len(), INITIAL_SLOTS);
    }

    #[test]
    fn narrow_keys_round_trip_through_their_bits() {
        let mut table = IntGroupTable::new();
        let keys: Vec<u8> = vec![255, 0, 128, 255, 7];
        let mut groups = vec![];
        table.intern(&keys, None, &mut groups);
        assert_eq!(groups, [0, 1, 2, 0, 3]);
        let (back, null_group) = table.take::<u8>();
        assert_eq!((back, null_group), (vec![255, 0, 128, 7], None));
    }

    #[test]
    fn keys_differing_only_in_high_bits_spread_out() {
        // Multiples of 2^40: the low bits are all zero; a hash taking the low bits alone
        // would put them all in one chain.
        let keys: Vec<u64> = (0..4096u64).map(|i| i << 40).collect();
        let mut table = IntGroupTable::new();
        let mut groups = vec![];
        table.intern(&keys, None, &mut groups);
        assert_eq!(groups, (0..4096).collect::<Vec<_>>());
        let mask = table.slots.len() - 1;
        let longest_probe = keys
            .iter()
            .map(|&k| {
                let home = (hash(k) >> table.shift) as usize;
                (0..table.slots.len())
                    .find(|d| table.slots[(home + d) & mask].key == k)
                    .unwrap()
            })
            .max()
            .unwrap();
        assert!(longest_probe < 64, "longest probe {longest_probe}");
    }
}
