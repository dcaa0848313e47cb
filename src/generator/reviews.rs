//! Synthetic product-review text in English and Chinese.
//!
//! The shop-log generator needs review text whose tone follows the star rating but which is not a
//! small set of canned sentences, otherwise any sentiment scorer tested against it could simply
//! memorise templates. Reviews are therefore assembled from a small compositional grammar:
//!
//! * A review is `[opener] clause {connector clause} end-punctuation [finale] [emoji]`, or, with a
//!   small probability, a very short stand-alone verdict ("Great!", "meh", 差评).
//! * Each clause talks about one *aspect* (quality, delivery, price, service, packaging, accuracy,
//!   plus category-specific ones such as battery, fit, taste or plot). An aspect is a table of
//!   subjects, positive and negative predicate adjectives, and complete positive / negative
//!   clauses. Aspects are defined once per language in [`EnAspect`] / [`ZhAspect`] tables.
//! * Each clause gets a polarity drawn from the rating (5: mostly positive, 3: mixed, 1: negative).
//!   A polarity is realised in several ways: intensified adjective ("very flimsy", 非常好),
//!   negated opposite adjective ("isn't very sturdy", 不太满意), litotes ("isn't bad at all",
//!   一点都不差), dampened adjective for mild or neutral remarks ("a bit slow", 有点贵), or a
//!   complete clause from the aspect table ("it arrived broken", 包装破损).
//! * Clauses whose polarity opposes the rating usually come first and are joined with a contrast
//!   connector ("but", "however", 但是, 就是), so the clause after the contrast carries the tone.
//! * English surface noise is applied per word while pushing: occasional typos (swap, drop or
//!   double a letter), ALL CAPS emphasis, elongation ("sooo"), missing capitals, lowercase-only
//!   reviews. Chinese gets particles (啊, 吧, 哈哈), ～/！ punctuation and mixed-in English words.
//!
//! Adding phrases: append entries to the relevant `&'static str` table. Adjective tables must hold
//! predicate adjectives that read well after "is"/"are" (English) or after a degree adverb such as
//! 很 (Chinese; never start a Chinese adjective with 不, because the grammar adds negators itself).
//! Complete-clause tables hold clauses that stand on their own; an English one starting with "it "
//! may have "it" dropped at the start of a sentence ("Arrived broken."). Adding a category means
//! adding an aspect slice and a match arm in [`en_category`] / [`zh_category`].
//!
//! Everything is driven by the caller's RNG (no global state, no hashing) so output is
//! deterministic per seed, and the only allocation is growth of the caller's `String`.

use rand::Rng;

/// Language of a generated review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewLanguage {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl ReviewLanguage {
    /// ISO 639-1 code of the language (`"en"` or `"zh"`).
    pub fn code(self) -> &'static str {
        match self {
            ReviewLanguage::En => "en",
            ReviewLanguage::Zh => "zh",
        }
    }
}

/// Appends one review to `out` (does not clear it).
///
/// `rating` is clamped to `1..=5`. `category` is one of "electronics", "fashion", "home",
/// "beauty", "sports", "books", "toys", "grocery"; any other string falls back to generic product
/// phrasing. The output depends only on the RNG state and the arguments.
pub fn write_review<R: Rng + ?Sized>(
    rng: &mut R,
    rating: u8,
    category: &str,
    language: ReviewLanguage,
    out: &mut String,
) {
    let rating = rating.clamp(1, 5);
    match language {
        ReviewLanguage::En => {
            en_write(rng, rating, category, out);
        }
        ReviewLanguage::Zh => zh_write(rng, rating, category, out),
    }
}

// ---------------------------------------------------------------------------------------------
// Shared machinery
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pol {
    Pos,
    Neu,
    Neg,
}

fn pick<R: Rng + ?Sized>(rng: &mut R, table: &[&'static str]) -> &'static str {
    // Empty tables are legal (some aspects have no complete clauses); callers check first, but
    // returning "" keeps a forgotten check from ever panicking.
    if table.is_empty() {
        ""
    } else {
        table[rng.gen_range(0..table.len())]
    }
}

fn chance<R: Rng + ?Sized>(rng: &mut R, percent: u32) -> bool {
    rng.gen_range(0..100u32) < percent
}

fn tone_of(rating: u8) -> Pol {
    match rating {
        4.. => Pol::Pos,
        3 => Pol::Neu,
        _ => Pol::Neg,
    }
}

/// Per-aspect polarity. The off-tone shares are deliberately non-trivial so that mixed reviews
/// occur at every rating, as they do in real shops.
fn draw_pol<R: Rng + ?Sized>(rng: &mut R, rating: u8) -> Pol {
    let (pos, neu) = match rating {
        5 => (90, 6),
        4 => (72, 16),
        3 => (36, 32),
        2 => (12, 18),
        _ => (4, 7),
    };
    let r = rng.gen_range(0..100u32);
    if r < pos {
        Pol::Pos
    } else if r < pos + neu {
        Pol::Neu
    } else {
        Pol::Neg
    }
}

fn clause_count<R: Rng + ?Sized>(rng: &mut R) -> usize {
    match rng.gen_range(0..100u32) {
        0..30 => 1,
        30..65 => 2,
        65..88 => 3,
        _ => 4,
    }
}

/// Whether two adjacent remarks are joined by a contrast. Opposite polarities always are; a
/// neutral remark next to a polar one only sometimes, otherwise reviews stack "but … but …".
fn contrasting<R: Rng + ?Sized>(rng: &mut R, prev: Pol, cur: Pol) -> bool {
    match (prev, cur) {
        _ if prev == cur => false,
        (Pol::Pos, Pol::Neg) | (Pol::Neg, Pol::Pos) => true,
        _ => chance(rng, 50),
    }
}

fn off_tone(tone: Pol, pol: Pol) -> bool {
    match tone {
        Pol::Pos => pol != Pol::Pos,
        Pol::Neg => pol != Pol::Neg,
        Pol::Neu => false,
    }
}

/// Draws aspects and polarities for one review into a fixed stack array and returns its length.
/// Off-tone remarks are usually moved to the front so that a following contrast lands on the
/// rating's tone ("nice colour, but it broke in a week" for a 1-star review).
fn plan_clauses<R: Rng + ?Sized, A: 'static>(
    rng: &mut R,
    rating: u8,
    generic: &'static [A],
    specific: &'static [A],
    plan: &mut [(&'static A, Pol); 4],
) -> usize {
    let n = clause_count(rng);
    let mut last: Option<&'static A> = None;
    for slot in plan.iter_mut().take(n) {
        let mut aspect = draw_aspect(rng, generic, specific);
        // One retry is enough to make back-to-back repeats rare without looping.
        if last.is_some_and(|l| std::ptr::eq(l, aspect)) {
            aspect = draw_aspect(rng, generic, specific);
        }
        last = Some(aspect);
        *slot = (aspect, draw_pol(rng, rating));
    }
    let tone = tone_of(rating);
    if tone != Pol::Neu && n > 1 && chance(rng, 80) {
        // Stable partition by insertion: n <= 4, so this is cheap and allocation-free.
        for i in 1..n {
            let mut j = i;
            while j > 0 && off_tone(tone, plan[j].1) && !off_tone(tone, plan[j - 1].1) {
                plan.swap(j, j - 1);
                j -= 1;
            }
        }
    }
    n
}

fn draw_aspect<R: Rng + ?Sized, A>(
    rng: &mut R,
    generic: &'static [A],
    specific: &'static [A],
) -> &'static A {
    let use_specific = !specific.is_empty() && chance(rng, 55);
    let table = if use_specific || generic.is_empty() {
        specific
    } else {
        generic
    };
    // The generic tables are non-empty static data, so `table` is never empty here.
    &table[rng.gen_range(0..table.len())]
}

// ---------------------------------------------------------------------------------------------
// English
// ---------------------------------------------------------------------------------------------

/// One thing a reviewer can talk about. Subjects carry a plural flag for verb agreement.
struct EnAspect {
    subj: &'static [(&'static str, bool)],
    pos: &'static [&'static str],
    neg: &'static [&'static str],
    pos_cl: &'static [&'static str],
    neg_cl: &'static [&'static str],
}

const EN_GENERIC: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the quality", false),
            ("the build quality", false),
            ("the material", false),
            ("the craftsmanship", false),
            ("the finish", false),
            ("the overall quality", false),
        ],
        pos: &[
            "solid",
            "top-notch",
            "impressive",
            "sturdy",
            "premium",
            "well made",
            "durable",
            "high quality",
            "excellent",
        ],
        neg: &[
            "flimsy",
            "cheap",
            "cheaply made",
            "shoddy",
            "subpar",
            "fragile",
            "poor",
            "disappointing",
            "terrible",
        ],
        pos_cl: &[
            "it works as described",
            "it feels like it will last for years",
            "it exceeded my expectations",
            "it has never disappointed me",
            "nothing has broken so far",
            "it does exactly what it should",
            "it works perfectly",
            "it still works like new",
        ],
        neg_cl: &[
            "it broke after two days",
            "it didn't work out of the box",
            "it fell apart within a week",
            "it stopped working after a month",
            "it feels like a cheap knockoff",
            "it never worked properly",
            "the parts don't fit together",
            "it arrived with a crack in it",
            "it doesn't work at all",
        ],
    },
    EnAspect {
        subj: &[
            ("shipping", false),
            ("delivery", false),
            ("the delivery", false),
            ("the courier", false),
            ("the shipping", false),
        ],
        pos: &[
            "fast",
            "quick",
            "speedy",
            "prompt",
            "on time",
            "lightning fast",
            "faster than expected",
            "really efficient",
        ],
        neg: &[
            "slow",
            "late",
            "painfully slow",
            "delayed",
            "a nightmare",
            "unreliable",
            "way too slow",
        ],
        pos_cl: &[
            "it arrived two days early",
            "it arrived the next day",
            "it came earlier than expected",
            "the package showed up right on time",
            "tracking was accurate the whole way",
            "it was delivered in less than 48 hours",
        ],
        neg_cl: &[
            "it arrived broken",
            "it took almost a month to arrive",
            "the package was left out in the rain",
            "it got lost in transit",
            "tracking never updated",
            "it arrived three weeks late",
            "the driver threw it over the fence",
        ],
    },
    EnAspect {
        subj: &[
            ("the price", false),
            ("the value", false),
            ("the price point", false),
            ("the sale price", false),
        ],
        pos: &[
            "fair",
            "reasonable",
            "unbeatable",
            "affordable",
            "a steal",
            "worth every penny",
            "hard to beat",
        ],
        neg: &[
            "too high",
            "ridiculous",
            "steep",
            "overpriced",
            "a rip-off",
            "outrageous",
        ],
        pos_cl: &[
            "it is great value for the price",
            "you get a lot for the money",
            "it was worth every cent",
            "it's cheaper than in the store",
            "it costs half of what the big brands charge",
        ],
        neg_cl: &[
            "it's a waste of money",
            "it wasn't worth the money",
            "you can find better for half the price",
            "I paid way too much for this",
            "it's cheaper at the supermarket",
        ],
    },
    EnAspect {
        subj: &[
            ("customer service", false),
            ("the seller", false),
            ("support", false),
            ("the shop", false),
            ("the return process", false),
        ],
        pos: &[
            "helpful",
            "responsive",
            "friendly",
            "amazing",
            "quick to reply",
            "professional",
            "easy to deal with",
        ],
        neg: &[
            "useless",
            "rude",
            "unhelpful",
            "unresponsive",
            "slow to reply",
            "dismissive",
            "a joke",
        ],
        pos_cl: &[
            "the seller replied within an hour",
            "they sent a replacement right away",
            "support sorted out my problem quickly",
            "the refund was processed the same day",
            "the seller added a handwritten thank-you note",
        ],
        neg_cl: &[
            "customer service never replied",
            "the seller ignored my messages",
            "they refused to refund me",
            "I'm still waiting for a refund",
            "support kept sending copy-paste answers",
            "they wanted me to pay for the return shipping",
        ],
    },
    EnAspect {
        subj: &[
            ("the packaging", false),
            ("the box", false),
            ("the wrapping", false),
        ],
        pos: &[
            "neat",
            "secure",
            "nice",
            "well padded",
            "beautiful",
            "eco-friendly",
            "gift-ready",
        ],
        neg: &[
            "damaged",
            "crushed",
            "flimsy",
            "torn",
            "excessive",
            "sloppy",
            "soaked",
        ],
        pos_cl: &[
            "everything was packed carefully",
            "it came nicely wrapped",
            "the box had plenty of padding",
        ],
        neg_cl: &[
            "the box arrived crushed",
            "it came with no padding at all",
            "the seal was already broken",
            "it looked like someone had opened it before",
        ],
    },
    EnAspect {
        subj: &[
            ("the description", false),
            ("the photos", true),
            ("the listing", false),
            ("the product page", false),
        ],
        pos: &[
            "accurate",
            "spot on",
            "honest",
            "true to life",
            "very clear",
        ],
        neg: &["misleading", "inaccurate", "wrong", "deceptive", "vague"],
        pos_cl: &[
            "it looks exactly as pictured",
            "it matches the description perfectly",
            "it's exactly what I ordered",
            "it's exactly as described",
        ],
        neg_cl: &[
            "it looks nothing like the photos",
            "I received the wrong item",
            "it's not what was advertised",
            "the color is completely different from the listing",
            "it's half the size shown in the pictures",
        ],
    },
    EnAspect {
        subj: &[
            ("it", false),
            ("this", false),
            ("this product", false),
            ("the item", false),
            ("overall it", false),
        ],
        pos: &[
            "great",
            "amazing",
            "perfect",
            "fantastic",
            "worth it",
            "exactly what I needed",
            "a great buy",
            "awesome",
            "a game changer",
        ],
        neg: &[
            "junk",
            "garbage",
            "useless",
            "a joke",
            "a total waste",
            "awful",
            "a scam",
            "a huge letdown",
        ],
        pos_cl: &[
            "I use it every day",
            "I love it",
            "my wife loves it",
            "it made my life so much easier",
            "I already ordered a second one",
        ],
        neg_cl: &[
            "I returned it",
            "I regret buying it",
            "it went straight in the bin",
            "I wouldn't give it to my worst enemy",
            "I want my money back",
        ],
    },
];

