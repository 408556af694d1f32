//! What `ucsync check` sees of an ldap connector: the staged attributes its object types give
//! (from the settings), and, when the server can be reached, whether the server's schema knows
//! every LDAP attribute the settings name. A server that cannot be reached is a warning: the
//! configuration may well be right and the server down for now.

use std::collections::BTreeSet;

use ldap3::{Ldap, Scope};
use ucsync_model::SourceView;

use super::config::LdapSettings;
use super::{conn, entry};

pub(super) async fn inspect(name: &str, s: &LdapSettings) -> SourceView {
    let mut attributes: BTreeSet<String> = ["dn", "objectClass"].map(str::to_owned).into();
    for t in &s.object_types {
        attributes.extend(t.attributes.iter().map(|(_, staged)| staged.clone()));
    }
    let mut view = SourceView {
        attributes: Some(attributes),
        from: "the attributes its object types read".to_owned(),
        ..SourceView::default()
    };
    let schema = match conn::connect(name, s).await {
        Ok(mut ldap) => {
            view.warnings.extend(missing_bases(s, &mut ldap).await);
            let known = schema_names(s, &mut ldap).await;
            let _ = ldap.unbind().await;
            known
        }
        Err(e) => Err(e.to_string()),
    };
    let known = match schema {
        Ok(known) => known,
        Err(why) => {
            view.warnings.push(format!(
                "{why}; the attributes were not checked against the server's schema (check runs again once the server answers)"
            ));
            return view;
        }
    };
    let mut unknown = |ldap_name: &str, what: String| {
        if !known.contains(&ldap_name.to_ascii_lowercase()) {
            view.warnings.push(format!(
                "{what}: attribute \"{ldap_name}\" is not in the schema of {}, so the server never gives it; fix the name in the connector settings",
                s.url
            ));
        }
    };
    unknown(&s.anchor, "anchor".to_owned());
    for t in &s.object_types {
        for (ldap_name, staged) in &t.attributes {
            unknown(
                ldap_name,
                format!("object type {} (staged as {staged})", t.name),
            );
        }
    }
    view
}

/// A warning for each base DN the server does not show: missing, or hidden from the bind DN.
async fn missing_bases(s: &LdapSettings, ldap: &mut Ldap) -> Vec<String> {
    let mut out = Vec::new();
    for (i, base) in s.base_dns.iter().enumerate() {
        let key = if s.base_dns.len() == 1 {
            "base_dn".to_owned()
        } else {
            format!("base_dns.{i}")
        };
        let found = ldap
            .with_timeout(s.timeout)
            .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await;
        match found {
            Ok(r) if r.1.rc == 0 && !r.0.is_empty() => {}
            Ok(r) if r.1.rc == 0 || r.1.rc == 32 => out.push(format!(
                "{key} \"{base}\" does not exist on {} (or the bind DN may not see it), so imports there read nothing; fix the DN in the connector settings",
                s.url
            )),
            Ok(r) => out.push(format!(
                "{key} \"{base}\" cannot be read on {}: {}",
                s.url,
                conn::describe(&r.1, r.1.rc)
            )),
            Err(e) => out.push(format!("{key} \"{base}\" cannot be read on {}: {e}", s.url)),
        }
    }
    out
}

/// Every attribute type name (lowercase) of the server's schema, read from the subschema
/// subentry its root DSE names.
async fn schema_names(s: &LdapSettings, ldap: &mut Ldap) -> Result<BTreeSet<String>, String> {
    let read = |what: &str, e: &dyn std::fmt::Display| format!("reading {what} of {}: {e}", s.url);
    let (root, _) = ldap
        .with_timeout(s.timeout)
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["subschemaSubentry"],
        )
        .await
        .and_then(|r| r.success())
        .map_err(|e| read("the root DSE", &e))?;
    let subentry = root
        .into_iter()
        .filter_map(|re| entry::parse(re.0))
        .find_map(|e| {
            e.get("subschemaSubentry")
                .and_then(|v| v.first())
                .and_then(|v| String::from_utf8(v.clone()).ok())
        })
        .ok_or_else(|| format!("{} names no subschemaSubentry in its root DSE", s.url))?;
    let (found, _) = ldap
        .with_timeout(s.timeout)
        .search(
            &subentry,
            Scope::Base,
            "(objectClass=subschema)",
            vec!["attributeTypes"],
        )
        .await
        .and_then(|r| r.success())
        .map_err(|e| read(&subentry, &e))?;
    let mut names = BTreeSet::new();
    for e in found.into_iter().filter_map(|re| entry::parse(re.0)) {
        for v in e.get("attributeTypes").unwrap_or(&[]) {
            names.extend(type_names(&String::from_utf8_lossy(v)));
        }
    }
    if names.is_empty() {
        return Err(format!(
            "{subentry} lists no attributeTypes (the bind DN may not read the schema)"
        ));
    }
    Ok(names)
}

/// The names of one attribute type description (RFC 4512): `NAME 'cn'` or
/// `NAME ( 'cn' 'commonName' )`, lowercase.
fn type_names(description: &str) -> Vec<String> {
    let Some(at) = description.find(" NAME ") else {
        return Vec::new();
    };
    let rest = description[at + 6..].trim_start();
    let list = if let Some(inner) = rest.strip_prefix('(') {
        inner.split(')').next().unwrap_or_default()
    } else {
        rest.split_whitespace().next().unwrap_or_default()
    };
    list.split_whitespace()
        .map(|n| n.trim_matches('\'').to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_of_an_attribute_type() {
        assert_eq!(
            super::type_names("( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'x' SUP name )"),
            ["cn", "commonname"]
        );
        assert_eq!(
            super::type_names("( 0.9.2342.19200300.100.1.3 NAME 'mail' EQUALITY x )"),
            ["mail"]
        );
    }
}
