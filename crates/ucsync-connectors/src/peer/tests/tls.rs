//! TLS: the peer's certificate is verified against `host` always; a refusal says which names
//! and dates the certificate holds and what to fix. Certificates come from the test kit's
//! private CA ([`Pki`], one per test) and are served by the test kit's HTTPS server on 127.0.0.1, reached
//! through `address` while `host` is the name the certificate is checked against.

use std::path::Path;

use ucsync_testkit::tls::TlsFiles;
use ucsync_testkit::{FakeConnections, Fault, Pki};

use super::*;

/// A CA in `dir` and a server certificate it signed with subject CN `cn`, the extension
/// `san` (e.g. `DNS:peer.test`, none when `None`) and validity `dates` (openssl's
/// `YYYYMMDDHHMMSSZ`; 30 days from now when `None`).
fn certificate(dir: &Path, cn: &str, san: Option<&str>, dates: Option<(&str, &str)>) -> TlsFiles {
    let pki = Pki::named(dir, &format!("Peer test CA {cn}"));
    let (crt, key) = pki.issue_as("server", cn, san, dates);
    TlsFiles {
        ca_cert: pki.ca().into(),
        server_cert: crt.into(),
        server_key: key.into(),
    }
}

/// The connector reaching `fake` at 127.0.0.1 (`address`) as `host`, trusting `ca_file`.
fn reaching(fake: &FakeConnections, host: &str, ca_file: Option<&Path>) -> Arc<dyn Connector> {
    let ca = ca_file.map_or(String::new(), |p| {
        format!("ca_file = {:?}\n", p.display().to_string())
    });
    connector(&format!(
        "{}host = \"{host}\"\naddress = \"127.0.0.1\"\nport = {}\n{ca}",
        minimal("host"),
        fake.port()
    ))
}

/// The words of a failed connection check.
async fn refused(c: &dyn Connector) -> String {
    match c.check_connection().await {
        Ok(()) => panic!("the connection was accepted"),
        Err(e) => e.to_string(),
    }
}

fn has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{part:?} is missing from: {message}"
        );
    }
}

