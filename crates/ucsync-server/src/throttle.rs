//! The login throttle: failed logins slow down the client address they came from, never the
//! administrator elsewhere. Two limits, both counted per client address (an IPv6 client by its
//! /64, since one host usually holds a whole /64):
//!
//! - per name and address: after [`FREE_FAILURES`] failures in a row, each further attempt must
//!   wait, twice as long each time, up to [`MAX_WAIT`]; a success clears the count, and so does
//!   an hour without failures;
//! - per address, whatever the names (password spraying, enumeration):
//!   [`ADDRESS_FREE_FAILURES`] failures at once, then one more every [`ADDRESS_REFILL`].
//!
//! An attempt counts as a failure from the moment it is let through until it succeeds, so
//! concurrent attempts cannot all slip in before the first failure is recorded. Memory stays
//! bounded: names are kept as SHA-256 digests, and each table keeps at most [`MAX_ENTRIES`]
//! entries, forgetting finished waits first and then the oldest.
//!
//! This module knows nothing of HTTP, passwords or the store.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Failures in a row of one name from one address before attempts must wait.
pub const FREE_FAILURES: u32 = 3;
/// The longest wait between attempts for one name from one address.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// After this long without a failure, the failures of a name from an address are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Failed logins one address may make at once, whatever the names.
pub const ADDRESS_FREE_FAILURES: u32 = 10;
/// How often one address earns one more failed login once it has used them up.
pub const ADDRESS_REFILL: Duration = Duration::from_secs(30);
/// The most names-and-addresses, and the most addresses, the throttle remembers.
pub const MAX_ENTRIES: usize = 10_000;

/// A name and a client address, as the throttle keys them.
type PairKey = ([u8; 32], IpAddr);

/// Failures of one name from one address: how many in a row, and when the last was.
#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Default)]
struct Tables {
    pairs: HashMap<PairKey, Failures>,
    /// Per address, when its budget of failures is whole again: each failure moves it
    /// [`ADDRESS_REFILL`] later (from now at the earliest), a success moves it back.
    addresses: HashMap<IpAddr, Instant>,
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Too many failures of this name from this address.
    NameFromAddress,
    /// Too many failures from this address, whatever the names.
    Address,
}

/// An attempt refused before its password was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    /// How long until an attempt is let through again (never zero).
    pub wait: Duration,
}

impl Refused {
    /// The wait in whole seconds, rounded up, for `Retry-After`.
    pub fn retry_after(&self) -> u64 {
        retry_after_secs(self.wait)
    }
}

/// An attempt let through; tell the throttle how it ended with [`Throttle::failed`] or
/// [`Throttle::succeeded`]. Until then (and if it is dropped) it counts as a failure.
#[must_use]
#[derive(Debug)]
pub struct Attempt {
    pair: PairKey,
    address: IpAddr,
}

/// Failed logins per name and client address, and per client address.
#[derive(Default)]
pub struct Throttle {
    tables: Mutex<Tables>,
}

