//! Authentication: the Flight handshake with HTTP Basic credentials answered by a Bearer token
//! (what the JDBC and ADBC Flight SQL drivers expect), and the token checked on every call.
//!
//! Users come from the config (`[[flight.users]]`) with argon2 password hashes; tokens are
//! random, kept in memory, and expire after the configured time. With no users configured the
//! server is open (every caller is the `admin` "anonymous"), which `serve` allows on loopback
//! only. Time comes from a [`Clock`] so tests can expire tokens without waiting.
//!
//! Logins are built to withstand being attacked:
//! - Basic credentials are accepted as base64 with or without `=` padding (the ADBC Go driver
//!   sends them unpadded; RFC 7617 clients pad).
//! - An argon2 check costs ~19 MiB and tens of milliseconds of one core on purpose, so at most
//!   [`LoginLimits::running`] run at once and [`LoginLimits::queued`] more wait; a login beyond
//!   that is refused at once with `RESOURCE_EXHAUSTED` instead of piling up threads and memory
//!   (100 concurrent bad logins used to take the server from 250 MB to 9.6 GB).
//! - An unknown user name costs the same as a wrong password: it is checked against a dummy
//!   hash with the same parameters, through the same queue, so names cannot be enumerated by
//!   timing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD};
use rand::RngCore;
use tokio::sync::Semaphore;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::roles::Role;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A configured user.
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Argon2 PHC string.
    password_hash: String,
    /// What the user may do.
    pub role: Role,
}

impl User {
    /// A user whose `password_hash` must be a PHC string (`$argon2id$…`).
    pub fn new(
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Self, argon2::password_hash::Error> {
        PasswordHash::new(password_hash)?;
        Ok(Self {
            name: name.to_string(),
            password_hash: password_hash.to_string(),
            role,
        })
    }
}

/// Hashes a password for the config (argon2id, default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A PHC string with the algorithm, version and parameters of `like` but a random salt and a
/// random output: checking any password against it costs exactly what checking against `like`
/// costs, and never succeeds (the output would have to be guessed, 2^-256). Unknown user names
/// are checked against it so that they take as long as a wrong password.
fn dummy_hash_like(like: &str) -> Result<String, argon2::password_hash::Error> {
    let like = PasswordHash::new(like)?;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut output = vec![0u8; like.hash.map_or(32, |o| o.len())];
    rand::rngs::OsRng.fill_bytes(&mut output);
    Ok(PasswordHash {
        algorithm: like.algorithm,
        version: like.version,
        params: like.params.clone(),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output)?),
    }
    .to_string())
}

/// Whether `password` matches the PHC string `hash`, computing argon2 in `work`: the caller
/// keeps that area (19 MiB with the default parameters) from one check to the next. Allocating
/// it per check, as `PasswordVerifier` does, left a flood of logins holding ~0.5 GB after it
/// ended (freed blocks stay in the allocator's per-thread arenas of the blocking pool).
fn verify_password(hash: &str, password: &str, work: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    work.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    argon
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut work[..])
        .is_ok()
        // `Output` compares in constant time.
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User name (`anonymous` on an open server).
    pub user: String,
    /// Their role.
    pub role: Role,
}

#[derive(Debug)]
struct Session {
    caller: Caller,
    expires: Instant,
}

/// How many password checks may run and wait at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Argon2 checks running at once (each holds ~19 MiB and a core for tens of milliseconds).
    pub running: usize,
    /// Logins waiting for a check beyond those; more are refused with `RESOURCE_EXHAUSTED`.
    pub queued: usize,
}

impl Default for LoginLimits {
    /// One check per core, and 32 per core waiting. A waiting login costs next to nothing, so
    /// the queue is long enough for a burst of honest logins (a dashboard or a pool opening its
    /// 16 connections at once) and short enough that the last in it waits about half a second
    /// (a check takes ~15 ms in a release build); a flood beyond it is refused.
    fn default() -> Self {
        let cores = crate::config::cores().max(1);
        Self {
            running: cores,
            queued: 32 * cores,
        }
    }
}

