//! The secret key that seals the stored configuration: where it is found, how it is read, made
//! and replaced, and the sealing itself (AES-256-GCM, from aws-lc-rs).
//!
//! The key never enters the database. It is found, in this order: the file named by
//! `UCSYNC_SECRET_KEY_FILE`; systemd's credential `$CREDENTIALS_DIRECTORY/ucsync-secret-key`
//! when that file exists; else `<data-dir>/secret.key`, which is made (32 random bytes, mode
//! 0600) the first time a configuration is sealed. A key file holds 32 bytes, or 64 hex digits.
//! A key is named by its id, a fingerprint that tells which key sealed what without revealing
//! the key. A key file is replaced by writing `<file>.new` (synced), then renaming it over the
//! file; a `.new` found beside a key that does not open the store is the end of a rotation that
//! was cut short. This module knows files and bytes, not the store's tables.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::data_dir::{self, PRIVATE_FILE};
use crate::{Result, StoreError};

/// The variable naming a key file kept elsewhere.
pub const KEY_ENV: &str = "UCSYNC_SECRET_KEY_FILE";
/// The name of the key among systemd's credentials (`LoadCredential=ucsync-secret-key:PATH`).
pub const CREDENTIAL: &str = "ucsync-secret-key";
/// The key file in the data directory.
pub const KEY_FILE: &str = "secret.key";
/// The cipher of every sealed value.
pub const CIPHER: &str = "AES-256-GCM";
const KEY_LEN: usize = 32;

/// Where the key in use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `UCSYNC_SECRET_KEY_FILE`.
    Env,
    /// `$CREDENTIALS_DIRECTORY/ucsync-secret-key` (systemd).
    Credential,
    /// `<data-dir>/secret.key`.
    DataDir,
}

impl KeyOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::Env => KEY_ENV,
            KeyOrigin::Credential => "systemd credential",
            KeyOrigin::DataDir => "data directory",
        }
    }
}

/// The key file in use and where its name came from.
#[derive(Debug, Clone)]
pub struct KeyLocation {
    pub path: PathBuf,
    pub origin: KeyOrigin,
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            KeyOrigin::Env => write!(f, "{} (named by {KEY_ENV})", self.path.display()),
            KeyOrigin::Credential => write!(
                f,
                "{} (systemd credential {CREDENTIAL})",
                self.path.display()
            ),
            KeyOrigin::DataDir => write!(f, "{}", self.path.display()),
        }
    }
}

impl KeyLocation {
    /// The key file of the store in `data_dir`, as this process's environment names it.
    pub fn find(data_dir: &Path) -> Self {
        Self::find_in(data_dir, |name| std::env::var_os(name))
    }

