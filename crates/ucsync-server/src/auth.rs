//! Who may call the API: administrators with argon2-hashed passwords, bearer tokens (random,
//! shown once, kept as SHA-256 hashes) and three roles. A sign-in with an unknown name costs
//! the same argon2 verification as one with a known name, against a dummy hash; how failed
//! logins are slowed down is [`crate::throttle`]'s. The rules for administrators that the API
//! and the command line share (names, passwords, always one with the admin role) and how an
//! administrator and a token are shown (never a hash) are here too.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ucsync_store::{AdminRow, TokenRow};

/// What an administrator may do. Each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A peer server: reads the peer feed of the one enterprise it is bound to, nothing else.
    Peer,
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
            "peer" => Some(Role::Peer),
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Peer => "peer",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// Whether `enterprise` (an enterprise ID) goes with `role`: an administrator with the peer role
/// is bound to one enterprise, and only such an administrator is.
pub fn check_binding(role: Role, enterprise: Option<&str>) -> Result<(), String> {
    match (role, enterprise) {
        (Role::Peer, None) => Err(
            "the peer role reads one enterprise's peer feed: name it, with --enterprise ID (\"enterprise\" over the API)"
                .into(),
        ),
        (Role::Peer, Some(id)) => ucsync_model::check_enterprise_id(id)
            .map_err(|m| format!("enterprise: {m}")),
        (_, Some(_)) => Err(format!(
            "only the peer role is bound to an enterprise; the {} role sees every one: leave the enterprise out",
            role.as_str()
        )),
        (_, None) => Ok(()),
    }
}

/// Why a new password is refused, if it is.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("the password is shorter than 8 characters; choose a longer one".into());
    }
    Ok(())
}

/// Who the audit and the runs name for what the command line does without a server.
pub const LOCAL: &str = "local";
/// Who the audit and the runs name for what a schedule starts.
pub const SCHEDULER: &str = "scheduler";
/// The names the audit and the runs give to who is not an administrator; no administrator may
/// have them.
pub const RESERVED_NAMES: [&str; 2] = [LOCAL, SCHEDULER];

/// Why an administrator's name is refused, if it is: 1 to 64 characters, no control
/// character, no `/`, no space at either end, none of [`RESERVED_NAMES`].
pub fn check_name(name: &str) -> Result<(), String> {
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "\"{name}\" names {} in the audit and the runs; choose another administrator name",
            if name == LOCAL {
                "the command line without a server"
            } else {
                "the scheduler"
            }
        ));
    }
    let count = name.chars().count();
    if count == 0 || count > 64 {
        return Err(format!(
            "an administrator's name has 1 to 64 characters; \"{name}\" has {count}"
        ));
    }
    if name.chars().any(|c| c.is_control() || c == '/') || name.trim() != name {
        return Err(format!(
            "an administrator's name has no control character, no \"/\" and no space at either end; \"{}\" does not qualify",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// Refuses a change that would leave no administrator with the admin role: removing `name`
/// (`new_role` `None`) or giving it `new_role`, when it is the last one with the admin role.
pub fn keeps_an_admin(
    admins: &[AdminRow],
    name: &str,
    new_role: Option<Role>,
) -> Result<(), String> {
    let is_admin = |a: &AdminRow| Role::parse(&a.role) == Some(Role::Admin);
    let Some(target) = admins.iter().find(|a| a.name == name) else {
        return Ok(());
    };
    if !is_admin(target) || new_role == Some(Role::Admin) {
        return Ok(());
    }
    if admins.iter().any(|a| a.name != name && is_admin(a)) {
        return Ok(());
    }
    let what = match new_role {
        None => "removed".to_owned(),
        Some(role) => format!("given the {} role", role.as_str()),
    };
    Err(format!(
        "{name} is the last administrator with the admin role and cannot be {what}; give another administrator the admin role first"
    ))
}

/// An administrator as the API and the CLI show one: name, role, when created, and how many of
/// `tokens` are theirs. Never the password's hash.
pub fn admin_json(a: &AdminRow, tokens: &[TokenRow]) -> Value {
    json!({
        "name": a.name,
        "role": a.role,
        "created_at": a.created_at,
        "token_count": tokens.iter().filter(|t| t.admin == a.name).count(),
    })
}

/// The label of the tokens `POST /api/v1/login` gives: signed-in sessions, which a change of
/// the administrator's password ends.
pub const LOGIN_LABEL: &str = "login";

/// Whether `label` may name a token made for an administrator (by the API or the CLI): at most
/// 64 characters, no control character, and not the label of signed-in sessions.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.chars().count() > 64 || label.chars().any(char::is_control) {
        return Err("label: at most 64 characters, no control character".into());
    }
    if label == LOGIN_LABEL {
        return Err(format!(
            "label: {LOGIN_LABEL} is kept for the tokens of signed-in sessions (a password change ends them); choose another"
        ));
    }
    Ok(())
}

/// How the audit says that a password change ended `n` signed-in sessions.
pub fn sessions_ended(n: u64) -> String {
    match n {
        1 => "1 signed-in session ended".to_owned(),
        n => format!("{n} signed-in sessions ended"),
    }
}

/// An API token as the API and the CLI show one: id, administrator, label, when created.
/// Never the token or its hash.
pub fn token_json(t: &TokenRow) -> Value {
    json!({ "id": t.id, "admin": t.admin, "label": t.label, "created_at": t.created_at })
}

/// An argon2id hash of `password` in PHC form.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no random numbers: {e}"))?;
    hash_with_salt(password, &salt)
}

