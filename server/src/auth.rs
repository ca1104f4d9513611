//! Authentication: password hashing, access tokens (HS256 JWTs), refresh tokens, the
//! login rate limiter, and the `AuthUser` extractor every protected handler takes.

use crate::AppState;
use crate::db::users::User;
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use haitang_sync::protocol::ErrorCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Signing and checking keys for access tokens. Held in the app state so tests can bring
/// their own.
pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl AuthKeys {
    pub fn from_secret(secret: &[u8]) -> AuthKeys {
        // Only HS256 is accepted: `alg: none` and public-key algorithms (the confusion
        // attack) fail validation before the signature is even looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        AuthKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id, as a string per RFC 7519.
    pub sub: String,
    /// Session id: revoking the session invalidates the token at once.
    pub sid: i64,
    pub iat: i64,
    pub exp: i64,
}

/// Hashes a password with argon2id. Slow on purpose: call it off the async workers.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("hashing: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The rule for passwords an administrator sets: at least 8 characters, since it is the
/// only lock on a phone left in a lane.
pub fn password_policy(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err("a password needs 8 to 1024 characters");
    }
    Ok(())
}

/// Argon2id off the async workers, a few hashes at a time. Each hash holds 19 MiB and one
/// core for tens of milliseconds, so running more at once than there are cores only queues
/// the same work and multiplies the memory: a shift of phones signing in at once would
/// otherwise ask for gigabytes.
#[derive(Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
}

impl Passwords {
    pub fn new(at_once: usize) -> Passwords {
        Passwords {
            slots: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// As many hashes at once as this machine has cores.
    pub fn per_core() -> Passwords {
        Passwords::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ApiError::Internal("the password slots are closed".into()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::Internal(format!("password task: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_password(&password)).await?
    }

    /// Whether `password` matches `hash`. Without a hash (an unknown username) it checks a
    /// decoy, so that a wrong username takes as long as a wrong password and does not
    /// reveal which accounts exist.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        self.run(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                verify_password(&password, decoy_hash());
                false
            }
        })
        .await
    }
}

fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("haitang-decoy").unwrap_or_default())
}

/// A fresh refresh token and the SHA-256 the database keeps instead of it.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

pub fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The 32-byte pad that seals the successor of `presented`: derived from the presented
/// token, which the database never holds, and used for that one successor only.
fn successor_pad(presented: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"haitang refresh successor\0");
    h.update(presented.as_bytes());
    h.finalize().into()
}

/// `successor` sealed so that only whoever presents `presented` again can open it: what
/// the database keeps to give a retried refresh the same answer.
pub fn seal_successor(presented: &str, successor: &str) -> Vec<u8> {
    let raw = URL_SAFE_NO_PAD.decode(successor).unwrap_or_default();
    raw.iter()
        .zip(successor_pad(presented))
        .map(|(b, p)| b ^ p)
        .collect()
}

/// The successor token sealed by [`seal_successor`] for `presented`.
pub fn open_successor(presented: &str, sealed: &[u8]) -> String {
    let raw: Vec<u8> = sealed
        .iter()
        .zip(successor_pad(presented))
        .map(|(b, p)| b ^ p)
        .collect();
    URL_SAFE_NO_PAD.encode(raw)
}

/// A fresh 32-byte signing secret, for a server started without one.
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

