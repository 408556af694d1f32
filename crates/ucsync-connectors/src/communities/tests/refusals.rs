//! What the server refuses or breaks, and the words the connector finds for it: the run stops
//! when nothing can be trusted (and says which setting to change), one community is an error
//! of its own when only its members feed is unusable.

use std::time::{Duration, Instant};

use ucsync_testkit::{FakeConnections, Fault};

use super::*;

/// The message of `message` must hold every one of `parts`.
#[track_caller]
fn says(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{part:?} is missing from: {message}"
        );
    }
}

#[tokio::test]
async fn a_redirect_to_another_port_is_not_followed_and_names_the_port_to_set() {
    let fake = sales_and_board();
    let elsewhere = super::fake();
    let location = format!("{}{ALL}?page=1&ps=500", elsewhere.url());
    fake.fault("", Fault::Redirect(location.clone()));
    let c = reading(&fake, "");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);

    let url = format!("http://127.0.0.1:{}{ALL}?page=1&ps=500", fake.port());
    let set = format!("set port = {}", elsewhere.port());
    says(
        &message,
        &[&url, &location, &set, "never follows redirects"],
    );
    assert!(!message.contains("protocol ="), "{message}");
    assert!(
        elsewhere.requests().is_empty(),
        "the credentials went to the other server: {:?}",
        elsewhere.requests()
    );
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
}

#[tokio::test]
async fn a_redirect_from_http_to_https_names_the_protocol_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let files = ucsync_testkit::tls::generate(dir.path()).unwrap();
    let secure = FakeConnections::start_tls(&files).unwrap();
    let fake = sales_and_board();
    let location = format!("https://127.0.0.1:{}{ALL}", secure.port());
    fake.fault(ALL, Fault::Redirect(location.clone()));
    let c = reading(&fake, "");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);

    let port = format!("port = {}", secure.port());
    says(&message, &[&location, "set protocol = \"https\"", &port]);
    assert!(!message.contains("host ="), "{message}");
    assert!(secure.requests().is_empty(), "{:?}", secure.requests());
}

#[tokio::test]
async fn a_wrong_password_is_named_as_such_with_the_user_and_never_shown() {
    let fake = sales_and_board();
    let wrong = "Wr0ng-Passw0rd";
    let c = connector(&settings(&fake, &format!("password = \"{wrong}\"")));
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);

    says(
        &message,
        &[
            "401",
            "user \"wasadmin\"",
            "the user name or password is wrong",
        ],
    );
    assert!(!message.contains(wrong), "{message}");
    assert!(
        !c.import_settings().contains(wrong),
        "{}",
        c.import_settings()
    );
    // The fake saw the user, and (it keeps no password) the attempt was made once.
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
}

#[tokio::test]
async fn check_connection_reads_the_server_and_fails_on_401_with_the_same_words() {
    let fake = sales_and_board();
    reading(&fake, "").check_connection().await.unwrap();
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());

    let wrong = "not-the-Passw0rd";
    let c = connector(&settings(&fake, &format!("password = \"{wrong}\"")));
    let message = c.check_connection().await.unwrap_err().to_string();
    says(
        &message,
        &["user \"wasadmin\"", "the user name or password is wrong"],
    );
    assert!(!message.contains(wrong), "{message}");
    let imported = failed(full(c.as_ref(), &mut Sink::default()).await);
    assert!(imported.starts_with(&message), "{imported}\n{message}");
}

#[tokio::test]
async fn a_403_says_the_administrator_lacks_the_communities_administrator_right() {
    let fake = sales_and_board();
    fake.fault("", Fault::Status(403));
    let c = reading(&fake, "");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    says(
        &message,
        &[
            "403",
            "user \"wasadmin\"",
            "lacks the communities-administrator right",
            "global communities-administrator role",
        ],
    );
    let message = c.check_connection().await.unwrap_err().to_string();
    says(&message, &["lacks the communities-administrator right"]);
}

