//! The kernel of `count(DISTINCT x) … GROUP BY`: one set of `(group, value)` pairs for all
//! groups, with its memory reported exactly.
//!
//! DataFusion 55 keeps a separate hash set per group for every type but integers (through its
//! `GroupsAccumulatorAdapter`), each starting with its own allocation. With 193k users and a
//! `Utf8View` column that took 24 GB for a few hundred bytes of real state per user, and the
//! memory pool never saw most of it. Here every value becomes a 64-bit key — the bits of an
//! integer, date, time, timestamp, duration or float, or the index of a string or byte string in
//! one interner shared by all groups — and one hash set holds `(group, key)` pairs. A group's
//! count goes up when its pair is new. [`GroupedDistinct::size`] counts the set's table, the
//! interned bytes and the per-group counts, so the pool sees what the set really holds.
//!
//! The partial state (DataFusion's `count(DISTINCT)` state: a list of the group's distinct
//! values per group) is rebuilt from the pairs, so partial and final aggregation, spilling and
//! DataFusion's own accumulators stay interchangeable.

use std::hash::BuildHasher;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BinaryArray, BinaryViewArray, BooleanArray,
    Int64Array, LargeBinaryArray, LargeStringArray, ListArray, PrimitiveArray, StringArray,
    StringViewArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::compute::{cast, filter};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Field, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::logical_expr::EmitTo;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashSet, HashTable};

/// Whether [`GroupedDistinct`] handles values of `data_type` (dictionaries by their values).
pub fn supported(data_type: &DataType) -> bool {
    Codec::for_type(value_type(data_type)).is_some()
}

/// The type of the values a column of `data_type` holds (a dictionary's value type).
fn value_type(data_type: &DataType) -> &DataType {
    match data_type {
        DataType::Dictionary(_, values) => values,
        other => other,
    }
}

/// The distinct values of every group, as `(group, key)` pairs; see the module docs.
#[derive(Debug)]
pub struct GroupedDistinct {
    codec: Codec,
    /// The type of the values (a dictionary input is decoded to it first).
    data_type: DataType,
    seen: HashSet<(u64, u64)>,
    /// Distinct values per group.
    counts: Vec<i64>,
}

impl GroupedDistinct {
    /// A set for values of `data_type`; an error if [`supported`] is false for it.
    pub fn try_new(data_type: &DataType) -> Result<Self> {
        let data_type = value_type(data_type).clone();
        let Some(codec) = Codec::for_type(&data_type) else {
            return internal_err!("count(DISTINCT) groups accumulator: no keys for {data_type}");
        };
        Ok(Self {
            codec,
            data_type,
            seen: HashSet::default(),
            counts: Vec::new(),
        })
    }

    /// Adds the non-null values of `values` that `opt_filter` keeps, row `i` to group
    /// `group_indices[i]`.
    pub fn update(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        let values = self.decoded(values)?;
        let (seen, counts) = (&mut self.seen, &mut self.counts);
        self.codec.keys(&values, opt_filter, |row, key| {
            let group = group_indices[row];
            if seen.insert((group as u64, key)) {
                counts[group] += 1;
            }
        })
    }

    /// Adds partial states (one list of distinct values per row) to the groups of the rows.
    pub fn merge(
        &mut self,
        lists: &ArrayRef,
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_num_groups, 0);
        let Some(lists) = lists.as_list_opt::<i32>() else {
            return internal_err!("count(DISTINCT) state is not a list: {}", lists.data_type());
        };
        let offsets = lists.value_offsets();
        let (first, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
        let inner = self.decoded(lists.values())?;
        let (seen, counts) = (&mut self.seen, &mut self.counts);
        let mut list = 0;
        self.codec.keys(&inner, None, |row, key| {
            if row < first || row >= end {
                return;
            }
            while row >= offsets[list + 1] as usize {
                list += 1;
            }
            let group = group_indices[list];
            if seen.insert((group as u64, key)) {
                counts[group] += 1;
            }
        })
    }

