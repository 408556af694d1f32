//! Checks `[schedules.NAME]`: what runs, when, and in which time zone.

use jiff::tz::TimeZone;

use super::load::{NAME_RULE, valid_name};
use super::{Config, ConfigProblem, PROFILE_NAMES, ScheduleConfig};
use crate::schedule::Schedule;

pub(super) fn validate(config: &Config, p: &mut Vec<ConfigProblem>) {
    for (name, s) in &config.schedules {
        let at = format!("schedules.{name}");
        if !valid_name(name) {
            p.push(ConfigProblem::new(
                &at,
                format!("invalid schedule name; {NAME_RULE}"),
            ));
        }
        what_runs(config, s, &at, p);
        let tz = match &s.time_zone {
            None => Some(TimeZone::UTC),
            Some(zone) => match TimeZone::get(zone) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    p.push(ConfigProblem::new(
                        format!("{at}.time_zone"),
                        format!("unknown time zone \"{zone}\"; write an IANA name such as Europe/Berlin or America/New_York, or leave it out for the server's"),
                    ));
                    None
                }
            },
        };
        let when = format!("{at}.when");
        if let Some(tz) = tz
            && let Err(e) = Schedule::parse(&s.when, tz, jiff::civil::date(2000, 1, 1))
        {
            p.push(ConfigProblem::new(&when, e.message));
        } else if needs_anchor(&s.when) {
            p.push(ConfigProblem::new(
                &when,
                format!(
                    "\"{}\" needs the date it counts from, so that every start of the server agrees: add \"from YYYY-MM-DD\"",
                    s.when
                ),
            ));
        }
    }
}

/// `every N days at …` with N > 1 and no `from` date.
fn needs_anchor(when: &str) -> bool {
    let words: Vec<String> = when
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    words.first().is_some_and(|w| w == "every")
        && words.get(1).is_some_and(|n| n != "1")
        && !words.iter().any(|w| w == "from")
}

fn what_runs(config: &Config, s: &ScheduleConfig, at: &str, p: &mut Vec<ConfigProblem>) {
    match (&s.enterprise, &s.connector) {
        (Some(_), Some(_)) => p.push(ConfigProblem::new(
            at,
            "give either enterprise (Sync Now of the enterprise) or connector with profile, not both",
        )),
        (None, None) => p.push(ConfigProblem::new(
            at,
            "say what runs: enterprise = \"default\" for Sync Now, or connector = \"NAME\" with profile = \"delta-import\"",
        )),
        (Some(e), None) => {
            let names = config.enterprise_names();
            if !names.contains(e) {
                p.push(ConfigProblem::new(
                    format!("{at}.enterprise"),
                    format!(
                        "enterprise \"{e}\" is not configured; use one of: {}",
                        names.join(", ")
                    ),
                ));
            }
            if let Some(profile) = s.profile.as_deref().filter(|p| *p != "sync-now") {
                p.push(ConfigProblem::new(
                    format!("{at}.profile"),
                    format!("an enterprise's schedule runs sync-now; to run {profile}, name a connector instead of the enterprise"),
                ));
            }
        }
        (None, Some(c)) => {
            let Some(connector) = config.connectors.get(c) else {
                let names: Vec<&str> = config.connectors.keys().map(String::as_str).collect();
                p.push(ConfigProblem::new(
                    format!("{at}.connector"),
                    format!(
                        "no connector named \"{c}\"; configured: {}",
                        if names.is_empty() {
                            "(none)".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
                return;
            };
            let path = format!("{at}.profile");
            match s.profile.as_deref() {
                None => p.push(ConfigProblem::new(
                    path,
                    format!(
                        "name the profile to run on {c}: one of {}",
                        PROFILE_NAMES[..5].join(", ")
                    ),
                )),
                Some("sync-now") => p.push(ConfigProblem::new(
                    path,
                    format!(
                        "sync-now runs a whole enterprise: write enterprise = \"{}\" instead of connector",
                        connector.enterprise
                    ),
                )),
                Some(profile) if !PROFILE_NAMES.contains(&profile) => {
                    p.push(ConfigProblem::new(
                        path,
                        format!(
                            "unknown run profile \"{profile}\"; use one of: {}",
                            PROFILE_NAMES[..5].join(", ")
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
}
