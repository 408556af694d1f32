//! Active Directory imports (`mode = "active-directory"`): the watermark is the domain
//! controller's `highestCommittedUSN`, kept per domain controller because update sequence
//! numbers are local to each one.
//!
//! A delta import reads two things after the watermark's USN:
//! 1. below each base DN, the entries of the configured object types whose `uSNChanged` is
//!    higher: adds, modifies and renames;
//! 2. with the ShowDeleted control, every object of those object classes in the whole naming
//!    context whose `uSNChanged` is higher, up to the USN read at the start. Those not found by
//!    the first searches are gone from this connector's view: deleted (tombstones), moved out
//!    of the bases or into an excluded container, or no longer matching the filter. Objects created after the watermark were
//!    never staged, so they are left out when the last import read the same domain controller.
//!
//! Reading the USN before both searches means a change made during the import is read again by
//! the next one rather than missed.

use std::collections::BTreeMap;

use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope};
use ucsync_model::{ConnectorError, ImportMode, ImportSink, ImportSummary};

use super::config::{LdapSettings, Mode};
use super::conn::{describe, op_failed};
use super::import::{Listing, Out, Query, spec};
use super::{dn, entry};

/// The LDAP_SERVER_SHOW_DELETED_OID control: tombstones are returned by searches.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// What the watermark of an `active-directory` connector holds.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Watermark {
    /// What the search asked for when the USNs were read.
    spec: String,
    /// The highest committed USN read at the start of the last import, by the invocation ID
    /// of the domain controller that answered.
    usn: BTreeMap<String, u64>,
    /// The domain controller of the last import.
    #[serde(default)]
    last: String,
}

/// The domain controller that answers, as its root DSE describes it.
struct Dc {
    /// The invocation ID of its directory database (or its NTDS settings DN when that cannot
    /// be read): USNs are only comparable for the same one.
    id: String,
    /// Its DNS host name, for messages.
    host: String,
    highest_usn: u64,
    /// The naming contexts that hold the base DNs, searched for objects that left them.
    naming_contexts: Vec<String>,
}

pub async fn import(
    run: &mut Listing<'_>,
    ldap: &mut Ldap,
    sink: &mut dyn ImportSink,
    mode: ImportMode,
    watermark: Option<String>,
    notes: &mut Vec<String>,
) -> Result<ImportSummary, ConnectorError> {
    let s = &run.c.settings;
    let dc = read_dc(s, ldap).await?;
    let spec = spec(s);
    let previous = watermark
        .as_deref()
        .and_then(|w| serde_json::from_str::<Watermark>(w).ok())
        .filter(|w| w.spec == spec);
    let from = match (&previous, mode) {
        (_, ImportMode::Full) => None,
        (None, ImportMode::Delta) => {
            notes.push(
                "no watermark from a previous import with these object types, so everything was read"
                    .to_owned(),
            );
            None
        }
        (Some(w), ImportMode::Delta) => {
            let usn = w.usn.get(&dc.id).copied();
            if usn.is_none() {
                notes.push(format!(
                    "domain controller {} has no watermark yet (update sequence numbers differ on each domain controller), so everything was read",
                    dc.host
                ));
            }
            usn
        }
    };
    match from {
        Some(usn) if usn > dc.highest_usn => {
            notes.push(format!(
                "domain controller {} is at USN {} but the watermark says {usn}: it was restored from a backup, so everything was read",
                dc.host, dc.highest_usn
            ));
            full(run, ldap, sink).await?;
        }
        Some(usn) => {
            // What is staged came from this domain controller up to `usn` only if the last
            // import read it: then objects created later were never staged.
            let same_dc = previous.as_ref().is_some_and(|w| w.last == dc.id);
            delta(run, ldap, sink, &dc, usn, same_dc).await?;
            notes.push(format!(
                "changes after USN {usn} on domain controller {}",
                dc.host
            ));
        }
        None => full(run, ldap, sink).await?,
    }
    let mut next = previous.unwrap_or_default();
    next.spec = spec;
    next.usn.insert(dc.id.clone(), dc.highest_usn);
    next.last = dc.id;
    Ok(ImportSummary {
        watermark: serde_json::to_string(&next).ok(),
        ..ImportSummary::default()
    })
}

async fn full(
    run: &mut Listing<'_>,
    ldap: &mut Ldap,
    sink: &mut dyn ImportSink,
) -> Result<(), ConnectorError> {
    run.paged(ldap, sink).await?;
    run.flush_deferred(ldap, sink).await?;
    sink.end_of_listing().await?;
    Ok(())
}

async fn delta(
    run: &mut Listing<'_>,
    ldap: &mut Ldap,
    sink: &mut dyn ImportSink,
    dc: &Dc,
    usn: u64,
    same_dc: bool,
) -> Result<(), ConnectorError> {
    let s = &run.c.settings;
    let after = usn + 1;
    let left = |naming_context: &String| Query {
        base: naming_context.clone(),
        filter: format!(
            "(&{}(uSNChanged>={after})(uSNChanged<={}){})",
            class_filter(s),
            dc.highest_usn,
            if same_dc {
                format!("(uSNCreated<={usn})")
            } else {
                String::new()
            }
        ),
        attrs: vec![s.anchor.clone()],
        controls: vec![RawControl {
            ctype: SHOW_DELETED_OID.to_owned(),
            crit: true,
            val: None,
        }],
    };
    run.seen = Some(Default::default());
    for base in &s.base_dns {
        let changed = Query {
            base: base.clone(),
            filter: format!("(&{}(uSNChanged>={after}))", s.combined_filter()),
            attrs: s.requested_attributes(),
            controls: Vec::new(),
        };
        run.search(ldap, &changed, Out::Stage(&mut *sink)).await?;
    }
    run.flush_deferred(ldap, sink).await?;
    // Objects changed in the naming contexts that the searches above did not return are
    // gone from the connector's view (deleted, moved out of the bases or into an excluded
    // container, or no longer matching); the sink ignores those it never staged.
    let mut found = Vec::new();
    for nc in &dc.naming_contexts {
        run.search(ldap, &left(nc), Out::Collect(&mut found))
            .await?;
    }
    let seen = run.seen.take().unwrap_or_default();
    for re in found {
        let Some(raw) = entry::parse(re.0) else {
            continue;
        };
        if let Ok(anchor) = entry::anchor(s, &raw)
            && !seen.contains(&anchor)
        {
            run.c.cache.forget(&raw.dn, &anchor);
            sink.deleted(&anchor, Some(raw.dn)).await?;
        }
    }
    Ok(())
}