#[tokio::test]
async fn a_certificate_for_other_names_names_them_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(
        dir.path(),
        "a.test",
        Some("DNS:a.test, DNS:b.test, IP:192.0.2.7"),
        None,
    );
    let fake = FakeConnections::start_tls(&files).unwrap();
    let m = refused(reaching(&fake, "peer.test", Some(&files.ca_cert)).as_ref()).await;
    has(
        &m,
        &[
            "the certificate of peer.test names a.test, b.test, 192.0.2.7, not peer.test",
            "set host to one of them, or reissue the certificate with subjectAltName=DNS:peer.test",
            "DNS:a.test, DNS:b.test, IP:192.0.2.7",
            "CN=a.test",
        ],
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn a_certificate_with_the_name_only_in_its_common_name_is_refused_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path(), "peer.test", None, None);
    let fake = FakeConnections::start_tls(&files).unwrap();
    let m = refused(reaching(&fake, "peer.test", Some(&files.ca_cert)).as_ref()).await;
    has(
        &m,
        &[
            "the certificate of peer.test names only CN=peer.test (no subject alternative name)",
            "certificates must carry the host name as a subject alternative name",
            "reissue it with subjectAltName=DNS:peer.test",
        ],
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn an_expired_certificate_says_when_it_expired() {
    let dir = tempfile::tempdir().unwrap();
    let dates = ("20240101000000Z", "20250101000000Z");
    let files = certificate(dir.path(), "peer.test", Some("DNS:peer.test"), Some(dates));
    let fake = FakeConnections::start_tls(&files).unwrap();
    let m = refused(reaching(&fake, "peer.test", Some(&files.ca_cert)).as_ref()).await;
    has(
        &m,
        &[
            "the certificate of peer.test expired on 2025-01-01",
            "valid from 2024-01-01 to 2025-01-01",
            "renew",
        ],
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn a_certificate_of_an_untrusted_ca_names_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(
        &dir.path().join("peer"),
        "peer.test",
        Some("DNS:peer.test"),
        None,
    );
    let other = certificate(
        &dir.path().join("other"),
        "other.test",
        Some("DNS:other.test"),
        None,
    );
    let fake = FakeConnections::start_tls(&files).unwrap();
    let m = refused(reaching(&fake, "peer.test", None).as_ref()).await;
    has(
        &m,
        &[
            "the certificate of peer.test was signed by a CA this server does not trust",
            "CN=Peer test CA",
            "give that CA in ca_file",
        ],
    );
    let m = refused(reaching(&fake, "peer.test", Some(&other.ca_cert)).as_ref()).await;
    has(
        &m,
        &[
            "was signed by a CA this server does not trust",
            "the CA in ca_file",
            "did not sign it",
        ],
    );
    // A CA of the same name with another key (a CA made again): named as such.
    let again = certificate(
        &dir.path().join("again"),
        "peer.test",
        Some("DNS:peer.test"),
        None,
    );
    let m = refused(reaching(&fake, "peer.test", Some(&again.ca_cert)).as_ref()).await;
    has(
        &m,
        &[
            "was signed by a CA this server does not trust",
            "a CA in ca_file has its issuer's name (CN=Peer test CA peer.test) but not the key that signed it",
            "give the CA that signed it in ca_file",
        ],
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn a_good_certificate_reached_by_address_passes_the_name_check() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path(), "peer.test", Some("DNS:peer.test"), None);
    let fake = FakeConnections::start_tls(&files).unwrap();
    let c = reaching(&fake, "peer.test", Some(&files.ca_cert));
    let m = refused(c.as_ref()).await;
    // The handshake passed: the request reached the server, which answers a bearer token as
    // Connections does, with 401.
    has(
        &m,
        &[
            "peer.test refused the peer token set in token (401 Unauthorized",
            "ask the peer's administrator for a new peer token",
        ],
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].path_and_query,
        "/api/v1/peer/v1/enterprises/acme-hq/changes?limit=1"
    );
    assert_eq!(
        requests[0].host.as_deref(),
        Some(format!("peer.test:{}", fake.port()).as_str())
    );
}

/// What a peer answers that is not a page of this protocol version: a redirect (never
/// followed, nothing sent there), a page of another version, JSON of another service. Each
/// stops the run with words that say what to fix.
#[tokio::test]
async fn a_redirect_another_protocol_version_or_another_service_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path(), "peer.test", Some("DNS:peer.test"), None);
    let fake = FakeConnections::start_tls(&files).unwrap();
    let c = reaching(&fake, "peer.test", Some(&files.ca_cert));
    let feed = "/api/v1/peer/v1/";
    fake.fault(feed, Fault::Redirect("https://elsewhere.test/login".into()));
    has(
        &refused(c.as_ref()).await,
        &[
            "redirects https://peer.test:",
            "to https://elsewhere.test/login (302 Found)",
            "never follows redirects and sent nothing there",
            "set host and port to the peer's ucsync server itself",
        ],
    );
    fake.clear_faults();
    let page = |protocol: u32| {
        format!(
            r#"{{"protocol": {protocol}, "server": {{"product": "ucsync", "version": "9.0.0"}}, "contacts": [], "deleted": [], "cursor": "v2-x", "more": false}}"#
        )
    };
    fake.fault(feed, Fault::Json(page(2)));
    has(
        &refused(c.as_ref()).await,
        &[
            "speaks peer sync protocol version 2, this server version 1",
            "update the older of the two servers",
        ],
    );
    fake.clear_faults();
    fake.fault(feed, Fault::Json(r#"{"status": "ok"}"#.into()));
    has(
        &refused(c.as_ref()).await,
        &[
            "is not a page of the peer sync protocol",
            "check that host and port name a ucsync server",
        ],
    );
    fake.clear_faults();
    // The version this server speaks passes.
    fake.fault(feed, Fault::Json(page(1)));
    c.check_connection().await.unwrap();
    // Nothing went anywhere else.
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.path_and_query.starts_with(feed))
    );
}
