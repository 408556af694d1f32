//! Deterministic bulk LDIF: inetOrgPerson people and groupOfNames groups, for tests and
//! benchmarks (the Rust counterpart of the reference `gen_ldif.py`).

use std::fmt::Write as _;
use std::io::{self, Write};

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Anna",
    "Lukas",
    "Sofia",
    "Mateo",
    "Yuki",
    "Wei",
    "Aisha",
    "Omar",
    "Ingrid",
    "Pierre",
    "Chloe",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Ava",
    "Ethan",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Muller",
    "Schmidt",
    "Nakamura",
    "Chen",
    "Kowalski",
    "Dubois",
];
const DEPTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "HR",
    "Legal",
    "Support",
    "Operations",
    "Research",
    "IT",
    "Facilities",
    "Product",
];

/// People and groups below one parent entry, generated deterministically from a seed.
///
/// Layout: `ou=people,PARENT` and `ou=groups,PARENT` (written first unless `ous` is false),
/// then people `uid=userNNNNNN,ou=people,PARENT` (inetOrgPerson: uid, cn, sn, givenName, mail
/// `userNNNNNN@example.com`, telephoneNumber, departmentNumber, ou, employeeNumber), then
/// groups `cn=groupNNNN,ou=groups,PARENT` (groupOfNames with `members_per_group` distinct
/// people, or the parent DN when there are none, since groupOfNames requires a member). Parents
/// come before children, so the text can go to `ldapadd` or `slapadd` as it is.
#[derive(Clone, Debug)]
pub struct UsersLdif {
    /// The entry the two OUs go under, e.g. the suffix `dc=example,dc=com`.
    pub parent_dn: String,
    /// How many people.
    pub people: usize,
    /// How many groups.
    pub groups: usize,
    /// Members of each group (at most `people`).
    pub members_per_group: usize,
    /// Seed of the names, phone numbers and memberships.
    pub seed: u64,
    /// Whether to write the `ou=people` and `ou=groups` entries.
    pub ous: bool,
}

impl UsersLdif {
    /// `people` people below `parent_dn`, no groups, seed 42, OUs included.
    #[must_use]
    pub fn new(parent_dn: impl Into<String>, people: usize) -> Self {
        UsersLdif {
            parent_dn: parent_dn.into(),
            people,
            groups: 0,
            members_per_group: 0,
            seed: 42,
            ous: true,
        }
    }

    /// The same with `groups` groups of `members_per_group` members each.
    #[must_use]
    pub fn with_groups(mut self, groups: usize, members_per_group: usize) -> Self {
        self.groups = groups;
        self.members_per_group = members_per_group;
        self
    }

    /// `ou=people,PARENT`.
    #[must_use]
    pub fn people_dn(&self) -> String {
        format!("ou=people,{}", self.parent_dn)
    }

    /// `ou=groups,PARENT`.
    #[must_use]
    pub fn groups_dn(&self) -> String {
        format!("ou=groups,{}", self.parent_dn)
    }

    /// The uid of person `i` (1-based): `user000001`.
    #[must_use]
    pub fn uid(&self, i: usize) -> String {
        format!("user{i:0width$}", width = self.uid_width())
    }

    /// The DN of person `i` (1-based).
    #[must_use]
    pub fn user_dn(&self, i: usize) -> String {
        format!("uid={},{}", self.uid(i), self.people_dn())
    }

    /// The DN of group `g` (1-based).
    #[must_use]
    pub fn group_dn(&self, g: usize) -> String {
        format!("cn={},{}", self.group_cn(g), self.groups_dn())
    }

    /// How many entries the LDIF holds.
    #[must_use]
    pub fn entry_count(&self) -> usize {
        self.people + self.groups + if self.ous { 2 } else { 0 }
    }

    fn uid_width(&self) -> usize {
        6.max(self.people.to_string().len())
    }

    fn group_cn(&self, g: usize) -> String {
        format!(
            "group{g:0width$}",
            width = 4.max(self.groups.to_string().len())
        )
    }

