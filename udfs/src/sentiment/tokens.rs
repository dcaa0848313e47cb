//! Turning review text into the token stream the rules of [`super::score`] read.
//!
//! One pass over the characters, dispatching on the script of each run: Latin-script words go to
//! [`super::english`] (whole words, phrases, ALL CAPS, elongation), Han characters to
//! [`super::chinese`] (longest-match segmentation), other symbols to the prefix table (emoji,
//! `:)`, `[赞]`), punctuation to clause and sentence boundaries. A token knows its byte span in
//! the original text, so an explanation can quote the text it came from.
//!
//! Control characters and whitespace separate tokens and carry no sentiment; a line break ends
//! a sentence (reviewers often use one instead of a full stop). Tokenization is linear in the
//! text length; nothing here allocates once the scratch buffers have grown.

use super::chinese;
use super::english;
use super::lexicon::{Entry, Lexicon};

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokKind {
    /// A lexicon entry (word, phrase, emoji, Chinese word …).
    Entry(Entry),
    /// A Latin-script word that is not in the lexicon (it still counts for negation scope).
    Word,
    /// A run of Han characters that is not in the lexicon.
    Han,
    /// A clause boundary: `,` `;` `:` `，` `、` …
    Clause,
    /// A sentence boundary: `.` `!` `?` `。` `！` `？` `…` or a line break, with the number of
    /// exclamation marks in it.
    Sentence {
        /// Exclamation marks in the run (`!!!` → 3), capped at 255.
        bangs: u8,
    },
}

/// One token.
#[derive(Debug, Clone, Copy)]
pub struct Tok {
    /// What it is.
    pub kind: TokKind,
    /// Byte span in the original text.
    pub start: u32,
    /// End of the byte span (exclusive).
    pub end: u32,
    /// Emphasis from elongation ("sooo good"): 1.0 when none.
    pub emphasis: f32,
    /// Written in ALL CAPS (at least two letters).
    pub caps: bool,
    /// Byte range of the lower-case form in [`Scratch::lower`] (Latin words only).
    pub lower: (u32, u32),
    /// Index of the word-table slot ([`Lexicon::word`]) when the word starts a phrase.
    pub slot: Option<u32>,
    /// An emoji or emoticon: it stands on its own, so negators and degree words before it do
    /// not apply ("not very good :(" is two negative items, not a negated frown).
    pub symbol: bool,
}

impl Tok {
    /// A token with no emphasis and no word data.
    pub fn new(kind: TokKind, start: usize, end: usize) -> Tok {
        Tok {
            kind,
            start: start as u32,
            end: end as u32,
            emphasis: 1.0,
            caps: false,
            lower: (0, 0),
            slot: None,
            symbol: false,
        }
    }
}

/// Counts gathered while tokenizing, used for language detection and shouting detection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Latin-script words.
    pub words: u32,
    /// Latin-script words in ALL CAPS.
    pub caps_words: u32,
    /// Han characters.
    pub han: u32,
}

/// Reusable buffers: one per batch, so scoring a row allocates nothing once they have grown.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The tokens of the current text.
    pub toks: Vec<Tok>,
    /// Lower-case forms of the Latin words of the current text.
    pub lower: String,
    /// The scored items of the current text (see [`super::score`]).
    pub items: Vec<super::score::Item>,
    /// The final log contrast scale of the current text (see [`super::score`]).
    pub scale: f64,
}

/// Whether `c` is a clause boundary.
#[inline]
fn is_clause_punct(c: char) -> bool {
    matches!(
        c,
        ',' | ';'
            | ':'
            | '，'
            | '、'
            | '；'
            | '：'
            | '~'
            | '～'
            | '('
            | ')'
            | '（'
            | '）'
            | '—'
            | '–'
    )
}

/// Whether `c` ends a sentence.
#[inline]
fn is_sentence_punct(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '…' | '\n')
}

