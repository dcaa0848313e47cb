//! Text → hashed n-gram features for `model_type = 'text_classifier'` (the "hashing trick":
//! every n-gram is hashed into one of `num_features` buckets, so there is no vocabulary to
//! store or to outgrow).
//!
//! Each text is analysed one of two ways, chosen per row by [`TextLanguage`] (`auto`: Chinese
//! when the text has a Han character):
//!
//! - **English** (any script without Han characters): word n-grams of 1 to `word_ngrams` words
//!   (words are runs of letters and digits, apostrophes kept inside: `don't`), plus character
//!   n-grams inside word boundaries (scikit-learn's `char_wb`: each whitespace-separated chunk,
//!   lowercased, padded with one space on each side, so punctuation stuck to a word — `great!` —
//!   is kept) of `en_char_ngrams` lengths (default 2–4).
//! - **Chinese**: character n-grams (`char_wb` as above) of `zh_char_ngrams` lengths (default 1–3):
//!   Chinese has no spaces, and character n-grams need no word segmentation (好评, 不好, 很不错 are
//!   all n-grams of the text).
//!
//! A bucket's value is its count `tf`, damped to `1 + ln tf` (`sublinear_tf`), times the
//! bucket's inverse document frequency learned in training (`idf`, smoothed as scikit-learn:
//! `ln((1 + n) / (1 + df)) + 1`). The word block and the character block of a row are each
//! scaled to unit L2 norm and then added (a word and a character n-gram hashed to the same
//! bucket share it) — the rows of scikit-learn's union of a word and a `char_wb`
//! `TfidfVectorizer(sublinear_tf=True)`, up to hash collisions. Normalising the blocks apart
//! keeps the few word n-grams from being drowned by the many character n-grams (measured on
//! real review sentences: `benches/compare/RESULTS-sentiment.md`).
//!
//! Hashing is FNV-1a over the n-gram's UTF-8 bytes, finished with a 64-bit mixer and reduced
//! modulo `num_features`. Word and character n-grams use different seeds. The hash is part of
//! the model file format: changing it would silently break stored models, so a test pins it.

use serde::{Deserialize, Serialize};

use super::chinese::is_han;

/// Which analysis a text gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextLanguage {
    /// Chinese when the text has a Han character, English otherwise (decided per row).
    Auto,
    /// Always the English analysis.
    En,
    /// Always the Chinese analysis.
    Zh,
}

impl TextLanguage {
    /// The SQL spelling (`language = 'auto' | 'en' | 'zh'`).
    pub fn as_str(self) -> &'static str {
        match self {
            TextLanguage::Auto => "auto",
            TextLanguage::En => "en",
            TextLanguage::Zh => "zh",
        }
    }

    /// Parses the SQL spelling (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        [TextLanguage::Auto, TextLanguage::En, TextLanguage::Zh]
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// How texts become hashed features: stored in the model, so prediction hashes exactly as
/// training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextHashing {
    /// Hash buckets (feature columns).
    pub num_features: usize,
    /// Longest word n-gram of the English analysis (0: no word features).
    pub word_ngrams: usize,
    /// Character n-gram lengths `[min, max]` of the English analysis (`max` 0: none).
    pub en_char_ngrams: [usize; 2],
    /// Character n-gram lengths `[min, max]` of the Chinese analysis (`max` 0: none).
    pub zh_char_ngrams: [usize; 2],
    /// Which analysis each text gets.
    pub language: TextLanguage,
    /// Damp counts to `1 + ln(count)`.
    pub sublinear_tf: bool,
    /// Weigh buckets by inverse document frequency.
    pub idf: bool,
}

impl Default for TextHashing {
    fn default() -> Self {
        Self {
            num_features: 1 << 18,
            word_ngrams: 2,
            en_char_ngrams: [2, 4],
            zh_char_ngrams: [1, 3],
            language: TextLanguage::Auto,
            sublinear_tf: true,
            idf: true,
        }
    }
}

/// Most bytes of a text that are hashed: a longer text is cut (at a character boundary), so a
/// 1 MB value is featurized in bounded time. Reviews are far shorter.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

const CHAR_SEED: u64 = 0xcbf2_9ce4_8422_2325; // the FNV-1a offset basis
const WORD_SEED: u64 = 0x9ae1_6a3b_2f90_404f;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

