//! A cron expression in a time zone, and which fire times are due.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::str::FromStr;
use std::time::Duration;

/// Why a schedule's expression or zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not a cron expression croner accepts.
    #[error("invalid cron expression `{expr}`: {message}")]
    Expression {
        /// The expression.
        expr: String,
        /// Why.
        message: String,
    },
    /// Six or seven fields: a seconds field. Schedules run flows, not tight loops.
    #[error("cron expression `{0}` has a seconds field; write five fields: minute hour day-of-month month day-of-week")]
    Seconds(String),
    /// Not an IANA zone name.
    #[error("unknown time zone `{0}` (use an IANA name such as `Europe/Paris` or `UTC`)")]
    Zone(String),
}

/// What to do with fire times missed while no scheduler was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Fire only the latest missed time, if it is within the window (the default).
    Latest {
        /// How late a fire may still happen.
        window: Duration,
    },
    /// Fire every missed time within the window, at most 100 (more is refused as a backlog).
    All {
        /// How late a fire may still happen.
        window: Duration,
    },
    /// Never fire late.
    None,
}

impl CatchUp {
    /// The policy a schedule names (`latest`, `all`, `none`) with its window.
    pub fn from_policy(policy: &str, window: Duration) -> Result<CatchUp, String> {
        match policy {
            "latest" => Ok(CatchUp::Latest { window }),
            "all" => Ok(CatchUp::All { window }),
            "none" => Ok(CatchUp::None),
            other => Err(format!("unknown catch-up policy `{other}` (expected latest, all or none)")),
        }
    }
}

/// What a fire does while an earlier run of its schedule has not finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Start another run.
    Allow,
    /// Skip this fire (recorded as `skipped`): the default, so that a slow suite does not pile up.
    Forbid,
    /// Cancel the unfinished runs (their teardown runs), then start.
    Replace,
}

impl Overlap {
    /// The policy a schedule names (`allow`, `forbid`, `replace`).
    pub fn parse(policy: &str) -> Result<Overlap, String> {
        match policy {
            "allow" => Ok(Overlap::Allow),
            "forbid" => Ok(Overlap::Forbid),
            "replace" => Ok(Overlap::Replace),
            other => Err(format!("unknown overlap policy `{other}` (expected allow, forbid or replace)")),
        }
    }
}

/// The fire times due at a tick, and those given up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Due {
    /// Fire these (nominal times, oldest first).
    pub fire: Vec<DateTime<Utc>>,
    /// These were missed and are not fired (kept for the audit trail).
    pub missed: Vec<DateTime<Utc>>,
    /// The next fire time after `now`.
    pub next: Option<DateTime<Utc>>,
}

/// A parsed schedule expression in its zone.
#[derive(Debug, Clone)]
pub struct CronSpec {
    expr: String,
    zone: Tz,
    cron: Cron,
}

/// At most this many fire times are examined per tick (a schedule left off for years).
const MAX_EXAMINED: usize = 10_000;
/// `CatchUp::All` fires at most this many missed times (Kubernetes refuses more than 100).
const MAX_CATCH_UP: usize = 100;

