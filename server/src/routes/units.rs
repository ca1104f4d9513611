//! `GET /api/v1/units`: the part of the org tree a user works in, so the app can offer the
//! grids and sectors a record may be filed under and show their names offline.

use crate::AppState;
use crate::auth::AuthUser;
use crate::db::org::Unit;
use crate::error::{ApiError, Json};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use haitang_sync::scope::{Role, parent_path};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/units", get(units))
}

#[derive(Serialize)]
struct Units {
    units: Vec<Unit>,
}

async fn units(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Units>, ApiError> {
    let user = &auth.user;
    let units = match user.role {
        // A leader files records in their own sector and needs its grid's name too.
        Role::Leader => {
            let mut units = Vec::new();
            if let Some(grid) = parent_path(&user.unit)
                && let Some(g) = state.db.unit(grid.to_owned()).await?
            {
                units.push(g);
            }
            units.extend(state.db.unit(user.unit.clone()).await?);
            units
        }
        // Handlers work on what is dispatched to them from anywhere their department
        // serves: they get the names of that whole area (names only, nothing private), so
        // a record shows 金筑社区第一网格 rather than "g01".
        Role::DepartmentHandler => match user.department.as_deref().and_then(|d| d.split_once(':'))
        {
            Some((owner, _)) => state.db.units_under(owner.to_owned()).await?,
            None => Vec::new(),
        },
        _ => state.db.units_under(user.unit.clone()).await?,
    };
    Ok(Json(Units { units }))
}
