//! `ucsync directory search|show`: the joined directory as administrators look at it.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use ucsync_model::account;
use ucsync_store::{Entry, Store};

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Entries whose values contain TEXT (case-insensitive), optionally filtered.
    Search {
        text: Option<String>,
        #[arg(long, default_value = ucsync_model::config::DEFAULT_ENTERPRISE)]
        enterprise: String,
        /// Only entries of this type (person, contact, group, …).
        #[arg(long = "type")]
        object_type: Option<String>,
        /// ATTRIBUTE=VALUE: only entries with exactly this value (repeatable).
        #[arg(long = "attr", value_name = "ATTRIBUTE=VALUE")]
        attrs: Vec<String>,
        /// Only entries of this folder (a peer's contacts are in one named after the peer).
        #[arg(long)]
        folder: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One entry with the source of each value and its linked objects.
    Show { id: i64 },
    /// The folders of the directory (the values of `folder`; a peer's contacts are in one named
    /// after the peer) with how many entries each holds.
    Folders {
        #[arg(long, default_value = ucsync_model::config::DEFAULT_ENTERPRISE)]
        enterprise: String,
    },
}

/// Folders as `ucsync directory folders` prints them.
pub fn print_folders(answer: &serde_json::Value, as_json: bool) {
    if as_json {
        println!("{answer}");
        return;
    }
    for f in answer["folders"].as_array().into_iter().flatten() {
        println!(
            "{:>8}  {}",
            f["entries"],
            f["folder"].as_str().unwrap_or_default()
        );
    }
    println!("{:>8}  (in no folder)", answer["without_folder"]);
}

/// An entry as `--json` prints it: each attribute's values and the connector that gave them.
/// The account's numbers (`telephoneNumber`) include its hand-added numbers, which
/// `hand_added` names.
fn entry_json(e: &Entry, names: &std::collections::HashMap<i64, String>) -> serde_json::Value {
    let mut attrs: serde_json::Map<String, serde_json::Value> = e
        .attrs
        .iter()
        .map(|(k, source, values)| {
            let source = source.map(|s| names.get(&s).cloned().unwrap_or_else(|| format!("#{s}")));
            (
                k.clone(),
                serde_json::json!({ "values": values, "source": source }),
            )
        })
        .collect();
    let listed = account::listed_numbers(&e.attrs);
    if !listed.hand_added.is_empty() {
        let numbers = attrs
            .entry(account::NUMBERS)
            .or_insert_with(|| serde_json::json!({ "source": null }));
        numbers["values"] = serde_json::json!(listed.values);
        numbers["hand_added"] = serde_json::json!(listed.hand_added);
    }
    serde_json::json!({ "id": e.id, "type": e.object_type, "attributes": attrs })
}

/// The values an entry is listed with for `attr`: the account's numbers include its hand-added
/// numbers.
fn listed(e: &Entry, attr: &str) -> Vec<String> {
    if attr == account::NUMBERS {
        account::listed_numbers(&e.attrs).values
    } else {
        e.attrs.get(attr).to_vec()
    }
}

/// An entry's attributes as `directory show` prints them: name, values, and the connector that
/// gave them or "set by hand". The account's numbers include its hand-added numbers, marked.
fn attribute_lines(
    e: &Entry,
    names: &std::collections::HashMap<i64, String>,
) -> Vec<(String, String, String)> {
    let from = |source: &Option<i64>| match source {
        Some(s) => names.get(s).cloned().unwrap_or_default(),
        None => "set by hand".to_owned(),
    };
    let mut lines: Vec<(String, String, String)> = e
        .attrs
        .iter()
        .map(|(k, source, values)| (k.clone(), values.join("; "), from(source)))
        .collect();
    let numbers = account::listed_numbers(&e.attrs);
    if numbers.hand_added.is_empty() {
        return lines;
    }
    let marked: Vec<String> = numbers
        .values
        .iter()
        .map(|n| {
            if numbers.hand_added.contains(n) {
                format!("{n} (added by hand)")
            } else {
                n.clone()
            }
        })
        .collect();
    match lines.iter_mut().find(|(k, _, _)| k == account::NUMBERS) {
        Some(line) => line.1 = marked.join("; "),
        None => {
            lines.push((account::NUMBERS.to_owned(), marked.join("; "), from(&None)));
            lines.sort();
        }
    }
    lines
}

