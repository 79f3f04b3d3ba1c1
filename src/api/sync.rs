//! `/api/sync/status`: how the push of this machine's usage to the shared database goes.

use axum::extract::State;

use super::error::{ApiResult, ok};
use crate::app::AppState;

pub async fn status(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.syncer().status_now().await))
}