/// Limits on login attempts. A username is limited per client address, so that a few
/// bad attempts from somewhere else cannot lock its owner out, and also in total, at a
/// much higher ceiling, so that guessing from many addresses stays slow. Each address is
/// limited across all usernames.
pub struct LoginLimiter {
    by_user_addr: DefaultKeyedRateLimiter<(String, IpAddr)>,
    by_user: DefaultKeyedRateLimiter<String>,
    by_addr: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    pub fn new(
        per_minute_user: u32,
        per_minute_user_total: u32,
        per_minute_ip: u32,
    ) -> LoginLimiter {
        let quota = |n: u32| {
            let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        LoginLimiter {
            by_user_addr: RateLimiter::keyed(quota(per_minute_user)),
            by_user: RateLimiter::keyed(quota(per_minute_user_total)),
            by_addr: RateLimiter::keyed(quota(per_minute_ip)),
        }
    }

    /// Counts one attempt; `Err(seconds)` when a limit is exhausted. The narrower limits
    /// are checked first, so attempts one of them refuses do not use up the total.
    pub fn check(&self, username: &str, addr: IpAddr) -> Result<(), u64> {
        // Forget idle keys now and then so a flood of usernames cannot grow memory.
        if self.by_user_addr.len() > 10_000 {
            self.by_user_addr.retain_recent();
        }
        if self.by_user.len() > 10_000 {
            self.by_user.retain_recent();
        }
        if self.by_addr.len() > 10_000 {
            self.by_addr.retain_recent();
        }
        let clock = governor::clock::DefaultClock::default();
        let wait = |d: Duration| d.as_secs_f64().ceil().max(1.0) as u64;
        use governor::clock::Clock;
        if let Err(not_until) = self.by_addr.check_key(&addr) {
            return Err(wait(not_until.wait_time_from(clock.now())));
        }
        let user_key = username.to_lowercase();
        if let Err(not_until) = self.by_user_addr.check_key(&(user_key.clone(), addr)) {
            return Err(wait(not_until.wait_time_from(clock.now())));
        }
        if let Err(not_until) = self.by_user.check_key(&user_key) {
            return Err(wait(not_until.wait_time_from(clock.now())));
        }
        Ok(())
    }
}

/// The authenticated caller: a valid, unrevoked access token of an active user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    pub session_id: i64,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::unauthorized(ErrorCode::Unauthorized, m);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("sign in first: no Authorization header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let claims = state
            .keys
            .verify(token.trim())
            .ok_or_else(|| unauthorized("the access token is invalid or expired"))?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| unauthorized("the access token is invalid"))?;
        let (user, rotated_iat) = state
            .db
            .session_user(claims.sid, user_id)
            .await?
            .ok_or_else(|| unauthorized("this session has ended; sign in again"))?;
        // The first use of a freshly rotated pair ends the rotation's retry grace.
        if rotated_iat.is_some_and(|iat| claims.iat >= iat) {
            state.db.confirm_rotation(claims.sid, claims.iat).await?;
        }
        Ok(AuthUser {
            user,
            session_id: claims.sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let h = hash_password("demo").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("demo", &h));
        assert!(!verify_password("Demo", &h));
        assert!(!verify_password("demo", "not a hash"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn password_work_waits_for_a_slot() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let passwords = Passwords::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (passwords, running, most) = (passwords.clone(), running.clone(), most.clone());
            tasks.spawn(async move {
                passwords
                    .run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(30));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("joined").expect("ran");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);

        let hash = passwords
            .hash("a good password".into())
            .await
            .expect("hash");
        assert!(
            passwords
                .verify("a good password".into(), Some(hash.clone()))
                .await
                .expect("ran")
        );
        assert!(
            !passwords
                .verify("wrong".into(), Some(hash))
                .await
                .expect("ran")
        );
        assert!(
            !passwords
                .verify("a good password".into(), None)
                .await
                .expect("ran")
        );
    }

    #[test]
    fn a_sealed_successor_opens_only_with_its_token() {
        let (presented, _) = new_refresh_token();
        let (successor, _) = new_refresh_token();
        let sealed = seal_successor(&presented, &successor);
        assert_eq!(sealed.len(), 32);
        assert_ne!(URL_SAFE_NO_PAD.encode(&sealed), successor);
        assert_eq!(open_successor(&presented, &sealed), successor);
        let (other, _) = new_refresh_token();
        assert_ne!(open_successor(&other, &sealed), successor);
    }

    #[test]
    fn tokens_round_trip_and_reject_other_keys() {
        let keys = AuthKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let claims = Claims {
            sub: "7".into(),
            sid: 3,
            iat: now,
            exp: now + 60,
        };
        let token = keys.sign(&claims).expect("sign");
        assert_eq!(keys.verify(&token), Some(claims.clone()));
        let other = AuthKeys::from_secret(b"another key another key another!");
        assert_eq!(other.verify(&token), None);
        let expired = keys
            .sign(&Claims {
                exp: now - 60,
                ..claims
            })
            .expect("sign");
        assert_eq!(keys.verify(&expired), None);
    }

    #[test]
    fn limiter_counts_per_user_and_address() {
        let l = LoginLimiter::new(2, 100, 100);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check("grid1", a).is_ok());
        assert!(l.check("GRID1", a).is_ok());
        let wait = l.check("grid1", a).expect_err("third attempt");
        assert!(wait >= 1);
        assert!(l.check("grid2", a).is_ok());
        assert!(l.check("grid1", b).is_ok(), "the same user from elsewhere");
        let l = LoginLimiter::new(100, 100, 1);
        assert!(l.check("a", a).is_ok());
        assert!(l.check("b", a).is_err());
        assert!(l.check("b", [10, 0, 0, 2].into()).is_ok());
    }

    #[test]
    fn a_username_has_a_ceiling_over_all_addresses() {
        let l = LoginLimiter::new(2, 5, 100);
        for i in 0..5u8 {
            assert!(l.check("grid1", [10, 0, 1, i].into()).is_ok(), "{i}");
        }
        assert!(l.check("grid1", [10, 0, 2, 0].into()).is_err());
        assert!(l.check("grid2", [10, 0, 2, 0].into()).is_ok());
        // Attempts a narrower limit refused do not count towards the ceiling.
        let l = LoginLimiter::new(1, 3, 100);
        let a: IpAddr = [10, 0, 0, 1].into();
        assert!(l.check("grid1", a).is_ok());
        for _ in 0..10 {
            assert!(l.check("grid1", a).is_err());
        }
        assert!(l.check("grid1", [10, 0, 0, 2].into()).is_ok());
        assert!(l.check("grid1", [10, 0, 0, 3].into()).is_ok());
        assert!(l.check("grid1", [10, 0, 0, 4].into()).is_err());
    }
}
