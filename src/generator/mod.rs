//! `ecomsql gen`: a deterministic generator of realistic shop logs (see GUIDE §4).
//!
//! The simulation runs day by day; users are split into shards simulated on separate threads,
//! each writing its own `part-<shard>.parquet` per table (and per day for `events`), so memory
//! is bounded by the batch size, not the data size. Every user has their own random generator
//! seeded from `(seed, user_id)`: the same flags always give the same rows, whatever the number
//! of threads. Output goes to `<out>.partial` and is renamed to `<out>` only when complete.
//!
//! - [`persona`]: the planted personas and per-user parameters.
//! - [`world`]: catalogue, calendar, countries, campaign plan.
//! - [`user`]: one user's day-by-day simulation (sessions, funnels, orders, reviews).
//! - [`reviews`]: review text in English and Chinese.
//! - [`tables`]: schemas, builders and the Parquet sink.

pub mod persona;
pub mod reviews;
pub mod tables;
pub mod user;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::RecordBatch;
use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use tables::{
    BATCH_ROWS, CampaignBuilder, EventBuilder, OrderBuilder, ParquetSink, ReviewBuilder,
    campaigns_schema, events_schema, orders_schema, products_schema, reviews_schema, truth_schema,
    users_schema,
};
use user::{Output, Scratch, UserSim};
use world::{CATEGORIES, Products, US_PER_DAY, World};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// Output folder (one sub-folder per table).
    pub out: PathBuf,
    /// Number of users.
    pub users: u64,
    /// Logged days.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// First logged day.
    pub start: NaiveDate,
    /// Days simulated past the logs for `_truth` (future behaviour).
    pub horizon_days: u32,
    /// Worker threads (each writes its own part files); 0 = number of cores.
    pub threads: usize,
    /// Replace `out` if it exists.
    pub force: bool,
    /// Show a progress bar on a terminal.
    pub progress: bool,
}

impl GenOptions {
    /// The default sample: 20k users over 120 days from 2026-01-01, seed 42.
    pub fn sample(out: PathBuf) -> GenOptions {
        GenOptions {
            out,
            users: 20_000,
            days: 120,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            horizon_days: 28,
            threads: 0,
            force: false,
            progress: true,
        }
    }

    /// Checks the options before anything is written.
    pub fn check(&self) -> Result<(), GenError> {
        if self.users == 0 || self.users > 100_000_000 {
            return Err(GenError::Invalid(format!(
                "--users must be between 1 and 100000000, got {}",
                self.users
            )));
        }
        if self.days == 0 || self.days > 3660 {
            return Err(GenError::Invalid(format!(
                "--days must be between 1 and 3660, got {}",
                self.days
            )));
        }
        if self.out.as_os_str().is_empty() {
            return Err(GenError::Invalid("--out must not be empty".into()));
        }
        if self.out.exists() && !self.force {
            return Err(GenError::Invalid(format!(
                "output folder {} already exists (use --force to replace it)",
                self.out.display()
            )));
        }
        Ok(())
    }

    /// One line describing the options, stored in `_truth/params.txt` and used to decide
    /// whether a cached sample can be reused.
    pub fn fingerprint(&self) -> String {
        format!(
            "ecomsql-gen v1 users={} days={} seed={} start={} horizon={}",
            self.users, self.days, self.seed, self.start, self.horizon_days
        )
    }
}

/// Generator failures; each names the path or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
    /// File-system error.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// Parquet encoding error.
    #[error("writing {path}: {message}")]
    Parquet { path: PathBuf, message: String },
    /// Arrow error (a bug if it happens).
    #[error("building batch: {0}")]
    Arrow(String),
    /// A worker thread panicked (a bug if it happens).
    #[error("generator worker failed: {0}")]
    Worker(String),
}

impl GenError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        GenError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
    pub(crate) fn parquet(path: &Path, e: impl std::fmt::Display) -> Self {
        GenError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
    pub(crate) fn arrow(e: impl std::fmt::Display) -> Self {
        GenError::Arrow(e.to_string())
    }
}

