//! The peer sync feed of `ucsync serve` (docs/PEER.md): pages of changes after a cursor with
//! tombstones, the start-over answer, and peer tokens that read one enterprise and nothing else.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;

use crate::harness::{Env, forest_central_config, people};
use crate::peer_servers::peer_admin;
use crate::serve::{Server, admin, call, wait_for_run};

const FEED: &str = "/api/v1/peer/v1/enterprises/acme-hq/changes";

/// Reads the feed from `cursor` to its end in pages of `limit`: the contacts' mail addresses
/// (each page's in order), the deleted ids, and the last cursor.
async fn read_all(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    cursor: Option<&str>,
    limit: usize,
) -> (Vec<String>, Vec<String>, String, usize) {
    let mut at = cursor.map(str::to_owned);
    let (mut mails, mut deleted, mut pages) = (Vec::new(), Vec::new(), 0);
    loop {
        let mut url = server.url(&format!("{FEED}?limit={limit}"));
        if let Some(c) = &at {
            url.push_str(&format!("&cursor={c}"));
        }
        let response = http.get(&url).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        // The next page's address comes before the body, with the body's cursor (RFC 8288).
        let next = (page["more"] == true).then(|| {
            let cursor = page["cursor"].as_str().unwrap();
            format!("<{FEED}?cursor={cursor}&limit={limit}>; rel=\"next\"")
        });
        assert_eq!(link, next, "{page}");
        assert_eq!(page["protocol"], 1);
        // The first page of a full listing is the one asked without a cursor.
        assert_eq!(page["full"], at.is_none());
        pages += 1;
        for c in page["contacts"].as_array().unwrap() {
            assert_eq!(c["type"], "person", "{c}");
            mails.push(c["mail"][0].as_str().unwrap().to_owned());
        }
        for d in page["deleted"].as_array().unwrap() {
            deleted.push(d.as_str().unwrap().to_owned());
        }
        at = Some(page["cursor"].as_str().unwrap().to_owned());
        if page["more"] != true {
            return (mails, deleted, at.unwrap_or_default(), pages);
        }
    }
}

