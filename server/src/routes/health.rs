//! `GET /healthz` (the process answers) and `GET /readyz` (and so does the database).

use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use haitang_sync::protocol::ErrorCode;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.db.ping().await.map_err(|e| {
        ApiError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            format!("the database does not answer: {e}"),
        )
    })?;
    Ok(Json(json!({"status": "ready"})))
}
