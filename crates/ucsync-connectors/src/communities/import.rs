//! Full and delta imports of communities and the people in them.
//!
//! A full import lists every community (pages of `page_size`), reads each one's members (up to
//! `concurrency` member feeds at a time, handed to the sink in listing order), stages each
//! person once, and ends the listing: a community or person no longer listed is deleted.
//!
//! A delta import reads the communities changed since the watermark (`since`, with
//! `overlap_secs` read again) and their members, then lists the ids of all communities so that
//! a community deleted on the server is deleted here too (the people of unchanged communities
//! are kept as staged; someone in no community any more goes at the next full import).
//!
//! The watermark is the server's clock (its `Date` header) when the import began, so the two
//! clocks never need to agree.
//!
//! Pages count entries from the start, so a community deleted (or added) while the feed is read
//! page by page may make the next page pass one over: when the total the pages announce moves,
//! the listing is reported incomplete (nothing is taken for deleted) and a delta keeps its
//! watermark, so that the next import reads it all again.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt;
use ucsync_model::{
    Attrs, ConnectorError, ImportMode, ImportRecord, ImportRequest, ImportSink, ImportSummary,
};

use super::atom::{self, Community, Member, Page, XmlError};
use super::client::{Answer, Client, Failure};
use super::config::CommunitiesSettings;
use super::{COMMUNITY, PERSON, attr};

const COMMUNITIES: &str = "/communities/service/atom/communities/all";
const MEMBERS: &str = "/communities/service/atom/community/members";

/// A feed read whole.
struct Feed<E> {
    entries: Vec<E>,
    /// The server's clock when it answered the first page.
    server_time: Option<jiff::Timestamp>,
    /// The total the first page announced and the total the last page announced, when they
    /// differ: entries came or went while the feed was read, and since pages count entries from
    /// the start, one may have been passed over.
    moved: Option<(u64, u64)>,
}

/// Reads every page of a feed: `query` without `page` and `ps`, `parse` one page's body, `key`
/// an entry's identity (to see a server repeat itself). Stops when the entries the first page
/// announced are read, at an empty page, or (when no total is announced) at a short page; a
/// server that keeps sending pages beyond what it announced, or whose announced total grows
/// page after page, is an error after a page or two rather than read for ever. A server that
/// serves smaller pages than asked is read in pages of its size; one that runs out of entries
/// before the total it announces is an error (the listing would miss some).
async fn all_pages<E>(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
    page_size: u32,
    parse: fn(&[u8]) -> Result<Page<E>, XmlError>,
    key: fn(&E) -> &str,
) -> Result<Feed<E>, Failure> {
    let mut entries: Vec<E> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut announced: Option<u64> = None;
    let mut last_total: Option<u64> = None;
    let mut server_time = None;
    // The page size asked for: `page_size`, or the server's own limit when it serves less.
    let mut ps = page_size;
    for page in 1u64.. {
        let mut q = query.to_vec();
        q.push(("page", page.to_string()));
        q.push(("ps", ps.to_string()));
        let url = client.url(path, &q);
        let Answer { body, date } = client.get(path, &q).await?;
        server_time = server_time.or(date);
        let read = parse(&body).map_err(|e| {
            Failure::Answer(format!(
                "{url} is not a readable Atom feed: line {}: {}; check the server, or report it with that page",
                e.line, e.message
            ))
        })?;
        if page == 1 {
            announced = read.total;
        } else if let (Some(first), Some(now)) = (announced, read.total)
            && now > first.saturating_add(first / 10 + u64::from(page_size))
        {
            // A feed whose total grows page after page ends never; no server changes that fast.
            return Err(Failure::Answer(format!(
                "{url}: page {page} announces {now} entries where the first page announced {first}: the feed grows as fast as it is read and never ends, so it was not read: check the server"
            )));
        }
        last_total = read.total.or(last_total);
        let got = read.entries.len();
        if got == 0 {
            if let Some(now) = read.total
                && (entries.len() as u64) < now
            {
                return Err(Failure::Answer(format!(
                    "{url}: the server announces {now} entries but serves none on page {page}, after {}; the feed was not read whole, so it was not used: run the import again, and check the server if it repeats",
                    entries.len()
                )));
            }
            break;
        }
        let mut new = 0;
        for e in read.entries {
            if seen.insert(key(&e).to_owned()) {
                entries.push(e);
                new += 1;
            }
        }
        let endless = match announced {
            Some(total) => entries.len() as u64 > total,
            None => new == 0,
        };
        if endless {
            return Err(Failure::Answer(format!(
                "{url}: the server keeps sending pages (page {page}) beyond the {} its first page announced; the feed never ends, so it was not read: check the server",
                announced.map_or("entries".to_owned(), |t| format!("{t} entries"))
            )));
        }
        match announced {
            Some(total) if entries.len() as u64 >= total => break,
            None if got < ps as usize => break,
            Some(_) if page == 1 && got < ps as usize => {
                // The server serves smaller pages than asked (its own limit): the next pages
                // are asked in its size, so that page numbers count the entries read.
                ps = u32::try_from(got).unwrap_or(ps);
            }
            _ => {}
        }
    }
    let moved = match (announced, last_total) {
        (Some(first), Some(last)) if first != last => Some((first, last)),
        _ => None,
    };
    Ok(Feed {
        entries,
        server_time,
        moved,
    })
}

