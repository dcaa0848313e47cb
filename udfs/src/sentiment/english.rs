//! Latin-script words: finding word boundaries, lower-casing, ALL CAPS and elongation, word
//! lookup and multi-word phrases ("waste of money", "would buy again").
//!
//! A word is a run of letters and digits (any alphabet but Han), with `'`/`’` and `-` allowed
//! between letters ("don't", "well-made", "so-so") and `/` between digits ("10/10"). Curly
//! apostrophes are read as straight ones. A word that is not listed but has a letter repeated
//! three or more times is looked up again with the run shortened to two letters and then to one
//! ("goood" → "good", "sooo" → "so"); when that finds it, the word carries emphasis. A letter
//! followed by `+` signs is one word ("A+", "A+++"). An unlisted
//! word ending in "n't" is a negator.
//!
//! Phrases are matched after the whole text is tokenized, on consecutive words only (punctuation
//! between words breaks a phrase), longest first.

use super::lexicon::{Entry, Lexicon};
use super::tokens::{Scratch, Shape, Tok, TokKind};

/// Emphasis of an elongated word ("sooo", "goood").
const ELONGATION_EMPHASIS: f32 = 1.25;
/// Negation factor of an unlisted word ending in "n't".
const NT_NEGATION: f64 = -0.7;

#[inline]
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !super::chinese::is_han(c)
}

/// Scans the word starting at byte `i`, pushes its token and returns the byte after it.
pub fn word_at(text: &str, i: usize, lex: &Lexicon, s: &mut Scratch, shape: &mut Shape) -> usize {
    let bytes = text.as_bytes();
    // ASCII letters and digits first, without decoding characters.
    let mut end = i;
    while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
        end += 1;
    }
    let mut prev: Option<char> = (end > i).then(|| bytes[end - 1] as char);
    let scan_from = end;
    let mut rest = text[scan_from..].char_indices().peekable();
    while let Some((off, c)) = rest.next() {
        let ok = if is_word_char(c) {
            true
        } else {
            let next = rest.peek().map(|&(_, n)| n);
            match c {
                '\'' | '’' | '-' => {
                    prev.is_some_and(|p| p.is_alphabetic()) && next.is_some_and(is_word_char)
                }
                '/' => {
                    prev.is_some_and(|p| p.is_ascii_digit())
                        && next.is_some_and(|n| n.is_ascii_digit())
                }
                _ => false,
            }
        };
        if !ok {
            break;
        }
        end = scan_from + off + c.len_utf8();
        prev = Some(c);
    }
    // School grades: "A+", "A+++".
    if end == i + 1 && bytes[i].is_ascii_alphabetic() {
        while end < bytes.len() && bytes[end] == b'+' {
            end += 1;
        }
    }
    let word = &text[i..end];

    // Lower-case form (ASCII fast path), and whether the word is written in capitals.
    let lo = s.lower.len();
    let mut letters = 0u32;
    let mut upper = 0u32;
    if word.is_ascii() {
        for &b in &bytes[i..end] {
            letters += u32::from(b.is_ascii_alphabetic());
            upper += u32::from(b.is_ascii_uppercase());
            s.lower.push(b.to_ascii_lowercase() as char);
        }
    } else {
        for c in word.chars() {
            letters += u32::from(c.is_alphabetic());
            upper += u32::from(c.is_uppercase());
            if c == '’' {
                s.lower.push('\'');
            } else {
                s.lower.extend(c.to_lowercase());
            }
        }
    }
    let caps = letters >= 2 && upper == letters;
    shape.words += 1;
    shape.caps_words += u32::from(caps);

    let mut lower = (lo as u32, s.lower.len() as u32);
    let mut emphasis = 1.0;
    let mut found = lex.word(&s.lower[lo..]);
    if found.is_none() && has_run_of_three(&s.lower[lo..]) {
        for keep in [2, 1] {
            let from = s.lower.len();
            collapse_runs(&mut s.lower, lo, keep);
            if let Some(hit) = lex.word(&s.lower[from..]) {
                found = Some(hit);
                lower = (from as u32, s.lower.len() as u32);
                emphasis = ELONGATION_EMPHASIS;
                break;
            }
            s.lower.truncate(from);
        }
    }
    let kind = match found {
        Some((_, slot)) => match slot.entry {
            Some(e) => TokKind::Entry(e),
            None => TokKind::Word,
        },
        None if s.lower[lo..].ends_with("n't") => TokKind::Entry(Entry::Negator(NT_NEGATION)),
        None => TokKind::Word,
    };
    let mut tok = Tok::new(kind, i, end);
    tok.caps = caps;
    tok.emphasis = emphasis;
    tok.lower = lower;
    tok.slot = found.and_then(|(idx, slot)| (slot.phrases.0 < slot.phrases.1).then_some(idx));
    s.toks.push(tok);
    end
}