/// The bounded queue in front of argon2, and what it has done (read by tests).
#[derive(Debug)]
struct PasswordChecks {
    limits: LoginLimits,
    slots: Arc<Semaphore>,
    /// Logins admitted and not yet finished (running or waiting).
    admitted: Arc<AtomicUsize>,
    /// Checks running now, the most ever running at once, and all checks done.
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    done: Arc<AtomicU64>,
    /// argon2's work areas, reused: at most one per running check.
    work_areas: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// A place in the login queue; gives it back when dropped.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordChecks {
    fn new(limits: LoginLimits) -> Self {
        let limits = LoginLimits {
            running: limits.running.max(1),
            queued: limits.queued,
        };
        Self {
            limits,
            slots: Arc::new(Semaphore::new(limits.running)),
            admitted: Arc::default(),
            running: Arc::default(),
            peak: Arc::default(),
            done: Arc::default(),
            work_areas: Arc::default(),
        }
    }

    /// Checks `password` against `hash` on a blocking thread once a slot is free; refuses at
    /// once when the running and waiting places are all taken. The place and the slot are held
    /// until the check itself ends, even if the client gives up, so the bound is on real work.
    async fn verify(&self, hash: String, password: String) -> Result<bool, Status> {
        let capacity = self.limits.running + self.limits.queued;
        let before = self.admitted.fetch_add(1, Ordering::SeqCst);
        let admission = Admission(Arc::clone(&self.admitted));
        if before >= capacity {
            return Err(Status::resource_exhausted(format!(
                "too many logins at once ({} being checked, {} waiting): try again shortly",
                self.limits.running, self.limits.queued
            )));
        }
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Status::unavailable("the server is shutting down"))?;
        let (areas, running, peak, done) = (
            Arc::clone(&self.work_areas),
            Arc::clone(&self.running),
            Arc::clone(&self.peak),
            Arc::clone(&self.done),
        );
        tokio::task::spawn_blocking(move || {
            let _held = (admission, slot);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let mut work = areas
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .unwrap_or_default();
            let ok = verify_password(&hash, &password, &mut work);
            areas.lock().unwrap_or_else(|p| p.into_inner()).push(work);
            running.fetch_sub(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
            ok
        })
        .await
        .map_err(|e| Status::internal(format!("password check failed: {e}")))
    }
}