const EN_ELECTRONICS: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the battery", false),
            ("battery life", false),
            ("the battery life", false),
        ],
        pos: &[
            "excellent",
            "long-lasting",
            "solid",
            "outstanding",
            "incredible",
        ],
        neg: &["weak", "pathetic", "short", "awful", "a joke"],
        pos_cl: &[
            "the battery lasts all day",
            "it holds a charge for days",
            "it charges really fast",
        ],
        neg_cl: &[
            "the battery died after two hours",
            "it doesn't hold a charge",
            "it won't charge anymore",
            "it gets hot while charging",
        ],
    },
    EnAspect {
        subj: &[
            ("the screen", false),
            ("the display", false),
            ("the colors", true),
            ("the picture", false),
        ],
        pos: &["bright", "sharp", "crisp", "vivid", "gorgeous", "clear"],
        neg: &["dim", "blurry", "washed out", "grainy", "scratched", "dull"],
        pos_cl: &[
            "text looks super sharp",
            "it's easy to read even in sunlight",
        ],
        neg_cl: &[
            "the screen cracked on day one",
            "there are dead pixels in the corner",
            "the touch screen doesn't respond half the time",
        ],
    },
    EnAspect {
        subj: &[
            ("the sound", false),
            ("the audio", false),
            ("the speakers", true),
            ("the bass", false),
            ("the microphone", false),
        ],
        pos: &[
            "clear",
            "rich",
            "loud",
            "balanced",
            "punchy",
            "crystal clear",
        ],
        neg: &["tinny", "muffled", "distorted", "quiet", "crackly", "flat"],
        pos_cl: &["music sounds amazing on it", "calls are crystal clear"],
        neg_cl: &[
            "it crackles at high volume",
            "the left earbud stopped working",
            "nobody can hear me on calls",
        ],
    },
    EnAspect {
        subj: &[
            ("setup", false),
            ("the app", false),
            ("the bluetooth connection", false),
            ("pairing", false),
            ("the wifi connection", false),
        ],
        pos: &[
            "easy",
            "simple",
            "painless",
            "straightforward",
            "seamless",
            "stable",
        ],
        neg: &[
            "confusing",
            "buggy",
            "unstable",
            "frustrating",
            "a pain",
            "laggy",
        ],
        pos_cl: &[
            "it connected to my phone in seconds",
            "it worked straight out of the box",
        ],
        neg_cl: &[
            "it keeps disconnecting",
            "the app crashes constantly",
            "it wouldn't pair with my laptop",
            "the manual didn't help at all",
        ],
    },
    EnAspect {
        subj: &[
            ("performance", false),
            ("the speed", false),
            ("the charger", false),
            ("the cable", false),
        ],
        pos: &[
            "fast",
            "snappy",
            "smooth",
            "responsive",
            "powerful",
            "reliable",
        ],
        neg: &[
            "slow",
            "laggy",
            "sluggish",
            "unreliable",
            "glitchy",
            "noisy",
        ],
        pos_cl: &["it runs everything I throw at it", "it boots up in seconds"],
        neg_cl: &[
            "it freezes every few minutes",
            "it overheats after ten minutes",
            "the cable frayed within a week",
        ],
    },
];

const EN_FASHION: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the fit", false),
            ("the size", false),
            ("the sizing", false),
            ("the cut", false),
        ],
        pos: &[
            "perfect",
            "true to size",
            "flattering",
            "spot on",
            "comfortable",
        ],
        neg: &[
            "way off",
            "too small",
            "too tight",
            "too big",
            "unflattering",
            "baggy",
        ],
        pos_cl: &[
            "it fits like a glove",
            "it fits perfectly",
            "the medium fits me just right",
        ],
        neg_cl: &[
            "it didn't fit at all",
            "I had to return it for a bigger size",
            "it runs two sizes small",
            "the sleeves are way too long",
        ],
    },
    EnAspect {
        subj: &[
            ("the fabric", false),
            ("the material", false),
            ("the cotton", false),
            ("the stitching", false),
            ("the zipper", false),
        ],
        pos: &[
            "soft",
            "breathable",
            "thick",
            "cozy",
            "lovely",
            "luxurious",
            "well stitched",
        ],
        neg: &["itchy", "thin", "see-through", "scratchy", "rough", "stiff"],
        pos_cl: &[
            "it still looks new after many washes",
            "it feels really nice on the skin",
        ],
        neg_cl: &[
            "it shrank after one wash",
            "the seams came apart",
            "it started pilling after a week",
            "the zipper broke the first time I used it",
        ],
    },
    EnAspect {
        subj: &[
            ("the color", false),
            ("the colors", true),
            ("the print", false),
        ],
        pos: &[
            "beautiful",
            "vibrant",
            "gorgeous",
            "rich",
            "exactly as shown",
            "stunning",
        ],
        neg: &["faded", "dull", "off", "nothing like the picture", "ugly"],
        pos_cl: &["the color didn't fade in the wash"],
        neg_cl: &["the color bled in the wash", "it faded after two washes"],
    },
    EnAspect {
        subj: &[
            ("the design", false),
            ("the style", false),
            ("the dress", false),
        ],
        pos: &["stylish", "cute", "elegant", "classy", "trendy", "gorgeous"],
        neg: &["tacky", "frumpy", "boring", "outdated", "awkward"],
        pos_cl: &["I got so many compliments on it", "it goes with everything"],
        neg_cl: &[
            "it looks cheap in person",
            "I would never wear it in public",
        ],
    },
];

const EN_HOME: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("assembly", false),
            ("the assembly", false),
            ("the instructions", true),
        ],
        pos: &["easy", "quick", "simple", "straightforward", "clear"],
        neg: &[
            "confusing",
            "a nightmare",
            "frustrating",
            "unclear",
            "useless",
        ],
        pos_cl: &[
            "it took ten minutes to put together",
            "all the screws were included",
        ],
        neg_cl: &[
            "half the screws were missing",
            "the holes didn't line up",
            "it took three hours to assemble",
        ],
    },
    EnAspect {
        subj: &[
            ("the design", false),
            ("the finish", false),
            ("the color", false),
        ],
        pos: &[
            "beautiful",
            "modern",
            "sleek",
            "elegant",
            "practical",
            "cozy",
        ],
        neg: &["ugly", "bulky", "awkward", "impractical", "tacky"],
        pos_cl: &[
            "it looks great in our living room",
            "guests always ask about it",
        ],
        neg_cl: &["it looks much cheaper in person"],
    },
    EnAspect {
        subj: &[("cleaning", false), ("the surface", false)],
        pos: &["easy", "low maintenance", "effortless", "dishwasher safe"],
        neg: &["hard to clean", "a pain", "a magnet for dust", "sticky"],
        pos_cl: &["stains wipe right off"],
        neg_cl: &["it rusted after a month", "it stains way too easily"],
    },
    EnAspect {
        subj: &[
            ("the lid", false),
            ("the handle", false),
            ("the legs", true),
        ],
        pos: &["practical", "handy", "sturdy", "solid", "well designed"],
        neg: &["wobbly", "loose", "flimsy", "pointless", "bent"],
        pos_cl: &[
            "it heats up quickly",
            "it keeps coffee hot for hours",
            "it fits perfectly in my kitchen",
        ],
        neg_cl: &[
            "it leaks",
            "the handle snapped off",
            "it wobbles even on a flat floor",
        ],
    },
];

const EN_BEAUTY: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the scent", false),
            ("the smell", false),
            ("the fragrance", false),
        ],
        pos: &[
            "lovely", "subtle", "fresh", "pleasant", "heavenly", "amazing",
        ],
        neg: &[
            "overpowering",
            "chemical",
            "strong",
            "artificial",
            "nauseating",
        ],
        pos_cl: &["it smells like a spa"],
        neg_cl: &["it smells like plastic", "the scent gave me a headache"],
    },
    EnAspect {
        subj: &[
            ("the texture", false),
            ("the formula", false),
            ("the consistency", false),
        ],
        pos: &[
            "silky",
            "smooth",
            "lightweight",
            "creamy",
            "non-greasy",
            "rich",
        ],
        neg: &["greasy", "sticky", "clumpy", "watery", "thick", "gritty"],
        pos_cl: &["it absorbs quickly", "a little goes a long way"],
        neg_cl: &["it leaves a white cast", "it pills under makeup"],
    },
    EnAspect {
        subj: &[
            ("the results", true),
            ("the effect", false),
            ("the coverage", false),
        ],
        pos: &["amazing", "noticeable", "incredible", "visible", "flawless"],
        neg: &["nonexistent", "disappointing", "patchy", "underwhelming"],
        pos_cl: &[
            "my skin has never looked better",
            "it cleared up my skin in a week",
            "it lasts all day without smudging",
        ],
        neg_cl: &[
            "it broke me out",
            "it caused a rash",
            "it didn't do anything for my skin",
            "it fades after an hour",
        ],
    },
    EnAspect {
        subj: &[
            ("the bottle", false),
            ("the pump", false),
            ("the tube", false),
        ],
        pos: &["cute", "convenient", "travel friendly", "pretty"],
        neg: &["leaky", "broken", "tiny", "awkward"],
        pos_cl: &["it looks lovely on my vanity"],
        neg_cl: &["the pump stopped working", "half of it leaked out"],
    },
];

