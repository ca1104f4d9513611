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
    let mut info = json!({
        "name": "Haitang",
        "version": env!("CARGO_PKG_VERSION"),
        "demo": state.config.demo,
    });
    // A first run that explains itself: the login page lists the accounts to try. Only a
    // demo says this; its accounts and password are public by design.
    if state.config.demo {
        info["demo_password"] = json!(crate::demo::PASSWORD);
        info["demo_accounts"] = crate::demo::ACCOUNTS
            .iter()
            .map(|(username, name, role, _, _)| {
                json!({ "username": username, "name": name, "role": role.as_str() })
            })
            .collect();
    }
    Json(info)
}
