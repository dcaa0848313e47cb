//! The static world the users live in: the product catalogue (with popularity and hidden
//! quality), countries, channels, search terms, the calendar (weekly cycle, hours of the day,
//! promotion days) and the campaign plan. Everything is derived from the seed.

use rand::Rng;
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64Mcg;

/// Microseconds per second / day.
pub const US_PER_SEC: i64 = 1_000_000;
/// Microseconds per day.
pub const US_PER_DAY: i64 = 86_400 * US_PER_SEC;

/// Product categories; the index is used everywhere else.
pub const CATEGORIES: [&str; 8] = [
    "electronics",
    "fashion",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
];
/// Median price per category.
const CATEGORY_MEDIAN_PRICE: [f64; 8] = [120.0, 45.0, 60.0, 25.0, 55.0, 18.0, 30.0, 12.0];
/// Share of catalogue per category.
const CATEGORY_SHARE: [f64; 8] = [0.16, 0.20, 0.14, 0.12, 0.10, 0.10, 0.08, 0.10];

const SEARCH_TERMS: [&[&str]; 8] = [
    &[
        "wireless earbuds",
        "phone case",
        "usb c cable",
        "bluetooth speaker",
        "laptop stand",
        "smart watch",
        "power bank",
        "gaming mouse",
        "4k monitor",
        "noise cancelling headphones",
    ],
    &[
        "running shoes",
        "summer dress",
        "denim jacket",
        "wool sweater",
        "sneakers",
        "leather belt",
        "rain coat",
        "yoga pants",
        "silk scarf",
    ],
    &[
        "air fryer",
        "bed sheets",
        "desk lamp",
        "storage boxes",
        "coffee maker",
        "throw pillow",
        "kitchen knife set",
        "shower curtain",
    ],
    &[
        "face serum",
        "sunscreen spf 50",
        "lipstick",
        "hair dryer",
        "moisturizer",
        "perfume",
        "nail polish",
        "shampoo",
    ],
    &[
        "yoga mat",
        "dumbbells",
        "cycling helmet",
        "tennis racket",
        "hiking backpack",
        "water bottle",
        "resistance bands",
    ],
    &[
        "mystery novel",
        "cookbook",
        "sci fi bestseller",
        "children's book",
        "biography",
        "notebook planner",
        "manga",
    ],
    &[
        "lego set",
        "puzzle 1000 pieces",
        "rc car",
        "plush toy",
        "board game",
        "building blocks",
        "doll house",
    ],
    &[
        "green tea",
        "coffee beans",
        "olive oil",
        "protein bars",
        "dark chocolate",
        "instant noodles",
        "honey",
    ],
];
const SEARCH_MODIFIERS: [&str; 10] = [
    "cheap",
    "best",
    "sale",
    "2026",
    "for kids",
    "waterproof",
    "black",
    "gift",
    "discount",
    "premium",
];

const BRAND_HEADS: [&str; 12] = [
    "Nova", "Luma", "Zen", "Kora", "Vexa", "Orion", "Talo", "Brio", "Miko", "Arden", "Solis", "Pax",
];
const BRAND_TAILS: [&str; 8] = [
    "tech", "wear", "home", "glow", "fit", "press", "play", "farm",
];

/// (country, share, share of Chinese-language users)
pub const COUNTRIES: [(&str, f64, f64); 10] = [
    ("US", 0.28, 0.03),
    ("CN", 0.22, 0.97),
    ("IN", 0.09, 0.0),
    ("GB", 0.08, 0.02),
    ("DE", 0.07, 0.0),
    ("FR", 0.05, 0.0),
    ("JP", 0.05, 0.02),
    ("CA", 0.06, 0.05),
    ("AU", 0.05, 0.04),
    ("SG", 0.05, 0.45),
];

/// Acquisition channels.
pub const CHANNELS: [&str; 6] = [
    "organic",
    "paid_search",
    "social",
    "email",
    "referral",
    "affiliate",
];

/// Coupon codes with their discount share.
pub const COUPONS: [(&str, f64); 5] = [
    ("SAVE10", 0.10),
    ("WELCOME15", 0.15),
    ("FLASH20", 0.20),
    ("VIP5", 0.05),
    ("FREESHIP", 0.04),
];

/// Relative activity by weekday, Monday first.
pub const WEEKDAY_FACTOR: [f64; 7] = [0.95, 0.92, 0.95, 1.0, 1.06, 1.16, 1.12];

/// Relative activity by hour of day (lunch and evening peaks).
const HOUR_WEIGHTS: [f64; 24] = [
    0.9, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 1.8, 2.2, 2.5, 2.8, 3.4, 3.3, 2.8, 2.6, 2.6, 2.8, 3.2,
    3.8, 4.4, 4.6, 3.8, 2.0,
];

/// The product catalogue.
pub struct Products {
    /// Category index per product (product_id = index + 1).
    pub category: Vec<u8>,
    /// List price.
    pub price: Vec<f64>,
    /// Hidden quality in [0, 1]: drives ratings and returns.
    pub quality: Vec<f32>,
    /// Brand name.
    pub brand: Vec<String>,
    /// Product indexes per category, most popular first.
    pub by_category: Vec<Vec<u32>>,
    /// Cumulative popularity weights per category, aligned with `by_category`.
    pub cdf: Vec<Vec<f64>>,
}

