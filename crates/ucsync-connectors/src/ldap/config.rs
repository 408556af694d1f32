//! The settings of an `ldap` connector (`[connectors.NAME.settings]`): the table as written
//! ([`LdapSettingsAsWritten`], read by [`crate::settings`]) and its validation, which reports
//! every problem with its key path.
//!
//! ```toml
//! [connectors.central.settings]
//! url = "ldaps://dc1.example.com"
//! bind_dn = "cn=sync,ou=Services,dc=example,dc=com"
//! password_env = "CENTRAL_LDAP_PASSWORD"
//! base_dn = "dc=example,dc=com"
//! [[connectors.central.settings.object_types]]
//! name = "contact"
//! base = "ou=Contacts,dc=example,dc=com"
//! object_classes = ["inetOrgPerson"]
//! attributes = ["cn", "sn", "mail", "telephoneNumber"]
//! rdn = "cn"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ucsync_model::ConfigProblem;
use ucsync_model::config::StagedReferences;

pub use crate::settings::Secret;
use crate::settings::fields_of;

/// An ldap settings table as written; its fields are the keys it may hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LdapSettingsAsWritten {
    url: Option<String>,
    starttls: bool,
    ca_file: Option<String>,
    insecure: bool,
    bind_dn: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    sasl_external: bool,
    base_dn: Option<String>,
    base_dns: Option<Vec<String>>,
    exclude_dns: Vec<String>,
    mode: Option<String>,
    anchor: Option<String>,
    page_size: Option<i64>,
    timeout_secs: Option<i64>,
    max_in_flight: Option<i64>,
    transactions: Option<bool>,
    create_parents: bool,
    references: Vec<String>,
    object_types: Vec<LdapObjectTypeAsWritten>,
}

/// Attributes as a list (staged under their LDAP names) or as a table LDAP name → staged name;
/// entries are read one by one, so that a wrong one is named by its key path.
#[derive(Debug, Clone)]
enum RawAttributes {
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for RawAttributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawAttributes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a list of LDAP attributes, e.g. attributes = [\"cn\", \"mail\"], or a table of LDAP attribute = \"staged name\"",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawAttributes, A::Error> {
                let mut list = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    list.push(a);
                }
                Ok(RawAttributes::List(list))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawAttributes, A::Error> {
                let mut names = BTreeMap::new();
                while let Some((ldap, staged)) = map.next_entry::<String, String>()? {
                    names.insert(ldap, staged);
                }
                Ok(RawAttributes::Map(names))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Default for RawAttributes {
    fn default() -> Self {
        RawAttributes::List(Vec::new())
    }
}

/// An entry of `object_types` as written; its fields are the keys it may hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LdapObjectTypeAsWritten {
    name: Option<String>,
    base: Option<String>,
    scope: Option<String>,
    filter: Option<String>,
    object_classes: Vec<String>,
    attributes: RawAttributes,
    rdn: Option<String>,
    container: Option<String>,
}

/// Which kind of server the connector talks to; it decides the default anchor and how delta
/// imports work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RFC 4533 content synchronization (refreshOnly) against a provider with syncprov.
    OpenLdap,
    /// `uSNChanged` per domain controller, tombstones through the Show Deleted control.
    ActiveDirectory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base,
    One,
    Sub,
}

impl Scope {
    pub fn ldap(self) -> ldap3::Scope {
        match self {
            Scope::Base => ldap3::Scope::Base,
            Scope::One => ldap3::Scope::OneLevel,
            Scope::Sub => ldap3::Scope::Subtree,
        }
    }
}

/// How the connector binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Anonymous,
    Simple { dn: String, password: Secret },
    SaslExternal,
}

