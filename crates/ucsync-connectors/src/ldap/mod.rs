//! The `ldap` connector: OpenLDAP and other LDAP v3 directories, and Active Directory.
//!
//! Imports list every configured object type with paged searches, or, for a delta, run an
//! RFC 4533 content synchronization (refreshOnly) whose cookie is the watermark; against
//! Active Directory a delta reads what changed after each domain controller's USN. Exports send
//! adds, minimal modifies, deletes and renames object by object with many operations in
//! flight. References (group `member`) are DNs on the wire and anchors in the staging space.
//!
//! Modules: [`config`] (settings), [`conn`] (connect, bind, TLS, result messages), [`dn`],
//! [`entry`] (reading entries), [`sync`] (RFC 4533 messages), [`import`], [`referral`]
//! (references met while importing), [`ad`] (Active Directory deltas), [`export`].

mod ad;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod ad_tests;
mod config;
mod conn;
#[cfg(test)]
mod cookie_tests;
mod dn;
mod entry;
#[cfg(test)]
mod error_tests;
mod export;
mod import;
mod inspect;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod member_tests;
mod referral;
mod sync;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
mod txn;
#[cfg(test)]
mod txn_tests;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::StreamExt;
use ldap3::{Ldap, Scope};
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ExportChange, ExportResult, ExportStyle,
    ImportRequest, ImportSink, ImportSummary, SourceView, SynchronizerType,
};

pub use config::{LdapObjectTypeAsWritten, LdapSettings, LdapSettingsAsWritten, Mode};

use crate::Kind;

pub const CAPABILITIES: Capabilities = Capabilities {
    delta_import: true,
    export: Some(ExportStyle::Changes),
    retains_referenced_numbers: false,
    one_way: false,
};

pub(crate) const KIND: Kind = Kind {
    name: "ldap",
    capabilities: CAPABILITIES,
    synchronizer: Some(SynchronizerType {
        name: "ldap",
        title: "LDAP synchronizers",
    }),
    validate: crate::settings::validate::<LdapSettings>,
    build: crate::build_kind::<LdapSettings, LdapConnector>,
    secrets: &[("password", "password_env")],
    references: Some(config::staged_references),
    lent: &[],
    default_schedule: None,
    suggested_import_flows: &[],
};

impl crate::FromSettings<LdapSettings> for LdapConnector {
    fn from_settings(name: &str, settings: LdapSettings) -> Self {
        Self::new(name, settings)
    }
}

/// DNs and anchors seen by imports and exports of this process, both ways.
#[derive(Default)]
pub(crate) struct DnCache {
    inner: Mutex<CacheMaps>,
}

#[derive(Default)]
struct CacheMaps {
    anchor_by_dn: HashMap<String, String>,
    dn_by_anchor: HashMap<String, String>,
}