pub async fn run(command: &DirectoryCommand, store: &dyn Store, as_json: bool) -> Result<u8> {
    let names: std::collections::HashMap<i64, String> = store
        .connectors()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    match command {
        DirectoryCommand::Search {
            text,
            enterprise,
            object_type,
            attrs,
            folder,
            limit,
        } => {
            let mut filters: Vec<(String, String)> = attrs
                .iter()
                .map(|a| {
                    a.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| anyhow!("--attr takes ATTRIBUTE=VALUE, got \"{a}\""))
                })
                .collect::<Result<_>>()?;
            if let Some(f) = folder {
                filters.push((ucsync_server::api::FOLDER.to_owned(), f.clone()));
            }
            let needle = text.as_deref().map(str::to_lowercase);
            let eid = store.ensure_enterprise(enterprise).await?;
            let mut found = Vec::new();
            let mut after = 0;
            'pages: loop {
                let page = store.entries_page(eid, after, 5_000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for e in page {
                    if object_type.as_ref().is_some_and(|t| *t != e.object_type) {
                        continue;
                    }
                    if !filters
                        .iter()
                        .all(|(k, v)| listed(&e, k).iter().any(|x| x == v))
                    {
                        continue;
                    }
                    if let Some(n) = &needle
                        && !e
                            .attrs
                            .iter()
                            .any(|(_, _, vs)| vs.iter().any(|v| v.to_lowercase().contains(n)))
                    {
                        continue;
                    }
                    found.push(e);
                    if found.len() >= *limit {
                        break 'pages;
                    }
                }
            }
            if as_json {
                let list: Vec<_> = found.iter().map(|e| entry_json(e, &names)).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &found {
                    let name = ["displayName", "cn", "mail"]
                        .iter()
                        .find_map(|a| e.attrs.get(a).first().cloned())
                        .unwrap_or_default();
                    let mail = e.attrs.get("mail").first().cloned().unwrap_or_default();
                    println!("{:>8}  {:<8} {:<32} {}", e.id, e.object_type, name, mail);
                }
                println!(
                    "{} entr{}",
                    found.len(),
                    if found.len() == 1 { "y" } else { "ies" }
                );
            }
            Ok(0)
        }
        DirectoryCommand::Folders { enterprise } => {
            let eid = store.ensure_enterprise(enterprise).await?;
            let answer = ucsync_server::api::folders_json(store, eid).await?;
            print_folders(&answer, as_json);
            Ok(0)
        }
        DirectoryCommand::Show { id } => {
            let Some(e) = store.entries_by_ids(&[*id]).await?.into_iter().next() else {
                eprintln!(
                    "error: no directory entry {id}; `ucsync directory search` finds entries"
                );
                return Ok(2);
            };
            let links = store.staged_by_entries(&[*id]).await?;
            if as_json {
                let mut v = entry_json(&e, &names);
                v["links"] = links
                    .iter()
                    .map(|s| {
                        let mut link = serde_json::json!({"connector": names.get(&s.connector_id), "anchor": s.anchor, "type": s.object_type});
                        if s.attrs.is_none() {
                            link["in_source"] = false.into();
                        }
                        link
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("entry {} ({})", e.id, e.object_type);
                for (k, values, from) in attribute_lines(&e, &names) {
                    println!("  {k:<24} {values:<40} [{from}]");
                }
                println!("linked objects:");
                for s in &links {
                    let pending = s
                        .export
                        .as_ref()
                        .map(|p| format!(" (pending {:?})", p.op))
                        .unwrap_or_else(|| {
                            if s.attrs.is_none() {
                                " (no longer in the source)".to_owned()
                            } else {
                                String::new()
                            }
                        });
                    println!(
                        "  {} {} ({}){pending}",
                        names.get(&s.connector_id).cloned().unwrap_or_default(),
                        s.anchor,
                        s.object_type
                    );
                }
            }
            Ok(0)
        }
    }
}
