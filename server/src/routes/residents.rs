//! Residents' personal information (PIPL):
//!
//! - `GET /api/v1/residents`: the people of a field user's patch, for the phone's
//!   replaceable cache; masked, with clear values only where the role's phone keeps them
//!   (`sync::personal`), never an ID number. `ETag` / `If-None-Match` spare a resend.
//! - `POST /api/v1/residents`: corrections and new people's details, each stored or
//!   refused on its own.
//! - `POST /api/v1/residents/{pid}/reveal`: a clear value, for a role that may see it,
//!   with a reason; logged.
//! - `POST /api/v1/access-log`: reveals made offline on a phone, uploaded at its next sync.
//! - `POST /api/v1/residents/lookup` `{id_number}`: the person with this ID number (through
//!   the keyed hash), masked. A body, not a query string, so that no proxy's access log
//!   keeps the number.
//! - `GET /api/v1/visits/by-visitor?unit=&days=`: per person who visits, their visits,
//!   households and people seen in the last `days` (30 by default).
//! - `GET /api/v1/visits/due`: the visit schedule of a unit: counts per sector and one page
//!   of people, earliest due first, served from `members` so a supervisor never downloads
//!   a community's people to see a count.

use crate::AppState;
use crate::auth::AuthUser;
use crate::client_addr::client_ip;
use crate::db::now_ms;
use crate::db::residents::{Access, EditProblem};
use crate::error::{ApiError, Json, Query};
use crate::residents::{EditIn, ResidentView, validate};
use crate::routes::households::narrowed;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use haitang_sync::care::{self, DueState};
use haitang_sync::personal::{PersonalField, may_reveal, may_see_residents};
use haitang_sync::protocol::ErrorCode;
use haitang_sync::scope::{Principal, Scope};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/residents", get(list).post(edit))
        .route("/residents/lookup", post(lookup))
        .route("/residents/{pid}/reveal", post(reveal))
        .route("/access-log", post(upload_log))
        .route("/visits/due", get(due))
        .route("/visits/by-visitor", get(by_visitor))
}

/// Most edits, and most uploaded log entries, one request may carry.
pub const MAX_BATCH: usize = 500;
/// Longest reason for a reveal, in characters.
pub const MAX_REASON_CHARS: usize = 200;

fn no_residents() -> ApiError {
    ApiError::forbidden("department handlers work on dispatched cases and see no residents")
}

fn check_sees(auth: &AuthUser) -> Result<Principal, ApiError> {
    if may_see_residents(auth.user.role) {
        Ok(auth.user.principal())
    } else {
        Err(no_residents())
    }
}

fn reason_of(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::ReasonRequired,
            "say why you need to see this in clear; the reason is logged",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            format!("the reason is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.to_owned())
}

#[derive(Serialize)]
struct Residents {
    version: String,
    residents: Vec<ResidentView>,
}

async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = check_sees(&auth)?;
    if !auth.user.role.is_field() {
        return Err(ApiError::forbidden(
            "the whole list of residents is for field phones; supervisors page through /visits/due and /households",
        ));
    }
    let version = state.db.residents_version(principal.clone()).await?;
    let etag = format!("\"{version}\"");
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let rows = state.db.residents_in_scope(principal).await?;
    let role = auth.user.role;
    let body = Residents {
        version,
        residents: rows
            .into_iter()
            .map(|r| ResidentView::of(r, role, true))
            .collect(),
    };
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    // Personal data: never kept by a shared cache or the browser's HTTP cache.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditsIn {
    edits: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct EditResult {
    pid: Option<String>,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Serialize)]
struct EditsOut {
    results: Vec<EditResult>,
}

