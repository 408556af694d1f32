//! Connecting and binding: `ldap://`, `ldaps://` and StartTLS, certificates verified against
//! the system roots or a CA file, the hostname always checked unless `insecure` says otherwise;
//! and the messages that turn LDAP result codes into what an administrator should do.

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use ucsync_model::ConnectorError;

use super::config::{Bind, LdapSettings};

/// Opens a connection, binds, and returns the handle; the connection is driven on its own
/// task and closes when every handle is dropped.
pub async fn connect(name: &str, s: &LdapSettings) -> Result<Ldap, ConnectorError> {
    if s.insecure {
        tracing::warn!(
            connector = name,
            url = %s.url,
            "certificate verification is off (insecure = true): anyone between ucsync and the server can read and change what is synchronized"
        );
    }
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(s.timeout)
        .set_starttls(s.starttls)
        .set_no_tls_verify(s.insecure);
    if !s.insecure && (s.url.starts_with("ldaps://") || s.starttls) {
        settings = settings.set_config(tls_config(s)?);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &s.url)
        .await
        .map_err(|e| unreachable(s, &e))?;
    ldap3::drive!(conn);
    ldap.with_timeout(s.timeout);
    let bound = match &s.bind {
        Bind::Anonymous => return Ok(ldap),
        Bind::Simple { dn, password } => {
            let pw = password.reveal().map_err(ConnectorError::Config)?;
            ldap.simple_bind(dn, &pw).await
        }
        Bind::SaslExternal => ldap.sasl_external_bind().await,
    };
    let result = bound.map_err(|e| unreachable(s, &e))?;
    match result.rc {
        0 => Ok(ldap),
        49 => Err(ConnectorError::Config(format!(
            "{}: the server refused the credentials of {} (invalidCredentials); check bind_dn and the password",
            s.url,
            bind_name(&s.bind)
        ))),
        rc => Err(ConnectorError::Config(format!(
            "{}: bind as {} failed: {}",
            s.url,
            bind_name(&s.bind),
            describe(&result, rc)
        ))),
    }
}

fn bind_name(b: &Bind) -> String {
    match b {
        Bind::Anonymous => "anonymous".into(),
        Bind::Simple { dn, .. } => format!("\"{dn}\""),
        Bind::SaslExternal => "SASL EXTERNAL".into(),
    }
}

/// The TLS settings: the CA file when given, else the system's roots.
fn tls_config(s: &LdapSettings) -> Result<Arc<rustls::ClientConfig>, ConnectorError> {
    crate::tls::client_config(s.ca_file.as_deref())
        .map(Arc::new)
        .map_err(ConnectorError::Config)
}

/// A connection-level failure, with what to check.
pub fn unreachable(s: &LdapSettings, e: &LdapError) -> ConnectorError {
    let text = e.to_string();
    let hint = if text.contains("certificate") || text.contains("InvalidCertificate") {
        "the server's certificate was not accepted: check that ca_file holds the CA that signed it and that the URL's host name is one the certificate names (set insecure = true only for tests)"
    } else if text.contains("Connection refused") {
        "nothing listens there: check the host and port in url and that the server runs"
    } else if text.contains("timeout") || text.contains("Timeout") {
        "no answer in time: check the host, the port and firewalls, or raise timeout_secs"
    } else if text.contains("failed to lookup") || text.contains("Name or service") {
        "the host name does not resolve: check url"
    } else {
        "check url, the network and the server"
    };
    ConnectorError::Unavailable(format!("cannot reach {}: {text}; {hint}", s.url))
}

/// An LDAP result as a message: the code's name, the server's text, referrals by URL.
pub fn describe(r: &LdapResult, rc: u32) -> String {
    describe_as(r, rc, None)
}

/// A per-object failure: what was being done to which entry, then the result; when the
/// server refused the access, the message names the account that lacks it.
pub fn failed(s: &LdapSettings, what: &str, r: &LdapResult) -> String {
    format!("{what}: {}", describe_as(r, r.rc, Some(&s.bind)))
}

fn describe_as(r: &LdapResult, rc: u32, bind: Option<&Bind>) -> String {
    let name = rc_name(rc);
    let mut msg = format!("{name} (result code {rc})");
    if !r.text.is_empty() {
        msg.push_str(&format!(": {}", r.text.trim()));
    }
    if !r.refs.is_empty() {
        msg.push_str(&format!(
            "; the server sent a referral to {} that ucsync does not follow: point the connector at that server",
            r.refs.join(", ")
        ));
    }
    match (rc, bind) {
        (50, Some(Bind::Anonymous)) => msg.push_str(
            "; an anonymous bind may not do this: set bind_dn and the password of an account that may",
        ),
        (50, Some(Bind::Simple { dn, .. })) => msg.push_str(&format!(
            "; the bind DN \"{dn}\" lacks the access rights for this: grant them on the server (an access rule giving it write access there), or bind as an account that has them"
        )),
        (50, Some(Bind::SaslExternal)) => msg.push_str(
            "; the SASL EXTERNAL identity lacks the access rights for this: grant them on the server, or bind as an account that has them",
        ),
        _ => {
            if let Some(hint) = rc_hint(rc) {
                msg.push_str("; ");
                msg.push_str(hint);
            }
        }
    }
    msg
}

fn rc_name(rc: u32) -> &'static str {
    match rc {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        80 => "other",
        4096 => "syncRefreshRequired",
        _ => "error",
    }
}

fn rc_hint(rc: u32) -> Option<&'static str> {
    Some(match rc {
        3 => {
            "the server's time limit stopped the operation: raise the limit for the bind DN (olcLimits / MaxQueryDuration) or narrow the object types"
        }
        4 => {
            "the server's size limit stopped the search: raise the limit for the bind DN (olcLimits size.prtotal / MaxPageSize) or narrow the object types"
        }
        8 | 13 => "the server wants an encrypted connection: use ldaps:// or starttls = true",
        11 => {
            "an administrative limit stopped the operation: raise it for the bind DN on the server"
        }
        17 => "the schema has no such attribute: fix the attribute list or the export flows",
        19 | 21 => {
            "a value does not fit the attribute's syntax or constraints: fix the flow that computes it"
        }
        32 => {
            "the entry or its parent does not exist, or the bind DN may not see it (servers answer noSuchObject for entries their access rules hide)"
        }
        34 => {
            "the server does not accept this DN (RFC 4514 syntax, with attribute types its schema knows): check rdn, container and base_dn, or the export flow that computes dn"
        }
        50 => {
            "the bind DN lacks the access rights for this: grant them on the server, or bind as an account that has them"
        }
        51 | 52 => "the server is busy or unavailable: try again later",
        53 => "the server refuses this operation: check its restrictions (e.g. read-only replica)",
        64 | 65 => {
            "the entry does not fit the schema: check object_classes and the attributes that flows fill"
        }
        66 => "the entry still has entries below it: remove or move them first",
        68 => {
            "an entry with this DN already exists: join it with a join rule instead of provisioning a new one"
        }
        _ => return None,
    })
}

/// Turns a transport error during an operation into a run-stopping error.
pub fn op_failed(s: &LdapSettings, what: &str, e: &LdapError) -> ConnectorError {
    match e {
        LdapError::LdapResult { result } => ConnectorError::Unavailable(format!(
            "{}: {what} failed: {}",
            s.url,
            describe(result, result.rc)
        )),
        other => unreachable(s, other),
    }
}
