//! Referrals and search continuation references met while importing. They are never followed.
//!
//! Active Directory answers a search from its domain root with references to its own other
//! partitions (the forest's Configuration and Schema naming contexts, and the DomainDnsZones
//! and ForestDnsZones application partitions). Those hold no object of the domain, so nothing
//! is missing: they are left out silently. So is a reference into a container of
//! `exclude_dns`. Any other reference is a gap in the listing, reported with the server and
//! the DN it points to.

use ldap3::{Ldap, Scope};

use super::config::{LdapSettings, dn_within};
use super::{dn, entry};

/// What the root DSE says of the server's partitions: the naming contexts a reference may
/// point into without anything being missing.
#[derive(Debug, Default, Clone)]
pub(super) struct Partitions {
    /// `configurationNamingContext` and `schemaNamingContext`.
    forest: Vec<String>,
    /// The domain naming contexts (`defaultNamingContext`, `rootDomainNamingContext`): their
    /// `DC=DomainDnsZones` and `DC=ForestDnsZones` children are DNS partitions.
    domains: Vec<String>,
}

impl Partitions {
    /// Reads the root DSE; a server that does not answer (or is no AD) has no own partitions.
    pub async fn read(s: &LdapSettings, ldap: &mut Ldap) -> Partitions {
        let found = ldap
            .with_timeout(s.timeout)
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                vec![
                    "configurationNamingContext",
                    "schemaNamingContext",
                    "defaultNamingContext",
                    "rootDomainNamingContext",
                ],
            )
            .await;
        let Ok(ldap3::SearchResult(entries, _)) = found else {
            return Partitions::default();
        };
        let Some(root) = entries.into_iter().find_map(|re| entry::parse(re.0)) else {
            return Partitions::default();
        };
        let text = |name: &str| -> Vec<String> {
            root.get(name)
                .unwrap_or(&[])
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        };
        Partitions {
            forest: [
                text("configurationNamingContext"),
                text("schemaNamingContext"),
            ]
            .concat(),
            domains: [
                text("defaultNamingContext"),
                text("rootDomainNamingContext"),
            ]
            .concat(),
        }
    }

    /// Whether `target` (a reference's DN) is one of the server's own partitions that holds no
    /// object of the domain.
    pub fn own(&self, target: &str) -> bool {
        if self.forest.iter().any(|nc| dn_within(target, nc)) {
            return true;
        }
        let Some(parts) = dn::parse(target) else {
            return false;
        };
        let Some((first, parent)) = parts.split_first() else {
            return false;
        };
        let dns_zone = first.len() == 1
            && first[0].0 == "dc"
            && (first[0].1 == "domaindnszones" || first[0].1 == "forestdnszones");
        dns_zone
            && self
                .domains
                .iter()
                .any(|d| dn::parse(d).is_some_and(|p| p[..] == parent[..]))
    }
}

/// The server (`host[:port]`, empty when the URL names none) and the DN of a referral URL
/// (`ldap://host/DN??scope`), the DN percent-decoded.
pub(super) fn target(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("ldap://")
        .or_else(|| url.strip_prefix("ldaps://"))
        .unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let dn = path.split('?').next().unwrap_or_default();
    (host.to_owned(), percent_decode(dn))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The references among `urls` that leave entries of the connector's view unread: not to the
/// server's own other partitions, not into an excluded container.
pub(super) fn foreign<'u>(
    s: &LdapSettings,
    partitions: &Partitions,
    urls: &'u [String],
) -> Vec<&'u String> {
    urls.iter()
        .filter(|u| {
            let (_, dn) = target(u);
            dn.is_empty() || !(partitions.own(&dn) || s.excluded(&dn))
        })
        .collect()
}

/// The gap one foreign reference leaves, naming its server and DN and what to do.
pub(super) fn gap_message(s: &LdapSettings, base: &str, url: &str) -> String {
    let (host, dn) = target(url);
    let server = if host.is_empty() {
        "the same server".to_owned()
    } else {
        host.clone()
    };
    let what = if dn.is_empty() {
        format!("a referral to {url}")
    } else {
        format!("a referral to {url} (DN {dn} on {server})")
    };
    let add = match (host.is_empty(), dn.is_empty()) {
        (false, false) => format!(
            "to read them, add a connector with url = \"ldap://{host}\" and base_dn = \"{dn}\""
        ),
        (_, false) => format!("to read them, add a connector with base_dn = \"{dn}\""),
        _ => "to read them, add a connector for the server the referral names".to_owned(),
    };
    let leave = if !dn.is_empty() && s.base_holding(&dn).is_some() {
        format!("; to leave them out, add \"{dn}\" to exclude_dns")
    } else {
        "; to leave them out, narrow base_dn / base_dns".to_owned()
    };
    format!(
        "{}: the search below {base} returned {what}, which ucsync does not follow, so the entries there were not read; {add}{leave}",
        s.url
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad() -> Partitions {
        Partitions {
            forest: vec![
                "CN=Configuration,DC=example,DC=test".to_owned(),
                "CN=Schema,CN=Configuration,DC=example,DC=test".to_owned(),
            ],
            domains: vec!["DC=example,DC=test".to_owned()],
        }
    }

    #[test]
    fn references_to_the_forests_own_partitions_are_recognized() {
        let p = ad();
        assert!(p.own("CN=Configuration,DC=example,DC=test"));
        assert!(p.own("cn=schema,cn=configuration,dc=EXAMPLE,dc=test"));
        assert!(p.own("DC=DomainDnsZones,DC=example,DC=test"));
        assert!(p.own("DC=ForestDnsZones,DC=example,DC=test"));
        assert!(!p.own("DC=child,DC=example,DC=test"));
        assert!(!p.own("DC=DomainDnsZones,DC=other,DC=test"));
        assert!(!p.own("OU=Staff,DC=example,DC=test"));
        assert!(!Partitions::default().own("CN=Configuration,DC=example,DC=test"));
    }

    #[test]
    fn a_referral_url_gives_its_server_and_dn() {
        assert_eq!(
            target("ldap://example.test/CN=Configuration,DC=example,DC=test"),
            (
                "example.test".to_owned(),
                "CN=Configuration,DC=example,DC=test".to_owned()
            )
        );
        assert_eq!(
            target("ldap://dc2.child.test:389/OU=A%20B,DC=child,DC=test??sub"),
            (
                "dc2.child.test:389".to_owned(),
                "OU=A B,DC=child,DC=test".to_owned()
            )
        );
    }
}
