//! Export: adds, minimal modifies, deletes and renames (modrdn), many operations in flight on
//! one connection. Reference values (anchors of other entries) become DNs; a missing parent is
//! an error, or is created when `create_parents` is on.

use std::collections::{BTreeSet, HashSet};

use futures_util::StreamExt;
use ldap3::{Ldap, Mod};
use ucsync_model::{Attrs, ConnectorError, ExportChange, ExportOp, ExportResult};

use super::config::{LdapSettings, ObjectType, is_dn};
use super::conn::describe;
use super::{LdapConnector, dn};

pub async fn export(
    c: &LdapConnector,
    changes: &[ExportChange],
) -> Result<Vec<ExportResult>, ConnectorError> {
    let ldap = c.connect().await?;
    let ops: Vec<_> = changes
        .iter()
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
    let results = futures_util::stream::iter(ops)
        .buffered(c.settings.max_in_flight)
        .collect::<Vec<_>>()
        .await;
    let mut ldap = ldap;
    let _ = ldap.unbind().await;
    Ok(results)
}

async fn one(
    c: &LdapConnector,
    ldap: &mut Ldap,
    ch: &ExportChange,
) -> Result<ExportResult, String> {
    let s = &c.settings;
    let t = s.object_type(&ch.object_type).ok_or_else(|| {
        format!(
            "no object type \"{}\" in this connector's settings",
            ch.object_type
        )
    })?;
    match ch.op {
        ExportOp::Add => add(c, ldap, t, &ch.attrs).await,
        ExportOp::Update => update(c, ldap, t, ch).await,
        ExportOp::Delete => {
            let target = current_dn(c, ldap, ch).await?;
            let Some(target) = target else {
                return Ok(ExportResult::Done);
            };
            let r = ldap.delete(&target).await.map_err(|e| e.to_string())?;
            match r.rc {
                0 | 32 => {
                    c.cache.forget(&target, &ch.anchor);
                    Ok(ExportResult::Done)
                }
                rc => Err(format!("delete {target}: {}", describe(&r, rc))),
            }
        }
    }
}

/// The DN a new entry gets: the `dn` an export flow computed, or `rdn=value,container`.
pub fn new_dn(t: &ObjectType, attrs: &Attrs) -> Result<String, String> {
    if let Some(d) = attrs.get("dn").first() {
        return if is_dn(d) {
            Ok(d.clone())
        } else {
            Err(format!(
                "the dn \"{d}\" computed by the export flows is not a DN"
            ))
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

/// The LDAP attributes and values of a staged state, references as DNs.
async fn ldap_values(
    c: &LdapConnector,
    ldap: &mut Ldap,
    t: &ObjectType,
    attrs: &Attrs,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for (staged, values) in attrs.iter() {
        let Some(name) = t.ldap_name(staged) else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        let values = if c.settings.references.iter().any(|r| r == staged) {
            let mut dns = Vec::with_capacity(values.len());
            for v in values {
                dns.push(reference_dn(c, ldap, v).await?);
            }
            dns
        } else {
            values.to_vec()
        };
        out.push((name.to_owned(), values));
    }
    Ok(out)
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

async fn add(
    c: &LdapConnector,
    ldap: &mut Ldap,
    t: &ObjectType,
    attrs: &Attrs,
) -> Result<ExportResult, String> {
    let s = &c.settings;
    let target = new_dn(t, attrs)?;
    let mut entry: Vec<(String, HashSet<String>)> = vec![(
        "objectClass".to_owned(),
        match attrs.get("objectClass") {
            [] => t.object_classes.iter().cloned().collect(),
            v => v.iter().cloned().collect(),
        },
    )];
    for (name, values) in ldap_values(c, ldap, t, attrs).await? {
        entry.push((name, values.into_iter().collect()));
    }
    let mut r = ldap
        .add(&target, entry.clone())
        .await
        .map_err(|e| e.to_string())?;
    if r.rc == 32 && s.create_parents {
        create_parents(ldap, s, dn::split_first(&target).1).await?;
        r = ldap.add(&target, entry).await.map_err(|e| e.to_string())?;
    }
    match r.rc {
        0 => {}
        32 => {
            return Err(format!(
                "add {target}: the parent {} does not exist; create it, or set create_parents = true",
                dn::split_first(&target).1
            ));
        }
        rc => return Err(format!("add {target}: {}", describe(&r, rc))),
    }
    match c.anchor_at(ldap, &target).await? {
        Some(anchor) => Ok(ExportResult::DoneWithAnchor(anchor)),
        None => Err(format!(
            "{target} was added but cannot be read back; check that the bind DN may read {}",
            s.anchor
        )),
    }
}

/// Creates the organizational units from the first existing ancestor down to `parent`.
async fn create_parents(ldap: &mut Ldap, s: &LdapSettings, parent: &str) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut at = parent.to_owned();
    while dn::parse(&at).is_some_and(|p| p.len() > dn::parse(&s.base_dn).map_or(0, |b| b.len())) {
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
        let r = ldap.add(&d, entry).await.map_err(|e| e.to_string())?;
        if r.rc != 0 && r.rc != 68 {
            return Err(format!("creating the parent {d}: {}", describe(&r, r.rc)));
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
    let Some(mut target) = current_dn(c, ldap, ch).await? else {
        return Err(format!(
            "no entry with {} {} exists any more; the next import removes it",
            c.settings.anchor, ch.anchor
        ));
    };
    // A rename when the DN the flows give differs from where the entry is.
    let wanted = renamed_dn(t, &target, &ch.attrs, ch.old.as_ref());
    if let Some(wanted) = wanted
        && !dn::same(&wanted, &target)
    {
        let (rdn, parent) = dn::split_first(&wanted);
        let old_parent = dn::split_first(&target).1;
        let superior = (!dn::same(parent, old_parent)).then_some(parent);
        let r = ldap
            .modifydn(&target, rdn, true, superior)
            .await
            .map_err(|e| e.to_string())?;
        if r.rc != 0 {
            return Err(format!(
                "rename {target} to {wanted}: {}",
                describe(&r, r.rc)
            ));
        }
        c.cache.forget(&target, &ch.anchor);
        c.cache.learn(&wanted, &ch.anchor);
        target = wanted;
    }
    let old = ch.old.clone().unwrap_or_default();
    let mut before = ldap_values(c, ldap, t, &old).await.unwrap_or_default();
    let mut after = ldap_values(c, ldap, t, &ch.attrs).await?;
    // The RDN's attribute is set by the rename; Active Directory refuses to modify it.
    if let Some(name) = rdn_already_set(&target, &after) {
        before.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        after.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
    }
    let mods = diff(&before, &after, &c.settings.references, t);
    if !mods.is_empty() {
        let r = ldap
            .modify(&target, mods)
            .await
            .map_err(|e| e.to_string())?;
        if r.rc != 0 {
            return Err(format!("modify {target}: {}", describe(&r, r.rc)));
        }
    }
    Ok(ExportResult::Done)
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
    let value = attrs.get(staged).first()?;
    let (rdn, parent) = dn::split_first(current);
    let (attr, _) = rdn.split_once('=')?;
    if !attr.trim().eq_ignore_ascii_case(&t.rdn) {
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
