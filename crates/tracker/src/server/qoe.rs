//! `GET /qoe`: the control-group experiment's figures per channel, group and tag.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::Shared;

/// Most channels one `GET /qoe` lists.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize)]
pub(crate) struct QoeQuery {
    channel: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn get_qoe(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<QoeQuery>,
) -> impl IntoResponse {
    let limit = q.limit.unwrap_or(100).min(MAX_LISTED);
    let channels = shared
        .core()
        .tracker
        .qoe()
        .view(q.channel.as_deref(), limit);
    Json(serde_json::json!({ "channels": channels }))
}
