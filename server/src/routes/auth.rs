//! `POST /api/v1/auth/login`, `/refresh`, `/logout`.

use crate::AppState;
use crate::auth::{
    AuthUser, Claims, new_refresh_token, open_successor, refresh_hash, seal_successor,
};
use crate::client_addr::client_ip;
use crate::db::now_ms;
use crate::db::users::{NextRefresh, Rotation, User};
use crate::error::{ApiError, Json};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use haitang_sync::protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// What the app keeps after signing in.
#[derive(Serialize)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
    user: UserView,
}

/// The user as the app sees them: who, where, and what they may see.
#[derive(Serialize)]
pub struct UserView {
    id: i64,
    username: String,
    name: String,
    role: haitang_sync::scope::Role,
    unit: String,
    unit_name: String,
    department: Option<String>,
    scope: haitang_sync::scope::Scope,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone(),
            role: u.role,
            unit: u.unit.clone(),
            unit_name: u.unit_name.clone(),
            department: u.department.clone(),
            scope: u.principal().scope(),
        }
    }
}

fn bad_credentials() -> ApiError {
    ApiError::unauthorized(
        ErrorCode::BadCredentials,
        "wrong username or password, or the account is disabled",
    )
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    if req.username.len() > 128 || req.password.len() > 1024 {
        return Err(bad_credentials());
    }
    let client = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    state
        .login_limiter
        .check(&req.username, client)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    let found = state.db.user_for_login(req.username.clone()).await?;
    let (user, hash) = found.map_or((None, None), |(u, h)| (Some(u), Some(h)));
    let matches = state.passwords.verify(req.password, hash).await?;
    let user = user
        .filter(|u| matches && u.active)
        .ok_or_else(bad_credentials)?;
    let (refresh_token, hash) = new_refresh_token();
    let session_id = state
        .db
        .create_session(user.id, hash, refresh_expiry(&state))
        .await?;
    tracing::info!(user = user.id, session = session_id, "signed in");
    issue(&state, &user, session_id, refresh_token).map(Json)
}

async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let (next_token, next_hash) = new_refresh_token();
    let next = NextRefresh {
        hash: next_hash,
        sealed: seal_successor(&req.refresh_token, &next_token),
        expires_at: refresh_expiry(&state),
        iat: now_ms() / 1000,
    };
    let grace_ms = state.config.refresh_retry_grace_secs as i64 * 1000;
    match state
        .db
        .rotate_refresh(refresh_hash(&req.refresh_token), next, grace_ms)
        .await?
    {
        Rotation::Rotated { session_id, user } => {
            issue(&state, &user, session_id, next_token).map(Json)
        }
        Rotation::Retried {
            session_id,
            user,
            sealed,
        } => {
            tracing::info!(
                session = session_id,
                "a refresh token was presented again moments after its rotation; same successor given"
            );
            let successor = open_successor(&req.refresh_token, &sealed);
            issue(&state, &user, session_id, successor).map(Json)
        }
        Rotation::Reused { session_id } => {
            tracing::warn!(
                session = session_id,
                "a used refresh token was presented again; the session is revoked"
            );
            Err(ApiError::unauthorized(
                ErrorCode::RefreshTokenReused,
                "this refresh token was already used; for safety this device has been signed out",
            ))
        }
        Rotation::Invalid => Err(ApiError::unauthorized(
            ErrorCode::InvalidRefreshToken,
            "the refresh token is unknown, expired or revoked; sign in again",
        )),
    }
}

/// Ends the caller's session: its refresh chain and every access token naming it stop
/// working at once. A body, if any, is ignored; the session is known from the token.
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    state
        .db
        .revoke_session(auth.session_id, "signed out")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn refresh_expiry(state: &AppState) -> i64 {
    now_ms() + state.config.refresh_ttl_days as i64 * 86_400_000
}

fn issue(
    state: &AppState,
    user: &User,
    session_id: i64,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let now = now_ms() / 1000;
    let ttl = state.config.access_ttl_secs;
    let access_token = state.keys.sign(&Claims {
        sub: user.id.to_string(),
        sid: session_id,
        iat: now,
        exp: now + ttl as i64,
    })?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        expires_in: ttl,
        user: user.into(),
    })
}