impl Throttle {
    fn with<R>(&self, f: impl FnOnce(&mut Tables) -> R) -> R {
        match self.tables.lock() {
            Ok(mut t) => f(&mut t),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Lets an attempt to sign in as `name` from `client` through, or says how long it must
    /// wait first.
    pub fn attempt(&self, name: &str, client: IpAddr) -> Result<Attempt, Refused> {
        self.attempt_at(name, client, Instant::now())
    }

    /// The attempt's password was wrong (or its name unknown).
    pub fn failed(&self, attempt: Attempt) {
        self.failed_at(attempt, Instant::now());
    }

    /// The attempt signed in: the failures of its name from its address are forgotten, and
    /// the attempt costs its address nothing.
    pub fn succeeded(&self, attempt: Attempt) {
        self.succeeded_at(attempt, Instant::now());
    }

    fn attempt_at(&self, name: &str, client: IpAddr, now: Instant) -> Result<Attempt, Refused> {
        let address = client_key(client);
        let pair = (name_key(name), address);
        self.with(|t| {
            let full_at = t
                .addresses
                .get(&address)
                .copied()
                .filter(|at| *at > now)
                .unwrap_or(now);
            // Spent budget in time: refused once a whole budget is spent.
            let spent = full_at.saturating_duration_since(now);
            let allowed = ADDRESS_REFILL * (ADDRESS_FREE_FAILURES - 1);
            let address_wait = spent.checked_sub(allowed).filter(|w| !w.is_zero());
            let failures = t
                .pairs
                .get(&pair)
                .copied()
                .filter(|f| now.saturating_duration_since(f.last) < FORGET_AFTER);
            let pair_wait = failures.and_then(|f| {
                let wait = delay(f.count)?.checked_sub(now.saturating_duration_since(f.last))?;
                Some(wait).filter(|w| !w.is_zero())
            });
            let refused = match (pair_wait, address_wait) {
                (Some(p), Some(a)) if a > p => Some((Limit::Address, a)),
                (Some(p), _) => Some((Limit::NameFromAddress, p)),
                (None, Some(a)) => Some((Limit::Address, a)),
                (None, None) => None,
            };
            if let Some((limit, wait)) = refused {
                return Err(Refused { limit, wait });
            }
            if !t.addresses.contains_key(&address) {
                make_room(&mut t.addresses, |at| *at <= now, |at| *at);
            }
            t.addresses.insert(address, full_at + ADDRESS_REFILL);
            if failures.is_none() {
                make_room(
                    &mut t.pairs,
                    |f| now.saturating_duration_since(f.last) >= FORGET_AFTER,
                    |f| f.last,
                );
            }
            let count = failures.map_or(0, |f| f.count).saturating_add(1);
            t.pairs.insert(pair, Failures { count, last: now });
            Ok(Attempt { pair, address })
        })
    }

    fn failed_at(&self, attempt: Attempt, now: Instant) {
        self.with(|t| {
            // The wait runs from the failure's answer, not from when the attempt began.
            if let Some(f) = t.pairs.get_mut(&attempt.pair) {
                f.last = f.last.max(now);
            }
        });
    }

    fn succeeded_at(&self, attempt: Attempt, now: Instant) {
        self.with(|t| {
            t.pairs.remove(&attempt.pair);
            if let Some(at) = t.addresses.get_mut(&attempt.address) {
                match at.checked_sub(ADDRESS_REFILL).filter(|back| *back > now) {
                    Some(back) => *at = back,
                    None => {
                        t.addresses.remove(&attempt.address);
                    }
                }
            }
        });
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        self.with(|t| (t.pairs.len(), t.addresses.len()))
    }
}

/// Makes room for one more entry in `map`: at [`MAX_ENTRIES`], forgets the entries that are
/// `done`, and if that was not enough, the tenth with the oldest `age` (a tenth at once, so
/// that a full table is not searched again at every new entry).
fn make_room<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    done: impl Fn(&V) -> bool,
    age: impl Fn(&V) -> Instant,
) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, v| !done(v));
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut by_age: Vec<(Instant, K)> = map.iter().map(|(k, v)| (age(v), *k)).collect();
    let oldest = MAX_ENTRIES / 10;
    by_age.select_nth_unstable_by_key(oldest, |(at, _)| *at);
    for (_, key) in &by_age[..=oldest] {
        map.remove(key);
    }
}

/// The wait after `failures` failures in a row of one name from one address.
fn delay(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    let secs = 1u64.checked_shl(over.min(16)).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_WAIT))
}

/// `wait` in whole seconds for `Retry-After`, rounded up: a client that waits as long as told
/// is let through, and a wait that remains is never announced as 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
}

/// The address a client is counted by: IPv4 as is (also when mapped into IPv6), IPv6 by its
/// /64 network.
pub fn client_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

