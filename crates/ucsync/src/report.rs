//! Printing runs and reports, for people and as JSON.

use ucsync_engine::RunReport;
use ucsync_store::{Counters, ObjectOutcome, RunRecord};

fn counters(c: &Counters) -> String {
    format!(
        "added {:>6}  updated {:>6}  deleted {:>6}  unchanged {:>7}  errors {:>5}",
        c.added, c.updated, c.deleted, c.unchanged, c.errors
    )
}

fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub fn print_outcomes(outcomes: &[ObjectOutcome]) {
    for o in outcomes {
        let who = if o.connector.is_empty() {
            "directory".to_owned()
        } else {
            o.connector.clone()
        };
        let kind = if o.object_type.is_empty() {
            String::new()
        } else {
            format!(" ({})", o.object_type)
        };
        let msg = o
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        println!("  {:<16} {who} {}{kind}{msg}", o.action, o.object);
        for c in &o.changes {
            println!("      {}", change_line(c));
        }
    }
}

/// One attribute change of an outcome: `old -> new` for a single value; for several values
/// (group members) only what was added (`+value`) and removed (`-value`), since the whole lists
/// of a large group before and after hide the change.
fn change_line(c: &ucsync_model::AttrChange) -> String {
    if c.old.is_empty() || c.new.is_empty() || (c.old.len() < 2 && c.new.len() < 2) {
        return format!("{}: {:?} -> {:?}", c.attribute, c.old, c.new);
    }
    let added = c.new.iter().filter(|v| !c.old.contains(v));
    let removed = c.old.iter().filter(|v| !c.new.contains(v));
    let mut parts: Vec<String> = added.map(|v| format!("+{v:?}")).collect();
    parts.extend(removed.map(|v| format!("-{v:?}")));
    if parts.is_empty() {
        // The same values in another order.
        return format!("{}: {:?} -> {:?}", c.attribute, c.old, c.new);
    }
    format!("{}: {}", c.attribute, parts.join(" "))
}

pub fn print_report(r: &RunReport, as_json: bool) {
    if as_json {
        return json(r);
    }
    let what = match &r.connector {
        Some(c) => format!("{} on {c}", r.profile.as_str()),
        None => format!("{} of enterprise {}", r.profile.as_str(), r.enterprise),
    };
    let id = r.run_id.map(|i| format!(" (run {i})")).unwrap_or_default();
    let preview = if r.preview { "preview of " } else { "" };
    println!("{preview}{what}: {}{id}", r.status.as_str());
    for s in &r.steps {
        println!(
            "  {:<14} {:<13} {:<26} {}",
            s.connector.as_deref().unwrap_or(""),
            s.profile.as_str(),
            s.status.as_str(),
            counters(&s.counters)
        );
        if let Some(m) = &s.message {
            println!("      {m}");
        }
    }
    if r.steps.is_empty() {
        println!("  {}", counters(&r.counters));
    }
    if let Some(m) = &r.message {
        println!("{m}");
    }
    if let Some(f) = &r.status_file {
        println!("status file: {f}");
    }
    if r.preview {
        println!("\nwhat would change (nothing was committed):");
        for s in std::iter::once(r).chain(r.steps.iter()) {
            print_outcomes(&s.outcomes);
        }
    }
}

pub fn print_runs(runs: &[RunRecord], as_json: bool) {
    if as_json {
        return json(&runs);
    }
    if runs.is_empty() {
        println!("no runs yet");
        return;
    }
    println!(
        "{:>5} {:>6}  {:<24} {:<12} {:<14} {:<13} {:<26} counters",
        "run", "parent", "started", "by", "connector", "profile", "status"
    );
    for r in runs {
        println!(
            "{:>5} {:>6}  {:<24} {:<12} {:<14} {:<13} {:<26} {}",
            r.id,
            r.parent_id.map(|p| p.to_string()).unwrap_or_default(),
            r.started_at,
            r.started_by.as_deref().unwrap_or("-"),
            r.connector.as_deref().unwrap_or("-"),
            r.profile,
            r.status,
            counters(&r.counters)
        );
    }
}

pub fn print_run(run: &RunRecord, steps: &[RunRecord], outcomes: &[ObjectOutcome], as_json: bool) {
    if as_json {
        return json(&serde_json::json!({ "run": run, "steps": steps, "outcomes": outcomes }));
    }
    println!(
        "run {}: {} {} — {}",
        run.id,
        run.profile,
        run.connector.as_deref().unwrap_or(&run.enterprise),
        run.status
    );
    println!(
        "  started {} by {}  ended {}",
        run.started_at,
        run.started_by.as_deref().unwrap_or("(not recorded)"),
        run.ended_at.as_deref().unwrap_or("(running)")
    );
    println!("  {}", counters(&run.counters));
    if let Some(m) = &run.message {
        println!("  {m}");
    }
    if let Some(f) = &run.status_file {
        println!("  status file: {f}");
    }
    if !steps.is_empty() {
        println!();
        print_runs(steps, false);
    }
    if !outcomes.is_empty() {
        println!("\nobjects:");
        print_outcomes(outcomes);
    }
}

#[cfg(test)]
mod tests {
    use super::change_line;
    use ucsync_model::AttrChange;

    fn change(old: &[&str], new: &[&str]) -> AttrChange {
        AttrChange {
            attribute: "member".to_owned(),
            old: old.iter().map(|s| (*s).to_owned()).collect(),
            new: new.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_member_change_shows_what_was_added_and_removed() {
        assert_eq!(
            change_line(&change(&["ann", "bob", "cyd"], &["ann", "cyd", "dee"])),
            "member: +\"dee\" -\"bob\""
        );
        assert_eq!(
            change_line(&change(&["ann"], &["ann", "bob"])),
            "member: +\"bob\""
        );
    }

    #[test]
    fn a_single_value_shows_before_and_after() {
        assert_eq!(
            change_line(&change(&["Given7"], &["Seven"])),
            "member: [\"Given7\"] -> [\"Seven\"]"
        );
        assert_eq!(
            change_line(&change(&[], &["a", "b"])),
            "member: [] -> [\"a\", \"b\"]"
        );
        assert_eq!(
            change_line(&change(&["a", "b"], &["b", "a"])),
            "member: [\"a\", \"b\"] -> [\"b\", \"a\"]"
        );
    }
}