/// Row counts of a finished generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub users: u64,
    pub products: u64,
    pub events: u64,
    pub orders: u64,
    pub reviews: u64,
    pub campaigns: u64,
    pub seconds_millis: u64,
}

/// Number of products for a user count: a bigger shop has a bigger catalogue.
pub fn product_count(users: u64) -> usize {
    (users / 20).clamp(200, 200_000) as usize
}

/// Generates the data set described by `opts`.
pub fn generate(opts: &GenOptions) -> Result<GenSummary, GenError> {
    opts.check()?;
    let began = Instant::now();
    let partial = partial_path(&opts.out);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| GenError::io(&partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| GenError::io(&partial, e))?;

    let start = opts.start;
    let start_us = start
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_micros();
    let mut world_rng = Pcg64Mcg::seed_from_u64(opts.seed ^ 0x005E_ED0F_0A7A);
    let products = Products::generate(&mut world_rng, product_count(opts.users));
    let world = World::new(
        start_us,
        start.weekday().num_days_from_monday(),
        opts.days,
        opts.horizon_days,
        products,
    );

    let mut users: Vec<UserSim> = (1..=opts.users as i64)
        .map(|id| UserSim::new(opts.seed, id, &world))
        .collect();
    for u in &mut users {
        u.assign_campaign(&world);
    }

    let threads = if opts.threads == 0 {
        crate::config::cores()
    } else {
        opts.threads
    };
    let shards = threads.clamp(1, users.len().max(1));
    let per_shard = users.len().div_ceil(shards);
    let progress = Progress::new(
        opts.progress,
        (opts.days + opts.horizon_days) as u64 * shards as u64,
    );
    let abort = AtomicBool::new(false);
    let results: Vec<Result<(u64, u64, u64), GenError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .chunks_mut(per_shard)
            .enumerate()
            .map(|(shard, chunk)| {
                let (world, partial, progress, abort) = (&world, &partial, &progress, &abort);
                scope.spawn(move || {
                    let r = run_shard(world, chunk, shard, partial, progress, abort);
                    if r.is_err() {
                        abort.store(true, Ordering::Relaxed);
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(GenError::Worker("a generator thread panicked".into())))
            })
            .collect()
    });
    progress.finish();
    let mut summary = GenSummary {
        users: opts.users,
        products: world.products.len() as u64,
        ..Default::default()
    };
    for r in results {
        let (e, o, rv) = r?;
        summary.events += e;
        summary.orders += o;
        summary.reviews += rv;
    }
    write_products(&world, &partial)?;
    write_users(&users, &partial)?;
    summary.campaigns = write_campaigns(&users, &partial)?;
    write_truth(&users, &world, &partial)?;
    let params = partial.join("_truth").join("params.txt");
    std::fs::write(&params, format!("{}\n", opts.fingerprint()))
        .map_err(|e| GenError::io(&params, e))?;
    if opts.out.exists() {
        std::fs::remove_dir_all(&opts.out).map_err(|e| GenError::io(&opts.out, e))?;
    }
    std::fs::rename(&partial, &opts.out).map_err(|e| GenError::io(&opts.out, e))?;
    summary.seconds_millis = began.elapsed().as_millis() as u64;
    Ok(summary)
}

/// `<out>.partial`, beside `out`.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_os_string();
    s.push(".partial");
    PathBuf::from(s)
}