    /// The distinct count of each emitted group; the rest stay, renumbered from 0.
    pub fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let emitted = self.emitted(emit_to);
        let counts = emit_to.take_needed(&mut self.counts);
        self.keep_after(emitted, |_, _| {});
        self.codec.finish_emit();
        Ok(Arc::new(Int64Array::from(counts)))
    }

    /// The partial state of each emitted group: the list of its distinct values.
    pub fn state(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let emitted = self.emitted(emit_to);
        let counts = emit_to.take_needed(&mut self.counts);
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0i32);
        let mut total = 0i64;
        for &count in &counts {
            total += count;
            let Ok(end) = i32::try_from(total) else {
                return exec_err!(
                    "count(DISTINCT): more than {} distinct values in one partial state; \
                     lower datafusion.execution.batch_size",
                    i32::MAX
                );
            };
            offsets.push(end);
        }
        let mut keys = vec![0u64; total as usize];
        let mut cursor: Vec<usize> = offsets[..counts.len()]
            .iter()
            .map(|&o| o as usize)
            .collect();
        self.keep_after(emitted, |group, key| {
            keys[cursor[group]] = key;
            cursor[group] += 1;
        });
        let values = self.codec.build(&keys, &self.data_type)?;
        // `keep_after` renumbered the interner for the groups that stay; `build` read the
        // emitted keys from the interner as it was, which can go now.
        self.codec.finish_emit();
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(self.data_type.clone(), true)),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            None,
        )?;
        Ok(Arc::new(list))
    }

    /// The partial state of each input row on its own (for DataFusion's skipped partial
    /// aggregation): a one-value list, or an empty one for a NULL or filtered-out row.
    pub fn convert_to_state(
        &self,
        values: &ArrayRef,
        opt_filter: Option<&BooleanArray>,
    ) -> Result<ArrayRef> {
        let values = self.decoded(values)?;
        let kept = kept_rows(values.as_ref(), opt_filter);
        let (kept_values, offsets) = match kept {
            None => (
                values.clone(),
                OffsetBuffer::from_lengths(std::iter::repeat_n(1, values.len())),
            ),
            Some(mask) => (
                filter(&values, &BooleanArray::new(mask.clone(), None))?,
                OffsetBuffer::from_lengths(mask.iter().map(usize::from)),
            ),
        };
        let list = ListArray::try_new(
            Arc::new(Field::new_list_field(self.data_type.clone(), true)),
            offsets,
            kept_values,
            None,
        )?;
        Ok(Arc::new(list))
    }

    /// Bytes held: the pair table, the interned values and the counts.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.seen.allocation_size()
            + self.counts.capacity() * std::mem::size_of::<i64>()
            + self.codec.size()
    }

    /// `values` with a dictionary decoded to its values.
    fn decoded(&self, values: &ArrayRef) -> Result<ArrayRef> {
        if values.data_type() == &self.data_type {
            Ok(values.clone())
        } else {
            Ok(cast(values, &self.data_type)?)
        }
    }

    /// How many groups `emit_to` emits.
    fn emitted(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.counts.len(),
            EmitTo::First(n) => n,
        }
    }

    /// Hands each pair of the first `emitted` groups (as counted before the emit) to
    /// `emitted_pair` and keeps the others, their groups renumbered from 0. `self.counts` must
    /// already have had the emitted groups taken.
    fn keep_after(&mut self, emitted: usize, mut emitted_pair: impl FnMut(usize, u64)) {
        if self.counts.is_empty() {
            for (group, key) in self.seen.drain() {
                emitted_pair(group as usize, key);
            }
            self.seen = HashSet::default();
            self.codec.start_emit(None);
            return;
        }
        let mut kept = HashSet::with_capacity(self.seen.len().saturating_sub(emitted));
        let mut kept_keys = Vec::new();
        for (group, key) in self.seen.drain() {
            let group = group as usize;
            if group < emitted {
                emitted_pair(group, key);
            } else {
                kept_keys.push(key);
                kept.insert(((group - emitted) as u64, key));
            }
        }
        // Strings no group holds any more leave the interner: renumber the kept keys.
        if let Some(renumbered) = self.codec.start_emit(Some(&kept_keys)) {
            self.seen = kept
                .into_iter()
                .map(|(group, key)| (group, u64::from(renumbered[key as usize])))
                .collect();
        } else {
            self.seen = kept;
        }
    }
}

/// The rows of `array` that are not NULL and that `filter` keeps (`None`: all of them).
fn kept_rows(array: &dyn Array, filter: Option<&BooleanArray>) -> Option<BooleanBuffer> {
    let nulls = array.logical_nulls().map(|n| n.into_inner());
    let filter = filter.map(|f| match f.nulls() {
        Some(n) => f.values() & n.inner(),
        None => f.values().clone(),
    });
    match (nulls, filter) {
        (None, None) => None,
        (Some(n), None) => Some(n),
        (None, Some(f)) => Some(f),
        (Some(n), Some(f)) => Some(&n & &f),
    }
}

