//! `GET /api/v1/cases`: supervisors' inboxes, queried server-side over the projection and
//! paged, so a street supervisor never downloads the whole street. The records themselves
//! come through sync (`want`), where actions are taken as Automerge changes.
//! `GET /api/v1/cases/rates`: the rates the districts are judged on, for the caller's scope.

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, Json, Query};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use haitang_sync::protocol::ErrorCode;
use serde::{Deserialize, Serialize};

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
            ErrorCode::InvalidQuery,
            "`under` must be a unit path like /gusu/byw",
        ));
    }
    if query
        .q
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_Q_CHARS)
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
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

/// Which inbox bucket to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Everything in scope that matches the filters.
    All,
    /// Reported and waiting at the caller's level.
    New,
    /// Escalated to the caller's level and still open.
    Escalated,
    /// Reported back and waiting for the caller to verify.
    AwaitingVerification,
    /// Past the handling deadline and still open.
    Overdue,
    /// Concurrent actions left different statuses.
    Conflicting,
    /// Dispatched to the caller (handlers, assigned grid staff) and not yet reported back.
    Mine,
}

impl Bucket {
    pub const COUNTED: [Bucket; 6] = [
        Bucket::New,
        Bucket::Escalated,
        Bucket::AwaitingVerification,
        Bucket::Overdue,
        Bucket::Conflicting,
        Bucket::Mine,
    ];
}

/// Filters of an inbox query; every one optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    pub bucket: Option<Bucket>,
    pub level: Option<String>,
    /// A grid path, or any unit path: records under it.
    pub under: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub urgency: Option<String>,
    pub kind: Option<String>,
    /// Reported at or after (ms).
    pub from: Option<i64>,
    /// Reported before (ms).
    pub to: Option<i64>,
    /// Words in the title.
    pub q: Option<String>,
    /// `reported_at` (newest first, the default), `due_at` (soonest first) or `updated_at`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub level: String,
    pub urgency: String,
    pub grid: String,
    pub sector: Option<String>,
    pub department: Option<String>,
    pub assignee: Option<i64>,
    pub reported_by: i64,
    pub reported_at: i64,
    pub updated_at: i64,
    pub due_at: Option<i64>,
    pub overdue: bool,
    pub urged: bool,
    pub conflict: bool,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CasePage {
    pub total: i64,
    pub items: Vec<CaseSummary>,
    /// How many records each bucket holds for the caller, whatever the filters.
    pub counts: std::collections::BTreeMap<&'static str, i64>,
}

/// The rates the districts are judged on, for the caller's scope.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    pub reported: i64,
    pub open: i64,
    pub overdue: i64,
    pub closed: i64,
    /// Rectified (resolved or closed, not as a duplicate) ÷ patrol events that needed it.
    pub rectification_rate: Option<f64>,
    /// Closed ÷ cases due to be closed (closed, or past their deadline).
    pub closure_rate: Option<f64>,
    /// Closed by the deadline ÷ cases due to be closed.
    pub on_time_closure_rate: Option<f64>,
    /// Mean hours from report to close.
    pub average_completion_hours: Option<f64>,
    /// Returned at least once ÷ closed.
    pub rework_rate: Option<f64>,
}
