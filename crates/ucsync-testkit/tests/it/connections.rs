//! The fake Connections server over real sockets, read with a small blocking HTTP/1.1 client
//! written here (and rustls for the one HTTPS test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ucsync_testkit::connections::{
    CommunityType, FakeCommunity, FakeConnections, Fault, populated_uuid,
};

const ALL: &str = "/communities/service/atom/communities/all";
const MEMBERS: &str = "/communities/service/atom/community/members";
const ADMIN: (&str, &str) = ("admin", "adminpw");
const BOB: (&str, &str) = ("bob", "bobpw");

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn entries(&self) -> usize {
        self.body.matches("<entry>").count()
    }

    /// The text of the first `<tag>…</tag>`.
    fn first(&self, tag: &str) -> Option<&str> {
        between(&self.body, &format!("<{tag}>"), &format!("</{tag}>"))
    }

    /// The `communityUuid`s of the entries, in order.
    fn uuids(&self) -> Vec<&str> {
        self.body
            .split("<snx:communityUuid>")
            .skip(1)
            .map(|rest| rest.split('<').next().unwrap())
            .collect()
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn base64(input: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn request_text(
    method: &str,
    host: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &str,
) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some((user, password)) = auth {
        text.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64(&format!("{user}:{password}"))
        ));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    text
}

fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let answer = Answer {
        status,
        headers,
        body: body.to_owned(),
    };
    assert!(
        answer.header("transfer-encoding").is_none(),
        "the client reads no chunked bodies"
    );
    answer
}

