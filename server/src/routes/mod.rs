//! One file per resource under `/api/v1`.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod blobs;
pub mod cases;
pub mod catalogue;
pub mod health;
pub mod households;
pub mod info;
pub mod me;
pub mod people;
pub mod residents;
pub mod sync;
pub mod units;

use crate::AppState;
use crate::error::api_not_found;
use axum::Router;

pub fn api(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(info::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(people::router())
        .merge(residents::router())
        .merge(households::router())
        .merge(admin::router())
        .merge(catalogue::router())
        .merge(cases::router())
        .merge(sync::router(&state))
        .merge(blobs::router(&state))
        .merge(units::router())
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> crate::error::ApiError {
    crate::error::ApiError::client(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        haitang_sync::protocol::ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}
