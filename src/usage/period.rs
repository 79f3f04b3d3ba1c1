//! Usage periods: calendar ranges in the daemon's local time zone (DESIGN §10).
//!
//! `today`, `yesterday`, `week` (from Monday), `month` (from the 1st), `7d` and `30d`
//! (today and the 6 / 29 days before), `all`. Each is a half-open range of Unix seconds
//! `[start, end)`; `all` starts at 0 and ends at the end of today.

use jiff::civil::{Date, Weekday};
use jiff::{ToSpan, Zoned};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Today,
    Yesterday,
    Week,
    Month,
    Days7,
    Days30,
    All,
}

pub const NAMES: &str = "today, yesterday, week, month, 7d, 30d, all";

impl Period {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "today" => Self::Today,
            "yesterday" => Self::Yesterday,
            "week" => Self::Week,
            "month" => Self::Month,
            "7d" => Self::Days7,
            "30d" => Self::Days30,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Today => "Today",
            Self::Yesterday => "Yesterday",
            Self::Week => "This week",
            Self::Month => "This month",
            Self::Days7 => "Last 7 days",
            Self::Days30 => "Last 30 days",
            Self::All => "All time",
        }
    }

    /// The first and last calendar day (inclusive) of the period as of `now`; `None`
    /// start for `all`.
    pub fn days(self, now: &Zoned) -> (Option<Date>, Date) {
        let today = now.date();
        let back = |n: i64| today.checked_sub(n.days()).unwrap_or(today);
        match self {
            Self::Today => (Some(today), today),
            Self::Yesterday => (Some(back(1)), back(1)),
            Self::Week => {
                let since_monday = today.weekday().since(Weekday::Monday) as i64;
                (Some(back(since_monday)), today)
            }
            Self::Month => (Some(today.first_of_month()), today),
            Self::Days7 => (Some(back(6)), today),
            Self::Days30 => (Some(back(29)), today),
            Self::All => (None, today),
        }
    }

    /// `[start, end)` in Unix seconds, as of `now`, in `now`'s time zone.
    pub fn range(self, now: &Zoned) -> (i64, i64) {
        let (first, last) = self.days(now);
        let tz = now.time_zone();
        let start = first.map(|d| day_start(d, tz)).unwrap_or(0);
        let end = last
            .tomorrow()
            .map(|d| day_start(d, tz))
            .unwrap_or(i64::MAX);
        (start, end)
    }
}

pub use crate::time::{day_start, local_date};

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn at(s: &str, tz: &str) -> Zoned {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get(tz).unwrap())
            .unwrap()
    }

    fn ts(s: &str, tz: &str) -> i64 {
        at(s, tz).timestamp().as_second()
    }

    #[test]
    fn today_and_yesterday_around_midnight() {
        let tz = "Pacific/Auckland";
        let now = at("2026-03-02T00:00:30", tz);
        let (s, e) = Period::Today.range(&now);
        assert_eq!(s, ts("2026-03-02T00:00:00", tz));
        assert_eq!(e, ts("2026-03-03T00:00:00", tz));
        let (s, e) = Period::Yesterday.range(&now);
        assert_eq!(s, ts("2026-03-01T00:00:00", tz));
        assert_eq!(e, ts("2026-03-02T00:00:00", tz));
        // One second before midnight is still yesterday.
        let before = ts("2026-03-01T23:59:59", tz);
        assert!(before >= s && before < e);
    }

    #[test]
    fn week_starts_monday() {
        let tz = "Europe/Berlin";
        // 2026-03-01 is a Sunday: the week began Monday 2026-02-23.
        let now = at("2026-03-01T23:59:59", tz);
        let (s, _) = Period::Week.range(&now);
        assert_eq!(s, ts("2026-02-23T00:00:00", tz));
        // On a Monday the week starts that day.
        let now = at("2026-03-02T00:00:01", tz);
        let (s, _) = Period::Week.range(&now);
        assert_eq!(s, ts("2026-03-02T00:00:00", tz));
    }

    #[test]
    fn month_and_rolling_ranges() {
        let tz = "America/New_York";
        let now = at("2026-03-01T00:10:00", tz);
        assert_eq!(Period::Month.range(&now).0, ts("2026-03-01T00:00:00", tz));
        let now = at("2026-02-28T23:50:00", tz);
        assert_eq!(Period::Month.range(&now).0, ts("2026-02-01T00:00:00", tz));
        let now = at("2026-03-10T12:00:00", tz);
        assert_eq!(Period::Days7.range(&now).0, ts("2026-03-04T00:00:00", tz));
        assert_eq!(Period::Days30.range(&now).0, ts("2026-02-09T00:00:00", tz));
        // 2026-03-08 is a DST change in New York: that day has 23 hours.
        let day = Period::Today.range(&at("2026-03-08T12:00:00", tz));
        assert_eq!(day.1 - day.0, 23 * 3600);
    }

    #[test]
    fn parse_and_labels() {
        assert_eq!(Period::parse("week").unwrap().label(), "This week");
        assert!(Period::parse("fortnight").is_none());
        assert_eq!(Period::All.range(&at("2026-03-10T12:00:00", "UTC")).0, 0);
    }
}
