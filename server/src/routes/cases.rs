//! `GET /api/v1/cases`: supervisors' inboxes, queried server-side over the projection and
//! paged, so a street supervisor never downloads the whole street. The records themselves
//! come through sync (`want`), where actions are taken as Automerge changes.
//! `GET /api/v1/cases/rates`: the rates the districts are judged on, for the caller's scope.

use crate::AppState;
use crate::auth::AuthUser;
use crate::db::records::{CasePage, CaseQuery, Rates};
use crate::error::{ApiError, Json, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

/// Longest title search, in characters. Titles are short; a longer `q` is no search
/// anyone types, and SQLite refuses a LIKE pattern past 50,000 bytes with an error.
const MAX_Q_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(cases))
        .route("/cases/rates", get(rates))
}

async fn cases(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(query): Query<CaseQuery>,
) -> Result<Json<CasePage>, ApiError> {
    if let Some(under) = &query.under
        && !haitang_sync::scope::is_valid_path(under)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "`under` must be a unit path like /gusu/byw",
        ));
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_Q_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`q` may be at most {MAX_Q_CHARS} characters"),
        ));
    }
    Ok(Json(state.db.cases(auth.user.principal(), query).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    from: Option<i64>,
    to: Option<i64>,
}

async fn rates(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(period): Query<Period>,
) -> Result<Json<Rates>, ApiError> {
    Ok(Json(
        state
            .db
            .rates(auth.user.principal(), period.from, period.to)
            .await?,
    ))
}
