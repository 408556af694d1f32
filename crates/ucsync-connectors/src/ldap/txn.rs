//! Bulk adds in LDAP transactions (RFC 5805), when `transactions = true`. When a batch of
//! exports holds many adds and the server offers transactions, the adds are queued in
//! transactions of [`TXN_SIZE`], several under way at once, and each is committed whole: slapd
//! then writes its adds in one database transaction instead of one each, which halves the CPU
//! it spends per entry. A post-read control cannot answer inside a transaction, so the new
//! entries' anchors are read afterwards with one search per parent and naming attribute.
//!
//! A transaction is all or nothing. When the server refuses one or fails it (an entry already
//! exists, a parent is missing), nothing of it was written, and its adds are sent again one by
//! one, so that each failing object gets its own error and the others are added.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::StreamExt;
use ldap3::controls::TxnSpec;
use ldap3::exop::{EndTxn, StartTxn};
use ldap3::{Ldap, Scope};

use super::config::LdapSettings;
use super::{LdapConnector, dn, entry};

/// Fewer adds than this in a batch go one by one: a transaction would save little.
pub const MIN_ADDS: usize = 16;
/// Adds per transaction.
pub const TXN_SIZE: usize = 500;
/// Transactions under way at once, each on its own connection: slapd decodes and checks the
/// adds of some (on several threads) while it writes another (on one), and one waits out its
/// settle pause while the others go on.
pub const LANES: usize = 4;
/// Values of the naming attribute asked for in one search: slapd tests every candidate
/// against the whole filter, so a long one costs more per entry (64 cost slapd two thirds of
/// what 250 did, and a third of 1,000).
const FILTER_TERMS: usize = 64;
/// How long queued adds are left to settle before their transaction is ended.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(20);
const START_TXN_OID: &str = "1.3.6.1.1.21.1";
const END_TXN_OID: &str = "1.3.6.1.1.21.3";

/// An add ready to send: where, and the LDAP attributes with their values.
/// An add committed: the new entry's anchor and, when the search found it, the entry with the
/// attributes an import asks for; or why it could not be read back.
pub type Added = Result<(String, Option<entry::RawEntry>), String>;

pub struct PreparedAdd {
    pub dn: String,
    pub entry: Vec<(String, HashSet<String>)>,
}