/// A community's members, or why they could not be read.
async fn members_of(
    client: &Client,
    s: &CommunitiesSettings,
    uuid: String,
) -> Result<Vec<Member>, Failure> {
    let query = [
        ("communityUuid", uuid),
        ("role", s.members.role().to_owned()),
    ];
    all_pages(client, MEMBERS, &query, s.page_size, atom::members, |m| {
        m.userid.as_str()
    })
    .await
    .map(|feed| feed.entries)
}

fn run_failure(f: Failure) -> ConnectorError {
    ConnectorError::Unavailable(f.message().to_owned())
}

/// How a community is named in messages.
fn locator(c: &Community) -> String {
    format!("community \"{}\" ({})", c.title, c.uuid)
}

/// A member's anchor: the server's user id, else the e-mail address in lower case.
fn person_anchor(m: &Member) -> Option<String> {
    if !m.userid.is_empty() {
        Some(m.userid.clone())
    } else {
        m.email.as_ref().map(|e| e.to_lowercase())
    }
}

fn community_record(c: &Community, members: &[(String, bool)]) -> ImportRecord {
    let mut attrs = Attrs::new();
    attrs.set_one(attr::UUID, c.uuid.as_str());
    attrs.set_one(attr::NAME, c.title.as_str());
    if !c.description.is_empty() {
        attrs.set_one(attr::DESCRIPTION, c.description.as_str());
    }
    if !c.kind.is_empty() {
        attrs.set_one(attr::TYPE, c.kind.as_str());
    }
    if !c.tags.is_empty() {
        attrs.set(attr::TAGS, c.tags.clone());
    }
    attrs.set_one(attr::MEMBER_COUNT, members.len().to_string());
    let everyone: Vec<String> = members.iter().map(|(a, _)| a.clone()).collect();
    let owners: Vec<String> = members
        .iter()
        .filter(|(_, owner)| *owner)
        .map(|(a, _)| a.clone())
        .collect();
    if !everyone.is_empty() {
        attrs.set(attr::MEMBER, everyone);
    }
    if !owners.is_empty() {
        attrs.set(attr::OWNER, owners);
    }
    ImportRecord {
        anchor: c.uuid.clone(),
        object_type: COMMUNITY.to_owned(),
        attrs,
        locator: Some(locator(c)),
    }
}

fn person_record(anchor: String, m: &Member) -> ImportRecord {
    let mut attrs = Attrs::new();
    if !m.userid.is_empty() {
        attrs.set_one(attr::USERID, m.userid.as_str());
    }
    if !m.name.is_empty() {
        attrs.set_one(attr::DISPLAY_NAME, m.name.as_str());
    }
    if let Some(mail) = &m.email {
        attrs.set_one(attr::EMAIL, mail.as_str());
    }
    if let Some(state) = &m.state {
        attrs.set_one(attr::USER_STATE, state.as_str());
    }
    let locator = match &m.email {
        Some(mail) => format!("person \"{}\" <{mail}>", m.name),
        None => format!("person \"{}\" ({})", m.name, m.userid),
    };
    ImportRecord {
        anchor,
        object_type: PERSON.to_owned(),
        attrs,
        locator: Some(locator),
    }
}

