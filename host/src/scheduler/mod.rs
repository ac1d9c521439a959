//! Schedules: when a cron schedule fires ([`CronSpec`]: pure time arithmetic — a cron expression in
//! an IANA time zone, and the fire times due since the last tick under the schedule's catch-up
//! policy), and the [`Scheduler`] that fires them: every server replica ticks every second, and each
//! fire time is claimed exactly once through the database (`schedule_fires` has a unique key on
//! `(schedule_id, fire_time)`), in the transaction that creates its run.
//!
//! Semantics (`../shared/research/queue.md` §2.3, tested below): five-field POSIX expressions (as CI
//! systems write them; `@daily` and friends, `L`, `W`, `#` too), no seconds field; times are
//! computed in the schedule's zone and stored in UTC; in the spring-forward gap a `02:30` daily
//! schedule fires at `03:00`; in the fall-back overlap a `01:30` daily schedule fires once.

mod cron;
mod ticker;

pub use cron::{CatchUp, CronSpec, Due, Overlap, ScheduleError};
pub use ticker::{Scheduler, Tick, run_of};
