//! Who may call the API: administrators with argon2-hashed passwords, bearer tokens (random,
//! shown once, kept as SHA-256 hashes), three roles, and logins slowed down after failures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

/// What an administrator may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Read, run profiles and Sync Now.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// An argon2id hash of `password` in PHC form.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no random numbers: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new API token: `ucs_` and 32 random bytes in hex.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers: {e}"))?;
    Ok(format!("ucs_{}", hex(&bytes)))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Failed logins per name: after [`FREE_FAILURES`] in a row, each further attempt must wait,
/// twice as long each time, up to [`MAX_WAIT`]. A success clears the count.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

pub const FREE_FAILURES: u32 = 3;
const MAX_WAIT: Duration = Duration::from_secs(300);

impl Throttle {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (u32, Instant)>) -> R) -> R {
        match self.failures.lock() {
            Ok(mut m) => f(&mut m),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// How long `name` must still wait before another attempt, if at all.
    pub fn wait(&self, name: &str) -> Option<Duration> {
        self.with(|m| {
            let (count, last) = *m.get(name)?;
            let wait = delay(count)?;
            wait.checked_sub(last.elapsed())
        })
    }

    pub fn failed(&self, name: &str) {
        self.with(|m| {
            let e = m.entry(name.to_owned()).or_insert((0, Instant::now()));
            e.0 = e.0.saturating_add(1);
            e.1 = Instant::now();
        });
    }

    pub fn succeeded(&self, name: &str) {
        self.with(|m| m.remove(name));
    }
}

fn delay(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    let secs = 1u64.checked_shl(over.min(16)).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("S3cret", &h));
        assert!(!verify_password("s3cret", "not a hash"));
        let t = new_token().unwrap();
        assert_eq!(t.len(), 4 + 64);
        assert_ne!(t, new_token().unwrap());
        assert_eq!(token_hash(&t).len(), 64);
        assert_ne!(token_hash(&t), t);
    }

    #[test]
    fn failed_logins_wait_longer_and_longer() {
        assert_eq!(delay(FREE_FAILURES - 1), None);
        assert_eq!(delay(FREE_FAILURES), Some(Duration::from_secs(1)));
        assert_eq!(delay(FREE_FAILURES + 3), Some(Duration::from_secs(8)));
        assert_eq!(delay(FREE_FAILURES + 40), Some(MAX_WAIT));
        let t = Throttle::default();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.wait("ann"), None);
            t.failed("ann");
        }
        assert!(t.wait("ann").is_some());
        assert_eq!(t.wait("bob"), None);
        t.succeeded("ann");
        assert_eq!(t.wait("ann"), None);
    }
}
