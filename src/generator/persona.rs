//! The planted personas: each is a set of *distributions* of behaviour, not a rule, so that
//! personas overlap and no single column separates them. A user draws their own parameters from
//! their persona's distributions ([`UserParams::draw`]); some users drift to another persona
//! part-way through, as real customers do.
//!
//! To add a persona: add a variant, give it a row in [`Persona::profile`] and a share in
//! [`Persona::draw`].

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

/// A planted customer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persona {
    /// Frequent sessions, high conversion and order value, few coupons; campaigns barely help
    /// and can annoy ("sleeping dog").
    LoyalBigSpender,
    /// Many views and searches, buys on discount with coupons, bursts around promotions.
    BargainHunter,
    /// Many views, long sessions, rarely adds to cart.
    WindowShopper,
    /// Few regular sessions, mid conversion and value.
    OccasionalBuyer,
    /// Signed up recently; ramps up or drops off.
    NewUser,
    /// Active early, used to buy, activity decays toward the end; high churn.
    LapsingCustomer,
}

/// All personas, in a stable order (their index is their id in `_truth`).
pub const ALL_PERSONAS: [Persona; 6] = [
    Persona::LoyalBigSpender,
    Persona::BargainHunter,
    Persona::WindowShopper,
    Persona::OccasionalBuyer,
    Persona::NewUser,
    Persona::LapsingCustomer,
];

/// Typical values of a persona; users scatter around them.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Mean sessions per active day-equivalent.
    pub sessions_per_day: f64,
    /// Mean product views per session.
    pub views_per_session: f64,
    /// Probability that a step of a session is a search.
    pub p_search: f64,
    /// P(add to cart | view).
    pub p_cart: f64,
    /// P(begin checkout | cart not empty at session end).
    pub p_checkout: f64,
    /// P(purchase | checkout).
    pub p_purchase: f64,
    /// Multiplier on the price level of products looked at.
    pub price_taste: f64,
    /// Probability of using a coupon on an order.
    pub p_coupon: f64,
    /// Activity multiplier on promotion days.
    pub promo_boost: f64,
    /// Multiplier on conversion for treated users in the campaign window (< 1: backfires).
    pub campaign_uplift: f64,
    /// Mean seconds between events in a session.
    pub event_gap_secs: f64,
    /// Shift of rating mean (stars).
    pub rating_bias: f64,
    /// Share of mobile sessions.
    pub p_mobile: f64,
}

impl Persona {
    /// Stable lowercase name used in `_truth`.
    pub fn name(self) -> &'static str {
        match self {
            Persona::LoyalBigSpender => "loyal_big_spender",
            Persona::BargainHunter => "bargain_hunter",
            Persona::WindowShopper => "window_shopper",
            Persona::OccasionalBuyer => "occasional_buyer",
            Persona::NewUser => "new_user",
            Persona::LapsingCustomer => "lapsing_customer",
        }
    }

    /// Draws a persona with the population shares of a typical mid-size shop.
    pub fn draw<R: Rng + ?Sized>(rng: &mut R) -> Persona {
        let u: f64 = rng.r#gen();
        match u {
            x if x < 0.10 => Persona::LoyalBigSpender,
            x if x < 0.28 => Persona::BargainHunter,
            x if x < 0.46 => Persona::WindowShopper,
            x if x < 0.72 => Persona::OccasionalBuyer,
            x if x < 0.86 => Persona::NewUser,
            _ => Persona::LapsingCustomer,
        }
    }

    /// The persona's typical values.
    pub fn profile(self) -> Profile {
        match self {
            Persona::LoyalBigSpender => Profile {
                sessions_per_day: 0.45,
                views_per_session: 5.0,
                p_search: 0.10,
                p_cart: 0.30,
                p_checkout: 0.75,
                p_purchase: 0.90,
                price_taste: 1.8,
                p_coupon: 0.05,
                promo_boost: 1.1,
                campaign_uplift: 0.85,
                event_gap_secs: 35.0,
                rating_bias: 0.3,
                p_mobile: 0.45,
            },
            Persona::BargainHunter => Profile {
                sessions_per_day: 0.30,
                views_per_session: 8.0,
                p_search: 0.30,
                p_cart: 0.12,
                p_checkout: 0.55,
                p_purchase: 0.75,
                price_taste: 0.6,
                p_coupon: 0.70,
                promo_boost: 3.5,
                campaign_uplift: 1.9,
                event_gap_secs: 30.0,
                rating_bias: -0.1,
                p_mobile: 0.70,
            },
            Persona::WindowShopper => Profile {
                sessions_per_day: 0.40,
                views_per_session: 12.0,
                p_search: 0.15,
                p_cart: 0.025,
                p_checkout: 0.30,
                p_purchase: 0.40,
                price_taste: 1.2,
                p_coupon: 0.15,
                promo_boost: 1.3,
                campaign_uplift: 1.10,
                event_gap_secs: 70.0,
                rating_bias: 0.0,
                p_mobile: 0.60,
            },
            Persona::OccasionalBuyer => Profile {
                sessions_per_day: 0.10,
                views_per_session: 4.0,
                p_search: 0.25,
                p_cart: 0.18,
                p_checkout: 0.60,
                p_purchase: 0.78,
                price_taste: 1.0,
                p_coupon: 0.20,
                promo_boost: 1.4,
                campaign_uplift: 1.35,
                event_gap_secs: 40.0,
                rating_bias: 0.1,
                p_mobile: 0.40,
            },
            Persona::NewUser => Profile {
                sessions_per_day: 0.25,
                views_per_session: 5.0,
                p_search: 0.25,
                p_cart: 0.10,
                p_checkout: 0.50,
                p_purchase: 0.65,
                price_taste: 0.9,
                p_coupon: 0.35,
                promo_boost: 1.5,
                campaign_uplift: 1.30,
                event_gap_secs: 45.0,
                rating_bias: 0.0,
                p_mobile: 0.65,
            },
            Persona::LapsingCustomer => Profile {
                sessions_per_day: 0.40,
                views_per_session: 5.0,
                p_search: 0.15,
                p_cart: 0.18,
                p_checkout: 0.65,
                p_purchase: 0.82,
                price_taste: 1.1,
                p_coupon: 0.20,
                promo_boost: 1.2,
                campaign_uplift: 1.6,
                event_gap_secs: 40.0,
                rating_bias: -0.3,
                p_mobile: 0.50,
            },
        }
    }
}

