//! Full and delta imports of a peer's contacts through the changes feed (`docs/PEER.md`).
//!
//! A full import reads every page from no cursor and ends the listing: a contact the peer no
//! longer offers is deleted. A delta import reads the pages after the watermark (the last
//! cursor) and stages what they hold: changed contacts, and deletions (tombstones). The
//! watermark becomes the last page's cursor.
//!
//! Every page is read before anything is handed to the sink: an entry changed while the feed
//! is read comes again on a later page (entries are in the order of their last change), and
//! only its last version is staged; and when the peer asks to start over (410) after some
//! pages, nothing of them has been staged, so the full listing that follows stages each
//! contact once and deletes exactly what it does not name.

use std::collections::HashMap;

use serde_json::{Map, Value};
use ucsync_model::{
    Attrs, ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
};

use super::client::{Failure, Pages};
use super::config::PeerSettings;
use super::dial::dial_strings;
use super::{CONTACT, attr};

/// One entry of the feed, as its last page gave it.
enum Change {
    Contact(Map<String, Value>),
    Deleted,
}

/// The pages of one listing, read whole.
#[derive(Default)]
struct Changes {
    /// The peer's product and version, as its last page said.
    peer: Option<String>,
    /// Ids in the order of their last change, each with that change.
    order: Vec<(String, Change)>,
    /// Entries without a usable id: (where, what is wrong).
    unreadable: Vec<(String, String)>,
    /// The last page's cursor.
    cursor: String,
}

impl Changes {
    /// Keeps the last change of every id, in the order of the last changes.
    fn last_changes(self) -> Vec<(String, Change)> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, (id, _)) in self.order.iter().enumerate() {
            last.insert(id.as_str(), i);
        }
        let keep: Vec<bool> = self
            .order
            .iter()
            .enumerate()
            .map(|(i, (id, _))| last.get(id.as_str()) == Some(&i))
            .collect();
        self.order
            .into_iter()
            .zip(keep)
            .filter_map(|(change, keep)| keep.then_some(change))
            .collect()
    }
}

/// Reads every page after `cursor` (all of them from no cursor).
async fn read_all(pages: &dyn Pages, cursor: Option<&str>) -> Result<Changes, Failure> {
    let mut changes = Changes::default();
    let mut cursor = cursor.map(str::to_owned);
    for number in 1u64.. {
        let page = pages.page(cursor.as_deref()).await?;
        for (i, mut entry) in page.contacts.into_iter().enumerate() {
            match entry.remove("id") {
                Some(Value::String(id)) if !id.is_empty() => {
                    changes.order.push((id, Change::Contact(entry)));
                }
                other => changes.unreadable.push((
                    format!("entry {} of page {number} of {}", i + 1, pages.feed()),
                    format!(
                        "the entry has {}; every entry needs its id as a string, so it was not staged: report it to the peer's administrator",
                        match other {
                            None => "no id".to_owned(),
                            Some(v) => format!("the id {v}"),
                        }
                    ),
                )),
            }
        }
        for id in page.deleted {
            changes.order.push((id, Change::Deleted));
        }
        let repeated = cursor.as_deref() == Some(page.cursor.as_str());
        if page.more && (page.cursor.is_empty() || repeated) {
            return Err(Failure::Run(format!(
                "{}: page {number} says there is more but gives {} to read on with, so the feed would never end; it was not read: report it to the peer's administrator",
                pages.feed(),
                if repeated {
                    "the same cursor again"
                } else {
                    "no cursor"
                }
            )));
        }
        if let Some(s) = &page.server {
            changes.peer = Some(format!("{} {}", s.product, s.version));
        }
        if !page.cursor.is_empty() {
            changes.cursor = page.cursor;
            cursor = Some(changes.cursor.clone());
        }
        if !page.more {
            break;
        }
    }
    Ok(changes)
}

/// How a contact is named in messages.
fn locator(id: &str, entry: &Map<String, Value>) -> String {
    let first = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match first(attr::DISPLAY_NAME).or_else(|| first(attr::MAIL)) {
        Some(name) => format!("contact {name:?} (id {id})"),
        None => format!("contact {id}"),
    }
}

