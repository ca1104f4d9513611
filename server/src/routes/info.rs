//! `GET /api/v1/info`: what this server is, for the app's banner and about screen.

use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new().route("/info", get(info))
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "name": "Haitang",
        "version": env!("CARGO_PKG_VERSION"),
        "demo": state.config.demo,
    }))
}
