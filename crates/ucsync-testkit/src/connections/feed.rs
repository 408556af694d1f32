//! The XML the fake Connections server answers with: Atom feeds of communities and of members
//! in the shape of the Communities API, the `snx` error body, and the broken feeds of the
//! faults. Written with plain string building into one pre-sized `String`; every text and
//! attribute value goes through [`escape`].

use super::model::{Community, CommunityType, Member};

pub const ATOM: &str = "http://www.w3.org/2005/Atom";
pub const SNX: &str = "http://www.ibm.com/xmlns/prod/sn";
pub const OPENSEARCH: &str = "http://a9.com/-/spec/opensearch/1.1/";
pub const APP: &str = "http://www.w3.org/2007/app";

/// The path of the communities feed.
pub const ALL_PATH: &str = "/communities/service/atom/communities/all";
/// The path of a community's members feed.
pub const MEMBERS_PATH: &str = "/communities/service/atom/community/members";
/// The path of one community (linked, not served).
pub const INSTANCE_PATH: &str = "/communities/service/atom/community/instance";

/// Roughly how many bytes one entry takes, to size the output once.
const COMMUNITY_ENTRY_BYTES: usize = 1400;
const MEMBER_ENTRY_BYTES: usize = 700;

/// Appends `text` with `&`, `<`, `>`, `"` and `'` escaped: safe in text and in attributes.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// `text` escaped (see [`escape`]).
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape(&mut out, text);
    out
}

/// Milliseconds since the Unix epoch as Connections writes times: `2009-01-04T20:32:31.171Z`.
#[must_use]
pub fn timestamp(millis: i64) -> String {
    match jiff::Timestamp::from_millisecond(millis) {
        Ok(t) => format!("{t:.3}"),
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// A person as an `<author>` or `<contributor>` shows them.
pub struct Person<'a> {
    pub userid: &'a str,
    pub name: &'a str,
    /// `None` when the server hides e-mail addresses.
    pub email: Option<&'a str>,
    pub active: bool,
}

impl Person<'_> {
    fn write(&self, out: &mut String, element: &str) {
        out.push('<');
        out.push_str(element);
        out.push_str("><name>");
        escape(out, self.name);
        out.push_str("</name>");
        if let Some(email) = self.email {
            out.push_str("<email>");
            escape(out, email);
            out.push_str("</email>");
        }
        out.push_str("<snx:userid>");
        escape(out, self.userid);
        out.push_str("</snx:userid><snx:userState>");
        out.push_str(if self.active { "active" } else { "inactive" });
        out.push_str("</snx:userState></");
        out.push_str(element);
        out.push_str(">\n");
    }
}

/// The feed-level part of a page: which page of how many results, and the links to this page
/// and (when there is one) the next.
pub struct Page<'a> {
    /// The feed's `<id>`: its URL without paging.
    pub id: &'a str,
    pub title: &'a str,
    pub total: usize,
    /// 1-based index of the first entry of this page.
    pub start_index: usize,
    pub per_page: usize,
    pub self_href: &'a str,
    pub next_href: Option<&'a str>,
}

/// A new output with the XML declaration and the opening `<feed>` with its page elements.
pub fn start_feed(page: &Page<'_>, entries: usize, entry_bytes: usize) -> String {
    let mut out = String::with_capacity(1024 + entries * entry_bytes);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<feed xmlns=\"{ATOM}\" xmlns:snx=\"{SNX}\" xmlns:opensearch=\"{OPENSEARCH}\" xmlns:app=\"{APP}\">\n"
    ));
    out.push_str("<id>");
    escape(&mut out, page.id);
    out.push_str("</id>\n<title type=\"text\">");
    escape(&mut out, page.title);
    out.push_str("</title>\n<updated>");
    out.push_str(&timestamp(jiff::Timestamp::now().as_millisecond()));
    out.push_str(&format!(
        "</updated>\n<opensearch:totalResults>{}</opensearch:totalResults>\n\
         <opensearch:startIndex>{}</opensearch:startIndex>\n\
         <opensearch:itemsPerPage>{}</opensearch:itemsPerPage>\n",
        page.total, page.start_index, page.per_page
    ));
    out.push_str("<link rel=\"self\" type=\"application/atom+xml\" href=\"");
    escape(&mut out, page.self_href);
    out.push_str("\"/>\n");
    if let Some(next) = page.next_href {
        out.push_str("<link rel=\"next\" type=\"application/atom+xml\" href=\"");
        escape(&mut out, next);
        out.push_str("\"/>\n");
    }
    out
}