const EN_SPORTS: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the straps", true),
            ("the grip", false),
            ("the seams", true),
        ],
        pos: &["durable", "tough", "solid", "grippy", "secure", "rugged"],
        neg: &["slippery", "flimsy", "weak", "worn out", "loose"],
        pos_cl: &[
            "it survived months of daily use",
            "it holds up well outdoors",
        ],
        neg_cl: &[
            "the strap snapped during my first workout",
            "it tore after two runs",
        ],
    },
    EnAspect {
        subj: &[
            ("the padding", false),
            ("the insole", false),
            ("the cushioning", false),
        ],
        pos: &["comfortable", "supportive", "cushioned", "light", "comfy"],
        neg: &["uncomfortable", "heavy", "painful", "stiff", "hard"],
        pos_cl: &[
            "I barely notice I'm wearing it",
            "no blisters even after a long hike",
        ],
        neg_cl: &["it gave me blisters", "it digs into my shoulders"],
    },
    EnAspect {
        subj: &[
            ("the tracking", false),
            ("the resistance", false),
            ("the mat", false),
        ],
        pos: &["consistent", "effective", "accurate", "great"],
        neg: &["inconsistent", "inaccurate", "weak", "slippery"],
        pos_cl: &[
            "my workouts have improved a lot",
            "it counts steps accurately",
        ],
        neg_cl: &["the counter is always wrong", "it slips during every set"],
    },
];

const EN_BOOKS: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the story", false),
            ("the plot", false),
            ("the ending", false),
            ("the characters", true),
        ],
        pos: &[
            "gripping",
            "beautiful",
            "brilliant",
            "moving",
            "captivating",
            "clever",
        ],
        neg: &["boring", "predictable", "flat", "confusing", "dull", "slow"],
        pos_cl: &[
            "I couldn't put it down",
            "I finished it in one night",
            "it made me cry in the best way",
        ],
        neg_cl: &[
            "I couldn't finish it",
            "I gave up halfway through",
            "nothing happens for two hundred pages",
        ],
    },
    EnAspect {
        subj: &[
            ("the print", false),
            ("the pages", true),
            ("the paper", false),
            ("the font", false),
        ],
        pos: &["crisp", "clear", "thick", "easy to read", "high quality"],
        neg: &["blurry", "faded", "thin", "tiny", "smudged", "crooked"],
        pos_cl: &["the illustrations are printed beautifully"],
        neg_cl: &[
            "several pages were printed upside down",
            "some pages were missing",
        ],
    },
    EnAspect {
        subj: &[
            ("the binding", false),
            ("the cover", false),
            ("the spine", false),
        ],
        pos: &["sturdy", "gorgeous", "solid", "beautiful"],
        neg: &["bent", "creased", "torn", "loose", "damaged"],
        pos_cl: &["it would make a lovely gift"],
        neg_cl: &["the cover arrived bent", "pages started falling out"],
    },
    EnAspect {
        subj: &[
            ("the writing", false),
            ("the translation", false),
            ("the author's style", false),
        ],
        pos: &["engaging", "elegant", "witty", "accessible", "smooth"],
        neg: &["clunky", "awkward", "dry", "repetitive", "sloppy"],
        pos_cl: &["every chapter ends on a hook"],
        neg_cl: &["it is full of typos"],
    },
];

const EN_TOYS: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("my kid", false),
            ("my daughter", false),
            ("my son", false),
            ("the kids", true),
        ],
        pos: &["obsessed with it", "thrilled", "delighted", "over the moon"],
        neg: &["bored", "disappointed", "frustrated", "upset"],
        pos_cl: &[
            "my kids play with it every day",
            "it kept my son busy for hours",
            "it's the favorite toy in our house",
        ],
        neg_cl: &[
            "my daughter lost interest after ten minutes",
            "it went straight to the back of the closet",
        ],
    },
    EnAspect {
        subj: &[
            ("the edges", true),
            ("the small parts", true),
            ("the paint", false),
        ],
        pos: &["smooth", "safe", "rounded", "child friendly"],
        neg: &["sharp", "dangerous", "chipped", "toxic smelling"],
        pos_cl: &["there is no chemical smell at all"],
        neg_cl: &[
            "a piece broke off on the first day",
            "the paint chips off easily",
        ],
    },
    EnAspect {
        subj: &[
            ("the pieces", true),
            ("the plastic", false),
            ("the toy", false),
        ],
        pos: &["sturdy", "colorful", "chunky", "solid", "bright"],
        neg: &["brittle", "flimsy", "thin", "cheap"],
        pos_cl: &["it survived being thrown down the stairs"],
        neg_cl: &[
            "it broke within an hour",
            "the batteries died on day one",
            "the wheels fell off",
        ],
    },
];

const EN_GROCERY: &[EnAspect] = &[
    EnAspect {
        subj: &[
            ("the taste", false),
            ("the flavor", false),
            ("the coffee", false),
        ],
        pos: &[
            "delicious",
            "tasty",
            "rich",
            "yummy",
            "authentic",
            "amazing",
        ],
        neg: &["bland", "bitter", "awful", "too salty", "too sweet", "off"],
        pos_cl: &["it tastes just like homemade", "my whole family loved it"],
        neg_cl: &["it tasted like cardboard", "it had a weird aftertaste"],
    },
    EnAspect {
        subj: &[
            ("the freshness", false),
            ("the fruit", false),
            ("the coffee beans", true),
            ("the bread", false),
        ],
        pos: &["fresh", "crisp", "ripe", "perfect"],
        neg: &["stale", "moldy", "rotten", "expired", "soggy", "bruised"],
        pos_cl: &["the expiry date is months away"],
        neg_cl: &[
            "it expired last week",
            "it arrived already moldy",
            "the bag was open when it arrived",
        ],
    },
    EnAspect {
        subj: &[
            ("the portion", false),
            ("the bag", false),
            ("the quantity", false),
        ],
        pos: &["generous", "large", "plenty"],
        neg: &["tiny", "half empty", "small", "stingy"],
        pos_cl: &["one pack lasts us a whole month"],
        neg_cl: &["the bag was mostly air"],
    },
];

fn en_category(category: &str) -> &'static [EnAspect] {
    match category {
        "electronics" => EN_ELECTRONICS,
        "fashion" => EN_FASHION,
        "home" => EN_HOME,
        "beauty" => EN_BEAUTY,
        "sports" => EN_SPORTS,
        "books" => EN_BOOKS,
        "toys" => EN_TOYS,
        "grocery" => EN_GROCERY,
        _ => &[],
    }
}

const EN_ADJ_POS: &[&str] = &[
    "great",
    "good",
    "excellent",
    "amazing",
    "fantastic",
    "awesome",
    "superb",
    "wonderful",
    "outstanding",
];
const EN_ADJ_NEG: &[&str] = &[
    "bad",
    "terrible",
    "awful",
    "horrible",
    "poor",
    "disappointing",
    "pathetic",
    "atrocious",
];
/// Superlatives read oddly after a dampener ("fairly outstanding"), so dampened clauses fall back
/// to these milder generic words.
const EN_ADJ_POS_SOFT: &[&str] = &["good", "nice", "decent", "solid", "fine"];
const EN_ADJ_NEG_SOFT: &[&str] = &["disappointing", "underwhelming", "lacking", "poor", "off"];
const EN_ADJ_NEU: &[&str] = &[
    "okay",
    "fine",
    "average",
    "acceptable",
    "so-so",
    "nothing special",
    "alright",
    "mediocre",
    "decent enough",
    "just okay",
    "not bad but not great",
    "about what you'd expect",
    "passable",
    "fine I guess",
];
const EN_INTENS: &[&str] = &[
    "very",
    "extremely",
    "really",
    "super",
    "so",
    "incredibly",
    "absolutely",
    "pretty",
    "truly",
    "seriously",
    "insanely",
    "ridiculously",
];
const EN_DAMP: &[&str] = &[
    "slightly", "kind of", "a bit", "somewhat", "a little", "sort of", "rather", "a tad",
];
const EN_DAMP_POS: &[&str] = &["fairly", "reasonably", "mostly", "somewhat", "kind of"];
const EN_NOT_VERY: &[&str] = &[
    "very",
    "that",
    "really",
    "all that",
    "particularly",
    "exactly",
];
const EN_COP_SG: &[&str] = &["is", "is", "is", "is", "was", "was", "seems", "is really"];
const EN_COP_PL: &[&str] = &[
    "are",
    "are",
    "are",
    "are",
    "were",
    "were",
    "seem",
    "are really",
];
const EN_NEGCOP_SG: &[&str] = &["isn't", "is not", "wasn't", "was not", "doesn't seem"];
const EN_NEGCOP_PL: &[&str] = &["aren't", "are not", "weren't", "were not", "don't seem"];

const EN_DISCOURSE_POS: &[&str] = &[
    "honestly",
    "I have to say",
    "thankfully",
    "luckily",
    "surprisingly",
    "to be fair",
];
const EN_DISCOURSE_NEG: &[&str] = &[
    "unfortunately",
    "sadly",
    "honestly",
    "frankly",
    "to be honest",
];
const EN_DISCOURSE_NEU: &[&str] = &["honestly", "overall", "to be fair", "in general"];

