//! The RFC 4533 messages of a content synchronization, read without panicking on what a
//! server sends: the Sync State control on entries, Sync Info intermediate messages and the
//! Sync Done control; and the cookie of a paged-results response (RFC 2696).

use ldap3::ResultEntry;
use ldap3::asn1::{PL, StructureTag, parse_tag};

use super::config::Mode;
use super::entry::uuid_text;

const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
const SYNC_INFO_OID: &str = "1.3.6.1.4.1.4203.1.9.1.4";
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

pub enum State {
    Present,
    AddOrModify,
    Delete,
}

/// What a Sync Info message says.
#[derive(Default)]
pub struct Info {
    pub cookie: Option<Vec<u8>>,
    /// Ends a present phase: entries not named in it are gone.
    pub present_phase: bool,
    pub present: Vec<String>,
    pub deleted: Vec<String>,
}

pub enum SyncMessage {
    Entry {
        state: State,
        uuid: String,
    },
    Info(Info),
    /// An entry without a Sync State control (or something else entirely).
    Other,
}

pub struct Done {
    pub cookie: Option<Vec<u8>>,
    pub refresh_deletes: bool,
}

fn decode(bytes: &[u8]) -> Option<StructureTag> {
    parse_tag(bytes).ok().map(|(_, t)| t)
}

fn children(t: StructureTag) -> Option<Vec<StructureTag>> {
    match t.payload {
        PL::C(c) => Some(c),
        PL::P(_) => None,
    }
}

fn prim(t: &StructureTag) -> Option<&[u8]> {
    match &t.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

fn uuid(bytes: &[u8]) -> String {
    uuid_text(bytes, Mode::OpenLdap).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

pub fn classify(re: &ResultEntry) -> SyncMessage {
    if re.is_intermediate() {
        return info(&re.0)
            .map(SyncMessage::Info)
            .unwrap_or(SyncMessage::Other);
    }
    let Some(ctrl) = re.1.iter().find(|c| c.1.ctype == SYNC_STATE_OID) else {
        return SyncMessage::Other;
    };
    let Some(parts) = ctrl.1.val.as_deref().and_then(decode).and_then(children) else {
        return SyncMessage::Other;
    };
    let state = parts.first().and_then(prim).and_then(|v| v.last().copied());
    let id = parts.get(1).and_then(prim).map(uuid);
    match (state, id) {
        (Some(0), Some(uuid)) => SyncMessage::Entry {
            state: State::Present,
            uuid,
        },
        (Some(1 | 2), Some(uuid)) => SyncMessage::Entry {
            state: State::AddOrModify,
            uuid,
        },
        (Some(3), Some(uuid)) => SyncMessage::Entry {
            state: State::Delete,
            uuid,
        },
        _ => SyncMessage::Other,
    }
}

/// An intermediate response `[APPLICATION 25] { [0] name, [1] value }` holding a Sync Info.
fn info(tag: &StructureTag) -> Option<Info> {
    let PL::C(parts) = &tag.payload else {
        return None;
    };
    let name = parts.iter().find(|p| p.id == 0).and_then(prim)?;
    if name != SYNC_INFO_OID.as_bytes() {
        return None;
    }
    let value = decode(parts.iter().find(|p| p.id == 1).and_then(prim)?)?;
    let mut out = Info::default();
    match (value.id, value.payload) {
        (0, PL::P(cookie)) => out.cookie = Some(cookie),
        (id @ 1..=3, PL::C(items)) => {
            // refreshDelete [1], refreshPresent [2]: { cookie?, refreshDone BOOLEAN DEFAULT TRUE }
            // syncIdSet [3]: { cookie?, refreshDeletes BOOLEAN DEFAULT FALSE, syncUUIDs SET }
            let mut deletes = false;
            let mut uuids = Vec::new();
            for item in items {
                match (item.id, &item.payload) {
                    (4, PL::P(c)) => out.cookie = Some(c.clone()),
                    (1, PL::P(b)) => deletes = b.first().is_some_and(|x| *x != 0),
                    (17, PL::C(set)) => uuids.extend(set.iter().filter_map(prim).map(uuid)),
                    _ => {}
                }
            }
            match id {
                2 => out.present_phase = true,
                3 if deletes => out.deleted = uuids,
                3 => {
                    out.present_phase = true;
                    out.present = uuids;
                }
                _ => {}
            }
        }
        _ => return None,
    }
    Some(out)
}

/// The Sync Done control of a finished synchronization search.
pub fn done(result: &ldap3::LdapResult) -> Option<Done> {
    let ctrl = result.ctrls.iter().find(|c| c.1.ctype == SYNC_DONE_OID)?;
    let mut out = Done {
        cookie: None,
        refresh_deletes: false,
    };
    if let Some(items) = ctrl.1.val.as_deref().and_then(decode).and_then(children) {
        for item in items {
            match (item.id, &item.payload) {
                (4, PL::P(c)) => out.cookie = Some(c.clone()),
                (1, PL::P(b)) => out.refresh_deletes = b.first().is_some_and(|x| *x != 0),
                _ => {}
            }
        }
    }
    Some(out)
}

/// The cookie of a paged-results response control `{ size INTEGER, cookie OCTET STRING }`.
pub fn paged_cookie(val: &[u8]) -> Option<Vec<u8>> {
    let parts = children(decode(val)?)?;
    parts.get(1).and_then(prim).map(<[u8]>::to_vec)
}
