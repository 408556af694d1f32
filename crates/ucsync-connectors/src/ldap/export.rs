//! Export: adds, minimal modifies, deletes and renames (modrdn), many operations in flight on
//! one connection. Reference values (anchors of other entries) become DNs; a missing parent is
//! an error, or is created when `create_parents` is on. Every failure is the object's own
//! (the others go on), names the entry and says what to do, and leaves the entry as it was:
//! what can be checked is checked before the first write, and a rename whose modify fails is
//! undone.

use std::collections::{BTreeSet, HashSet};

use futures_util::StreamExt;
use ldap3::controls::PostRead;
use ldap3::{Ldap, Mod};
use ucsync_model::{Attrs, ConnectorError, ExportChange, ExportOp, ExportResult};

use super::config::{LdapSettings, ObjectType, is_dn};
use super::conn::failed;
use super::{LdapConnector, dn, txn};

/// What to do about a `dn` that is not a DN.
const DN_ADVICE: &str = "fix the export flow of dn: in a value, , + \" \\ < > ; and a leading # or space need a \\ before them (RFC 4514); or drop that flow and let rdn and container build the DN, which escapes the value";

pub async fn export(
    c: &LdapConnector,
    changes: &[ExportChange],
) -> Result<Vec<ExportResult>, ConnectorError> {
    let mut ldap = c.export_connection(0).await?;
    let adds = changes.iter().filter(|ch| ch.op == ExportOp::Add).count();
    if adds >= txn::MIN_ADDS && c.transactions_offered(&mut ldap).await {
        // One connection per transaction under way, no more than the adds fill.
        let lanes = adds.div_ceil(txn::TXN_SIZE).clamp(1, txn::LANES);
        let mut conns = vec![ldap];
        for lane in 1..lanes {
            conns.push(c.export_connection(lane).await?);
        }
        return Ok(with_transactions(c, &conns, changes).await);
    }
    Ok(one_by_one(c, &ldap, changes.iter()).await)
}

/// Sends each change on its own, `max_in_flight` at a time; the results in the same order.
async fn one_by_one<'a>(
    c: &LdapConnector,
    ldap: &Ldap,
    changes: impl Iterator<Item = &'a ExportChange>,
) -> Vec<ExportResult> {
    let ops: Vec<_> = changes
        .map(|ch| {
            let mut ldap = ldap.clone();
            async move {
                match one(c, &mut ldap, ch).await {
                    Ok(r) => r,
                    Err(msg) => ExportResult::Failed(msg),
                }
            }
        })
        .collect();
    futures_util::stream::iter(ops)
        .buffered(c.settings.max_in_flight)
        .collect()
        .await
}

/// The other changes first, one by one, then the adds in transactions (see [`txn`]); the adds
/// of a transaction the server did not commit are then sent one by one.
async fn with_transactions(
    c: &LdapConnector,
    conns: &[Ldap],
    changes: &[ExportChange],
) -> Vec<ExportResult> {
    let ldap = &conns[0];
    let (adds, others): (Vec<usize>, Vec<usize>) =
        (0..changes.len()).partition(|&i| changes[i].op == ExportOp::Add);
    let mut results: Vec<Option<ExportResult>> = vec![None; changes.len()];
    let done = one_by_one(c, ldap, others.iter().map(|&i| &changes[i])).await;
    for (&i, r) in others.iter().zip(done) {
        results[i] = Some(r);
    }
    let preparing: Vec<_> = adds
        .iter()
        .map(|&i| {
            let mut ldap = ldap.clone();
            async move { prepare_add(c, &mut ldap, &changes[i]).await }
        })
        .collect();
    let ready: Vec<Result<txn::PreparedAdd, String>> = futures_util::stream::iter(preparing)
        .buffered(c.settings.max_in_flight)
        .collect()
        .await;
    let mut prepared = Vec::new();
    let mut sent = Vec::new();
    for (&i, p) in adds.iter().zip(ready) {
        match p {
            Ok(p) => {
                prepared.push(p);
                sent.push(i);
            }
            Err(msg) => results[i] = Some(ExportResult::Failed(msg)),
        }
    }
    let mut l = ldap.clone();
    if c.settings.create_parents {
        // A missing parent would fail the whole transaction: create each one first.
        let mut parents: Vec<&str> = prepared.iter().map(|p| dn::split_first(&p.dn).1).collect();
        parents.sort_unstable();
        parents.dedup();
        for parent in parents {
            if let Err(why) = create_parents(&mut l, &c.settings, parent).await {
                tracing::debug!(%parent, %why, "creating a parent before a transaction");
            }
        }
    }
    let mut again = Vec::new();
    for (&i, done) in sent.iter().zip(txn::add_all(c, conns, &prepared).await) {
        match done {
            Some(Ok((anchor, raw))) => {
                results[i] = Some(added(c, &mut l, &changes[i], anchor, raw.as_ref()).await);
            }
            Some(Err(msg)) => results[i] = Some(ExportResult::Failed(msg)),
            None => again.push(i),
        }
    }
    let each = one_by_one(c, ldap, again.iter().map(|&i| &changes[i])).await;
    for (&i, r) in again.iter().zip(each) {
        results[i] = Some(r);
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                ExportResult::Failed("not sent; it is sent at the next export".into())
            })
        })
        .collect()
}

