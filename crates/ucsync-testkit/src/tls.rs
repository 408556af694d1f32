//! A throwaway CA and a server certificate for `localhost` / 127.0.0.1, made with the
//! `openssl` command.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::process;

/// The files of a generated certificate chain.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Writes `dir/ca.crt`, `dir/ca.key`, `dir/server.crt` and `dir/server.key`: a CA (P-256,
/// basicConstraints CA:TRUE) and a server certificate it signed with CN `localhost` and the
/// subject alternative names DNS:localhost and IP:127.0.0.1, valid for ten years. EC keys
/// because they are generated instantly; rustls and GnuTLS both accept them.
pub fn generate(dir: &Path) -> Result<TlsFiles> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Server(format!("cannot create {}: {e}", dir.display())))?;
    let files = TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName = DNS:localhost, IP:127.0.0.1\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .map_err(|e| Error::Server(format!("cannot write {}: {e}", ext.display())))?;

    let openssl = |args: &[&dyn AsRef<std::ffi::OsStr>]| -> Result<()> {
        let mut cmd = process::command("openssl")?;
        for arg in args {
            cmd.arg(arg);
        }
        process::run(cmd, None)
            .map(drop)
            .map_err(|e| Error::Server(format!("generating the test certificates failed: {e}")))
    };
    openssl(&[
        &"req",
        &"-x509",
        &"-newkey",
        &"ec",
        &"-pkeyopt",
        &"ec_paramgen_curve:prime256v1",
        &"-nodes",
        &"-keyout",
        &ca_key,
        &"-out",
        &files.ca_cert,
        &"-days",
        &"3650",
        &"-subj",
        &"/CN=ucsync-testkit CA",
        &"-addext",
        &"basicConstraints=critical,CA:TRUE",
        &"-addext",
        &"keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    openssl(&[
        &"req",
        &"-newkey",
        &"ec",
        &"-pkeyopt",
        &"ec_paramgen_curve:prime256v1",
        &"-nodes",
        &"-keyout",
        &files.server_key,
        &"-out",
        &csr,
        &"-subj",
        &"/CN=localhost",
    ])?;
    openssl(&[
        &"x509",
        &"-req",
        &"-in",
        &csr,
        &"-CA",
        &files.ca_cert,
        &"-CAkey",
        &ca_key,
        &"-CAcreateserial",
        &"-out",
        &files.server_cert,
        &"-days",
        &"3650",
        &"-extfile",
        &ext,
    ])?;
    Ok(files)
}

/// A TLS client configuration that trusts the CA certificate of `files` (and nothing else),
/// for tests that speak TLS to a server with such a certificate.
pub fn client_config(files: &TlsFiles) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let fail = |e: &dyn std::fmt::Display| {
        Error::Server(format!("reading {}: {e}", files.ca_cert.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&files.ca_cert).map_err(|e| fail(&e))? {
        roots
            .add(cert.map_err(|e| fail(&e))?)
            .map_err(|e| fail(&e))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
