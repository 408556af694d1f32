use jiff::civil::date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn schedule(text: &str, zone: &str) -> Schedule {
    Schedule::parse(text, TimeZone::get(zone).unwrap(), date(2026, 1, 1)).unwrap()
}

/// Moves the clock minute by minute from `from` to `to` and collects every run the planner
/// starts, as `id@instant`.
fn drive(planner: &mut Planner, clock: &ManualClock, to: &str) -> Vec<String> {
    let mut fired = Vec::new();
    while clock.now() < at(to) {
        clock.advance(SignedDuration::from_secs(60));
        for d in planner.due(clock.now()) {
            assert!(!d.catch_up);
            fired.push(format!("{}@{}", d.id, d.slot));
        }
    }
    fired
}

#[test]
fn a_clock_driven_through_spring_forward_fires_each_schedule_once_a_day() {
    let clock = ManualClock::new(at("2026-03-07T05:00:00Z"));
    let mut p = Planner::new();
    for (id, text, zone) in [
        ("ny-daily", "daily at 02:30", "America/New_York"),
        ("ny-cron", "cron 30 2 * * *", "America/New_York"),
        ("berlin", "daily at 02:30", "Europe/Berlin"),
    ] {
        p.set(id, schedule(text, zone), true, None, clock.now());
    }
    let mut fired = drive(&mut p, &clock, "2026-03-10T12:00:00Z");
    fired.sort();
    assert_eq!(
        fired,
        [
            "berlin@2026-03-08T01:30:00Z",
            "berlin@2026-03-09T01:30:00Z",
            "berlin@2026-03-10T01:30:00Z",
            "ny-cron@2026-03-07T07:30:00Z",
            "ny-cron@2026-03-08T07:00:00Z",
            "ny-cron@2026-03-09T06:30:00Z",
            "ny-cron@2026-03-10T06:30:00Z",
            "ny-daily@2026-03-07T07:30:00Z",
            "ny-daily@2026-03-08T07:00:00Z",
            "ny-daily@2026-03-09T06:30:00Z",
            "ny-daily@2026-03-10T06:30:00Z",
        ]
    );

    // Berlin's own spring-forward, three weeks later.
    clock.set(at("2026-03-28T00:00:00Z"));
    let mut p = Planner::new();
    p.set(
        "berlin",
        schedule("daily at 02:30", "Europe/Berlin"),
        true,
        None,
        clock.now(),
    );
    assert_eq!(
        drive(&mut p, &clock, "2026-03-30T12:00:00Z"),
        [
            "berlin@2026-03-28T01:30:00Z",
            "berlin@2026-03-29T01:00:00Z",
            "berlin@2026-03-30T00:30:00Z"
        ]
    );
}

#[test]
fn a_clock_driven_through_fall_back_never_fires_twice_in_the_repeated_hour() {
    let clock = ManualClock::new(at("2026-10-31T12:00:00Z"));
    let mut p = Planner::new();
    p.set(
        "ny",
        schedule("daily at 1:30 AM", "America/New_York"),
        true,
        None,
        clock.now(),
    );
    p.set(
        "ny-cron",
        schedule("cron 30 1 * * *", "America/New_York"),
        true,
        None,
        clock.now(),
    );
    let mut fired = drive(&mut p, &clock, "2026-11-02T12:00:00Z");
    fired.sort();
    assert_eq!(
        fired,
        [
            "ny-cron@2026-11-01T05:30:00Z",
            "ny-cron@2026-11-02T06:30:00Z",
            "ny@2026-11-01T05:30:00Z",
            "ny@2026-11-02T06:30:00Z",
        ]
    );

    clock.set(at("2026-10-24T12:00:00Z"));
    let mut p = Planner::new();
    p.set(
        "berlin",
        schedule("daily at 02:30", "Europe/Berlin"),
        true,
        None,
        clock.now(),
    );
    assert_eq!(
        drive(&mut p, &clock, "2026-10-26T12:00:00Z"),
        ["berlin@2026-10-25T00:30:00Z", "berlin@2026-10-26T01:30:00Z"]
    );
}

#[test]
fn downtime_gives_one_catch_up_run_and_a_jump_gives_one_run() {
    let now = at("2026-11-20T12:00:00Z");
    let daily = || schedule("daily at 02:00", "UTC");
    let mut p = Planner::new();
    // Last ran on the 15th: five slots were missed, one run catches up.
    p.set("late", daily(), true, Some(at("2026-11-15T02:00:00Z")), now);
    // Ran at today's slot: nothing owed.
    p.set(
        "current",
        daily(),
        true,
        Some(at("2026-11-20T02:00:00Z")),
        now,
    );
    // Never ran: nothing to catch up.
    p.set("new", daily(), true, None, now);
    // Disabled: nothing at all.
    p.set("off", daily(), false, Some(at("2026-11-01T02:00:00Z")), now);
    assert_eq!(p.next_wakeup(), Some(at("2026-11-20T02:00:00Z")));
    assert_eq!(
        p.due(now),
        [Due {
            id: "late".into(),
            slot: at("2026-11-20T02:00:00Z"),
            catch_up: true
        }]
    );
    assert!(p.due(now).is_empty(), "caught up once");
    assert_eq!(p.next_due("late"), Some(at("2026-11-21T02:00:00Z")));
    assert_eq!(p.next_due("off"), None);

    // The clock jumps four days: each enabled schedule runs once, for the latest slot.
    let later = at("2026-11-24T12:00:00Z");
    let due = p.due(later);
    assert_eq!(due.len(), 3, "{due:?}");
    assert!(due.iter().all(|d| d.slot == at("2026-11-24T02:00:00Z")));

    p.remove("late");
    assert_eq!(p.next_due("late"), None);
}