/// One object type: where its entries live, how they are recognized, what is read.
#[derive(Debug, Clone)]
pub struct ObjectType {
    pub name: String,
    /// Its own base; empty when it has none and the connector has several `base_dns`: then
    /// it lives under every one of them.
    pub base: String,
    pub scope: Scope,
    /// The filter of this type alone (object classes and the configured filter).
    pub filter: String,
    pub object_classes: Vec<String>,
    /// LDAP attribute name → staged attribute name.
    pub attributes: Vec<(String, String)>,
    pub rdn: String,
    /// Where new entries are added.
    pub container: String,
}

impl ObjectType {
    /// The staged name of an LDAP attribute (names are case-insensitive in LDAP).
    pub fn staged_name(&self, ldap: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(ldap))
            .map(|(_, s)| s.as_str())
    }

    /// The LDAP name of a staged attribute.
    pub fn ldap_name(&self, staged: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(_, s)| s == staged)
            .map(|(l, _)| l.as_str())
    }
}

/// The validated settings of one ldap connector.
#[derive(Debug, Clone)]
pub struct LdapSettings {
    pub url: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
    pub bind: Bind,
    /// The first of `base_dns`, for messages.
    pub base_dn: String,
    /// Where searches start: `base_dn` alone, or every DN of `base_dns` (none under another).
    pub base_dns: Vec<String>,
    /// Containers below a base whose subtrees are left out of every import.
    pub exclude_dns: Vec<String>,
    pub mode: Mode,
    /// The attribute that identifies an entry for its whole life.
    pub anchor: String,
    pub page_size: i32,
    pub timeout: std::time::Duration,
    pub max_in_flight: usize,
    /// Bulk adds go in LDAP transactions (RFC 5805) when the server offers them. Off unless
    /// asked for: slapd 2.5 can crash ending a transaction (see docs/LDAP.md).
    pub transactions: bool,
    pub create_parents: bool,
    /// Staged attributes whose values are DNs of other entries (translated to and from
    /// anchors).
    pub references: Vec<String>,
    pub object_types: Vec<ObjectType>,
}

impl LdapSettings {
    /// Every LDAP attribute an import asks for.
    pub fn requested_attributes(&self) -> Vec<String> {
        let mut out = vec!["objectClass".to_owned(), self.anchor.clone()];
        for t in &self.object_types {
            for (l, _) in &t.attributes {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
                    out.push(l.clone());
                }
            }
        }
        out
    }

    /// The filter that finds the entries of every object type.
    pub fn combined_filter(&self) -> String {
        match self.object_types.as_slice() {
            [one] => one.filter.clone(),
            many => format!(
                "(|{})",
                many.iter().map(|t| t.filter.as_str()).collect::<String>()
            ),
        }
    }

    pub fn object_type(&self, name: &str) -> Option<&ObjectType> {
        self.object_types.iter().find(|t| t.name == name)
    }

    /// Whether `dn` lies in a container of `exclude_dns`.
    pub fn excluded(&self, dn: &str) -> bool {
        self.exclude_dns.iter().any(|x| dn_within(dn, x))
    }

    /// The bases an object type's entries live under.
    pub fn bases_of<'a>(&'a self, t: &'a ObjectType) -> Vec<&'a str> {
        if t.base.is_empty() {
            self.base_dns.iter().map(String::as_str).collect()
        } else {
            vec![t.base.as_str()]
        }
    }

    /// The base that holds `dn`, if any.
    pub fn base_holding(&self, dn: &str) -> Option<&str> {
        self.base_dns
            .iter()
            .find(|b| dn_within(dn, b))
            .map(String::as_str)
    }

    /// The bases and exclusions as imports compare them: `base_dn` alone as before when there
    /// is one base and nothing excluded.
    pub fn bases_text(&self) -> String {
        if self.base_dns.len() == 1 && self.exclude_dns.is_empty() {
            return self.base_dn.clone();
        }
        format!(
            "{} exclude_dns={}",
            self.base_dns.join(";"),
            self.exclude_dns.join(";")
        )
    }
}

