//! `/api/v1/admin/...`: the org tree and accounts, for district administrators, within
//! their own district. The same operations as `haitang org import` and `haitang user ...`.

use crate::AppState;
use crate::auth::{AuthUser, password_policy};
use crate::db::org::{Department, ImportError, ImportReport, Unit};
use crate::db::users::{NewUser, User, UserError};
use crate::error::{ApiError, Json, Path};
use crate::org_import::{self, Format, RowKind};
use crate::routes::auth::UserView;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use haitang_sync::protocol::ErrorCode;
use haitang_sync::scope::{Role, is_under};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users).post(add_user))
        .route("/admin/users/{username}/disable", post(disable_user))
        .route("/admin/users/{username}/enable", post(enable_user))
        .route(
            "/admin/users/{username}/reset-password",
            post(reset_password),
        )
        .route(
            "/admin/users/{username}/revoke-sessions",
            post(revoke_sessions),
        )
        .route("/admin/org", get(org))
        .route("/admin/org/import", post(import))
}

/// A signed-in district administrator.
pub struct Admin(pub AuthUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = AuthUser::from_request_parts(parts, state).await?;
        if auth.user.role != Role::DistrictAdmin {
            return Err(ApiError::forbidden(
                "only a district administrator may do this",
            ));
        }
        Ok(Admin(auth))
    }
}

impl Admin {
    fn district(&self) -> &str {
        &self.0.user.unit
    }

    fn check_under(&self, path: &str) -> Result<(), ApiError> {
        if is_under(path, self.district()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "`{path}` is outside your district `{}`",
                self.district()
            )))
        }
    }

    /// The user, if they exist and belong to this admin's district. Someone else's users
    /// look the same as missing ones.
    async fn user(&self, state: &AppState, username: String) -> Result<User, ApiError> {
        let not_found = || ApiError::not_found(format!("no user `{username}` in your district"));
        let user = state
            .db
            .user_by_username(username.clone())
            .await?
            .ok_or_else(not_found)?;
        if is_under(&user.unit, self.district()) {
            Ok(user)
        } else {
            Err(not_found())
        }
    }
}

fn check_password(password: &str) -> Result<(), ApiError> {
    password_policy(password)
        .map_err(|m| ApiError::client(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::WeakPassword, m))
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::UsernameTaken(_) => ApiError::client(
                StatusCode::CONFLICT,
                ErrorCode::UsernameTaken,
                e.to_string(),
            ),
            UserError::NoSuchUser(_) => ApiError::not_found(e.to_string()),
            UserError::NoSuchUnit(_) | UserError::NoSuchDepartment(_) | UserError::Invalid(_) => {
                ApiError::client(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidUser,
                    e.to_string(),
                )
            }
            UserError::Db(db) => ApiError::Db(db),
        }
    }
}

#[derive(Serialize)]
struct AdminUserView {
    #[serde(flatten)]
    user: UserView,
    active: bool,
}

impl From<&User> for AdminUserView {
    fn from(u: &User) -> Self {
        AdminUserView {
            user: u.into(),
            active: u.active,
        }
    }
}

#[derive(Serialize)]
struct UserList {
    users: Vec<AdminUserView>,
}

async fn list_users(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Json<UserList>, ApiError> {
    let users = state.db.users_under(admin.district().to_owned()).await?;
    Ok(Json(UserList {
        users: users.iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUser {
    username: String,
    name: String,
    role: Role,
    unit: String,
    #[serde(default)]
    department: Option<String>,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    admin: Admin,
    Json(req): Json<AddUser>,
) -> Result<(StatusCode, Json<AdminUserView>), ApiError> {
    admin.check_under(&req.unit)?;
    check_password(&req.password)?;
    let password_hash = state.passwords.hash(req.password).await?;
    let user = state
        .db
        .add_user(NewUser {
            username: req.username,
            name: req.name,
            role: req.role,
            unit: req.unit,
            department: req.department,
            password_hash,
        })
        .await?;
    tracing::info!(admin = admin.0.user.id, user = user.id, "user added");
    Ok((StatusCode::CREATED, Json((&user).into())))
}

async fn disable_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<AdminUserView>, ApiError> {
    let user = admin.user(&state, username).await?;
    if user.id == admin.0.user.id {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            ErrorCode::CannotDisableSelf,
            "you cannot disable your own account",
        ));
    }
    let user = state.db.set_active(user.username, false).await?;
    Ok(Json((&user).into()))
}

async fn enable_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<AdminUserView>, ApiError> {
    let user = admin.user(&state, username).await?;
    let user = state.db.set_active(user.username, true).await?;
    Ok(Json((&user).into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetPassword {
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
    Json(req): Json<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    let user = admin.user(&state, username).await?;
    check_password(&req.password)?;
    let hash = state.passwords.hash(req.password).await?;
    state.db.set_password(user.username, hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct Revoked {
    revoked: usize,
}

async fn revoke_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(username): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let user = admin.user(&state, username).await?;
    let revoked = state.db.revoke_user_sessions(user.id).await?;
    tracing::info!(
        admin = admin.0.user.id,
        user = user.id,
        revoked,
        "sessions revoked"
    );
    Ok(Json(Revoked { revoked }))
}

#[derive(Serialize)]
struct Org {
    units: Vec<Unit>,
    departments: Vec<Department>,
}

async fn org(State(state): State<AppState>, admin: Admin) -> Result<Json<Org>, ApiError> {
    let units = state.db.units_under(admin.district().to_owned()).await?;
    let departments = state
        .db
        .departments()
        .await?
        .into_iter()
        .filter(|d| is_under(&d.unit, admin.district()))
        .collect();
    Ok(Json(Org { units, departments }))
}

/// Takes the file as the body: JSON (`application/json`) or CSV (`text/csv`).
async fn import(
    State(state): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    let body =
        body.map_err(|r| ApiError::client(r.status(), ErrorCode::InvalidBody, r.body_text()))?;
    let body = std::str::from_utf8(&body).map_err(|_| {
        ApiError::bad_request(ErrorCode::InvalidBody, "the org file must be UTF-8 text")
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let format = if content_type.starts_with("application/json") {
        Format::Json
    } else if content_type.starts_with("text/csv") {
        Format::Csv
    } else {
        return Err(ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the org file as `application/json` or `text/csv`",
        ));
    };
    let rows = org_import::parse(format, body).map_err(bad_rows)?;
    let outside: Vec<_> = rows
        .iter()
        .filter(|r| {
            let unit = match r.kind {
                RowKind::Department => r.path.split_once(':').map_or("", |(u, _)| u),
                RowKind::Unit(..) => &r.path,
            };
            !is_under(unit, admin.district())
        })
        .map(|r| org_import::RowError {
            line: r.line,
            message: format!(
                "`{}` is outside your district `{}`",
                r.path,
                admin.district()
            ),
        })
        .collect();
    if !outside.is_empty() {
        return Err(bad_rows(outside));
    }
    match state.db.import_org(rows).await {
        Ok(report) => Ok(Json(report)),
        Err(ImportError::Rows(errors)) => Err(bad_rows(errors)),
        Err(ImportError::Db(e)) => Err(e.into()),
    }
}

fn bad_rows(errors: Vec<org_import::RowError>) -> ApiError {
    let first = errors.first().map(ToString::to_string).unwrap_or_default();
    ApiError::client(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::BadRows,
        format!(
            "{} bad row(s), nothing imported; first: {first}",
            errors.len()
        ),
    )
    .with_details(serde_json::json!({ "errors": errors }))
}
