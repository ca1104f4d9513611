//! The household registry for supervisors' screens and administrators:
//!
//! - `GET /api/v1/households?unit=&q=&tag=&overdue=&limit=&offset=`: search in scope, by
//!   number, address or a person's full name (matched on the server, never sent back in
//!   clear), paged.
//! - `GET /api/v1/households/{id}`: one household: its people (masked), their care plan,
//!   and the records about it (visits and needs).
//! - `POST /api/v1/admin/households/import`: a community's register as .xlsx or CSV (UTF-8
//!   or GBK), all or nothing (`households::import`).
//! - `GET /api/v1/admin/households/export?unit=&reveal=&reason=&format=`: the register in
//!   the import's columns, CSV or .xlsx; masked unless `reveal=true` with a reason, which is logged.
//! - `POST /api/v1/admin/residents/{pid}/erase`: erasure (PIPL art. 47), logged.
//! - `GET /api/v1/admin/access-log?from=&to=&pid=&format=csv`: who saw whose data in clear.

use crate::AppState;
use crate::auth::AuthUser;
use crate::client_addr::client_ip;
use crate::db::residents::Access;
use crate::db::{HouseholdLine, HouseholdRecord, now_ms};
use crate::error::{ApiError, Json, Query};
use crate::households::{ImportError, ImportReport, import};
use crate::residents::ResidentView;
use crate::routes::admin::Admin;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use haitang_sync::care::{self, DueState};
use haitang_sync::personal::{mask_id_number, mask_name, mask_phone, may_see_residents};
use haitang_sync::protocol::ErrorCode;
use haitang_sync::scope::{Principal, Scope, is_under};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Largest register file the import takes: 50,000 rows of a few hundred bytes each.
pub const MAX_REGISTER_BYTES: usize = 32 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/households", get(search))
        .route("/households/{id}", get(one))
        // A large community's register (`import::MAX_ROWS` people) is megabytes, far more
        // than the JSON endpoints take.
        .route(
            "/admin/households/import",
            post(import_register).layer(DefaultBodyLimit::max(MAX_REGISTER_BYTES)),
        )
        .route("/admin/households/export", get(export))
        .route("/admin/residents/{pid}/erase", post(erase))
        .route("/admin/access-log", get(access_log))
}

fn principal_of(auth: &AuthUser) -> Result<Principal, ApiError> {
    if may_see_residents(auth.user.role) {
        Ok(auth.user.principal())
    } else {
        Err(ApiError::forbidden(
            "department handlers work on dispatched cases and see no residents",
        ))
    }
}

/// The caller's scope, narrowed to `unit` when it lies inside it.
pub(crate) fn narrowed(principal: &Principal, unit: Option<&str>) -> Result<Scope, ApiError> {
    match (unit, principal.scope()) {
        (None, scope) => Ok(scope),
        (Some(unit), Scope::Subtree { path }) if is_under(unit, &path) => Ok(Scope::Subtree {
            path: unit.to_owned(),
        }),
        (Some(unit), Scope::Sector { path }) if unit == path => Ok(Scope::Sector { path }),
        (Some(unit), _) => Err(ApiError::forbidden(format!(
            "unit {unit} is outside your area"
        ))),
    }
}

fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let (limit, offset) = (limit.unwrap_or(50), offset.unwrap_or(0));
    if !(1..=200).contains(&limit) || offset < 0 {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "`limit` must be 1 to 200 and `offset` 0 or more",
        ));
    }
    Ok((limit, offset))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    unit: Option<String>,
    q: Option<String>,
    tag: Option<String>,
    #[serde(default)]
    overdue: bool,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct Households {
    households: Vec<HouseholdLine>,
}

async fn search(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Households>, ApiError> {
    let principal = principal_of(&auth)?;
    let scope = narrowed(&principal, q.unit.as_deref())?;
    let (limit, offset) = page(q.limit, q.offset)?;
    let text = q.q.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "`q` is longer than 100 characters",
        ));
    }
    let households = state
        .db
        .households_search(scope, text, q.tag, q.overdue, now_ms(), limit, offset)
        .await?;
    Ok(Json(Households { households }))
}

#[derive(Serialize)]
struct Member {
    #[serde(flatten)]
    resident: ResidentView,
    due_state: Option<DueState>,
}

#[derive(Serialize)]
struct HouseholdPage {
    #[serde(flatten)]
    household: HouseholdLine,
    members: Vec<Member>,
    records: Vec<HouseholdRecord>,
}

