//! Full and delta imports of a peer's contacts through the changes feed (`docs/PEER.md`).
//!
//! A full import reads every page from no cursor and ends the listing: a contact the peer no
//! longer offers is deleted. A delta import reads the pages after the watermark (the last
//! cursor) and stages what they hold: changed contacts, and deletions (tombstones). The
//! watermark becomes the last page's cursor.
//!
//! Each page is staged as it comes, while the next one is read (a task of its own asks for it
//! as soon as this one's cursor is known), so that reading the peer and writing the store run
//! side by side. An entry changed while the feed is read comes again on a later page (entries
//! are in the order of their last change): the sink takes it as the later version of what it
//! staged ([`ImportSink::object_again`]). When the peer asks to start over (410) in a delta,
//! the full listing that follows gives every contact again, as later versions of those the
//! delta gave, and deletes exactly what it does not name. A run that fails between two pages
//! keeps what it staged (each contact as the peer gave it) and not the watermark: the next
//! run reads from the same cursor again.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;
use ucsync_model::{
    Attrs, ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
};

use super::client::{Failure, Page, Pages};
use super::config::PeerSettings;
use super::dial::dial_strings;
use super::entry::{Entry, Member};
use super::{CONTACT, attr};

/// Pages read ahead of the one being staged.
const AHEAD: usize = 2;

/// The task that reads the pages of one listing, one after another, ahead of the staging; it
/// stops when the listing ends, a page fails, or nobody takes its pages any more.
struct ReadAhead {
    pages: mpsc::Receiver<Result<Page, Failure>>,
    task: tokio::task::JoinHandle<()>,
}