async fn one(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
) -> Result<ExportResult, String> {
    let t = object_type(c, ch)?;
    match ch.op {
        ExportOp::Add => add(c, ldap, ch).await,
        ExportOp::Update => update(c, ldap, t, ch).await,
        ExportOp::Delete => {
            let target = current_dn(c, ldap, ch).await?;
            let Some(target) = target else {
                return Ok(ExportResult::Done);
            };
            let r = ldap
                .delete(&target)
                .await
                .map_err(|e| format!("delete {target}: {e}"))?;
            match r.rc {
                0 | 32 => {
                    c.cache.forget(&target, &ch.anchor);
                    Ok(ExportResult::Done)
                }
                _ => Err(failed(&c.settings, &format!("delete {target}"), &r)),
            }
        }
    }
}

fn object_type<'a>(c: &'a LdapConnector, ch: &ExportChange) -> Result<&'a ObjectType, String> {
    c.settings.object_type(&ch.object_type).ok_or_else(|| {
        format!(
            "no object type \"{}\" in this connector's settings",
            ch.object_type
        )
    })
}

/// The DN a new entry gets: the `dn` an export flow computed, or `rdn=value,container`.
pub fn new_dn(t: &ObjectType, attrs: &Attrs) -> Result<String, String> {
    if let Some(d) = attrs.get("dn").first() {
        return match dn::check(d) {
            Ok(()) => Ok(d.clone()),
            Err(why) => Err(format!(
                "the dn \"{d}\" computed by the export flows is not a DN ({why}); {DN_ADVICE}"
            )),
        };
    }
    let staged = t.staged_name(&t.rdn).unwrap_or(&t.rdn);
    match attrs.get(staged).first() {
        Some(v) if !v.is_empty() => Ok(dn::build(&t.rdn, v, &t.container)),
        _ => Err(format!(
            "{} (the rdn of object type {}) has no value; add an export flow that fills it",
            t.rdn, t.name
        )),
    }
}

/// The LDAP attributes and values of a staged state, references as DNs. A reference that
/// names no entry fails, unless `unknown` is given: then it is left out and its attribute
/// listed there (for the state last read, which may name entries deleted since).
async fn ldap_values(
    c: &LdapConnector,
    ldap: &mut Ldap,
    t: &ObjectType,
    attrs: &Attrs,
    mut unknown: Option<&mut Vec<String>>,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for (staged, values) in attrs.iter() {
        let Some(name) = t.ldap_name(staged) else {
            continue;
        };
        let values = if c.settings.references.iter().any(|r| r == staged) {
            let mut dns = Vec::with_capacity(values.len());
            for v in values {
                match (reference_dn(c, ldap, v).await, unknown.as_deref_mut()) {
                    (Ok(d), _) => dns.push(d),
                    (Err(_), Some(list)) => list.push(name.to_owned()),
                    (Err(e), None) => return Err(format!("{name}: {e}")),
                }
            }
            dns
        } else {
            values.to_vec()
        };
        if !values.is_empty() {
            out.push((name.to_owned(), values));
        }
    }
    Ok(out)
}