fn send(
    fake: &FakeConnections,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", fake.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let host = format!("127.0.0.1:{}", fake.port());
    stream
        .write_all(request_text(method, &host, path, auth, body).as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_answer(&raw)
}

fn get(fake: &FakeConnections, path: &str, auth: (&str, &str)) -> Answer {
    send(fake, "GET", path, Some(auth), "")
}

/// A fake with the admin, bob (no admin) and carl (no password), and `communities` public
/// communities `c-01`… by the admin.
fn fake_with(communities: usize) -> FakeConnections {
    let fake = FakeConnections::start().unwrap();
    fake.add_user(
        ADMIN.0,
        "Ada Admin",
        "admin@example.com",
        Some(ADMIN.1),
        true,
    );
    fake.add_user(BOB.0, "Bob Baker", "bob@example.com", Some(BOB.1), false);
    fake.add_user(
        "carl",
        "Carl <Cook> & Sons",
        "carl@example.com",
        None,
        false,
    );
    for i in 1..=communities {
        fake.add_community(FakeCommunity::new(
            &format!("c-{i:02}"),
            &format!("Community {i}"),
            "admin",
        ));
    }
    fake
}

#[test]
fn communities_come_in_pages_with_totals_and_next_links() {
    let fake = fake_with(6);
    let first = get(&fake, &format!("{ALL}?ps=2"), ADMIN);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        Some("application/atom+xml; charset=UTF-8")
    );
    assert!(first.body.contains("xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_eq!(first.first("opensearch:totalResults"), Some("6"));
    assert_eq!(first.first("opensearch:startIndex"), Some("1"));
    assert_eq!(first.first("opensearch:itemsPerPage"), Some("2"));
    assert_eq!(first.uuids(), ["c-01", "c-02"]);
    let next = format!(
        "href=\"http://127.0.0.1:{}{ALL}?ps=2&amp;page=2\"",
        fake.port()
    );
    assert!(
        first.body.contains(&format!(
            "<link rel=\"next\" type=\"application/atom+xml\" {next}"
        )),
        "{}",
        first.body
    );

    let second = get(&fake, &format!("{ALL}?page=2&ps=2"), ADMIN);
    assert_eq!(second.uuids(), ["c-03", "c-04"]);
    assert_eq!(second.first("opensearch:startIndex"), Some("3"));
    let last = get(&fake, &format!("{ALL}?page=3&ps=2"), ADMIN);
    assert_eq!(last.uuids(), ["c-05", "c-06"]);
    assert!(!last.body.contains("rel=\"next\""));
    assert!(last.body.contains("rel=\"self\""));
    assert_eq!(
        get(&fake, &format!("{ALL}?page=4&ps=2"), ADMIN).entries(),
        0
    );

    // Defaults and the cap of the page size.
    let default = get(&fake, ALL, ADMIN);
    assert_eq!(default.first("opensearch:itemsPerPage"), Some("10"));
    assert_eq!(default.entries(), 6);
    let capped = get(&fake, &format!("{ALL}?ps=100000"), ADMIN);
    assert_eq!(capped.first("opensearch:itemsPerPage"), Some("500"));
    assert_eq!(get(&fake, &format!("{ALL}?page=0"), ADMIN).status, 400);
}

#[test]
fn a_community_entry_has_the_documented_shape() {
    let fake = fake_with(0);
    let mut community = FakeCommunity::new("u-1", "R&D <Lab>", "admin");
    community.description = "Tom's \"lab\" & <b>bold</b>".to_owned();
    community.kind = CommunityType::PublicInviteOnly;
    community.tags = vec!["science".to_owned(), "x&y".to_owned()];
    fake.add_community(community);
    fake.add_member("u-1", "bob", false);
    let feed = get(&fake, ALL, ADMIN);
    let base = fake.url();
    let body = &feed.body;
    let instance = format!("{base}/communities/service/atom/community/instance?communityUuid=u-1");
    assert!(body.contains(&format!("<id>{instance}</id>")), "{body}");
    assert!(body.contains("<title type=\"text\">R&amp;D &lt;Lab&gt;</title>"));
    assert!(body.contains(
        "<summary type=\"text\">Tom&apos;s &quot;lab&quot; &amp; &lt;b&gt;bold&lt;/b&gt;</summary>"
    ));
    assert!(body.contains("<content type=\"html\">Tom&amp;apos;s &amp;quot;lab&amp;quot; &amp;amp; &amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;</content>"));
    assert!(body.contains("<author><name>Ada Admin</name><email>admin@example.com</email><snx:userid>admin</snx:userid><snx:userState>active</snx:userState></author>"));
    assert!(body.contains(
        "<category term=\"community\" scheme=\"http://www.ibm.com/xmlns/prod/sn/type\"/>"
    ));
    assert!(
        body.contains("<category term=\"science\"/>")
            && body.contains("<category term=\"x&amp;y\"/>")
    );
    assert!(body.contains("<snx:communityType>publicInviteOnly</snx:communityType>"));
    assert!(body.contains("<snx:membercount>2</snx:membercount>"));
    assert!(body.contains(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{instance}\"/>"
    )));
    assert!(body.contains(&format!(
        "<link rel=\"http://www.ibm.com/xmlns/prod/sn/member-list\" type=\"application/atom+xml\" href=\"{base}{MEMBERS}?communityUuid=u-1\"/>"
    )));
    let updated = feed.first("updated").unwrap();
    assert_eq!(updated.len(), "2009-01-04T20:32:31.171Z".len(), "{updated}");
}

#[test]
fn members_come_by_role_and_page() {
    let fake = fake_with(1);
    fake.add_member("c-01", "bob", false);
    fake.add_member("c-01", "carl", true);
    fake.set_user_state("carl", false);
    let all = get(&fake, &format!("{MEMBERS}?communityUuid=c-01"), ADMIN);
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.first("opensearch:totalResults"), Some("3"));
    assert!(all.body.contains(
        "<contributor><name>Carl &lt;Cook&gt; &amp; Sons</name><email>carl@example.com</email><snx:userid>carl</snx:userid><snx:userState>inactive</snx:userState></contributor>"
    ));
    assert!(all.body.contains(
        "<snx:role component=\"http://www.ibm.com/xmlns/prod/sn/communities\">member</snx:role>"
    ));
    let owners = get(
        &fake,
        &format!("{MEMBERS}?communityUuid=c-01&role=owner"),
        ADMIN,
    );
    assert_eq!(owners.first("opensearch:totalResults"), Some("2"));
    assert!(!owners.body.contains(">member</snx:role>"));
    let page = get(
        &fake,
        &format!("{MEMBERS}?communityUuid=c-01&ps=2&page=1"),
        ADMIN,
    );
    assert_eq!(page.entries(), 2);
    assert!(page.body.contains("rel=\"next\""));
    let last = get(
        &fake,
        &format!("{MEMBERS}?communityUuid=c-01&ps=2&page=2"),
        ADMIN,
    );
    assert_eq!(last.entries(), 1);
    assert!(!last.body.contains("rel=\"next\""));

    let unknown = get(&fake, &format!("{MEMBERS}?communityUuid=nope"), ADMIN);
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("<code>ItemNotFound</code>"));
}

