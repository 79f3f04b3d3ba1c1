//! Time as clown shows and counts it: RFC 3339 in UTC with second precision for the API,
//! and local calendar days (the start of a day, the day of a timestamp) in a time zone.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Unit};

pub fn now() -> Timestamp {
    Timestamp::now()
}

pub fn now_rfc3339() -> String {
    rfc3339(now())
}

pub fn rfc3339(ts: Timestamp) -> String {
    ts.round(Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ts.to_string())
}

/// Unix seconds of the first instant of `date` in `tz` (DST-aware).
pub fn day_start(date: Date, tz: &TimeZone) -> i64 {
    date.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_second())
        .unwrap_or(0)
}

/// The local calendar date of `ts` in `tz`.
pub fn local_date(ts: i64, tz: &TimeZone) -> Option<Date> {
    Timestamp::from_second(ts)
        .ok()
        .map(|t| t.to_zoned(tz.clone()).date())
}
