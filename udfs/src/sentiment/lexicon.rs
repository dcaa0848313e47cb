//! The sentiment lexicons: `data/lexicon/en.tsv` and `data/lexicon/zh.tsv`, embedded at compile
//! time and parsed once into the lookup tables the tokenizers use.
//!
//! The file format and the meaning of each kind of entry are described at the top of `en.tsv`;
//! how the entries were written is recorded in `data/README.md`. To add a word, add a line to the
//! file of its language; `cargo test --workspace --lib sentiment` checks that both files parse
//! and hold no duplicates.
//!
//! Entries are stored by the script they start with, not by file: terms starting with a letter
//! or digit (`good`, `waste of money`, `10/10`) go to the word table, matched on whole words;
//! every other term (Chinese words, emoji, `:)`, `[赞]`) goes to a prefix table keyed by its first
//! character and is matched by longest prefix. That is what lets an English review score a
//! Chinese word and a Chinese review score `nice` or `:)`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// What a lexicon entry does to the score. Values are `f64` to keep tokens small.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry {
    /// A sentiment term with its valence (about −3.5 … +3.5).
    Term(f64),
    /// A term (first value) that acts as a degree modifier (second value) when it directly
    /// precedes another sentiment term: `pretty` / `pretty good`, 好 / 好贵.
    TermOrModifier(f64, f64),
    /// A negator: multiplies the sentiment terms in its scope (a negative factor).
    Negator(f64),
    /// A degree modifier before a term: `very` (1.3), `slightly` (0.6).
    Modifier(f64),
    /// A degree modifier after a term: `at all`, 极了.
    PostModifier(f64),
    /// A contrast: what came before is multiplied by `before`, what follows by `after`.
    Contrast {
        /// Factor for everything before the contrast.
        before: f64,
        /// Factor for everything after it (until the next contrast).
        after: f64,
    },
    /// A concessive (`although`, 虽然): the clause it opens is multiplied by the factor.
    Concessive(f64),
    /// A quantity where more is better (+1, `quality`) or worse (−1, `price`).
    Aspect(f64),
    /// `high` / `low`: valence when the clause's aspect is one where more is better.
    Scalar(f64),
    /// No sentiment; present so that segmentation and phrase matching do not misread it.
    Word,
}

impl Entry {
    /// Whether the entry can carry sentiment by itself (used by [`Entry::TermOrModifier`] to
    /// decide whether it modifies the next token).
    #[inline]
    pub fn is_term(self) -> bool {
        matches!(
            self,
            Entry::Term(_) | Entry::TermOrModifier(..) | Entry::Scalar(_)
        )
    }
}

/// A small, fast, non-cryptographic hasher for the word table (the keys are our own lexicon, so
/// hash flooding is not a concern). FxHash's multiply-rotate, eight bytes at a time.
#[derive(Default, Clone, Copy)]
pub struct WordHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(SEED);
        }
        let mut tail = 0u64;
        for (i, b) in chunks.remainder().iter().enumerate() {
            tail |= (*b as u64) << (8 * i);
        }
        h = (h.rotate_left(5) ^ tail).wrapping_mul(SEED);
        self.0 = h;
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(SEED);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type WordMap<V> = HashMap<Box<str>, V, BuildHasherDefault<WordHasher>>;

/// One word of the word table: its own entry (if any) and the phrases that start with it.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// The single-word entry.
    pub entry: Option<Entry>,
    /// Range into [`Lexicon::phrases`] of the phrases starting with this word, longest first.
    pub phrases: (u32, u32),
}

/// A phrase of several words: the words after the first, and its entry.
#[derive(Debug, Clone)]
pub struct Phrase {
    /// The words after the first one, lower case.
    pub rest: Box<[Box<str>]>,
    /// What the whole phrase does.
    pub entry: Entry,
}

/// A term of the prefix table (the first character is the table key).
#[derive(Debug, Clone)]
pub struct Prefixed {
    /// The whole term, lower case.
    pub term: Box<str>,
    /// What it does.
    pub entry: Entry,
}

/// Both lexicons, parsed into lookup tables.
pub struct Lexicon {
    words: WordMap<u32>,
    slots: Vec<Slot>,
    phrases: Vec<Phrase>,
    /// Prefix-table terms grouped by first character, each group longest first.
    groups: Vec<Box<[Prefixed]>>,
    /// Group of each character of the main CJK block (U+4E00..=U+9FFF), `u32::MAX` for none:
    /// a direct index, because Chinese text looks up every character.
    han_groups: Box<[u32]>,
    /// Group of every other first character (emoji, `:`, `[`, rarer Han characters).
    other_groups: HashMap<char, u32, BuildHasherDefault<WordHasher>>,
}

