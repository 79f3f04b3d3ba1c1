//! Keeping raw usage events for a while: the `[usage] retention_days` setting (90 days by
//! default, 0 = forever). Older events are dropped; the rollups, which every report reads,
//! already hold them, so no total changes.

use crate::store::retention::{self, Pruned};
use crate::store::{Store, StoreError};

/// Drops the events older than `days` days (nothing when `days` is 0).
pub async fn prune(store: &Store, days: u32) -> Result<Pruned, StoreError> {
    if days == 0 {
        return Ok(Pruned::default());
    }
    let before = jiff::Timestamp::now().as_second() - i64::from(days) * 86_400;
    store.call(move |c| retention::prune(c, before)).await
}
