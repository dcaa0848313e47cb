//! When a job runs: a 5-field cron expression (or `@hourly`, `@daily`, `@weekly`, `@monthly`,
//! `@yearly`) evaluated in an IANA time zone.
//!
//! The pattern matching and the daylight-saving rules come from the `croner` crate (Open Cron
//! Pattern Specification, Vixie-cron behaviour):
//! - a fixed-time job (`30 2 * * *`) whose wall-clock time does not exist on a spring-forward
//!   day runs at the first minute after the gap, the same day; on a fall-back day it runs once,
//!   at the first of the two instants;
//! - an interval job (`*/15 * * * *`) skips the missing hour and runs in both passes of a
//!   repeated one.
//!
//! Every time handed in and out of this module is an instant (`DateTime<Utc>`); only the
//! pattern is read in wall-clock time.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A validated schedule: a cron pattern and the zone its wall-clock fields are read in.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    cron: Cron,
    tz: Tz,
}

impl CronSchedule {
    /// Parses a 5-field pattern or nickname for zone `tz`. The error says what is wrong.
    pub fn parse(text: &str, tz: Tz) -> Result<Self, String> {
        let text = text.trim();
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && fields != 5 {
            return Err(format!(
                "invalid schedule {text:?}: expected 5 fields (minute hour day-of-month month \
                 day-of-week) or @hourly/@daily/@weekly/@monthly/@yearly, found {fields} field(s)"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| format!("invalid schedule {text:?}: {e}"))?;
        Ok(Self {
            text: text.to_string(),
            cron,
            tz,
        })
    }

    /// A zone by IANA name (`UTC`, `Asia/Shanghai`, `America/New_York`).
    pub fn parse_zone(name: &str) -> Result<Tz, String> {
        Tz::from_str(name.trim()).map_err(|_| {
            format!(
                "unknown time zone {:?}: expected an IANA name such as UTC, Europe/Berlin or Asia/Shanghai",
                name.trim()
            )
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The zone the pattern is read in.
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// The first run strictly after `t`, if any before the year 5000.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last run at or before `t`, if any.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&t.with_timezone(&self.tz), true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// Runs in `(after, upto]`, oldest first, at most `cap` of them (the most recent `cap` when
    /// there are more).
    pub fn between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
        cap: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = upto;
        let mut inclusive = true;
        // Walk backwards from `upto` so a long downtime costs `cap` steps, not one per run.
        while out.len() < cap {
            let Ok(prev) = self
                .cron
                .find_previous_occurrence(&cursor.with_timezone(&self.tz), inclusive)
            else {
                break;
            };
            let prev = prev.with_timezone(&Utc);
            if prev <= after {
                break;
            }
            out.push(prev);
            cursor = prev;
            inclusive = false;
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next_n(s: &CronSchedule, from: &str, n: usize) -> Vec<String> {
        let mut t = utc(from);
        let mut out = vec![];
        for _ in 0..n {
            t = s.next_after(t).unwrap();
            out.push(t.with_timezone(&s.zone()).to_rfc3339());
        }
        out
    }

    #[test]
    fn month_ends_and_leap_days() {
        let s = CronSchedule::parse("0 0 31 * *", Tz::UTC).unwrap();
        assert_eq!(
            next_n(&s, "2026-01-31T00:00:00Z", 3),
            [
                "2026-03-31T00:00:00+00:00",
                "2026-05-31T00:00:00+00:00",
                "2026-07-31T00:00:00+00:00"
            ],
            "months without a 31st are skipped"
        );
        let s = CronSchedule::parse("0 6 L * *", Tz::UTC).unwrap();
        assert_eq!(
            next_n(&s, "2026-01-01T00:00:00Z", 3),
            [
                "2026-01-31T06:00:00+00:00",
                "2026-02-28T06:00:00+00:00",
                "2026-03-31T06:00:00+00:00"
            ]
        );
        let s = CronSchedule::parse("0 0 29 2 *", Tz::UTC).unwrap();
        assert_eq!(
            next_n(&s, "2026-03-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
        );
    }

    #[test]
    fn nicknames() {
        let weekly = CronSchedule::parse("@weekly", Tz::UTC).unwrap();
        // 2026-01-07 is a Wednesday; @weekly is Sunday midnight.
        assert_eq!(
            next_n(&weekly, "2026-01-07T12:00:00Z", 2),
            ["2026-01-11T00:00:00+00:00", "2026-01-18T00:00:00+00:00"]
        );
        let hourly = CronSchedule::parse("@hourly", Tz::UTC).unwrap();
        assert_eq!(
            next_n(&hourly, "2026-01-07T12:00:00Z", 1),
            ["2026-01-07T13:00:00+00:00"]
        );
        let daily = CronSchedule::parse("@DAILY", Tz::UTC).unwrap();
        assert_eq!(
            daily.latest_at_or_before(utc("2026-01-07T00:00:00Z")),
            Some(utc("2026-01-07T00:00:00Z")),
            "at-or-before includes the instant itself"
        );
    }

    #[test]
    fn spring_forward_in_new_york() {
        let ny = CronSchedule::parse_zone("America/New_York").unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day: the run
        // happens at the first minute after the gap, then back to 02:30 the next day.
        let s = CronSchedule::parse("30 2 * * *", ny).unwrap();
        assert_eq!(
            next_n(&s, "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T03:00:00-04:00",
                "2026-03-09T02:30:00-04:00",
                "2026-03-10T02:30:00-04:00"
            ]
        );
        // An interval job skips the hour that does not exist.
        let s = CronSchedule::parse("0 * * * *", ny).unwrap();
        let runs = next_n(&s, "2026-03-08T05:30:00Z", 3);
        assert_eq!(
            runs,
            [
                "2026-03-08T01:00:00-05:00",
                "2026-03-08T03:00:00-04:00",
                "2026-03-08T04:00:00-04:00"
            ]
        );
    }

    #[test]
    fn fall_back_in_new_york() {
        let ny = CronSchedule::parse_zone("America/New_York").unwrap();
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice. A fixed-time job
        // runs once, at the first of them.
        let s = CronSchedule::parse("30 1 * * *", ny).unwrap();
        assert_eq!(
            next_n(&s, "2026-11-01T00:00:00Z", 2),
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
        // An interval job runs in both passes of the repeated hour.
        let s = CronSchedule::parse("30 * * * *", ny).unwrap();
        assert_eq!(
            next_n(&s, "2026-11-01T04:00:00Z", 3),
            [
                "2026-11-01T00:30:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:30:00-05:00"
            ]
        );
        // A daily job in New York is 24 hours apart except across the change.
        let s = CronSchedule::parse("0 3 * * *", ny).unwrap();
        let a = s.next_after(utc("2026-10-31T00:00:00Z")).unwrap();
        let b = s.next_after(a).unwrap();
        assert_eq!((b - a).num_hours(), 25);
    }

    #[test]
    fn runs_between_two_instants() {
        let s = CronSchedule::parse("0 3 * * *", Tz::UTC).unwrap();
        let after = Tz::UTC
            .with_ymd_and_hms(2026, 1, 5, 3, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let upto = utc("2026-01-08T10:00:00Z");
        assert_eq!(
            s.between(after, upto, 10),
            [
                utc("2026-01-06T03:00:00Z"),
                utc("2026-01-07T03:00:00Z"),
                utc("2026-01-08T03:00:00Z")
            ]
        );
        assert_eq!(s.between(after, upto, 2).len(), 2);
        assert_eq!(s.between(after, upto, 2)[0], utc("2026-01-07T03:00:00Z"));
        assert!(s.between(upto, upto, 10).is_empty());
    }

    #[test]
    fn bad_patterns_and_zones_say_why() {
        for (p, want) in [
            ("0 3 * *", "expected 5 fields"),
            ("0 3 * * * *", "expected 5 fields"),
            ("61 3 * * *", "invalid schedule"),
            ("0 25 * * *", "invalid schedule"),
            ("@fortnightly", "invalid schedule"),
        ] {
            let e = CronSchedule::parse(p, Tz::UTC).unwrap_err();
            assert!(e.contains(want), "{p}: {e}");
        }
        assert!(
            CronSchedule::parse_zone("Mars/Olympus")
                .unwrap_err()
                .contains("unknown time zone")
        );
    }
}
