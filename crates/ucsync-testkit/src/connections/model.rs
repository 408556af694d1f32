//! What the fake Connections server knows: its people, its communities with their members, the
//! server-wide switches and the clock that stamps every change. No HTTP and no XML here: the
//! request handler reads this state and the feed writer turns what it read into Atom.

use std::collections::{BTreeMap, HashMap};

/// Whether a community is open to everyone, open to see but joined by invitation, or visible
/// only to its members. The names are those of `<snx:communityType>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommunityType {
    Public,
    PublicInviteOnly,
    Private,
}

impl CommunityType {
    /// The value of `<snx:communityType>`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CommunityType::Public => "public",
            CommunityType::PublicInviteOnly => "publicInviteOnly",
            CommunityType::Private => "private",
        }
    }
}

/// A community as a test creates it. Its author becomes its first owner.
#[derive(Clone, Debug)]
pub struct FakeCommunity {
    /// The `communityUuid`, chosen by the test so that it can name the community later.
    pub uuid: String,
    pub name: String,
    /// Plain text: served as `<summary type="text">` and, HTML-escaped, as `<content type="html">`.
    pub description: String,
    pub kind: CommunityType,
    pub tags: Vec<String>,
    /// The userid of the creator, a user added before; served as `<author>` and made an owner.
    pub author: String,
}

impl FakeCommunity {
    /// A public community without description or tags.
    #[must_use]
    pub fn new(uuid: &str, name: &str, author: &str) -> Self {
        FakeCommunity {
            uuid: uuid.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            kind: CommunityType::Public,
            tags: Vec::new(),
            author: author.to_owned(),
        }
    }
}

/// A person of the fake directory.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    pub email: String,
    /// `None`: the user exists (as member or author) but cannot sign in.
    pub password: Option<String>,
    /// Sees every community, private ones included.
    pub communities_admin: bool,
    pub active: bool,
}

/// One membership: the role and when it was last set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub owner: bool,
    /// Milliseconds since the Unix epoch.
    pub updated: i64,
}

/// A community as the server holds it.
#[derive(Clone, Debug)]
pub(crate) struct Community {
    pub name: String,
    pub description: String,
    pub kind: CommunityType,
    pub tags: Vec<String>,
    pub author: String,
    /// Milliseconds since the Unix epoch.
    pub published: i64,
    /// Milliseconds since the Unix epoch; moves on every change of the community or its members.
    pub updated: i64,
    /// By userid, so that the members feed has a stable order.
    pub members: BTreeMap<String, Member>,
}

/// Everything the server serves.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub users: HashMap<String, User>,
    /// By uuid: the order of the communities feed.
    pub communities: BTreeMap<String, Community>,
    /// Leave `<email>` out of every person (the server-wide "hide e-mail addresses" switch).
    pub hide_emails: bool,
    /// The time of the last change, in milliseconds since the Unix epoch.
    last_change: i64,
    /// How many times `/__fake/change` renamed communities, for names that differ each time.
    change_rounds: u64,
}

impl State {
    /// The time of a new change: now in milliseconds, but always strictly later than the change
    /// before, so that two quick changes never share an `updated` and `since` tells them apart.
    pub fn tick(&mut self) -> i64 {
        let now = jiff::Timestamp::now().as_millisecond();
        self.last_change = now.max(self.last_change + 1);
        self.last_change
    }

    /// Whether the user signed in as `userid` may see the community.
    pub fn can_see(&self, userid: &str, community: &Community) -> bool {
        community.kind != CommunityType::Private
            || community.members.contains_key(userid)
            || self.users.get(userid).is_some_and(|u| u.communities_admin)
    }

    /// The userid whose password is `password` and whose userid or e-mail is `login`.
    pub fn sign_in(&self, login: &str, password: &str) -> Option<String> {
        let matches = |u: &User| u.password.as_deref() == Some(password);
        if let Some(user) = self.users.get(login) {
            return matches(user).then(|| login.to_owned());
        }
        self.users
            .iter()
            .find(|(_, u)| u.email.eq_ignore_ascii_case(login) && matches(u))
            .map(|(id, _)| id.clone())
    }

    pub fn add_community(&mut self, c: FakeCommunity) -> Result<(), String> {
        if !self.users.contains_key(&c.author) {
            return Err(format!(
                "the author {} is no user; add_user first",
                c.author
            ));
        }
        let now = self.tick();
        let mut members = BTreeMap::new();
        members.insert(
            c.author.clone(),
            Member {
                owner: true,
                updated: now,
            },
        );
        self.communities.insert(
            c.uuid,
            Community {
                name: c.name,
                description: c.description,
                kind: c.kind,
                tags: c.tags,
                author: c.author,
                published: now,
                updated: now,
                members,
            },
        );
        Ok(())
    }