fn hash_with_salt(password: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
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

/// An argon2id hash made like every administrator's ([`hash_password`]), made once. Its
/// password and salt need no secrecy: a verification against it always answers no.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_with_salt("no administrator has this password", b"ucsync-no-admin!").unwrap_or_else(|e| {
        tracing::error!("cannot make the dummy password hash: {e}; a login with an unknown name is answered faster than one with a known name");
        String::new()
    })
});

/// Whether `password` is the one of `hash`, taking as long when there is no hash (an unknown
/// name) or the stored hash is damaged: then it verifies against [`DUMMY_HASH`] and says no.
/// So the time of a sign-in's answer does not tell whether the name exists.
pub fn verify_password_or_dummy(password: &str, hash: Option<&str>) -> bool {
    match hash.map(PasswordHash::new) {
        Some(Ok(h)) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        _ => {
            let _ = verify_password(password, &DUMMY_HASH);
            false
        }
    }
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

/// A peer's client certificate (`ucsync serve --tls-client-ca`) is kept with the API tokens,
/// under this key made of the SHA-256 of the certificate (DER): it is listed, revoked and
/// removed with its administrator as a token is, and can never equal a token's hash.
pub fn certificate_key(fingerprint: &[u8; 32]) -> String {
    format!("certificate:{}", hex(fingerprint))
}

/// A fingerprint as `openssl x509 -fingerprint -sha256` prints it: `AB:CD:…`.
pub fn fingerprint_text(fingerprint: &[u8]) -> String {
    let pairs: Vec<String> = fingerprint.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// The SHA-256 of the first certificate in PEM text: the client certificate a peer shows.
pub fn certificate_fingerprint(pem: &[u8]) -> Result<[u8; 32], String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    match CertificateDer::pem_slice_iter(pem).next() {
        Some(Ok(der)) => Ok(Sha256::digest(der.as_ref()).into()),
        Some(Err(e)) => Err(format!(
            "the certificate cannot be read: {e}; give the peer's client certificate as PEM"
        )),
        None => Err(
            "there is no PEM certificate in it; give the peer's client certificate as PEM (-----BEGIN CERTIFICATE-----)"
                .into(),
        ),
    }
}

/// The label a registered client certificate is listed with.
pub fn certificate_label(fingerprint: &[u8; 32]) -> String {
    format!(
        "client certificate SHA-256 {}…",
        fingerprint_text(&fingerprint[..8])
    )
}

/// Whether a client certificate may identify `admin`: it reads the peer feed and nothing else,
/// so only an administrator with the peer role may have one.
pub fn check_certificate_holder(admin: &AdminRow) -> Result<(), String> {
    if Role::parse(&admin.role) == Some(Role::Peer) {
        Ok(())
    } else {
        Err(format!(
            "{} has the {} role; a client certificate identifies a peer server only: register it for an administrator with the peer role (`ucsync admin add NAME --role peer --enterprise ID`)",
            admin.name, admin.role
        ))
    }
}

/// A client certificate registered for a peer: its entry among the tokens, its label and its
/// fingerprint as [`fingerprint_text`] writes it.
pub struct RegisteredCertificate {
    pub id: i64,
    pub label: String,
    pub sha256: String,
}

/// Why a client certificate was not registered.
pub enum NotRegistered {
    /// No administrator has the name.
    NoAdmin,
    /// The certificate or the administrator does not qualify; the message says why.
    Refused(String),
    /// The certificate is registered already, for the administrator named.
    Registered(String),
    Store(ucsync_store::StoreError),
}

/// Registers the client certificate in `pem` for the peer administrator `name` (the command
/// line's `ucsync admin certificate` and the API's `POST /api/v1/admins/{name}/certificates`).
pub async fn register_certificate(
    store: &dyn ucsync_store::AdminStore,
    name: &str,
    pem: &[u8],
) -> Result<RegisteredCertificate, NotRegistered> {
    let fingerprint = certificate_fingerprint(pem).map_err(NotRegistered::Refused)?;
    let admin = store
        .admin(name)
        .await
        .map_err(NotRegistered::Store)?
        .ok_or(NotRegistered::NoAdmin)?;
    check_certificate_holder(&admin).map_err(NotRegistered::Refused)?;
    let key = certificate_key(&fingerprint);
    if let Some(holder) = store
        .admin_by_token(&key)
        .await
        .map_err(NotRegistered::Store)?
    {
        return Err(NotRegistered::Registered(format!(
            "this certificate is registered already, for {0}; revoke it there first (`ucsync admin tokens {0}` lists it)",
            holder.name
        )));
    }
    let label = certificate_label(&fingerprint);
    let id = store
        .add_token(admin.id, &key, &label)
        .await
        .map_err(NotRegistered::Store)?;
    Ok(RegisteredCertificate {
        id,
        label,
        sha256: fingerprint_text(&fingerprint),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn the_last_admin_role_is_kept() {
        let row = |name: &str, role: &str| AdminRow {
            id: 0,
            name: name.into(),
            role: role.into(),
            password_hash: String::new(),
            created_at: String::new(),
            enterprise: None,
        };
        let one = [row("alice", "admin"), row("otto", "operator")];
        let err = keeps_an_admin(&one, "alice", None).unwrap_err();
        assert!(err.contains("alice is the last administrator"), "{err}");
        let err = keeps_an_admin(&one, "alice", Some(Role::Viewer)).unwrap_err();
        assert!(err.contains("given the viewer role"), "{err}");
        assert!(keeps_an_admin(&one, "alice", Some(Role::Admin)).is_ok());
        assert!(keeps_an_admin(&one, "otto", None).is_ok());
        assert!(keeps_an_admin(&one, "nobody", None).is_ok());
        let two = [row("alice", "admin"), row("bob", "admin")];
        assert!(keeps_an_admin(&two, "alice", None).is_ok());
        assert!(check_name("otto").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(" a").is_err());
        assert!(check_name("local").unwrap_err().contains("command line"));
        assert!(check_name("scheduler").unwrap_err().contains("scheduler"));
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
    }

    #[test]
    fn an_unknown_name_is_verified_against_a_dummy_hash_like_a_known_one() {
        let h = hash_password("s3cret").unwrap();
        assert!(verify_password_or_dummy("s3cret", Some(&h)));
        assert!(!verify_password_or_dummy("S3cret", Some(&h)));
        assert!(!verify_password_or_dummy("s3cret", None));
        assert!(!verify_password_or_dummy("", None));
        assert!(!verify_password_or_dummy("s3cret", Some("not a hash")));
        // Made with the same algorithm and parameters as every administrator's hash.
        let dummy = PasswordHash::new(&DUMMY_HASH).unwrap();
        let real = PasswordHash::new(&h).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|o| o.len()), real.hash.map(|o| o.len()));
    }
}