/// A data directory with enterprise `acme-hq` (the forest people `0..forest`, central empty)
/// and enterprise `branch-1` with the connectors `extra` of it.
fn two_enterprises(forest: usize, extra: &str) -> Env {
    let env = Env::new();
    let config = forest_central_config("500", "", "").replace(
        "[enterprises.default]\n",
        "[enterprises.default]\nid = \"acme-hq\"\n",
    ) + "\n[enterprises.branch]\nid = \"branch-1\"\n"
        + extra;
    env.write("ucsync.toml", config);
    env.write("forest.csv", people(forest, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_pages_through_changes_and_tombstones_and_reads_nothing_else() {
    let env = two_enterprises(20, "");
    // The enterprises with their IDs.
    let listed = env.json(&["enterprises"], 0);
    let ids: Vec<(String, Value)> = listed["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["id"].clone()))
        .collect();
    assert_eq!(
        ids,
        [
            ("branch".to_owned(), "branch-1".into()),
            ("default".to_owned(), "acme-hq".into())
        ]
    );
    // A peer token is bound to an enterprise, always.
    let out = env
        .command(&["admin", "add", "peer-x", "--role", "peer"])
        .env("UCSYNC_ADMIN_PASSWORD", "peer-x-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--enterprise"));
    let peer = peer_admin(&env, "peer-b", "acme-hq");
    let operator = admin(&env, "otto", "operator");
    env.json(&["sync-now"], 0);

    let server = Server::start(&env);
    let http = reqwest::Client::new();
    // A full listing in pages of 7: every person once.
    let (mails, deleted, cursor, pages) = read_all(&http, &server, &peer, None, 7).await;
    assert_eq!(pages, 3);
    assert_eq!(mails.len(), 20);
    assert_eq!(mails.iter().collect::<BTreeSet<_>>().len(), 20);
    assert!(deleted.is_empty());

    // Nothing else for a peer token: no other enterprise, no other endpoint.
    for path in [
        "/api/v1/peer/v1/enterprises/branch-1/changes".to_owned(),
        "/api/v1/directory".to_owned(),
        "/api/v1/connectors".to_owned(),
    ] {
        let (status, body) = call(&http, "GET", &server.url(&path), Some(&peer)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, _) = call(&http, "GET", &server.url(FEED), Some(&operator)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/peer/v1/enterprises/nowhere/changes"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // One changed, one deleted, one added: the delta carries exactly those.
    let mut rows = people(20, 0).replace("user3@forest.example", "user3-new@forest.example");
    rows = rows.replace(
        "5,Given5,Sur5,user5@forest.example,+1 555 0000005,Dept5\n",
        "",
    );
    rows.push_str("99,Given99,Sur99,user99@forest.example,+1 555 0000099,Dept1\n");
    env.write("forest.csv", rows);
    let (status, body) = call(
        &http,
        "POST",
        &server.url("/api/v1/enterprises/default/sync-now"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    wait_for_run(&http, &server, &operator, body["run_id"].as_i64().unwrap()).await;
    let (mails, deleted, after, _) = read_all(&http, &server, &peer, Some(&cursor), 7).await;
    let mut mails = mails;
    mails.sort();
    assert_eq!(mails, ["user3-new@forest.example", "user99@forest.example"]);
    assert_eq!(deleted.len(), 1);
    // Nothing more after that.
    let (mails, deleted, _, _) = read_all(&http, &server, &peer, Some(&after), 7).await;
    assert!(mails.is_empty() && deleted.is_empty());

    // A cursor of another store starts over; one that is not a cursor is refused.
    let (generation, rest) = after.strip_prefix("v1-").unwrap().split_once('-').unwrap();
    let foreign = format!("v1-{}-{rest}", "0".repeat(generation.len()));
    let (status, body) = call(
        &http,
        "GET",
        &server.url(&format!("{FEED}?cursor={foreign}")),
        Some(&peer),
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["start_over"], true);
    for bad in ["cursor=nonsense", "limit=0", "limit=5001"] {
        let (status, body) = call(
            &http,
            "GET",
            &server.url(&format!("{FEED}?{bad}")),
            Some(&peer),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/peer/v1/enterprises/acme-hq/changes"),
        Some("ucs_not-a-token"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

/// The feed of `url` from `cursor`: the status and the answer.
async fn page_after(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    cursor: &str,
) -> (StatusCode, Value) {
    let response = http
        .get(format!("{url}?cursor={cursor}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A cursor older than the deletions the server keeps, or ahead of its changes, starts over;
/// a peer that keeps reading a quiet enterprise is never sent back to the start because
/// another enterprise's old deletions were let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_enterprise_keeps_its_peers_cursor_while_another_lets_old_deletions_go() {
    let env = two_enterprises(
        5,
        "\n[connectors.shop]\nkind = \"csv\"\nenterprise = \"branch\"\n[connectors.shop.settings]\npath = \"shop.csv\"\nkey = [\"employeeId\"]\n[connectors.shop.rules]\nprojection = { person = \"person\" }\n[connectors.shop.rules.import_flows]\nmail = \"mail\"\n",
    );
    env.write("shop.csv", people(5, 100));
    env.json(&["sync-now"], 0);
    env.json(&["sync-now", "--enterprise", "branch"], 0);
    let operator = admin(&env, "otto", "operator");
    let peer = peer_admin(&env, "peer-b", "acme-hq");
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let shop_sync = || async {
        let url = server.url("/api/v1/enterprises/branch/sync-now");
        let (status, body) = call(&http, "POST", &url, Some(&operator)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        wait_for_run(&http, &server, &operator, body["run_id"].as_i64().unwrap()).await;
    };
    let (mails, _, first, _) = read_all(&http, &server, &peer, None, 10).await;
    assert_eq!(mails.len(), 5);

    // The branch deletes two people; acme-hq stays quiet, and its peer reads nothing new.
    env.write("shop.csv", people(3, 100));
    shop_sync().await;
    let (mails, deleted, quiet, _) = read_all(&http, &server, &peer, Some(&first), 10).await;
    assert!(mails.is_empty() && deleted.is_empty());

    // Those deletions become older than the server keeps them; the next one lets them go.
    {
        let options =
            sqlx::sqlite::SqliteConnectOptions::new().filename(env.path("data/ucsync.db"));
        let mut db = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("UPDATE entry_tombstones SET deleted_at = '2000-01-01T00:00:00Z'")
            .execute(&mut db)
            .await
            .unwrap();
    }
    env.write("shop.csv", people(2, 100));
    shop_sync().await;
    let url = server.url(FEED);
    // The peer that kept reading goes on from its cursor: nothing of acme-hq was let go.
    let (status, body) = page_after(&http, &url, &peer, &quiet).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contacts"], Value::Array(vec![]), "{body}");
    // One that last read before those deletions starts over: it cannot know what it missed.
    let (status, body) = page_after(&http, &url, &peer, &first).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(
        body["start_over"] == true
            && body["error"]
                .as_str()
                .unwrap()
                .contains("older than the deletions this server keeps"),
        "{body}"
    );
    // A cursor ahead of the server's changes (its store restored from a backup) starts over.
    let (head, id) = quiet.rsplit_once('-').unwrap();
    let (head, seq) = head.rsplit_once('-').unwrap();
    let ahead = format!("{head}-{}-{id}", seq.parse::<i64>().unwrap() + 1000);
    let (status, body) = page_after(&http, &url, &peer, &ahead).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("ahead of this server's changes"),
        "{body}"
    );
}
