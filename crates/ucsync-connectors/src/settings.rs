//! How every kind reads its settings table: serde reads the kind's settings struct as written
//! (`KindSettings::Raw`), whose fields are the allowed keys, and the kind then checks what the
//! types cannot say. Every problem is named with its key path, all of them at once.
//!
//! This module knows TOML and serde, and no kind.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use ucsync_model::ConfigProblem;
pub(crate) use ucsync_model::config::fields_of;

/// Where a password comes from; the value itself is read only when the connector connects, and
/// never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Literal(String),
    Env(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Literal(_) => f.write_str("Secret(***)"),
            Secret::Env(name) => write!(f, "Secret(env {name})"),
        }
    }
}

impl Secret {
    pub fn reveal(&self) -> Result<String, String> {
        match self {
            Secret::Literal(s) => Ok(s.clone()),
            Secret::Env(name) => std::env::var(name).map_err(|_| {
                format!("the environment variable {name} (password_env) is not set; set it to the password")
            }),
        }
    }
}

/// `value` (or `default` when left out) when it lies in `range`, else a problem naming `key`
/// and the range.
pub(crate) fn in_range(
    value: Option<i64>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    key: &str,
) -> Result<i64, String> {
    let v = value.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} is out of range; {key} is a whole number from {} to {} ({default} when left out)",
            range.start(),
            range.end()
        ))
    }
}

/// What is wrong with a host setting, if anything: it must be a host name (or an IP address)
/// without scheme, port or path. `example` is a host name to show; `after_url` says where the
/// scheme and port go instead.
pub(crate) fn host_problem(host: &str, example: &str, after_url: &str) -> Option<String> {
    if host.contains("://") {
        return Some(format!(
            "{host:?} is a URL; give the host name alone (e.g. host = \"{example}\"): {after_url}"
        ));
    }
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Some(format!(
            "{host:?} holds a port; give the host name alone and the port in port"
        ));
    }
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    (!ok).then(|| {
        format!(
            "{host:?} is not a host name; give the server's host name as its certificate names it, e.g. host = \"{example}\""
        )
    })
}

/// The settings of one connector kind.
pub(crate) trait KindSettings: Sized {
    /// The settings as written, read by serde: its fields are the keys the table may hold.
    /// Every field has a default (`Option` or `#[serde(default)]`), so that a missing key is
    /// reported by [`KindSettings::validate`] with what to write.
    type Raw: DeserializeOwned;

    /// The keys allowed in the table at `table` (the key path below the settings table: empty
    /// for the settings table itself); a kind with nested tables names theirs.
    fn allowed_keys(table: &[&str]) -> Option<&'static [&'static str]> {
        table.is_empty().then(fields_of::<Self::Raw>)
    }

    /// Checks what the types cannot say (values, required keys, keys that go together) and makes
    /// the settings; every problem with its key path below `at`, the settings table's.
    fn validate(raw: Self::Raw, at: &str) -> Result<Self, Vec<ConfigProblem>>;

    /// Makes relative paths absolute from `base_dir` (the configuration file's directory).
    fn resolve_paths(&mut self, _base_dir: &Path) {}
}

/// Reads and validates a settings table; `at` is its key path. Every problem is returned: unknown
/// keys with the keys allowed beside them, values of the wrong type, then the kind's own checks
/// (except on a key already reported).
pub(crate) fn read<S: KindSettings>(
    table: &toml::Table,
    at: &str,
) -> Result<S, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let mut value = toml::Value::Table(table.clone());
    // A value of the wrong type stops serde: it is reported, taken out and the rest read again,
    // so that every problem is named at once.
    let (raw, unknown) = loop {
        let mut unknown = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let read: Result<S::Raw, _> = {
            let de = serde_path_to_error::Deserializer::new(value.clone(), &mut track);
            serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
        };
        match read {
            Ok(raw) => break (raw, unknown),
            Err(e) => {
                let path = track.path();
                let segments: Vec<Segment> = path.iter().cloned().collect();
                let key = path.to_string();
                let message = type_message(e.message(), &value, &segments);
                problems.push(ConfigProblem::new(format!("{at}.{key}"), message));
                if !take_out(&mut value, &segments) {
                    return Err(problems);
                }
            }
        }
    };
    for path in unknown {
        let keys: Vec<&str> = path.split('.').collect();
        let message = match S::allowed_keys(&keys[..keys.len().saturating_sub(1)]) {
            Some(allowed) => format!("unknown key; allowed here: {}", allowed.join(", ")),
            None => "unknown key".to_owned(),
        };
        problems.push(ConfigProblem::new(format!("{at}.{path}"), message));
    }
    match S::validate(raw, at) {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(problems),
        Err(more) => {
            // A key whose value was refused (or a value in it) is not reported again, e.g. as
            // missing.
            // List indexes are compared as `key.0` (serde writes `key[0]`).
            let dotted = |path: &str| path.replace('[', ".").replace(']', "");
            let reported: Vec<String> = problems.iter().map(|p| dotted(&p.path)).collect();
            let said = |path: &str| {
                let path = dotted(path);
                reported.iter().any(|r| {
                    r.strip_prefix(&path)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                })
            };
            problems.extend(more.into_iter().filter(|p| !said(&p.path)));
            Err(problems)
        }
    }
}

