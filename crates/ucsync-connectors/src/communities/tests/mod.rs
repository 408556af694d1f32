//! Tests of the communities connector against the fake Connections server of the test kit:
//! each test starts its own fake, builds the connector from a TOML settings table through the
//! same [`ConnectorFactory`] the engine uses and imports into a [`MemorySink`]. `import`: what
//! full and delta imports stage, page by page; `refusals`: what the server refuses or breaks and
//! the words the connector finds for it; `tls`: certificates it does not accept.

mod import;
mod refusals;
mod tls;

use std::path::Path;
use std::sync::Arc;

use ucsync_model::{
    Connector, ConnectorError, ConnectorFactory, ImportMode, ImportRecord, ImportRequest,
    ImportSink, ImportSummary, Listed, RecordStatus, SinkError,
};
use ucsync_testkit::FakeConnections;
use ucsync_testkit::connections::{CommunityType, FakeCommunity, Request};

use crate::Connectors;
pub use crate::test_sink::MemorySink;

/// The administrator the connector reads as; a communities administrator on every fake.
pub const ADMIN: &str = "wasadmin";
pub const PASSWORD: &str = "Adm1n-S3cret";

pub const ALL: &str = "/communities/service/atom/communities/all";
pub const MEMBERS: &str = "/communities/service/atom/community/members";

/// A fake over HTTP with the administrator and nothing else.
pub fn fake() -> FakeConnections {
    let fake = FakeConnections::start().unwrap();
    fake.add_user(
        ADMIN,
        "Was Admin",
        "wasadmin@example.com",
        Some(PASSWORD),
        true,
    );
    fake
}

/// The settings table of a connector reading `fake` over HTTP as the administrator, with
/// `more` lines added (a key given twice is a TOML error: give only keys not set here).
pub fn settings(fake: &FakeConnections, more: &str) -> String {
    format!(
        "protocol = \"http\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{ADMIN}\"\n{more}\n",
        fake.port()
    )
}

/// A communities connector built by the factory from TOML settings.
pub fn connector(settings: &str) -> Arc<dyn Connector> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors
        .build("communities", "communities", &table, Path::new("/"))
        .unwrap()
}

/// The connector reading `fake` with the right password and `more` settings.
pub fn reading(fake: &FakeConnections, more: &str) -> Arc<dyn Connector> {
    connector(&settings(
        fake,
        &format!("password = \"{PASSWORD}\"\n{more}"),
    ))
}

pub fn request(mode: ImportMode, watermark: Option<String>) -> ImportRequest {
    ImportRequest {
        mode,
        watermark,
        status_file: None,
        absent_is_empty: false,
    }
}

pub async fn full(
    c: &dyn Connector,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    c.import(request(ImportMode::Full, None), sink).await
}

pub async fn delta(
    c: &dyn Connector,
    sink: &mut dyn ImportSink,
    watermark: Option<String>,
) -> Result<ImportSummary, ConnectorError> {
    c.import(request(ImportMode::Delta, watermark), sink).await
}

/// The message of an import that must fail.
pub fn failed(result: Result<ImportSummary, ConnectorError>) -> String {
    match result {
        Ok(summary) => panic!("the import succeeded ({summary:?}); it should have failed"),
        Err(e) => e.to_string(),
    }
}

/// The requests to `path` (without the query).
pub fn requests_to(fake: &FakeConnections, path: &str) -> Vec<Request> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path_and_query.split('?').next() == Some(path))
        .collect()
}

/// The decoded value of `name` in the query of a request.
pub fn param(request: &Request, name: &str) -> Option<String> {
    let query = request.path_and_query.split_once('?')?.1;
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .ok()?
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

pub fn community(uuid: &str, name: &str, author: &str, kind: CommunityType) -> FakeCommunity {
    FakeCommunity {
        kind,
        ..FakeCommunity::new(uuid, name, author)
    }
}

/// Anna, Ben and Cleo (inactive); "Sales" (public, Anna owns it, Ben a member) and "Board"
/// (private, no member is the administrator: Ben and Anna own it, Cleo a member).
pub fn sales_and_board() -> FakeConnections {
    let fake = fake();
    fake.add_user("anna", "Anna Lang", "anna@example.com", None, false);
    fake.add_user("ben", "Ben Ott", "ben@example.com", None, false);
    fake.add_user("cleo", "Cleo Park", "cleo@example.com", None, false);
    fake.set_user_state("cleo", false);
    fake.add_community(FakeCommunity {
        description: "Deals & leads".into(),
        tags: vec!["crm".into(), "sales".into()],
        ..FakeCommunity::new("c-sales", "Sales", "anna")
    });
    fake.add_member("c-sales", "ben", false);
    fake.add_community(community("c-board", "Board", "ben", CommunityType::Private));
    fake.add_member("c-board", "anna", true);
    fake.add_member("c-board", "cleo", false);
    fake
}

/// A port on 127.0.0.1 where nothing listens (bound a moment ago, then freed).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A [`MemorySink`] that also keeps the anchor of every object handed to it, a second one with
/// the same anchor included (which the memory sink refuses without keeping it).
#[derive(Default)]
pub struct Sink {
    pub memory: MemorySink,
    pub sent: Vec<String>,
}

impl Sink {
    /// Forgets what the last import handed over, keeping what is staged.
    pub fn next_run(&mut self) {
        self.memory.next_run();
        self.sent.clear();
    }

    /// How many times an object with `anchor` was handed over.
    pub fn times_sent(&self, anchor: &str) -> usize {
        self.sent.iter().filter(|a| *a == anchor).count()
    }
}

#[async_trait::async_trait]
impl ImportSink for Sink {
    async fn object(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        self.sent.push(record.anchor.clone());
        ImportSink::object(&mut self.memory, record).await
    }

    async fn present(&mut self, anchor: &str) -> Result<(), SinkError> {
        self.memory.present(anchor).await
    }

    async fn deleted(&mut self, anchor: &str, locator: Option<String>) -> Result<(), SinkError> {
        self.memory.deleted(anchor, locator).await
    }

    async fn error(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        self.memory.error(anchor, locator, message).await
    }

    async fn warning(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        self.memory.warning(anchor, locator, message).await
    }

    async fn incomplete(&mut self, reason: String) -> Result<(), SinkError> {
        self.memory.incomplete(reason).await
    }

    async fn end_of_listing_of(&mut self, object_types: &[&str]) -> Result<Listed, SinkError> {
        self.memory.end_of_listing_of(object_types).await
    }

    async fn end_of_listing(&mut self) -> Result<Listed, SinkError> {
        self.memory.end_of_listing().await
    }
}