#[test]
fn since_finds_changed_communities_and_membership_changes() {
    let fake = fake_with(3);
    let feed = get(&fake, ALL, ADMIN);
    let latest = feed
        .body
        .split("<updated>")
        .skip(2)
        .map(|s| &s[..24])
        .max()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&fake, &format!("{ALL}?since={latest}"), ADMIN).entries(),
        0
    );

    fake.add_member("c-01", "bob", false);
    let after_member = get(&fake, &format!("{ALL}?since={latest}"), ADMIN);
    assert_eq!(after_member.uuids(), ["c-01"]);
    assert_eq!(after_member.first("opensearch:totalResults"), Some("1"));
    // The same instant with an offset, its + percent-encoded.
    let offset = format!("{}%2B00:00", &latest[..23]);
    assert_eq!(
        get(&fake, &format!("{ALL}?since={offset}"), ADMIN).uuids(),
        ["c-01"]
    );

    let mark = after_member.first("updated").map(str::to_owned).unwrap();
    let c01 = after_member.body.split("<updated>").nth(2).unwrap()[..24].to_owned();
    fake.rename_community("c-02", "Renamed");
    fake.remove_member("c-01", "bob");
    let changed = get(&fake, &format!("{ALL}?since={c01}"), ADMIN);
    assert_eq!(changed.uuids(), ["c-01", "c-02"], "feed updated {mark}");
    assert!(
        changed
            .body
            .contains("<snx:membercount>1</snx:membercount>")
    );
    assert_eq!(
        get(&fake, &format!("{ALL}?since=yesterday"), ADMIN).status,
        400
    );
}

#[test]
fn private_communities_are_hidden_from_others_than_members_and_admins() {
    let fake = fake_with(0);
    for (uuid, kind) in [
        ("p-1", CommunityType::Public),
        ("p-2", CommunityType::Private),
        ("p-3", CommunityType::PublicInviteOnly),
    ] {
        let mut community = FakeCommunity::new(uuid, uuid, "admin");
        community.kind = kind;
        fake.add_community(community);
    }
    assert_eq!(get(&fake, ALL, ADMIN).uuids(), ["p-1", "p-2", "p-3"]);
    assert_eq!(get(&fake, ALL, BOB).uuids(), ["p-1", "p-3"]);
    assert_eq!(
        get(&fake, ALL, BOB).first("opensearch:totalResults"),
        Some("2")
    );
    let forbidden = get(&fake, &format!("{MEMBERS}?communityUuid=p-2"), BOB);
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.body.contains("<code>AccessDenied</code>"));
    assert_eq!(
        get(&fake, &format!("{MEMBERS}?communityUuid=p-2"), ADMIN).status,
        200
    );

    fake.add_member("p-2", "bob", false);
    assert_eq!(get(&fake, ALL, BOB).uuids(), ["p-1", "p-2", "p-3"]);
    assert_eq!(
        get(&fake, &format!("{MEMBERS}?communityUuid=p-2"), BOB).status,
        200
    );
}

#[test]
fn hidden_emails_are_left_out() {
    let fake = fake_with(1);
    let path = format!("{MEMBERS}?communityUuid=c-01");
    assert!(
        get(&fake, &path, ADMIN)
            .body
            .contains("<email>admin@example.com</email>")
    );
    fake.hide_emails(true);
    assert!(!get(&fake, &path, ADMIN).body.contains("<email>"));
    assert!(!get(&fake, ALL, ADMIN).body.contains("<email>"));
    assert!(
        get(&fake, ALL, ADMIN)
            .body
            .contains("<snx:userid>admin</snx:userid>")
    );
}

