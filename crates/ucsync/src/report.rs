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
            println!("      {}: {:?} -> {:?}", c.attribute, c.old, c.new);
        }
    }
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