/// MurmurHash3's 64-bit finaliser: spreads FNV's weak low bits before the modulo.
#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Reusable buffers of the featurizer (one per thread or per batch).
#[derive(Debug, Default)]
pub struct HashScratch {
    lower: String,
    padded: String,
    bounds: Vec<usize>,
    words: Vec<u64>,
    buckets: Vec<u32>,
    /// The last counted or featurized row: (bucket, value). After [`TextHashing::count`]: the
    /// word block (`..split`) then the character block, each sorted by bucket with distinct
    /// buckets; after [`TextHashing::weigh`]: one block, sorted, distinct.
    pub row: Vec<(u32, f32)>,
    /// Where the character block of `row` starts (after counting).
    pub split: usize,
}

impl TextHashing {
    /// The analysis `text` gets.
    pub fn analysis(&self, text: &str) -> TextLanguage {
        match self.language {
            TextLanguage::Auto if text.chars().any(is_han) => TextLanguage::Zh,
            TextLanguage::Auto => TextLanguage::En,
            fixed => fixed,
        }
    }

    #[inline]
    fn bucket(&self, h: u64) -> u32 {
        (fmix(h) % self.num_features as u64) as u32
    }

    /// Counts the n-gram buckets of `text` into `s.row` as (bucket, count): the word block,
    /// then (from `s.split`) the character block, each sorted by bucket.
    pub fn count(&self, text: &str, s: &mut HashScratch) {
        s.row.clear();
        let text = cut(text, MAX_TEXT_BYTES);
        lowercase_into(text, &mut s.lower);
        s.buckets.clear();
        let [lo, hi] = match self.analysis(text) {
            TextLanguage::Zh => self.zh_char_ngrams,
            _ => {
                self.word_ngrams_into(s);
                self.en_char_ngrams
            }
        };
        runs_into(&mut s.buckets, &mut s.row);
        s.split = s.row.len();
        s.buckets.clear();
        if hi > 0 {
            let lower = std::mem::take(&mut s.lower);
            for chunk in lower.split_whitespace() {
                self.char_ngrams_into(chunk, lo.max(1), hi, s);
            }
            s.lower = lower;
        }
        runs_into(&mut s.buckets, &mut s.row);
    }

    /// The distinct buckets of a counted row (both blocks), for document frequencies.
    pub fn distinct_buckets(s: &mut HashScratch) -> &[u32] {
        s.buckets.clear();
        s.buckets.extend(s.row.iter().map(|&(b, _)| b));
        s.buckets.sort_unstable();
        s.buckets.dedup();
        &s.buckets
    }

    /// Counts and weighs `text` into `s.row`: the model's feature row (sorted, distinct).
    pub fn featurize(&self, text: &str, idf: Option<&[f32]>, s: &mut HashScratch) {
        self.count(text, s);
        self.weigh(s, idf);
    }

    /// Word n-grams of the lowercased text in `s.lower`.
    fn word_ngrams_into(&self, s: &mut HashScratch) {
        if self.word_ngrams == 0 {
            return;
        }
        s.words.clear();
        let lower = s.lower.as_str();
        let words = &mut s.words;
        for_each_word(lower, |w| words.push(fnv(WORD_SEED, w.as_bytes())));
        for i in 0..s.words.len() {
            let mut h = WORD_SEED;
            for n in 1..=self.word_ngrams.min(s.words.len() - i) {
                h = extend_words(h, s.words[i + n - 1]);
                s.buckets.push(self.bucket(h ^ n as u64));
            }
        }
    }

    /// Character n-grams of lengths `lo..=hi` of one whitespace-free chunk, padded with a
    /// space on each side. The lone padding space is not a feature.
    fn char_ngrams_into(&self, chunk: &str, lo: usize, hi: usize, s: &mut HashScratch) {
        s.padded.clear();
        s.padded.push(' ');
        s.padded.push_str(chunk);
        s.padded.push(' ');
        s.bounds.clear();
        s.bounds.extend(
            s.padded
                .char_indices()
                .map(|(i, _)| i)
                .chain([s.padded.len()]),
        );
        let chars = s.bounds.len() - 1;
        let bytes = s.padded.as_bytes();
        for i in 0..chars {
            let mut h = CHAR_SEED;
            for n in 1..=hi.min(chars - i) {
                h = fnv(h, &bytes[s.bounds[i + n - 1]..s.bounds[i + n]]);
                if n >= lo && !(n == 1 && (i == 0 || i == chars - 1)) {
                    s.buckets.push(self.bucket(h));
                }
            }
        }
    }