/// (leading punctuation, words, trailing punctuation)
type Conn = (&'static str, &'static str, &'static str);
const EN_CONN_SAME: &[Conn] = &[
    (",", "and", ""),
    ("", "and", ""),
    (".", "also", ","),
    (",", "plus", ""),
    (".", "", ""),
    (";", "", ""),
    (".", "and", ""),
    (",", "also", ""),
    (".", "on top of that", ","),
    (",", "", ""),
];
const EN_CONN_CONTRAST: &[Conn] = &[
    (",", "but", ""),
    ("", "but", ""),
    (".", "however", ","),
    (",", "however", ","),
    (".", "but", ""),
    (",", "though", ""),
    (".", "that said", ","),
    (",", "although", ""),
    (".", "on the other hand", ","),
    (",", "yet", ""),
];
const EN_ALTHOUGH: &[&str] = &["although", "though", "even though", "while"];

const EN_REL: &[&str] = &[
    "son",
    "daughter",
    "wife",
    "husband",
    "mom",
    "dad",
    "sister",
    "brother",
    "grandson",
    "granddaughter",
    "boyfriend",
    "girlfriend",
    "niece",
    "nephew",
    "best friend",
    "coworker",
];
const EN_DURATION: &[&str] = &[
    "a week",
    "two weeks",
    "a month",
    "three months",
    "half a year",
    "a few days",
    "about a year",
];
const EN_OPENER_FIXED: &[&str] = &[
    "Second time buying this.",
    "Got it on sale.",
    "Bought during the holiday sale.",
    "Ordered two.",
    "Saw this on social media and had to try it.",
    "Long time customer here.",
    "I read a lot of reviews before buying.",
    "This was an impulse buy.",
    "Bought it to replace my old one.",
];

const EN_FINALE_POS: &[&str] = &[
    "works as described",
    "exactly as pictured",
    "great value for the price",
    "fast shipping",
    "five stars",
    "would buy again",
    "would definitely buy again",
    "highly recommend",
    "A+ seller",
    "no complaints",
    "happy with my purchase",
    "does what it says",
    "worth every penny",
    "love it",
    "loooove it",
    "perfect gift",
    "will be ordering more",
    "already ordered another one",
    "10/10",
    "thanks",
    "recommend to everyone",
    "never disappointed with this shop",
];
const EN_FINALE_NEU: &[&str] = &[
    "it's okay for the price",
    "does the job",
    "nothing special",
    "you get what you pay for",
    "three stars",
    "might keep it",
    "it's fine I guess",
    "not bad, not great",
    "meh",
    "might return it",
    "still deciding whether to keep it",
    "we'll see how long it lasts",
    "average at best",
];
const EN_FINALE_NEG: &[&str] = &[
    "waste of money",
    "do not recommend",
    "returned it",
    "customer service never replied",
    "arrived broken",
    "cheaply made",
    "avoid",
    "one star",
    "not as described",
    "total junk",
    "never again",
    "save your money",
    "requested a refund",
    "not worth it",
    "would not buy again",
    "never buying from this seller again",
    "don't waste your money",
    "very disappointed",
    "returning it tomorrow",
    "stay away",
];

const EN_SHORT_POS: &[&str] = &[
    "Great!",
    "Love it!",
    "Perfect.",
    "Awesome",
    "Five stars",
    "Excellent product.",
    "Amazing!!",
    "So good",
    "Very happy.",
    "Good",
    "Loooove it",
    "Best purchase ever!",
    "A+++",
];
const EN_SHORT_NEU: &[&str] = &[
    "meh",
    "It's ok.",
    "Fine.",
    "Average.",
    "Okay I guess",
    "Not bad.",
    "It works.",
    "Does the job.",
    "so-so",
];
const EN_SHORT_NEG: &[&str] = &[
    "Terrible.",
    "Junk.",
    "Awful!",
    "Broken.",
    "Useless",
    "Do not buy.",
    "Worst purchase ever.",
    "Garbage!!",
    "Didn't work.",
    "Not good.",
];

const EMOJI_POS: &[&str] = &[":)", ":D", "😍", "👍", "💯", "❤️", "😊", "🙂", "🥰", "<3"];
const EMOJI_NEU: &[&str] = &[":/", "🤷", "😐", "🤔", ":|"];
const EMOJI_NEG: &[&str] = &[":(", "😡", "🙄", "👎", "😤", "😞", ":/", "🤬"];

fn by_tone(
    tone: Pol,
    pos: &'static [&'static str],
    neu: &'static [&'static str],
    neg: &'static [&'static str],
) -> &'static [&'static str] {
    match tone {
        Pol::Pos => pos,
        Pol::Neu => neu,
        Pol::Neg => neg,
    }
}

/// Longest English word (in bytes) that gets typo / elongation treatment; longer tokens are
/// pushed verbatim so the stack buffer below can never overflow.
const EN_MAX_WORD: usize = 40;

/// Pushes English words into `out`, handling spacing, capitalisation and per-word noise.
struct EnWriter<'a, R: Rng + ?Sized> {
    rng: &'a mut R,
    out: &'a mut String,
    at_start: bool,
    cap_next: bool,
    no_caps: bool,
    typo_permille: u32,
    typos: u32,
}

impl<R: Rng + ?Sized> EnWriter<'_, R> {
    fn words(&mut self, phrase: &str) {
        self.words_styled(phrase, false, false);
    }

    fn words_styled(&mut self, phrase: &str, shout: bool, elongate: bool) {
        for (i, word) in phrase.split(' ').enumerate() {
            if word.is_empty() {
                continue;
            }
            if !self.at_start {
                self.out.push(' ');
            }
            self.at_start = false;
            let cap = self.cap_next && !self.no_caps;
            self.cap_next = false;
            self.word(word, cap, shout, elongate && i == 0);
        }
    }

    fn word(&mut self, word: &str, cap: bool, shout: bool, elongate: bool) {
        let bytes = word.as_bytes();
        if !word.is_ascii() || bytes.len() > EN_MAX_WORD {
            self.out.push_str(word);
            return;
        }
        // Room for the word plus one doubled letter plus up to four elongation letters.
        let mut buf = [0u8; EN_MAX_WORD + 8];
        let mut len = bytes.len();
        buf[..len].copy_from_slice(bytes);
        let alpha = bytes.iter().all(u8::is_ascii_alphabetic);

        if alpha
            && len >= 4
            && self.typo_permille > 0
            && self.rng.gen_range(0..1000u32) < self.typo_permille
        {
            // Never touch the first letter: real typos rarely do, and it keeps capitals intact.
            let i = self.rng.gen_range(1..len - 1);
            match self.rng.gen_range(0..3u32) {
                0 => buf.swap(i, i + 1),
                1 => {
                    buf.copy_within(i + 1..len, i);
                    len -= 1;
                }
                _ => {
                    buf.copy_within(i..len, i + 1);
                    len += 1;
                }
            }
            self.typos += 1;
        }
        if elongate && alpha {
            // "so" -> "sooo", "really" -> "reallyyy", otherwise stretch the first vowel run:
            // "love" -> "looove", "great" -> "greaaat".
            let last = buf[len - 1];
            let at = if matches!(last, b'o' | b'y') {
                Some(len - 1)
            } else {
                let first = buf[..len].iter().position(|b| b"aeiou".contains(b));
                first.map(|f| {
                    let mut j = f;
                    while j + 1 < len && b"aeiou".contains(&buf[j + 1]) {
                        j += 1;
                    }
                    j
                })
            };
            if let Some(at) = at {
                let extra = self.rng.gen_range(2..=4usize);
                let stretched = buf[at];
                buf.copy_within(at..len, at + extra);
                buf[at..at + extra].fill(stretched);
                len += extra;
            }
        }
        for (k, &b) in buf[..len].iter().enumerate() {
            let c = if shout || (cap && k == 0) {
                b.to_ascii_uppercase()
            } else {
                b
            };
            self.out.push(char::from(c));
        }
    }

    fn punct(&mut self, p: &str) {
        self.out.push_str(p);
        if p.ends_with(['.', '!', '?', ':']) {
            self.cap_next = true;
        }
    }

    /// Emoji and emoticons bypass the word path so they are never capitalised or typo'd.
    fn raw(&mut self, s: &str) {
        if !self.at_start {
            self.out.push(' ');
        }
        self.at_start = false;
        self.out.push_str(s);
    }

    fn end(&mut self, tone: Pol) {
        let options: &[&str] = match tone {
            Pol::Pos => &[".", ".", "!", "!", "!!", "!!!", ""],
            Pol::Neu => &[".", ".", ".", "...", "", "!"],
            Pol::Neg => &[".", ".", "!", "!!!", "...", "", "!!"],
        };
        let p = pick(self.rng, options);
        // An empty terminator still needs to start the next sentence with a capital.
        self.punct(if p.is_empty() { "." } else { p });
    }
}

fn en_subject<R: Rng + ?Sized>(w: &mut EnWriter<'_, R>, a: &EnAspect) -> bool {
    let (subj, plural) = if a.subj.is_empty() {
        ("it", false)
    } else {
        a.subj[w.rng.gen_range(0..a.subj.len())]
    };
    w.words(subj);
    plural
}

fn en_adj<R: Rng + ?Sized>(
    rng: &mut R,
    specific: &'static [&'static str],
    generic: &'static [&'static str],
) -> &'static str {
    if specific.is_empty() || chance(rng, 30) {
        pick(rng, generic)
    } else {
        pick(rng, specific)
    }
}

/// `mild` marks a remark against the rating's tone (a minor complaint in a 4-star review), which
/// real reviewers soften.
fn en_clause<R: Rng + ?Sized>(
    w: &mut EnWriter<'_, R>,
    a: &EnAspect,
    pol: Pol,
    rating: u8,
    mild: bool,
) {
    if w.cap_next && chance(w.rng, 10) {
        let t = by_tone(pol, EN_DISCOURSE_POS, EN_DISCOURSE_NEU, EN_DISCOURSE_NEG);
        let t = pick(w.rng, t);
        w.words(t);
        if chance(w.rng, 50) {
            w.punct(",");
        }
    }
    let strong = rating == 5 || rating == 1;
    let shout = chance(w.rng, if strong { 6 } else { 2 });
    let roll = w.rng.gen_range(0..100u32);
    match pol {
        Pol::Pos => {
            if roll < 20 && !a.pos_cl.is_empty() {
                let t = pick(w.rng, a.pos_cl);
                en_full_clause(w, t);
            } else if roll < 32 {
                // Litotes: "the screen isn't dim at all".
                let plural = en_subject(w, a);
                let cop = pick(w.rng, if plural { EN_NEGCOP_PL } else { EN_NEGCOP_SG });
                w.words(cop);
                let adj = en_adj(w.rng, a.neg, EN_ADJ_NEG);
                w.words(adj);
                if chance(w.rng, 50) {
                    w.words("at all");
                }
            } else {
                let plural = en_subject(w, a);
                let cop = pick(w.rng, if plural { EN_COP_PL } else { EN_COP_SG });
                w.words(cop);
                let p = if mild {
                    20
                } else if strong {
                    60
                } else {
                    40
                };
                let adj = en_adj(w.rng, a.pos, EN_ADJ_POS);
                if chance(w.rng, p) {
                    en_graded(w, EN_INTENS, adj, shout);
                } else {
                    w.words_styled(adj, shout, false);
                }
            }
        }
        Pol::Neg => {
            // Complete negative clauses are mostly serious failures, too harsh for a 4-star aside.
            let (full, negated) = if mild { (8, 55) } else { (22, 40) };
            if roll < full && !a.neg_cl.is_empty() {
                let t = pick(w.rng, a.neg_cl);
                en_full_clause(w, t);
            } else if roll < negated {
                // "the fabric isn't very soft", "the price was not fair".
                let plural = en_subject(w, a);
                let cop = pick(w.rng, if plural { EN_NEGCOP_PL } else { EN_NEGCOP_SG });
                w.words_styled(cop, shout, false);
                if chance(w.rng, if mild { 70 } else { 35 }) {
                    let v = pick(w.rng, EN_NOT_VERY);
                    w.words(v);
                }
                let adj = en_adj(w.rng, a.pos, EN_ADJ_POS);
                w.words(adj);
            } else {
                let plural = en_subject(w, a);
                let cop = pick(w.rng, if plural { EN_COP_PL } else { EN_COP_SG });
                w.words(cop);
                if mild {
                    let adj = en_adj(w.rng, a.neg, EN_ADJ_NEG_SOFT);
                    en_graded(w, EN_DAMP, adj, false);
                } else {
                    let adj = en_adj(w.rng, a.neg, EN_ADJ_NEG);
                    if chance(w.rng, if strong { 55 } else { 35 }) {
                        en_graded(w, EN_INTENS, adj, shout);
                    } else {
                        w.words_styled(adj, shout, false);
                    }
                }
            }
        }
        Pol::Neu => {
            let plural = en_subject(w, a);
            let cop = pick(w.rng, if plural { EN_COP_PL } else { EN_COP_SG });
            w.words(cop);
            if roll < 45 {
                let t = pick(w.rng, EN_ADJ_NEU);
                w.words(t);
            } else if roll < 75 {
                let adj = en_adj(w.rng, a.pos, EN_ADJ_POS_SOFT);
                en_graded(w, EN_DAMP_POS, adj, false);
            } else {
                let adj = en_adj(w.rng, a.neg, EN_ADJ_NEG_SOFT);
                en_graded(w, EN_DAMP, adj, false);
            }
        }
    }
}

