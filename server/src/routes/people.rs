//! `GET /api/v1/people` and `GET /api/v1/departments`: who and which departments exist in
//! the caller's district, so timelines and histories show names instead of ids and
//! supervisors can pick an assignee or a department. Names and roles are common knowledge
//! among a district's staff; passwords, sessions and the active flag are not shown.

use crate::AppState;
use crate::auth::AuthUser;
use crate::db::org::Department;
use crate::error::{ApiError, Json};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use haitang_sync::scope::{Role, is_under};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(people))
        .route("/departments", get(departments))
}

/// The root of the caller's unit path: their district.
fn district(path: &str) -> String {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    format!("/{first}")
}

#[derive(Serialize)]
struct Person {
    id: i64,
    name: String,
    role: Role,
    unit: String,
    unit_name: String,
    department: Option<String>,
}

#[derive(Serialize)]
struct People {
    people: Vec<Person>,
}

async fn people(State(state): State<AppState>, auth: AuthUser) -> Result<Json<People>, ApiError> {
    let users = state.db.users_under(district(&auth.user.unit)).await?;
    Ok(Json(People {
        people: users
            .into_iter()
            .filter(|u| u.active)
            .map(|u| Person {
                id: u.id,
                name: u.name,
                role: u.role,
                unit: u.unit,
                unit_name: u.unit_name,
                department: u.department,
            })
            .collect(),
    }))
}

#[derive(Serialize)]
struct Departments {
    departments: Vec<Department>,
}

async fn departments(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Departments>, ApiError> {
    let root = district(&auth.user.unit);
    let departments = state
        .db
        .departments()
        .await?
        .into_iter()
        .filter(|d| is_under(&d.unit, &root))
        .collect();
    Ok(Json(Departments { departments }))
}