fn run_shard(
    world: &World,
    users: &mut [UserSim],
    shard: usize,
    out: &Path,
    progress: &Progress,
    abort: &AtomicBool,
) -> Result<(u64, u64, u64), GenError> {
    let mut events = EventBuilder::default();
    let mut orders = OrderBuilder::default();
    let mut reviews = ReviewBuilder::default();
    let mut scratch = Scratch::default();
    let part = format!("part-{shard}.parquet");
    let mut orders_sink = ParquetSink::create(&out.join("orders").join(&part), orders_schema())?;
    let mut reviews_sink = ParquetSink::create(&out.join("reviews").join(&part), reviews_schema())?;
    let (mut n_events, mut n_orders, mut n_reviews) = (0u64, 0u64, 0u64);
    for day in 0..world.days + world.horizon {
        if abort.load(Ordering::Relaxed) {
            return Err(GenError::Worker(
                "stopped after another worker failed".into(),
            ));
        }
        let logged = day < world.days;
        let mut day_sink = if logged {
            let date =
                chrono::DateTime::from_timestamp_micros(world.start_us + day as i64 * US_PER_DAY)
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or_default();
            Some(ParquetSink::create(
                &out.join("events").join(format!("dt={date}")).join(&part),
                events_schema(),
            )?)
        } else {
            None
        };
        let mut day_events = 0u64;
        for u in users.iter_mut() {
            let mut o = Output {
                events: &mut events,
                orders: &mut orders,
                reviews: &mut reviews,
            };
            day_events += u.simulate_day(world, day, &mut o, &mut scratch);
            if events.len() >= BATCH_ROWS {
                write_to(&mut day_sink, events.finish()?)?;
            }
            if orders.len() >= BATCH_ROWS {
                n_orders += orders.len() as u64;
                orders_sink.write(&orders.finish()?)?;
            }
            if reviews.len() >= BATCH_ROWS {
                n_reviews += reviews.len() as u64;
                reviews_sink.write(&reviews.finish()?)?;
            }
        }
        if !events.is_empty() {
            write_to(&mut day_sink, events.finish()?)?;
        }
        if let Some(sink) = day_sink {
            n_events += sink.finish()?;
            progress.add(day_events);
        }
        progress.day_done();
    }
    if !orders.is_empty() {
        n_orders += orders.len() as u64;
        orders_sink.write(&orders.finish()?)?;
    }
    if !reviews.is_empty() {
        n_reviews += reviews.len() as u64;
        reviews_sink.write(&reviews.finish()?)?;
    }
    orders_sink.finish()?;
    reviews_sink.finish()?;
    Ok((n_events, n_orders, n_reviews))
}

fn write_to(sink: &mut Option<ParquetSink>, batch: RecordBatch) -> Result<(), GenError> {
    match sink {
        Some(s) => s.write(&batch),
        // Past the logs nothing is written (only `_truth` counters move).
        None => Ok(()),
    }
}

fn write_products(world: &World, out: &Path) -> Result<(), GenError> {
    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let p = &world.products;
    let batch = RecordBatch::try_new(
        products_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                (1..=p.len() as i64).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from_iter_values(
                p.category.iter().map(|&c| CATEGORIES[c as usize]),
            )),
            Arc::new(StringArray::from_iter_values(p.brand.iter())),
            Arc::new(Float64Array::from(p.price.clone())),
        ],
    )
    .map_err(GenError::arrow)?;
    let mut sink = ParquetSink::create(
        &out.join("products").join("part-0.parquet"),
        products_schema(),
    )?;
    sink.write(&batch)?;
    sink.finish()?;
    Ok(())
}

fn write_users(users: &[UserSim], out: &Path) -> Result<(), GenError> {
    use datafusion::arrow::array::{
        ArrayRef, Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    };
    use std::sync::Arc;
    let mut sink = ParquetSink::create(&out.join("users").join("part-0.parquet"), users_schema())?;
    for chunk in users.chunks(BATCH_ROWS) {
        let mut id = Int64Builder::new();
        let mut signup = TimestampMicrosecondBuilder::new();
        let mut country = StringBuilder::new();
        let mut tier = Int32Builder::new();
        let mut age = Int32Builder::new();
        let mut gender = StringBuilder::new();
        let mut channel = StringBuilder::new();
        let mut lang = StringBuilder::new();
        for u in chunk {
            id.append_value(u.user_id);
            signup.append_value(u.signup_ts);
            country.append_value(u.country);
            tier.append_value(u.city_tier);
            age.append_option(u.age);
            gender.append_option(u.gender);
            channel.append_value(u.channel);
            lang.append_value(u.language.code());
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(signup.finish()),
            Arc::new(country.finish()),
            Arc::new(tier.finish()),
            Arc::new(age.finish()),
            Arc::new(gender.finish()),
            Arc::new(channel.finish()),
            Arc::new(lang.finish()),
        ];
        sink.write(&RecordBatch::try_new(users_schema(), cols).map_err(GenError::arrow)?)?;
    }
    sink.finish()?;
    Ok(())
}