async fn one(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<HouseholdPage>, ApiError> {
    let principal = principal_of(&auth)?;
    let now = now_ms();
    let household = state
        .db
        .household_line(principal.scope(), id.clone(), now)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no household {id} in your area")))?;
    let members = state
        .db
        .household_residents(id.clone())
        .await?
        .into_iter()
        .map(|r| {
            let resident = ResidentView::of(r, auth.user.role, false);
            Member {
                due_state: resident.due_at.map(|d| care::due_state(d, now)),
                resident,
            }
        })
        .collect();
    let records = state.db.household_records(id).await?;
    Ok(Json(HouseholdPage {
        household,
        members,
        records,
    }))
}

async fn import_register(
    State(state): State<AppState>,
    Admin(admin): Admin,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    match import(&state.db, &state.records, &state.ids, &admin.user, &body).await {
        Ok(report) => Ok(Json(report)),
        Err(ImportError::Rows(errors)) => {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadRows,
                format!(
                    "{} bad row(s), nothing imported; first: {first}",
                    errors.len()
                ),
            )
            .with_details(serde_json::json!({ "rows": errors })))
        }
        Err(ImportError::Db(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    unit: Option<String>,
    #[serde(default)]
    reveal: bool,
    reason: Option<String>,
    /// `csv` (the default) or `xlsx`.
    format: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let principal = admin.user.principal();
    let scope = narrowed(&principal, q.unit.as_deref())?;
    let reason = match (q.reveal, q.reason.as_deref().map(str::trim)) {
        (false, _) => None,
        (true, Some(r)) if !r.is_empty() && r.chars().count() <= 200 => Some(r.to_owned()),
        (true, _) => {
            return Err(ApiError::bad_request(
                ErrorCode::ReasonRequired,
                "an export in clear needs a reason (at most 200 characters); it is logged",
            ));
        }
    };
    let unit = match &scope {
        Scope::Subtree { path } | Scope::Sector { path } => path.clone(),
        Scope::Department { department } => department.clone(),
    };
    let scoped = Principal {
        unit: unit.clone(),
        ..principal.clone()
    };
    let rows = state.db.residents_in_scope(scoped).await?;
    let lines = state
        .db
        .households_search(scope, None, None, false, now_ms(), i64::MAX, 0);
    let households: std::collections::HashMap<String, HouseholdLine> = lines
        .await?
        .into_iter()
        .map(|h| (h.id.clone(), h))
        .collect();
    let units = state.db.units_under(unit.clone()).await?;
    let name_of = |path: &str| {
        units
            .iter()
            .find(|u| u.path == path)
            .map_or(path.to_owned(), |u| u.name.clone())
    };
    let tags = state.db.care_tags().await?;
    let tag_name = |code: &str| {
        tags.iter()
            .find(|t| t.0 == code)
            .map_or(code.to_owned(), |t| t.1.clone())
    };
    let mut table: Vec<Vec<String>> = vec![
        crate::households::import::header()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ];
    use crate::households::import::{gender_zh, relation_zh, status_zh};
    let clear = reason.is_some();
    for r in &rows {
        let Some(h) = households.get(&r.household) else {
            continue;
        };
        let relation = r.relation.parse().map(relation_zh).unwrap_or("其他");
        let status = r.status.parse().map(status_zh).unwrap_or("在住");
        let masked = |v: &Option<String>, mask: fn(&str) -> String| {
            v.as_deref()
                .map(|s| if clear { s.to_owned() } else { mask(s) })
                .unwrap_or_default()
        };
        table.push(vec![
            h.number.clone(),
            name_of(&h.grid),
            h.sector.as_deref().map(name_of).unwrap_or_default(),
            h.address.clone(),
            masked(&r.name, mask_name),
            r.gender
                .as_deref()
                .and_then(|g| g.parse().ok())
                .map(gender_zh)
                .unwrap_or_default()
                .to_owned(),
            r.birth_year.map(|y| y.to_string()).unwrap_or_default(),
            relation.to_owned(),
            masked(&r.phone, mask_phone),
            masked(&r.id_number, mask_id_number),
            r.tags
                .iter()
                .map(|t| tag_name(t))
                .collect::<Vec<_>>()
                .join("、"),
            status.to_owned(),
        ]);
    }
    let xlsx = match q.format.as_deref() {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                format!("`format` is csv or xlsx, not {other:?}"),
            ));
        }
    };
    let written = if xlsx {
        crate::households::import::write_xlsx(&table)
    } else {
        crate::households::import::write_csv(&table)
    };
    let body = written.map_err(|e| ApiError::Internal(format!("writing the export: {e}")))?;
    if let Some(reason) = reason {
        let client = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
        state
            .db
            .log_access(vec![Access {
                at: now_ms(),
                user_id: admin.user.id,
                role: admin.user.role.as_str().to_owned(),
                action: "export".to_owned(),
                pid: None,
                fields: format!("name,phone,id_number ({} people of {unit})", rows.len()),
                reason,
                via: "server".to_owned(),
                client: Some(client.to_string()),
            }])
            .await?;
    }
    let mut response = body.into_response();
    let h = response.headers_mut();
    let (mime, disposition) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "attachment; filename=\"households.xlsx\"",
        )
    } else {
        (
            "text/csv; charset=utf-8",
            "attachment; filename=\"households.csv\"",
        )
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseIn {
    reason: String,
}

#[derive(Serialize)]
struct Erased {
    pid: String,
    erased: bool,
}

async fn erase(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(pid): Path<String>,
    Json(body): Json<EraseIn>,
) -> Result<Json<Erased>, ApiError> {
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::bad_request(
            ErrorCode::ReasonRequired,
            "an erasure needs a reason (at most 200 characters), such as the request it answers",
        ));
    }
    let client = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let access = Access {
        at: now_ms(),
        user_id: admin.user.id,
        role: admin.user.role.as_str().to_owned(),
        action: "erase".to_owned(),
        pid: Some(pid.clone()),
        fields: "name,gender,birth_year,phone,id_number,tags".to_owned(),
        reason,
        via: "server".to_owned(),
        client: Some(client.to_string()),
    };
    if !state
        .db
        .erase_resident(admin.user.principal(), pid.clone(), access)
        .await?
    {
        return Err(ApiError::not_found(format!(
            "no person {pid} in your district"
        )));
    }
    Ok(Json(Erased { pid, erased: true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    from: Option<i64>,
    to: Option<i64>,
    pid: Option<String>,
    format: Option<String>,
}

#[derive(Serialize)]
struct LogEntry {
    id: i64,
    at: i64,
    user_id: i64,
    user_name: String,
    role: String,
    action: String,
    pid: Option<String>,
    fields: String,
    reason: String,
    via: String,
    client: Option<String>,
    logged_at: i64,
}

#[derive(Serialize)]
struct Log {
    entries: Vec<LogEntry>,
}

async fn access_log(
    State(state): State<AppState>,
    Admin(_admin): Admin,
    Query(q): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX));
    if from > to {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidRange,
            "`from` is after `to`",
        ));
    }
    let rows = state.db.access_log(from, to, q.pid, 100_000).await?;
    let entries: Vec<LogEntry> = rows
        .into_iter()
        .map(|r| LogEntry {
            id: r.id,
            at: r.access.at,
            user_id: r.access.user_id,
            user_name: r.user_name,
            role: r.access.role,
            action: r.access.action,
            pid: r.access.pid,
            fields: r.access.fields,
            reason: r.access.reason,
            via: r.access.via,
            client: r.access.client,
            logged_at: r.logged_at,
        })
        .collect();
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(Log { entries }).into_response()),
        Some("csv") => {
            let mut csv = csv::Writer::from_writer(Vec::new());
            let err = |e: csv::Error| ApiError::Internal(format!("writing the log: {e}"));
            csv.write_record([
                "id",
                "at",
                "user_id",
                "user_name",
                "role",
                "action",
                "pid",
                "fields",
                "reason",
                "via",
                "client",
                "logged_at",
            ])
            .map_err(err)?;
            for e in &entries {
                csv.write_record([
                    e.id.to_string(),
                    e.at.to_string(),
                    e.user_id.to_string(),
                    e.user_name.clone(),
                    e.role.clone(),
                    e.action.clone(),
                    e.pid.clone().unwrap_or_default(),
                    e.fields.clone(),
                    e.reason.clone(),
                    e.via.clone(),
                    e.client.clone().unwrap_or_default(),
                    e.logged_at.to_string(),
                ])
                .map_err(err)?;
            }
            let bytes = csv
                .into_inner()
                .map_err(|e| ApiError::Internal(format!("writing the log: {e}")))?;
            let mut response = bytes.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            Ok(response)
        }
        Some(other) => Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("`format` must be json or csv, found {other:?}"),
        )),
    }
}