/// Closes the feed that [`start_feed`] opened.
pub fn end_feed(out: &mut String) {
    out.push_str("</feed>\n");
}

/// A communities page's output, sized for `entries` entries.
pub fn start_communities(page: &Page<'_>, entries: usize) -> String {
    start_feed(page, entries, COMMUNITY_ENTRY_BYTES)
}

/// A members page's output, sized for `entries` entries.
pub fn start_members(page: &Page<'_>, entries: usize) -> String {
    start_feed(page, entries, MEMBER_ENTRY_BYTES)
}

/// Appends the `<entry>` of one community. `base` is the server's URL (`http://127.0.0.1:PORT`).
pub fn community_entry(
    out: &mut String,
    base: &str,
    uuid: &str,
    community: &Community,
    author: &Person<'_>,
) {
    let instance = escaped(&format!("{base}{INSTANCE_PATH}?communityUuid={uuid}"));
    out.push_str("<entry>\n<id>");
    out.push_str(&instance);
    out.push_str("</id>\n<title type=\"text\">");
    escape(out, &community.name);
    out.push_str("</title>\n<summary type=\"text\">");
    escape(out, &community.description);
    out.push_str("</summary>\n<content type=\"html\">");
    // The description as HTML (its own markup characters escaped), then escaped into XML.
    escape(out, &escaped(&community.description));
    out.push_str("</content>\n<published>");
    out.push_str(&timestamp(community.published));
    out.push_str("</published><updated>");
    out.push_str(&timestamp(community.updated));
    out.push_str("</updated>\n");
    author.write(out, "author");
    out.push_str(&format!(
        "<category term=\"community\" scheme=\"{SNX}/type\"/>\n"
    ));
    for tag in &community.tags {
        out.push_str("<category term=\"");
        escape(out, tag);
        out.push_str("\"/>\n");
    }
    out.push_str("<snx:communityUuid>");
    escape(out, uuid);
    out.push_str("</snx:communityUuid>\n<snx:communityType>");
    out.push_str(community.kind.as_str());
    out.push_str(&format!(
        "</snx:communityType>\n<snx:membercount>{}</snx:membercount>\n",
        community.members.len()
    ));
    out.push_str("<link rel=\"self\" type=\"application/atom+xml\" href=\"");
    out.push_str(&instance);
    out.push_str(&format!(
        "\"/>\n<link rel=\"{SNX}/member-list\" type=\"application/atom+xml\" href=\""
    ));
    escape(out, &format!("{base}{MEMBERS_PATH}?communityUuid={uuid}"));
    out.push_str("\"/>\n</entry>\n");
}

/// Appends the `<entry>` of one member of the community `uuid`.
pub fn member_entry(
    out: &mut String,
    base: &str,
    uuid: &str,
    member: &Member,
    person: &Person<'_>,
) {
    out.push_str("<entry>\n<id>");
    escape(
        out,
        &format!(
            "{base}{MEMBERS_PATH}?communityUuid={uuid}&userid={}",
            person.userid
        ),
    );
    out.push_str("</id>\n<title type=\"text\">");
    escape(out, person.name);
    out.push_str("</title>\n<updated>");
    out.push_str(&timestamp(member.updated));
    out.push_str("</updated>\n");
    person.write(out, "contributor");
    out.push_str(&format!(
        "<snx:role component=\"{SNX}/communities\">{}</snx:role>\n</entry>\n",
        if member.owner { "owner" } else { "member" }
    ));
}