fn name_key(name: &str) -> [u8; 32] {
    Sha256::digest(name.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const BOB: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn fail(t: &Throttle, name: &str, from: IpAddr, now: Instant) {
        let attempt = t.attempt_at(name, from, now).unwrap();
        t.failed_at(attempt, now);
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(999)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(1999)), 2);
        assert_eq!(retry_after_secs(Duration::from_nanos(299_000_000_001)), 300);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }

    #[test]
    fn failed_logins_wait_longer_and_longer() {
        assert_eq!(delay(FREE_FAILURES - 1), None);
        assert_eq!(delay(FREE_FAILURES), Some(Duration::from_secs(1)));
        assert_eq!(delay(FREE_FAILURES + 3), Some(Duration::from_secs(8)));
        assert_eq!(delay(FREE_FAILURES + 40), Some(MAX_WAIT));
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            fail(&t, "ann", ANN, now);
        }
        let refused = t.attempt_at("ann", ANN, now).unwrap_err();
        assert_eq!(refused.limit, Limit::NameFromAddress);
        assert_eq!(refused.wait, Duration::from_secs(1));
        assert_eq!(refused.retry_after(), 1);
        let later = now + Duration::from_millis(10);
        assert_eq!(
            t.attempt_at("ann", ANN, later).unwrap_err().retry_after(),
            1
        );
        // Waited: one more failure, then twice as long.
        let later = now + Duration::from_secs(1);
        fail(&t, "ann", ANN, later);
        let refused = t.attempt_at("ann", ANN, later + Duration::from_millis(1));
        assert_eq!(refused.unwrap_err().wait, Duration::from_millis(1999));
        // A success clears the count.
        let later = later + Duration::from_secs(2);
        let attempt = t.attempt_at("ann", ANN, later).unwrap();
        t.succeeded_at(attempt, later);
        for _ in 0..FREE_FAILURES {
            fail(&t, "ann", ANN, later);
        }
        assert!(t.attempt_at("ann", ANN, later).is_err());
    }

    #[test]
    fn the_same_name_from_another_address_is_not_held_back() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES + 2 {
            let _ = t.attempt_at("ann", BOB, now).map(|a| t.failed_at(a, now));
        }
        assert!(t.attempt_at("ann", BOB, now).is_err());
        let attempt = t.attempt_at("ann", ANN, now).unwrap();
        t.succeeded_at(attempt, now);
        assert!(t.attempt_at("ann", BOB, now).is_err(), "still waits at BOB");
        assert!(t.attempt_at("bob", BOB, now).is_ok(), "another name at BOB");
    }

    #[test]
    fn an_attempt_in_progress_counts_as_a_failure() {
        let t = Throttle::default();
        let now = Instant::now();
        let pending: Vec<Attempt> = (0..FREE_FAILURES)
            .map(|_| t.attempt_at("ann", ANN, now).unwrap())
            .collect();
        assert!(t.attempt_at("ann", ANN, now).is_err());
        for attempt in pending {
            t.succeeded_at(attempt, now);
        }
        assert!(t.attempt_at("ann", ANN, now).is_ok());
    }

    #[test]
    fn one_address_trying_many_names_waits_alone() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..ADDRESS_FREE_FAILURES {
            fail(&t, &format!("user{i}"), ANN, now);
        }
        let refused = t.attempt_at("someone-else", ANN, now).unwrap_err();
        assert_eq!(refused.limit, Limit::Address);
        assert_eq!(refused.wait, ADDRESS_REFILL);
        assert!(t.attempt_at("someone-else", BOB, now).is_ok());
        // One more failure per refill.
        let later = now + ADDRESS_REFILL;
        fail(&t, "user-late", ANN, later);
        assert!(t.attempt_at("another", ANN, later).is_err());
        // A success does not refill the budget beyond what it took.
        let later = later + ADDRESS_REFILL;
        let attempt = t.attempt_at("user0", ANN, later).unwrap();
        t.succeeded_at(attempt, later);
        let attempt = t.attempt_at("user1", ANN, later).unwrap();
        t.failed_at(attempt, later);
        assert!(t.attempt_at("user2", ANN, later).is_err());
        // A quiet address gets its whole budget back, and is forgotten.
        let later = later + ADDRESS_REFILL * ADDRESS_FREE_FAILURES;
        for i in 0..ADDRESS_FREE_FAILURES {
            fail(&t, &format!("user{i}"), ANN, later);
        }
    }

    #[test]
    fn failures_are_forgotten_after_an_hour() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES + 5 {
            let at = now + MAX_WAIT * 2;
            let _ = t.attempt_at("ann", ANN, at).map(|a| t.failed_at(a, at));
        }
        assert!(t.attempt_at("ann", ANN, now + MAX_WAIT * 2).is_err());
        let later = now + MAX_WAIT * 2 + FORGET_AFTER;
        for _ in 0..FREE_FAILURES {
            fail(&t, "ann", ANN, later);
        }
    }

    #[test]
    fn random_names_from_many_addresses_keep_memory_bounded() {
        let t = Throttle::default();
        let now = Instant::now();
        let mut at = now;
        for i in 0..(MAX_ENTRIES as u32 * 2) {
            let from = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            at += Duration::from_millis(1);
            fail(&t, &format!("random-{i}-{}", "x".repeat(1000)), from, at);
        }
        let (pairs, addresses) = t.sizes();
        assert!(pairs <= MAX_ENTRIES, "{pairs}");
        assert!(addresses <= MAX_ENTRIES, "{addresses}");
        // What was learnt last still holds.
        let last = IpAddr::V4(std::net::Ipv4Addr::from(
            0x0a00_0000 + MAX_ENTRIES as u32 * 2 - 1,
        ));
        for _ in 0..FREE_FAILURES {
            fail(&t, "ann", last, at);
        }
        assert!(t.attempt_at("ann", last, at).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::7".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), ANN);
        assert_eq!(client_key(ANN), ANN);
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            fail(&t, "ann", a, now);
        }
        assert!(t.attempt_at("ann", b, now).is_err());
        assert!(t.attempt_at("ann", other, now).is_ok());
    }
}