fn check(raw: LdapSettingsAsWritten, at: &str, p: &mut Vec<ConfigProblem>) -> Option<LdapSettings> {
    let url = match raw.url {
        Some(u) if u.starts_with("ldap://") || u.starts_with("ldaps://") => u,
        Some(u) => {
            p.push(ConfigProblem::new(
                format!("{at}.url"),
                format!(
                    "\"{u}\" is not an LDAP URL; write ldap://host[:port] or ldaps://host[:port]"
                ),
            ));
            String::new()
        }
        None => {
            p.push(ConfigProblem::new(
                format!("{at}.url"),
                "missing; write e.g. url = \"ldaps://dc1.example.com\"",
            ));
            String::new()
        }
    };
    if raw.starttls && url.starts_with("ldaps://") {
        p.push(ConfigProblem::new(
            format!("{at}.starttls"),
            "StartTLS is for ldap:// URLs; an ldaps:// URL is already encrypted, remove starttls",
        ));
    }
    let bind = match (
        raw.bind_dn,
        raw.password,
        raw.password_env,
        raw.sasl_external,
    ) {
        (_, _, _, true) => Bind::SaslExternal,
        (Some(dn), Some(pw), None, false) => Bind::Simple {
            dn,
            password: Secret::Literal(pw),
        },
        (Some(dn), None, Some(env), false) => Bind::Simple {
            dn,
            password: Secret::Env(env),
        },
        (Some(_), Some(_), Some(_), false) => {
            p.push(ConfigProblem::new(
                format!("{at}.password"),
                "give either password or password_env, not both",
            ));
            Bind::Anonymous
        }
        (Some(_), None, None, false) => {
            p.push(ConfigProblem::new(
                format!("{at}.password_env"),
                "bind_dn needs a password: set password_env = \"VARIABLE\" (or password)",
            ));
            Bind::Anonymous
        }
        (None, Some(_), _, false) | (None, _, Some(_), false) => {
            p.push(ConfigProblem::new(
                format!("{at}.bind_dn"),
                "a password is given without bind_dn; add the DN to bind as",
            ));
            Bind::Anonymous
        }
        (None, None, None, false) => Bind::Anonymous,
    };
    let mode = match raw.mode.as_deref() {
        None | Some("openldap") => Mode::OpenLdap,
        Some("active-directory") => Mode::ActiveDirectory,
        Some(m) => {
            p.push(ConfigProblem::new(
                format!("{at}.mode"),
                format!("unknown mode \"{m}\"; allowed: \"openldap\", \"active-directory\""),
            ));
            Mode::OpenLdap
        }
    };
    let anchor = raw.anchor.unwrap_or_else(|| {
        match mode {
            Mode::OpenLdap => "entryUUID",
            Mode::ActiveDirectory => "objectGUID",
        }
        .to_owned()
    });
    let (base_dns, exclude_dns) = check_bases(raw.base_dn, raw.base_dns, raw.exclude_dns, at, p);
    let base_dn = base_dns.first().cloned().unwrap_or_default();
    let page_size = positive(raw.page_size, 500, 1_000_000, &format!("{at}.page_size"), p);
    let timeout = positive(
        raw.timeout_secs,
        60,
        86_400,
        &format!("{at}.timeout_secs"),
        p,
    );
    let max_in_flight = positive(
        raw.max_in_flight,
        64,
        4_096,
        &format!("{at}.max_in_flight"),
        p,
    );
    if raw.object_types.is_empty() {
        p.push(ConfigProblem::new(
            format!("{at}.object_types"),
            "no object type; add [[connectors.NAME.settings.object_types]] with name, object_classes and attributes",
        ));
    }
    let mut object_types = Vec::new();
    for (i, t) in raw.object_types.into_iter().enumerate() {
        if let Some(t) = check_type(t, &base_dns, &format!("{at}.object_types.{i}"), p) {
            if object_types.iter().any(|o: &ObjectType| o.name == t.name) {
                p.push(ConfigProblem::new(
                    format!("{at}.object_types.{i}.name"),
                    format!("the object type \"{}\" is defined twice", t.name),
                ));
            }
            object_types.push(t);
        }
    }
    Some(LdapSettings {
        url,
        starttls: raw.starttls,
        ca_file: raw.ca_file.map(PathBuf::from),
        insecure: raw.insecure,
        bind,
        base_dn,
        base_dns,
        exclude_dns,
        mode,
        anchor,
        page_size: page_size as i32,
        timeout: std::time::Duration::from_secs(timeout as u64),
        max_in_flight: max_in_flight as usize,
        transactions: raw.transactions.unwrap_or(false),
        create_parents: raw.create_parents,
        references: raw.references,
        object_types,
    })
}

