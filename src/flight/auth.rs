//! Authentication: the Flight handshake with HTTP Basic credentials answered by a Bearer token
//! (what the JDBC and ADBC Flight SQL drivers expect), and the token checked on every call.
//!
//! Users come from the config (`[[flight.users]]`) with argon2 password hashes; tokens are
//! random, kept in memory, and expire after the configured time. With no users configured the
//! server is open (every caller is the `admin` "anonymous"), which `serve` allows on loopback
//! only. Time comes from a [`Clock`] so tests can expire tokens without waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
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

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
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

/// Logs users in and checks tokens.
#[derive(Debug)]
pub struct Authenticator {
    users: HashMap<String, User>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Authenticator {
    /// Checks logins against `users`; tokens live for `ttl` by `clock`.
    pub fn new(users: &[User], ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            users: users.iter().map(|u| (u.name.clone(), u.clone())).collect(),
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
    /// the caller. Password checks run on a blocking thread (argon2 is slow on purpose).
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
                let refused = || Status::unauthenticated("invalid user name or password");
                let user = self.users.get(&name).cloned().ok_or_else(refused)?;
                let hash = user.password_hash.clone();
                let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
                    .await
                    .map_err(|e| Status::internal(format!("password check failed: {e}")))?;
                if !ok {
                    return Err(refused());
                }
                Caller {
                    user: user.name,
                    role: user.role,
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
    let decoded = STANDARD
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

    fn basic(user: &str, pw: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        let v = format!("Basic {}", STANDARD.encode(format!("{user}:{pw}")));
        m.insert("authorization", v.parse().unwrap());
        m
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
        assert!(verify_password(&a, "pw") && !verify_password(&a, "pW"));
        assert!(User::new("x", "plain-text", Role::Admin).is_err());
    }
}