/// Logs users in and checks tokens.
#[derive(Debug)]
pub struct Authenticator {
    users: HashMap<String, User>,
    /// What an unknown user name is checked against (see [`dummy_hash_like`]).
    dummy_hash: String,
    checks: PasswordChecks,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Authenticator {
    /// Checks logins against `users`; tokens live for `ttl` by `clock`; password checks are
    /// bounded by the default [`LoginLimits`].
    pub fn new(users: &[User], ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::with_limits(users, ttl, clock, LoginLimits::default())
    }

    /// As [`Authenticator::new`], with password checks bounded by `limits`.
    pub fn with_limits(
        users: &[User],
        ttl: Duration,
        clock: Arc<dyn Clock>,
        limits: LoginLimits,
    ) -> Self {
        // Unknown names cost what the first configured user's hash costs (hashes made by
        // `ecomsql hash-password` all share the default parameters). `User::new` checked the
        // PHC string, so this only fails with no users, when nobody is checked at all.
        let dummy_hash = users
            .first()
            .and_then(|u| dummy_hash_like(&u.password_hash).ok())
            .unwrap_or_default();
        Self {
            users: users.iter().map(|u| (u.name.clone(), u.clone())).collect(),
            dummy_hash,
            checks: PasswordChecks::new(limits),
            ttl,
            clock,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// No users are configured: anyone may call.
    pub fn is_open(&self) -> bool {
        self.users.is_empty()
    }

    fn anonymous() -> Caller {
        Caller {
            user: "anonymous".to_string(),
            role: Role::Admin,
        }
    }

    /// The handshake: checks the `authorization: Basic …` header and returns a new token with
    /// the caller. Password checks run on a blocking thread (argon2 is slow on purpose), a
    /// bounded number at once; an unknown user is checked against the dummy hash so that it
    /// is refused no faster than a wrong password.
    pub async fn login(&self, metadata: &MetadataMap) -> Result<(String, Caller), Status> {
        let caller = match basic_credentials(metadata)? {
            None if self.is_open() => Self::anonymous(),
            None => {
                return Err(Status::unauthenticated(
                    "login needs user and password (authorization: Basic …)",
                ));
            }
            Some(_) if self.is_open() => Self::anonymous(),
            Some((name, password)) => {
                let user = self.users.get(&name);
                let hash = user.map_or(&self.dummy_hash, |u| &u.password_hash).clone();
                let ok = self.checks.verify(hash, password).await?;
                match user {
                    Some(user) if ok => Caller {
                        user: user.name.clone(),
                        role: user.role,
                    },
                    _ => return Err(Status::unauthenticated("invalid user name or password")),
                }
            }
        };
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = self.clock.now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            token.clone(),
            Session {
                caller: caller.clone(),
                expires: now + self.ttl,
            },
        );
        Ok((token, caller))
    }

    /// Checks the `authorization: Bearer …` header of a call.
    pub fn check(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        let header = metadata.get("authorization");
        let Some(header) = header else {
            if self.is_open() {
                return Ok(Self::anonymous());
            }
            return Err(Status::unauthenticated(
                "missing authorization header: log in with the handshake first",
            ));
        };
        let value = header
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization header is not text"))?;
        let Some(token) = strip_scheme(value, "Bearer") else {
            if self.is_open() {
                return Ok(Self::anonymous());
            }
            return Err(Status::unauthenticated(
                "authorization must be a Bearer token from the handshake",
            ));
        };
        let now = self.clock.now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(token) {
            Some(s) if s.expires > now => Ok(s.caller.clone()),
            Some(_) => {
                sessions.remove(token);
                Err(Status::unauthenticated("token expired: log in again"))
            }
            None if self.is_open() => Ok(Self::anonymous()),
            None => Err(Status::unauthenticated("unknown token: log in again")),
        }
    }
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = value.split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// User and password from `authorization: Basic base64(user:password)`, if present.
fn basic_credentials(metadata: &MetadataMap) -> Result<Option<(String, String)>, Status> {
    let Some(header) = metadata.get("authorization") else {
        return Ok(None);
    };
    let bad = |why: &str| Status::invalid_argument(format!("authorization header: {why}"));
    let value = header.to_str().map_err(|_| bad("not text"))?;
    let Some(encoded) = strip_scheme(value, "Basic") else {
        return Err(bad("expected Basic credentials for the handshake"));
    };
    // RFC 7617 pads; the ADBC Flight SQL (Go) driver does not: accept both.
    let decoded = STANDARD_NO_PAD_INDIFFERENT
        .decode(encoded)
        .map_err(|_| bad("Basic credentials are not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("Basic credentials are not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| bad("Basic credentials must be user:password"))?;
    Ok(Some((user.to_string(), password.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use std::task::Poll;

    fn basic(user: &str, pw: &str) -> MetadataMap {
        basic_encoded(&STANDARD.encode(format!("{user}:{pw}")))
    }

    fn basic_encoded(encoded: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        let v = format!("Basic {encoded}");
        m.insert("authorization", v.parse().unwrap());
        m
    }

    /// A reader with an argon2 hash of `pw`.
    fn reader(name: &str, pw: &str) -> User {
        User::new(name, &hash_password(pw).unwrap(), Role::Reader).unwrap()
    }

    fn authenticator(users: &[User], limits: LoginLimits) -> Authenticator {
        Authenticator::with_limits(
            users,
            Duration::from_secs(60),
            Arc::new(SystemClock),
            limits,
        )
    }

    fn bearer(token: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", format!("Bearer {token}").parse().unwrap());
        m
    }

    #[tokio::test]
    async fn login_check_expire() {
        let clock = Arc::new(ManualClock::default());
        let user = User::new("ann", &hash_password("pw").unwrap(), Role::Reader).unwrap();
        let auth = Authenticator::new(&[user], Duration::from_secs(60), clock.clone());
        assert!(!auth.is_open());
        let (token, caller) = auth.login(&basic("ann", "pw")).await.unwrap();
        assert_eq!(caller.role, Role::Reader);
        assert_eq!(auth.check(&bearer(&token)).unwrap().user, "ann");
        let wrong = auth.login(&basic("ann", "nope")).await.unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(auth.login(&basic("bob", "pw")).await.is_err());
        assert!(auth.check(&MetadataMap::new()).is_err());
        assert!(auth.check(&bearer("made-up")).is_err());
        clock.advance(Duration::from_secs(61));
        let expired = auth.check(&bearer(&token)).unwrap_err();
        assert!(expired.message().contains("expired"), "{expired}");
    }

    #[tokio::test]
    async fn open_server_lets_anyone_in_as_admin() {
        let auth = Authenticator::new(&[], Duration::from_secs(60), Arc::new(SystemClock));
        assert!(auth.is_open());
        assert_eq!(auth.check(&MetadataMap::new()).unwrap().role, Role::Admin);
        let (token, _) = auth.login(&MetadataMap::new()).await.unwrap();
        assert_eq!(auth.check(&bearer(&token)).unwrap().user, "anonymous");
    }

    #[test]
    fn hashes_are_salted_and_verify() {
        let a = hash_password("pw").unwrap();
        assert_ne!(a, hash_password("pw").unwrap());
        assert!(a.starts_with("$argon2id$"));
        let mut work = Vec::new();
        assert!(verify_password(&a, "pw", &mut work) && !verify_password(&a, "pW", &mut work));
        // The same answers as argon2's own verifier (which allocates per check), with one work
        // area reused across hashes of other parameters.
        use argon2::password_hash::PasswordVerifier;
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, Some(16)).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let b = small.hash_password(b"other", &salt).unwrap().to_string();
        for (hash, pw) in [(&a, "pw"), (&a, "x"), (&b, "other"), (&b, "pw"), (&a, "")] {
            let theirs = Argon2::default()
                .verify_password(pw.as_bytes(), &PasswordHash::new(hash).unwrap())
                .is_ok();
            assert_eq!(verify_password(hash, pw, &mut work), theirs, "{pw}");
        }
        assert!(User::new("x", "plain-text", Role::Admin).is_err());
    }

    #[tokio::test]
    async fn basic_credentials_padded_or_not_for_every_length_mod_3() {
        // "bob:pw_reader" (13 bytes) is what the ADBC driver failed to log in with.
        let users = [
            ("rita", "atir"),
            ("bob", "pw_reader"),
            ("dave", "pw_reader"),
        ];
        let lengths: Vec<usize> = users
            .iter()
            .map(|(u, p)| (u.len() + 1 + p.len()) % 3)
            .collect();
        assert_eq!(lengths, [0, 1, 2]);
        let hashed: Vec<User> = users.iter().map(|(u, p)| reader(u, p)).collect();
        let auth = authenticator(&hashed, LoginLimits::default());
        for (user, pw) in users {
            let text = format!("{user}:{pw}");
            for encoded in [STANDARD.encode(&text), STANDARD_NO_PAD.encode(&text)] {
                let got = basic_credentials(&basic_encoded(&encoded)).unwrap();
                assert_eq!(got, Some((user.to_string(), pw.to_string())), "{encoded}");
                let (_, caller) = auth.login(&basic_encoded(&encoded)).await.unwrap();
                assert_eq!(caller.user, user, "{encoded}");
            }
        }
        for garbage in ["not base64!", "Ym9i=OnB3", "Y"] {
            let err = basic_credentials(&basic_encoded(garbage)).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{garbage}");
            assert!(err.message().contains("not base64"), "{err}");
        }
    }

    #[tokio::test]
    async fn unknown_user_costs_a_password_check() {
        let auth = authenticator(&[reader("ann", "pw")], LoginLimits::default());
        let checks = || auth.checks.done.load(Ordering::SeqCst);
        let unknown = auth.login(&basic("nobody", "pw")).await.unwrap_err();
        assert_eq!(
            checks(),
            1,
            "the unknown user was checked against the dummy hash"
        );
        let wrong = auth.login(&basic("ann", "nope")).await.unwrap_err();
        assert_eq!(checks(), 2);
        // Both are refused alike.
        assert_eq!(unknown.code(), wrong.code());
        assert_eq!(unknown.message(), wrong.message());
        auth.login(&basic("ann", "pw")).await.unwrap();
        assert_eq!(checks(), 3);
    }

    #[test]
    fn dummy_hash_has_the_users_parameters_and_matches_nothing() {
        let real = hash_password("pw").unwrap();
        let dummy = dummy_hash_like(&real).unwrap();
        let (r, d) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(&dummy).unwrap(),
        );
        assert_eq!((r.algorithm, r.version), (d.algorithm, d.version));
        assert_eq!(r.params, d.params);
        assert_eq!(r.hash.unwrap().len(), d.hash.unwrap().len());
        assert_ne!(r.salt, d.salt);
        for pw in ["pw", "", "nope"] {
            assert!(!verify_password(&dummy, pw, &mut Vec::new()));
        }
        // An unparsable hash (never one from `User::new`) is an error, not a panic.
        assert!(dummy_hash_like("plain").is_err());
    }

    #[tokio::test]
    async fn password_checks_are_bounded_and_the_rest_refused() {
        let limits = LoginLimits {
            running: 2,
            queued: 3,
        };
        let auth = authenticator(&[reader("ann", "pw")], limits);
        // Hold every check slot so the flood piles up where the test can see it.
        let held = Arc::clone(&auth.checks.slots)
            .acquire_many_owned(2)
            .await
            .unwrap();
        let bad = basic("ann", "wrong");
        let mut flood: Vec<_> = (0..40).map(|_| Box::pin(auth.login(&bad))).collect();
        let mut waiting = Vec::new();
        let mut refused = 0;
        for mut login in flood.drain(..) {
            match futures::poll!(login.as_mut()) {
                Poll::Pending => waiting.push(login),
                Poll::Ready(Err(e)) => {
                    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
                    assert!(e.message().contains("too many logins"), "{e}");
                    refused += 1;
                }
                Poll::Ready(Ok(_)) => panic!("a wrong password logged in"),
            }
        }
        assert_eq!((waiting.len(), refused), (5, 35));
        assert_eq!(auth.checks.admitted.load(Ordering::SeqCst), 5);
        // Meanwhile a correct login is refused too (the queue is full), not queued unbounded.
        let busy = auth.login(&basic("ann", "pw")).await.unwrap_err();
        assert_eq!(busy.code(), tonic::Code::ResourceExhausted);

        drop(held);
        for e in futures::future::join_all(waiting).await {
            assert_eq!(e.unwrap_err().code(), tonic::Code::Unauthenticated);
        }
        assert_eq!(auth.checks.done.load(Ordering::SeqCst), 5);
        assert!(auth.checks.peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(auth.checks.admitted.load(Ordering::SeqCst), 0);
        // Once the flood is over a correct login goes through.
        auth.login(&basic("ann", "pw")).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_bad_logins_never_run_more_checks_than_allowed() {
        let limits = LoginLimits {
            running: 2,
            queued: 6,
        };
        let auth = Arc::new(authenticator(&[reader("ann", "pw")], limits));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60 {
            let auth = Arc::clone(&auth);
            let user = if i % 2 == 0 { "ann" } else { "nobody" };
            tasks.spawn(async move { auth.login(&basic(user, "wrong")).await });
        }
        let (mut refused, mut busy) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            match r.unwrap().unwrap_err().code() {
                tonic::Code::Unauthenticated => refused += 1,
                tonic::Code::ResourceExhausted => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(refused + busy, 60);
        assert_eq!(auth.checks.done.load(Ordering::SeqCst), refused);
        let peak = auth.checks.peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "peak {peak} checks at once");
        auth.login(&basic("ann", "pw")).await.unwrap();
    }
}
