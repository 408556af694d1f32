//! The Atom feeds of the Communities API, read as a stream of XML events (no tree is built):
//! the feed of communities, the feed of one community's members, and the error document the
//! server answers with. Names are matched by namespace, never by prefix.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const SNX: &str = "http://www.ibm.com/xmlns/prod/sn";
const OPENSEARCH: &str = "http://a9.com/-/spec/opensearch/1.1/";
/// The scheme of the category that says what an entry is (`term="community"`); tags are the
/// categories without a scheme.
const TYPE_SCHEME: &str = "http://www.ibm.com/xmlns/prod/sn/type";

/// A feed that is not well-formed XML, or not the feed asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// The line of the response where reading stopped (1-based).
    pub line: u64,
    pub message: String,
}

/// One page of a feed.
#[derive(Debug, Default)]
pub struct Page<E> {
    /// `opensearch:totalResults`: how many entries all pages hold.
    pub total: Option<u64>,
    pub entries: Vec<E>,
}

/// A community as the feed of communities shows it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Community {
    pub uuid: String,
    pub title: String,
    /// `summary`, else `content` with its markup taken out.
    pub description: String,
    pub kind: String,
    pub member_count: Option<u64>,
    pub tags: Vec<String>,
    pub updated: String,
    /// The line of the response where the entry starts, for messages.
    pub line: u64,
}

/// One member of a community.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Member {
    pub userid: String,
    pub name: String,
    /// Absent when the server hides e-mail addresses.
    pub email: Option<String>,
    pub state: Option<String>,
    /// `owner` or `member`.
    pub role: String,
    pub line: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Atom,
    Snx,
    OpenSearch,
    Other,
}

fn ns(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(Namespace(n)) if *n == ATOM => Ns::Atom,
        ResolveResult::Bound(Namespace(n)) if *n == SNX => Ns::Snx,
        ResolveResult::Bound(Namespace(n)) if *n == OPENSEARCH => Ns::OpenSearch,
        _ => Ns::Other,
    }
}

/// The elements a feed reader looks at; every other one is `Other`. Matching names once, when
/// an element starts, keeps the reader from building a string per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum El {
    Feed,
    Entry,
    TotalResults,
    Title,
    Summary,
    Content,
    Updated,
    Category,
    CommunityUuid,
    CommunityType,
    MemberCount,
    Contributor,
    Name,
    Email,
    UserId,
    UserState,
    Role,
    Other,
}

fn element(ns: Ns, local: &str) -> El {
    match (ns, local) {
        (Ns::Atom, "feed") => El::Feed,
        (Ns::Atom, "entry") => El::Entry,
        (Ns::OpenSearch, "totalResults") => El::TotalResults,
        (Ns::Atom, "title") => El::Title,
        (Ns::Atom, "summary") => El::Summary,
        (Ns::Atom, "content") => El::Content,
        (Ns::Atom, "updated") => El::Updated,
        (Ns::Atom, "category") => El::Category,
        (Ns::Snx, "communityUuid") => El::CommunityUuid,
        (Ns::Snx, "communityType") => El::CommunityType,
        (Ns::Snx, "membercount") => El::MemberCount,
        (Ns::Atom, "contributor") => El::Contributor,
        (Ns::Atom, "name") => El::Name,
        (Ns::Atom, "email") => El::Email,
        (Ns::Snx, "userid") => El::UserId,
        (Ns::Snx, "userState") => El::UserState,
        (Ns::Snx, "role") => El::Role,
        _ => El::Other,
    }
}

/// Line numbers of byte positions that only move forward, counted once.
struct Lines<'b> {
    body: &'b [u8],
    pos: usize,
    line: u64,
}

impl Lines<'_> {
    fn at(&mut self, pos: u64) -> u64 {
        let pos = usize::try_from(pos)
            .unwrap_or(self.body.len())
            .min(self.body.len());
        if pos < self.pos {
            (self.pos, self.line) = (0, 1);
        }
        self.line += self.body[self.pos..pos]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.pos = pos;
        self.line
    }
}