/// serde's "invalid type: integer `7`, expected a string" as "expected a string, found integer";
/// any other message as it is.
fn type_message(message: &str, root: &toml::Value, segments: &[Segment]) -> String {
    let found = find(root, segments).map(toml::Value::type_str);
    match (message.strip_prefix("invalid type: "), found) {
        (Some(rest), Some(found)) => match rest.rsplit_once(", expected ") {
            Some((_, "a boolean")) => {
                format!("expected a boolean, found {found}; write true or false")
            }
            Some((_, expected)) => format!("expected {expected}, found {found}"),
            None => message.to_owned(),
        },
        _ => message.to_owned(),
    }
}

fn find<'v>(root: &'v toml::Value, segments: &[Segment]) -> Option<&'v toml::Value> {
    segments.iter().try_fold(root, |v, s| match s {
        Segment::Map { key } => v.get(key.as_str()),
        Segment::Seq { index } => v.get(*index),
        _ => None,
    })
}

/// Takes out the key nearest to the value at `segments` (a whole list for a bad list item);
/// `false` when there is none.
fn take_out(root: &mut toml::Value, segments: &[Segment]) -> bool {
    let Some(last) = segments
        .iter()
        .rposition(|s| matches!(s, Segment::Map { .. }))
    else {
        return false;
    };
    let Segment::Map { key } = &segments[last] else {
        return false;
    };
    let mut parent = Some(root);
    for s in &segments[..last] {
        parent = match (parent, s) {
            (Some(v), Segment::Map { key }) => v.get_mut(key.as_str()),
            (Some(v), Segment::Seq { index }) => v.get_mut(*index),
            _ => None,
        };
    }
    parent
        .and_then(toml::Value::as_table_mut)
        .is_some_and(|t| t.remove(key).is_some())
}

/// The keys a kind's settings table may hold.
#[cfg(test)]
pub(crate) fn keys<S: KindSettings>() -> &'static [&'static str] {
    fields_of::<S::Raw>()
}

/// A kind's [`crate::ValidateFn`].
pub(crate) fn validate<S: KindSettings>(settings: &toml::Table, at: &str) -> Vec<ConfigProblem> {
    read::<S>(settings, at).err().unwrap_or_default()
}

/// A kind's settings for building connector `name`, relative paths taken from `base_dir`.
pub(crate) fn for_build<S: KindSettings>(
    name: &str,
    settings: &toml::Table,
    base_dir: &Path,
) -> Result<S, String> {
    let at = format!("connectors.{name}.settings");
    let mut settings = read::<S>(settings, &at).map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    settings.resolve_paths(base_dir);
    Ok(settings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Outer {
        name: Option<String>,
        sizes: Vec<u32>,
        inner: BTreeMap<String, Inner>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Inner {
        on: bool,
    }

    impl KindSettings for Outer {
        type Raw = Outer;

        fn allowed_keys(table: &[&str]) -> Option<&'static [&'static str]> {
            match table {
                [] => Some(fields_of::<Outer>()),
                ["inner", _] => Some(fields_of::<Inner>()),
                _ => None,
            }
        }

        fn validate(raw: Outer, at: &str) -> Result<Self, Vec<ConfigProblem>> {
            match raw.name {
                Some(_) => Ok(raw),
                None => Err(vec![ConfigProblem::new(format!("{at}.name"), "required")]),
            }
        }
    }

    fn problems(text: &str) -> BTreeMap<String, String> {
        let table: toml::Table = text.parse().unwrap();
        read::<Outer>(&table, "s")
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn every_problem_is_named_at_its_key_path_at_once() {
        let p = problems(
            "name = 1\nsizes = [1, \"x\"]\nextra = 2\n[inner.a]\non = \"yes\"\n[inner.b]\nof = true\n",
        );
        let expected: BTreeMap<String, String> = [
            ("s.name", "expected a string, found integer"),
            ("s.sizes[1]", "expected u32, found string"),
            ("s.extra", "unknown key; allowed here: name, sizes, inner"),
            (
                "s.inner.a.on",
                "expected a boolean, found string; write true or false",
            ),
            ("s.inner.b.of", "unknown key; allowed here: on"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        // The kind's "required" is not said again of a key whose value was refused.
        assert_eq!(p, expected);

        assert_eq!(
            problems("sizes = [1]"),
            [("s.name".to_owned(), "required".to_owned())].into()
        );
        assert_eq!(
            problems("name = \"n\"\n[inner.a]\non = true\n"),
            BTreeMap::new()
        );
    }
}