    /// Writes the LDIF to `out` (use a `BufWriter` for a file).
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut rng = SplitMix64(self.seed);
        let people_dn = self.people_dn();
        let groups_dn = self.groups_dn();
        let mut buf = String::with_capacity(512);
        if self.ous {
            write!(
                out,
                "dn: {people_dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n\
                 dn: {groups_dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: groups\n\n"
            )?;
        }
        for i in 1..=self.people {
            let uid = self.uid(i);
            let given = FIRST[rng.below(FIRST.len())];
            let sn = LAST[rng.below(LAST.len())];
            let dept = rng.below(DEPTS.len());
            let phone = format!("+1 555 {:03} {:04}", rng.below(1000), rng.below(10000));
            buf.clear();
            let _ = write!(
                buf,
                "dn: uid={uid},{people_dn}\nobjectClass: top\nobjectClass: person\n\
                 objectClass: organizationalPerson\nobjectClass: inetOrgPerson\n\
                 uid: {uid}\ncn: {given} {sn} {i}\nsn: {sn}\ngivenName: {given}\n\
                 mail: {uid}@example.com\ntelephoneNumber: {phone}\n\
                 departmentNumber: {:03}\nou: {}\nemployeeNumber: {}\n\n",
                dept + 1,
                DEPTS[dept],
                100_000 + i,
            );
            out.write_all(buf.as_bytes())?;
        }
        let members = self.members_per_group.min(self.people);
        for g in 1..=self.groups {
            buf.clear();
            let _ = write!(
                buf,
                "dn: {}\nobjectClass: top\nobjectClass: groupOfNames\ncn: {}\n\
                 description: generated group {g}\n",
                self.group_dn(g),
                self.group_cn(g),
            );
            if members == 0 {
                let _ = writeln!(buf, "member: {}", self.parent_dn);
            }
            for i in rng.sample(self.people, members) {
                let _ = writeln!(buf, "member: {}", self.user_dn(i));
            }
            buf.push('\n');
            out.write_all(buf.as_bytes())?;
        }
        Ok(())
    }

    /// The LDIF as one string.
    #[must_use]
    pub fn build(&self) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// `people` people and `groups` groups of `members_per_group` members below `parent_dn` (with
/// the `ou=people` and `ou=groups` entries), seed 42: see [`UsersLdif`].
#[must_use]
pub fn gen_users_ldif(
    parent_dn: &str,
    people: usize,
    groups: usize,
    members_per_group: usize,
) -> String {
    UsersLdif::new(parent_dn, people)
        .with_groups(groups, members_per_group)
        .build()
}

/// A small, fast, deterministic generator (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `k` distinct numbers of `1..=n`, sorted (Floyd's algorithm).
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut chosen = std::collections::BTreeSet::new();
        for j in (n - k + 1)..=n {
            let t = 1 + self.below(j);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        chosen.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldif::parse_ldif;

    #[test]
    fn generates_people_and_groups_deterministically() {
        let spec = UsersLdif::new("dc=example,dc=com", 50).with_groups(3, 10);
        let text = spec.build();
        assert_eq!(text, spec.build());
        let entries = parse_ldif(&text);
        assert_eq!(entries.len(), spec.entry_count());
        assert_eq!(entries[0].dn, "ou=people,dc=example,dc=com");
        assert_eq!(entries[2].dn, "uid=user000001,ou=people,dc=example,dc=com");
        assert_eq!(entries[2].first("mail"), Some("user000001@example.com"));
        let group = entries.last().unwrap();
        assert_eq!(group.dn, "cn=group0003,ou=groups,dc=example,dc=com");
        let members = group.get("member");
        assert_eq!(members.len(), 10);
        let mut distinct = members.to_vec();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        // Every member is one of the people.
        assert!(members.iter().all(|m| entries.iter().any(|e| &e.dn == m)));
        // All of them when the group is as large as the population.
        let all = UsersLdif::new("dc=x", 5).with_groups(1, 9).build();
        assert_eq!(parse_ldif(&all).last().unwrap().get("member").len(), 5);
    }
}