    /// Turns the counted row in `s` into the model's values: sublinear tf, idf (when given),
    /// each block to unit L2 norm, then the blocks added into one sorted row.
    pub fn weigh(&self, s: &mut HashScratch, idf: Option<&[f32]>) {
        let split = s.split.min(s.row.len());
        let (words, chars) = s.row.split_at_mut(split);
        self.weigh_block(words, idf);
        self.weigh_block(chars, idf);
        if s.split > 0 && s.split < s.row.len() {
            s.row.sort_unstable_by_key(|&(b, _)| b);
            let mut out = 0;
            for i in 0..s.row.len() {
                if out > 0 && s.row[out - 1].0 == s.row[i].0 {
                    s.row[out - 1].1 += s.row[i].1;
                } else {
                    s.row[out] = s.row[i];
                    out += 1;
                }
            }
            s.row.truncate(out);
        }
        s.split = 0;
    }

    fn weigh_block(&self, row: &mut [(u32, f32)], idf: Option<&[f32]>) {
        let mut norm = 0.0f64;
        for (b, v) in row.iter_mut() {
            let mut x = f64::from(*v);
            if self.sublinear_tf {
                x = 1.0 + x.ln();
            }
            if let Some(idf) = idf {
                x *= f64::from(idf[*b as usize]);
            }
            *v = x as f32;
            norm += x * x;
        }
        if norm > 0.0 {
            let scale = (1.0 / norm.sqrt()) as f32;
            for (_, v) in row.iter_mut() {
                *v *= scale;
            }
        }
    }