const HAN_FIRST: u32 = 0x4E00;
const HAN_LAST: u32 = 0x9FFF;

/// The English lexicon file.
pub const EN_TSV: &str = include_str!("../../../data/lexicon/en.tsv");
/// The Chinese lexicon file.
pub const ZH_TSV: &str = include_str!("../../../data/lexicon/zh.tsv");

/// The embedded lexicons, parsed on first use (about a millisecond).
pub static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::parse(&[("en.tsv", EN_TSV), ("zh.tsv", ZH_TSV)])
        .unwrap_or_else(|e| panic!("embedded sentiment lexicon is invalid: {e}"))
});

fn parse_entry(kind: &str, v1: Option<f64>, v2: Option<f64>) -> Result<Entry, String> {
    let need = |v: Option<f64>| v.ok_or_else(|| format!("kind `{kind}` needs a value"));
    Ok(match kind {
        "v" => Entry::Term(need(v1)?),
        "vmod" => Entry::TermOrModifier(need(v1)?, need(v2)?),
        "neg" => Entry::Negator(need(v1)?),
        "mod" => Entry::Modifier(need(v1)?),
        "post" => Entry::PostModifier(need(v1)?),
        "but" => Entry::Contrast {
            before: need(v1)?,
            after: need(v2)?,
        },
        "though" => Entry::Concessive(need(v1)?),
        "aspect" => Entry::Aspect(need(v1)?),
        "scalar" => Entry::Scalar(need(v1)?),
        "w" => Entry::Word,
        other => return Err(format!("unknown kind `{other}`")),
    })
}

fn starts_with_word_char(term: &str) -> bool {
    term.chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() && !crate::sentiment::chinese::is_han(c))
}