/// The staged form of a peer's entry: its offered attributes as sent, its dial strings, and
/// federation and peer. An attribute that is not a list of strings is an error naming it.
pub(crate) fn record(
    id: String,
    entry: &Map<String, Value>,
    s: &PeerSettings,
) -> Result<ImportRecord, (String, String)> {
    let locator = locator(&id, entry);
    let mut attrs = Attrs::new();
    for (name, value) in entry {
        if matches!(
            name.as_str(),
            attr::DIAL_STRING | attr::FEDERATION | attr::PEER
        ) {
            // Set here from this server's settings, never taken from the peer.
            continue;
        }
        let values: Option<Vec<String>> = match value {
            Value::String(v) if name == attr::TYPE => Some(vec![v.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => None,
        };
        match values {
            Some(values) if !values.is_empty() => attrs.set(name.as_str(), values),
            Some(_) => {}
            None => {
                return Err((
                    locator,
                    format!(
                        "its attribute {name} is {value}, not a list of strings; the contact is kept as it was staged: report it to the peer's administrator"
                    ),
                ));
            }
        }
    }
    let numbers = attrs.get(attr::TELEPHONE_NUMBER).to_vec();
    if !numbers.is_empty() {
        let dialed = dial_strings(s.outgoing_digit.as_deref(), &s.dialing_prefix, &numbers);
        attrs.set(attr::DIAL_STRING, dialed);
    }
    attrs.set_one(attr::FEDERATION, "enabled");
    attrs.set_one(attr::PEER, s.description.as_str());
    Ok(ImportRecord {
        anchor: id,
        object_type: CONTACT.to_owned(),
        attrs,
        locator: Some(locator),
    })
}

fn run_failure(f: &Failure) -> ConnectorError {
    ConnectorError::Unavailable(f.message().to_owned())
}

/// Reads the changes after `since` (everything without it); when the peer asks to start over,
/// everything from no cursor, once. The note says when it did.
async fn read(
    pages: &dyn Pages,
    since: Option<&str>,
) -> Result<(Changes, bool, Option<String>), ConnectorError> {
    match read_all(pages, since).await {
        Ok(changes) => Ok((changes, since.is_none(), None)),
        Err(Failure::StartOver(why)) => {
            let changes = read_all(pages, None).await.map_err(|f| run_failure(&f))?;
            let note = format!(
                "the peer asked to start over ({why}): every contact was listed again from the start, and those it no longer offers were deleted"
            );
            Ok((changes, true, Some(note)))
        }
        Err(f) => Err(run_failure(&f)),
    }
}

/// The import of an external peer: nothing is read, and contacts staged while the peer was of
/// another type go.
pub async fn external(
    s: &PeerSettings,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    sink.end_of_listing().await?;
    Ok(ImportSummary {
        watermark: None,
        skipped_unchanged: false,
        note: Some(format!(
            "{} is an external peer (peer_type = \"external\"): it is recorded for federation, and nothing is imported from it",
            s.host
        )),
    })
}

pub async fn import(
    pages: &dyn Pages,
    s: &PeerSettings,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    let since = match (request.mode, request.watermark.as_deref()) {
        (ImportMode::Delta, Some(w)) if !w.is_empty() => Some(w),
        _ => None,
    };
    let (changes, full, note) = read(pages, since).await?;
    let cursor = changes.cursor.clone();
    // The peer's version, for the connector's status (its last import's message).
    let note = match (&changes.peer, note) {
        (Some(peer), Some(note)) => Some(format!("peer server: {peer}; {note}")),
        (Some(peer), None) => Some(format!("peer server: {peer}")),
        (None, note) => note,
    };
    for (at, message) in &changes.unreadable {
        sink.error(None, at.clone(), message.clone()).await?;
    }
    for (id, change) in changes.last_changes() {
        match change {
            Change::Contact(entry) => match record(id.clone(), &entry, s) {
                Ok(record) => {
                    sink.object(record).await?;
                }
                Err((locator, message)) => sink.error(Some(id), locator, message).await?,
            },
            // A full listing deletes what it does not name.
            Change::Deleted if full => {}
            Change::Deleted => sink.deleted(&id, None).await?,
        }
    }
    if full {
        sink.end_of_listing().await?;
    }
    Ok(ImportSummary {
        watermark: (!cursor.is_empty()).then_some(cursor),
        skipped_unchanged: false,
        note,
    })
}