/// Pushes "degree adjective" ("extremely flimsy", "a bit slow"). Noun-like predicates ("a steal",
/// "junk", "worth it", "nothing like the picture") do not take degree words, so those are
/// pushed bare; the degree word is drawn anyway to keep the RNG stream shape stable.
fn en_graded<R: Rng + ?Sized>(
    w: &mut EnWriter<'_, R>,
    degrees: &'static [&'static str],
    adj: &str,
    shout: bool,
) {
    let degree = pick(w.rng, degrees);
    let stretch = chance(w.rng, 8);
    if en_gradable(adj) {
        w.words_styled(degree, shout, stretch);
        w.words(adj);
    } else {
        w.words_styled(adj, shout, false);
    }
}

fn en_gradable(adj: &str) -> bool {
    const FIXED: &[&str] = &[
        "a ",
        "an ",
        "exactly",
        "nothing",
        "worth",
        "junk",
        "garbage",
        "on time",
        "true to",
        "spot on",
        "too ",
        "way ",
        "off",
        "half",
        "crystal",
        "better than",
        "worse than",
        "faster than",
        "plenty",
        "dishwasher",
        "not ",
        "just ",
        "about ",
        "fine I",
    ];
    !FIXED.iter().any(|p| adj.starts_with(p))
}

fn en_full_clause<R: Rng + ?Sized>(w: &mut EnWriter<'_, R>, clause: &str) {
    // Reviewers often drop the subject at the start of a sentence: "Arrived broken."
    let text = match clause.strip_prefix("it ") {
        Some(rest) if w.cap_next && chance(w.rng, 40) => rest,
        _ => clause,
    };
    w.words(text);
}

fn en_write<R: Rng + ?Sized>(rng: &mut R, rating: u8, category: &str, out: &mut String) -> u32 {
    let start = out.len();
    let tone = tone_of(rating);
    let lower_all = chance(rng, 7);
    let typo_permille = if chance(rng, 35) {
        rng.gen_range(15..60u32)
    } else {
        0
    };
    let no_caps = chance(rng, 5);
    let at_start = start == 0 || out_ends_with_space(out);
    let mut w = EnWriter {
        rng,
        out,
        at_start,
        cap_next: true,
        no_caps,
        typo_permille,
        typos: 0,
    };
    // A 3-star verdict can lean either way; pick the tone used for stand-alone phrases here.
    let phrase_tone = if tone == Pol::Neu {
        match w.rng.gen_range(0..10u32) {
            0..6 => Pol::Neu,
            6..8 => Pol::Pos,
            _ => Pol::Neg,
        }
    } else {
        tone
    };

    if chance(w.rng, 9) {
        let s = pick(
            w.rng,
            by_tone(phrase_tone, EN_SHORT_POS, EN_SHORT_NEU, EN_SHORT_NEG),
        );
        w.words(s);
        if chance(w.rng, 25) {
            let e = pick(w.rng, by_tone(phrase_tone, EMOJI_POS, EMOJI_NEU, EMOJI_NEG));
            w.raw(e);
        }
    } else {
        if chance(w.rng, 22) {
            en_opener(&mut w);
        }
        en_body(&mut w, rating, category);
        w.end(tone);
        if chance(w.rng, 40) {
            let f = pick(
                w.rng,
                by_tone(phrase_tone, EN_FINALE_POS, EN_FINALE_NEU, EN_FINALE_NEG),
            );
            let shout = chance(w.rng, 4);
            w.words_styled(f, shout, false);
            w.end(phrase_tone);
        }
        if chance(w.rng, 14) {
            let e = pick(w.rng, by_tone(phrase_tone, EMOJI_POS, EMOJI_NEU, EMOJI_NEG));
            w.raw(e);
            if chance(w.rng, 25) {
                // Repeated emoji ("😡😡") are common in angry and very happy reviews.
                w.out.push_str(e);
            }
        }
    }
    let typos = w.typos;
    if lower_all && let Some(s) = out.get_mut(start..) {
        s.make_ascii_lowercase();
    }
    typos
}

fn out_ends_with_space(out: &str) -> bool {
    out.ends_with(char::is_whitespace)
}

fn en_opener<R: Rng + ?Sized>(w: &mut EnWriter<'_, R>) {
    match w.rng.gen_range(0..5u32) {
        0 => {
            w.words("bought this for my");
            let t = pick(w.rng, EN_REL);
            w.words(t);
            w.punct(".");
        }
        1 => {
            w.words("got this as a gift for my");
            let t = pick(w.rng, EN_REL);
            w.words(t);
            w.punct(".");
        }
        2 => {
            w.words("I've been using it for");
            let t = pick(w.rng, EN_DURATION);
            w.words(t);
            let t = if chance(w.rng, 50) { "." } else { " now." };
            w.punct(t);
        }
        3 => {
            w.words("update after");
            let t = pick(w.rng, EN_DURATION);
            w.words(t);
            w.punct(":");
        }
        _ => {
            let t = pick(w.rng, EN_OPENER_FIXED);
            w.words(t);
        }
    }
    w.cap_next = true;
}

fn en_body<R: Rng + ?Sized>(w: &mut EnWriter<'_, R>, rating: u8, category: &str) {
    let tone = tone_of(rating);
    let mut plan = [(&EN_GENERIC[0], Pol::Pos); 4];
    let n = plan_clauses(w.rng, rating, EN_GENERIC, en_category(category), &mut plan);
    let mild = |p: Pol| tone != Pol::Neu && p != Pol::Neu && off_tone(tone, p);
    let mut i = 0;
    if n >= 2 && plan[0].1 != plan[1].1 && chance(w.rng, 22) {
        // "Although the box was crushed, the lamp itself is gorgeous."
        let t = pick(w.rng, EN_ALTHOUGH);
        w.words(t);
        en_clause(w, plan[0].0, plan[0].1, rating, mild(plan[0].1));
        w.punct(",");
        en_clause(w, plan[1].0, plan[1].1, rating, mild(plan[1].1));
        i = 2;
    }
    while i < n {
        if i > 0 {
            let table = if contrasting(w.rng, plan[i - 1].1, plan[i].1) {
                EN_CONN_CONTRAST
            } else {
                EN_CONN_SAME
            };
            let (pre, words, post) = table[w.rng.gen_range(0..table.len())];
            if !pre.is_empty() {
                w.punct(pre);
            }
            if !words.is_empty() {
                w.words(words);
            }
            if !post.is_empty() {
                w.punct(post);
            }
        }
        en_clause(w, plan[i].0, plan[i].1, rating, mild(plan[i].1));
        i += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Chinese
// ---------------------------------------------------------------------------------------------

/// Chinese aspect. Adjectives must accept a degree adverb (很X) and a negator (不X).
struct ZhAspect {
    subj: &'static [&'static str],
    pos: &'static [&'static str],
    neg: &'static [&'static str],
    pos_cl: &'static [&'static str],
    neg_cl: &'static [&'static str],
}

const ZH_GENERIC: &[ZhAspect] = &[
    ZhAspect {
        subj: &["质量", "做工", "品质", "材质", "东西", "用料"],
        pos: &["好", "扎实", "精致", "结实", "过硬", "牢固", "精细"],
        neg: &["差", "粗糙", "劣质", "廉价", "糟糕", "烂"],
        pos_cl: &[
            "与描述相符",
            "和描述的一模一样",
            "用了一段时间没出过问题",
            "无任何质量问题",
            "做工精细没有线头",
            "拿在手里很有分量",
            "比实体店买的还好",
        ],
        neg_cl: &[
            "做工粗糙",
            "用了两天就坏了",
            "收到就是坏的",
            "开机就没反应",
            "一看就是假货",
            "质量差到离谱",
            "到处都是毛刺",
        ],
    },
    ZhAspect {
        subj: &["物流", "快递", "发货", "配送", "发货速度"],
        pos: &["快", "给力", "迅速", "及时", "神速"],
        neg: &["慢", "拖拉", "磨蹭", "糟糕"],
        pos_cl: &[
            "第二天就到了",
            "快递很给力",
            "隔天就收到了",
            "快递小哥态度很好",
            "下单当天就发货了",
            "物流很快",
        ],
        neg_cl: &[
            "等了半个月才到",
            "物流信息一直不更新",
            "快递员直接扔在门口",
            "催了好几次才发货",
            "快递送错地址了",
            "赠品未收到",
        ],
    },
    ZhAspect {
        subj: &["价格", "价钱", "活动价"],
        pos: &["实惠", "划算", "便宜", "合理", "亲民"],
        neg: &["贵", "坑", "离谱", "虚高"],
        pos_cl: &[
            "性价比高",
            "性价比超高",
            "这个价格买到很值",
            "比超市便宜多了",
            "物美价廉",
        ],
        neg_cl: &["性价比太低", "不值这个价", "比实体店还贵", "刚买就降价了"],
    },
    ZhAspect {
        subj: &["客服", "客服态度", "卖家", "商家服务", "售后"],
        pos: &["好", "耐心", "热情", "专业", "贴心", "周到"],
        neg: &["差", "敷衍", "冷淡", "恶劣", "傲慢"],
        pos_cl: &[
            "客服态度很好",
            "客服回复很及时",
            "有问题商家马上就处理了",
            "售后很负责",
            "商家还送了小礼物",
        ],
        neg_cl: &[
            "客服态度很差",
            "客服一直不回消息",
            "找客服也没用",
            "售后推来推去",
            "退款申请被拒了",
            "问题至今未解决",
        ],
    },
    ZhAspect {
        subj: &["包装", "外包装", "盒子"],
        pos: &["严实", "精美", "仔细", "用心", "结实", "高级"],
        neg: &["简陋", "破烂", "敷衍", "随便"],
        pos_cl: &["包得严严实实", "包装完好无损", "包装很用心"],
        neg_cl: &["包装破损", "盒子都压扁了", "外包装破了个大洞", "拆开就漏了"],
    },
    ZhAspect {
        subj: &["实物", "颜色", "细节"],
        pos: &["漂亮", "好看", "精致", "正"],
        neg: &["难看", "廉价", "粗糙"],
        pos_cl: &["与描述相符", "和图片一样", "实物跟图片一模一样", "没有色差"],
        neg_cl: &[
            "和图片差太多了",
            "有色差",
            "发错货了",
            "货不对板",
            "跟描述完全不符",
        ],
    },
    ZhAspect {
        subj: &["整体", "总体来说", "总的来说", "这次购物"],
        pos: &["满意", "好", "棒", "舒心", "愉快"],
        neg: &["失望", "糟心", "差劲"],
        pos_cl: &["很满意", "非常喜欢", "超出预期", "物超所值", "买得很值"],
        neg_cl: &["很失望", "后悔买了", "非常不满意", "完全是浪费钱"],
    },
];