fn has_run_of_three(w: &str) -> bool {
    let b = w.as_bytes();
    b.windows(3).any(|x| x[0] == x[1] && x[1] == x[2])
}

/// Appends to `buf` the word `buf[from..]` (up to the current end) with every run of the same
/// character shortened to at most `keep` characters.
fn collapse_runs(buf: &mut String, from: usize, keep: usize) {
    let word: String = buf[from..].to_string();
    let mut last: Option<char> = None;
    let mut run = 0;
    for c in word.chars() {
        if Some(c) == last {
            run += 1;
        } else {
            run = 1;
            last = Some(c);
        }
        if run <= keep {
            buf.push(c);
        }
    }
}

/// Replaces runs of word tokens that form a listed phrase by one token for the phrase.
pub fn merge_phrases(toks: &mut Vec<Tok>, lower: &str, lex: &Lexicon) {
    if !toks.iter().any(|t| t.slot.is_some()) {
        return;
    }
    let word_of = |t: &Tok| -> Option<&str> {
        matches!(t.kind, TokKind::Entry(_) | TokKind::Word)
            .then(|| &lower[t.lower.0 as usize..t.lower.1 as usize])
            .filter(|w| !w.is_empty())
    };
    let mut out = 0;
    let mut i = 0;
    while i < toks.len() {
        let tok = toks[i];
        let mut merged = None;
        if let Some(idx) = tok.slot {
            let slot = lex.slot(idx);
            for p in lex.phrases(slot) {
                let n = p.rest.len();
                if i + n >= toks.len() {
                    continue;
                }
                let matches = p
                    .rest
                    .iter()
                    .enumerate()
                    .all(|(k, w)| word_of(&toks[i + 1 + k]) == Some(&**w));
                if matches {
                    let last = toks[i + n];
                    let mut t = Tok::new(
                        TokKind::Entry(p.entry),
                        tok.start as usize,
                        last.end as usize,
                    );
                    t.caps = toks[i..=i + n].iter().all(|t| t.caps);
                    merged = Some((t, n + 1));
                    break;
                }
            }
        }
        match merged {
            Some((t, used)) => {
                toks[out] = t;
                i += used;
            }
            None => {
                toks[out] = tok;
                i += 1;
            }
        }
        out += 1;
    }
    toks.truncate(out);
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::LEXICON;
    use super::super::tokens::tokenize;
    use super::*;

    fn toks(text: &str) -> Vec<(String, TokKind, bool, f32)> {
        let mut s = Scratch::default();
        tokenize(text, &LEXICON, &mut s);
        s.toks
            .iter()
            .map(|t| {
                (
                    text[t.start as usize..t.end as usize].to_string(),
                    t.kind,
                    t.caps,
                    t.emphasis,
                )
            })
            .collect()
    }

    #[test]
    fn contractions_hyphens_and_scores_are_words() {
        let t = toks("Don’t well-made 10/10 so-so A+++");
        assert_eq!(t.len(), 5, "{t:?}");
        assert!(matches!(t[4].1, TokKind::Entry(Entry::Term(v)) if v > 2.0));
        assert!(matches!(t[0].1, TokKind::Entry(Entry::Negator(_))));
        assert!(matches!(t[1].1, TokKind::Entry(Entry::Term(v)) if v > 0.0));
        assert!(matches!(t[2].1, TokKind::Entry(Entry::Term(v)) if v > 2.0));
        assert!(matches!(t[3].1, TokKind::Entry(Entry::Term(v)) if v < 0.0));
    }

    #[test]
    fn caps_and_elongation_are_marked() {
        let t = toks("TERRIBLE goooood sooo I");
        assert!(t[0].2, "caps");
        assert_eq!(t[1].0, "goooood");
        assert!(matches!(t[1].1, TokKind::Entry(Entry::Term(_))));
        assert_eq!(t[1].3, ELONGATION_EMPHASIS);
        assert!(matches!(t[2].1, TokKind::Entry(Entry::Modifier(_))));
        assert!(!t[3].2, "a one-letter word is not shouting");
    }

    #[test]
    fn phrases_need_consecutive_words() {
        let t = toks("would buy again");
        assert_eq!(t.len(), 1);
        let t = toks("would buy, again");
        assert_eq!(t.len(), 4);
        let t = toks("Waste Of Money");
        assert_eq!(t.len(), 1);
        assert!(matches!(t[0].1, TokKind::Entry(Entry::Term(v)) if v < -2.0));
    }

    #[test]
    fn unknown_nt_words_negate() {
        let t = toks("mustn't");
        assert!(matches!(t[0].1, TokKind::Entry(Entry::Negator(_))));
    }
}