    /// Every n-gram of `text` as text with its bucket, in text order (repeats included), for
    /// explanations: hashing forgets the n-grams, but the text at hand still has them.
    pub fn ngrams(&self, text: &str) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        let text = cut(text, MAX_TEXT_BYTES);
        let mut lower = String::new();
        lowercase_into(text, &mut lower);
        let [lo, hi] = match self.analysis(text) {
            TextLanguage::Zh => self.zh_char_ngrams,
            _ => {
                let mut words = Vec::new();
                for_each_word(&lower, |w| words.push(w));
                for i in 0..words.len() {
                    let mut h = WORD_SEED;
                    for n in 1..=self.word_ngrams.min(words.len() - i) {
                        h = extend_words(h, fnv(WORD_SEED, words[i + n - 1].as_bytes()));
                        out.push((self.bucket(h ^ n as u64), words[i..i + n].join(" ")));
                    }
                }
                self.en_char_ngrams
            }
        };
        if hi > 0 {
            for chunk in lower.split_whitespace() {
                let padded: Vec<char> = std::iter::once(' ')
                    .chain(chunk.chars())
                    .chain([' '])
                    .collect();
                for i in 0..padded.len() {
                    for n in lo.max(1)..=hi.min(padded.len() - i) {
                        if n == 1 && (i == 0 || i == padded.len() - 1) {
                            continue;
                        }
                        let g: String = padded[i..i + n].iter().collect();
                        out.push((self.bucket(fnv(CHAR_SEED, g.as_bytes())), g));
                    }
                }
            }
        }
        out
    }

    /// The distinct n-grams of `text` that fall into bucket `bucket`, sorted.
    pub fn ngrams_in_bucket(&self, text: &str, bucket: u32) -> Vec<String> {
        let mut out: Vec<String> = self
            .ngrams(text)
            .into_iter()
            .filter(|(b, _)| *b == bucket)
            .map(|(_, g)| g)
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Lowercases `text` into `out`, with the typographic apostrophe as `'` ("don’t" = "don't").
fn lowercase_into(text: &str, out: &mut String) {
    out.clear();
    for c in text.chars() {
        if c == '\u{2019}' {
            out.push('\'');
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Calls `f` with each word of a lowercased text: runs of letters and digits, with an
/// apostrophe kept when it joins two of them (`don't`).
fn for_each_word<'a>(lower: &'a str, mut f: impl FnMut(&'a str)) {
    let mut start = None;
    for (i, c) in lower
        .char_indices()
        .chain(std::iter::once((lower.len(), ' ')))
    {
        let inside = c.is_alphanumeric()
            || (c == '\''
                && start.is_some()
                && lower[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric));
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                f(&lower[st..i]);
                start = None;
            }
            _ => {}
        }
    }
}

/// Extends a word n-gram's hash by one word's hash.
#[inline]
fn extend_words(h: u64, word: u64) -> u64 {
    (h.rotate_left(23) ^ word).wrapping_mul(FNV_PRIME)
}

/// Sorts `buckets` and appends (bucket, count) runs to `row`.
fn runs_into(buckets: &mut [u32], row: &mut Vec<(u32, f32)>) {
    buckets.sort_unstable();
    let mut i = 0;
    while i < buckets.len() {
        let b = buckets[i];
        let mut j = i + 1;
        while j < buckets.len() && buckets[j] == b {
            j += 1;
        }
        row.push((b, (j - i) as f32));
        i = j;
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(h: &TextHashing, text: &str) -> Vec<(u32, f32)> {
        let mut s = HashScratch::default();
        h.count(text, &mut s);
        s.row.clone()
    }

    fn total(row: &[(u32, f32)]) -> f32 {
        row.iter().map(|(_, c)| c).sum()
    }

    #[test]
    fn counts_the_documented_ngrams() {
        // Huge bucket space: no collisions in these small texts, so counts are n-gram counts.
        let h = TextHashing {
            num_features: 1 << 30,
            ..TextHashing::default()
        };
        // "good": words 1 (no bigram); padded " good " has 6 chars: 2-grams 5, 3-grams 4,
        // 4-grams 3.
        assert_eq!(total(&counts(&h, "good")), 1.0 + 5.0 + 4.0 + 3.0);
        // Two words: 2 unigrams + 1 bigram + char n-grams of each word.
        let two = total(&counts(&h, "not good"));
        assert_eq!(two, 3.0 + (4.0 + 3.0 + 2.0) + (5.0 + 4.0 + 3.0));
        // Case, typographic apostrophes and extra spaces do not matter.
        assert_eq!(counts(&h, "Don’t  BUY"), counts(&h, "don't buy"));
        // Chinese: char 1-3 grams of " 很好 " (4 chars): 1-grams 2 (not the padding),
        // 2-grams 3, 3-grams 2.
        assert_eq!(h.analysis("很好"), TextLanguage::Zh);
        assert_eq!(total(&counts(&h, "很好")), 2.0 + 3.0 + 2.0);
        // A repeated n-gram is counted, not listed twice.
        let r = counts(&h, "bad bad");
        assert!(r.iter().any(|&(_, c)| c == 2.0));
        let mut s = HashScratch::default();
        h.featurize("bad bad, not good", None, &mut s);
        assert!(
            s.row.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, distinct"
        );
        assert!(counts(&h, "").is_empty());
        assert!(counts(&h, " \t\n").is_empty());
    }

    #[test]
    fn options_change_the_features() {
        let base = TextHashing {
            num_features: 1 << 30,
            ..TextHashing::default()
        };
        let words_only = TextHashing {
            en_char_ngrams: [2, 0],
            ..base.clone()
        };
        assert_eq!(total(&counts(&words_only, "very good price")), 3.0 + 2.0);
        let unigrams = TextHashing {
            word_ngrams: 1,
            ..words_only.clone()
        };
        assert_eq!(total(&counts(&unigrams, "very good price")), 3.0);
        let forced_en = TextHashing {
            language: TextLanguage::En,
            ..base.clone()
        };
        assert_eq!(forced_en.analysis("很好"), TextLanguage::En);
        assert_ne!(counts(&forced_en, "很好"), counts(&base, "很好"));
        let small = TextHashing {
            num_features: 16,
            ..base
        };
        assert!(
            counts(&small, "a long enough text")
                .iter()
                .all(|&(b, _)| b < 16)
        );
    }

    /// The hash is part of the model format: stored models must featurize identically forever.
    #[test]
    fn the_hash_is_pinned() {
        let h = TextHashing::default();
        let mut s = HashScratch::default();
        h.featurize("ok", None, &mut s);
        let row = s.row.clone();
        assert_eq!(
            row.iter().map(|r| r.0).collect::<Vec<_>>(),
            PINNED_OK.to_vec(),
            "the featurizer's hash changed: stored text_classifier models would break"
        );
    }
    // "ok": the word, then " o", "ok", "k ", " ok", "ok ", " ok " (7 buckets at 2^18).
    const PINNED_OK: [u32; 7] = [8091, 10454, 49839, 94642, 143150, 170123, 179544];

    #[test]
    fn weighs_each_block_to_unit_norm_with_sublinear_tf_and_idf() {
        let h = TextHashing::default();
        let idf = vec![2.0f32, 1.0, 1.0, 1.0];
        // Word block: buckets 0 (count 1) and 3 (count 4); character block: 3 (count 1).
        let mut s = HashScratch {
            row: vec![(0u32, 1.0f32), (3, 4.0), (3, 1.0)],
            split: 2,
            ..HashScratch::default()
        };
        h.weigh(&mut s, Some(&idf));
        // Words: 1 → (1 + ln 1)·2 = 2; 4 → 1 + ln 4 ≈ 2.386; unit norm. Characters: 3 → 1.
        let (a, b) = (2.0f64, 1.0 + 4f64.ln());
        let n = (a * a + b * b).sqrt();
        assert_eq!(s.row.len(), 2, "{:?}", s.row);
        assert!((f64::from(s.row[0].1) - a / n).abs() < 1e-6);
        assert!((f64::from(s.row[1].1) - (b / n + 1.0)).abs() < 1e-6);
        // One block only (Chinese): plain unit norm.
        let mut s = HashScratch {
            row: vec![(1u32, 2.0f32), (2, 2.0)],
            split: 0,
            ..HashScratch::default()
        };
        h.weigh(&mut s, None);
        let norm: f32 = s.row.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-6);
        let mut empty = HashScratch::default();
        h.weigh(&mut empty, None);
        assert!(empty.row.is_empty());
    }

    #[test]
    fn long_texts_are_cut_in_bounded_time() {
        let h = TextHashing::default();
        let big = "好".repeat(1 << 20); // 3 MB
        let mut s = HashScratch::default();
        h.count(&big, &mut s);
        let n: f32 = total(&s.row);
        // 64 KiB of 3-byte characters, 1-3 grams.
        let chars = (MAX_TEXT_BYTES / 3) as f32;
        assert!(n <= 3.0 * chars + 3.0, "{n}");
        assert_eq!(cut("aé", 2), "a");
    }

    #[test]
    fn listed_ngrams_are_exactly_the_counted_ones() {
        let h = TextHashing::default();
        for text in ["Don't buy: broken!! 😡", "质量很好，物流快 ok", "", "a"] {
            let mut s = HashScratch::default();
            h.count(text, &mut s);
            let mut listed: Vec<u32> = h.ngrams(text).into_iter().map(|(b, _)| b).collect();
            listed.sort_unstable();
            let mut counted = Vec::new();
            for &(b, c) in &s.row {
                counted.extend(std::iter::repeat_n(b, c as usize));
            }
            counted.sort_unstable();
            assert_eq!(listed, counted, "{text}");
        }
    }

    #[test]
    fn explanations_find_the_ngrams_of_a_bucket() {
        let h = TextHashing::default();
        let text = "Not good at all";
        let mut s = HashScratch::default();
        h.count(text, &mut s);
        let mut found = 0;
        for &(b, c) in &s.row {
            let grams = h.ngrams_in_bucket(text, b);
            assert!(!grams.is_empty(), "bucket {b} has no n-gram");
            found += grams.len();
            assert!(c >= 1.0);
        }
        assert!(found >= s.row.len());
        let with_bigram = s
            .row
            .iter()
            .filter(|&&(b, _)| {
                h.ngrams_in_bucket(text, b)
                    .contains(&"not good".to_string())
            })
            .count();
        assert_eq!(with_bigram, 1);
        let chinese = "质量很好";
        h.count(chinese, &mut s);
        let all: Vec<String> = s
            .row
            .iter()
            .flat_map(|&(b, _)| h.ngrams_in_bucket(chinese, b))
            .collect();
        assert!(all.contains(&"很好".to_string()), "{all:?}");
    }
}