/// Objects of the configured object classes, whatever the filters say: a filter may have
/// stopped matching an object, and a tombstone keeps only its object classes.
fn class_filter(s: &LdapSettings) -> String {
    let per_type: Vec<String> = s
        .object_types
        .iter()
        .map(|t| match t.object_classes.as_slice() {
            [] => "(objectClass=*)".to_owned(),
            [one] => format!("(objectClass={})", ldap3::ldap_escape(one.as_str())),
            many => format!(
                "(&{})",
                many.iter()
                    .map(|c| format!("(objectClass={})", ldap3::ldap_escape(c.as_str())))
                    .collect::<String>()
            ),
        })
        .collect();
    match per_type.as_slice() {
        [one] => one.clone(),
        _ => format!("(|{})", per_type.concat()),
    }
}

/// Reads the root DSE and the invocation ID of the domain controller that answers.
async fn read_dc(s: &LdapSettings, ldap: &mut Ldap) -> Result<Dc, ConnectorError> {
    let root = base_entry(
        s,
        ldap,
        "",
        vec![
            "highestCommittedUSN",
            "dsServiceName",
            "dnsHostName",
            "defaultNamingContext",
            "namingContexts",
        ],
    )
    .await?;
    let text = |name: &str| -> Vec<String> {
        root.as_ref()
            .and_then(|e| e.get(name))
            .unwrap_or(&[])
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    let Some(highest_usn) = text("highestCommittedUSN")
        .first()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Err(ConnectorError::Config(format!(
            "{}: the server's root DSE has no highestCommittedUSN, so it is not an Active Directory domain controller; set mode = \"openldap\" for other directories",
            s.url
        )));
    };
    let service = text("dsServiceName").into_iter().next().unwrap_or_default();
    let invocation = match service.is_empty() {
        true => None,
        false => base_entry(s, ldap, &service, vec!["invocationId"])
            .await?
            .and_then(|e| e.get("invocationId").and_then(|v| v.first().cloned()))
            .and_then(|v| entry::uuid_text(&v, Mode::ActiveDirectory)),
    };
    let host = text("dnsHostName")
        .into_iter()
        .next()
        .unwrap_or_else(|| s.url.clone());
    Ok(Dc {
        id: invocation.unwrap_or_else(|| service.to_ascii_lowercase()),
        host,
        highest_usn,
        naming_contexts: {
            let contexts = text("namingContexts");
            let mut out: Vec<String> = Vec::new();
            for base in &s.base_dns {
                let nc = naming_context(base, &contexts)
                    .or_else(|| text("defaultNamingContext").into_iter().next())
                    .unwrap_or_else(|| base.clone());
                if !out.iter().any(|o| dn::same(o, &nc)) {
                    out.push(nc);
                }
            }
            out
        },
    })
}

/// The longest naming context that `base` lies in.
fn naming_context(base: &str, contexts: &[String]) -> Option<String> {
    let b = dn::parse(base)?;
    contexts
        .iter()
        .filter_map(|c| Some((c, dn::parse(c)?)))
        .filter(|(_, p)| p.len() <= b.len() && b[b.len() - p.len()..] == p[..])
        .max_by_key(|(_, p)| p.len())
        .map(|(c, _)| c.clone())
}

async fn base_entry(
    s: &LdapSettings,
    ldap: &mut Ldap,
    at: &str,
    attrs: Vec<&str>,
) -> Result<Option<entry::RawEntry>, ConnectorError> {
    let what = format!(
        "reading {}",
        if at.is_empty() { "the root DSE" } else { at }
    );
    let ldap3::SearchResult(entries, result) = ldap
        .with_timeout(s.timeout)
        .search(at, Scope::Base, "(objectClass=*)", attrs)
        .await
        .map_err(|e| op_failed(s, &what, &e))?;
    if result.rc != 0 && result.rc != 32 {
        return Err(ConnectorError::Unavailable(format!(
            "{}: {what}: {}",
            s.url,
            describe(&result, result.rc)
        )));
    }
    Ok(entries.into_iter().find_map(|re| entry::parse(re.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_naming_context_is_the_longest_that_holds_the_base() {
        let contexts = [
            "DC=example,DC=test".to_owned(),
            "CN=Configuration,DC=example,DC=test".to_owned(),
            "DC=child,DC=example,DC=test".to_owned(),
        ];
        assert_eq!(
            naming_context("OU=Staff,DC=child,DC=example,DC=test", &contexts).as_deref(),
            Some("DC=child,DC=example,DC=test")
        );
        assert_eq!(
            naming_context("cn=users,dc=EXAMPLE,dc=test", &contexts).as_deref(),
            Some("DC=example,DC=test")
        );
        assert_eq!(naming_context("dc=other", &contexts), None);
    }
}
