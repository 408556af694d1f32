//! The `peer` connector: the contacts another ucsync server offers (one enterprise of it), read
//! one way with the peer sync protocol (`docs/PEER.md`) as its client. It never writes to the
//! peer: every request is a GET of the changes feed.
//!
//! It stages one object type, `contact`: each entry the peer offers, its attributes as sent,
//! with a dial string per telephone number ([`dial`]), `federation = "enabled"` and `peer` (the
//! connector's description), so that rules can put the contacts in a folder per peer. An
//! `external` peer (an XMPP federation partner that is not ucsync) is recorded for federation
//! only: nothing is read from it.
//!
//! This module wires the settings ([`config`]), the HTTPS client ([`client`], with the
//! certificate diagnosis of [`certificate`]) and [`import`] into one [`Connector`].

mod certificate;
mod client;
mod config;
pub mod dial;
mod entry;
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

pub use config::{PeerSettings, PeerSettingsAsWritten, PeerType};

use crate::Kind;
use ucsync_model::config::LentSetting;

/// The object type of a peer's contact.
pub const CONTACT: &str = "contact";

/// The staged attributes.
pub mod attr {
    /// The entry's directory type on the peer: `person` or `contact`.
    pub const TYPE: &str = "type";
    pub const DISPLAY_NAME: &str = "displayName";
    pub const GIVEN_NAME: &str = "givenName";
    pub const SN: &str = "sn";
    pub const CN: &str = "cn";
    pub const MAIL: &str = "mail";
    pub const TELEPHONE_NUMBER: &str = "telephoneNumber";
    pub const MOBILE: &str = "mobile";
    pub const DEPARTMENT: &str = "department";
    pub const TITLE: &str = "title";
    pub const IM_ADDRESS: &str = "imAddress";
    /// One per `telephoneNumber`: outgoing digit + dialing prefix + number (see [`super::dial`]).
    pub const DIAL_STRING: &str = "dialString";
    /// Always `enabled`.
    pub const FEDERATION: &str = "federation";
    /// The connector's description: which peer the contact comes from.
    pub const PEER: &str = "peer";
}

/// What a peer connector can do: read changes since a cursor; never write; the entries it
/// projects are its own alone.
pub const CAPABILITIES: Capabilities = Capabilities {
    delta_import: true,
    export: None,
    retains_referenced_numbers: false,
    one_way: true,
};

/// The schedule offered for peer connectors, in the words of `[schedules.NAME] when`.
pub const DEFAULT_SCHEDULE: &str = "every 1 day at 2:00 AM";

/// The outgoing digit of the dial strings is the PBX node's: the one `pbx_node` names, or the
/// enterprise's one pbx connector. An external peer dials nothing and takes none.
pub const OUTGOING_DIGIT: LentSetting = LentSetting {
    key: "outgoing_digit",
    lender_kind: "pbx",
    via: "pbx_node",
    not_when: &[("peer_type", "external")],
};

/// The registry entry of the `peer` kind.
pub(crate) const KIND: Kind = Kind {
    name: "peer",
    capabilities: CAPABILITIES,
    synchronizer: None,
    validate: crate::settings::validate::<PeerSettings>,
    build: crate::build_kind::<PeerSettings, PeerConnector>,
    secrets: &[("token", "token_env")],
    references: None,
    lent: &[OUTGOING_DIGIT],
    default_schedule: Some(DEFAULT_SCHEDULE),
    // Federation, the dial strings, and a folder named after the peer in directory listings.
    suggested_import_flows: &[
        ("federation", "federation"),
        ("dialString", "dialString"),
        ("folder", "peer"),
    ],
};

impl crate::FromSettings<PeerSettings> for PeerConnector {
    fn from_settings(name: &str, settings: PeerSettings) -> Self {
        Self {
            name: name.to_owned(),
            settings: Arc::new(settings),
        }
    }
}

/// One configured peer connector.
#[derive(Debug, Clone)]
pub struct PeerConnector {
    name: String,
    settings: Arc<PeerSettings>,
}

impl PeerConnector {
    fn client(&self) -> Result<client::Client, ConnectorError> {
        client::Client::new(self.settings.clone()).map_err(ConnectorError::Config)
    }

    fn external(&self) -> bool {
        self.settings.peer_type == PeerType::External
    }
}

#[async_trait]
impl Connector for PeerConnector {
    fn kind(&self) -> &'static str {
        "peer"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn import_settings(&self) -> String {
        // Which enterprise of which server is read, and how its numbers are dialed.
        let s = &self.settings;
        format!(
            "host={} port={} enterprise={:?} peer_type={} dialing_prefix={:?} outgoing_digit={:?}",
            s.host,
            s.port,
            s.peer_enterprise_id,
            s.peer_type.name(),
            s.dialing_prefix,
            s.outgoing_digit.as_deref().unwrap_or("")
        )
    }

    fn object_types(&self) -> Vec<String> {
        vec![CONTACT.to_owned()]
    }

    fn anchor_for(&self, object_type: &str, _attrs: &Attrs) -> Result<String, String> {
        Err(format!(
            "the peer connector \"{}\" is one way: it reads the peer's contacts and never writes to the peer, so it cannot create {object_type} objects there; remove provisioning and export flows towards it",
            self.name
        ))
    }

    fn locator(&self, _object_type: &str, attrs: &Attrs) -> Option<String> {
        attrs
            .first(attr::DISPLAY_NAME)
            .or_else(|| attrs.first(attr::MAIL))
            .map(|n| format!("contact {n:?} of peer {:?}", self.settings.description))
    }

    async fn check_connection(&self) -> Result<(), ConnectorError> {
        if self.external() {
            return Ok(());
        }
        self.client()?
            .changes(None, 1, false)
            .await
            .map(drop)
            .map_err(|f| ConnectorError::Unavailable(f.message().to_owned()))
    }

    async fn inspect(&self) -> SourceView {
        if self.external() {
            return SourceView {
                attributes: Some(BTreeSet::new()),
                from: "an external peer (nothing is read from it)".to_owned(),
                ..SourceView::default()
            };
        }
        let names = [
            attr::TYPE,
            attr::DISPLAY_NAME,
            attr::GIVEN_NAME,
            attr::SN,
            attr::CN,
            attr::MAIL,
            attr::TELEPHONE_NUMBER,
            attr::MOBILE,
            attr::DEPARTMENT,
            attr::TITLE,
            attr::IM_ADDRESS,
            attr::DIAL_STRING,
            attr::FEDERATION,
            attr::PEER,
        ];
        let mut view = SourceView {
            attributes: Some(names.iter().map(|n| (*n).to_owned()).collect()),
            from: "the peer sync protocol, version 1".to_owned(),
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
        if self.external() {
            return import::external(&self.settings, sink).await;
        }
        let client = self.client()?;
        import::import(Arc::new(client), &self.settings, request, sink).await
    }
}