/// Whether the server's root DSE lists the start and end transaction operations.
pub async fn offered(s: &LdapSettings, ldap: &mut Ldap) -> bool {
    let found = ldap
        .with_timeout(s.timeout)
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["supportedExtension"],
        )
        .await;
    let Ok(ldap3::SearchResult(entries, result)) = found else {
        return false;
    };
    if result.rc != 0 {
        return false;
    }
    let extensions: HashSet<String> = entries
        .into_iter()
        .filter_map(|re| entry::parse(re.0))
        .flat_map(|raw| {
            raw.get("supportedExtension")
                .unwrap_or(&[])
                .iter()
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    extensions.contains(START_TXN_OID) && extensions.contains(END_TXN_OID)
}

/// Sends `adds` in transactions of [`TXN_SIZE`], one under way per connection of `conns`;
/// per add, its anchor and the entry as read back (or why it could not be read back) when its transaction was
/// committed, `None` when it was not (then nothing of that transaction was written).
pub async fn add_all(
    c: &LdapConnector,
    conns: &[Ldap],
    adds: &[PreparedAdd],
) -> Vec<Option<Added>> {
    let s = &c.settings;
    if conns.is_empty() {
        return vec![None; adds.len()];
    }
    let work: Vec<_> = adds
        .chunks(TXN_SIZE)
        .enumerate()
        .map(|(k, chunk)| {
            let mut l = conns[k % conns.len()].clone();
            async move {
                if commit(s, &mut l, chunk).await {
                    anchors(c, &mut l, chunk)
                        .await
                        .into_iter()
                        .map(Some)
                        .collect()
                } else {
                    vec![None; chunk.len()]
                }
            }
        })
        .collect();
    let done: Vec<Vec<Option<Added>>> = futures_util::stream::iter(work)
        .buffered(conns.len())
        .collect()
        .await;
    done.into_iter().flatten().collect()
}

/// Sends `adds` in one transaction; `true` when the server committed it, `false` when it
/// refused or failed it (then nothing of it was written).
pub(super) async fn commit(s: &LdapSettings, ldap: &mut Ldap, adds: &[PreparedAdd]) -> bool {
    let started = ldap.with_timeout(s.timeout).extended(StartTxn).await;
    let id = succeeded(started, "starting a transaction")
        .and_then(|exop| exop.val)
        .and_then(|v| String::from_utf8(v).ok());
    let Some(id) = id else {
        return false;
    };
    let sends: Vec<_> = adds
        .iter()
        .map(|a| {
            let mut l = ldap.clone();
            let id = id.as_str();
            async move {
                match l
                    .with_timeout(s.timeout)
                    .with_controls(TxnSpec { txn_id: id })
                    .add(&a.dn, a.entry.clone())
                    .await
                {
                    Ok(r) if r.rc == 0 => true,
                    Ok(r) => {
                        tracing::debug!(dn = %a.dn, rc = r.rc, text = %r.text, "an add was not queued in the transaction");
                        false
                    }
                    Err(e) => {
                        tracing::debug!(dn = %a.dn, error = %e, "queueing an add in the transaction");
                        false
                    }
                }
            }
        })
        .collect();
    let queued: Vec<bool> = futures_util::stream::iter(sends)
        .buffered(s.max_in_flight)
        .collect()
        .await;
    let all_queued = queued.iter().all(|q| *q);
    // slapd 2.5 answers a queued update before its worker thread is done with it: that thread
    // still unlinks the operation's extra data, while an end transaction adds its own to the
    // same list, and the two at once crash slapd. A round trip and a pause first let those
    // threads finish; the other connection's transaction goes on meanwhile, so the pause costs
    // little. It narrows the window; it cannot close it (see docs/LDAP.md).
    let _ = ldap
        .with_timeout(s.timeout)
        .search("", Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await;
    tokio::time::sleep(SETTLE).await;
    let ended = ldap
        .with_timeout(s.timeout)
        .extended(EndTxn {
            txn_id: &id,
            commit: all_queued,
        })
        .await;
    let committed = succeeded(ended, "ending a transaction (its adds are sent one by one)");
    committed.is_some() && all_queued
}

/// The answer of a transaction operation that succeeded; `None`, with the reason logged,
/// when it did not.
fn succeeded(
    result: ldap3::result::Result<ldap3::result::ExopResult>,
    what: &str,
) -> Option<ldap3::exop::Exop> {
    match result {
        Ok(ldap3::result::ExopResult(exop, r)) if r.rc == 0 => Some(exop),
        Ok(ldap3::result::ExopResult(_, r)) => {
            tracing::debug!(rc = r.rc, text = %r.text, "{what}: refused");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "{what}: failed");
            None
        }
    }
}

/// The anchors of entries just added, with the entries as an import reads them, in the order
/// of `adds`. Entries of one parent are asked
/// for together by their naming attribute's values; an entry not found that way (a
/// multi-valued RDN, a search the server refused) is read by its DN.
async fn anchors(c: &LdapConnector, ldap: &mut Ldap, adds: &[PreparedAdd]) -> Vec<Added> {
    let s = &c.settings;
    let wanted = &s.requested_attributes();
    // (parent, naming attribute) → (index, value)
    let mut groups: BTreeMap<(String, String), Vec<(usize, String)>> = BTreeMap::new();
    for (i, a) in adds.iter().enumerate() {
        if let Some((attr, value)) = dn::first_ava(&a.dn) {
            let parent = dn::split_first(&a.dn).1.to_owned();
            groups
                .entry((parent, attr.to_ascii_lowercase()))
                .or_default()
                .push((i, value));
        }
    }
    let shared: &Ldap = ldap;
    let searches: Vec<_> = groups
        .iter()
        .flat_map(|((parent, attr), members)| {
            members.chunks(FILTER_TERMS).map(move |chunk| {
                let terms: String = chunk
                    .iter()
                    .map(|(_, v)| format!("({attr}={})", ldap3::ldap_escape(v)))
                    .collect();
                let mut l = shared.clone();
                let wanted = wanted.clone();
                async move {
                    l.with_timeout(s.timeout)
                        .search(parent, Scope::OneLevel, &format!("(|{terms})"), wanted)
                        .await
                }
            })
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(searches)
        .buffer_unordered(s.max_in_flight)
        .collect()
        .await;
    let mut found: HashMap<Vec<dn::NormRdn>, (String, entry::RawEntry)> = HashMap::new();
    for result in results {
        // A search that failed leaves its entries to be read one by one below.
        let Ok(ldap3::SearchResult(entries, r)) = result else {
            continue;
        };
        if r.rc != 0 {
            continue;
        }
        for raw in entries.into_iter().filter_map(|re| entry::parse(re.0)) {
            if let (Some(norm), Ok(anchor)) = (dn::parse(&raw.dn), entry::anchor(s, &raw)) {
                found.insert(norm, (anchor, raw));
            }
        }
    }
    let mut out = Vec::with_capacity(adds.len());
    for a in adds {
        let known = dn::parse(&a.dn).and_then(|norm| found.remove(&norm));
        let anchor = match known {
            Some((anchor, raw)) => Ok(Some((anchor, Some(raw)))),
            None => c
                .read_entry(ldap, &a.dn)
                .await
                .map(|raw| raw.and_then(|raw| Some((entry::anchor(s, &raw).ok()?, Some(raw))))),
        };
        out.push(match anchor {
            Ok(Some((anchor, raw))) => {
                c.cache.learn(&a.dn, &anchor);
                Ok((anchor, raw))
            }
            Ok(None) => Err(format!(
                "{} was added but cannot be read back; check that the bind DN may read {}",
                a.dn, s.anchor
            )),
            Err(e) => Err(format!("{} was added; reading it back: {e}", a.dn)),
        });
    }
    out
}