    /// Applies `change` to the community and moves its `updated` to now.
    pub fn change(
        &mut self,
        uuid: &str,
        change: impl FnOnce(&mut Community),
    ) -> Result<(), String> {
        let now = self.tick();
        let community = self
            .communities
            .get_mut(uuid)
            .ok_or_else(|| format!("no community {uuid}"))?;
        change(community);
        community.updated = now;
        Ok(())
    }

    /// Makes `userid` an owner or a plain member of the community, or changes its role.
    pub fn add_member(&mut self, uuid: &str, userid: &str, owner: bool) -> Result<(), String> {
        if !self.users.contains_key(userid) {
            return Err(format!("{userid} is no user; add_user first"));
        }
        let now = self.tick();
        let community = self
            .communities
            .get_mut(uuid)
            .ok_or_else(|| format!("no community {uuid}"))?;
        community.members.insert(
            userid.to_owned(),
            Member {
                owner,
                updated: now,
            },
        );
        community.updated = now;
        Ok(())
    }

    /// Adds `users` people `user00001`… (name "User 00001", mail `user00001@example.com`, no
    /// password) and `communities` communities with the uuids of [`populated_uuid`], named
    /// "Community 00001"…, each with `members_each` consecutive users (wrapping round; at most
    /// `users`), the first of them owner and author. Communities 1, 4, 7… are public, 2, 5, 8…
    /// publicInviteOnly, 3, 6, 9… private. All get one `updated`.
    pub fn populate(&mut self, communities: usize, members_each: usize, users: usize) {
        let users = users.max(1);
        for i in 1..=users {
            let userid = populated_userid(i);
            self.users.entry(userid.clone()).or_insert_with(|| User {
                name: format!("User {i:05}"),
                email: format!("{userid}@example.com"),
                password: None,
                communities_admin: false,
                active: true,
            });
        }
        let members_each = members_each.clamp(1, users);
        let now = self.tick();
        for i in 1..=communities {
            let start = (i - 1) * members_each;
            let members: BTreeMap<String, Member> = (0..members_each)
                .map(|j| {
                    let member = Member {
                        owner: j == 0,
                        updated: now,
                    };
                    (populated_userid((start + j) % users + 1), member)
                })
                .collect();
            let kind = match i % 3 {
                0 => CommunityType::Private,
                1 => CommunityType::Public,
                _ => CommunityType::PublicInviteOnly,
            };
            let community = Community {
                name: format!("Community {i:05}"),
                description: format!("Bulk community number {i} for benchmarks & tests"),
                kind,
                tags: vec!["bulk".to_owned(), format!("group{}", i % 10)],
                author: populated_userid(start % users + 1),
                published: now,
                updated: now,
                members,
            };
            self.communities.insert(populated_uuid(i), community);
        }
    }

    /// Changes the first `count` communities (in uuid order): renames each and, in each, removes
    /// the last plain member (by userid) and adds the first user who is not yet a member. One
    /// change time for all. Returns how many communities it changed.
    pub fn change_first(&mut self, count: usize) -> usize {
        self.change_rounds += 1;
        let round = self.change_rounds;
        let now = self.tick();
        let mut userids: Vec<&String> = self.users.keys().collect();
        userids.sort();
        let mut changed = 0;
        for community in self.communities.values_mut().take(count) {
            community.name = format!("{} (change {round})", base_name(&community.name));
            let plain = community.members.iter().rev().find(|(_, m)| !m.owner);
            if let Some(userid) = plain.map(|(id, _)| id.clone()) {
                community.members.remove(&userid);
            }
            if let Some(userid) = userids
                .iter()
                .find(|id| !community.members.contains_key(id.as_str()))
            {
                let member = Member {
                    owner: false,
                    updated: now,
                };
                community.members.insert((*userid).clone(), member);
            }
            community.updated = now;
            changed += 1;
        }
        changed
    }
}

/// A community's name without the " (change N)" that [`State::change_first`] added.
fn base_name(name: &str) -> &str {
    match name.rfind(" (change ") {
        Some(at) if name.ends_with(')') => &name[..at],
        _ => name,
    }
}

/// The userid of the `i`-th (1-based) person that `populate` adds: `user00001`.
#[must_use]
pub fn populated_userid(i: usize) -> String {
    format!("user{i:05}")
}

/// The uuid of the `i`-th (1-based) community that `populate` adds:
/// `00000000-0000-4000-8000-000000000001`.
#[must_use]
pub fn populated_uuid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}