impl CronSpec {
    /// Parses `expr` (five fields, or `@hourly`-style) in the IANA zone `zone`.
    pub fn parse(expr: &str, zone: &str) -> Result<CronSpec, ScheduleError> {
        let trimmed = expr.trim();
        if !trimmed.starts_with('@') && trimmed.split_whitespace().count() > 5 {
            return Err(ScheduleError::Seconds(trimmed.to_string()));
        }
        let cron = Cron::from_str(trimmed)
            .map_err(|e| ScheduleError::Expression { expr: trimmed.to_string(), message: e.to_string() })?;
        let zone = Tz::from_str(zone.trim()).map_err(|_| ScheduleError::Zone(zone.to_string()))?;
        Ok(CronSpec { expr: trimmed.to_string(), zone, cron })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The zone's IANA name.
    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The fire times in `(last, now]` and what to do with them under `catch_up`: a time within a
    /// second of `now` is on time; older ones are late.
    pub fn due(&self, last: DateTime<Utc>, now: DateTime<Utc>, catch_up: CatchUp) -> Due {
        let mut times = Vec::new();
        let mut cursor = last;
        while let Some(next) = self.next_after(cursor) {
            if next > now || times.len() >= MAX_EXAMINED {
                break;
            }
            times.push(next);
            cursor = next;
        }
        let mut due = Due { next: self.next_after(now), ..Due::default() };
        let late = |t: &DateTime<Utc>| (now - *t).to_std().unwrap_or_default();
        match catch_up {
            CatchUp::None => {
                for time in times {
                    if late(&time) <= Duration::from_secs(1) {
                        due.fire.push(time);
                    } else {
                        due.missed.push(time);
                    }
                }
            }
            CatchUp::Latest { window } => {
                if let Some(latest) = times.pop() {
                    if late(&latest) <= window.max(Duration::from_secs(1)) {
                        due.fire.push(latest);
                    } else {
                        due.missed.push(latest);
                    }
                }
                due.missed.splice(0..0, times);
            }
            CatchUp::All { window } => {
                let (within, older): (Vec<_>, Vec<_>) =
                    times.into_iter().partition(|t| late(t) <= window.max(Duration::from_secs(1)));
                due.missed = older;
                if within.len() > MAX_CATCH_UP {
                    due.missed.extend(within);
                } else {
                    due.fire = within;
                }
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
    }

    fn local(spec: &CronSpec, times: &[DateTime<Utc>]) -> Vec<String> {
        times.iter().map(|t| t.with_timezone(&spec.zone).format("%m-%d %H:%M %:z").to_string()).collect()
    }

    #[test]
    fn five_fields_and_nicknames_parse_and_seconds_or_bad_zones_are_refused() {
        assert!(CronSpec::parse("*/15 9-17 * * MON-FRI", "UTC").is_ok());
        assert!(CronSpec::parse("@daily", "Europe/Paris").is_ok());
        assert!(CronSpec::parse("0 12 L * *", "UTC").is_ok());
        assert!(matches!(CronSpec::parse("0 0 12 * * *", "UTC"), Err(ScheduleError::Seconds(_))));
        assert!(matches!(CronSpec::parse("61 * * * *", "UTC"), Err(ScheduleError::Expression { .. })));
        assert!(matches!(CronSpec::parse("0 * * * *", "Mars/Olympus"), Err(ScheduleError::Zone(_))));
    }

    #[test]
    fn a_daily_time_in_the_spring_forward_gap_fires_at_the_end_of_the_gap() {
        let spec = CronSpec::parse("30 2 * * *", "America/New_York").expect("spec");
        let due = spec.due(
            utc(2026, 3, 7, 12, 0),
            utc(2026, 3, 9, 12, 0),
            CatchUp::All { window: Duration::from_secs(86400 * 3) },
        );
        assert_eq!(local(&spec, &due.fire), ["03-08 03:00 -04:00", "03-09 02:30 -04:00"]);
    }

    #[test]
    fn a_daily_time_in_the_fall_back_overlap_fires_once_and_hourly_fires_at_both_instants() {
        let spec = CronSpec::parse("30 1 * * *", "America/New_York").expect("spec");
        let all = CatchUp::All { window: Duration::from_secs(86400 * 3) };
        let due = spec.due(utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0), all);
        assert_eq!(local(&spec, &due.fire), ["11-01 01:30 -04:00", "11-02 01:30 -05:00"]);
        let hourly = CronSpec::parse("0 * * * *", "America/New_York").expect("spec");
        let due = hourly.due(utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 6, 30), all);
        assert_eq!(local(&hourly, &due.fire), ["11-01 01:00 -04:00", "11-01 01:00 -05:00"]);
    }

    #[test]
    fn catch_up_policies_choose_what_fires_after_downtime() {
        let spec = CronSpec::parse("0 * * * *", "UTC").expect("spec");
        let (last, now) = (utc(2026, 1, 1, 0, 30), utc(2026, 1, 1, 5, 0));
        let latest = spec.due(last, now, CatchUp::Latest { window: Duration::from_secs(60) });
        assert_eq!(latest.fire, [utc(2026, 1, 1, 5, 0)]);
        assert_eq!(latest.missed.len(), 4);
        assert_eq!(latest.next, Some(utc(2026, 1, 1, 6, 0)));
        let all = spec.due(last, now, CatchUp::All { window: Duration::from_secs(3 * 3600) });
        assert_eq!(
            all.fire,
            [utc(2026, 1, 1, 2, 0), utc(2026, 1, 1, 3, 0), utc(2026, 1, 1, 4, 0), utc(2026, 1, 1, 5, 0)]
        );
        assert_eq!(all.missed, [utc(2026, 1, 1, 1, 0)]);
        let late = spec.due(last, utc(2026, 1, 1, 5, 10), CatchUp::Latest { window: Duration::from_secs(60) });
        assert!(late.fire.is_empty(), "10 minutes late is outside a 60 s window");
        let none = spec.due(last, now, CatchUp::None);
        assert_eq!(none.fire, [utc(2026, 1, 1, 5, 0)], "on time");
        assert_eq!(none.missed.len(), 4);
        let backlog = CronSpec::parse("* * * * *", "UTC").expect("spec");
        let refused = backlog.due(
            utc(2026, 1, 1, 0, 0),
            utc(2026, 1, 1, 3, 0),
            CatchUp::All { window: Duration::from_secs(86400) },
        );
        assert!(refused.fire.is_empty() && refused.missed.len() == 180, "more than 100 missed fires are refused");
    }
}