/// Calls `f(row)` for every row of a `len`-row array that `kept` keeps.
#[inline]
fn for_kept(len: usize, kept: Option<&BooleanBuffer>, mut f: impl FnMut(usize)) {
    match kept {
        None => (0..len).for_each(&mut f),
        Some(mask) => mask.set_indices().for_each(&mut f),
    }
}

/// How values of one type become 64-bit keys and back.
#[derive(Debug)]
enum Codec {
    /// Fixed-width values of at most 64 bits: the key is their bit pattern.
    Bits,
    Boolean,
    /// Strings and byte strings: the key is the value's index in the interner.
    Bytes(Interner),
}

/// Calls `$body` with `$T` the Arrow primitive type of `$data_type` for the types whose values
/// fit in 64 bits, or evaluates `$other`.
macro_rules! with_bits_type {
    ($data_type:expr, $T:ident => $body:expr, _ => $other:expr) => {
        match $data_type {
            DataType::Int8 => {
                type $T = Int8Type;
                $body
            }
            DataType::Int16 => {
                type $T = Int16Type;
                $body
            }
            DataType::Int32 => {
                type $T = Int32Type;
                $body
            }
            DataType::Int64 => {
                type $T = Int64Type;
                $body
            }
            DataType::UInt8 => {
                type $T = UInt8Type;
                $body
            }
            DataType::UInt16 => {
                type $T = UInt16Type;
                $body
            }
            DataType::UInt32 => {
                type $T = UInt32Type;
                $body
            }
            DataType::UInt64 => {
                type $T = UInt64Type;
                $body
            }
            DataType::Float32 => {
                type $T = Float32Type;
                $body
            }
            DataType::Float64 => {
                type $T = Float64Type;
                $body
            }
            DataType::Date32 => {
                type $T = Date32Type;
                $body
            }
            DataType::Date64 => {
                type $T = Date64Type;
                $body
            }
            DataType::Time32(TimeUnit::Second) => {
                type $T = Time32SecondType;
                $body
            }
            DataType::Time32(TimeUnit::Millisecond) => {
                type $T = Time32MillisecondType;
                $body
            }
            DataType::Time64(TimeUnit::Microsecond) => {
                type $T = Time64MicrosecondType;
                $body
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                type $T = Time64NanosecondType;
                $body
            }
            DataType::Timestamp(TimeUnit::Second, _) => {
                type $T = TimestampSecondType;
                $body
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                type $T = TimestampMillisecondType;
                $body
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                type $T = TimestampMicrosecondType;
                $body
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                type $T = TimestampNanosecondType;
                $body
            }
            DataType::Duration(TimeUnit::Second) => {
                type $T = DurationSecondType;
                $body
            }
            DataType::Duration(TimeUnit::Millisecond) => {
                type $T = DurationMillisecondType;
                $body
            }
            DataType::Duration(TimeUnit::Microsecond) => {
                type $T = DurationMicrosecondType;
                $body
            }
            DataType::Duration(TimeUnit::Nanosecond) => {
                type $T = DurationNanosecondType;
                $body
            }
            _ => $other,
        }
    };
}

/// Calls `$body` with `$values` an [`ArrayAccessor`](datafusion::arrow::array::ArrayAccessor)
/// of `&str` or `&[u8]` over `$array` for the string and byte-string types, or evaluates
/// `$other`.
macro_rules! with_bytes_array {
    ($array:expr, $values:ident => $body:expr, _ => $other:expr) => {
        match $array.data_type() {
            DataType::Utf8 => {
                let $values = $array.as_string::<i32>();
                $body
            }
            DataType::LargeUtf8 => {
                let $values = $array.as_string::<i64>();
                $body
            }
            DataType::Utf8View => {
                let $values = $array.as_string_view();
                $body
            }
            DataType::Binary => {
                let $values = $array.as_binary::<i32>();
                $body
            }
            DataType::LargeBinary => {
                let $values = $array.as_binary::<i64>();
                $body
            }
            DataType::BinaryView => {
                let $values = $array.as_binary_view();
                $body
            }
            _ => $other,
        }
    };
}

/// A string's or byte string's bytes.
#[inline]
fn bytes_of<T: AsRef<[u8]> + ?Sized>(value: &T) -> &[u8] {
    value.as_ref()
}

