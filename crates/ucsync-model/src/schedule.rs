//! Schedules: when a job runs by itself. Three forms, each in the server's time zone unless the
//! schedule names one:
//! - `daily at HH:MM` (or `daily at h:mm AM|PM`);
//! - `every N days at h:mm AM|PM from YYYY-MM-DD`: every N days counted from an anchor date;
//! - `cron MIN HOUR DOM MON DOW` (five fields, as in crontab).
//!
//! Daylight-saving policy, the same for all three forms:
//! - a time inside a spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00)
//!   runs at the first instant after the gap (03:00 new time): the day's run is never skipped;
//! - a time inside a fall-back overlap (01:30 when 01:00–02:00 happens twice) runs once, at
//!   its first occurrence: the day's run never happens twice.

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};

/// A schedule that cannot be read: the message says what form was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule \"{text}\": {message}")]
pub struct ScheduleError {
    pub text: String,
    pub message: String,
}

#[derive(Clone)]
enum Rule {
    Daily(Time),
    EveryDays { days: i64, at: Time, from: Date },
    Cron(Box<croner::Cron>),
}

/// A parsed schedule in its time zone.
#[derive(Clone)]
pub struct Schedule {
    rule: Rule,
    tz: TimeZone,
    text: String,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?}", self.text)?;
        if let Some(name) = self.tz.iana_name() {
            write!(f, " in {name}")?;
        }
        write!(f, ")")
    }
}

const FORMS: &str =
    "write \"daily at 02:00\", \"every 3 days at 2:30 AM from 2026-01-05\" or \"cron 0 2 * * *\"";

impl Schedule {
    /// Reads `text` in `tz`. `every N days` without `from` counts from `today`.
    pub fn parse(text: &str, tz: TimeZone, today: Date) -> Result<Schedule, ScheduleError> {
        let err = |message: String| ScheduleError {
            text: text.to_owned(),
            message,
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let rule = match lower.as_slice() {
            ["daily", "at", time @ ..] => Rule::Daily(parse_time(time).map_err(err)?),
            ["every", n, "days" | "day", "at", rest @ ..] => {
                let days: i64 = n
                    .parse()
                    .ok()
                    .filter(|d| (1..=366).contains(d))
                    .ok_or_else(|| err(format!("\"{n}\" is not a number of days from 1 to 366")))?;
                let (time, from) = match rest.iter().position(|w| *w == "from") {
                    Some(i) => {
                        let date = rest.get(i + 1).copied().unwrap_or("");
                        let from: Date = date.parse().map_err(|_| {
                            err(format!("\"{date}\" is not a date; write YYYY-MM-DD"))
                        })?;
                        (&rest[..i], from)
                    }
                    None => (rest, today),
                };
                Rule::EveryDays {
                    days,
                    at: parse_time(time).map_err(err)?,
                    from,
                }
            }
            ["cron", ..] => {
                let pattern = words[1..].join(" ");
                if words.len() != 6 {
                    return Err(err(format!(
                        "a cron expression has five fields (minute hour day-of-month month day-of-week), not {}",
                        words.len() - 1
                    )));
                }
                let cron: croner::Cron = pattern
                    .parse()
                    .map_err(|e: croner::errors::CronError| err(format!("{e}")))?;
                Rule::Cron(Box::new(cron))
            }
            _ => return Err(err(FORMS.to_owned())),
        };
        Ok(Schedule {
            rule,
            tz,
            text: text.trim().to_owned(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first time the schedule is due strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.rule {
            Rule::Cron(cron) => cron
                .find_next_occurrence(&t.to_zoned(self.tz.clone()), false)
                .ok()
                .map(|z| z.timestamp()),
            Rule::Daily(at) => self.scan(t, 1, *at, None, true),
            Rule::EveryDays { days, at, from } => self.scan(t, *days, *at, Some(*from), true),
        }
    }

    /// The last time the schedule was due at or before `t`.
    pub fn last_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        match &self.rule {
            Rule::Cron(cron) => cron
                .find_previous_occurrence(&t.to_zoned(self.tz.clone()), true)
                .ok()
                .map(|z| z.timestamp()),
            Rule::Daily(at) => self.scan(t, 1, *at, None, false),
            Rule::EveryDays { days, at, from } => self.scan(t, *days, *at, Some(*from), false),
        }
    }

    /// Walks days from `t`'s local date, forward (the first slot after `t`) or backward (the
    /// last slot at or before `t`).
    fn scan(
        &self,
        t: Timestamp,
        every: i64,
        at: Time,
        from: Option<Date>,
        forward: bool,
    ) -> Option<Timestamp> {
        let today = t.to_zoned(self.tz.clone()).date();
        let step: i64 = if forward { 1 } else { -1 };
        // One day back (or ahead) first: a slot's instant can fall on a neighbouring local date.
        let mut day = today.checked_add((-step).days()).ok()?;
        for _ in 0..(every + 3) {
            let on_cycle = from.is_none_or(|f| {
                f.until(day)
                    .ok()
                    .map(|span| i64::from(span.get_days()).rem_euclid(every) == 0)
                    .unwrap_or(false)
            });
            if on_cycle {
                let slot = resolve(&self.tz, day.to_datetime(at))?;
                if (forward && slot > t) || (!forward && slot <= t) {
                    return Some(slot);
                }
            }
            day = day.checked_add(step.days()).ok()?;
        }
        None
    }
}

/// The instant of a local date and time under the daylight-saving policy above.
fn resolve(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Gap { after, .. } => {
            // With the new offset the time lies before the jump; the jump itself is the first
            // instant after the gap.
            let before_jump = after.to_timestamp(dt).ok()?;
            tz.following(before_jump).next().map(|tr| tr.timestamp())
        }
        AmbiguousOffset::Fold { before, after } => {
            let a = before.to_timestamp(dt).ok()?;
            let b = after.to_timestamp(dt).ok()?;
            Some(a.min(b))
        }
    }
}

/// `HH:MM` (24-hour) or `h:mm AM|PM` / `h:mmAM`.
fn parse_time(words: &[&str]) -> Result<Time, String> {
    let joined = words.concat();
    let (clock, meridiem) = match joined.strip_suffix("am") {
        Some(c) => (c, Some(false)),
        None => match joined.strip_suffix("pm") {
            Some(c) => (c, Some(true)),
            None => (joined.as_str(), None),
        },
    };
    let bad = || {
        format!(
            "\"{}\" is not a time; write HH:MM or h:mm AM|PM",
            words.join(" ")
        )
    };
    let (h, m) = clock.split_once(':').ok_or_else(bad)?;
    let (mut h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..60).contains(&m) {
        return Err(bad());
    }
    match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return Err(bad());
            }
            h = match (h, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
        }
        None if !(0..24).contains(&h) => return Err(bad()),
        None => {}
    }
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