fn positive(v: Option<i64>, default: i64, max: i64, at: &str, p: &mut Vec<ConfigProblem>) -> i64 {
    match v {
        None => default,
        Some(n) if (1..=max).contains(&n) => n,
        Some(n) => {
            p.push(ConfigProblem::new(
                at,
                format!("{n} is out of range; use a number from 1 to {max} (default {default})"),
            ));
            default
        }
    }
}

/// `base_dn` or `base_dns` (one of them), and `exclude_dns`, each a DN; no base under another,
/// every exclusion under a base.
fn check_bases(
    base_dn: Option<String>,
    base_dns: Option<Vec<String>>,
    exclude_dns: Vec<String>,
    at: &str,
    p: &mut Vec<ConfigProblem>,
) -> (Vec<String>, Vec<String>) {
    let (bases, key) = match (base_dn, base_dns) {
        (Some(_), Some(_)) => {
            p.push(ConfigProblem::new(
                format!("{at}.base_dns"),
                "both base_dn and base_dns are given; keep base_dn for one base, or list every base in base_dns and remove base_dn",
            ));
            return (Vec::new(), Vec::new());
        }
        (None, None) => {
            p.push(ConfigProblem::new(
                format!("{at}.base_dn"),
                "missing; write the DN under which every object type lives, e.g. base_dn = \"dc=example,dc=com\" (or several in base_dns = [\"…\", \"…\"])",
            ));
            return (Vec::new(), Vec::new());
        }
        (Some(one), None) => (vec![one], "base_dn".to_owned()),
        (None, Some(list)) if list.is_empty() => {
            p.push(ConfigProblem::new(
                format!("{at}.base_dns"),
                "empty; list at least one DN, e.g. base_dns = [\"ou=Staff,dc=example,dc=com\"]",
            ));
            return (Vec::new(), Vec::new());
        }
        (None, Some(list)) => (list, "base_dns".to_owned()),
    };
    let key_of = |i: usize| {
        if key == "base_dn" {
            format!("{at}.base_dn")
        } else {
            format!("{at}.base_dns.{i}")
        }
    };
    let mut valid = true;
    for (i, b) in bases.iter().enumerate() {
        if let Err(why) = crate::ldap::dn::check(b) {
            valid = false;
            p.push(ConfigProblem::new(
                key_of(i),
                format!("\"{b}\" is not a DN ({why}); write e.g. \"dc=example,dc=com\""),
            ));
        }
    }
    if valid {
        for (i, b) in bases.iter().enumerate() {
            if let Some(j) = bases
                .iter()
                .enumerate()
                .position(|(j, o)| j != i && dn_within(b, o) && (!dn_within(o, b) || j < i))
            {
                p.push(ConfigProblem::new(
                    key_of(i),
                    format!(
                        "\"{b}\" is within base_dns.{j} \"{}\", which is searched already; remove one of them",
                        bases[j]
                    ),
                ));
            }
        }
    }
    for (i, x) in exclude_dns.iter().enumerate() {
        let at_x = format!("{at}.exclude_dns.{i}");
        if let Err(why) = crate::ldap::dn::check(x) {
            p.push(ConfigProblem::new(
                at_x,
                format!("\"{x}\" is not a DN ({why}); write the container to leave out, e.g. \"ou=Disabled,dc=example,dc=com\""),
            ));
        } else if valid && !bases.iter().any(|b| dn_within(x, b) && !dn_within(b, x)) {
            p.push(ConfigProblem::new(
                at_x,
                format!(
                    "\"{x}\" is not below {key} ({}), so it excludes nothing; name a container under a base",
                    bases.join("; ")
                ),
            ));
        }
    }
    (bases, exclude_dns)
}