/// Replaces the values of `names` in `values` with what the entry at `dn` holds now.
async fn live_values(
    c: &LdapConnector,
    ldap: &mut Ldap,
    dn: &str,
    names: &[String],
    values: &mut Vec<(String, Vec<String>)>,
) -> Result<(), String> {
    let what = format!("reading {} of {dn}", names.join(", "));
    let found = ldap
        .with_timeout(c.settings.timeout)
        .search(dn, ldap3::Scope::Base, "(objectClass=*)", names.to_vec())
        .await
        .map_err(|e| format!("{what}: {e}"))?;
    if found.1.rc != 0 {
        return Err(failed(&c.settings, &what, &found.1));
    }
    let live = found
        .0
        .into_iter()
        .find_map(|re| super::entry::parse(re.0))
        .unwrap_or_default();
    for name in names {
        let now: Vec<String> = live
            .get(name)
            .unwrap_or(&[])
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        values.retain(|(n, _)| n != name);
        if !now.is_empty() {
            values.push((name.clone(), now));
        }
    }
    Ok(())
}

/// The DN of the entry a reference value names: a DN already, or an anchor.
async fn reference_dn(c: &LdapConnector, ldap: &mut Ldap, v: &str) -> Result<String, String> {
    if is_dn(v) {
        return Ok(v.to_owned());
    }
    c.dn_of(ldap, v).await?.ok_or_else(|| {
        format!(
            "the reference {v} names no entry of this directory yet; it is sent at the next export"
        )
    })
}

/// The DN and LDAP values of an add, references translated to DNs.
async fn prepare_add(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
) -> Result<txn::PreparedAdd, String> {
    let t = object_type(c, ch)?;
    let attrs = &ch.attrs;
    let target = new_dn(t, attrs)?;
    let mut entry: Vec<(String, HashSet<String>)> = vec![(
        "objectClass".to_owned(),
        match attrs.get("objectClass") {
            [] => t.object_classes.iter().cloned().collect(),
            v => v.iter().cloned().collect(),
        },
    )];
    for (name, values) in ldap_values(c, ldap, t, attrs, None)
        .await
        .map_err(|e| format!("add {target}: {e}"))?
    {
        entry.push((name, values.into_iter().collect()));
    }
    Ok(txn::PreparedAdd { dn: target, entry })
}

async fn add(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
) -> Result<ExportResult, String> {
    let s = &c.settings;
    let txn::PreparedAdd { dn: target, entry } = prepare_add(c, ldap, ch).await?;
    let sent = |e: ldap3::LdapError| format!("add {target}: {e}");
    // Read back with what an import asks for, so that the state recorded is what it stages.
    let read_back = || PostRead::new(s.requested_attributes());
    let mut r = ldap
        .with_controls(read_back())
        .add(&target, entry.clone())
        .await
        .map_err(sent)?;
    if r.rc == 32 && s.create_parents {
        create_parents(ldap, s, dn::split_first(&target).1).await?;
        r = ldap
            .with_controls(read_back())
            .add(&target, entry)
            .await
            .map_err(sent)?;
    }
    match r.rc {
        0 => {}
        32 => {
            return Err(format!(
                "add {target}: the parent {} does not exist, or the bind DN may not see it; create it, or set create_parents = true",
                dn::split_first(&target).1
            ));
        }
        _ => return Err(failed(s, &format!("add {target}"), &r)),
    }
    // The post-read control (RFC 4527) brought the new entry with the answer; a server
    // without it (Active Directory), or that left the anchor out, is asked with a search.
    let raw = match post_read(&r).filter(|raw| super::entry::anchor(s, raw).is_ok()) {
        Some(raw) => Some(raw),
        None => c.read_entry(ldap, &target).await?,
    };
    let anchor = raw
        .as_ref()
        .and_then(|raw| super::entry::anchor(s, raw).ok());
    let (Some(raw), Some(anchor)) = (raw, anchor) else {
        return Err(format!(
            "{target} was added but cannot be read back; check that the bind DN may read {}",
            s.anchor
        ));
    };
    c.cache.learn(&target, &anchor);
    Ok(added(c, ldap, ch, anchor, Some(&raw)).await)
}

