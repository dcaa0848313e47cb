//! The scoring rules: from tokens to a raw score, a score in [−1, 1] and a label.
//!
//! Every sentiment term (word, phrase, emoji) becomes one *item* whose contribution is
//!
//! ```text
//! valence × negation × degree × emphasis × contrast × concession
//! ```
//!
//! * **negation**: each negator up to [`NEGATION_SCOPE`] tokens before the term, in the same
//!   clause, multiplies by its (negative) factor: "not good", "never disappointed", 不满意 when
//!   not listed itself, "no complaints".
//! * **degree**: modifiers up to [`MODIFIER_REACH`] tokens before ("very", "slightly", "kind of",
//!   非常, 有点) multiply by their factor; a term-or-modifier directly before a term acts as a
//!   modifier ("pretty good", 好贵); a post-modifier right after ("not bad at all", 好极了) too.
//! * **emphasis**: an elongated word ("goood") ×1.25; an ALL-CAPS word ×[`CAPS_EMPHASIS`] in
//!   English when the review is not written in capitals throughout; a sentence ending in
//!   exclamation marks adds [`BANG_EMPHASIS`] of that sentence's sum per mark, up to three,
//!   as a separate item (the `!!!` token of an explanation).
//! * **contrast** ("but", "however", 但是, 不过, 就是): everything before is multiplied by the
//!   word's `before` factor (0.5 for "but"), what follows by its `after` factor (1.5), until the
//!   next contrast. Contrasts compound: in "A but B but C", A counts a quarter.
//! * **concession** ("although", 虽然): the clause it opens is multiplied by its factor (0.5).
//! * **aspects**: "high"/"low", 高/低 take their sign from an aspect earlier in the clause
//!   ("price is high" is negative, "quality is high" positive) and count nothing alone.
//!
//! The raw score is the sum of the items; `sentiment` is `tanh(raw / 4)`; the label is
//! positive at or above [`POSITIVE_AT`], negative at or below [`NEGATIVE_AT`], else neutral.
//! Everything is linear in the text length: contrast factors are kept as a running log-scale so
//! that a contrast never revisits earlier items (a 1 MB text of "good but good but …" is still
//! one pass).

use super::lexicon::{Entry, LEXICON};
use super::tokens::{Scratch, Shape, Tok, TokKind, tokenize};

/// How many tokens before a term a negator still applies (within the clause).
pub const NEGATION_SCOPE: usize = 3;
/// How many tokens before a term a degree modifier still applies.
pub const MODIFIER_REACH: usize = 2;
/// Emphasis of an ALL-CAPS word in English text that is not all capitals.
pub const CAPS_EMPHASIS: f64 = 1.4;
/// Added emphasis per exclamation mark (up to three) at the end of a sentence.
pub const BANG_EMPHASIS: f64 = 0.12;
/// Divisor of the raw score before `tanh`.
pub const SCALE: f64 = 4.0;
/// Scores at or above this are labelled positive.
pub const POSITIVE_AT: f64 = 0.05;
/// Scores at or below this are labelled negative.
pub const NEGATIVE_AT: f64 = -0.05;

/// The language of a text: it picks the rule profile. Both lexicons are always used, so a
/// Chinese word in an English review still counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English rules: ALL-CAPS words are emphasised.
    En,
    /// Chinese rules: capitals in embedded Latin words ("OK", "NICE") are not emphasis.
    Zh,
}

impl Language {
    /// The language code accepted by the SQL functions.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Zh => "zh",
        }
    }

    /// Detection: Chinese when the text has Han characters and at least as many of them as
    /// Latin-script words ("很nice" is Chinese, an English review naming 北京 is English);
    /// otherwise English.
    pub fn detect(shape: &Shape) -> Language {
        if shape.han > 0 && shape.han >= shape.words {
            Language::Zh
        } else {
            Language::En
        }
    }
}

/// One scored item: a span of the text and its contribution.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// Byte span of the text the contribution comes from (modifiers included).
    pub start: u32,
    /// End of the span (exclusive).
    pub end: u32,
    value: f64,
    /// The log contrast scale when the item was made; its final value is
    /// `value × exp(final_scale − mark)`.
    mark: f64,
}

impl Item {
    /// The contribution once every contrast up to log-scale `scale` is applied.
    #[inline]
    fn final_value(&self, scale: f64) -> f64 {
        // Most items see no later contrast: skip the exp().
        if self.mark == scale {
            self.value
        } else {
            self.value * (scale - self.mark).exp()
        }
    }
}

/// The outputs of the scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The raw score: the sum of the items' contributions.
    pub raw: f64,
    /// The language whose rules were used.
    pub language: Language,
}