/// One user's own behaviour: the persona profile scattered by log-normal noise, so personas
/// overlap, with a heavy-tailed activity level.
#[derive(Debug, Clone, Copy)]
pub struct UserParams {
    /// Expected sessions per day (heavy-tailed across users).
    pub sessions_per_day: f64,
    /// See [`Profile`].
    pub views_per_session: f64,
    /// See [`Profile`].
    pub p_search: f64,
    /// See [`Profile`].
    pub p_cart: f64,
    /// See [`Profile`].
    pub p_checkout: f64,
    /// See [`Profile`].
    pub p_purchase: f64,
    /// See [`Profile`].
    pub price_taste: f64,
    /// See [`Profile`].
    pub p_coupon: f64,
    /// See [`Profile`].
    pub promo_boost: f64,
    /// See [`Profile`].
    pub campaign_uplift: f64,
    /// See [`Profile`].
    pub event_gap_secs: f64,
    /// See [`Profile`].
    pub rating_bias: f64,
    /// See [`Profile`].
    pub p_mobile: f64,
}

fn scatter<R: Rng + ?Sized>(rng: &mut R, mean: f64, sigma: f64) -> f64 {
    // A log-normal with the given arithmetic mean: mu = ln(mean) - sigma^2 / 2.
    match LogNormal::new(mean.ln() - sigma * sigma / 2.0, sigma) {
        Ok(d) => d.sample(rng),
        Err(_) => mean,
    }
}

fn prob<R: Rng + ?Sized>(rng: &mut R, p: f64, sigma: f64) -> f64 {
    scatter(rng, p, sigma).clamp(0.0, 0.98)
}

impl UserParams {
    /// Draws a user's parameters from a persona.
    pub fn draw<R: Rng + ?Sized>(rng: &mut R, persona: Persona) -> UserParams {
        let p = persona.profile();
        let bias = Normal::new(p.rating_bias, 0.35)
            .map(|d| d.sample(rng))
            .unwrap_or(p.rating_bias);
        UserParams {
            // sigma 1.0 gives the heavy tail of real activity: a few users do most sessions.
            sessions_per_day: scatter(rng, p.sessions_per_day, 1.0),
            views_per_session: scatter(rng, p.views_per_session, 0.4).max(1.0),
            p_search: prob(rng, p.p_search, 0.4),
            p_cart: prob(rng, p.p_cart, 0.5),
            p_checkout: prob(rng, p.p_checkout, 0.25),
            p_purchase: prob(rng, p.p_purchase, 0.15),
            price_taste: scatter(rng, p.price_taste, 0.3),
            p_coupon: prob(rng, p.p_coupon, 0.4),
            promo_boost: scatter(rng, p.promo_boost, 0.3).max(0.5),
            campaign_uplift: scatter(rng, p.campaign_uplift, 0.15),
            event_gap_secs: scatter(rng, p.event_gap_secs, 0.3),
            rating_bias: bias,
            p_mobile: prob(rng, p.p_mobile, 0.2),
        }
    }
}
