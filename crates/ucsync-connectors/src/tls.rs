//! TLS for the kinds that reach a server: the CA certificates to trust (a PEM file a setting
//! names, else the system's roots). Host names are always verified: nothing here turns that off.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A client configuration trusting the CAs in `ca_file` (the setting `ca_file`), else the
/// system's roots; an error says what is wrong with the file.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let roots = root_store(ca_file)?;
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// As [`client_config`], showing the server the certificate chain in the PEM file `cert` (own
/// certificate first) with its PEM key `key` when it asks for one.
pub(crate) fn client_config_showing(
    ca_file: Option<&Path>,
    cert: &Path,
    key: &Path,
) -> Result<rustls::ClientConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| {
            format!(
                "cannot read the client certificate {} (client_certificate): {e}; give it as PEM",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "{} (client_certificate) holds no PEM certificate; give the client certificate as PEM",
            cert.display()
        ));
    }
    let private_key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "cannot read the client key {} (client_key): {e}; give the client certificate's key as PEM",
            key.display()
        )
    })?;
    let roots = root_store(ca_file)?;
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, private_key)
        .map_err(|e| {
            format!(
                "the client key {} does not fit the client certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })
}

/// The cryptography every kind uses.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The CAs in `ca_file`, else the system's roots; an error says what is wrong with the file.
pub(crate) fn root_store(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| {
                    format!(
                        "cannot read the CA file {} (ca_file): {e}; give a PEM file with the CA certificate",
                        path.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "the CA file {} (ca_file) holds no certificate; give a PEM file with the CA certificate",
                    path.display()
                ));
            }
            for c in certs {
                roots.add(c).map_err(|e| {
                    format!(
                        "the CA file {} (ca_file) holds a certificate that cannot be used: {e}",
                        path.display()
                    )
                })?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    Ok(roots)
}