fn write_campaigns(users: &[UserSim], out: &Path) -> Result<u64, GenError> {
    let mut sink = ParquetSink::create(
        &out.join("campaigns").join("part-0.parquet"),
        campaigns_schema(),
    )?;
    for chunk in users.chunks(BATCH_ROWS) {
        let mut b = CampaignBuilder::default();
        for u in chunk {
            if let Some(c) = u.campaign {
                b.user_id.append_value(u.user_id);
                b.campaign_id.append_value("spring_reactivation");
                b.ts.append_value(c.ts);
                b.treatment.append_value(c.treated);
                b.converted.append_value(c.converted);
            }
        }
        sink.write(&b.finish()?)?;
    }
    sink.finish()
}

fn write_truth(users: &[UserSim], world: &World, out: &Path) -> Result<(), GenError> {
    use datafusion::arrow::array::{
        ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    };
    use std::sync::Arc;
    let cutoff = world.start_us + world.days as i64 * US_PER_DAY;
    let mut sink = ParquetSink::create(&out.join("_truth").join("users.parquet"), truth_schema())?;
    for chunk in users.chunks(BATCH_ROWS) {
        let mut id = Int64Builder::new();
        let mut persona = StringBuilder::new();
        let mut persona_now = StringBuilder::new();
        let mut drift = TimestampMicrosecondBuilder::new();
        let mut rate = Float64Builder::new();
        let mut uplift = Float64Builder::new();
        let mut cut = TimestampMicrosecondBuilder::new();
        let mut fdays = Int32Builder::new();
        let mut fs = Int64Builder::new();
        let mut fp = Int64Builder::new();
        let mut fr = Float64Builder::new();
        let mut churned = BooleanBuilder::new();
        for u in chunk {
            id.append_value(u.user_id);
            persona.append_value(u.persona.name());
            persona_now.append_value(u.persona_now.name());
            drift.append_option(u.drift_day.map(|d| world.start_us + d as i64 * US_PER_DAY));
            rate.append_value(u.planted_sessions_per_day);
            uplift.append_value(u.params.campaign_uplift);
            cut.append_value(cutoff);
            fdays.append_value(world.horizon as i32);
            fs.append_value(u.future.sessions);
            fp.append_value(u.future.purchases);
            fr.append_value((u.future.revenue * 100.0).round() / 100.0);
            churned.append_value(u.future.sessions == 0);
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(persona.finish()),
            Arc::new(persona_now.finish()),
            Arc::new(drift.finish()),
            Arc::new(rate.finish()),
            Arc::new(uplift.finish()),
            Arc::new(cut.finish()),
            Arc::new(fdays.finish()),
            Arc::new(fs.finish()),
            Arc::new(fp.finish()),
            Arc::new(fr.finish()),
            Arc::new(churned.finish()),
        ];
        sink.write(&RecordBatch::try_new(truth_schema(), cols).map_err(GenError::arrow)?)?;
    }
    sink.finish()?;
    Ok(())
}

/// Progress shown on a terminal (hidden otherwise): simulated days and events per second.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    events: AtomicU64,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, total: u64) -> Progress {
        let bar = enabled.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("generating {bar:30} {percent:>3}% {msg}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            events: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn add(&self, events: u64) {
        let total = self.events.fetch_add(events, Ordering::Relaxed) + events;
        if let Some(bar) = &self.bar {
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{total} events ({:.1}M/s)",
                total as f64 / secs / 1e6
            ));
        }
    }

    fn day_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