/// Reads `communities` with their members and hands them to the sink, each person once.
async fn stage(
    client: &Arc<Client>,
    s: &CommunitiesSettings,
    communities: Vec<Community>,
    people: &mut HashSet<String>,
    sink: &mut dyn ImportSink,
) -> Result<(), ConnectorError> {
    // Each feed is read and parsed on a task of its own, so that parsing runs on every core;
    // the results come back in listing order.
    let mut read = futures_util::stream::iter(communities)
        .map(|c| {
            let client = Arc::clone(client);
            tokio::spawn(async move {
                let members = members_of(&client, client.settings(), c.uuid.clone()).await;
                (c, members)
            })
        })
        .buffered(s.concurrency);
    while let Some(read) = read.next().await {
        let (c, members) = read.map_err(|e| {
            ConnectorError::Unavailable(format!(
                "a task reading member feeds stopped unexpectedly ({e}); run the import again, and report it if it repeats"
            ))
        })?;
        let members = match members {
            Ok(m) => m,
            Err(Failure::Run(m)) => return Err(run_failure(Failure::Run(m))),
            Err(Failure::NotFound(m)) => {
                // Listed a moment ago and not found now: deleted while the import read, or a
                // proxy in the way that hides the API. Never taken for a deletion on its own:
                // a listing that no longer holds it deletes it.
                sink.error(
                    Some(c.uuid.clone()),
                    locator(&c),
                    format!(
                        "{m}: the community may have been deleted while the import read it, or something in front of the server hides the members feed; it is kept as it was staged, and the next import deletes it if the listing no longer holds it"
                    ),
                )
                .await?;
                continue;
            }
            Err(Failure::Answer(m)) => {
                sink.error(
                    Some(c.uuid.clone()),
                    locator(&c),
                    format!(
                        "its members could not be read: {m}; the community is kept as it was staged"
                    ),
                )
                .await?;
                continue;
            }
        };
        let mut anchors = Vec::with_capacity(members.len());
        for m in &members {
            let Some(anchor) = person_anchor(m) else {
                sink.warning(
                    Some(c.uuid.clone()),
                    locator(&c),
                    format!(
                        "member \"{}\" has neither a user id nor an e-mail address and is left out; check the person's profile on the server",
                        m.name
                    ),
                )
                .await?;
                continue;
            };
            if people.insert(anchor.clone()) {
                sink.object(person_record(anchor.clone(), m)).await?;
            }
            anchors.push((anchor, m.role.eq_ignore_ascii_case("owner")));
        }
        sink.object(community_record(&c, &anchors)).await?;
    }
    Ok(())
}

/// The watermark of an import that began when the server's clock said `at`: `overlap_secs`
/// earlier, so that a change committed while this import read is read again next time.
fn watermark(at: jiff::Timestamp, s: &CommunitiesSettings) -> String {
    let secs = i64::try_from(s.overlap_secs).unwrap_or(0);
    let at = at
        .checked_sub(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(at);
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The feed of communities (changed since `since` when given), every page.
async fn list_communities(
    client: &Client,
    s: &CommunitiesSettings,
    since: Option<&str>,
) -> Result<Feed<Community>, ConnectorError> {
    let query: Vec<(&str, String)> = since.map(|w| ("since", w.to_owned())).into_iter().collect();
    all_pages(
        client,
        COMMUNITIES,
        &query,
        s.page_size,
        atom::communities,
        |c| c.uuid.as_str(),
    )
    .await
    .map_err(run_failure)
}

/// Tells the sink that a listing of every community may have passed one over.
async fn moved_while_listed(
    sink: &mut dyn ImportSink,
    moved: Option<(u64, u64)>,
) -> Result<(), ConnectorError> {
    if let Some((first, last)) = moved {
        sink.incomplete(format!(
            "the number of communities went from {first} to {last} while they were listed page by page, so one may have been passed over; nothing is taken for deleted this time: the next import lists them again"
        ))
        .await?;
    }
    Ok(())
}

pub async fn import(
    client: &Arc<Client>,
    s: &CommunitiesSettings,
    request: ImportRequest,
    sink: &mut dyn ImportSink,
) -> Result<ImportSummary, ConnectorError> {
    let since = match (request.mode, request.watermark) {
        (ImportMode::Delta, Some(w)) if !w.is_empty() => Some(w),
        _ => None,
    };
    let mut people = HashSet::new();
    let began;
    // The watermark to keep when a changed community may have been passed over.
    let mut keep = None;
    match &since {
        None => {
            let listed = list_communities(client, s, None).await?;
            began = listed.server_time;
            moved_while_listed(sink, listed.moved).await?;
            stage(client, s, listed.entries, &mut people, sink).await?;
            sink.end_of_listing().await?;
        }
        Some(since) => {
            let changed = list_communities(client, s, Some(since)).await?;
            began = changed.server_time;
            if changed.moved.is_some() {
                // Read the same changes again next time, and whatever this pass missed.
                keep = Some(since.clone());
            }
            let changed_ids: HashSet<String> =
                changed.entries.iter().map(|c| c.uuid.clone()).collect();
            stage(client, s, changed.entries, &mut people, sink).await?;
            // Every community there is now: the others are deleted.
            let all = list_communities(client, s, None).await?;
            moved_while_listed(sink, all.moved).await?;
            for c in all
                .entries
                .iter()
                .filter(|c| !changed_ids.contains(&c.uuid))
            {
                sink.present(&c.uuid).await?;
            }
            sink.end_of_listing_of(&[COMMUNITY]).await?;
        }
    }
    let at = began.unwrap_or_else(jiff::Timestamp::now);
    Ok(ImportSummary {
        watermark: Some(keep.unwrap_or_else(|| watermark(at, s))),
        skipped_unchanged: false,
        note: None,
    })
}
