//! Chinese text: segmentation by longest match against the lexicon.
//!
//! Sentiment needs only the words the lexicon knows, split where the rules need them: 不太满意
//! must become 不 / 太 / 满意 so that the negator and the degree adverb can act on 满意. So at
//! each Han character the longest lexicon term starting there is taken; characters no term
//! starts with are gathered into one unknown run (it counts as one token for negation scope, as
//! a word would). The lexicon lists words that contain a sentiment character without carrying
//! its sentiment (好像, 别人, 无线, 没想到) so that longest match does not misread them.
//!
//! Why not a general segmenter such as jieba-rs: its dictionary (350k words, ~5 MB, 130 ms and
//! ~35 MB to load) glues degree adverbs and negators to adjectives (好贵, 很脆, 不太给力 are single
//! jieba words), which would force the lexicon to list every combination, and it segments the
//! whole text although only lexicon words matter. Measured on generated reviews, see
//! `data/README.md`.

use super::lexicon::Lexicon;
use super::tokens::{Tok, TokKind};

/// Whether `c` is a Han (CJK ideograph) character.
#[inline]
pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0x3400..=0x4DBF    // Extension A
        | 0xF900..=0xFAFF    // Compatibility Ideographs
        | 0x20000..=0x2EBEF  // Extensions B–F
        | 0x30000..=0x3134F) // Extension G
}

/// Segments at byte `i` (a Han character): pushes the longest lexicon term starting there, or
/// adds the character to an unknown run. Returns the byte after what was consumed.
pub fn segment_at(text: &str, i: usize, lex: &Lexicon, toks: &mut Vec<Tok>) -> usize {
    if let Some((len, entry)) = lex.longest_prefix(&text[i..]) {
        toks.push(Tok::new(TokKind::Entry(entry), i, i + len));
        return i + len;
    }
    let end = i + text[i..].chars().next().map_or(1, char::len_utf8);
    match toks.last_mut() {
        Some(last) if last.kind == TokKind::Han && last.end as usize == i => last.end = end as u32,
        _ => toks.push(Tok::new(TokKind::Han, i, end)),
    }
    end
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::LEXICON;
    use super::super::tokens::{Scratch, tokenize};
    use super::*;

    fn segments(text: &str) -> Vec<&str> {
        let mut s = Scratch::default();
        tokenize(text, &LEXICON, &mut s);
        s.toks
            .iter()
            .map(|t| &text[t.start as usize..t.end as usize])
            .collect()
    }

    #[test]
    fn negators_and_degree_adverbs_are_split_off() {
        assert_eq!(segments("不太满意"), ["不", "太", "满意"]);
        assert_eq!(segments("一点都不差"), ["一点都不", "差"]);
        assert_eq!(segments("物流非常快"), ["物流", "非常", "快"]);
    }

    #[test]
    fn unknown_characters_form_one_run() {
        assert_eq!(
            segments("没有发现质量问题"),
            ["没有", "发现", "质量", "问题"]
        );
    }

    #[test]
    fn words_containing_sentiment_characters_are_not_misread() {
        assert_eq!(segments("好像别人说不错"), ["好像", "别人", "说", "不错"]);
        assert_eq!(segments("无线耳机"), ["无线", "耳机"]);
    }

    #[test]
    fn han_ranges() {
        assert!(is_han('好') && is_han('𠀀') && !is_han('a') && !is_han('，') && !is_han('😀'));
    }
}
