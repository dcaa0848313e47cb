//! One simulated customer: their profile (the `users` row), their planted persona and its
//! parameters, their life cycle, and the day-by-day simulation of sessions, funnels, orders
//! and reviews ([`UserSim::simulate_day`]).
//!
//! Each user owns a random generator seeded from (seed, user_id), so a user's rows do not
//! depend on how users are split across threads.
//!
//! Ids are derived from the user so they are stable and unique without coordination:
//! `event_id = user_id * 10^7 + n`, `order_id = user_id * 10^5 + n`,
//! `review_id = user_id * 10^5 + n` (n counts from 1 per user).

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use rand_pcg::Pcg64Mcg;

use super::persona::{Persona, UserParams};
use super::reviews::{ReviewLanguage, write_review};
use super::tables::{EventBuilder, EventRow, OrderBuilder, ReviewBuilder};
use super::world::{
    CATEGORIES, CHANNELS, COUNTRIES, COUPONS, Products, US_PER_DAY, US_PER_SEC, World,
    pick_weighted,
};

/// How a user's activity changes over the simulated period.
#[derive(Debug, Clone, Copy)]
pub enum Lifecycle {
    /// Roughly constant.
    Steady,
    /// Decays after `start` with time constant `tau` days.
    Lapse { start: f64, tau: f64 },
    /// After signing up: ramps up (true) or drops off (false).
    Ramp { up: bool },
}

/// The campaign as it happened to one user.
#[derive(Debug, Clone, Copy)]
pub struct CampaignAssignment {
    /// When the message went out.
    pub ts: i64,
    /// Treatment (true) or control.
    pub treated: bool,
    /// Purchased within the conversion window.
    pub converted: bool,
}

/// What happened after the logs end (for `_truth`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Future {
    /// Sessions in the horizon.
    pub sessions: i64,
    /// Orders in the horizon.
    pub purchases: i64,
    /// Revenue in the horizon.
    pub revenue: f64,
}

/// One user's simulation state.
pub struct UserSim {
    pub user_id: i64,
    rng: Pcg64Mcg,
    pub persona: Persona,
    pub persona_now: Persona,
    pub params: UserParams,
    pub planted_sessions_per_day: f64,
    drift: Option<(u32, Persona)>,
    pub drift_day: Option<u32>,
    pub lifecycle: Lifecycle,
    /// Sign-up day relative to the start (negative: before the logs).
    pub signup_day: i64,
    pub signup_ts: i64,
    pub country: &'static str,
    pub city_tier: i32,
    pub age: Option<i32>,
    pub gender: Option<&'static str>,
    pub channel: &'static str,
    pub language: ReviewLanguage,
    fav: [u8; 2],
    event_seq: i64,
    order_seq: i64,
    review_seq: i64,
    pub campaign: Option<CampaignAssignment>,
    pub future: Future,
}

/// SplitMix64 finaliser: decorrelates per-user seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Scratch space reused across users of a shard, so the hot loop does not allocate.
#[derive(Default)]
pub struct Scratch {
    cart: Vec<(u32, i32)>,
    starts: Vec<i64>,
    text: String,
}

/// Where a shard's rows go.
pub struct Output<'a> {
    pub events: &'a mut EventBuilder,
    pub orders: &'a mut OrderBuilder,
    pub reviews: &'a mut ReviewBuilder,
}

