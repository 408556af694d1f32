//! Import: a full listing of each base DN with the paged-results control, or a delta through
//! RFC 4533 content synchronization (refreshOnly) of each base, whose cookies are the
//! watermark. Entries that carry references (group members) wait until the listing is read, so
//! that every DN they name can be turned into the anchor of its entry.
//!
//! A listing that misses entries deletes nothing: a referral (never followed) other than to the
//! server's own partitions ([`super::referral`]) is reported to the sink as a gap in the listing
//! and the rest is read; a page or a search that fails (a
//! size limit, a server that stops answering) fails the import, and the engine infers no
//! deletions from the part that was read.

use std::collections::HashSet;

use ldap3::controls::{MakeCritical, PagedResults, RawControl, SyncRequest};
use ldap3::{Ldap, ResultEntry, Scope};
use ucsync_model::{
    ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
};

use super::config::{LdapSettings, Mode};
use super::conn::{describe, op_failed};
use super::sync::{self, SyncMessage};
use super::{LdapConnector, ad, dn, entry, referral};

/// What the watermark of an `openldap` connector holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct Watermark {
    /// The content synchronization cookie, hex.
    cookie: String,
    /// What the search asked for when the cookie was given; a cookie is only valid for it.
    spec: String,
}

pub(super) fn spec(s: &LdapSettings) -> String {
    let text = format!(
        "{}|{}|{}",
        s.bases_text(),
        s.combined_filter(),
        s.requested_attributes().join(",")
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

pub async fn import(
    c: &LdapConnector,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    let s = &c.settings;
    let mut ldap = c.connect().await?;
    let mut run = Listing {
        c,
        deferred: Vec::new(),
        dropped_refs: 0,
        seen: None,
        references: Vec::new(),
        partitions: None,
        changes_only: false,
        gone: Vec::new(),
    };
    let syncrepl = s.mode == Mode::OpenLdap && s.anchor.eq_ignore_ascii_case("entryUUID");
    let mut notes = Vec::new();
    let summary = match request.mode {
        ImportMode::Delta if syncrepl => {
            let previous = request
                .watermark
                .as_deref()
                .and_then(|w| serde_json::from_str::<Watermark>(w).ok());
            let bases = s.base_dns.len();
            let cookies: Vec<Option<Vec<u8>>> = match previous {
                Some(w) if w.spec == spec(s) => {
                    let parts: Vec<&str> = w.cookie.split(',').collect();
                    if parts.len() == bases {
                        parts.into_iter().map(hex_decode).collect()
                    } else {
                        vec![None; bases]
                    }
                }
                Some(_) => {
                    notes.push("the object types changed since the last import, so everything was read again".to_owned());
                    vec![None; bases]
                }
                None => vec![None; bases],
            };
            let mut outcomes = Vec::with_capacity(bases);
            // Each base's synchronization names the entries of the others that changed as
            // gone from its own view: only what no base sent is deleted.
            if bases > 1 {
                run.seen = Some(HashSet::new());
            }
            for (base, cookie) in s.base_dns.iter().zip(cookies) {
                let mut outcome = run.refresh(&mut ldap, sink, base, cookie.clone()).await?;
                if outcome.refused && cookie.is_some() {
                    notes.push(format!(
                        "the server refused the synchronization cookie ({}), so everything was read again{}",
                        outcome.refusal,
                        if bases > 1 {
                            format!(" below {base}")
                        } else {
                            String::new()
                        }
                    ));
                    outcome = run.refresh(&mut ldap, sink, base, None).await?;
                }
                outcomes.push(outcome);
            }
            // Deletions are inferred from a listing of every base: a base whose refresh only
            // sent changes is listed again when another one was listed.
            if outcomes.iter().any(|o| o.listing) {
                for (base, outcome) in s.base_dns.iter().zip(outcomes.iter_mut()) {
                    if !outcome.listing && !outcome.refused {
                        *outcome = run.refresh(&mut ldap, sink, base, None).await?;
                    }
                }
            }
            if let Some(o) = outcomes.iter().find(|o| o.refused) {
                return Err(ConnectorError::Unavailable(format!(
                    "{}: content synchronization failed: {}",
                    s.url, o.refusal
                )));
            }
            let seen = run.seen.take().unwrap_or_default();
            let mut deleted = HashSet::new();
            for (uuid, dn) in std::mem::take(&mut run.gone) {
                if !seen.contains(&uuid) && deleted.insert(uuid.clone()) {
                    sink.deleted(&uuid, dn).await?;
                }
            }
            run.flush_deferred(&mut ldap, sink).await?;
            if outcomes.iter().all(|o| o.listing) {
                sink.end_of_listing().await?;
            }
            let cookies: Option<Vec<String>> = outcomes
                .iter()
                .map(|o| o.cookie.as_deref().map(hex_encode))
                .collect();
            ImportSummary {
                watermark: cookies.map(|k| {
                    serde_json::to_string(&Watermark {
                        cookie: k.join(","),
                        spec: spec(s),
                    })
                    .unwrap_or_default()
                }),
                ..ImportSummary::default()
            }
        }
        mode if s.mode == Mode::ActiveDirectory => {
            ad::import(
                &mut run,
                &mut ldap,
                sink,
                mode,
                request.watermark,
                &mut notes,
            )
            .await?
        }
        mode => {
            if mode == ImportMode::Delta {
                notes.push(format!(
                    "delta imports need the entryUUID anchor in mode = \"openldap\" (this connector uses {}), or mode = \"active-directory\", so everything was read",
                    s.anchor
                ));
            }
            run.paged(&mut ldap, sink).await?;
            run.flush_deferred(&mut ldap, sink).await?;
            sink.end_of_listing().await?;
            ImportSummary::default()
        }
    };
    if run.dropped_refs > 0 {
        notes.push(format!(
            "{} reference values name entries outside this connector's object types and were left out",
            run.dropped_refs
        ));
    }
    let _ = ldap.unbind().await;
    Ok(ImportSummary {
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        ..summary
    })
}

pub(super) struct Listing<'a> {
    pub c: &'a LdapConnector,
    /// Records with references, sent once every DN they name is known.
    deferred: Vec<ImportRecord>,
    dropped_refs: usize,
    /// The anchors of the entries of the configured object types seen (and named present by
    /// a content synchronization), when asked for.
    pub seen: Option<HashSet<String>>,
    /// The URLs of each search continuation reference of the search under way.
    references: Vec<Vec<String>>,
    /// The server's own partitions, read at the first reference.
    partitions: Option<referral::Partitions>,
    /// The search reads changes only: an entry it returns that is no longer of the object
    /// types (moved into an excluded container, or out of its type's base) is gone.
    changes_only: bool,
    /// What content synchronizations named as gone, with the DN when known; deleted once
    /// every base is read, unless another base's synchronization sent it.
    gone: Vec<(String, Option<String>)>,
}

/// One search: base, filter, attributes and controls (the paged-results control is added).
pub(super) struct Query {
    pub base: String,
    pub filter: String,
    pub attrs: Vec<String>,
    pub controls: Vec<RawControl>,
}

/// What a search does with its entries.
pub(super) enum Out<'a> {
    Stage(&'a mut dyn ImportSink),
    Collect(&'a mut Vec<ResultEntry>),
}

/// How a content synchronization ended.
struct Refresh {
    cookie: Option<Vec<u8>>,
    /// The server listed every entry (initial content or a present phase): what it did not
    /// name is gone.
    listing: bool,
    refused: bool,
    refusal: String,
}

impl Listing<'_> {
    /// A full listing, page by page.
    pub(super) async fn paged(
        &mut self,
        ldap: &mut Ldap,
        sink: &mut dyn ImportSink,
    ) -> Result<(), ConnectorError> {
        let s = &self.c.settings;
        for base in &s.base_dns {
            let query = Query {
                base: base.clone(),
                filter: s.combined_filter(),
                attrs: s.requested_attributes(),
                controls: Vec::new(),
            };
            self.search(ldap, &query, Out::Stage(&mut *sink)).await?;
        }
        Ok(())
    }

    /// Reports the references the last search met, except those to the server's own other
    /// partitions and into excluded containers, as gaps in the listing.
    async fn report_references(
        &mut self,
        ldap: &mut Ldap,
        sink: &mut dyn ImportSink,
        base: &str,
    ) -> Result<(), ConnectorError> {
        if self.references.is_empty() {
            return Ok(());
        }
        let s = &self.c.settings;
        let references = std::mem::take(&mut self.references);
        if self.partitions.is_none() {
            self.partitions = Some(referral::Partitions::read(s, ldap).await);
        }
        let partitions = self.partitions.clone().unwrap_or_default();
        for urls in references {
            let foreign = referral::foreign(s, &partitions, &urls);
            // The URLs of one reference are alternatives: one that is known is enough.
            if foreign.len() < urls.len() {
                continue;
            }
            if let Some(url) = foreign.first() {
                sink.incomplete(referral::gap_message(s, base, url)).await?;
            }
        }
        Ok(())
    }

    /// Runs `query` page by page, staging or collecting what it finds.
    pub(super) async fn search(
        &mut self,
        ldap: &mut Ldap,
        query: &Query,
        mut out: Out<'_>,
    ) -> Result<(), ConnectorError> {
        let s = &self.c.settings;
        let mut cookie = Vec::new();
        loop {
            let mut controls = query.controls.clone();
            controls.push(
                PagedResults {
                    size: s.page_size,
                    cookie: cookie.clone(),
                }
                .into(),
            );
            let mut stream = ldap
                .with_controls(controls)
                .streaming_search(
                    &query.base,
                    Scope::Subtree,
                    &query.filter,
                    query.attrs.clone(),
                )
                .await
                .map_err(|e| op_failed(s, "the search", &e))?;
            while let Some(re) = stream
                .next()
                .await
                .map_err(|e| op_failed(s, "the search", &e))?
            {
                match &mut out {
                    Out::Stage(sink) => self.entry(re, &mut **sink).await?,
                    Out::Collect(found) => found.push(re),
                }
            }
            let result = stream.finish().await;
            if result.rc != 0 {
                return Err(search_failed(s, &query.base, &result));
            }
            cookie = result
                .ctrls
                .iter()
                .find(|c| c.1.ctype == sync::PAGED_RESULTS_OID)
                .and_then(|c| c.1.val.as_deref())
                .and_then(sync::paged_cookie)
                .unwrap_or_default();
            if cookie.is_empty() {
                if let Out::Stage(sink) = &mut out {
                    self.report_references(ldap, &mut **sink, &query.base)
                        .await?;
                }
                return Ok(());
            }
        }
    }

    /// One refreshOnly content synchronization of `base` from `cookie` (or from nothing).
    async fn refresh(
        &mut self,
        ldap: &mut Ldap,
        sink: &mut dyn ImportSink,
        base: &str,
        cookie: Option<Vec<u8>>,
    ) -> Result<Refresh, ConnectorError> {
        let c = self.c;
        let s = &c.settings;
        let attrs = s.requested_attributes();
        let request = SyncRequest {
            mode: ldap3::controls::RefreshMode::RefreshOnly,
            cookie: cookie.clone(),
            reload_hint: false,
        }
        .critical();
        let mut stream = ldap
            .with_controls(request)
            .streaming_search(base, Scope::Subtree, &s.combined_filter(), attrs)
            .await
            .map_err(|e| op_failed(s, "the synchronization search", &e))?;
        self.changes_only = cookie.is_some();
        let mark = self.gone.len();
        // Without a cookie the server sends the whole content: a listing.
        let mut listing = cookie.is_none();
        let mut new_cookie = None;
        // Deletes count only once the server has finished the refresh: one that fails half-way
        // (an access rule hides the base, after the session log named what it hides as gone)
        // must delete nothing.
        let mut gone: Vec<String> = Vec::new();
        while let Some(re) = stream
            .next()
            .await
            .map_err(|e| op_failed(s, "the synchronization search", &e))?
        {
            match sync::classify(&re) {
                SyncMessage::Info(info) => {
                    if let Some(k) = info.cookie {
                        new_cookie = Some(k);
                    }
                    // A present phase: every entry not named is gone.
                    if info.present_phase {
                        listing = true;
                    }
                    for uuid in info.present {
                        self.saw(&uuid);
                        sink.present(&uuid).await?;
                    }
                    gone.extend(info.deleted);
                }
                SyncMessage::Entry { state, uuid } => match state {
                    sync::State::Present => {
                        listing = true;
                        self.saw(&uuid);
                        sink.present(&uuid).await?;
                    }
                    sync::State::Delete => gone.push(uuid),
                    sync::State::AddOrModify => self.entry(re, sink).await?,
                },
                SyncMessage::Other => self.entry(re, sink).await?,
            }
        }
        let result = stream.finish().await;
        self.changes_only = false;
        if result.rc == 4096 || (result.rc != 0 && cookie.is_some() && result.rc == 53) {
            self.gone.truncate(mark);
            return Ok(Refresh {
                cookie: None,
                listing: false,
                refused: true,
                refusal: describe(&result, result.rc),
            });
        }
        if result.rc == 12 {
            return Err(ConnectorError::Unavailable(format!(
                "{}: the server does not offer content synchronization (RFC 4533) for {}: enable the syncprov overlay on that database, or run full-import instead of delta-import",
                s.url, base
            )));
        }
        if result.rc != 0 {
            return Err(search_failed(s, base, &result));
        }
        self.report_references(ldap, sink, base).await?;
        self.gone.extend(gone.into_iter().map(|uuid| (uuid, None)));
        if let Some(done) = sync::done(&result) {
            if done.cookie.is_some() {
                new_cookie = done.cookie;
            }
            if !done.refresh_deletes && cookie.is_some() {
                listing = true;
            }
        }
        Ok(Refresh {
            cookie: new_cookie.or(cookie),
            listing,
            refused: false,
            refusal: String::new(),
        })
    }

    fn saw(&mut self, anchor: &str) {
        if let Some(seen) = &mut self.seen {
            seen.insert(anchor.to_owned());
        }
    }

    /// One entry of a listing: staged now, or kept until its references can be resolved.
    async fn entry(
        &mut self,
        re: ResultEntry,
        sink: &mut dyn ImportSink,
    ) -> Result<(), ConnectorError> {
        let c = self.c;
        let s = &c.settings;
        if re.is_ref() {
            // Unless it points to the server's own other partitions, the entries behind it are
            // not read, and the listing is incomplete: reported when the search ends.
            self.references.push(ldap3::parse_refs(re.0));
            return Ok(());
        }
        if re.is_intermediate() {
            return Ok(());
        }
        let Some(raw) = entry::parse(re.0) else {
            return Err(ConnectorError::Unavailable(format!(
                "{}: the server sent an entry ucsync cannot read",
                s.url
            )));
        };
        let Some(t) = entry::classify(s, &raw) else {
            // A changed entry the search still finds but that is of no object type any more
            // (moved into an excluded container or out of its type's base) has left the
            // connector's view; the sink ignores it when it was never staged.
            if self.changes_only
                && let Ok(anchor) = entry::anchor(s, &raw)
            {
                c.cache.forget(&raw.dn, &anchor);
                self.gone.push((anchor, Some(raw.dn)));
            }
            return Ok(());
        };
        let anchor = match entry::anchor(s, &raw) {
            Ok(a) => a,
            Err(msg) => {
                sink.error(None, raw.dn.clone(), msg).await?;
                return Ok(());
            }
        };
        c.cache.learn(&raw.dn, &anchor);
        if let Some(seen) = &mut self.seen {
            seen.insert(anchor.clone());
        }
        let attrs = match entry::staged_attrs(t, &raw) {
            Ok(a) => a,
            Err(msg) => {
                sink.error(Some(anchor), raw.dn.clone(), msg).await?;
                return Ok(());
            }
        };
        let record = ImportRecord {
            anchor,
            object_type: t.name.clone(),
            attrs,
            locator: Some(raw.dn),
        };
        if s.references.iter().any(|r| record.attrs.contains(r)) {
            self.deferred.push(record);
        } else {
            sink.object(record).await?;
        }
        Ok(())
    }

    /// Sends the records that carry references, each DN value turned into an anchor.
    pub(super) async fn flush_deferred(
        &mut self,
        ldap: &mut Ldap,
        sink: &mut dyn ImportSink,
    ) -> Result<(), ConnectorError> {
        let records = std::mem::take(&mut self.deferred);
        let refs = self.c.settings.references.clone();
        let mut unknown: HashSet<String> = HashSet::new();
        for r in &records {
            for name in &refs {
                for v in r.attrs.get(name) {
                    if self.c.cache.anchor_of(v).is_none() {
                        unknown.insert(v.clone());
                    }
                }
            }
        }
        self.c
            .resolve_dns(ldap, unknown.into_iter().collect())
            .await?;
        for mut r in records {
            for name in &refs {
                let values = r.attrs.get(name).to_vec();
                if values.is_empty() {
                    continue;
                }
                let mut anchors = Vec::with_capacity(values.len());
                for v in values {
                    match self.c.cache.anchor_of(&v) {
                        Some(a) => anchors.push(a),
                        None => self.dropped_refs += 1,
                    }
                }
                r.attrs.set(name.clone(), anchors);
            }
            sink.object(r).await?;
        }
        Ok(())
    }
}

fn search_failed(s: &LdapSettings, base: &str, result: &ldap3::LdapResult) -> ConnectorError {
    let what = format!(
        "{}: the search below {base} failed: {}",
        s.url,
        describe(result, result.rc)
    );
    match result.rc {
        32 => ConnectorError::Config(format!("{what}; check base_dn")),
        _ => ConnectorError::Unavailable(what),
    }
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The normalized form of a DN, as a cache key.
pub fn dn_key(d: &str) -> String {
    match dn::parse(d) {
        Some(parts) => parts
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(t, v)| format!("{t}={v}"))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(","),
        None => d.to_ascii_lowercase(),
    }
}
