//! Timestamps as the API shows them: RFC 3339 in UTC with second precision.

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