impl UserSim {
    /// Creates user `user_id` (1-based) for a world.
    pub fn new(seed: u64, user_id: i64, world: &World) -> UserSim {
        let mut rng = Pcg64Mcg::seed_from_u64(mix(seed ^ mix(user_id as u64)));
        let persona = Persona::draw(&mut rng);
        let params = UserParams::draw(&mut rng, persona);
        let days = world.days as f64;
        let (signup_day, lifecycle) = match persona {
            Persona::NewUser => {
                let d = (days * rng.gen_range(0.45..0.97)) as i64;
                (
                    d,
                    Lifecycle::Ramp {
                        up: rng.gen_bool(0.55),
                    },
                )
            }
            Persona::LapsingCustomer => {
                let start = days * rng.gen_range(0.05..0.6);
                (
                    -(rng.gen_range(60..800) as i64),
                    Lifecycle::Lapse {
                        start,
                        tau: rng.gen_range(6.0..25.0),
                    },
                )
            }
            _ => {
                // A few ordinary users sign up during the period too, so sign-up date alone
                // does not reveal the new-user persona.
                let d = if rng.gen_bool(0.08) {
                    (days * rng.r#gen::<f64>()) as i64
                } else {
                    -(rng.gen_range(1..900) as i64)
                };
                (d, Lifecycle::Steady)
            }
        };
        let signup_ts = world.start_us + signup_day * US_PER_DAY + world.draw_time_of_day(&mut rng);
        // Some customers change: occasional buyers become loyal, loyal ones start to lapse, …
        let drift = if persona != Persona::NewUser && rng.gen_bool(0.08) {
            let to = match persona {
                Persona::OccasionalBuyer => Persona::LoyalBigSpender,
                Persona::LoyalBigSpender => Persona::LapsingCustomer,
                Persona::WindowShopper => Persona::OccasionalBuyer,
                Persona::BargainHunter => Persona::OccasionalBuyer,
                _ => Persona::OccasionalBuyer,
            };
            Some(((days * rng.gen_range(0.3..0.9)) as u32, to))
        } else {
            None
        };
        let ci = pick_weighted(&mut rng, &COUNTRIES.map(|c| c.1));
        let (country, _, zh_share) = COUNTRIES[ci];
        let language = if rng.gen_bool(zh_share) {
            ReviewLanguage::Zh
        } else {
            ReviewLanguage::En
        };
        let city_tier = 1 + pick_weighted(&mut rng, &[0.3, 0.35, 0.25, 0.1]) as i32;
        let base_age: f64 = match persona {
            Persona::LoyalBigSpender => 42.0,
            Persona::BargainHunter => 31.0,
            Persona::WindowShopper => 27.0,
            Persona::NewUser => 29.0,
            _ => 36.0,
        };
        let age = (!rng.gen_bool(0.06)).then(|| {
            (base_age + 11.0 * (rng.r#gen::<f64>() + rng.r#gen::<f64>() - 1.0) * 1.7)
                .clamp(16.0, 85.0) as i32
        });
        let gender = match rng.r#gen::<f64>() {
            x if x < 0.49 => Some("F"),
            x if x < 0.96 => Some("M"),
            x if x < 0.98 => Some("other"),
            _ => None,
        };
        let channel_w: [f64; 6] = match persona {
            Persona::BargainHunter => [0.15, 0.15, 0.25, 0.15, 0.05, 0.25],
            Persona::LoyalBigSpender => [0.35, 0.2, 0.1, 0.15, 0.15, 0.05],
            Persona::WindowShopper => [0.2, 0.15, 0.4, 0.05, 0.1, 0.1],
            Persona::NewUser => [0.2, 0.3, 0.3, 0.05, 0.1, 0.05],
            _ => [0.3, 0.25, 0.15, 0.1, 0.1, 0.1],
        };
        let channel = CHANNELS[pick_weighted(&mut rng, &channel_w)];
        let fav = [
            rng.gen_range(0..CATEGORIES.len()) as u8,
            rng.gen_range(0..CATEGORIES.len()) as u8,
        ];
        UserSim {
            user_id,
            rng,
            persona,
            persona_now: persona,
            planted_sessions_per_day: params.sessions_per_day,
            params,
            drift,
            drift_day: None,
            lifecycle,
            signup_day,
            signup_ts,
            country,
            city_tier,
            age,
            gender,
            channel,
            language,
            fav,
            event_seq: 0,
            order_seq: 0,
            review_seq: 0,
            campaign: None,
            future: Future::default(),
        }
    }

    /// Enrols the user in the campaign (called once, before the simulation, in user order).
    pub fn assign_campaign(&mut self, world: &World) {
        let Some(day) = world.campaign_day else {
            return;
        };
        if self.signup_day >= day as i64 || !self.rng.gen_bool(0.5) {
            return;
        }
        let ts = world.start_us
            + day as i64 * US_PER_DAY
            + (9 * 3600 + self.rng.gen_range(0..3 * 3600)) * US_PER_SEC;
        self.campaign = Some(CampaignAssignment {
            ts,
            treated: self.rng.gen_bool(0.5),
            converted: false,
        });
    }

    fn lifecycle_factor(&self, day: f64) -> f64 {
        let since_signup = day - self.signup_day as f64;
        match self.lifecycle {
            Lifecycle::Steady => 1.0,
            Lifecycle::Lapse { start, tau } => {
                if day < start {
                    1.0
                } else {
                    let f = (-(day - start) / tau).exp();
                    if f < 0.03 { 0.0 } else { f }
                }
            }
            Lifecycle::Ramp { up: true } => (0.3 + since_signup / 14.0).min(1.3),
            Lifecycle::Ramp { up: false } => 1.5 * (-since_signup / 9.0).exp(),
        }
    }

    /// Simulates one day. Rows are written to `out` only for logged days; for days past the
    /// logs only the `_truth` counters move.
    pub fn simulate_day(
        &mut self,
        world: &World,
        day: u32,
        out: &mut Output<'_>,
        scratch: &mut Scratch,
    ) -> u64 {
        if (day as i64) < self.signup_day {
            return 0;
        }
        if let Some((d, to)) = self.drift
            && day == d
        {
            self.persona_now = to;
            let keep_rate = self.params.sessions_per_day;
            self.params = UserParams::draw(&mut self.rng, to);
            // Keep some of the user's own activity level: people change habits gradually.
            self.params.sessions_per_day = (keep_rate * self.params.sessions_per_day).sqrt();
            if matches!(to, Persona::LapsingCustomer) {
                self.lifecycle = Lifecycle::Lapse {
                    start: day as f64,
                    tau: self.rng.gen_range(6.0..25.0),
                };
            }
            self.drift_day = Some(d);
            self.drift = None;
        }
        let logged = day < world.days;
        let day_start = world.start_us + day as i64 * US_PER_DAY;
        let day_end = day_start + US_PER_DAY;
        let promo = world.promo[day as usize];
        let mut rate = self.params.sessions_per_day
            * world.day_factor(day)
            * self.lifecycle_factor(day as f64);
        if promo {
            rate *= self.params.promo_boost;
        }
        // Treated users in the campaign window come back and convert more (or less, for
        // "sleeping dogs" whose uplift is below one).
        let mut uplift = 1.0;
        if let Some(c) = self.campaign {
            let window_end = c.ts + world.campaign_window_days as i64 * US_PER_DAY;
            if c.treated && day_end > c.ts && day_start < window_end {
                uplift = self.params.campaign_uplift;
                rate *= uplift.sqrt();
            }
        }
        if rate <= 0.0 {
            return 0;
        }
        let n = poisson(&mut self.rng, rate);
        if n == 0 {
            return 0;
        }
        scratch.starts.clear();
        // On the sign-up day, activity starts after signing up.
        let earliest = self.signup_ts.max(day_start);
        for _ in 0..n {
            let t = day_start + world.draw_time_of_day(&mut self.rng);
            scratch.starts.push(t.max(earliest));
        }
        scratch.starts.sort_unstable();
        let mut emitted = 0u64;
        let mut prev_end = i64::MIN;
        for i in 0..scratch.starts.len() {
            // Sessions are separated by at least 35 minutes of inactivity.
            let start =
                scratch.starts[i].max(prev_end.saturating_add(
                    35 * 60 * US_PER_SEC + self.rng.gen_range(0..3600 * US_PER_SEC),
                ));
            if start >= day_end - 60 * US_PER_SEC {
                break;
            }
            let (end, k) = self.session(world, start, day_end, uplift, logged, out, scratch);
            prev_end = end;
            emitted += k;
            if !logged {
                self.future.sessions += 1;
            }
        }
        emitted
    }

    #[allow(clippy::too_many_arguments)]
    fn session(
        &mut self,
        world: &World,
        start: i64,
        day_end: i64,
        uplift: f64,
        logged: bool,
        out: &mut Output<'_>,
        scratch: &mut Scratch,
    ) -> (i64, u64) {
        let p = self.params;
        let device = if self.rng.gen_bool(p.p_mobile) {
            "mobile"
        } else if self.rng.gen_bool(0.1) {
            "tablet"
        } else {
            "desktop"
        };
        let products = &world.products;
        let gap = Exp::new(1.0 / p.event_gap_secs.max(1.0)).ok();
        let steps = 1 + poisson(&mut self.rng, (p.views_per_session - 1.0).max(0.0)) as usize;
        let conv = |x: f64| (x * uplift).clamp(0.0, 0.99);
        let mut t = start;
        let mut emitted = 0u64;
        scratch.cart.clear();
        let mut session_cat = self.pick_category();
        for _ in 0..steps {
            if t >= day_end {
                break;
            }
            if self.rng.gen_bool(p.p_search) {
                session_cat = self.pick_category();
                World::search_query(&mut self.rng, session_cat, &mut scratch.text);
                if logged {
                    self.emit(
                        out,
                        products,
                        t,
                        "search",
                        None,
                        None,
                        device,
                        Some(&scratch.text),
                    );
                }
                emitted += 1;
            } else {
                if self.rng.gen_bool(0.25) {
                    session_cat = self.pick_category();
                }
                let Some(pid) = self.pick_product(products, session_cat) else {
                    continue;
                };
                if logged {
                    self.emit(out, products, t, "view", Some(pid), None, device, None);
                }
                emitted += 1;
                if self.rng.gen_bool(conv(p.p_cart)) {
                    t += self.step_gap(gap);
                    let qty = if self.rng.gen_bool(0.8) {
                        1
                    } else {
                        self.rng.gen_range(2..5)
                    };
                    scratch.cart.push((pid, qty));
                    if logged && t < day_end {
                        self.emit(
                            out,
                            products,
                            t,
                            "add_to_cart",
                            Some(pid),
                            Some(qty),
                            device,
                            None,
                        );
                    }
                    emitted += 1;
                } else if !scratch.cart.is_empty() && self.rng.gen_bool(0.04) {
                    t += self.step_gap(gap);
                    let j = self.rng.gen_range(0..scratch.cart.len());
                    let (rp, rq) = scratch.cart.swap_remove(j);
                    if logged && t < day_end {
                        self.emit(
                            out,
                            products,
                            t,
                            "remove_from_cart",
                            Some(rp),
                            Some(rq),
                            device,
                            None,
                        );
                    }
                    emitted += 1;
                }
            }
            t += self.step_gap(gap);
        }
        if !scratch.cart.is_empty()
            && t < day_end - 10 * US_PER_SEC
            && self.rng.gen_bool(conv(p.p_checkout))
        {
            if logged {
                self.emit(out, products, t, "begin_checkout", None, None, device, None);
            }
            emitted += 1;
            t += self.step_gap(gap) + 20 * US_PER_SEC;
            if t < day_end && self.rng.gen_bool(conv(p.p_purchase)) {
                emitted += self.purchase(world, t, device, logged, out, scratch);
            }
        }
        (t, emitted)
    }

    fn purchase(
        &mut self,
        world: &World,
        t: i64,
        device: &'static str,
        logged: bool,
        out: &mut Output<'_>,
        scratch: &mut Scratch,
    ) -> u64 {
        let products = &world.products;
        let mut subtotal = 0.0;
        let mut items = 0;
        let mut quality = 0.0f32;
        for i in 0..scratch.cart.len() {
            let (pid, qty) = scratch.cart[i];
            subtotal += products.price[pid as usize] * qty as f64;
            items += qty;
            quality += products.quality[pid as usize];
            if logged {
                self.emit(
                    out,
                    products,
                    t,
                    "purchase",
                    Some(pid),
                    Some(qty),
                    device,
                    None,
                );
            }
        }
        let emitted = scratch.cart.len() as u64;
        quality /= scratch.cart.len() as f32;
        let coupon = self
            .rng
            .gen_bool(self.params.p_coupon)
            .then(|| COUPONS[self.rng.gen_range(0..COUPONS.len())]);
        let discount = coupon.map_or(0.0, |(_, share)| round2(subtotal * share));
        let total = round2(subtotal - discount);
        let u: f64 = self.rng.r#gen();
        let returned_p = 0.03 + 0.15 * (1.0 - quality as f64);
        let status = if u < 0.02 {
            "cancelled"
        } else if u < 0.02 + returned_p {
            "returned"
        } else {
            "completed"
        };
        if let Some(c) = &mut self.campaign
            && t >= c.ts
            && t < c.ts + world.campaign_window_days as i64 * US_PER_DAY
            && status != "cancelled"
        {
            c.converted = true;
        }
        if !logged {
            if status != "cancelled" {
                self.future.purchases += 1;
                self.future.revenue += total;
            }
            return 0;
        }
        self.order_seq += 1;
        let o = &mut out.orders;
        o.order_id
            .append_value(self.user_id * 100_000 + self.order_seq);
        o.user_id.append_value(self.user_id);
        o.ts.append_value(t);
        o.total_amount.append_value(total);
        o.item_count.append_value(items);
        o.discount_amount.append_value(discount);
        o.coupon_code.append_option(coupon.map(|c| c.0));
        o.status.append_value(status);
        // A share of buyers review one item some days later (if that is still in the logs).
        if status != "cancelled" && self.rng.gen_bool(0.2) {
            let delay_days = LogNormal::new(1.2, 0.6)
                .map(|d| d.sample(&mut self.rng))
                .unwrap_or(3.0);
            let rts = t + (delay_days * US_PER_DAY as f64) as i64;
            if rts < world.start_us + world.days as i64 * US_PER_DAY {
                let (pid, _) = scratch.cart[self.rng.gen_range(0..scratch.cart.len())];
                let q = products.quality[pid as usize] as f64;
                let noise =
                    (self.rng.r#gen::<f64>() + self.rng.r#gen::<f64>() + self.rng.r#gen::<f64>()
                        - 1.5)
                        * 1.6;
                let mut r = 3.9 + 2.2 * (q - 0.55) + self.params.rating_bias + noise;
                if status == "returned" {
                    r -= 1.8;
                }
                let rating = r.round().clamp(1.0, 5.0) as u8;
                self.review_seq += 1;
                scratch.text.clear();
                write_review(
                    &mut self.rng,
                    rating,
                    CATEGORIES[products.category[pid as usize] as usize],
                    self.language,
                    &mut scratch.text,
                );
                let rv = &mut out.reviews;
                rv.review_id
                    .append_value(self.user_id * 100_000 + self.review_seq);
                rv.user_id.append_value(self.user_id);
                rv.product_id.append_value(pid as i64 + 1);
                rv.ts.append_value(rts);
                rv.rating.append_value(rating as i32);
                rv.language.append_value(self.language.code());
                rv.review_text.append_value(&scratch.text);
            }
        }
        emitted
    }

    #[inline]
    fn step_gap(&mut self, gap: Option<Exp<f64>>) -> i64 {
        let secs = gap.map_or(30.0, |g| g.sample(&mut self.rng));
        US_PER_SEC + (secs.min(1500.0) * US_PER_SEC as f64) as i64
    }

    #[inline]
    fn pick_category(&mut self) -> usize {
        let u: f64 = self.rng.r#gen();
        if u < 0.45 {
            self.fav[0] as usize
        } else if u < 0.7 {
            self.fav[1] as usize
        } else {
            self.rng.gen_range(0..CATEGORIES.len())
        }
    }

    #[inline]
    fn pick_product(&mut self, products: &Products, c: usize) -> Option<u32> {
        let first = products.draw_in(&mut self.rng, c)?;
        // Price taste: users skip products far from the price level they like, once.
        let ratio =
            products.price[first as usize] / (Products::median_price(c) * self.params.price_taste);
        if !(0.4..2.5).contains(&ratio) && self.rng.gen_bool(0.6) {
            return products.draw_in(&mut self.rng, c);
        }
        Some(first)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn emit(
        &mut self,
        out: &mut Output<'_>,
        products: &Products,
        ts: i64,
        event_type: &str,
        pid: Option<u32>,
        qty: Option<i32>,
        device: &str,
        query: Option<&str>,
    ) {
        self.event_seq += 1;
        out.events.append(EventRow {
            event_id: self.user_id * 10_000_000 + self.event_seq,
            user_id: self.user_id,
            ts,
            event_type,
            product: pid.map(|p| {
                let i = p as usize;
                (
                    p as i64 + 1,
                    CATEGORIES[products.category[i] as usize],
                    products.price[i],
                )
            }),
            quantity: qty,
            device,
            search_query: query,
        });
    }
}

/// Rounds money to cents.
#[inline]
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Poisson draw by inversion: fast for the small means of daily sessions and session lengths;
/// large means (heavy-tail users) fall back to rand_distr.
#[inline]
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return rand_distr::Poisson::new(lambda)
            .map(|d| d.sample(rng) as u32)
            .unwrap_or(lambda as u32);
    }
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let u: f64 = rng.r#gen();
    let mut k = 0u32;
    while u > cdf && k < 200 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k
}