impl DnCache {
    fn with<R>(&self, f: impl FnOnce(&mut CacheMaps) -> R) -> R {
        match self.inner.lock() {
            Ok(mut m) => f(&mut m),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn learn(&self, dn: &str, anchor: &str) {
        self.with(|m| {
            m.anchor_by_dn.insert(import::dn_key(dn), anchor.to_owned());
            m.dn_by_anchor.insert(anchor.to_owned(), dn.to_owned());
        });
    }

    pub fn forget(&self, dn: &str, anchor: &str) {
        self.with(|m| {
            m.anchor_by_dn.remove(&import::dn_key(dn));
            m.dn_by_anchor.remove(anchor);
        });
    }

    pub fn anchor_of(&self, dn: &str) -> Option<String> {
        self.with(|m| m.anchor_by_dn.get(&import::dn_key(dn)).cloned())
    }

    pub fn dn_of(&self, anchor: &str) -> Option<String> {
        self.with(|m| m.dn_by_anchor.get(anchor).cloned())
    }
}

pub struct LdapConnector {
    name: String,
    settings: LdapSettings,
    cache: DnCache,
    /// The connections exports keep from one batch of changes to the next: the first for
    /// everything, the others for transactions of adds under way beside it.
    export_conns: [tokio::sync::Mutex<Option<Ldap>>; txn::LANES],
    /// Whether adds go in transactions: the setting, and the server offering them (asked once).
    transactions: tokio::sync::OnceCell<bool>,
}

impl LdapConnector {
    pub fn new(name: &str, settings: LdapSettings) -> Self {
        Self {
            name: name.to_owned(),
            settings,
            cache: DnCache::default(),
            export_conns: Default::default(),
            transactions: tokio::sync::OnceCell::new(),
        }
    }

    async fn connect(&self) -> Result<Ldap, ConnectorError> {
        conn::connect(&self.name, &self.settings).await
    }

    /// Export connection `slot` (0 to [`txn::LANES`] − 1): the one kept from the last batch while it is open,
    /// else a new one (connecting and binding once per run, not once per batch).
    async fn export_connection(&self, slot: usize) -> Result<Ldap, ConnectorError> {
        let mut kept = self.export_conns[slot % txn::LANES].lock().await;
        if let Some(ldap) = kept.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let ldap = self.connect().await?;
        *kept = Some(ldap.clone());
        Ok(ldap)
    }

    /// Whether bulk adds go in LDAP transactions: `transactions = true` and the server's root
    /// DSE offers them. Asked once per connector.
    async fn transactions_offered(&self, ldap: &mut Ldap) -> bool {
        if !self.settings.transactions {
            return false;
        }
        *self
            .transactions
            .get_or_init(|| async {
                let offered = txn::offered(&self.settings, ldap).await;
                tracing::debug!(connector = %self.name, offered, "LDAP transactions for bulk adds");
                offered
            })
            .await
    }

    /// The anchor of the entry at `dn`, read from the server, when it is an entry of the object
    /// types (in a base and scope, with the object classes, matching the filter).
    async fn read_anchor(&self, ldap: &mut Ldap, dn: &str) -> Result<Option<String>, String> {
        let s = &self.settings;
        let filter = s.combined_filter();
        let found = ldap
            .with_timeout(s.timeout)
            .search(
                dn,
                Scope::Base,
                &filter,
                vec![s.anchor.as_str(), "objectClass"],
            )
            .await
            .map_err(|e| e.to_string())?;
        if found.1.rc == 32 {
            return Ok(None);
        }
        if found.1.rc != 0 {
            return Err(format!(
                "reading {dn}: {}",
                conn::describe(&found.1, found.1.rc)
            ));
        }
        for re in found.0 {
            if let Some(raw) = entry::parse(re.0)
                && entry::classify(s, &raw).is_some()
                && let Ok(a) = entry::anchor(s, &raw)
            {
                self.cache.learn(&raw.dn, &a);
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// The DN of the entry with this anchor, read from the server when not known.
    async fn dn_of(&self, ldap: &mut Ldap, anchor: &str) -> Result<Option<String>, String> {
        if let Some(d) = self.cache.dn_of(anchor) {
            return Ok(Some(d));
        }
        let s = &self.settings;
        let searches: Vec<(String, Scope, String)> = if s.anchor.eq_ignore_ascii_case("objectGUID")
        {
            vec![(
                format!("<GUID={anchor}>"),
                Scope::Base,
                "(objectClass=*)".to_owned(),
            )]
        } else {
            s.base_dns
                .iter()
                .map(|b| {
                    (
                        b.clone(),
                        Scope::Subtree,
                        format!("({}={})", s.anchor, ldap3::ldap_escape(anchor)),
                    )
                })
                .collect()
        };
        for (base, scope, filter) in searches {
            let found = ldap
                .with_timeout(s.timeout)
                .search(&base, scope, &filter, vec!["1.1"])
                .await
                .map_err(|e| e.to_string())?;
            if found.1.rc != 0 && found.1.rc != 32 {
                return Err(format!(
                    "looking up {} {anchor}: {}",
                    s.anchor,
                    conn::describe(&found.1, found.1.rc)
                ));
            }
            for re in found.0 {
                if let Some(raw) = entry::parse(re.0) {
                    self.cache.learn(&raw.dn, anchor);
                    return Ok(Some(raw.dn));
                }
            }
        }
        Ok(None)
    }

    /// The entry at `dn` with every attribute an import asks for; `None` when it is not there.
    async fn read_entry(
        &self,
        ldap: &mut Ldap,
        dn: &str,
    ) -> Result<Option<entry::RawEntry>, String> {
        let s = &self.settings;
        let found = ldap
            .with_timeout(s.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", s.requested_attributes())
            .await
            .map_err(|e| e.to_string())?;
        if found.1.rc == 32 {
            return Ok(None);
        }
        if found.1.rc != 0 {
            return Err(format!(
                "reading {dn}: {}",
                conn::describe(&found.1, found.1.rc)
            ));
        }
        Ok(found.0.into_iter().find_map(|re| entry::parse(re.0)))
    }

    /// An entry just added as an import would stage it: its object type's attributes, `dn` and
    /// `objectClass`, each reference DN turned into the anchor of an entry of the object types.
    /// `None` when the entry is not of `object_type` as the import classifies it, or when a
    /// reference names no entry of the object types yet (a member added in the same export
    /// and not written yet): then what was sent stays the staged state, until the next import.
    async fn staged_state(
        &self,
        ldap: &mut Ldap,
        raw: &entry::RawEntry,
        object_type: &str,
    ) -> Option<Attrs> {
        let t = entry::classify(&self.settings, raw).filter(|t| t.name == object_type)?;
        let mut attrs = entry::staged_attrs(t, raw).ok()?;
        for name in &self.settings.references {
            let values = attrs.get(name).to_vec();
            if values.is_empty() {
                continue;
            }
            let mut anchors = Vec::with_capacity(values.len());
            for v in values {
                let known = match self.cache.anchor_of(&v) {
                    Some(a) => a,
                    None => self.read_anchor(ldap, &v).await.ok()??,
                };
                anchors.push(known);
            }
            attrs.set(name.clone(), anchors);
        }
        Some(attrs)
    }

    /// Reads the anchors of these member DNs, many at a time; a DN of no entry of the object
    /// types stays unknown.
    async fn resolve_dns(&self, ldap: &mut Ldap, dns: Vec<String>) -> Result<(), ConnectorError> {
        let results: Vec<Result<Option<String>, String>> = futures_util::stream::iter(dns)
            .map(|d| {
                let mut l = ldap.clone();
                async move { self.read_anchor(&mut l, &d).await }
            })
            .buffer_unordered(self.settings.max_in_flight)
            .collect()
            .await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            return Err(ConnectorError::Unavailable(format!(
                "{}: {e}",
                self.settings.url
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for LdapConnector {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn import_settings(&self) -> String {
        // Who binds, never with what password; not the settings of how (TLS, timeouts, pages)
        // or of export (transactions, parents).
        let s = &self.settings;
        let bind = match &s.bind {
            config::Bind::Anonymous => "anonymous".to_owned(),
            config::Bind::Simple { dn, .. } => format!("simple {dn}"),
            config::Bind::SaslExternal => "sasl-external".to_owned(),
        };
        format!(
            "url={} bind={bind} base_dn={} mode={:?} anchor={} references={:?} object_types={:?}",
            s.url,
            s.bases_text(),
            s.mode,
            s.anchor,
            s.references,
            s.object_types
        )
    }

    fn object_types(&self) -> Vec<String> {
        self.settings
            .object_types
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    /// A new entry's anchor until the server assigns its own: the DN it will be added at.
    fn anchor_for(&self, object_type: &str, attrs: &Attrs) -> Result<String, String> {
        let t = self
            .settings
            .object_type(object_type)
            .ok_or_else(|| format!("no object type \"{object_type}\" in the ldap settings"))?;
        export::new_dn(t, attrs)
    }

    /// LDAP attribute values are a set; servers return them in an order of their own.
    fn values_are_sets(&self) -> bool {
        true
    }

    fn references(&self) -> Option<Vec<String>> {
        Some(self.settings.references.clone())
    }

    /// Member DNs become anchors only for entries of the object types (see `import`).
    fn references_name_staged_objects(&self) -> bool {
        true
    }

    /// An entry is named by its DN: as last read, else where it was added (its rdn value in
    /// its container), for an entry this connector added and has not read back yet.
    fn locator(&self, object_type: &str, attrs: &Attrs) -> Option<String> {
        if let Some(dn) = attrs.get("dn").first() {
            return Some(dn.clone());
        }
        let t = self.settings.object_type(object_type)?;
        export::new_dn(t, attrs).ok()
    }

    /// An object type keeps `dn`, `objectClass` and its configured attributes.
    fn keeps(&self, object_type: &str, attribute: &str) -> bool {
        attribute == "dn"
            || attribute == "objectClass"
            || self
                .settings
                .object_type(object_type)
                .is_none_or(|t| t.ldap_name(attribute).is_some())
    }

    async fn check_connection(&self) -> Result<(), ConnectorError> {
        let mut ldap = self.connect().await?;
        let s = &self.settings;
        let key = if s.base_dns.len() == 1 {
            "base_dn"
        } else {
            "base_dns"
        };
        for base in &s.base_dns {
            let found = ldap
                .with_timeout(s.timeout)
                .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await
                .map_err(|e| conn::op_failed(s, &format!("reading {key} {base}"), &e))?;
            if found.1.rc != 0 {
                let _ = ldap.unbind().await;
                return Err(ConnectorError::Config(format!(
                    "{}: {key} {base} cannot be read: {}",
                    s.url,
                    conn::describe(&found.1, found.1.rc)
                )));
            }
        }
        let _ = ldap.unbind().await;
        Ok(())
    }

    async fn inspect(&self) -> SourceView {
        inspect::inspect(&self.name, &self.settings).await
    }

    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        import::import(self, request, sink).await
    }

    async fn export_changes(
        &self,
        changes: &[ExportChange],
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        export::export(self, changes).await
    }
}