#[test]
fn wrong_or_missing_credentials_get_401() {
    let fake = fake_with(1);
    let no_password = send(&fake, "GET", ALL, None, "");
    let wrong = send(&fake, "GET", ALL, Some(("admin", "nope")), "");
    let passwordless = send(&fake, "GET", ALL, Some(("carl", "")), "");
    for answer in [no_password, wrong, passwordless] {
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"Connections\"")
        );
        assert_eq!(answer.header("content-type"), Some("application/xml"));
        assert!(answer.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error xmlns=\"http://www.ibm.com/xmlns/prod/sn\"><code>Unauthorized</code><message>"
        ), "{}", answer.body);
        assert!(answer.body.ends_with("</message><trace></trace></error>"));
    }
    // The e-mail address signs in too.
    assert_eq!(get(&fake, ALL, ("admin@example.com", ADMIN.1)).status, 200);
}

#[test]
fn anything_but_get_is_refused_and_requests_are_recorded() {
    let fake = fake_with(1);
    let post = send(&fake, "POST", ALL, Some(ADMIN), "<entry/>");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET"));
    assert_eq!(
        send(
            &fake,
            "PUT",
            &format!("{MEMBERS}?communityUuid=c-01"),
            Some(ADMIN),
            ""
        )
        .status,
        405
    );
    assert_eq!(send(&fake, "HEAD", ALL, Some(ADMIN), "").status, 405);
    get(&fake, &format!("{ALL}?ps=5"), BOB);

    let requests = fake.requests();
    let summary: Vec<(&str, &str, Option<&str>, usize)> = requests
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path_and_query.as_str(),
                r.user.as_deref(),
                r.body_len,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("POST", ALL, Some("admin"), 8),
            (
                "PUT",
                &format!("{MEMBERS}?communityUuid=c-01")[..],
                Some("admin"),
                0
            ),
            ("HEAD", ALL, Some("admin"), 0),
            ("GET", &format!("{ALL}?ps=5")[..], Some("bob"), 0),
        ]
    );
    assert_eq!(
        requests[0].host.as_deref(),
        Some(&format!("127.0.0.1:{}", fake.port())[..])
    );
    assert!(
        !format!("{requests:?}").contains("adminpw") && !format!("{requests:?}").contains("bobpw")
    );
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[test]
fn faults_match_by_path_and_query_and_are_recorded() {
    let fake = fake_with(2);
    fake.fault("communityUuid=c-02", Fault::Status(503));
    fake.fault("", Fault::Status(500));
    let unavailable = get(&fake, &format!("{MEMBERS}?communityUuid=c-02"), ADMIN);
    assert_eq!(unavailable.status, 503);
    assert!(unavailable.body.contains("<code>ServiceUnavailable</code>"));
    // Before authentication: no credentials get the fault too.
    assert_eq!(send(&fake, "GET", ALL, None, "").status, 500);
    fake.clear_faults();
    assert_eq!(get(&fake, ALL, ADMIN).status, 200);
    assert_eq!(fake.requests().len(), 3);

    let elsewhere = "https://127.0.0.1:1/communities/service/atom/communities/all";
    fake.fault("/all", Fault::Redirect(elsewhere.to_owned()));
    let moved = get(&fake, ALL, ADMIN);
    assert_eq!(moved.status, 302);
    assert_eq!(moved.header("location"), Some(elsewhere));
    assert_eq!(
        get(&fake, &format!("{MEMBERS}?communityUuid=c-01"), ADMIN).status,
        200
    );
    fake.clear_faults();

    fake.fault("", Fault::MalformedXml);
    let malformed = get(&fake, ALL, ADMIN);
    assert_eq!(malformed.status, 200);
    let broken_line = malformed
        .body
        .lines()
        .position(|l| l.contains("<here &"))
        .unwrap()
        + 1;
    assert_eq!(broken_line, 12, "{}", malformed.body);
    assert!(malformed.body.starts_with("<?xml") && !malformed.body.contains("</feed>"));
    fake.clear_faults();

    fake.fault("", Fault::Oversized(100_000));
    for path in [ALL.to_owned(), format!("{MEMBERS}?communityUuid=c-01")] {
        let big = get(&fake, &path, ADMIN);
        let summary = between(&big.body, "<summary type=\"text\">", "</summary>").unwrap();
        assert_eq!(summary.len(), 100_000);
        assert!(big.body.ends_with("</feed>\n"));
        assert_eq!(big.entries(), 1);
    }
    fake.clear_faults();

    fake.fault(ALL, Fault::EndlessPaging);
    let far = get(&fake, &format!("{ALL}?ps=7&page=40"), ADMIN);
    assert_eq!(far.entries(), 7);
    assert!(
        far.first("opensearch:totalResults")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 40 * 7
    );
    assert!(far.body.contains("ps=7&amp;page=41\""));
    assert!(
        far.body
            .contains("<snx:communityUuid>endless-40-0</snx:communityUuid>")
    );
    fake.clear_faults();

    fake.fault("ps=3", Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    assert_eq!(get(&fake, &format!("{ALL}?ps=3"), ADMIN).entries(), 2);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(get(&fake, ALL, ADMIN).status, 200);
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[test]
fn populate_and_the_change_endpoint_serve_bulk_data() {
    let fake = fake_with(0);
    fake.populate(30, 5, 20);
    let all = get(&fake, &format!("{ALL}?ps=500"), ADMIN);
    assert_eq!(all.first("opensearch:totalResults"), Some("30"));
    assert_eq!(all.uuids()[0], populated_uuid(1));
    let members = get(
        &fake,
        &format!("{MEMBERS}?communityUuid={}", populated_uuid(1)),
        ADMIN,
    );
    assert_eq!(members.first("opensearch:totalResults"), Some("5"));
    let latest = all.body.split("<updated>").nth(2).unwrap()[..24].to_owned();

    let change = send(&fake, "POST", "/__fake/change?communities=3", None, "");
    assert_eq!((change.status, change.body.as_str()), (200, "changed 3\n"));
    let changed = get(&fake, &format!("{ALL}?since={latest}"), ADMIN);
    assert_eq!(
        changed.uuids(),
        [populated_uuid(1), populated_uuid(2), populated_uuid(3)]
    );
    assert!(changed.body.contains("Community 00001 (change 1)"));
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path_and_query == "/__fake/change?communities=3")
    );
    let members_after = get(
        &fake,
        &format!("{MEMBERS}?communityUuid={}", populated_uuid(1)),
        ADMIN,
    );
    assert_eq!(members_after.first("opensearch:totalResults"), Some("5"));
    assert_ne!(
        members_after.body.replace(&latest, ""),
        members.body.replace(&latest, "")
    );
}

#[test]
fn the_binary_prints_its_port_and_serves() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-connections"))
        .args([
            "--communities",
            "12",
            "--members",
            "3",
            "--users",
            "10",
            "--admin",
            "root:pw",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(request_text("GET", "x", ALL, Some(("root", "pw")), "").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let answer = parse_answer(&raw);
    assert_eq!(answer.first("opensearch:totalResults"), Some("12"));
}

#[test]
fn the_tls_listener_answers_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let tls = ucsync_testkit::tls::generate(dir.path()).unwrap();
    let fake = FakeConnections::start_tls(&tls).unwrap();
    fake.add_user(
        ADMIN.0,
        "Ada Admin",
        "admin@example.com",
        Some(ADMIN.1),
        true,
    );
    assert_eq!(fake.url(), format!("https://localhost:{}", fake.port()));

    let config = ucsync_testkit::tls::client_config(&tls).unwrap();
    let name = "localhost".try_into().unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", fake.port())).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let host = format!("localhost:{}", fake.port());
    stream
        .write_all(request_text("GET", &host, ALL, Some(ADMIN), "").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => panic!("reading over TLS: {e}"),
    }
    let answer = parse_answer(&raw);
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"https://{host}{ALL}\"/>"
    )));
}