/// The result of an add: its anchor, and the state an import would stage when the entry read
/// back is of the change's object type.
pub(super) async fn added(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
    anchor: String,
    raw: Option<&super::entry::RawEntry>,
) -> ExportResult {
    let state = match raw {
        Some(raw) => c.staged_state(ldap, raw, &ch.object_type).await,
        None => None,
    };
    match state {
        Some(state) => ExportResult::DoneWithState {
            anchor: Some(anchor),
            state,
        },
        None => ExportResult::DoneWithAnchor(anchor),
    }
}

/// RFC 4527's post-read control.
const POST_READ_OID: &str = "1.3.6.1.1.13.2";

/// The entry in an add's post-read response control, if the server sent one.
fn post_read(r: &ldap3::LdapResult) -> Option<super::entry::RawEntry> {
    let ctrl = r.ctrls.iter().find(|c| c.1.ctype == POST_READ_OID)?;
    let (_, tag) = ldap3::asn1::parse_tag(ctrl.1.val.as_deref()?).ok()?;
    super::entry::parse(tag)
}

/// Creates the organizational units from the first existing ancestor down to `parent`.
async fn create_parents(ldap: &mut Ldap, s: &LdapSettings, parent: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut at = parent.to_owned();
    let base = s.base_holding(parent).unwrap_or(&s.base_dn);
    while dn::parse(&at).is_some_and(|p| p.len() > dn::parse(base).map_or(0, |b| b.len())) {
        missing.push(at.clone());
        at = dn::split_first(&at).1.to_owned();
    }
    for d in missing.into_iter().rev() {
        let (rdn, _) = dn::split_first(&d);
        let Some((attr, value)) = rdn.split_once('=') else {
            continue;
        };
        let class = match attr.to_ascii_lowercase().as_str() {
            "ou" => "organizationalUnit",
            "cn" => "container",
            "o" => "organization",
            _ => {
                return Err(format!(
                    "the parent {d} is missing and ucsync creates only ou=, o= or cn= containers; create it on the server"
                ));
            }
        };
        let value = value.replace('\\', "");
        let entry = vec![
            ("objectClass", HashSet::from([class])),
            (attr, HashSet::from([value.as_str()])),
        ];
        let r = ldap
            .add(&d, entry)
            .await
            .map_err(|e| format!("creating the parent {d}: {e}"))?;
        if r.rc != 0 && r.rc != 68 {
            return Err(failed(s, &format!("creating the parent {d}"), &r));
        }
    }
    Ok(())
}

/// Where the entry of a change is now: the `dn` it was imported with, or found by anchor.
async fn current_dn(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
) -> Result<Option<String>, String> {
    if let Some(d) = ch.old.as_ref().and_then(|o| o.get("dn").first()) {
        return Ok(Some(d.clone()));
    }
    if is_dn(&ch.anchor) {
        return Ok(Some(ch.anchor.clone()));
    }
    c.dn_of(ldap, &ch.anchor).await
}

