use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::*;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn parse(text: &str, zone: &str) -> Schedule {
    Schedule::parse(text, tz(zone), date(2026, 11, 1)).unwrap()
}

/// The next `n` due times after `from`, as UTC instants.
fn next_n(s: &Schedule, from: &str, n: usize) -> Vec<String> {
    let mut t = at(from);
    let mut out = Vec::new();
    for _ in 0..n {
        t = s.next_after(t).unwrap();
        out.push(t.to_string());
    }
    out
}

#[test]
fn the_three_forms_and_their_errors() {
    let s = parse("daily at 2:05 PM", "UTC");
    assert_eq!(
        s.next_after(at("2026-11-02T00:00:00Z")),
        Some(at("2026-11-02T14:05:00Z"))
    );
    let s = parse("Daily at 00:00", "UTC");
    assert_eq!(
        s.next_after(at("2026-11-02T00:00:00Z")),
        Some(at("2026-11-03T00:00:00Z")),
        "strictly after"
    );
    let s = parse("every 3 days at 12:30 AM from 2026-11-01", "UTC");
    assert_eq!(
        next_n(&s, "2026-11-01T00:30:00Z", 3),
        [
            "2026-11-04T00:30:00Z",
            "2026-11-07T00:30:00Z",
            "2026-11-10T00:30:00Z"
        ]
    );
    assert_eq!(
        s.last_at_or_before(at("2026-11-06T23:00:00Z")),
        Some(at("2026-11-04T00:30:00Z"))
    );
    let s = parse("cron 15 */6 * * *", "UTC");
    assert_eq!(
        next_n(&s, "2026-11-01T05:00:00Z", 2),
        ["2026-11-01T06:15:00Z", "2026-11-01T12:15:00Z"]
    );

    for (bad, says) in [
        ("weekly on monday", "daily at 02:00"),
        ("daily at 25:00", "not a time"),
        ("daily at 13:00 PM", "not a time"),
        ("every 0 days at 1:00 AM", "number of days"),
        ("every 2 days at 1:00 AM from yesterday", "YYYY-MM-DD"),
        ("cron 0 2 * *", "five fields"),
        ("cron 0 99 * * *", "99"),
    ] {
        let e = Schedule::parse(bad, TimeZone::UTC, date(2026, 1, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains(bad) && e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn spring_forward_runs_a_time_in_the_gap_at_the_end_of_the_gap() {
    // New York jumps from 02:00 EST to 03:00 EDT on 2026-03-08 (07:00 UTC).
    for text in [
        "daily at 02:30",
        "every 1 day at 2:30 AM from 2026-01-01",
        "cron 30 2 * * *",
    ] {
        let s = parse(text, "America/New_York");
        assert_eq!(
            next_n(&s, "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T07:00:00Z", // 03:00 EDT, the first instant after the gap
                "2026-03-09T06:30:00Z", // 02:30 EDT
                "2026-03-10T06:30:00Z",
            ],
            "{text}"
        );
    }
    // Berlin jumps from 02:00 CET to 03:00 CEST on 2026-03-29 (01:00 UTC).
    for text in ["daily at 02:30", "cron 30 2 * * *"] {
        let s = parse(text, "Europe/Berlin");
        assert_eq!(
            next_n(&s, "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"],
            "{text}"
        );
    }
    // Times outside the gap are not moved.
    let s = parse("daily at 03:30", "America/New_York");
    assert_eq!(
        next_n(&s, "2026-03-07T12:00:00Z", 2),
        ["2026-03-08T07:30:00Z", "2026-03-09T07:30:00Z"]
    );
}

#[test]
fn fall_back_runs_a_time_in_the_overlap_once_at_its_first_occurrence() {
    // New York goes from 02:00 EDT back to 01:00 EST on 2026-11-01 (06:00 UTC).
    for text in [
        "daily at 01:30",
        "every 1 day at 1:30 AM from 2026-01-01",
        "cron 30 1 * * *",
    ] {
        let s = parse(text, "America/New_York");
        assert_eq!(
            next_n(&s, "2026-10-31T12:00:00Z", 3),
            [
                "2026-11-01T05:30:00Z", // 01:30 EDT, the first of the two
                "2026-11-02T06:30:00Z", // 01:30 EST
                "2026-11-03T06:30:00Z",
            ],
            "{text}"
        );
    }
    // Berlin goes from 03:00 CEST back to 02:00 CET on 2026-10-25 (01:00 UTC).
    for text in ["daily at 02:30", "cron 30 2 * * *"] {
        let s = parse(text, "Europe/Berlin");
        assert_eq!(
            next_n(&s, "2026-10-24T12:00:00Z", 2),
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
            "{text}"
        );
    }
}

#[test]
fn every_n_days_keeps_its_cycle_across_daylight_saving_changes() {
    let s = parse(
        "every 2 days at 11:00 PM from 2026-03-01",
        "America/New_York",
    );
    assert_eq!(
        next_n(&s, "2026-03-06T00:00:00Z", 3),
        [
            "2026-03-06T04:00:00Z", // 2026-03-05 23:00 EST
            "2026-03-08T04:00:00Z", // 2026-03-07 23:00 EST
            "2026-03-10T03:00:00Z", // 2026-03-09 23:00 EDT, after the change
        ]
    );
}
