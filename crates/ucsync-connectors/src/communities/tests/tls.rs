//! HTTPS: a server whose certificate the CA file vouches for is read; one whose certificate
//! names another host, or that a CA nobody gave signed, is refused before any request is
//! sent, with the setting to change.

use std::path::Path;
use std::process::Command;

use ucsync_testkit::FakeConnections;
use ucsync_testkit::tls::{TlsFiles, generate};

use super::*;

/// A CA of its own in `dir` and a server certificate it signed that names `other.test` only.
fn certificate_for_other_test(dir: &Path) -> TlsFiles {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = DNS:other.test\nbasicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let runs: [Vec<String>; 3] = [
        [&["req", "-x509"][..], &ec[..]]
            .concat()
            .into_iter()
            .map(str::to_owned)
            .chain([
                "-keyout".into(),
                path("ca.key"),
                "-out".into(),
                path("ca.crt"),
                "-days".into(),
                "30".into(),
                "-subj".into(),
                "/CN=Other test CA".into(),
                "-addext".into(),
                "basicConstraints=critical,CA:TRUE".into(),
                "-addext".into(),
                "keyUsage=critical,keyCertSign,cRLSign".into(),
            ])
            .collect(),
        [&["req"][..], &ec[..]]
            .concat()
            .into_iter()
            .map(str::to_owned)
            .chain([
                "-keyout".into(),
                path("server.key"),
                "-out".into(),
                path("server.csr"),
                "-subj".into(),
                "/CN=other.test".into(),
            ])
            .collect(),
        [
            "x509",
            "-req",
            "-in",
            &path("server.csr"),
            "-CA",
            &path("ca.crt"),
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-out",
            &path("server.crt"),
            "-days",
            "30",
            "-extfile",
            &path("server.ext"),
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for args in runs {
        let out = Command::new("openssl").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    TlsFiles {
        ca_cert: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    }
}

/// A fake over HTTPS with Sales and Board.
fn secure(files: &TlsFiles) -> FakeConnections {
    let fake = FakeConnections::start_tls(files).unwrap();
    fake.add_user(
        ADMIN,
        "Was Admin",
        "wasadmin@example.com",
        Some(PASSWORD),
        true,
    );
    fake.add_user("anna", "Anna Lang", "anna@example.com", None, false);
    fake.add_community(FakeCommunity::new("c-sales", "Sales", "anna"));
    fake
}

/// The connector reading `fake` over HTTPS by `host`, trusting `ca_file` when given.
fn over_https(fake: &FakeConnections, host: &str, ca_file: Option<&Path>) -> Arc<dyn Connector> {
    let ca = ca_file.map_or(String::new(), |p| {
        format!("ca_file = {:?}\n", p.display().to_string())
    });
    connector(&format!(
        "protocol = \"https\"\nhost = \"{host}\"\nport = {}\nuser = \"{ADMIN}\"\npassword = \"{PASSWORD}\"\n{ca}",
        fake.port()
    ))
}

#[tokio::test]
async fn over_https_a_server_the_ca_file_vouches_for_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path()).unwrap();
    let fake = secure(&files);
    let c = over_https(&fake, "localhost", Some(&files.ca_cert));
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();
    assert_eq!(sink.sent, ["anna", "c-sales"]);
    c.check_connection().await.unwrap();
}

#[tokio::test]
async fn a_certificate_that_does_not_name_the_host_says_so_and_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate_for_other_test(dir.path());
    let fake = secure(&files);
    let c = over_https(&fake, "localhost", Some(&files.ca_cert));
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);

    let url = format!("cannot reach https://localhost:{}{ALL}", fake.port());
    for part in [
        url.as_str(),
        "certificate does not name host \"localhost\"",
        "set host to a name the certificate holds",
    ] {
        assert!(
            message.contains(part),
            "{part:?} is missing from: {message}"
        );
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn a_certificate_no_trusted_ca_signed_is_not_accepted_and_names_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(&dir.path().join("server")).unwrap();
    let other_ca = certificate_for_other_test(dir.path()).ca_cert;
    let fake = secure(&files);
    // The system's CAs, then a CA that signed another server.
    for ca_file in [None, Some(other_ca.as_path())] {
        let c = over_https(&fake, "localhost", ca_file);
        let message = failed(full(c.as_ref(), &mut Sink::default()).await);
        for part in ["certificate was not accepted", "ca_file"] {
            assert!(
                message.contains(part),
                "{part:?} is missing from: {message}"
            );
        }
        assert!(!message.contains("does not name host"), "{message}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn https_to_a_plain_http_port_says_the_server_does_not_speak_tls() {
    let fake = sales_and_board();
    let c = over_https(&fake, "127.0.0.1", None);
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    let port = format!("does not speak TLS on port {}", fake.port());
    for part in [port.as_str(), "protocol = \"http\""] {
        assert!(
            message.contains(part),
            "{part:?} is missing from: {message}"
        );
    }
}

#[tokio::test]
async fn http_to_an_https_port_says_to_set_protocol_https() {
    let dir = tempfile::tempdir().unwrap();
    let fake = secure(&generate(dir.path()).unwrap());
    let c = reading(&fake, "");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    let url = format!("http://127.0.0.1:{}{ALL}", fake.port());
    for part in [url.as_str(), "protocol = \"https\""] {
        assert!(
            message.contains(part),
            "{part:?} is missing from: {message}"
        );
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}