async fn update(
    c: &LdapConnector,
    ldap: &mut Ldap,
    t: &ObjectType,
    ch: &ExportChange,
) -> Result<ExportResult, String> {
    let s = &c.settings;
    let Some(current) = current_dn(c, ldap, ch).await? else {
        return Err(format!(
            "no entry with {} {} exists any more; the next import removes it",
            s.anchor, ch.anchor
        ));
    };
    // A rename when the DN the flows give differs from where the entry is.
    let rename = match renamed_dn(t, &current, &ch.attrs, ch.old.as_ref()) {
        Some(wanted) if !dn::same(&wanted, &current) => {
            dn::check(&wanted).map_err(|why| {
                format!(
                    "cannot rename {current} to \"{wanted}\": it is not a DN ({why}); {DN_ADVICE}"
                )
            })?;
            Some(wanted)
        }
        _ => None,
    };
    // Everything the modify needs is resolved before the first write.
    let old = ch.old.clone().unwrap_or_default();
    let mut unknown = Vec::new();
    let mut before = ldap_values(c, ldap, t, &old, Some(&mut unknown)).await?;
    if !unknown.is_empty() {
        // The last import named an entry gone since: what the entry holds now is the truth.
        unknown.dedup();
        live_values(c, ldap, &current, &unknown, &mut before).await?;
    }
    let mut after = ldap_values(c, ldap, t, &ch.attrs, None)
        .await
        .map_err(|e| format!("modify {current}: {e}"))?;
    let mut target = current.clone();
    if let Some(wanted) = &rename {
        let (rdn, parent) = dn::split_first(wanted);
        let old_parent = dn::split_first(&current).1;
        let superior = (!dn::same(parent, old_parent)).then_some(parent);
        let what = format!("rename {current} to {wanted}");
        let r = ldap
            .modifydn(&current, rdn, true, superior)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if r.rc != 0 {
            return Err(failed(s, &what, &r));
        }
        c.cache.forget(&current, &ch.anchor);
        c.cache.learn(wanted, &ch.anchor);
        renamed_values(&mut before, &current, wanted);
        target = wanted.clone();
    }
    // The RDN's attribute is set by the rename; Active Directory refuses to modify it.
    if let Some(name) = rdn_already_set(&target, &after) {
        before.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        after.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    }
    let mods = diff(&before, &after, &s.references, t);
    if mods.is_empty() {
        return Ok(ExportResult::Done);
    }
    let what = format!("modify {target}");
    let error = match ldap.modify(&target, mods).await {
        Ok(r) if r.rc == 0 => return Ok(ExportResult::Done),
        Ok(r) => failed(s, &what, &r),
        Err(e) => format!("{what}: {e}"),
    };
    match rename {
        Some(_) => Err(undo_rename(c, ldap, &ch.anchor, &target, &current, error).await),
        None => Err(error),
    }
}

/// Moves a renamed entry back after its modify failed, so that the change stays pending
/// against the entry as the last import saw it; the message says whether that worked.
async fn undo_rename(
    c: &LdapConnector,
    ldap: &mut Ldap,
    anchor: &str,
    renamed: &str,
    original: &str,
    error: String,
) -> String {
    let (rdn, parent) = dn::split_first(original);
    let superior = (!dn::same(parent, dn::split_first(renamed).1)).then_some(parent);
    match ldap.modifydn(renamed, rdn, true, superior).await {
        Ok(r) if r.rc == 0 => {
            c.cache.forget(renamed, anchor);
            c.cache.learn(original, anchor);
            format!(
                "{error}; the rename to {renamed} was undone, so the entry is unchanged at {original}"
            )
        }
        Ok(r) => format!(
            "{error}; the entry was renamed to {renamed} but not modified, and moving it back failed ({}); the next import reads it there",
            failed(&c.settings, "rename", &r)
        ),
        Err(e) => format!(
            "{error}; the entry was renamed to {renamed} but not modified, and moving it back failed ({e}); the next import reads it there"
        ),
    }
}

/// The values the entry holds after a modrdn with deleteoldrdn: the old RDN's value gone from
/// its attribute, the new one there.
fn renamed_values(values: &mut Vec<(String, Vec<String>)>, from: &str, to: &str) {
    let (Some((old_t, old_v)), Some((new_t, new_v))) = (dn::first_ava(from), dn::first_ava(to))
    else {
        return;
    };
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    if let Some((_, vals)) = values
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(&old_t))
    {
        vals.retain(|v| !same(v, &old_v));
    }
    match values
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(&new_t))
    {
        Some((_, vals)) => {
            if !vals.iter().any(|v| same(v, &new_v)) {
                vals.push(new_v);
            }
        }
        None => values.push((new_t, vec![new_v])),
    }
    values.retain(|(_, v)| !v.is_empty());
}