    /// [`KeyLocation::find`] with the environment given.
    pub fn find_in(data_dir: &Path, env: impl Fn(&str) -> Option<OsString>) -> Self {
        if let Some(path) = env(KEY_ENV).filter(|p| !p.is_empty()) {
            return Self {
                path: PathBuf::from(path),
                origin: KeyOrigin::Env,
            };
        }
        if let Some(dir) = env("CREDENTIALS_DIRECTORY").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(dir).join(CREDENTIAL);
            if path.exists() {
                return Self {
                    path,
                    origin: KeyOrigin::Credential,
                };
            }
        }
        Self {
            path: data_dir.join(KEY_FILE),
            origin: KeyOrigin::DataDir,
        }
    }

    /// Whether ucsync may replace this file (a systemd credential belongs to its unit).
    pub fn replaceable(&self) -> bool {
        self.origin != KeyOrigin::Credential
    }

    /// Where a new key waits during a rotation: `<file>.new`.
    pub fn pending(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".new");
        PathBuf::from(name)
    }

    /// The key, or `None` when there is no such file.
    pub fn read(&self) -> Result<Option<SecretKey>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::Secret(format!(
                    "cannot read the secret key {self}: {e}; make it readable by the user ucsync runs as (and by no one else: chmod 600)"
                )));
            }
        };
        if self.replaceable() {
            data_dir::tighten(&self.path, PRIVATE_FILE, "the secret key");
        }
        SecretKey::from_file(&bytes, &self.to_string()).map(Some)
    }

    /// Makes the data directory's key file (first use). Only `<data-dir>/secret.key` is made; a
    /// key named by the environment must exist.
    pub fn create(&self) -> Result<SecretKey> {
        if self.origin != KeyOrigin::DataDir {
            return Err(StoreError::Secret(format!(
                "the secret key {self} does not exist: put a key there (32 random bytes: `head -c 32 /dev/urandom > {p}; chmod 600 {p}`), or unset {KEY_ENV} to let ucsync keep its key beside the store",
                p = self.path.display()
            )));
        }
        let key = SecretKey::generate()?;
        match write_key_file(&self.path, key.bytes.as_slice(), true) {
            Ok(()) => {
                tracing::warn!(
                    "made the secret key {} (key {}): it seals the secrets of the stored configuration; back it up apart from the database",
                    self.path.display(),
                    key.id
                );
                Ok(key)
            }
            // Another process made it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.read()?.ok_or_else(|| {
                    StoreError::Secret(format!("the secret key {self} vanished while being made"))
                })
            }
            Err(e) => Err(StoreError::Secret(format!(
                "cannot make the secret key {self}: {e}; the data directory must be writable by the user ucsync runs as"
            ))),
        }
    }

    /// Writes `key` to `<file>.new`, synced, ready to replace the key file.
    pub fn write_pending(&self, key: &SecretKey) -> Result<()> {
        let pending = self.pending();
        write_key_file(&pending, key.bytes.as_slice(), false).map_err(|e| {
            StoreError::Secret(format!(
                "cannot write the new secret key {}: {e}; ucsync replaces the key file it reads (writes the new key beside it, then renames it), so its directory must be writable by the user ucsync runs as",
                pending.display()
            ))
        })
    }

    /// Renames `<file>.new` over the key file, durably.
    pub fn install_pending(&self) -> Result<()> {
        std::fs::rename(self.pending(), &self.path).map_err(|e| {
            StoreError::Secret(format!(
                "cannot replace the secret key {self} with {}: {e}",
                self.pending().display()
            ))
        })?;
        data_dir::sync_dir(&self.path);
        Ok(())
    }
}

/// What `ucsync secrets status` shows: the key found, and the key the stored configuration is
/// sealed with.
#[derive(Debug, Clone)]
pub struct SecretStatus {
    pub location: KeyLocation,
    /// The id of the key found; `None` when there is no key file yet.
    pub key_id: Option<String>,
    /// Why the key file could not be used, if so.
    pub key_error: Option<String>,
    /// The key the stored configuration is sealed with; `None` when none is stored.
    pub sealed_with: Option<String>,
    /// Whether the key found opens the stored configuration (true when none is stored).
    pub opens: bool,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub location: KeyLocation,
    /// The key that sealed the configuration before, if any.
    pub old_id: Option<String>,
    pub new_id: String,
    /// Whether the key file was replaced (a systemd credential is installed by its owner).
    pub installed: bool,
    /// Whether a configuration was sealed again.
    pub resealed: bool,
}

/// Writes a key file of mode 0600 and syncs it and its directory; `new` refuses an existing
/// file.
fn write_key_file(path: &Path, bytes: &[u8], new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = data_dir::private_file(&mut options).open(path)?;
    data_dir::set_mode_of(&file, PRIVATE_FILE)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    data_dir::sync_dir(path);
    Ok(())
}