const ZH_ELECTRONICS: &[ZhAspect] = &[
    ZhAspect {
        subj: &["电池", "续航", "电池续航"],
        pos: &["耐用", "给力", "持久", "强"],
        neg: &["差", "拉胯", "短", "弱"],
        pos_cl: &["充满电能用好几天", "充电速度很快"],
        neg_cl: &["半天就没电了", "充不进电", "充电的时候发烫", "电池鼓包了"],
    },
    ZhAspect {
        subj: &["屏幕", "显示效果", "画质"],
        pos: &["清晰", "细腻", "亮", "鲜艳"],
        neg: &["模糊", "暗", "发黄", "粗糙"],
        pos_cl: &["看视频特别爽", "太阳底下也看得清"],
        neg_cl: &["屏幕有坏点", "屏幕有划痕", "触屏经常失灵"],
    },
    ZhAspect {
        subj: &["音质", "声音", "低音", "降噪"],
        pos: &["清晰", "震撼", "饱满", "好"],
        neg: &["差", "小", "闷", "刺耳"],
        pos_cl: &["戴着听歌很享受"],
        neg_cl: &["有杂音", "左耳没声音", "通话对方听不清"],
    },
    ZhAspect {
        subj: &["连接", "系统", "蓝牙", "运行速度"],
        pos: &["稳定", "流畅", "快", "顺畅"],
        neg: &["卡", "慢", "卡顿"],
        pos_cl: &["一下就连上了", "操作很简单", "开箱即用"],
        neg_cl: &["经常断连", "动不动就死机", "连不上手机", "发热严重"],
    },
];

const ZH_FASHION: &[ZhAspect] = &[
    ZhAspect {
        subj: &["尺码", "大小", "版型"],
        pos: &["合适", "标准", "合身", "正"],
        neg: &["小", "大", "紧", "奇怪"],
        pos_cl: &["按平时尺码买的刚刚好", "穿着很合身"],
        neg_cl: &["尺码偏小", "码数严重偏大", "根本穿不上", "肩膀太窄了"],
    },
    ZhAspect {
        subj: &["面料", "料子", "布料", "手感"],
        pos: &["舒服", "柔软", "透气", "厚实", "亲肤"],
        neg: &["薄", "硬", "扎人", "粗糙", "差"],
        pos_cl: &["洗了好几次都没变形", "穿着很舒服"],
        neg_cl: &["洗一次就缩水了", "起球严重", "线头很多", "掉色严重"],
    },
    ZhAspect {
        subj: &["款式", "颜色", "上身效果"],
        pos: &["好看", "洋气", "显瘦", "时尚", "漂亮", "百搭"],
        neg: &["土", "难看", "显胖", "老气"],
        pos_cl: &["穿出去好多人问链接", "颜色很正"],
        neg_cl: &["实物跟图片差别很大", "穿上像睡衣"],
    },
];

const ZH_HOME: &[ZhAspect] = &[
    ZhAspect {
        subj: &["安装", "组装", "说明书"],
        pos: &["简单", "方便", "容易", "清楚"],
        neg: &["麻烦", "复杂", "费劲", "难"],
        pos_cl: &["十分钟就装好了", "配件很齐全"],
        neg_cl: &["少了几颗螺丝", "孔位对不上", "装了一下午"],
    },
    ZhAspect {
        subj: &["外观", "设计", "颜值"],
        pos: &["漂亮", "高级", "简约", "大气", "好看"],
        neg: &["丑", "廉价", "笨重"],
        pos_cl: &["放在家里刚刚好", "家里人都说好看"],
        neg_cl: &["放在家里很违和"],
    },
    ZhAspect {
        subj: &["用起来", "使用感", "实用性"],
        pos: &["方便", "顺手", "实用", "好用"],
        neg: &["麻烦", "别扭", "费劲"],
        pos_cl: &["清洗很方便", "保温效果很好"],
        neg_cl: &["用了一周就生锈了", "有一股很大的异味", "漏水", "晃得厉害"],
    },
];

const ZH_BEAUTY: &[ZhAspect] = &[
    ZhAspect {
        subj: &["味道", "香味", "气味"],
        pos: &["好闻", "清新", "淡雅", "香"],
        neg: &["刺鼻", "难闻", "冲", "怪"],
        pos_cl: &["留香很久"],
        neg_cl: &["有一股酒精味", "闻着头晕"],
    },
    ZhAspect {
        subj: &["质地", "肤感", "用感"],
        pos: &["清爽", "水润", "细腻", "轻薄"],
        neg: &["油腻", "黏", "厚重", "干"],
        pos_cl: &["吸收很快", "上脸很舒服"],
        neg_cl: &["搓泥严重", "上脸有刺痛感"],
    },
    ZhAspect {
        subj: &["效果", "保湿效果", "持妆"],
        pos: &["好", "明显", "持久", "惊艳"],
        neg: &["差", "弱"],
        pos_cl: &["用完皮肤滑滑的", "痘痘消了好多", "持妆一整天"],
        neg_cl: &[
            "用了就过敏了",
            "脸上起了好多痘",
            "用了一个月没什么效果",
            "怀疑是假货",
        ],
    },
];

const ZH_SPORTS: &[ZhAspect] = &[
    ZhAspect {
        subj: &["做工", "材质", "耐用性"],
        pos: &["结实", "耐磨", "扎实"],
        neg: &["差", "松垮", "脆"],
        pos_cl: &["用了三个月还跟新的一样"],
        neg_cl: &["用了几次就断了", "跑了两次就开胶了"],
    },
    ZhAspect {
        subj: &["穿着", "脚感", "手感", "舒适度"],
        pos: &["舒服", "轻便", "软", "好"],
        neg: &["硬", "累", "闷", "重"],
        pos_cl: &["跑步一点都不累", "穿一天也不磨脚"],
        neg_cl: &["磨脚", "穿久了脚疼"],
    },
    ZhAspect {
        subj: &["防滑效果", "弹力", "支撑性"],
        pos: &["好", "强", "给力"],
        neg: &["差", "弱"],
        pos_cl: &["健身效果很明显"],
        neg_cl: &["用的时候一直打滑"],
    },
];

const ZH_BOOKS: &[ZhAspect] = &[
    ZhAspect {
        subj: &["内容", "故事", "情节", "剧情"],
        pos: &["精彩", "好看", "感人", "吸引人", "有意思"],
        neg: &["无聊", "平淡", "拖沓", "空洞"],
        pos_cl: &["一口气就看完了", "看得停不下来", "孩子很喜欢看"],
        neg_cl: &["看了一半就看不下去了", "内容很空洞"],
    },
    ZhAspect {
        subj: &["印刷", "纸张", "纸质", "排版"],
        pos: &["清晰", "精美", "好", "厚实", "舒服"],
        neg: &["模糊", "差", "薄", "粗糙"],
        pos_cl: &["正版书，印刷很清晰"],
        neg_cl: &["有错别字", "有几页印歪了", "缺页了", "疑似盗版"],
    },
    ZhAspect {
        subj: &["装帧", "封面", "书皮"],
        pos: &["精美", "漂亮", "高级"],
        neg: &["皱", "脏", "旧"],
        pos_cl: &["送人很有面子"],
        neg_cl: &["书角都压坏了", "封面有折痕"],
    },
];

const ZH_TOYS: &[ZhAspect] = &[
    ZhAspect {
        subj: &["孩子", "宝宝", "小朋友", "儿子", "女儿"],
        pos: &["喜欢", "开心", "爱玩"],
        neg: &["失望", "嫌弃"],
        pos_cl: &["孩子玩得可开心了", "每天都抱着玩", "宝宝爱不释手"],
        neg_cl: &["孩子玩了两分钟就不玩了", "孩子看都不看一眼"],
    },
    ZhAspect {
        subj: &["边角", "做工细节"],
        pos: &["光滑", "圆润", "安全"],
        neg: &["锋利", "粗糙", "扎手"],
        pos_cl: &["没有异味", "材质很安全"],
        neg_cl: &["有很重的塑料味", "小零件容易掉，不安全"],
    },
    ZhAspect {
        subj: &["玩具", "零件", "塑料"],
        pos: &["结实", "耐摔", "精致"],
        neg: &["脆", "薄", "劣质", "廉价"],
        pos_cl: &["摔了好几次都没坏"],
        neg_cl: &["玩了一天就坏了", "轮子掉了", "电池没电了也没送新的"],
    },
];

const ZH_GROCERY: &[ZhAspect] = &[
    ZhAspect {
        subj: &["味道", "口感", "口味"],
        pos: &["好", "香", "正宗", "鲜", "好吃"],
        neg: &["差", "怪", "咸", "甜", "腻", "苦"],
        pos_cl: &["全家都爱吃", "吃着很放心", "和小时候的味道一样"],
        neg_cl: &["吃起来像过期的", "有股怪味", "吃了拉肚子"],
    },
    ZhAspect {
        subj: &["新鲜度", "水果", "东西"],
        pos: &["新鲜", "饱满", "脆甜"],
        neg: &["蔫", "烂", "软"],
        pos_cl: &["日期很新鲜", "生产日期是上周的"],
        neg_cl: &["快过期了", "坏了好几个", "有几个已经发霉了", "包装漏气了"],
    },
    ZhAspect {
        subj: &["分量", "份量", "数量"],
        pos: &["足", "实在", "多"],
        neg: &["少", "小"],
        pos_cl: &["分量很足"],
        neg_cl: &["一半都是空气", "分量少得可怜"],
    },
];

fn zh_category(category: &str) -> &'static [ZhAspect] {
    match category {
        "electronics" => ZH_ELECTRONICS,
        "fashion" => ZH_FASHION,
        "home" => ZH_HOME,
        "beauty" => ZH_BEAUTY,
        "sports" => ZH_SPORTS,
        "books" => ZH_BOOKS,
        "toys" => ZH_TOYS,
        "grocery" => ZH_GROCERY,
        _ => &[],
    }
}

const ZH_ADJ_POS: &[&str] = &["好", "棒", "赞", "给力", "满意"];
const ZH_ADJ_NEG: &[&str] = &["差", "烂", "糟糕", "垃圾", "差劲"];
/// (prefix, suffix) degree frames for strong statements: 很X, 太X了, 挺X的.
const ZH_DEGREE: &[(&str, &str)] = &[
    ("很", ""),
    ("很", ""),
    ("非常", ""),
    ("特别", ""),
    ("超级", ""),
    ("相当", ""),
    ("十分", ""),
    ("真的很", ""),
    ("挺", "的"),
    ("太", "了"),
    ("超", ""),
    ("蛮", "的"),
    ("巨", ""),
    ("", ""),
    ("好", ""),
];
const ZH_MILD: &[&str] = &["有点", "稍微有点", "略", "有些", "略微有点"];
const ZH_NEGATE: &[&str] = &[
    "不",
    "不太",
    "不怎么",
    "没有想象中",
    "没那么",
    "不是很",
    "真的不",
];
const ZH_LITOTES: &[&str] = &["一点都不", "一点也不", "并不", "不", "完全不"];
const ZH_NEU_PRED: &[&str] = &[
    "一般",
    "一般般",
    "还行",
    "还可以",
    "凑合",
    "马马虎虎",
    "中规中矩",
    "也就那样",
    "普普通通",
    "说得过去",
];
const ZH_NEU_DEG: &[&str] = &["还算", "比较", "勉强算", "还算比较"];
const ZH_EN_MIX: &[&str] = &["nice", "OK", "good", "perfect", "ok"];