fn check_type(
    raw: LdapObjectTypeAsWritten,
    base_dns: &[String],
    at: &str,
    p: &mut Vec<ConfigProblem>,
) -> Option<ObjectType> {
    let base_dn = base_dns.first().map(String::as_str).unwrap_or_default();
    let Some(name) = raw.name.filter(|n| !n.is_empty()) else {
        p.push(ConfigProblem::new(
            format!("{at}.name"),
            "missing; name the object type as the rules use it, e.g. name = \"person\"",
        ));
        return None;
    };
    let base_given = raw.base.is_some();
    // Without a base of its own, a type lives under every base: named as the one base, or
    // left empty for several.
    let base = raw.base.unwrap_or_else(|| match base_dns {
        [one] => one.clone(),
        _ => String::new(),
    });
    if let (true, Err(why)) = (base_given, crate::ldap::dn::check(&base)) {
        p.push(ConfigProblem::new(
            format!("{at}.base"),
            format!("\"{base}\" is not a DN ({why}); write e.g. \"ou=People,{base_dn}\""),
        ));
    } else if base_given && !base_dns.is_empty() && !base_dns.iter().any(|b| dn_within(&base, b)) {
        let key = if base_dns.len() == 1 {
            "base_dn"
        } else {
            "base_dns"
        };
        p.push(ConfigProblem::new(
            format!("{at}.base"),
            format!(
                "\"{base}\" is not under {key} \"{}\"",
                base_dns.join("\", \"")
            ),
        ));
    }
    let scope = match raw.scope.as_deref() {
        None | Some("sub") => Scope::Sub,
        Some("one") => Scope::One,
        Some("base") => Scope::Base,
        Some(s) => {
            p.push(ConfigProblem::new(
                format!("{at}.scope"),
                format!("unknown scope \"{s}\"; allowed: \"sub\", \"one\", \"base\""),
            ));
            Scope::Sub
        }
    };
    if raw.object_classes.is_empty() {
        p.push(ConfigProblem::new(
            format!("{at}.object_classes"),
            "missing; list the object classes of this type, e.g. object_classes = [\"inetOrgPerson\"]",
        ));
    }
    let mut parts: Vec<String> = raw
        .object_classes
        .iter()
        .map(|c| format!("(objectClass={})", ldap3::ldap_escape(c)))
        .collect();
    if let Some(f) = &raw.filter {
        let f = f.trim();
        let wrapped = if f.starts_with('(') {
            f.to_owned()
        } else {
            format!("({f})")
        };
        if ldap3::parse_filter(&wrapped).is_err() {
            p.push(ConfigProblem::new(
                format!("{at}.filter"),
                format!(
                    "\"{f}\" is not an LDAP filter (RFC 4515); write e.g. \"(department=Sales)\""
                ),
            ));
        }
        parts.push(wrapped);
    }
    let filter = match parts.len() {
        0 => "(objectClass=*)".to_owned(),
        1 => parts.remove(0),
        _ => format!("(&{})", parts.concat()),
    };
    let attributes: Vec<(String, String)> = match raw.attributes {
        RawAttributes::List(l) => l.into_iter().map(|a| (a.clone(), a)).collect(),
        RawAttributes::Map(m) => m.into_iter().collect(),
    };
    if attributes.is_empty() {
        p.push(ConfigProblem::new(
            format!("{at}.attributes"),
            "missing; list the LDAP attributes to read and write, e.g. attributes = [\"cn\", \"mail\"]",
        ));
    }
    for (l, s) in &attributes {
        if s == "dn" || s.eq_ignore_ascii_case("objectClass") || l.eq_ignore_ascii_case("dn") {
            p.push(ConfigProblem::new(
                format!("{at}.attributes"),
                format!("\"{l}\" is always read (as dn and objectClass); remove it from the list"),
            ));
        }
    }
    let rdn = raw.rdn.unwrap_or_else(|| "cn".to_owned());
    let container_given = raw.container.is_some();
    let container = raw.container.unwrap_or_else(|| {
        if base.is_empty() {
            base_dn.to_owned()
        } else {
            base.clone()
        }
    });
    if let (true, Err(why)) = (container_given, crate::ldap::dn::check(&container)) {
        p.push(ConfigProblem::new(
            format!("{at}.container"),
            format!("\"{container}\" is not a DN ({why})"),
        ));
    }
    Some(ObjectType {
        name,
        base,
        scope,
        filter,
        object_classes: raw.object_classes,
        attributes,
        rdn,
        container,
    })
}