/// A 256-bit key and its id.
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    id: String,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// 32 bytes from the system's random source.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| {
            StoreError::Secret("the system's random source gave no bytes for a new key".into())
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key file's content: 32 bytes, or 64 hex digits (surrounding white space ignored).
    /// `what` names the file in the error.
    pub fn from_file(content: &[u8], what: &str) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if content.len() == KEY_LEN {
            bytes.copy_from_slice(content);
            return Ok(Self::from_bytes(bytes));
        }
        let text = content.trim_ascii();
        if text.len() == 2 * KEY_LEN && text.iter().all(u8::is_ascii_hexdigit) {
            for (i, pair) in text.chunks(2).enumerate() {
                bytes[i] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            }
            return Ok(Self::from_bytes(bytes));
        }
        Err(StoreError::Secret(format!(
            "{what} is not a secret key: it holds {} bytes, and a key is {KEY_LEN} random bytes (or {} hex digits); restore the key file from your backup",
            content.len(),
            2 * KEY_LEN
        )))
    }

    /// A key file given on the command line (a new key for a rotation).
    pub fn read_file(path: &Path) -> Result<Self> {
        let content = Zeroizing::new(std::fs::read(path).map_err(|e| {
            StoreError::Secret(format!("cannot read the key file {}: {e}", path.display()))
        })?);
        Self::from_file(&content, &path.display().to_string())
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let mut input = b"ucsync secret key id\0".to_vec();
        input.extend_from_slice(bytes.as_slice());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
        input.fill(0);
        let id = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self { bytes, id }
    }

    /// The key's fingerprint: 16 hex digits, safe to show and to store.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, self.bytes.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| StoreError::Secret("the secret key was refused by the cipher".into()))
    }

    /// `plain` sealed: a random nonce, then the ciphertext and its tag. `context` is bound to it
    /// (the same must be given to open it).
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| {
            StoreError::Secret("the system's random source gave no bytes for a nonce".into())
        })?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
        sealed.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.cipher()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut body,
            )
            .map_err(|_| StoreError::Secret("sealing a secret failed".into()))?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    /// What [`SecretKey::seal`] sealed, or `None` when this key (or `context`) does not open
    /// it, or it was changed.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = Zeroizing::new(body.to_vec());
        let len = self
            .cipher()
            .ok()?
            .open_in_place(nonce, Aad::from(context), body.as_mut_slice())
            .ok()?
            .len();
        body.truncate(len);
        Some(body)
    }
}

/// The value of an ASCII hex digit (checked before).
fn hex_value(digit: u8) -> u8 {
    (digit as char).to_digit(16).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn what_one_key_seals_only_it_opens_in_the_same_context() {
        let a = SecretKey::generate().unwrap();
        let b = SecretKey::generate().unwrap();
        assert_ne!(a.id(), b.id());
        let sealed = a.seal(b"password = \"x\"", b"ctx").unwrap();
        assert_eq!(
            a.open(&sealed, b"ctx").unwrap().as_slice(),
            b"password = \"x\""
        );
        assert!(b.open(&sealed, b"ctx").is_none());
        assert!(a.open(&sealed, b"other").is_none());
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert!(a.open(&changed, b"ctx").is_none());
        assert!(a.open(&sealed[..5], b"ctx").is_none());
        assert_ne!(
            a.seal(b"same", b"ctx").unwrap(),
            a.seal(b"same", b"ctx").unwrap()
        );
    }

    #[test]
    fn a_key_file_is_32_bytes_or_64_hex_digits() {
        let raw = [0xabu8; 32];
        let from_raw = SecretKey::from_file(&raw, "k").unwrap();
        let from_hex =
            SecretKey::from_file(format!("{}\n", "aB".repeat(32)).as_bytes(), "k").unwrap();
        assert_eq!(from_raw.id(), from_hex.id());
        assert_eq!(from_raw.id().len(), 16);
        let err = SecretKey::from_file(b"short\n", "/etc/k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/k") && err.contains("6 bytes"), "{err}");
        assert!(SecretKey::from_file("zz".repeat(32).as_bytes(), "k").is_err());
    }

    #[test]
    fn the_environment_names_the_key_before_the_credential_before_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir_all(&creds).unwrap();
        let data = dir.path().join("data");
        let env = |vars: Vec<(&'static str, OsString)>| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let none = KeyLocation::find_in(&data, env(vec![]));
        assert_eq!(none.origin, KeyOrigin::DataDir);
        assert_eq!(none.path, data.join("secret.key"));
        // A credentials directory without our credential is someone else's.
        let other = KeyLocation::find_in(
            &data,
            env(vec![("CREDENTIALS_DIRECTORY", creds.clone().into())]),
        );
        assert_eq!(other.origin, KeyOrigin::DataDir);
        std::fs::write(creds.join(CREDENTIAL), [1u8; 32]).unwrap();
        let cred = KeyLocation::find_in(
            &data,
            env(vec![("CREDENTIALS_DIRECTORY", creds.clone().into())]),
        );
        assert_eq!(cred.origin, KeyOrigin::Credential);
        assert!(!cred.replaceable());
        let named = KeyLocation::find_in(
            &data,
            env(vec![
                ("CREDENTIALS_DIRECTORY", creds.into()),
                (KEY_ENV, "/etc/ucsync/key".into()),
            ]),
        );
        assert_eq!(named.origin, KeyOrigin::Env);
        assert_eq!(named.pending(), PathBuf::from("/etc/ucsync/key.new"));
        assert!(named.to_string().contains(KEY_ENV));
    }
}
