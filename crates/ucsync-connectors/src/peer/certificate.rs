//! Why a peer's certificate was refused, in words: a certificate verifier that lets rustls'
//! webpki verifier decide everything ([`KeepingVerifier`]: it never accepts what webpki
//! refuses) but keeps the certificate it refused, and [`explain`], which reads that certificate
//! to name the host asked for, the names it holds, its validity and the fix.
//!
//! This module knows TLS and X.509; it sends no request.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use x509_parser::extensions::GeneralName;

/// A certificate the verifier refused, and why.
#[derive(Debug, Clone)]
pub struct Refused {
    pub certificate: CertificateDer<'static>,
    pub error: rustls::Error,
}

/// Delegates every decision to webpki; keeps the end-entity certificate of the last refusal.
#[derive(Debug)]
pub struct KeepingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    refused: Mutex<Option<Refused>>,
}

impl KeepingVerifier {
    pub fn new(inner: Arc<WebPkiServerVerifier>) -> Self {
        Self {
            inner,
            refused: Mutex::new(None),
        }
    }

    /// The last refusal, taken (so that a later failure is not blamed on it).
    pub fn take_refused(&self) -> Option<Refused> {
        self.refused.lock().ok().and_then(|mut r| r.take())
    }
}

impl ServerCertVerifier for KeepingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Err(error) = &verdict
            && let Ok(mut kept) = self.refused.lock()
        {
            *kept = Some(Refused {
                certificate: end_entity.clone().into_owned(),
                error: error.clone(),
            });
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// What a certificate says of itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Described {
    /// Subject alternative names: `DNS:name` and `IP:address`, in the certificate's order.
    pub names: Vec<String>,
    pub common_name: Option<String>,
    pub issuer: String,
    /// Validity as dates (`2026-01-01`).
    pub not_before: String,
    pub not_after: String,
}

impl Described {
    /// The names alone, without `DNS:` / `IP:`.
    fn bare_names(&self) -> Vec<&str> {
        self.names
            .iter()
            .map(|n| n.split_once(':').map_or(n.as_str(), |(_, v)| v))
            .collect()
    }

    /// `DNS:a.example, IP:192.0.2.1; CN=a.example; valid 2025-01-01 to 2026-01-01`.
    fn summary(&self) -> String {
        let names = if self.names.is_empty() {
            "no subject alternative name".to_owned()
        } else {
            format!("subject alternative names {}", self.names.join(", "))
        };
        let cn = self
            .common_name
            .as_deref()
            .map_or("no CN".to_owned(), |cn| format!("CN={cn}"));
        format!(
            "the certificate holds {names}; {cn}; valid from {} to {}; issued by {}",
            self.not_before, self.not_after, self.issuer
        )
    }
}

fn date(t: &x509_parser::time::ASN1Time) -> String {
    jiff::Timestamp::from_second(t.timestamp())
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// Reads a DER certificate; `None` when it is no X.509 certificate.
pub fn describe(der: &[u8]) -> Option<Described> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(format!("DNS:{d}")),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        names.push(format!("IP:{ip}"));
                    }
                }
                _ => {}
            }
        }
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let validity = cert.validity();
    Some(Described {
        names,
        common_name,
        issuer: cert.issuer().to_string(),
        not_before: date(&validity.not_before),
        not_after: date(&validity.not_after),
    })
}

/// Why the certificate the peer at `host` showed was refused, and what to do.
pub fn explain(host: &str, refused: &Refused, ca_file: Option<&Path>) -> String {
    let Some(cert) = describe(&refused.certificate) else {
        return format!(
            "the certificate of {host} was refused ({}) and cannot be read as an X.509 certificate; have the peer's administrator check it",
            refused.error
        );
    };
    let subject_alt = if host.parse::<IpAddr>().is_ok() {
        format!("subjectAltName=IP:{host}")
    } else {
        format!("subjectAltName=DNS:{host}")
    };
    let summary = cert.summary();
    let cause = match &refused.error {
        rustls::Error::InvalidCertificate(e) => e,
        other => {
            return format!("the certificate of {host} was refused: {other}; {summary}");
        }
    };
    match cause {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            if cert.names.is_empty() {
                let cn = cert.common_name.as_deref().unwrap_or("");
                format!(
                    "the certificate of {host} names only CN={cn} (no subject alternative name): certificates must carry the host name as a subject alternative name; reissue it with {subject_alt} ({summary})"
                )
            } else {
                format!(
                    "the certificate of {host} names {}, not {host}: set host to one of them, or reissue the certificate with {subject_alt} ({summary})",
                    cert.bare_names().join(", ")
                )
            }
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
            "the certificate of {host} expired on {}: the peer's administrator must renew it ({summary})",
            cert.not_after
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the certificate of {host} is not valid before {}: check this server's clock, or have the peer's administrator check the certificate ({summary})",
            cert.not_before
        ),
        CertificateError::UnknownIssuer => match ca_file {
            Some(path) => format!(
                "the certificate of {host} was signed by a CA this server does not trust: the CA in ca_file ({}) did not sign it; give the CA that did ({}) in ca_file ({summary})",
                path.display(),
                cert.issuer
            ),
            None => format!(
                "the certificate of {host} was signed by a CA this server does not trust ({}): give that CA in ca_file (a PEM file) ({summary})",
                cert.issuer
            ),
        },
        CertificateError::BadSignature => format!(
            "the certificate of {host} was signed by a CA this server does not trust: a CA in ca_file has its issuer's name ({}) but not the key that signed it (a CA made again under the same name?); give the CA that signed it in ca_file ({summary})",
            cert.issuer
        ),
        other => format!("the certificate of {host} was refused: {other:?}; {summary}"),
    }
}