impl Scored {
    /// The score in [−1, 1].
    pub fn score(&self) -> f64 {
        normalize(self.raw)
    }

    /// The label of the score.
    pub fn label(&self) -> &'static str {
        label(self.score())
    }
}

/// `tanh(raw / SCALE)`: the score in [−1, 1].
#[inline]
pub fn normalize(raw: f64) -> f64 {
    (raw / SCALE).tanh()
}

/// The label of a score: see [`POSITIVE_AT`] and [`NEGATIVE_AT`].
#[inline]
pub fn label(score: f64) -> &'static str {
    if score >= POSITIVE_AT {
        "positive"
    } else if score <= NEGATIVE_AT {
        "negative"
    } else {
        "neutral"
    }
}

/// Kernel: scores one text. `language` `None` detects it. Leaves the items in `s.items` (their
/// final contributions are read with [`contributions`]).
pub fn score_text(text: &str, language: Option<Language>, s: &mut Scratch) -> Scored {
    let shape = tokenize(text, &LEXICON, s);
    let language = language.unwrap_or_else(|| Language::detect(&shape));
    let shouting = shape.words >= 3 && shape.caps_words * 2 > shape.words;
    let caps = language == Language::En && !shouting;
    let scale = apply_rules(&s.toks, caps, &mut s.items);
    s.scale = scale;
    let mut raw = 0.0;
    for it in &s.items {
        raw += it.final_value(scale);
    }
    Scored { raw, language }
}

/// The final contributions of the items left by [`score_text`], as (byte span, contribution),
/// in text order. They add up (in this order) to exactly [`Scored::raw`].
pub fn contributions(s: &Scratch) -> impl Iterator<Item = ((usize, usize), f64)> + '_ {
    let scale = s.scale;
    s.items
        .iter()
        .map(move |it| ((it.start as usize, it.end as usize), it.final_value(scale)))
}

#[inline]
fn is_boundary(kind: TokKind) -> bool {
    matches!(
        kind,
        TokKind::Clause
            | TokKind::Sentence { .. }
            | TokKind::Entry(Entry::Contrast { .. })
            | TokKind::Entry(Entry::Concessive(_))
    )
}

#[inline]
fn emphasis(t: &Tok, caps: bool) -> f64 {
    let e = f64::from(t.emphasis);
    if caps && t.caps { e * CAPS_EMPHASIS } else { e }
}

/// Applies the rules to the tokens, filling `items`; returns the final log contrast scale.
fn apply_rules(toks: &[Tok], caps: bool, items: &mut Vec<Item>) -> f64 {
    items.clear();
    let mut scale = 0.0f64;
    let mut after = 1.0f64;
    let mut concession = 1.0f64;
    let mut sentence_first = 0usize;
    let mut last_item_tok: Option<usize> = None;
    for (i, tok) in toks.iter().enumerate() {
        let entry = match tok.kind {
            TokKind::Clause => {
                concession = 1.0;
                last_item_tok = None;
                continue;
            }
            TokKind::Sentence { bangs } => {
                concession = 1.0;
                last_item_tok = None;
                if bangs > 0 {
                    let sum: f64 = items[sentence_first..]
                        .iter()
                        .map(|it| it.final_value(scale))
                        .sum();
                    if sum != 0.0 {
                        items.push(Item {
                            start: tok.start,
                            end: tok.end,
                            value: sum * BANG_EMPHASIS * f64::from(bangs.min(3)),
                            mark: scale,
                        });
                    }
                }
                sentence_first = items.len();
                continue;
            }
            TokKind::Entry(e) => e,
            TokKind::Word | TokKind::Han => continue,
        };
        let base = match entry {
            Entry::Contrast { before, after: a } => {
                scale += before.ln();
                after = a;
                concession = 1.0;
                last_item_tok = None;
                continue;
            }
            Entry::Concessive(f) => {
                concession = f;
                last_item_tok = None;
                continue;
            }
            Entry::PostModifier(m) => {
                if let (Some(j), Some(last)) = (last_item_tok, items.last_mut())
                    && i - j <= 2
                {
                    last.value *= m;
                    last.end = tok.end;
                }
                continue;
            }
            Entry::TermOrModifier(v, _) => {
                let next_is_term = toks
                    .get(i + 1)
                    .is_some_and(|n| matches!(n.kind, TokKind::Entry(e) if e.is_term()));
                if next_is_term {
                    continue;
                }
                v
            }
            Entry::Term(v) => v,
            Entry::Scalar(v) => match clause_aspect(toks, i) {
                Some(sign) => v * sign,
                None => continue,
            },
            Entry::Negator(_) | Entry::Modifier(_) | Entry::Aspect(_) | Entry::Word => continue,
        };
        let mut mult = 1.0f64;
        let mut start = tok.start;
        let reach = if tok.symbol { 0 } else { NEGATION_SCOPE.min(i) };
        for d in 1..=reach {
            let t = &toks[i - d];
            if is_boundary(t.kind) {
                break;
            }
            match t.kind {
                TokKind::Entry(Entry::Negator(n)) => {
                    mult *= n;
                    start = t.start;
                }
                TokKind::Entry(Entry::Modifier(m)) if d <= MODIFIER_REACH => {
                    mult *= 1.0 + (m - 1.0) * emphasis(t, caps);
                    start = t.start;
                }
                TokKind::Entry(Entry::TermOrModifier(_, m)) if d == 1 => {
                    mult *= m;
                    start = t.start;
                }
                _ => {}
            }
        }
        let value = base * mult * emphasis(tok, caps) * after * concession;
        items.push(Item {
            start,
            end: tok.end,
            value,
            mark: scale,
        });
        last_item_tok = Some(i);
    }
    scale
}