/// A fixed-width native value as the 64 bits of a key, and back.
trait KeyBits: Copy {
    fn to_key(self) -> u64;
    fn from_key(key: u64) -> Self;
}

macro_rules! key_bits_int {
    ($($t:ty => $u:ty),*) => {$(
        impl KeyBits for $t {
            #[inline]
            fn to_key(self) -> u64 {
                self as $u as u64
            }
            #[inline]
            fn from_key(key: u64) -> Self {
                key as $u as $t
            }
        }
    )*};
}
key_bits_int!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, u8 => u8, u16 => u16, u32 => u32, u64 => u64);

impl KeyBits for f32 {
    // Bit patterns, as DataFusion's float distinct count: 0.0 and -0.0 are two values.
    fn to_key(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_key(key: u64) -> Self {
        f32::from_bits(key as u32)
    }
}

impl KeyBits for f64 {
    fn to_key(self) -> u64 {
        self.to_bits()
    }
    fn from_key(key: u64) -> Self {
        f64::from_bits(key)
    }
}

fn primitive_keys<T: ArrowPrimitiveType>(
    array: &ArrayRef,
    kept: Option<&BooleanBuffer>,
    mut f: impl FnMut(usize, u64),
) where
    T::Native: KeyBits,
{
    let values = array.as_primitive::<T>().values();
    for_kept(values.len(), kept, |row| f(row, values[row].to_key()));
}

fn primitive_from_keys<T: ArrowPrimitiveType>(keys: &[u64], data_type: &DataType) -> ArrayRef
where
    T::Native: KeyBits,
{
    let values: ScalarBuffer<T::Native> = keys.iter().map(|&k| T::Native::from_key(k)).collect();
    Arc::new(PrimitiveArray::<T>::new(values, None).with_data_type(data_type.clone()))
}

impl Codec {
    fn for_type(data_type: &DataType) -> Option<Self> {
        let bits = with_bits_type!(data_type, T => { let _ = std::marker::PhantomData::<T>; true }, _ => false);
        if bits {
            return Some(Codec::Bits);
        }
        match data_type {
            DataType::Boolean => Some(Codec::Boolean),
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView => Some(Codec::Bytes(Interner::default())),
            _ => None,
        }
    }

    /// Calls `f(row, key)` for each non-null row of `array` that `opt_filter` keeps.
    fn keys(
        &mut self,
        array: &ArrayRef,
        opt_filter: Option<&BooleanArray>,
        mut f: impl FnMut(usize, u64),
    ) -> Result<()> {
        let kept = kept_rows(array.as_ref(), opt_filter);
        let kept = kept.as_ref();
        match self {
            Codec::Bits => with_bits_type!(
                array.data_type(),
                T => primitive_keys::<T>(array, kept, f),
                _ => return internal_err!("count(DISTINCT): no bit keys for {}", array.data_type())
            ),
            Codec::Boolean => {
                let values = array.as_boolean().values();
                for_kept(values.len(), kept, |row| {
                    f(row, u64::from(values.value(row)))
                });
            }
            Codec::Bytes(interner) => with_bytes_array!(
                array,
                values => for_kept(values.len(), kept, |row| {
                    f(row, interner.intern(bytes_of(values.value(row))));
                }),
                _ => return internal_err!("count(DISTINCT): no byte keys for {}", array.data_type())
            ),
        }
        Ok(())
    }

    /// The values of `keys`, as an array of `data_type`.
    fn build(&self, keys: &[u64], data_type: &DataType) -> Result<ArrayRef> {
        match self {
            Codec::Bits => with_bits_type!(
                data_type,
                T => Ok(primitive_from_keys::<T>(keys, data_type)),
                _ => internal_err!("count(DISTINCT): no bit keys for {data_type}")
            ),
            Codec::Boolean => Ok(Arc::new(BooleanArray::from_iter(
                keys.iter().map(|&k| Some(k != 0)),
            ))),
            Codec::Bytes(interner) => {
                let bytes = keys.iter().map(|&k| interner.emitting(k));
                let strings = || -> Result<Vec<&str>> {
                    keys.iter()
                        .map(|&k| {
                            std::str::from_utf8(interner.emitting(k)).or_else(|e| {
                                internal_err!("count(DISTINCT): interned string is not UTF-8: {e}")
                            })
                        })
                        .collect()
                };
                Ok(match data_type {
                    DataType::Utf8 => Arc::new(StringArray::from_iter_values(strings()?)),
                    DataType::LargeUtf8 => Arc::new(LargeStringArray::from_iter_values(strings()?)),
                    DataType::Utf8View => Arc::new(StringViewArray::from_iter_values(strings()?)),
                    DataType::Binary => Arc::new(BinaryArray::from_iter_values(bytes)),
                    DataType::LargeBinary => Arc::new(LargeBinaryArray::from_iter_values(bytes)),
                    DataType::BinaryView => Arc::new(BinaryViewArray::from_iter_values(bytes)),
                    other => return internal_err!("count(DISTINCT): no byte keys for {other}"),
                })
            }
        }
    }