/// Tokenizes `text` into `s.toks` (cleared first) and returns its shape.
pub fn tokenize(text: &str, lex: &Lexicon, s: &mut Scratch) -> Shape {
    s.toks.clear();
    s.lower.clear();
    let mut shape = Shape::default();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // ASCII fast paths: letters, digits, spaces.
        if b.is_ascii_alphanumeric() {
            i = english::word_at(text, i, lex, s, &mut shape);
            continue;
        }
        if b == b' ' || b == b'\t' || b == b'\r' {
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        if chinese::is_han(c) {
            shape.han += 1;
            i = chinese::segment_at(text, i, lex, &mut s.toks);
            continue;
        }
        if c.is_alphanumeric() {
            i = english::word_at(text, i, lex, s, &mut shape);
            continue;
        }
        if c != '\n' && (c.is_whitespace() || c.is_control()) {
            i += c.len_utf8();
            continue;
        }
        if let Some(len) = symbol_at(text, i, lex, &mut s.toks) {
            i += len;
            continue;
        }
        if is_sentence_punct(c) {
            let start = i;
            let mut bangs: u32 = 0;
            for c in text[i..].chars() {
                if !is_sentence_punct(c) {
                    break;
                }
                bangs += u32::from(c == '!' || c == '！');
                i += c.len_utf8();
            }
            push_boundary(
                &mut s.toks,
                Tok::new(
                    TokKind::Sentence {
                        bangs: bangs.min(255) as u8,
                    },
                    start,
                    i,
                ),
            );
            continue;
        }
        if is_clause_punct(c) {
            push_boundary(&mut s.toks, Tok::new(TokKind::Clause, i, i + c.len_utf8()));
        }
        i += c.len_utf8();
    }
    english::merge_phrases(&mut s.toks, &s.lower, lex);
    shape
}

/// Pushes a boundary, merging it with a boundary just before it (", ." is one boundary, the
/// stronger kind wins) so that runs of punctuation cannot stretch negation scope or the
/// explanation.
fn push_boundary(toks: &mut Vec<Tok>, tok: Tok) {
    if let Some(last) = toks.last_mut() {
        match (last.kind, tok.kind) {
            (TokKind::Clause, _) => {
                last.kind = tok.kind;
                last.end = tok.end;
                return;
            }
            (TokKind::Sentence { bangs: a }, TokKind::Sentence { bangs: b }) => {
                last.kind = TokKind::Sentence {
                    bangs: a.saturating_add(b),
                };
                last.end = tok.end;
                return;
            }
            (TokKind::Sentence { .. }, TokKind::Clause) => return,
            _ => {}
        }
    }
    toks.push(tok);
}

/// An emoji, emoticon or other prefix-table symbol at `i`; returns its byte length.
fn symbol_at(text: &str, i: usize, lex: &Lexicon, toks: &mut Vec<Tok>) -> Option<usize> {
    let (len, entry) = lex.longest_prefix(&text[i..])?;
    let term = &text[i..i + len];
    if term.is_ascii() {
        // An ASCII emoticon glued to a word or a path is not one: "http://", ":param".
        let next = text[i + len..].chars().next();
        if next.is_some_and(|n| n.is_alphanumeric() || n == '/') {
            return None;
        }
    }
    let mut tok = Tok::new(TokKind::Entry(entry), i, i + len);
    tok.symbol = true;
    toks.push(tok);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::LEXICON;
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        let mut s = Scratch::default();
        tokenize(text, &LEXICON, &mut s);
        s.toks
            .iter()
            .map(|t| {
                let span = &text[t.start as usize..t.end as usize];
                match t.kind {
                    TokKind::Entry(_) => format!("E:{span}"),
                    TokKind::Word => format!("W:{span}"),
                    TokKind::Han => format!("H:{span}"),
                    TokKind::Clause => "|".to_string(),
                    TokKind::Sentence { bangs } => format!(".{bangs}"),
                }
            })
            .collect()
    }

    #[test]
    fn mixed_text_is_split_by_script() {
        assert_eq!(
            kinds("Great phone, 质量很好!!! :) 😍"),
            [
                "E:Great", "W:phone", "|", "E:质量", "E:很", "E:好", ".3", "E::)", "E:😍"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn phrases_are_merged_and_urls_are_not_emoticons() {
        assert_eq!(
            kinds("a waste of money. see http://x"),
            [
                "W:a",
                "E:waste of money",
                ".0",
                "W:see",
                "W:http",
                "|",
                "W:x"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn control_characters_separate_and_line_breaks_end_sentences() {
        assert_eq!(
            kinds("good\u{0}bad\nnice\u{7}"),
            ["E:good", "E:bad", ".0", "E:nice"].map(String::from)
        );
    }
}