/// The RDN attribute of `target` when `after` gives it exactly the RDN's value: nothing to
/// modify there.
fn rdn_already_set(target: &str, after: &[(String, Vec<String>)]) -> Option<String> {
    let (rdn, parent) = dn::split_first(target);
    let (attr, _) = rdn.split_once('=')?;
    let attr = attr.trim();
    let (name, values) = after.iter().find(|(n, _)| n.eq_ignore_ascii_case(attr))?;
    match values.as_slice() {
        [one] if dn::same(&dn::build(attr, one, parent), target) => Some(name.clone()),
        _ => None,
    }
}

/// The DN an updated entry should have: the flows' `dn`, or its current parent with the RDN
/// from the rdn attribute's new value; `None` when nothing says where it goes.
/// A `dn` carried over unchanged from the imported state is where the entry is, not where a
/// flow wants it.
fn renamed_dn(t: &ObjectType, current: &str, attrs: &Attrs, old: Option<&Attrs>) -> Option<String> {
    let old_dn = old.map(|o| o.get("dn")).unwrap_or_default();
    if let Some(d) = attrs.get("dn").first()
        && old_dn.first() != Some(d)
    {
        return Some(d.clone());
    }
    let staged = t.staged_name(&t.rdn).unwrap_or(&t.rdn);
    let values = attrs.get(staged);
    let value = values.first()?;
    let (rdn, parent) = dn::split_first(current);
    let (attr, _) = rdn.split_once('=')?;
    if !attr.trim().eq_ignore_ascii_case(&t.rdn) {
        return None;
    }
    // The entry keeps its name while the rdn attribute still holds the value it is named by.
    if values
        .iter()
        .any(|v| dn::same(&dn::build(attr.trim(), v, parent), current))
    {
        return None;
    }
    Some(dn::build(attr.trim(), value, parent))
}

/// The smallest modification from `before` to `after`: single values replaced, multi-values
/// changed value by value, emptied attributes deleted.
fn diff(
    before: &[(String, Vec<String>)],
    after: &[(String, Vec<String>)],
    references: &[String],
    t: &ObjectType,
) -> Vec<Mod<String>> {
    let names: BTreeSet<&str> = before
        .iter()
        .chain(after)
        .map(|(n, _)| n.as_str())
        .collect();
    let get = |list: &[(String, Vec<String>)], n: &str| -> Vec<String> {
        list.iter()
            .find(|(x, _)| x == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut mods = Vec::new();
    for name in names {
        let is_ref = references
            .iter()
            .any(|r| t.ldap_name(r).is_some_and(|l| l == name));
        let norm = |v: &String| {
            if is_ref {
                super::import::dn_key(v)
            } else {
                v.clone()
            }
        };
        let old = get(before, name);
        let new = get(after, name);
        let old_n: BTreeSet<String> = old.iter().map(norm).collect();
        let new_n: BTreeSet<String> = new.iter().map(norm).collect();
        if old_n == new_n {
            continue;
        }
        let name = name.to_owned();
        if new.is_empty() {
            mods.push(Mod::Delete(name, HashSet::new()));
        } else if old.is_empty() {
            mods.push(Mod::Add(name, new.into_iter().collect()));
        } else if old.len() == 1 && new.len() == 1 {
            mods.push(Mod::Replace(name, new.into_iter().collect()));
        } else {
            let added: HashSet<String> = new
                .iter()
                .filter(|v| !old_n.contains(&norm(v)))
                .cloned()
                .collect();
            let removed: HashSet<String> = old
                .iter()
                .filter(|v| !new_n.contains(&norm(v)))
                .cloned()
                .collect();
            if !added.is_empty() {
                mods.push(Mod::Add(name.clone(), added));
            }
            if !removed.is_empty() {
                mods.push(Mod::Delete(name, removed));
            }
        }
    }
    mods
}
