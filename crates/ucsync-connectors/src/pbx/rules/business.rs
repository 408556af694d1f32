//! The MiVoice Business rules: numbers are classified (deskphone, Minet softphone, UC
//! endpoint); a PRG or MDUG is the account of its pilot and keeps every device; numbers in no
//! group form the account of their exact names with one device of each kind; a group with an
//! unreadable row, no pilot, two pilots or two kinds forms no account.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Identity, Out, attr, dynamic, lines_locator, named, names, no_names, number_order, own,
    push_account, set, sorted,
};
use crate::pbx::records::{BadRow, GroupKind, Row};

/// What a MiVoice Business number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Deskphone,
    MinetSoftphone,
    UcEndpoint,
}

impl DeviceKind {
    fn plural(self) -> &'static str {
        match self {
            DeviceKind::Deskphone => "deskphones",
            DeviceKind::MinetSoftphone => "Minet softphones",
            DeviceKind::UcEndpoint => "UC endpoints",
        }
    }
}

/// `App Server Port`, or `5020 IP` with a MAC address starting `A1:21:00`: a Minet softphone;
/// `MiCollab Client Endpoint`: a UC endpoint; anything else: a deskphone (case ignored).
pub fn classify(row: &Row) -> DeviceKind {
    let t = row.device_type.as_str();
    let minet_mac = row.mac.as_deref().is_some_and(|m| {
        m.replace('-', ":")
            .to_ascii_uppercase()
            .starts_with("A1:21:00")
    });
    if t.eq_ignore_ascii_case("App Server Port") || (t.eq_ignore_ascii_case("5020 IP") && minet_mac)
    {
        DeviceKind::MinetSoftphone
    } else if t.eq_ignore_ascii_case("MiCollab Client Endpoint") {
        DeviceKind::UcEndpoint
    } else {
        DeviceKind::Deskphone
    }
}

/// The group a MiVoice Business account comes from.
struct GroupInfo<'a> {
    id: &'a str,
    kind: Option<GroupKind>,
    pilot: &'a str,
}

pub(super) fn business(rows: &[Row], bad: &[BadRow], out: &mut Out) {
    let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    let mut loose: BTreeMap<Identity, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        match &r.group {
            Some(g) => groups.entry(g.as_str()).or_default().push(r),
            None => match own(r) {
                Some(identity) => loose.entry(identity).or_default().push(r),
                None => out.error(None, r.line, no_names(r, " and the number is in no group")),
            },
        }
    }
    let mut bad_groups: BTreeMap<&str, Vec<&BadRow>> = BTreeMap::new();
    for b in bad {
        let anchor = match &b.group {
            Some(g) => {
                bad_groups.entry(g.as_str()).or_default().push(b);
                bad_row_in_group(b, groups.get(g.as_str()))
            }
            None => named(&b.first, &b.last, &b.department),
        };
        out.error(anchor.as_ref(), b.line, b.message.clone());
    }

    // Groups in id order, so that of two groups whose pilots have the same names the lowest id
    // forms the account.
    let mut claimed: BTreeMap<Identity, &str> = BTreeMap::new();
    for (&id, members) in &groups {
        let numbers = sorted(members.iter().map(|m| m.number.as_str())).join(", ");
        let lines: Vec<u64> = members.iter().map(|m| m.line).collect();
        let broken = bad_groups.get(id);
        let identity = match broken {
            Some(bads) => match group_with_bad_rows(members, bads) {
                Some(identity) => identity,
                None => {
                    let bad_lines: Vec<u64> = bads.iter().map(|b| b.line).collect();
                    for m in members {
                        out.error(
                            own(m).as_ref(),
                            m.line,
                            format!(
                                "line {}, number {}: group {id} (numbers {numbers}) has a {} that could not be read, so the account it forms is not known; fix that line on the PBX and export again",
                                m.line,
                                m.number,
                                lines_locator(&bad_lines)
                            ),
                        );
                    }
                    continue;
                }
            },
            None => match check_group(id, members, &numbers, out) {
                Some(identity) => identity,
                None => continue,
            },
        };
        if let Some(first) = claimed.get(&identity) {
            out.warning(
                &identity,
                &lines,
                format!(
                    "group {id} (numbers {numbers}) is dropped: its pilot has the same first name, last name and department as the pilot of group {first}, which forms the account {}; on the PBX, merge the two groups or correct the pilots' names",
                    identity.anchor()
                ),
            );
            continue;
        }
        claimed.insert(identity.clone(), id);
        if broken.is_none() {
            let info = GroupInfo {
                id,
                kind: members.iter().find_map(|m| m.group_kind),
                pilot: members
                    .iter()
                    .find(|m| m.pilot)
                    .map_or("", |m| m.number.as_str()),
            };
            let devices = members.iter().map(|m| (*m, classify(m))).collect();
            business_account(&identity, Some(info), devices, out);
        }
    }

    for (identity, rows) in loose {
        if let Some(group) = claimed.get(&identity) {
            let numbers = sorted(rows.iter().map(|r| r.number.as_str())).join(", ");
            let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
            out.warning(
                &identity,
                &lines,
                if rows.len() == 1 {
                    format!(
                        "number {numbers} is dropped: it is in no group but has the first name, last name and department of the pilot of group {group}, which forms the account {}; add it to group {group} on the PBX to keep it",
                        identity.anchor()
                    )
                } else {
                    format!(
                        "numbers {numbers} are dropped: they are in no group but have the first name, last name and department of the pilot of group {group}, which forms the account {}; add them to group {group} on the PBX to keep them",
                        identity.anchor()
                    )
                },
            );
            continue;
        }
        let devices = one_of_each_kind(&identity, &rows, out);
        business_account(&identity, None, devices, out);
    }
}

