//! What applying one configuration over another changes, and the copy of a configuration that
//! may leave the store (no secrets in it).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Config;
use crate::ConnectorFactory;

/// One line per changed item, in a stable order: `connector central: changed (rules)`,
/// `schedule nightly: added`, `enterprise default: removed`. Empty when nothing changes.
pub fn changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if old.version != new.version {
        out.push(format!("version: {} → {}", old.version, new.version));
    }
    if old.base_dir != new.base_dir {
        out.push(format!(
            "base_dir: {} → {}",
            old.base_dir.as_deref().unwrap_or("(none)"),
            new.base_dir.as_deref().unwrap_or("(none)")
        ));
    }
    section("enterprise", &old.enterprises, &new.enterprises, &mut out);
    section("connector", &old.connectors, &new.connectors, &mut out);
    section("schedule", &old.schedules, &new.schedules, &mut out);
    out
}

fn section<T: Serialize + PartialEq>(
    label: &str,
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
    out: &mut Vec<String>,
) {
    for (name, item) in new {
        match old.get(name) {
            None => out.push(format!("{label} {name}: added")),
            Some(before) if before != item => {
                let keys = changed_keys(before, item);
                if keys.is_empty() {
                    out.push(format!("{label} {name}: changed"));
                } else {
                    out.push(format!("{label} {name}: changed ({})", keys.join(", ")));
                }
            }
            Some(_) => {}
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        out.push(format!("{label} {name}: removed"));
    }
}

/// The top-level keys of two serialized items that differ.
fn changed_keys<T: Serialize>(a: &T, b: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(a), serde_json::to_value(b))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `config` without its secrets: every literal secret in connector settings becomes a
/// reference to an environment variable (`password` → `password_env =
/// "UCSYNC_SECRET_<CONNECTOR>_PASSWORD"`). The notes say which variables to set.
pub fn redact_secrets(config: &Config, factory: &dyn ConnectorFactory) -> (Config, Vec<String>) {
    let mut out = config.clone();
    let mut notes = Vec::new();
    for (name, c) in &mut out.connectors {
        for (secret, env_key) in factory.secret_keys(&c.kind) {
            if c.settings.remove(*secret).is_none() {
                continue;
            }
            let var = secret_variable(name, secret);
            c.settings
                .insert((*env_key).to_owned(), toml::Value::String(var.clone()));
            notes.push(format!(
                "connector {name}: its {secret} stays in the store and is not exported; set the environment variable {var} to it where this file is applied"
            ));
        }
    }
    (out, notes)
}

/// `UCSYNC_SECRET_<CONNECTOR>_<KEY>`, upper case, `-` as `_`.
pub fn secret_variable(connector: &str, key: &str) -> String {
    format!("UCSYNC_SECRET_{connector}_{key}")
        .to_ascii_uppercase()
        .replace('-', "_")
}

/// Puts back the secrets that an exported copy replaced: a connector of `new` whose settings
/// name the variable [`redact_secrets`] wrote, while that variable is not set here, keeps the
/// secret `old` holds. So exporting and applying again changes nothing.
pub fn restore_secrets(new: &mut Config, old: &Config, factory: &dyn ConnectorFactory) {
    for (name, c) in &mut new.connectors {
        let Some(before) = old.connectors.get(name) else {
            continue;
        };
        for (secret, env_key) in factory.secret_keys(&c.kind) {
            let var = secret_variable(name, secret);
            let names_it = c.settings.get(*env_key).and_then(|v| v.as_str()) == Some(&var);
            if names_it
                && std::env::var_os(&var).is_none()
                && let Some(value) = before.settings.get(*secret)
            {
                c.settings.remove(*env_key);
                c.settings.insert((*secret).to_owned(), value.clone());
            }
        }
    }
}

/// Settings as the API shows them: secrets left out, their names listed under `secrets_set`.
pub fn without_secrets(
    kind: &str,
    settings: &toml::Table,
    factory: &dyn ConnectorFactory,
) -> (toml::Table, Vec<String>) {
    let mut shown = settings.clone();
    let mut set = Vec::new();
    for (secret, _) in factory.secret_keys(kind) {
        if shown.remove(*secret).is_some() {
            set.push((*secret).to_owned());
        }
    }
    (shown, set)
}

/// Keeps the secrets of `old` settings that `new` settings (from an API body, which never
/// shows them) leave out, unless `new` gives the variable alternative.
pub fn keep_secrets(
    kind: &str,
    new: &mut toml::Table,
    old: &toml::Table,
    factory: &dyn ConnectorFactory,
) {
    for (secret, env_key) in factory.secret_keys(kind) {
        if !new.contains_key(*secret)
            && !new.contains_key(*env_key)
            && let Some(value) = old.get(*secret)
        {
            new.insert((*secret).to_owned(), value.clone());
        }
    }
}