const ZH_CONN_SAME: &[&str] = &[
    "，",
    "，",
    "，而且",
    "，还有",
    "，并且",
    "，另外",
    "；",
    "。",
    "，再加上",
];
const ZH_CONN_CONTRAST: &[&str] = &["，但是", "，不过", "，可是", "，但", "。但是", "，然而"];
const ZH_CONN_MINOR: &[&str] = &["，就是", "，只是", "，不过", "，唯一不足的是"];

const ZH_REL: &[&str] = &[
    "老公",
    "老婆",
    "孩子",
    "儿子",
    "女儿",
    "老妈",
    "老爸",
    "男朋友",
    "女朋友",
    "闺蜜",
    "爷爷奶奶",
    "同事",
    "室友",
];
const ZH_DURATION: &[&str] = &["一周", "半个月", "一个月", "三个月", "几天", "半年"];
const ZH_OPENER_FIXED: &[&str] = &[
    "第二次购买了，",
    "趁双十一活动买的，",
    "朋友推荐买的，",
    "看了好多家才选的这家，",
    "直播间下单的，",
    "收到货就来评价了，",
    "追加评价：",
    "用了一段时间才来评价，",
    "宝贝收到了，",
    "终于收到了，",
    "老顾客了，",
];
const ZH_SIGH: &[&str] = &["唉，", "无语了，", "气死了，", "真的服了，", "醉了，"];

const ZH_FINALE_POS: &[&str] = &[
    "好评",
    "五星好评",
    "会回购的",
    "下次还来",
    "推荐购买",
    "值得购买",
    "已经推荐给朋友了",
    "还会再来的",
    "给商家点赞",
    "满分",
    "必须好评",
    "买到就是赚到",
    "强烈推荐",
    "已回购",
    "很nice",
];
const ZH_FINALE_NEU: &[&str] = &[
    "给个中评吧",
    "凑合用吧",
    "一般般吧",
    "将就用",
    "再观察看看",
    "中评",
    "还行吧",
    "就这样吧",
    "OK吧",
];
const ZH_FINALE_NEG: &[&str] = &[
    "差评",
    "不会再买了",
    "退货了",
    "大家别买",
    "后悔买了",
    "已申请退款",
    "不推荐",
    "浪费钱",
    "千万别买",
    "垃圾商家",
    "再也不来了",
    "别被图片骗了",
];
const ZH_SHORT_POS: &[&str] = &[
    "好评",
    "很好",
    "不错",
    "满意",
    "非常满意",
    "超赞",
    "很棒",
    "完美",
    "物美价廉",
    "好用",
    "喜欢",
    "五星好评",
    "给力",
    "很nice",
];
const ZH_SHORT_NEU: &[&str] = &[
    "一般般",
    "还行",
    "一般",
    "还可以吧",
    "凑合用",
    "马马虎虎",
    "中规中矩",
];
const ZH_SHORT_NEG: &[&str] = &[
    "差评",
    "垃圾",
    "很差",
    "太差了",
    "失望",
    "别买",
    "后悔",
    "不推荐",
];
const ZH_PARTICLE_POS: &[&str] = &["啊", "呀", "哦", "哈哈", "哈哈哈", "呢", "耶"];
const ZH_PARTICLE_NEU: &[&str] = &["吧", "吧", "啊", "哦"];
const ZH_PARTICLE_NEG: &[&str] = &["啊", "呢", "哎", "吧"];
const ZH_EMOJI_POS: &[&str] = &["👍", "😍", "❤️", "🥰", "💯", "😄", "[赞]", "[爱心]"];
const ZH_EMOJI_NEU: &[&str] = &["🤔", "😐", "[思考]"];
const ZH_EMOJI_NEG: &[&str] = &["😡", "👎", "😤", "🙄", "😞", "[怒]"];

/// `last` allows an unterminated ending; in the middle of a review a terminator is required so
/// the next phrase does not run into this one.
fn zh_end<R: Rng + ?Sized>(rng: &mut R, tone: Pol, last: bool, out: &mut String) {
    // Phrases such as 还行吧 already end in a particle; a second one would read as a stutter.
    let has_particle = out.ends_with(['吧', '啊', '呀', '哦', '呢', '哈', '耶', '哎']);
    if !has_particle && chance(rng, 20) {
        out.push_str(pick(
            rng,
            by_tone(tone, ZH_PARTICLE_POS, ZH_PARTICLE_NEU, ZH_PARTICLE_NEG),
        ));
    }
    let options: &[&str] = match tone {
        Pol::Pos => &["！", "！", "。", "～", "！！", "！！！", "～～", ""],
        Pol::Neu => &["。", "。", "～", "…", "", "。。。"],
        Pol::Neg => &["！", "。", "！！！", "…", "", "！！", "。。。", "？？？"],
    };
    let p = pick(rng, options);
    out.push_str(if p.is_empty() && !last { "。" } else { p });
}

fn zh_adj<R: Rng + ?Sized>(
    rng: &mut R,
    specific: &'static [&'static str],
    generic: &'static [&'static str],
) -> &'static str {
    if specific.is_empty() || chance(rng, 15) {
        pick(rng, generic)
    } else {
        pick(rng, specific)
    }
}

/// `also` inserts 也 after the subject ("物流也很快"), which only reads well in a subject-predicate
/// clause, so complete clauses ignore it.
fn zh_clause<R: Rng + ?Sized>(
    rng: &mut R,
    a: &ZhAspect,
    pol: Pol,
    mild: bool,
    also: bool,
    out: &mut String,
) {
    let roll = rng.gen_range(0..100u32);
    let full = match pol {
        Pol::Pos if roll < 28 => pick(rng, a.pos_cl),
        // A 4-star aside should not be a complete failure story like 用了两天就坏了.
        Pol::Neg if roll < (if mild { 8 } else { 28 }) => pick(rng, a.neg_cl),
        _ => "",
    };
    if !full.is_empty() {
        out.push_str(full);
        return;
    }
    out.push_str(pick(rng, a.subj));
    if also {
        out.push('也');
    }
    match pol {
        Pol::Pos => {
            if roll < 42 {
                out.push_str(pick(rng, ZH_LITOTES));
                out.push_str(zh_adj(rng, a.neg, ZH_ADJ_NEG));
            } else if roll < 50 {
                out.push_str(if chance(rng, 50) {
                    "比想象中"
                } else {
                    "比预期的还"
                });
                out.push_str(zh_adj(rng, a.pos, ZH_ADJ_POS));
            } else if mild {
                out.push_str(pick(rng, ZH_NEU_DEG));
                out.push_str(zh_adj(rng, a.pos, ZH_ADJ_POS));
            } else {
                let (pre, post) = ZH_DEGREE[rng.gen_range(0..ZH_DEGREE.len())];
                out.push_str(pre);
                // Code-mixing such as 质量很nice is common in real Chinese reviews.
                let adj = if chance(rng, 5) {
                    pick(rng, ZH_EN_MIX)
                } else {
                    zh_adj(rng, a.pos, ZH_ADJ_POS)
                };
                out.push_str(adj);
                out.push_str(post);
            }
        }
        Pol::Neg => {
            if roll < (if mild { 60 } else { 45 }) {
                if mild {
                    out.push_str(pick(rng, &["不太", "不是很", "没那么", "没有想象中"]));
                } else {
                    out.push_str(pick(rng, ZH_NEGATE));
                }
                out.push_str(zh_adj(rng, a.pos, ZH_ADJ_POS));
            } else if mild {
                out.push_str(pick(rng, ZH_MILD));
                out.push_str(zh_adj(rng, a.neg, ZH_ADJ_NEG));
            } else {
                let (pre, post) = ZH_DEGREE[rng.gen_range(0..ZH_DEGREE.len())];
                out.push_str(pre);
                out.push_str(zh_adj(rng, a.neg, ZH_ADJ_NEG));
                out.push_str(post);
            }
        }
        Pol::Neu => {
            if roll < 45 {
                out.push_str(pick(rng, ZH_NEU_PRED));
            } else if roll < 75 {
                out.push_str(pick(rng, ZH_NEU_DEG));
                let adj = if chance(rng, 6) {
                    "OK"
                } else {
                    zh_adj(rng, a.pos, ZH_ADJ_POS)
                };
                out.push_str(adj);
            } else {
                out.push_str(pick(rng, ZH_MILD));
                out.push_str(zh_adj(rng, a.neg, ZH_ADJ_NEG));
            }
        }
    }
}