/// Whose account a bad row in a group belongs to: its own when it is the pilot (or may be),
/// else the group's pilot's.
fn bad_row_in_group(b: &BadRow, members: Option<&Vec<&Row>>) -> Option<Identity> {
    let own = named(&b.first, &b.last, &b.department);
    if b.pilot == Some(true) {
        return own;
    }
    let pilots: Vec<&&Row> = members
        .map(|ms| ms.iter().filter(|m| m.pilot).collect())
        .unwrap_or_default();
    if let [pilot] = pilots[..]
        && let Some(identity) = self::own(pilot)
    {
        return Some(identity);
    }
    if b.pilot.is_none() { own } else { None }
}

/// The account of a group with unreadable rows, when its pilot can still be told.
fn group_with_bad_rows(members: &[&Row], bads: &[&BadRow]) -> Option<Identity> {
    if let Some(identity) = bads
        .iter()
        .filter(|b| b.pilot == Some(true))
        .find_map(|b| named(&b.first, &b.last, &b.department))
    {
        return Some(identity);
    }
    match members.iter().filter(|m| m.pilot).collect::<Vec<_>>()[..] {
        [pilot] => own(pilot),
        _ => None,
    }
}

/// The identity of a group's pilot, or errors on every number of the group.
fn check_group(id: &str, members: &[&Row], numbers: &str, out: &mut Out) -> Option<Identity> {
    let pilots: Vec<&Row> = members.iter().copied().filter(|m| m.pilot).collect();
    let kinds: BTreeSet<GroupKind> = members.iter().filter_map(|m| m.group_kind).collect();
    let (problem, anchor): (String, Option<Identity>) = match (&pilots[..], kinds.len()) {
        ([], _) => (
            format!(
                "group {id} (numbers {numbers}) has no pilot, so no account can be formed from it; mark exactly one of its numbers as Pilot on the PBX"
            ),
            None,
        ),
        ([_, _, ..], _) => (
            format!(
                "group {id} (numbers {numbers}) has {} pilots ({}); mark exactly one of its numbers as Pilot on the PBX",
                pilots.len(),
                sorted(pilots.iter().map(|p| p.number.as_str())).join(", ")
            ),
            None,
        ),
        ([pilot], 2..) => (
            format!(
                "group {id} (numbers {numbers}) is {} in column \"Group Kind\"; a group has one kind, correct it on the PBX",
                kinds
                    .iter()
                    .map(|k| k.label())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            own(pilot),
        ),
        ([pilot], _) => match own(pilot) {
            Some(identity) => return Some(identity),
            None => (
                format!(
                    "the pilot {} of group {id} (numbers {numbers}) has neither first nor last name, so it identifies no account; give the pilot the user's names on the PBX",
                    pilot.number
                ),
                None,
            ),
        },
    };
    for m in members {
        // Without a pilot that names it, the account is most likely the member's own: keeping
        // that one as it was loses nothing.
        let anchor = anchor.clone().or_else(|| own(m));
        out.error(
            anchor.as_ref(),
            m.line,
            format!("line {}, number {}: {problem}", m.line, m.number),
        );
    }
    None
}

/// Devices in no group: the lowest number (number order) of each kind is kept, the others are
/// dropped with a warning.
fn one_of_each_kind<'a>(
    identity: &Identity,
    rows: &[&'a Row],
    out: &mut Out,
) -> Vec<(&'a Row, DeviceKind)> {
    let mut kept = Vec::new();
    for kind in [
        DeviceKind::Deskphone,
        DeviceKind::MinetSoftphone,
        DeviceKind::UcEndpoint,
    ] {
        let mut of_kind: Vec<&Row> = rows
            .iter()
            .copied()
            .filter(|r| classify(r) == kind)
            .collect();
        of_kind.sort_by(|a, b| number_order(&a.number, &b.number));
        let Some((first, rest)) = of_kind.split_first() else {
            continue;
        };
        kept.push((*first, kind));
        if !rest.is_empty() {
            let dropped: Vec<&str> = rest.iter().map(|r| r.number.as_str()).collect();
            let lines: Vec<u64> = of_kind.iter().map(|r| r.line).collect();
            out.warning(
                identity,
                &lines,
                format!(
                    "{} has {} {} and no group: kept {}, dropped {}; to keep them all, put all of the user's devices in one PRG or MDUG on the PBX",
                    identity.anchor(),
                    of_kind.len(),
                    kind.plural(),
                    first.number,
                    dropped.join(", ")
                ),
            );
        }
    }
    kept
}

/// A MiVoice Business account from its (kept) devices.
fn business_account(
    identity: &Identity,
    group: Option<GroupInfo<'_>>,
    devices: Vec<(&Row, DeviceKind)>,
    out: &mut Out,
) {
    let of = |kind: DeviceKind| {
        sorted(
            devices
                .iter()
                .filter(|(_, k)| *k == kind)
                .map(|(r, _)| r.number.as_str()),
        )
    };
    let (desk, minet, uc) = (
        of(DeviceKind::Deskphone),
        of(DeviceKind::MinetSoftphone),
        of(DeviceKind::UcEndpoint),
    );
    let rows: Vec<&Row> = devices.iter().map(|(r, _)| *r).collect();
    let uc_endpoints: &[&str] = if !minet.is_empty() && !uc.is_empty() {
        let lines: Vec<u64> = devices
            .iter()
            .filter(|(_, k)| *k != DeviceKind::Deskphone)
            .map(|(r, _)| r.line)
            .collect();
        out.warning(
            identity,
            &lines,
            format!(
                "{} has a Minet softphone ({}) and a UC endpoint ({}); an account has one kind of softphone, so the Minet softphone is its softphone and {} stays among its numbers but not as its UC endpoint",
                identity.anchor(),
                minet.join(", "),
                uc.join(", "),
                uc.join(", ")
            ),
        );
        &[]
    } else {
        &uc
    };
    let primary = match &group {
        Some(g) => Some(g.pilot),
        None => desk.first().or(minet.first()).or(uc.first()).copied(),
    };
    let mut numbers = sorted(rows.iter().map(|r| r.number.as_str()));
    if let Some(p) = primary
        && let Some(at) = numbers.iter().position(|n| *n == p)
    {
        numbers[..=at].rotate_right(1);
    }
    let mut attrs = names(identity);
    set(&mut attrs, attr::TELEPHONE_NUMBER, &numbers);
    set(&mut attrs, attr::DESKPHONE, &desk);
    set(&mut attrs, attr::SOFTPHONE, &minet);
    set(&mut attrs, attr::UC_ENDPOINT, uc_endpoints);
    let softphone_type = if !minet.is_empty() {
        "minet"
    } else if !uc.is_empty() {
        "sip"
    } else {
        ""
    };
    attrs.set_one(attr::SOFTPHONE_TYPE, softphone_type);
    if let Some(g) = &group {
        attrs.set_one(attr::PILOT, g.pilot);
        attrs.set_one(attr::PBX_GROUP, g.id);
        attrs.set_one(attr::PBX_GROUP_KIND, g.kind.map_or("", GroupKind::value));
    }
    set(&mut attrs, attr::DYNAMIC_EXTENSION, &dynamic(&rows));
    push_account(out, identity, attrs, &numbers, &rows);
}