pub(crate) fn this_year(now: i64) -> i64 {
    // Days since the epoch to a civil year (Howard Hinnant's algorithm), UTC+8.
    let days = (now + 8 * 3_600_000).div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

async fn edit(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(body): Json<EditsIn>,
) -> Result<Json<EditsOut>, ApiError> {
    let principal = check_sees(&auth)?;
    if body.edits.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            ErrorCode::TooLarge,
            format!("at most {MAX_BATCH} edits per request"),
        ));
    }
    let year = this_year(now_ms());
    let mut results: Vec<Option<EditResult>> = Vec::with_capacity(body.edits.len());
    let mut valid = Vec::new();
    for (i, raw) in body.edits.into_iter().enumerate() {
        let pid = raw.get("pid").and_then(|p| p.as_str()).map(str::to_owned);
        let parsed = serde_json::from_value::<EditIn>(raw)
            .map_err(|e| format!("edit {i}: {e}"))
            .and_then(|e| validate(e, &state.ids, year).map_err(|m| format!("edit {i}: {m}")));
        match parsed {
            Ok(e) => {
                valid.push((i, e));
                results.push(None);
            }
            Err(message) => results.push(Some(EditResult {
                pid,
                ok: false,
                code: Some(ErrorCode::InvalidResident.as_str()),
                message: Some(message),
            })),
        }
    }
    let (idx, edits): (Vec<usize>, Vec<_>) = valid.into_iter().unzip();
    let pids: Vec<String> = edits.iter().map(|e| e.pid.clone()).collect();
    let stored = state.db.edit_residents(principal, edits).await?;
    for ((i, pid), outcome) in idx.into_iter().zip(pids).zip(stored) {
        let (code, message) = match outcome {
            Ok(()) => (None, None),
            Err(EditProblem::OutOfScope) => (
                Some(ErrorCode::NotFound),
                Some(format!(
                    "no household in your area lists person {pid}; push the household first"
                )),
            ),
            Err(EditProblem::Erased) => (
                Some(ErrorCode::Erased),
                Some(format!(
                    "person {pid}'s personal data was erased and cannot be filled in again"
                )),
            ),
            Err(EditProblem::DuplicateId(other)) => (
                Some(ErrorCode::DuplicateIdNumber),
                Some(format!(
                    "this ID number is already registered for person {other}"
                )),
            ),
            Err(EditProblem::UnknownTag(tag)) => (
                Some(ErrorCode::InvalidResident),
                Some(format!("care tag {tag:?} is not in the catalogue")),
            ),
        };
        results[i] = Some(EditResult {
            pid: Some(pid),
            ok: code.is_none(),
            code: code.map(ErrorCode::as_str),
            message,
        });
    }
    Ok(Json(EditsOut {
        results: results.into_iter().flatten().collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevealIn {
    fields: Vec<PersonalField>,
    reason: String,
    /// `call`: the reveal is for a phone call (a `tel:` link).
    #[serde(default)]
    call: bool,
}

#[derive(Serialize)]
struct Revealed {
    pid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_number: Option<String>,
}

fn fields_text(fields: &[PersonalField]) -> String {
    fields
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

async fn reveal(
    State(state): State<AppState>,
    auth: AuthUser,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(pid): Path<String>,
    Json(body): Json<RevealIn>,
) -> Result<Json<Revealed>, ApiError> {
    let principal = check_sees(&auth)?;
    let mut fields = body.fields;
    fields.sort();
    fields.dedup();
    if fields.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidBody,
            "name at least one field to reveal: name, phone or id_number",
        ));
    }
    let role = auth.user.role;
    if let Some(f) = fields.iter().find(|f| !may_reveal(role, **f)) {
        return Err(ApiError::forbidden(format!(
            "a {role} may not see {f} in clear"
        )));
    }
    let reason = reason_of(&body.reason)?;
    let row = state
        .db
        .resident(principal, pid.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no person {pid} in your area")))?;
    if row.erased {
        return Err(ApiError::client(
            StatusCode::GONE,
            ErrorCode::Erased,
            format!("person {pid}'s personal data was erased"),
        ));
    }
    let client = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    state
        .db
        .log_access(vec![Access {
            at: now_ms(),
            user_id: auth.user.id,
            role: role.as_str().to_owned(),
            action: if body.call { "call" } else { "reveal" }.to_owned(),
            pid: Some(pid.clone()),
            fields: fields_text(&fields),
            reason,
            via: "server".to_owned(),
            client: Some(client.to_string()),
        }])
        .await?;
    let has = |f: PersonalField| fields.contains(&f);
    Ok(Json(Revealed {
        pid,
        name: row.name.filter(|_| has(PersonalField::Name)),
        phone: row.phone.filter(|_| has(PersonalField::Phone)),
        id_number: row.id_number.filter(|_| has(PersonalField::IdNumber)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntryIn {
    pid: String,
    fields: Vec<PersonalField>,
    reason: String,
    /// When the phone showed it, ms since the epoch.
    at: i64,
    #[serde(default)]
    call: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogIn {
    entries: Vec<LogEntryIn>,
}

#[derive(Serialize)]
struct Logged {
    logged: usize,
}

/// Reveals a phone made offline from its cache. Each must be one the role may make of a
/// person in the user's area; the whole upload is refused otherwise, and the phone keeps
/// it to show its user.
async fn upload_log(
    State(state): State<AppState>,
    auth: AuthUser,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LogIn>,
) -> Result<Json<Logged>, ApiError> {
    let principal = check_sees(&auth)?;
    if body.entries.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            ErrorCode::TooLarge,
            format!("at most {MAX_BATCH} entries per request"),
        ));
    }
    let role = auth.user.role;
    let client = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let now = now_ms();
    let mut entries = Vec::with_capacity(body.entries.len());
    for (i, e) in body.entries.into_iter().enumerate() {
        if e.fields.is_empty() || e.fields.iter().any(|f| !may_reveal(role, *f)) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("entry {i}: a {role} may not have revealed those fields"),
            ));
        }
        if !(0..=now + 300_000).contains(&e.at) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("entry {i}: `at` must be a time in the past, in ms since 1970"),
            ));
        }
        let reason = reason_of(&e.reason).map_err(|_| {
            ApiError::bad_request(
                ErrorCode::ReasonRequired,
                format!("entry {i}: a reason is required"),
            )
        })?;
        if state
            .db
            .resident(principal.clone(), e.pid.clone())
            .await?
            .is_none()
        {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("entry {i}: no person {} in your area", e.pid),
            ));
        }
        entries.push(Access {
            at: e.at,
            user_id: auth.user.id,
            role: role.as_str().to_owned(),
            action: if e.call { "call" } else { "reveal" }.to_owned(),
            pid: Some(e.pid),
            fields: fields_text(&e.fields),
            reason,
            via: "phone".to_owned(),
            client: Some(client.to_string()),
        });
    }
    let logged = entries.len();
    state.db.log_access(entries).await?;
    Ok(Json(Logged { logged }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupIn {
    id_number: String,
}

#[derive(Serialize)]
struct Found {
    resident: Option<ResidentView>,
}

async fn lookup(
    State(state): State<AppState>,
    auth: AuthUser,
    Json(q): Json<LookupIn>,
) -> Result<Json<Found>, ApiError> {
    let principal = check_sees(&auth)?;
    let id = haitang_sync::personal::normalise_id_number(&q.id_number)
        .map_err(|m| ApiError::bad_request(ErrorCode::InvalidBody, format!("`id_number` {m}")))?;
    let row = state
        .db
        .resident_by_id_hash(principal, state.ids.hash(&id))
        .await?;
    Ok(Json(Found {
        resident: row.map(|r| ResidentView::of(r, auth.user.role, false)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitorQuery {
    unit: Option<String>,
    days: Option<i64>,
}

#[derive(Serialize)]
struct Visitors {
    from: i64,
    visitors: Vec<crate::db::VisitorLine>,
}

async fn by_visitor(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<VisitorQuery>,
) -> Result<Json<Visitors>, ApiError> {
    let principal = check_sees(&auth)?;
    let scope = narrowed(&principal, q.unit.as_deref())?;
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "`days` must be 1 to 366",
        ));
    }
    let from = now_ms() - days * care::DAY_MS;
    let visitors = state.db.visits_by_visitor(scope, from).await?;
    Ok(Json(Visitors { from, visitors }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DueQuery {
    /// A unit in the caller's scope; the caller's own by default.
    unit: Option<String>,
    /// One state only; by default everyone due within `care::SOON_DAYS`, overdue included.
    state: Option<DueState>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct SectorCounts {
    sector: Option<String>,
    #[serde(flatten)]
    counts: crate::db::DueCounts,
}

#[derive(Serialize)]
struct DueItem {
    #[serde(flatten)]
    resident: ResidentView,
    state: DueState,
    grid: String,
    sector: Option<String>,
}

#[derive(Serialize)]
struct DueOut {
    unit: String,
    now: i64,
    total: crate::db::DueCounts,
    by_sector: Vec<SectorCounts>,
    items: Vec<DueItem>,
}

/// Most people one page lists.
pub const MAX_PAGE: i64 = 200;

async fn due(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<DueQuery>,
) -> Result<Json<DueOut>, ApiError> {
    let principal = check_sees(&auth)?;
    let scope = narrowed(&principal, q.unit.as_deref())?;
    let unit = match &scope {
        Scope::Subtree { path } | Scope::Sector { path } => path.clone(),
        Scope::Department { department } => department.clone(),
    };
    let limit = q.limit.unwrap_or(50);
    let offset = q.offset.unwrap_or(0);
    if !(1..=MAX_PAGE).contains(&limit) || offset < 0 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("`limit` must be 1 to {MAX_PAGE} and `offset` 0 or more"),
        ));
    }
    let now = now_ms();
    let (day, soon) = (now + care::DAY_MS, now + care::SOON_DAYS * care::DAY_MS);
    let (from, to) = match q.state {
        None => (i64::MIN, soon),
        Some(DueState::Overdue) => (i64::MIN, now),
        Some(DueState::Due) => (now, day),
        Some(DueState::Soon) => (day, soon),
        Some(DueState::Later) => (soon, i64::MAX),
    };
    let summary = state.db.due_summary(scope.clone(), now).await?;
    let rows = state.db.due_page(scope, from, to, limit, offset).await?;
    let role = auth.user.role;
    Ok(Json(DueOut {
        unit,
        now,
        total: summary.total,
        by_sector: summary
            .by_sector
            .into_iter()
            .map(|(sector, counts)| SectorCounts { sector, counts })
            .collect(),
        items: rows
            .into_iter()
            .map(|r| {
                let (grid, sector) = (r.grid.clone(), r.sector.clone());
                let resident = ResidentView::of(r, role, false);
                let state = resident.due_state(now).unwrap_or(DueState::Later);
                DueItem {
                    resident,
                    state,
                    grid,
                    sector,
                }
            })
            .collect(),
    }))
}