    /// Starts an emit: the interner keeps only `kept` keys (all of them gone for `None`) and
    /// returns the new number of each old key it keeps; until [`Codec::finish_emit`] the old
    /// values stay readable for [`Codec::build`].
    fn start_emit(&mut self, kept: Option<&[u64]>) -> Option<Vec<u32>> {
        match self {
            Codec::Bytes(interner) => interner.start_emit(kept),
            _ => None,
        }
    }

    fn finish_emit(&mut self) {
        if let Codec::Bytes(interner) = self {
            interner.emitted = None;
        }
    }

    fn size(&self) -> usize {
        match self {
            Codec::Bytes(interner) => interner.size(),
            _ => 0,
        }
    }
}

/// Distinct byte strings, numbered in order of arrival.
#[derive(Debug, Default)]
struct Interner {
    hasher: DefaultHashBuilder,
    /// Indices into `ends`, found by the hash of the value.
    table: HashTable<u32>,
    /// Hash of each value (so growing the table does not hash the values again).
    hashes: Vec<u64>,
    /// End of each value in `bytes`; value `i` starts where value `i - 1` ends.
    ends: Vec<usize>,
    bytes: Vec<u8>,
    /// The values as they were before the emit in progress (see [`Codec::start_emit`]).
    emitted: Option<Box<Interner>>,
}

impl Interner {
    #[inline]
    fn value(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.bytes[start..self.ends[id]]
    }

    /// The value of `key` as numbered before the emit in progress.
    fn emitting(&self, key: u64) -> &[u8] {
        self.emitted.as_deref().unwrap_or(self).value(key as usize)
    }

    #[inline]
    fn intern(&mut self, value: &[u8]) -> u64 {
        let hash = self.hasher.hash_one(value);
        let Self {
            table,
            hashes,
            ends,
            bytes,
            ..
        } = self;
        let value_of = |id: u32| {
            let id = id as usize;
            let start = if id == 0 { 0 } else { ends[id - 1] };
            &bytes[start..ends[id]]
        };
        match table.entry(hash, |&id| value_of(id) == value, |&id| hashes[id as usize]) {
            Entry::Occupied(e) => u64::from(*e.get()),
            Entry::Vacant(e) => {
                let id = ends.len() as u32;
                e.insert(id);
                bytes.extend_from_slice(value);
                ends.push(bytes.len());
                hashes.push(hash);
                u64::from(id)
            }
        }
    }

    /// See [`Codec::start_emit`].
    fn start_emit(&mut self, kept: Option<&[u64]>) -> Option<Vec<u32>> {
        let old = std::mem::take(self);
        let old = self.emitted.insert(Box::new(old));
        let kept = kept?;
        let mut renumbered = vec![u32::MAX; old.ends.len()];
        let mut fresh = Interner {
            hasher: old.hasher.clone(),
            ..Interner::default()
        };
        for &key in kept {
            let id = key as usize;
            if renumbered[id] == u32::MAX {
                renumbered[id] = fresh.intern(old.value(id)) as u32;
            }
        }
        let emitted = self.emitted.take();
        *self = fresh;
        self.emitted = emitted;
        Some(renumbered)
    }

    fn size(&self) -> usize {
        self.table.allocation_size()
            + self.hashes.capacity() * 8
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringViewArray};