/// Whether a string looks like a DN: `attr=value` parts separated by commas.
pub fn is_dn(s: &str) -> bool {
    crate::ldap::dn::parse(s).is_some_and(|rdns| !rdns.is_empty())
}

/// Whether `dn` is `base` or below it (compared as normalized DNs).
pub fn dn_within(dn: &str, base: &str) -> bool {
    match (crate::ldap::dn::parse(dn), crate::ldap::dn::parse(base)) {
        (Some(d), Some(b)) => d.len() >= b.len() && d[d.len() - b.len()..] == b[..],
        _ => false,
    }
}

impl crate::settings::KindSettings for LdapSettings {
    type Raw = LdapSettingsAsWritten;

    fn allowed_keys(table: &[&str]) -> Option<&'static [&'static str]> {
        match table {
            [] => Some(fields_of::<LdapSettingsAsWritten>()),
            ["object_types", _] => Some(fields_of::<LdapObjectTypeAsWritten>()),
            _ => None,
        }
    }

    fn validate(raw: LdapSettingsAsWritten, at: &str) -> Result<Self, Vec<ConfigProblem>> {
        let mut p = Vec::new();
        match check(raw, at, &mut p) {
            Some(s) if p.is_empty() => Ok(s),
            _ => Err(p),
        }
    }

    /// Makes a relative CA file path absolute from `base_dir`.
    fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(ca) = &mut self.ca_file
            && ca.is_relative()
        {
            *ca = base_dir.join(&*ca);
        }
    }
}

/// LDAP attributes of DN syntax (RFC 4519, RFC 4524, Active Directory) that name other entries:
/// imported as they are, they carry the source's DNs.
const DN_VALUED: [&str; 12] = [
    "member",
    "uniqueMember",
    "owner",
    "manager",
    "secretary",
    "seeAlso",
    "roleOccupant",
    "memberOf",
    "managedBy",
    "directReports",
    "assistant",
    "hasMember",
];

/// The `references` setting of an ldap connector, and the attributes its object types read
/// that hold DNs by their syntax but are not listed there.
pub fn staged_references(table: &toml::Table) -> StagedReferences {
    let declared: Vec<String> = match table.get("references") {
        Some(toml::Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let mut undeclared = Vec::new();
    if let Ok(s) = crate::settings::read::<LdapSettings>(table, "settings") {
        for t in &s.object_types {
            for (ldap, staged) in &t.attributes {
                if DN_VALUED.iter().any(|d| d.eq_ignore_ascii_case(ldap))
                    && !declared.contains(staged)
                    && !undeclared.contains(staged)
                {
                    undeclared.push(staged.clone());
                }
            }
        }
    }
    StagedReferences {
        key: "references",
        declared,
        undeclared,
    }
}
