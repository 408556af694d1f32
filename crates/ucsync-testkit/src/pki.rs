//! A private CA for tests that check certificates for real: it issues server and client
//! certificates with the names, subject alternative names (or none) and validity a test needs,
//! made with the `openssl` command (EC keys, made at once). `openssl ca` can date a
//! certificate in the past, so expired certificates are real ones too. A certificate that
//! cannot be made panics with openssl's words: these are test fixtures.

use std::path::{Path, PathBuf};

fn openssl(args: &[&str]) {
    let mut cmd = crate::process::command("openssl").unwrap_or_else(|e| panic!("{e}"));
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A private CA in a directory of its own (`ca.crt`, `ca.key`) that issues server and client
/// certificates, valid 30 days unless told otherwise.
pub struct Pki {
    dir: PathBuf,
}

const EC: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        Pki::named(dir, "ucsync peers test CA")
    }

    /// A CA whose certificate has the subject `CN=cn`.
    pub fn named(dir: &Path, cn: &str) -> Pki {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let pki = Pki {
            dir: dir.to_owned(),
        };
        let (crt, key) = (pki.path("ca.crt"), pki.path("ca.key"));
        let subject = format!("/CN={cn}");
        let mut args = vec!["req", "-x509"];
        args.extend(EC);
        args.extend([
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "30",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&args);
        // `openssl ca` (which can date a certificate in the past) keeps a database.
        write(&pki.dir.join("index.txt"), "");
        write(&pki.dir.join("serial"), "01\n");
        write(
            &pki.dir.join("ca.cnf"),
            &format!(
                "[ca]\ndefault_ca = test\n[test]\ndatabase = {}\nnew_certs_dir = {}\nserial = {}\nunique_subject = no\ndefault_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
                pki.path("index.txt"),
                pki.dir.display(),
                pki.path("serial")
            ),
        );
        pki
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    pub fn ca(&self) -> String {
        self.path("ca.crt")
    }

    /// A server certificate with CN `name` and the subject alternative names `san` (e.g.
    /// `DNS:peer-b.test`): its certificate and key files.
    pub fn issue(&self, name: &str, san: &str) -> (String, String) {
        self.issue_as(name, name, Some(san), None)
    }

    /// A client certificate (for client authentication) with CN `cn`, in `file.crt` and
    /// `file.key`.
    pub fn issue_client(&self, file: &str, cn: &str) -> (String, String) {
        self.issue_for(file, cn, None, None, "clientAuth")
    }

    /// A server certificate in the files `file.crt` and `file.key` with CN `cn`, the subject
    /// alternative names `san` (none when `None`) and the validity `dates` (openssl's
    /// `YYYYMMDDHHMMSSZ`; 30 days from now when `None`).
    pub fn issue_as(
        &self,
        file: &str,
        cn: &str,
        san: Option<&str>,
        dates: Option<(&str, &str)>,
    ) -> (String, String) {
        self.issue_for(file, cn, san, dates, "serverAuth")
    }

    fn issue_for(
        &self,
        file: &str,
        cn: &str,
        san: Option<&str>,
        dates: Option<(&str, &str)>,
        usage: &str,
    ) -> (String, String) {
        let (crt, key, csr, ext) = (
            self.path(&format!("{file}.crt")),
            self.path(&format!("{file}.key")),
            self.path(&format!("{file}.csr")),
            self.path(&format!("{file}.ext")),
        );
        let san = san.map_or(String::new(), |san| format!("subjectAltName = {san}\n"));
        write(
            Path::new(&ext),
            &format!(
                "{san}basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = {usage}\n"
            ),
        );
        let subject = format!("/CN={cn}");
        let mut args = vec!["req"];
        args.extend(EC);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(&args);
        let (ca, ca_key, cnf) = (self.ca(), self.path("ca.key"), self.path("ca.cnf"));
        let mut args = vec![
            "ca", "-batch", "-notext", "-config", &cnf, "-cert", &ca, "-keyfile", &ca_key, "-in",
            &csr, "-out", &crt, "-extfile", &ext,
        ];
        match dates {
            Some((from, to)) => args.extend(["-startdate", from, "-enddate", to]),
            None => args.extend(["-days", "30"]),
        }
        openssl(&args);
        (crt, key)
    }
}