impl ReadAhead {
    fn start(feed: Arc<dyn Pages>, cursor: Option<String>) -> Self {
        let (tx, pages) = mpsc::channel(AHEAD);
        let task = tokio::spawn(async move {
            let mut cursor = cursor;
            loop {
                let page = feed.page(cursor.as_deref()).await;
                // The staging side says why a listing cannot go on; this side only stops.
                let next = match &page {
                    Ok(p)
                        if p.more
                            && !p.cursor.is_empty()
                            && cursor.as_deref() != Some(&p.cursor) =>
                    {
                        Some(p.cursor.clone())
                    }
                    _ => None,
                };
                if tx.send(page).await.is_err() {
                    return;
                }
                match next {
                    Some(next) => cursor = Some(next),
                    None => return,
                }
            }
        });
        Self { pages, task }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one import has staged so far.
struct Staging<'a> {
    settings: &'a PeerSettings,
    /// The listing is a full one: tombstones of contacts it has not given are not needed.
    full: bool,
    /// Ids given to the sink in this import: given again, they are later versions.
    given: HashSet<String>,
    /// The peer's product and version, as its last page said.
    peer: Option<String>,
}

/// Reads every page after `cursor` (all of them from no cursor), staging each; returns the
/// last page's cursor, or why the feed could not be read (`Err` of the inner result). The
/// outer error is the sink's: the import stops.
async fn listing(
    feed: &Arc<dyn Pages>,
    cursor: Option<&str>,
    st: &mut Staging<'_>,
    sink: &mut dyn ImportSink,
) -> Result<Result<String, Failure>, ConnectorError> {
    let mut ahead = ReadAhead::start(feed.clone(), cursor.map(str::to_owned));
    let mut cursor = cursor.map(str::to_owned);
    let mut last = String::new();
    for number in 1u64.. {
        let page = match ahead.pages.recv().await {
            Some(Ok(page)) => page,
            Some(Err(f)) => return Ok(Err(f)),
            None => {
                return Ok(Err(Failure::Run(format!(
                    "{}: the reading of page {number} stopped; run the import again",
                    feed.feed()
                ))));
            }
        };
        let repeated = cursor.as_deref() == Some(page.cursor.as_str());
        if page.more && (page.cursor.is_empty() || repeated) {
            return Ok(Err(Failure::Run(format!(
                "{}: page {number} says there is more but gives {} to read on with, so the feed would never end; it was not read: report it to the peer's administrator",
                feed.feed(),
                if repeated {
                    "the same cursor again"
                } else {
                    "no cursor"
                }
            ))));
        }
        if let Some(s) = &page.server {
            st.peer = Some(format!("{} {}", s.product, s.version));
        }
        let more = page.more;
        if !page.cursor.is_empty() {
            last = page.cursor.clone();
            cursor = Some(page.cursor.clone());
        }
        stage(page, number, &feed.feed(), st, sink).await?;
        if !more {
            break;
        }
    }
    Ok(Ok(last))
}

/// Stages one page: its contacts, then its tombstones.
async fn stage(
    page: Page,
    number: u64,
    feed: &str,
    st: &mut Staging<'_>,
    sink: &mut dyn ImportSink,
) -> Result<(), ConnectorError> {
    // What the page names is looked up in one go (a delta's contacts are mostly staged).
    let named: Vec<&str> = page
        .contacts
        .iter()
        .filter_map(|e| match e.get("id") {
            Some(Member::One(id)) => Some(id.as_str()),
            _ => None,
        })
        .chain(page.deleted.iter().map(String::as_str))
        .collect();
    sink.expect(&named).await?;
    for (i, mut entry) in page.contacts.into_iter().enumerate() {
        let id = match entry.remove("id") {
            Some(Member::One(id)) if !id.is_empty() => id,
            other => {
                let at = format!("entry {} of page {number} of {feed}", i + 1);
                let message = format!(
                    "the entry has {}; every entry needs its id as a string, so it was not staged: report it to the peer's administrator",
                    match other {
                        None => "no id".to_owned(),
                        Some(v) => format!("the id {}", v.into_json()),
                    }
                );
                sink.error(None, at, message).await?;
                continue;
            }
        };
        match record(id.clone(), entry, st.settings) {
            Ok(record) => {
                if st.given.insert(id) {
                    sink.object(record).await?;
                } else {
                    sink.object_again(record).await?;
                }
            }
            Err((locator, message)) => {
                // Kept as staged; a later version of it is taken as one.
                st.given.insert(id.clone());
                sink.error(Some(id), locator, message).await?;
            }
        }
    }
    for id in page.deleted {
        // A full listing deletes what it does not name, and what it named and then lost.
        if !st.full || st.given.contains(&id) {
            sink.deleted(&id, None).await?;
        }
    }
    Ok(())
}

/// How a contact is named in messages.
fn locator(id: &str, entry: &Entry) -> String {
    let first = |name: &str| match entry.get(name) {
        Some(Member::Strings(v)) => v.first().cloned(),
        _ => None,
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
    entry: Entry,
    s: &PeerSettings,
) -> Result<ImportRecord, (String, String)> {
    let locator = locator(&id, &entry);
    let mut attrs = Attrs::new();
    for (name, value) in entry.0 {
        if matches!(
            name.as_str(),
            attr::DIAL_STRING | attr::FEDERATION | attr::PEER
        ) {
            // Set here from this server's settings, never taken from the peer.
            continue;
        }
        let values = match value {
            Member::One(v) if name == attr::TYPE => vec![v],
            Member::Strings(values) => values,
            value => {
                return Err((
                    locator,
                    format!(
                        "its attribute {name} is {}, not a list of strings; the contact is kept as it was staged: report it to the peer's administrator",
                        value.into_json()
                    ),
                ));
            }
        };
        if !values.is_empty() {
            attrs.set(name, values);
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
    feed: Arc<dyn Pages>,
    s: &PeerSettings,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    let since = match (request.mode, request.watermark.as_deref()) {
        (ImportMode::Delta, Some(w)) if !w.is_empty() => Some(w),
        _ => None,
    };
    let mut st = Staging {
        settings: s,
        full: since.is_none(),
        given: HashSet::new(),
        peer: None,
    };
    let (cursor, note) = match listing(&feed, since, &mut st, sink).await? {
        Ok(cursor) => (cursor, None),
        Err(Failure::StartOver(why)) if !st.full => {
            st.full = true;
            let cursor = listing(&feed, None, &mut st, sink)
                .await?
                .map_err(|f| run_failure(&f))?;
            let note = format!(
                "the peer asked to start over ({why}): every contact was listed again from the start, and those it no longer offers were deleted"
            );
            (cursor, Some(note))
        }
        Err(f) => return Err(run_failure(&f)),
    };
    // The peer's version, for the connector's status (its last import's message).
    let note = match (&st.peer, note) {
        (Some(peer), Some(note)) => Some(format!("peer server: {peer}; {note}")),
        (Some(peer), None) => Some(format!("peer server: {peer}")),
        (None, note) => note,
    };
    if st.full {
        sink.end_of_listing().await?;
    }
    Ok(ImportSummary {
        watermark: (!cursor.is_empty()).then_some(cursor),
        skipped_unchanged: false,
        note,
    })
}