/// The sign of the nearest aspect before token `i` in its clause (at most 6 tokens back).
fn clause_aspect(toks: &[Tok], i: usize) -> Option<f64> {
    for d in 1..=6.min(i) {
        let t = &toks[i - d];
        if is_boundary(t.kind) {
            return None;
        }
        if let TokKind::Entry(Entry::Aspect(sign)) = t.kind {
            return Some(sign);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> f64 {
        score_text(text, None, &mut Scratch::default()).raw
    }

    fn score(text: &str) -> f64 {
        score_text(text, None, &mut Scratch::default()).score()
    }

    fn explain(text: &str) -> Vec<(String, f64)> {
        let mut s = Scratch::default();
        score_text(text, None, &mut s);
        contributions(&s)
            .map(|((a, b), v)| (text[a..b].to_string(), v))
            .collect()
    }

    #[test]
    fn polarity_of_plain_words() {
        assert!(score("This is good") > 0.3);
        assert!(score("This is terrible") < -0.5);
        assert_eq!(score("The box is blue"), 0.0);
    }

    #[test]
    fn negation_flips_and_has_a_scope() {
        assert!(raw("not good") < 0.0);
        assert!(raw("never disappointed") > 0.0);
        assert!(raw("isn't bad at all") > raw("isn't bad"));
        assert!(raw("no complaints") > 0.0);
        // The scope ends at the clause boundary.
        assert!(raw("not the colour I chose, but good") > 0.0);
        assert!(raw("not, good") > 0.0);
        // And after three tokens.
        assert!(raw("not one of my friends thought it good") > 0.0);
    }

    #[test]
    fn degree_modifiers() {
        let good = raw("good");
        assert!(raw("very good") > good);
        assert!(raw("extremely good") > raw("very good"));
        assert!(raw("slightly good") < good && raw("slightly good") > 0.0);
        assert!(raw("kind of slow") > raw("slow"));
        assert!(raw("not very good") < 0.0 && raw("not very good") > raw("not good") * 1.5);
        assert!(raw("pretty good") > good);
        assert!(raw("pretty") > 0.0);
    }

    #[test]
    fn contrast_weighs_the_clause_after() {
        assert!(raw("Looks nice but it broke in a week") < 0.0);
        assert!(raw("It broke once, however the seller replaced it and it is great") > 0.0);
        assert!(raw("Although the box was damaged, the lamp is lovely") > 0.0);
        let but = explain("good but bad");
        assert_eq!(but.len(), 2);
        assert!((but[0].1 - 1.9 * 0.5).abs() < 1e-6, "{but:?}");
        assert!((but[1].1 + 2.1 * 1.5).abs() < 1e-6, "{but:?}");
    }

    #[test]
    fn emphasis_caps_bangs_elongation() {
        assert!(raw("This is GOOD") > raw("This is good"));
        // A text written in capitals throughout is not emphasis.
        assert_eq!(raw("THIS IS GOOD"), raw("this is good"));
        assert!(raw("good!!!") > raw("good!") && raw("good!") > raw("good"));
        assert_eq!(raw("good!!!!!!"), raw("good!!!"));
        assert!(raw("goood") > raw("good"));
        assert!(raw("sooo good") > raw("good"));
    }

    #[test]
    fn emoticons_and_emoji() {
        assert!(score(":)") > 0.3);
        assert!(score(":(") < -0.3);
        assert!(score("😍😍") > score("😍"));
        assert!(score("👎") < 0.0);
        assert!(score("❤️") > 0.0);
        assert_eq!(score("🦀"), 0.0);
    }

    #[test]
    fn shop_phrasing_in_english() {
        for neg in [
            "Arrived broken.",
            "Waste of money",
            "Returned it.",
            "Stopped working after a week",
            "one star",
            "Do not buy",
        ] {
            assert!(score(neg) < -0.3, "{neg}: {}", score(neg));
        }
        for pos in [
            "Works as described",
            "Would buy again",
            "Five stars",
            "10/10",
            "Worth every penny",
        ] {
            assert!(score(pos) > 0.3, "{pos}: {}", score(pos));
        }
        assert!(raw("the price is high") < 0.0 && raw("the quality is high") > 0.0);
        assert_eq!(raw("high"), 0.0);
    }

    #[test]
    fn chinese_rules() {
        assert!(score("质量很好") > 0.3);
        assert!(score("质量差") < -0.3);
        assert!(score("不满意") < -0.3);
        assert!(raw("不太满意") < 0.0 && raw("不太满意") > raw("非常不满意"));
        assert!(raw("一点都不差") > 0.0);
        assert!(raw("没有任何问题") > 0.0);
        assert!(raw("非常好") > raw("好") && raw("有点贵") > raw("贵"));
        assert!(raw("外观好看，但是质量太差") < 0.0);
        assert!(raw("质量很好，就是物流有点慢") > 0.0);
        assert!(raw("虽然有点贵，但是很好用") > 0.0);
        assert!(score("物流很快") > 0.2 && score("性价比高") > 0.3 && score("性价比超高") > 0.3);
        assert!(score("好评！") > 0.3 && score("差评") < -0.3);
        assert!(raw("客服态度很好") > 0.0 && raw("客服态度差") < 0.0);
        assert!(raw("价格高") < 0.0 && raw("价格很低") > 0.0);
        assert!(raw("好贵") < raw("贵"));
        assert_eq!(raw("好像是蓝色的"), 0.0);
        assert!(raw("设计很nice") > 0.0, "English words inside Chinese text");
        assert!(raw("[赞][赞]") > 0.0 && raw("[怒]") < 0.0);
    }

    #[test]
    fn explanation_sums_to_the_raw_score() {
        for text in [
            "Great phone!!! But the battery is NOT very good :( Would not buy again.",
            "虽然物流有点慢，但是质量非常好！！强烈推荐👍",
            "good but good but bad however nice!!!",
            "",
            "no sentiment here",
        ] {
            let mut s = Scratch::default();
            let r = score_text(text, None, &mut s).raw;
            let mut sum = 0.0;
            for (_, v) in contributions(&s) {
                sum += v;
            }
            assert_eq!(sum, r, "{text}");
        }
        let e = explain("It is not very good!!!");
        assert_eq!(e[0].0, "not very good");
        assert_eq!(e[1].0, "!!!");
    }

    #[test]
    fn language_detection() {
        let mut s = Scratch::default();
        assert_eq!(score_text("good", None, &mut s).language, Language::En);
        assert_eq!(score_text("很好", None, &mut s).language, Language::Zh);
        assert_eq!(
            score_text("设计很nice", None, &mut s).language,
            Language::Zh
        );
        assert_eq!(
            score_text("We loved our trip to 北京 and this map", None, &mut s).language,
            Language::En
        );
        assert_eq!(score_text("😍", None, &mut s).language, Language::En);
        // Forcing Chinese rules turns off capital-letter emphasis.
        assert!(
            score_text("GOOD job", Some(Language::Zh), &mut s).raw
                < score_text("GOOD job", Some(Language::En), &mut s).raw
        );
    }

    #[test]
    fn empty_whitespace_and_control_characters_are_neutral() {
        for t in ["", "   ", "\n\t", "\u{0}\u{1}\u{7f}", "...", "!!!"] {
            let r = score_text(t, None, &mut Scratch::default());
            assert_eq!(r.raw, 0.0, "{t:?}");
            assert_eq!(r.label(), "neutral");
        }
    }

    #[test]
    fn a_megabyte_is_linear() {
        let text = "good but bad however nice. 非常好，但是很差！ ".repeat(20_000);
        assert!(text.len() > 1_000_000);
        let t = std::time::Instant::now();
        let r = score_text(&text, None, &mut Scratch::default());
        assert!(r.raw.is_finite() && r.score().abs() <= 1.0);
        // Generous bound for a debug build on a busy machine; release is ~100× faster.
        assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
        let one_word = "a".repeat(1 << 20);
        assert_eq!(
            score_text(&one_word, None, &mut Scratch::default()).raw,
            0.0
        );
    }
}