impl Lexicon {
    /// Parses lexicon files given as (name, text). Errors name the file and line.
    pub fn parse(files: &[(&str, &str)]) -> Result<Lexicon, String> {
        let mut singles: WordMap<Entry> = WordMap::default();
        let mut multi: WordMap<Vec<Phrase>> = WordMap::default();
        let mut prefixed: HashMap<char, Vec<Prefixed>> = HashMap::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (name, text) in files {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let at = || format!("{name}:{}", n + 1);
                let mut cols = line.split('\t');
                let term = cols.next().unwrap_or("").trim().to_lowercase();
                let kind = cols.next().unwrap_or("").trim();
                let num = |s: Option<&str>| -> Result<Option<f64>, String> {
                    match s.map(str::trim).filter(|s| !s.is_empty()) {
                        None => Ok(None),
                        Some(s) => s
                            .parse::<f64>()
                            .map(Some)
                            .map_err(|_| format!("{}: bad number `{s}`", at())),
                    }
                };
                let v1 = num(cols.next())?;
                let v2 = num(cols.next())?;
                if term.is_empty() || kind.is_empty() {
                    return Err(format!("{}: expected `term<TAB>kind<TAB>value`", at()));
                }
                let entry = parse_entry(kind, v1, v2).map_err(|e| format!("{}: {e}", at()))?;
                if let Some(prev) = seen.insert(term.clone(), at()) {
                    return Err(format!("{}: `{term}` already defined at {prev}", at()));
                }
                if starts_with_word_char(&term) {
                    let mut words = term.split(' ').filter(|w| !w.is_empty());
                    let first = words.next().unwrap_or_default();
                    let rest: Vec<Box<str>> = words.map(Box::from).collect();
                    if rest.is_empty() {
                        singles.insert(first.into(), entry);
                    } else {
                        multi.entry(first.into()).or_default().push(Phrase {
                            rest: rest.into(),
                            entry,
                        });
                    }
                } else {
                    let first = term.chars().next().unwrap_or_default();
                    prefixed.entry(first).or_default().push(Prefixed {
                        term: term.as_str().into(),
                        entry,
                    });
                }
            }
        }
        let mut lex = Lexicon {
            words: WordMap::default(),
            slots: Vec::new(),
            phrases: Vec::new(),
            groups: Vec::new(),
            han_groups: vec![u32::MAX; (HAN_LAST - HAN_FIRST + 1) as usize].into(),
            other_groups: Default::default(),
        };
        let mut keys: Vec<Box<str>> = singles.keys().chain(multi.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let lo = lex.phrases.len() as u32;
            if let Some(mut ps) = multi.remove(&k) {
                ps.sort_by_key(|p| std::cmp::Reverse(p.rest.len()));
                lex.phrases.extend(ps);
            }
            let hi = lex.phrases.len() as u32;
            lex.words.insert(k.clone(), lex.slots.len() as u32);
            lex.slots.push(Slot {
                entry: singles.get(&k).copied(),
                phrases: (lo, hi),
            });
        }
        for (c, mut v) in prefixed {
            v.sort_by_key(|p| std::cmp::Reverse(p.term.len()));
            let g = lex.groups.len() as u32;
            lex.groups.push(v.into());
            match c as u32 {
                u @ HAN_FIRST..=HAN_LAST => lex.han_groups[(u - HAN_FIRST) as usize] = g,
                _ => {
                    lex.other_groups.insert(c, g);
                }
            }
        }
        Ok(lex)
    }

    /// The slot (and its index) of a lower-case word, if the word or a phrase starting with it
    /// is listed.
    #[inline]
    pub fn word(&self, lower: &str) -> Option<(u32, &Slot)> {
        self.words.get(lower).map(|&i| (i, &self.slots[i as usize]))
    }

    /// The slot with index `idx` (from [`Lexicon::word`]).
    #[inline]
    pub fn slot(&self, idx: u32) -> &Slot {
        &self.slots[idx as usize]
    }

    /// The phrases of a slot, longest first.
    #[inline]
    pub fn phrases(&self, slot: &Slot) -> &[Phrase] {
        &self.phrases[slot.phrases.0 as usize..slot.phrases.1 as usize]
    }

    /// The longest prefix-table term that `text` starts with (ASCII case-insensitively), as
    /// (byte length, entry).
    #[inline]
    pub fn longest_prefix(&self, text: &str) -> Option<(usize, Entry)> {
        let first = text.chars().next()?.to_ascii_lowercase();
        let g = match first as u32 {
            u @ HAN_FIRST..=HAN_LAST => self.han_groups[(u - HAN_FIRST) as usize],
            _ => *self.other_groups.get(&first)?,
        };
        let candidates = self.groups.get(g as usize)?;
        let bytes = text.as_bytes();
        candidates.iter().find_map(|p| {
            let t = p.term.as_bytes();
            (bytes.len() >= t.len() && bytes[..t.len()].eq_ignore_ascii_case(t))
                .then_some((t.len(), p.entry))
        })
    }

    /// Number of entries (words, phrases and prefixed terms), for tests and docs.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.entry.is_some()).count()
            + self.phrases.len()
            + self.groups.iter().map(|v| v.len()).sum::<usize>()
    }

    /// Whether the lexicon is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lexicons_parse_without_duplicates() {
        let lex = Lexicon::parse(&[("en.tsv", EN_TSV), ("zh.tsv", ZH_TSV)]).unwrap();
        assert!(lex.len() > 1000, "only {} entries", lex.len());
    }

    #[test]
    fn words_phrases_and_prefixes_are_found() {
        let lex = &*LEXICON;
        assert!(matches!(lex.word("good").unwrap().1.entry, Some(Entry::Term(v)) if v > 1.0));
        let (_, waste) = lex.word("waste").unwrap();
        assert!(
            lex.phrases(waste)
                .iter()
                .any(|p| &*p.rest[0] == "of" && &*p.rest[1] == "money")
        );
        // Longest match: 不满意 rather than 不 or 不满.
        let (len, e) = lex.longest_prefix("不满意的").unwrap();
        assert_eq!(len, "不满意".len());
        assert!(matches!(e, Entry::Term(v) if v < 0.0));
        let (len, _) = lex.longest_prefix(":D yes").unwrap();
        assert_eq!(len, 2);
        assert!(lex.longest_prefix("xyz").is_none());
    }

    #[test]
    fn bad_files_are_reported_with_their_line() {
        let e = Lexicon::parse(&[("t.tsv", "good\tv\t1\ngood\tv\t2\n")])
            .err()
            .unwrap();
        assert!(
            e.contains("t.tsv:2") && e.contains("already defined"),
            "{e}"
        );
        let e = Lexicon::parse(&[("t.tsv", "x\tzz\t1\n")]).err().unwrap();
        assert!(e.contains("unknown kind"), "{e}");
        let e = Lexicon::parse(&[("t.tsv", "x\tv\tabc\n")]).err().unwrap();
        assert!(e.contains("bad number"), "{e}");
    }
}