impl Products {
    /// Generates `n` products.
    pub fn generate(rng: &mut Pcg64Mcg, n: usize) -> Products {
        let mut category = Vec::with_capacity(n);
        let mut price = Vec::with_capacity(n);
        let mut quality = Vec::with_capacity(n);
        let mut brand = Vec::with_capacity(n);
        let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); CATEGORIES.len()];
        for i in 0..n {
            let c = pick_weighted(rng, &CATEGORY_SHARE);
            let median = CATEGORY_MEDIAN_PRICE[c];
            let p = LogNormal::new(median.ln(), 0.6)
                .map(|d| d.sample(rng))
                .unwrap_or(median);
            // Shop prices end in .99 or .49.
            let p = (p.floor().max(1.0)) + if rng.gen_bool(0.7) { 0.99 } else { 0.49 };
            category.push(c as u8);
            price.push(p);
            quality.push(rng.r#gen::<f32>().powf(0.7));
            let b = rng.gen_range(0..BRAND_HEADS.len());
            brand.push(format!(
                "{}{}",
                BRAND_HEADS[b],
                BRAND_TAILS[(b + c) % BRAND_TAILS.len()]
            ));
            by_category[c].push(i as u32);
        }
        // Zipf-like popularity within each category (rank r has weight 1 / (r + 3)).
        let cdf = by_category
            .iter()
            .map(|ids| {
                let mut acc = 0.0;
                ids.iter()
                    .enumerate()
                    .map(|(r, _)| {
                        acc += 1.0 / (r as f64 + 3.0);
                        acc
                    })
                    .collect()
            })
            .collect();
        Products {
            category,
            price,
            quality,
            brand,
            by_category,
            cdf,
        }
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.price.len()
    }

    /// True if there are no products.
    pub fn is_empty(&self) -> bool {
        self.price.is_empty()
    }

    /// Draws a product of category `c` by popularity; `None` if the category is empty.
    #[inline]
    pub fn draw_in<R: Rng + ?Sized>(&self, rng: &mut R, c: usize) -> Option<u32> {
        let cdf = &self.cdf[c];
        let total = *cdf.last()?;
        let u = rng.r#gen::<f64>() * total;
        let i = cdf.partition_point(|&w| w < u).min(cdf.len() - 1);
        Some(self.by_category[c][i])
    }

    /// Median list price of a category.
    pub fn median_price(c: usize) -> f64 {
        CATEGORY_MEDIAN_PRICE[c]
    }
}

/// Picks an index with probability proportional to `weights`.
pub fn pick_weighted<R: Rng + ?Sized>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// Calendar and plan of the simulated period.
pub struct World {
    /// Midnight (UTC) of the first logged day, in microseconds since the epoch.
    pub start_us: i64,
    /// Logged days.
    pub days: u32,
    /// Days simulated past the logs for `_truth` (never written to the logs).
    pub horizon: u32,
    /// Weekday (0 = Monday) of the first day.
    pub start_weekday: u32,
    /// Promotion days (relative to the start), logged and future.
    pub promo: Vec<bool>,
    /// The campaign: day it is sent and the conversion window in days.
    pub campaign_day: Option<u32>,
    /// Conversion window of the campaign in days.
    pub campaign_window_days: u32,
    /// The product catalogue.
    pub products: Products,
    hour_cdf: [f64; 24],
}

impl World {
    /// Builds the world.
    pub fn new(
        start_us: i64,
        start_weekday: u32,
        days: u32,
        horizon: u32,
        products: Products,
    ) -> World {
        let total = days + horizon;
        // A three-day sale every four weeks, plus a big mid-period event.
        let promo = (0..total)
            .map(|d| d % 28 >= 24 || (d >= total / 2 && d < total / 2 + 2))
            .collect();
        let window = 14;
        let campaign_day = (days > window + 2).then(|| days.saturating_sub(window + 7).max(1));
        let mut hour_cdf = [0.0; 24];
        let mut acc = 0.0;
        let sum: f64 = HOUR_WEIGHTS.iter().sum();
        for (i, w) in HOUR_WEIGHTS.iter().enumerate() {
            acc += w / sum;
            hour_cdf[i] = acc;
        }
        World {
            start_us,
            days,
            horizon,
            start_weekday,
            promo,
            campaign_day,
            campaign_window_days: window,
            products,
            hour_cdf,
        }
    }

    /// Draws a time of day in microseconds, following the hourly activity curve.
    #[inline]
    pub fn draw_time_of_day<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let u: f64 = rng.r#gen();
        let h = self.hour_cdf.partition_point(|&c| c < u).min(23) as i64;
        h * 3600 * US_PER_SEC + rng.gen_range(0..3600 * US_PER_SEC)
    }

    /// Activity factor of a day: weekly cycle and a gentle growth trend.
    #[inline]
    pub fn day_factor(&self, day: u32) -> f64 {
        let wd = ((self.start_weekday + day) % 7) as usize;
        WEEKDAY_FACTOR[wd] * (1.0 + 0.15 * day as f64 / (self.days.max(1) as f64))
    }

    /// A search query for a category (sometimes with a modifier or a typo-free variant).
    pub fn search_query<R: Rng + ?Sized>(rng: &mut R, c: usize, out: &mut String) {
        out.clear();
        let terms = SEARCH_TERMS[c];
        if rng.gen_bool(0.3) {
            out.push_str(SEARCH_MODIFIERS[rng.gen_range(0..SEARCH_MODIFIERS.len())]);
            out.push(' ');
        }
        out.push_str(terms[rng.gen_range(0..terms.len())]);
    }
}
