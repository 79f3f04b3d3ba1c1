//! `/api/registry`: which catalogue is served, and syncing a newer one by git.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, ok};
use super::extract::ApiQuery;
use crate::app::AppState;
use crate::registry::{self, RegistryError, sync};

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotConfigured => ApiError::bad_request(e.to_string()),
            RegistryError::Git { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("Registry sync failed: {e}"),
            ),
            RegistryError::Invalid(_)
            | RegistryError::Parse { .. }
            | RegistryError::Read { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "Registry sync rejected the fetched catalogue (the previous one stays): {e}"
                ),
            ),
            RegistryError::Cache { .. } => ApiError::internal(e),
        }
    }
}

fn status_json(state: &AppState) -> Value {
    let config = state.config();
    let sync = state.sync_state();
    let catalogue = state.catalogue();
    json!({
        "channel": config.registry.channel,
        "commit": sync.commit,
        "last_sync": sync.last_sync,
        "cached": sync.commit.is_some(),
        "url": config.registry.url,
        "agents": catalogue.agents.len(),
        "providers": catalogue.providers.len(),
        "priced_models": catalogue.prices.len(),
    })
}

pub async fn status(State(state): State<AppState>) -> ApiResult {
    Ok(ok(status_json(&state)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    #[serde(default)]
    force: bool,
}

pub async fn sync(State(state): State<AppState>, ApiQuery(q): ApiQuery<SyncQuery>) -> ApiResult {
    let _running = state.sync_lock().lock().await;
    let config = state.config();
    let cache = registry::cache_dir(state.paths());
    let outcome = sync::sync(
        &cache,
        &config.registry.url,
        &config.registry.channel,
        q.force,
        &state.sync_state(),
    )
    .await?;
    let updated = match outcome {
        sync::Outcome::Updated(catalogue, sync_state) => {
            let mut catalogue = *catalogue;
            registry::overlay_user_files(&mut catalogue, &registry::user_dir(state.paths()));
            tracing::info!(
                "registry synced to commit {}",
                sync_state.commit.as_deref().unwrap_or("?")
            );
            state.set_catalogue(catalogue, sync_state);
            true
        }
        sync::Outcome::Fresh => false,
    };
    let mut data = status_json(&state);
    data["updated"] = json!(updated);
    if updated {
        state.events().publish("registry_synced", data.clone());
    }
    Ok(ok(data))
}
