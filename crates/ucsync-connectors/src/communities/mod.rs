//! The `communities` connector: the communities of a collaboration server (HCL Connections,
//! formerly IBM Connections) read one way through its Communities Atom API, with their owners
//! and members. It never writes to the server: every request is a GET.
//!
//! It stages two object types: `community` (name, description, type, tags, owners and members,
//! the last two as anchors of `person` objects) and `person` (a member as the server names them:
//! user id, name, e-mail when the server shows it, state). Rules join persons to the directory's
//! people (by user id, then e-mail) and project communities; a community's members are then
//! references to the directory's people, and one who matches nobody is kept as an unresolved
//! member (see `docs/COMMUNITIES.md`).
//!
//! This module wires the settings ([`config`]), the HTTP client ([`client`]), the feeds
//! ([`atom`]) and [`import`] into one [`Connector`].

mod atom;
mod client;
mod config;
mod import;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ImportRequest, ImportSink, ImportSummary,
    SourceView,
};

pub use config::{CommunitiesSettings, CommunitiesSettingsAsWritten, Members, Protocol};

use crate::Kind;

/// The object type of a community.
pub const COMMUNITY: &str = "community";
/// The object type of a person who is an owner or member of a community.
pub const PERSON: &str = "person";

/// The staged attributes.
pub mod attr {
    pub const UUID: &str = "communityUuid";
    pub const NAME: &str = "name";
    pub const DESCRIPTION: &str = "description";
    pub const TYPE: &str = "communityType";
    pub const TAGS: &str = "tags";
    pub const MEMBER_COUNT: &str = "memberCount";
    /// Every member, owners included: anchors of `person` objects.
    pub const MEMBER: &str = "member";
    /// The owners: anchors of `person` objects.
    pub const OWNER: &str = "owner";
    pub const USERID: &str = "userid";
    pub const DISPLAY_NAME: &str = "displayName";
    pub const EMAIL: &str = "email";
    pub const USER_STATE: &str = "userState";
}

/// What a communities connector can do: read changes since a watermark; never write; the
/// entries it projects are its own alone.
pub const CAPABILITIES: Capabilities = Capabilities {
    delta_import: true,
    export: None,
    retains_referenced_numbers: false,
    one_way: true,
};

/// The registry entry of the `communities` kind.
pub(crate) const KIND: Kind = Kind {
    name: "communities",
    capabilities: CAPABILITIES,
    synchronizer: None,
    validate: crate::settings::validate::<CommunitiesSettings>,
    build: crate::build_kind::<CommunitiesSettings, CommunitiesConnector>,
    secrets: &[("password", "password_env")],
    references: None,
    lent: &[],
    default_schedule: Some("daily at 02:00"),
    suggested_import_flows: &[],
};

impl crate::FromSettings<CommunitiesSettings> for CommunitiesConnector {
    fn from_settings(name: &str, settings: CommunitiesSettings) -> Self {
        Self {
            name: name.to_owned(),
            settings: Arc::new(settings),
        }
    }
}

/// One configured communities connector.
#[derive(Debug, Clone)]
pub struct CommunitiesConnector {
    name: String,
    settings: Arc<CommunitiesSettings>,
}

impl CommunitiesConnector {
    fn client(&self) -> Result<client::Client, ConnectorError> {
        client::Client::new(self.settings.clone()).map_err(ConnectorError::Config)
    }
}

#[async_trait]
impl Connector for CommunitiesConnector {
    fn kind(&self) -> &'static str {
        "communities"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn import_settings(&self) -> String {
        // Who reads decides what is seen (private communities); the members read decide
        // the members staged.
        let s = &self.settings;
        format!(
            "server={} user={:?} members={}",
            s.base_url(),
            s.user,
            s.members.role()
        )
    }

    fn object_types(&self) -> Vec<String> {
        vec![COMMUNITY.to_owned(), PERSON.to_owned()]
    }

    fn anchor_for(&self, object_type: &str, _attrs: &Attrs) -> Result<String, String> {
        Err(format!(
            "the communities connector \"{}\" is one way: it reads the collaboration server and never writes to it, so it cannot create {object_type} objects there; remove provisioning and export flows towards it",
            self.name
        ))
    }

    fn references_name_staged_objects(&self) -> bool {
        true
    }

    /// A member who matches no person of the directory is kept, never dropped silently.
    fn keeps_unresolved_references(&self) -> bool {
        true
    }

    fn locator(&self, object_type: &str, attrs: &Attrs) -> Option<String> {
        match object_type {
            COMMUNITY => attrs
                .first(attr::NAME)
                .map(|n| format!("community \"{n}\"")),
            _ => match (attrs.first(attr::DISPLAY_NAME), attrs.first(attr::EMAIL)) {
                (Some(name), Some(mail)) => Some(format!("{name} <{mail}>")),
                (name, mail) => name.or(mail).map(str::to_owned),
            },
        }
    }

    async fn check_connection(&self) -> Result<(), ConnectorError> {
        let client = self.client()?;
        client
            .get(
                "/communities/service/atom/communities/all",
                &[("ps", "1".to_owned())],
            )
            .await
            .map(drop)
            .map_err(|f| ConnectorError::Unavailable(f.message().to_owned()))
    }

    async fn inspect(&self) -> SourceView {
        let names = [
            attr::UUID,
            attr::NAME,
            attr::DESCRIPTION,
            attr::TYPE,
            attr::TAGS,
            attr::MEMBER_COUNT,
            attr::MEMBER,
            attr::OWNER,
            attr::USERID,
            attr::DISPLAY_NAME,
            attr::EMAIL,
            attr::USER_STATE,
        ];
        let mut view = SourceView {
            attributes: Some(
                names
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect::<BTreeSet<_>>(),
            ),
            from: "the Communities API".to_owned(),
            ..SourceView::default()
        };
        if let Err(e) = self.check_connection().await {
            view.warnings.push(e.to_string());
        }
        view
    }

    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        let client = self.client()?;
        import::import(&Arc::new(client), &self.settings, request, sink).await
    }
}
