//! The server side of ucsync: schedules and the planner that decides when they are due. The
//! HTTP API, SCIM endpoint and web console come here with `ucsync serve` (issue 4).

pub mod planner;
pub mod schedule;

pub use planner::{Clock, Due, ManualClock, Planner, SystemClock};
pub use schedule::{Schedule, ScheduleError};
