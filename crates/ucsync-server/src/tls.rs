//! HTTPS for `ucsync serve`: a certificate chain and its private key from PEM files, served
//! with rustls. Handshakes run on their own tasks, so a slow or broken client delays no other;
//! a failed handshake is logged and dropped. Each connection keeps its client's address.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ClientAddr;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS acceptor for the certificate chain in `cert` (server certificate first) and the
/// private key in `key`, both PEM. With `client_ca` (PEM CA certificates), a client may show a
/// certificate that one of them signed (a peer server's credential); a client that shows one
/// they did not sign, or an expired one, is refused in the handshake; a client that shows none
/// is served as before.
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| {
            format!(
                "cannot read the certificate {}: {e}; give the PEM certificate chain, server certificate first",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate; give the server's certificate chain",
            cert.display()
        ));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "cannot read the private key {}: {e}; give the server certificate's key as PEM (PKCS#8, PKCS#1 or SEC1)",
            key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => builder.with_client_cert_verifier(client_verifier(path, provider)?),
    };
    let mut config = builder.with_single_cert(certs, private_key).map_err(|e| {
        format!(
            "the key {} does not fit the certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Verifies the certificates clients show against the CAs in `path`; showing none is allowed.
fn client_verifier(
    path: &Path,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let unreadable = |e: &dyn std::fmt::Display| {
        format!(
            "cannot read the client CA file {} (--tls-client-ca): {e}; give the PEM certificate of the CA that signs the peers' client certificates",
            path.display()
        )
    };
    let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| unreadable(&e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"it holds no certificate"));
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .allow_unauthenticated()
        .build()
        .map_err(|e| unreadable(&e))
}

/// Accepts TCP connections and hands on those whose TLS handshake succeeded.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            while !tx.is_closed() {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                crate::send_at_once(&stream);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::info!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::info!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

/// Hands the client's address of each connection to the API (its sign-in throttle), and the
/// fingerprint of the client certificate it showed (a peer's credential).
impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let certificate = stream
            .io()
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| Sha256::digest(leaf.as_ref()).into());
        ClientAddr(*stream.remote_addr(), certificate)
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PlainListener;
    use axum::serve::Listener;

    /// Both listeners hand on connections with Nagle's algorithm off (a page of a peer's feed
    /// waited up to 40 ms for its last segment without it).
    #[tokio::test]
    async fn accepted_connections_send_at_once() {
        let mut plain = PlainListener(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = plain.local_addr().unwrap();
        let client = TcpStream::connect(addr);
        let ((stream, _), client) = tokio::join!(plain.accept(), client);
        client.unwrap();
        assert!(stream.nodelay().unwrap(), "plain HTTP connection");

        let dir = tempfile::tempdir().unwrap();
        let files = ucsync_testkit::tls::generate(dir.path()).unwrap();
        let acceptor = acceptor(&files.server_cert, &files.server_key, None).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut tls = TlsListener::new(tcp, acceptor).unwrap();
        let config = ucsync_testkit::tls::client_config(&files).unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let client = async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            connector.connect(name, tcp).await.unwrap()
        };
        let ((stream, _), _client) = tokio::join!(tls.accept(), client);
        assert!(stream.get_ref().0.nodelay().unwrap(), "HTTPS connection");
    }
}