/// What a feed reader is told as the document goes by.
trait Fields {
    /// An element of an entry started (`path` from the entry down, the element last).
    fn start(&mut self, path: &[El], e: &BytesStart<'_>);
    /// An element of an entry ended with this text.
    fn text(&mut self, path: &[El], text: &str);
}

fn cut(at: u64, message: String) -> XmlError {
    XmlError { line: at, message }
}

/// Reads a feed: `opensearch:totalResults` and each `entry`, made by `new_entry`.
fn read_feed<E: Fields>(body: &[u8], new_entry: impl Fn(u64) -> E) -> Result<Page<E>, XmlError> {
    let mut reader = NsReader::from_reader(body);
    let mut lines = Lines {
        body,
        pos: 0,
        line: 1,
    };
    let mut page = Page {
        total: None,
        entries: Vec::new(),
    };
    let mut stack: Vec<El> = Vec::new();
    let mut text = String::new();
    let mut entry: Option<E> = None;
    loop {
        let pos = reader.buffer_position();
        let event = match reader.read_resolved_event() {
            Ok(event) => event,
            Err(e) => return Err(cut(lines.at(reader.error_position()), e.to_string())),
        };
        match event {
            (r, Event::Start(e)) => {
                let local = e.local_name();
                let el = element(ns(&r), local.as_ref());
                if stack.is_empty() && el != El::Feed {
                    let message =
                        format!("the document is a <{}>, not an Atom feed", local.as_ref());
                    return Err(cut(lines.at(pos), message));
                }
                stack.push(el);
                text.clear();
                if stack == [El::Feed, El::Entry] {
                    entry = Some(new_entry(lines.at(pos)));
                } else if let Some(en) = entry.as_mut().filter(|_| stack.len() > 2) {
                    en.start(&stack[2..], &e);
                }
            }
            (r, Event::Empty(e)) => {
                if let Some(en) = entry.as_mut() {
                    stack.push(element(ns(&r), e.local_name().as_ref()));
                    en.start(&stack[2..], &e);
                    en.text(&stack[2..], "");
                    stack.pop();
                }
            }
            (_, Event::Text(t)) => text.push_str(&t.xml10_content()),
            (_, Event::CData(t)) => text.push_str(&t.xml10_content()),
            (_, Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                Ok(None) => {
                    match quick_xml::escape::resolve_predefined_entity(&r.xml10_content()) {
                        Some(s) => text.push_str(s),
                        None => {
                            let message = format!("unknown entity &{};", r.xml10_content());
                            return Err(cut(lines.at(reader.buffer_position()), message));
                        }
                    }
                }
                Err(e) => return Err(cut(lines.at(reader.buffer_position()), e.to_string())),
            },
            (_, Event::End(_)) => {
                match stack.as_slice() {
                    [El::Feed, El::Entry] => {
                        if let Some(en) = entry.take() {
                            page.entries.push(en);
                        }
                    }
                    [El::Feed, El::TotalResults] => {
                        let total = text.trim();
                        page.total = Some(total.parse().map_err(|_| {
                            let message =
                                format!("opensearch:totalResults {total:?} is not a number");
                            cut(lines.at(pos), message)
                        })?);
                    }
                    [_, _, path @ ..] if !path.is_empty() => {
                        if let Some(en) = entry.as_mut() {
                            en.text(path, &text);
                        }
                    }
                    _ => {}
                }
                text.clear();
                stack.pop();
            }
            (_, Event::Eof) => {
                return match stack.last() {
                    None if page.total.is_none() && page.entries.is_empty() && pos == 0 => {
                        Err(cut(1, "the answer is empty".into()))
                    }
                    None => Ok(page),
                    Some(open) => Err(cut(
                        lines.at(pos),
                        format!(
                            "the document ends inside {}: it was cut short",
                            name_of(*open)
                        ),
                    )),
                };
            }
            _ => {}
        }
    }
}

/// An element as messages name it.
fn name_of(el: El) -> &'static str {
    match el {
        El::Feed => "<feed>",
        El::Entry => "<entry>",
        El::TotalResults => "<opensearch:totalResults>",
        El::Title => "<title>",
        El::Summary => "<summary>",
        El::Content => "<content>",
        El::Updated => "<updated>",
        El::Category => "<category>",
        El::CommunityUuid => "<snx:communityUuid>",
        El::CommunityType => "<snx:communityType>",
        El::MemberCount => "<snx:membercount>",
        El::Contributor => "<contributor>",
        El::Name => "<name>",
        El::Email => "<email>",
        El::UserId => "<snx:userid>",
        El::UserState => "<snx:userState>",
        El::Role => "<snx:role>",
        El::Other => "an element",
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

impl Fields for Community {
    fn start(&mut self, path: &[El], e: &BytesStart<'_>) {
        if path == [El::Category]
            && attr(e, "scheme").is_none_or(|s| s != TYPE_SCHEME)
            && let Some(term) = attr(e, "term").filter(|t| !t.trim().is_empty())
        {
            self.tags.push(term);
        }
    }

    fn text(&mut self, path: &[El], text: &str) {
        let text = text.trim();
        match path {
            [El::Title] => self.title = text.to_owned(),
            [El::Summary] if !text.is_empty() => self.description = text.to_owned(),
            [El::Content] if self.description.is_empty() => {
                self.description = without_markup(text);
            }
            [El::Updated] => self.updated = text.to_owned(),
            [El::CommunityUuid] => self.uuid = text.to_owned(),
            [El::CommunityType] => self.kind = text.to_owned(),
            [El::MemberCount] => self.member_count = text.parse().ok(),
            _ => {}
        }
    }
}

impl Fields for Member {
    fn start(&mut self, _path: &[El], _e: &BytesStart<'_>) {}

    fn text(&mut self, path: &[El], text: &str) {
        let text = text.trim();
        match path {
            [El::Role] => self.role = text.to_owned(),
            [El::Contributor, El::Name] => self.name = text.to_owned(),
            [El::Contributor, El::Email] if !text.is_empty() => self.email = Some(text.to_owned()),
            [El::Contributor, El::UserId] => self.userid = text.to_owned(),
            [El::Contributor, El::UserState] => self.state = Some(text.to_owned()),
            _ => {}
        }
    }
}

/// The feed of communities.
pub fn communities(body: &[u8]) -> Result<Page<Community>, XmlError> {
    read_feed(body, |line| Community {
        line,
        ..Community::default()
    })
}

/// The feed of a community's members.
pub fn members(body: &[u8]) -> Result<Page<Member>, XmlError> {
    read_feed(body, |line| Member {
        line,
        ..Member::default()
    })
}

/// The code and message of an error document (`<error xmlns="…/sn"><code/><message/>`), if the
/// body is one.
pub fn error_document(body: &[u8]) -> Option<(String, String)> {
    let mut reader = NsReader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let (mut code, mut message) = (String::new(), String::new());
    loop {
        match reader.read_resolved_event().ok()? {
            (r, Event::Start(e)) => {
                let local = e.local_name().as_ref().to_owned();
                if path.is_empty() && (local != "error" || ns(&r) != Ns::Snx) {
                    return None;
                }
                path.push(local);
            }
            (_, Event::Text(t)) => match path.last().map(String::as_str) {
                Some("code") => code.push_str(&t.xml10_content()),
                Some("message") => message.push_str(&t.xml10_content()),
                _ => {}
            },
            (_, Event::End(_)) => {
                path.pop();
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    (!code.is_empty() || !message.is_empty())
        .then(|| (code.trim().to_owned(), message.trim().to_owned()))
}

/// HTML as plain text: tags taken out, the common entities read, whitespace folded.
fn without_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:s="http://www.ibm.com/xmlns/prod/sn"
      xmlns:os="http://a9.com/-/spec/opensearch/1.1/">
  <os:totalResults>12</os:totalResults>
  <entry>
    <title type="text">R&amp;D &#x2014; Lab</title>
    <content type="html">Tips &lt;br&gt;and &amp;amp; tricks</content>
    <category term="community" scheme="http://www.ibm.com/xmlns/prod/sn/type"/>
    <category term="lab"/><category term="rnd"/>
    <s:communityUuid>u-1</s:communityUuid>
    <s:communityType>private</s:communityType>
    <s:membercount>2</s:membercount>
    <author><name>Not a member</name></author>
  </entry>
</feed>"#;

    #[test]
    fn a_community_is_read_by_namespace_whatever_the_prefixes() {
        let page = communities(FEED.as_bytes()).unwrap();
        assert_eq!(page.total, Some(12));
        let c = &page.entries[0];
        assert_eq!(c.uuid, "u-1");
        assert_eq!(c.title, "R&D \u{2014} Lab");
        assert_eq!(c.description, "Tips and & tricks");
        assert_eq!((c.kind.as_str(), c.member_count), ("private", Some(2)));
        assert_eq!(c.tags, ["lab", "rnd"]);
        assert_eq!(c.line, 5);
    }

    #[test]
    fn a_member_without_email_has_none() {
        let body = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:snx="http://www.ibm.com/xmlns/prod/sn">
<entry><contributor><name>Ann</name><snx:userid>U1</snx:userid><snx:userState>active</snx:userState></contributor>
<snx:role component="x">owner</snx:role></entry></feed>"#;
        let m = &members(body.as_bytes()).unwrap().entries[0];
        assert_eq!(
            (m.userid.as_str(), m.name.as_str(), m.role.as_str()),
            ("U1", "Ann", "owner")
        );
        assert_eq!(m.email, None);
    }

    #[test]
    fn a_cut_feed_names_its_line() {
        let cut = &FEED[..FEED.find("<s:membercount>").unwrap() + 16];
        let e = communities(cut.as_bytes()).unwrap_err();
        assert_eq!(e.line, 12, "{e:?}");
        let e = communities(b"<html>\n<body>login</body></html>").unwrap_err();
        assert!(e.message.contains("not an Atom feed"), "{e:?}");
        let e = communities(
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<entry>&bogus;</entry></feed>",
        )
        .unwrap_err();
        assert_eq!(e.line, 2, "{e:?}");
    }

    #[test]
    fn an_error_document_gives_code_and_message() {
        let body = br#"<?xml version="1.0"?><error xmlns="http://www.ibm.com/xmlns/prod/sn"><code>unauthorized</code><message>Need admin</message><trace/></error>"#;
        assert_eq!(
            error_document(body),
            Some(("unauthorized".into(), "Need admin".into()))
        );
        assert_eq!(error_document(b"<html/>"), None);
    }
}