    fn counts(array: ArrayRef) -> Vec<i64> {
        array.as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn strings_count_once_per_group_and_skip_nulls_and_filtered_rows() -> Result<()> {
        let values: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("shoes"),
            Some("books"),
            Some("shoes"),
            None,
            Some("a category name longer than twelve bytes"),
            Some("books"),
        ]));
        let filter = BooleanArray::from(vec![
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            None,
        ]);
        let mut set = GroupedDistinct::try_new(values.data_type())?;
        set.update(&values, &[0, 0, 0, 1, 1, 1], Some(&filter), 3)?;
        assert_eq!(counts(set.evaluate(EmitTo::All)?), vec![2, 1, 0]);
        Ok(())
    }

    #[test]
    fn state_then_merge_gives_the_same_counts_for_every_type() -> Result<()> {
        let inputs: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![
                Some(-1),
                Some(7),
                Some(-1),
                None,
                Some(7),
                Some(8),
            ])),
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y"),
                Some("x"),
                None,
                Some("y"),
                Some("z"),
            ])),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                Some(true),
                None,
                Some(true),
                Some(true),
            ])),
            Arc::new(PrimitiveArray::<Float64Type>::from(vec![
                Some(0.5),
                Some(-0.0),
                Some(0.5),
                None,
                Some(1.5),
                Some(0.0),
            ])),
        ];
        for values in inputs {
            let groups = [0, 0, 1, 1, 2, 2];
            let mut direct = GroupedDistinct::try_new(values.data_type())?;
            direct.update(&values, &groups, None, 3)?;
            let mut partial = GroupedDistinct::try_new(values.data_type())?;
            partial.update(&values, &groups, None, 3)?;
            // Emit the first group's state alone, then the rest: both halves merge back.
            let first = partial.state(EmitTo::First(1))?;
            let rest = partial.state(EmitTo::All)?;
            assert_eq!(first.len(), 1);
            assert_eq!(rest.len(), 2);
            let mut merged = GroupedDistinct::try_new(values.data_type())?;
            merged.merge(&first, &[0], 3)?;
            merged.merge(&rest, &[1, 2], 3)?;
            // Again through convert_to_state (one list per input row).
            let mut converted = GroupedDistinct::try_new(values.data_type())?;
            let rows = converted.convert_to_state(&values, None)?;
            converted.merge(&rows, &groups, 3)?;
            let expected = counts(direct.evaluate(EmitTo::All)?);
            assert_eq!(
                counts(merged.evaluate(EmitTo::All)?),
                expected,
                "{}",
                values.data_type()
            );
            assert_eq!(
                counts(converted.evaluate(EmitTo::All)?),
                expected,
                "{}",
                values.data_type()
            );
        }
        Ok(())
    }

    #[test]
    fn strings_stay_right_across_partial_emits_and_leave_the_interner() -> Result<()> {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "a", "d", "e"]));
        let mut set = GroupedDistinct::try_new(values.data_type())?;
        set.update(&values, &[0, 0, 1, 2, 2, 2], None, 3)?;
        assert_eq!(counts(set.evaluate(EmitTo::First(1))?), vec![2]);
        // Group 0 left; "b" is gone from the interner, "a" stays for group 2 (now 1).
        let Codec::Bytes(interner) = &set.codec else {
            unreachable!()
        };
        assert_eq!(interner.ends.len(), 4);
        let state = set.state(EmitTo::First(1))?;
        let list = state.as_list::<i32>();
        assert_eq!(list.value(0).as_string::<i32>().value(0), "c");
        let more: ArrayRef = Arc::new(StringArray::from(vec!["a", "f"]));
        set.update(&more, &[0, 0], None, 1)?;
        assert_eq!(counts(set.evaluate(EmitTo::All)?), vec![4]);
        Ok(())
    }

    #[test]
    fn sliced_state_lists_merge_only_their_own_values() -> Result<()> {
        let values: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6]));
        let mut set = GroupedDistinct::try_new(values.data_type())?;
        let state = set.convert_to_state(&values, None)?;
        let sliced = state.slice(2, 3);
        set.merge(&sliced, &[0, 0, 1], 2)?;
        assert_eq!(counts(set.evaluate(EmitTo::All)?), vec![2, 1]);
        Ok(())
    }

    #[test]
    fn size_grows_with_the_values_held() -> Result<()> {
        let mut set = GroupedDistinct::try_new(&DataType::Utf8)?;
        let empty = set.size();
        let values: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..10_000).map(|i| format!("value number {i} padded to be long enough")),
        ));
        let groups: Vec<usize> = (0..10_000).map(|i| i % 100).collect();
        set.update(&values, &groups, None, 100)?;
        // 10,000 pairs of 16 bytes and ~450 KB of strings at least.
        assert!(set.size() > empty + 10_000 * 16 + 400_000, "{}", set.size());
        set.evaluate(EmitTo::All)?;
        assert!(set.size() < empty + 1024, "{}", set.size());
        Ok(())
    }
}