#[tokio::test]
async fn an_unreachable_host_says_cannot_reach_with_the_url_and_what_to_check() {
    let port = free_port();
    let c = connector(&format!(
        "protocol = \"http\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{ADMIN}\"\npassword = \"{PASSWORD}\"\n"
    ));
    let started = Instant::now();
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    let url = format!("cannot reach http://127.0.0.1:{port}{ALL}");
    says(&message, &[&url, "check host, port and protocol"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    let checked = c.check_connection().await.unwrap_err().to_string();
    says(&checked, &["cannot reach", "check host, port and protocol"]);
}

#[tokio::test]
async fn a_malformed_listing_fails_the_run_naming_the_url_and_the_line() {
    let fake = sales_and_board();
    fake.fault(ALL, Fault::MalformedXml);
    let c = reading(&fake, "");
    let mut sink = Sink::default();
    let message = failed(full(c.as_ref(), &mut sink).await);
    let url = format!("http://127.0.0.1:{}{ALL}?page=1&ps=500", fake.port());
    says(&message, &[&url, "line 12"]);
    assert!(sink.sent.is_empty() && sink.memory.listings_ended == 0);
}

/// A full import of Sales and Board and a third community deleted on the server afterwards;
/// then `fault` on Board's members feed; the sink of the second import.
async fn second_import_with_board_members(fault: Fault, more: &str) -> Sink {
    let fake = sales_and_board();
    fake.add_community(FakeCommunity::new("c-gone", "Gone", "anna"));
    let c = reading(&fake, more);
    let mut sink = Sink::default();
    full(c.as_ref(), &mut sink).await.unwrap();
    assert!(sink.memory.staged.contains_key("c-gone"));
    fake.delete_community("c-gone");
    fake.fault("communityUuid=c-board", fault);
    sink.next_run();
    full(c.as_ref(), &mut sink).await.unwrap();
    sink
}

/// Board alone failed: Sales read, Board kept as it was, and nothing deleted (the listing is
/// incomplete, not even the community deleted on the server). Returns the error's message.
#[track_caller]
fn only_board_failed(sink: &Sink) -> String {
    let s = &sink.memory;
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    let (anchor, locator, message) = &s.errors[0];
    assert_eq!(anchor.as_deref(), Some("c-board"));
    says(locator, &["Board"]);
    says(
        message,
        &["members could not be read", "kept as it was staged"],
    );
    assert_eq!(s.object("c-sales").attrs.first("name"), Some("Sales"));
    assert!(!sink.sent.iter().any(|a| a == "c-board"), "{:?}", sink.sent);
    assert!(s.deleted.is_empty(), "{:?}", s.deleted);
    assert!(s.withheld.is_some());
    for kept in ["c-board", "c-gone", "cleo"] {
        assert!(s.staged.contains_key(kept), "{kept}");
    }
    message.clone()
}

#[tokio::test]
async fn a_malformed_members_feed_is_an_error_of_its_community_and_deletes_nothing() {
    let sink = second_import_with_board_members(Fault::MalformedXml, "").await;
    let message = only_board_failed(&sink);
    says(&message, &[MEMBERS, "communityUuid=c-board", "line 12"]);
}

#[tokio::test]
async fn an_oversized_listing_fails_the_run_naming_max_response_mb() {
    let fake = sales_and_board();
    fake.fault(ALL, Fault::Oversized(2 * 1024 * 1024));
    let c = reading(&fake, "max_response_mb = 1");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    says(&message, &[ALL, "larger than 1 MiB", "max_response_mb"]);
}

#[tokio::test]
async fn an_oversized_members_feed_is_an_error_of_its_community() {
    let sink =
        second_import_with_board_members(Fault::Oversized(2 * 1024 * 1024), "max_response_mb = 1")
            .await;
    let message = only_board_failed(&sink);
    says(&message, &["communityUuid=c-board", "max_response_mb"]);
}

#[tokio::test]
async fn a_listing_that_never_ends_is_an_error_read_in_a_few_pages() {
    for page_size in [2, 500] {
        let fake = sales_and_board();
        fake.fault(ALL, Fault::EndlessPaging);
        let c = reading(&fake, &format!("page_size = {page_size}"));
        let started = Instant::now();
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            full(c.as_ref(), &mut Sink::default()),
        )
        .await
        .expect("the import kept reading for 30 s");
        let message = failed(read);
        says(&message, &[ALL, "never ends"]);
        let pages = requests_to(&fake, ALL).len();
        assert!(pages <= 3, "{pages} pages read with page_size {page_size}");
        assert!(requests_to(&fake, MEMBERS).is_empty());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn a_members_feed_that_never_ends_is_an_error_of_its_community() {
    let sink = tokio::time::timeout(
        Duration::from_secs(30),
        second_import_with_board_members(Fault::EndlessPaging, "page_size = 2"),
    )
    .await
    .expect("the import kept reading for 30 s");
    let message = only_board_failed(&sink);
    says(&message, &["communityUuid=c-board", "never ends"]);
}

#[tokio::test]
async fn an_unset_password_env_is_named_and_no_password_is_printed() {
    let fake = sales_and_board();
    let variable = "UCSYNC_TEST_COMMUNITIES_PASSWORD_NEVER_SET";
    let c = connector(&settings(&fake, &format!("password_env = \"{variable}\"")));
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    says(&message, &[variable, "password_env", "is not set"]);
    let checked = c.check_connection().await.unwrap_err().to_string();
    says(&checked, &[variable]);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());

    // Both ways of giving the password: the keys named, the password not.
    let secret = "Pl41n-Secret";
    let table: toml::Table = settings(
        &fake,
        &format!("password = \"{secret}\"\npassword_env = \"{variable}\""),
    )
    .parse()
    .unwrap();
    let Err(problem) = Connectors.build("communities", "communities", &table, Path::new("/"))
    else {
        panic!("a connector with password and password_env was built");
    };
    says(&problem, &["password", "password_env", "not both"]);
    assert!(!problem.contains(secret), "{problem}");
}

#[tokio::test]
async fn a_redirect_to_a_login_page_of_the_same_server_names_it_and_what_it_means() {
    let fake = sales_and_board();
    fake.fault(ALL, Fault::Redirect("/communities/login?next=all".into()));
    let c = reading(&fake, "");
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    let location = format!(
        "http://127.0.0.1:{}/communities/login?next=all",
        fake.port()
    );
    says(
        &message,
        &[&location, "never follows redirects", "another path"],
    );
    assert_eq!(fake.requests().len(), 1, "{:?}", fake.requests());
}

#[tokio::test]
async fn a_server_error_on_a_members_feed_is_an_error_of_its_community() {
    let sink = second_import_with_board_members(Fault::Status(503), "").await;
    let message = only_board_failed(&sink);
    says(
        &message,
        &["communityUuid=c-board", "503", "run the import again"],
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_names_timeout_secs() {
    let fake = sales_and_board();
    fake.fault(ALL, Fault::Delay(Duration::from_secs(5)));
    let c = reading(&fake, "timeout_secs = 1");
    let started = Instant::now();
    let message = failed(full(c.as_ref(), &mut Sink::default()).await);
    says(
        &message,
        &["cannot reach", ALL, "no answer in time", "timeout_secs"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_members_feed_answering_404_keeps_its_community_and_deletes_nothing() {
    // A community deleted between the listing and its members feed, or a proxy that hides the
    // feed: never a deletion on its own, since every feed could answer so.
    let sink = second_import_with_board_members(Fault::Status(404), "").await;
    let s = &sink.memory;
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    let (anchor, _, message) = &s.errors[0];
    assert_eq!(anchor.as_deref(), Some("c-board"));
    says(
        message,
        &["404", "kept as it was staged", "next import deletes it"],
    );
    assert!(s.deleted.is_empty(), "{:?}", s.deleted);
    assert!(s.withheld.is_some());
}