/// The body of every error answer: `<error>` in the `snx` namespace with a code and a message.
#[must_use]
pub fn error_body(code: &str, message: &str) -> String {
    let mut out = String::with_capacity(200 + message.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    out.push_str(&format!("<error xmlns=\"{SNX}\"><code>"));
    escape(&mut out, code);
    out.push_str("</code><message>");
    escape(&mut out, message);
    out.push_str("</message><trace></trace></error>");
    out
}

/// A feed that starts well-formed and breaks on line 12, in the middle of an entry's title: an
/// unclosed element followed by a stray `<` and a bare `&`.
#[must_use]
pub fn malformed(base: &str) -> String {
    let page = Page {
        id: &format!("{base}{ALL_PATH}"),
        title: "Malformed",
        total: 1,
        start_index: 1,
        per_page: 1,
        self_href: &format!("{base}{ALL_PATH}"),
        next_href: None,
    };
    let mut out = start_feed(&page, 1, 200);
    out.push_str("<entry>\n<id>urn:malformed</id>\n<title type=\"text\">Cut off <here & </ti");
    out
}

/// A made-up community for the faults that serve entries of their own.
fn synthetic_community(name: String, description: String) -> Community {
    Community {
        name,
        description,
        kind: CommunityType::Public,
        tags: Vec::new(),
        author: "fault".to_owned(),
        published: 0,
        updated: 0,
        members: Default::default(),
    }
}

const FAULT_PERSON: Person<'static> = Person {
    userid: "fault",
    name: "Fault Person",
    email: Some("fault@example.com"),
    active: true,
};

/// A valid feed of one entry whose `<summary>` holds `size` bytes: a community entry, or for
/// the members feed (`members`) a member entry carrying that summary too.
#[must_use]
pub fn oversized(base: &str, size: usize, members: bool) -> String {
    let path = if members { MEMBERS_PATH } else { ALL_PATH };
    let href = format!("{base}{path}");
    let page = Page {
        id: &href,
        title: "Oversized",
        total: 1,
        start_index: 1,
        per_page: 1,
        self_href: &href,
        next_href: None,
    };
    let summary = "x".repeat(size);
    let mut out = start_feed(&page, 1, size + COMMUNITY_ENTRY_BYTES);
    if members {
        let member = Member {
            owner: false,
            updated: 0,
        };
        let mut entry = String::new();
        member_entry(&mut entry, base, "oversized", &member, &FAULT_PERSON);
        let at = entry.find("<contributor>").unwrap_or(entry.len());
        entry.insert_str(at, &format!("<summary type=\"text\">{summary}</summary>\n"));
        out.push_str(&entry);
    } else {
        let community = synthetic_community("Oversized".to_owned(), summary);
        let mut entry = String::new();
        community_entry(&mut entry, base, "oversized", &community, &FAULT_PERSON);
        // Only the summary is oversized: the content says so in a few words.
        let (start, end) = (
            entry.find("<content").unwrap_or(0),
            entry.find("</content>").unwrap_or(0),
        );
        if start < end {
            entry.replace_range(start..end, "<content type=\"html\">big");
        }
        out.push_str(&entry);
    }
    end_feed(&mut out);
    out
}

/// Page `page` of a feed that never ends: `per_page` new entries (uuids or userids
/// `endless-PAGE-I`), a total far beyond any page, and always a `next` link.
#[must_use]
pub fn endless(
    base: &str,
    self_href: &str,
    next_href: &str,
    page: usize,
    per_page: usize,
    members: bool,
) -> String {
    let path = if members { MEMBERS_PATH } else { ALL_PATH };
    let id = format!("{base}{path}");
    let start_index = (page - 1).saturating_mul(per_page) + 1;
    let feed = Page {
        id: &id,
        title: "Endless",
        total: start_index.saturating_add(per_page).saturating_mul(1000),
        start_index,
        per_page,
        self_href,
        next_href: Some(next_href),
    };
    let mut out = if members {
        start_members(&feed, per_page)
    } else {
        start_communities(&feed, per_page)
    };
    for i in 0..per_page {
        let name = format!("endless-{page}-{i}");
        if members {
            let member = Member {
                owner: false,
                updated: 0,
            };
            let person = Person {
                userid: &name,
                name: &name,
                email: None,
                active: true,
            };
            member_entry(&mut out, base, "endless", &member, &person);
        } else {
            let community = synthetic_community(name.clone(), String::new());
            community_entry(&mut out, base, &name, &community, &FAULT_PERSON);
        }
    }
    end_feed(&mut out);
    out
}
