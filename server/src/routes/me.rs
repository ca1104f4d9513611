//! `GET /api/v1/me`: the caller's user and scope.

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::Json;
use crate::routes::auth::UserView;
use axum::Router;
use axum::routing::get;
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

#[derive(Serialize)]
struct Me {
    user: UserView,
}

async fn me(auth: AuthUser) -> Json<Me> {
    Json(Me {
        user: (&auth.user).into(),
    })
}