fn zh_write<R: Rng + ?Sized>(rng: &mut R, rating: u8, category: &str, out: &mut String) {
    let tone = tone_of(rating);
    let phrase_tone = if tone == Pol::Neu {
        match rng.gen_range(0..10u32) {
            0..6 => Pol::Neu,
            6..8 => Pol::Pos,
            _ => Pol::Neg,
        }
    } else {
        tone
    };
    if chance(rng, 9) {
        out.push_str(pick(
            rng,
            by_tone(phrase_tone, ZH_SHORT_POS, ZH_SHORT_NEU, ZH_SHORT_NEG),
        ));
        zh_end(rng, phrase_tone, true, out);
        if chance(rng, 25) {
            out.push_str(pick(
                rng,
                by_tone(phrase_tone, ZH_EMOJI_POS, ZH_EMOJI_NEU, ZH_EMOJI_NEG),
            ));
        }
        return;
    }
    if tone == Pol::Neg && chance(rng, 12) {
        out.push_str(pick(rng, ZH_SIGH));
    }
    if chance(rng, 24) {
        match rng.gen_range(0..3u32) {
            0 => {
                out.push_str("买给");
                out.push_str(pick(rng, ZH_REL));
                out.push_str("的，");
            }
            1 => {
                out.push_str("用了");
                out.push_str(pick(rng, ZH_DURATION));
                out.push_str("了，");
            }
            _ => out.push_str(pick(rng, ZH_OPENER_FIXED)),
        }
    }

    let mut plan = [(&ZH_GENERIC[0], Pol::Pos); 4];
    let n = plan_clauses(rng, rating, ZH_GENERIC, zh_category(category), &mut plan);
    let mild = |p: Pol| tone != Pol::Neu && p != Pol::Neu && off_tone(tone, p);
    let mut i = 0;
    if n >= 2 && plan[0].1 != plan[1].1 && chance(rng, 22) {
        // 虽然X，但是Y
        out.push_str(if chance(rng, 70) { "虽然" } else { "尽管" });
        zh_clause(rng, plan[0].0, plan[0].1, mild(plan[0].1), false, out);
        out.push_str(pick(rng, &["，但是", "，但", "，可是", "，不过"]));
        zh_clause(rng, plan[1].0, plan[1].1, mild(plan[1].1), false, out);
        i = 2;
    }
    while i < n {
        let mut also = false;
        if i > 0 {
            if !contrasting(rng, plan[i - 1].1, plan[i].1) {
                let c = pick(rng, ZH_CONN_SAME);
                out.push_str(c);
                also = c == "，" && chance(rng, 30);
            } else if mild(plan[i].1) {
                out.push_str(pick(rng, ZH_CONN_MINOR));
            } else {
                out.push_str(pick(rng, ZH_CONN_CONTRAST));
            }
        }
        zh_clause(rng, plan[i].0, plan[i].1, mild(plan[i].1), also, out);
        i += 1;
    }
    let finale = chance(rng, 45);
    zh_end(rng, tone, !finale, out);
    if finale {
        out.push_str(pick(
            rng,
            by_tone(phrase_tone, ZH_FINALE_POS, ZH_FINALE_NEU, ZH_FINALE_NEG),
        ));
        zh_end(rng, phrase_tone, true, out);
    }
    if chance(rng, 12) {
        let e = pick(
            rng,
            by_tone(phrase_tone, ZH_EMOJI_POS, ZH_EMOJI_NEU, ZH_EMOJI_NEG),
        );
        out.push_str(e);
        if chance(rng, 30) {
            out.push_str(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    const CATEGORIES: &[&str] = &[
        "electronics",
        "fashion",
        "home",
        "beauty",
        "sports",
        "books",
        "toys",
        "grocery",
        "garden",
        "",
    ];

    fn sample(seed: u64, lang: ReviewLanguage, n: usize, rating: Option<u8>) -> Vec<String> {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let r = rating.unwrap_or((i % 5) as u8 + 1);
                let mut s = String::new();
                write_review(&mut rng, r, CATEGORIES[i % CATEGORIES.len()], lang, &mut s);
                s
            })
            .collect()
    }

    fn share(reviews: &[String], pred: impl Fn(&str) -> bool) -> f64 {
        reviews.iter().filter(|r| pred(r)).count() as f64 / reviews.len() as f64
    }

    fn is_han(c: char) -> bool {
        ('\u{4E00}'..='\u{9FFF}').contains(&c)
    }

    #[test]
    fn noun_like_predicates_take_no_degree_word() {
        assert!(en_gradable("flimsy"));
        assert!(!en_gradable("a steal"));
        assert!(!en_gradable("junk"));
        assert!(!en_gradable("worth every penny"));
    }

    #[test]
    fn codes() {
        assert_eq!(ReviewLanguage::En.code(), "en");
        assert_eq!(ReviewLanguage::Zh.code(), "zh");
    }

    #[test]
    fn deterministic_per_seed() {
        for lang in [ReviewLanguage::En, ReviewLanguage::Zh] {
            let a = sample(42, lang, 1000, None);
            let b = sample(42, lang, 1000, None);
            assert_eq!(a, b);
            let c = sample(43, lang, 1000, None);
            assert_ne!(a, c);
        }
    }

    #[test]
    fn appends_without_clearing() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut s = String::from("prefix|");
        write_review(&mut rng, 5, "books", ReviewLanguage::En, &mut s);
        assert!(s.starts_with("prefix|"));
        assert!(s.len() > "prefix|".len());
    }

    #[test]
    fn never_empty_for_any_rating_or_category() {
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        for rating in 0..=255u8 {
            for cat in CATEGORIES
                .iter()
                .chain(["???", "Electronics", "食品"].iter())
            {
                for lang in [ReviewLanguage::En, ReviewLanguage::Zh] {
                    let mut s = String::new();
                    write_review(&mut rng, rating, cat, lang, &mut s);
                    assert!(!s.trim().is_empty(), "empty for {rating} {cat} {lang:?}");
                }
            }
        }
    }

    #[test]
    fn chinese_has_han_and_no_spaces_between_words() {
        let reviews = sample(3, ReviewLanguage::Zh, 5000, None);
        for r in &reviews {
            assert!(r.chars().any(is_han), "no Han characters: {r}");
            let chars: Vec<char> = r.chars().collect();
            for w in chars.windows(3) {
                assert!(
                    !(w[1] == ' ' && (is_han(w[0]) || is_han(w[2]))),
                    "space next to Chinese text: {r}"
                );
            }
            assert!(
                !r.contains(", ") && !r.contains(". "),
                "ASCII punctuation: {r}"
            );
        }
    }

    #[test]
    fn english_is_mostly_ascii_letters() {
        let reviews = sample(4, ReviewLanguage::En, 5000, None);
        let (mut letters, mut visible) = (0usize, 0usize);
        for r in &reviews {
            assert!(!r.chars().any(is_han), "Han in English review: {r}");
            for c in r.chars().filter(|c| !c.is_whitespace()) {
                visible += 1;
                if c.is_ascii_alphabetic() {
                    letters += 1;
                }
            }
        }
        assert!(letters as f64 / visible as f64 > 0.8);
    }

    #[test]
    fn english_phenomena_frequencies() {
        let reviews = sample(5, ReviewLanguage::En, 5000, None);
        let lower: Vec<String> = reviews.iter().map(|r| r.to_lowercase()).collect();
        let negation = share(&lower, |r| {
            r.contains("n't") || r.contains(" not ") || r.contains("never") || r.starts_with("not ")
        });
        let contrast = share(&lower, |r| {
            r.contains(" but ")
                || r.contains("however")
                || r.contains("although")
                || r.contains("though")
        });
        let emoji = share(&reviews, |r| {
            !r.is_ascii() || r.contains(":)") || r.contains(":(")
        });
        let intens = share(&lower, |r| {
            [
                " very ",
                " extremely ",
                " really ",
                " super ",
                " a bit ",
                " kind of ",
                " slightly ",
            ]
            .iter()
            .any(|w| r.contains(w))
        });
        let shouting = share(&reviews, |r| {
            r.split(' ')
                .any(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_uppercase()) && w != "A+++")
        });
        let all_lower = share(&reviews, |r| {
            r.len() > 40 && !r.chars().any(|c| c.is_ascii_uppercase())
        });
        for (name, v, lo, hi) in [
            ("negation", negation, 0.05, 0.6),
            ("contrast", contrast, 0.05, 0.6),
            ("emoji", emoji, 0.05, 0.4),
            ("intensifier", intens, 0.05, 0.6),
            ("shouting", shouting, 0.005, 0.2),
            ("lowercase", all_lower, 0.01, 0.2),
        ] {
            assert!((lo..=hi).contains(&v), "{name} share {v}");
        }
    }

    #[test]
    fn english_typos_happen_at_a_plausible_rate() {
        let mut rng = Pcg64Mcg::seed_from_u64(6);
        let mut with_typo = 0;
        for i in 0..5000 {
            let mut s = String::new();
            if en_write(&mut rng, (i % 5) as u8 + 1, "home", &mut s) > 0 {
                with_typo += 1;
            }
        }
        let rate = with_typo as f64 / 5000.0;
        assert!((0.01..=0.6).contains(&rate), "typo share {rate}");
    }

    #[test]
    fn typo_edits_stay_ascii_and_keep_emoji() {
        let mut rng = Pcg64Mcg::seed_from_u64(8);
        let mut out = String::new();
        let mut w = EnWriter {
            rng: &mut rng,
            out: &mut out,
            at_start: true,
            cap_next: false,
            no_caps: false,
            typo_permille: 1000,
            typos: 0,
        };
        w.words("wonderful 😍 ok");
        w.raw("👍");
        assert_eq!(w.typos, 1);
        assert!(out.contains('😍') && out.ends_with("ok 👍"));
        assert_ne!(out.split(' ').next(), Some("wonderful"));
    }

    #[test]
    fn chinese_phenomena_frequencies() {
        let reviews = sample(9, ReviewLanguage::Zh, 5000, None);
        let negation = share(&reviews, |r| {
            ["不", "没", "别", "未", "无"].iter().any(|w| r.contains(w))
        });
        let contrast = share(&reviews, |r| {
            ["但", "不过", "可是", "就是", "只是", "然而"]
                .iter()
                .any(|w| r.contains(w))
        });
        let degree = share(&reviews, |r| {
            ["很", "非常", "太", "特别", "超级", "有点", "比较"]
                .iter()
                .any(|w| r.contains(w))
        });
        let emoji = share(&reviews, |r| {
            r.chars().any(|c| c as u32 >= 0x1F300) || r.contains('[')
        });
        let english = share(&reviews, |r| r.chars().any(|c| c.is_ascii_alphabetic()));
        for (name, v, lo, hi) in [
            ("negation", negation, 0.05, 0.8),
            ("contrast", contrast, 0.05, 0.6),
            ("degree", degree, 0.1, 0.9),
            ("emoji", emoji, 0.03, 0.4),
            ("english", english, 0.01, 0.3),
        ] {
            assert!((lo..=hi).contains(&v), "{name} share {v}");
        }
    }

    #[test]
    fn positive_markers_follow_rating() {
        let en_markers = [
            "great",
            "love",
            "excellent",
            "perfect",
            "amazing",
            "recommend",
            "happy",
        ];
        let zh_markers = ["好评", "满意", "喜欢", "很好", "棒", "赞", "推荐", "给力"];
        for (lang, markers) in [
            (ReviewLanguage::En, &en_markers[..]),
            (ReviewLanguage::Zh, &zh_markers[..]),
        ] {
            let rate = |rating| {
                let rs = sample(10 + u64::from(rating), lang, 3000, Some(rating));
                share(&rs, |r| {
                    let l = r.to_lowercase();
                    markers.iter().any(|m| l.contains(m))
                })
            };
            let (high, low) = (rate(5), rate(1));
            assert!(
                high > low + 0.15,
                "{lang:?}: rating 5 {high} vs rating 1 {low}"
            );
        }
    }

    #[test]
    fn mixed_reviews_exist_at_every_rating() {
        let pos = ["great", "fast", "love", "perfect", "sturdy", "soft", "easy"];
        let neg = [
            "broke", "slow", "terrible", "flimsy", "waste", "returned", "awful",
        ];
        for rating in 1..=5u8 {
            let rs = sample(
                20 + u64::from(rating),
                ReviewLanguage::En,
                3000,
                Some(rating),
            );
            let mixed = share(&rs, |r| {
                let l = r.to_lowercase();
                pos.iter().any(|m| l.contains(m)) && neg.iter().any(|m| l.contains(m))
            });
            assert!(mixed > 0.005, "rating {rating}: mixed share {mixed}");
        }
    }

    #[test]
    fn mostly_distinct() {
        for lang in [ReviewLanguage::En, ReviewLanguage::Zh] {
            let mut rs = sample(11, lang, 2000, None);
            rs.sort();
            rs.dedup();
            assert!(rs.len() >= 1400, "{lang:?}: only {} distinct", rs.len());
        }
    }

    #[test]
    fn throughput_sanity() {
        // Cheap guard against accidental quadratic behaviour; real speed is measured elsewhere.
        let mut rng = Pcg64Mcg::seed_from_u64(12);
        let mut s = String::with_capacity(1 << 16);
        let start = std::time::Instant::now();
        for i in 0..20_000u32 {
            s.clear();
            let lang = if i % 2 == 0 {
                ReviewLanguage::En
            } else {
                ReviewLanguage::Zh
            };
            write_review(&mut rng, (i % 5) as u8 + 1, "toys", lang, &mut s);
        }
        assert!(start.elapsed().as_secs() < 10);
    }
}
