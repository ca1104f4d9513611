//! `GET /api/v1/catalogue`: the categories records are filed under, with names in both
//! languages, default handling times and whether field staff may resolve them on the spot.
//! Public: it holds nothing private, and the app caches it before anyone signs in.

use crate::AppState;
use crate::error::{ApiError, Json};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/catalogue", get(catalogue))
}

#[derive(Serialize)]
struct Catalogue {
    categories: Vec<CategoryRow>,
    /// The care tags residents may carry, and how often each is visited by default.
    care_tags: Vec<CareTagRow>,
}

#[derive(Serialize)]
struct CareTagRow {
    code: String,
    name_zh: String,
    name_en: String,
    interval_days: Option<i64>,
}

async fn catalogue(State(state): State<AppState>) -> Result<Json<Catalogue>, ApiError> {
    Ok(Json(Catalogue {
        categories: state.db.categories().await?,
        care_tags: state
            .db
            .care_tags()
            .await?
            .into_iter()
            .map(|(code, name_zh, name_en, interval_days)| CareTagRow {
                code,
                name_zh,
                name_en,
                interval_days,
            })
            .collect(),
    }))
}

/// A category as the apps show and file records under it.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryRow {
    pub code: String,
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    pub kinds: Vec<String>,
    pub handling_hours: i64,
    pub field_resolvable: bool,
}
