//! `POST /api/v1/sync`: push Automerge changes, pull what changed in scope. CBOR both ways;
//! gzip bodies are accepted (RequestDecompressionLayer) and offered (CompressionLayer).
//! The contract is docs/PROTOCOL.md.

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use haitang_sync::protocol::ErrorCode;
use haitang_sync::protocol::{MAX_WANT, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use haitang_sync::pull::Page;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Syncs in flight per user.
#[derive(Default)]
pub struct InFlight(Mutex<HashMap<i64, usize>>);

/// One sync in flight; counted down when the request ends, however it ends.
struct Slot(Arc<InFlight>, i64);

impl InFlight {
    fn enter(self: &Arc<Self>, user: i64) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user).or_insert(0);
        if *n >= MAX_SYNCS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Slot(self.clone(), user))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;
/// Syncs one user may have in flight at once. A phone syncs one at a time (Web Locks);
/// the field app and the console open side by side make two. Past this, a request waits
/// for nothing: it is told to come back, so one account cannot hold the server's memory.
const MAX_SYNCS_PER_USER: usize = 3;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/sync", post(sync))
        .layer(DefaultBodyLimit::max(state.config.sync_body_limit))
}

const CBOR: &str = "application/cbor";

async fn sync(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let is_cbor = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CBOR));
    if !is_cbor {
        return Err(ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the sync request as CBOR with `Content-Type: application/cbor`",
        ));
    }
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                format!(
                    "the sync request is over {} bytes; push fewer documents at a time",
                    state.config.sync_body_limit
                ),
            )
        } else {
            ApiError::bad_request(ErrorCode::InvalidBody, r.body_text())
        }
    })?;
    let Some(_slot) = state.syncs.enter(auth.user.id) else {
        return Err(ApiError::client(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Busy,
            format!(
                "this account already has {MAX_SYNCS_PER_USER} syncs under way; try again when one has finished"
            ),
        ));
    };
    // Off the async workers: a large body takes a while to decode.
    let req: SyncRequest = tokio::task::spawn_blocking(move || ciborium::from_reader(&body[..]))
        .await
        .map_err(|e| ApiError::Internal(format!("decoding a sync request: {e}")))?
        .map_err(|e: ciborium::de::Error<std::io::Error>| {
            let text = e.to_string();
            if text.contains("at most") {
                ApiError::client(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, text)
            } else {
                ApiError::bad_request(
                    ErrorCode::Malformed,
                    format!("the body is not a sync request: {text}"),
                )
            }
        })?;
    if req.v != PROTOCOL_VERSION {
        return Err(ApiError::bad_request(
            ErrorCode::UnsupportedVersion,
            format!(
                "this server speaks sync protocol v{PROTOCOL_VERSION}, not v{}",
                req.v
            ),
        ));
    }
    let mut pushed = HashSet::with_capacity(req.push.len());
    if let Some(dup) = req.push.iter().find(|d| !pushed.insert(d.doc.as_str())) {
        return Err(ApiError::bad_request(
            ErrorCode::DuplicateDocument,
            format!(
                "document {} appears twice in the push; send all of a document's changes in one entry",
                dup.doc.chars().take(80).collect::<String>()
            ),
        ));
    }
    debug_assert!(req.want.as_ref().is_none_or(|w| w.len() <= MAX_WANT));
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
    let principal = auth.user.principal();

    let results = state.records.push(&principal, req.push).await?;
    let (mut pull, unsent) = match req.want {
        Some(ids) if !ids.is_empty() => state.records.want(&principal, ids).await?,
        _ => (Vec::new(), Vec::new()),
    };
    if let (Some(resume), cursor) = (req.resume, req.cursor.unwrap_or(0))
        && resume < cursor
    {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidResume,
            "`resume` comes from a response to a request with the same `cursor`; it cannot be before it",
        ));
    }
    let page = if req.pull {
        state
            .records
            .pull(&principal, req.cursor, req.resume, limit)
            .await?
    } else {
        Page::unpulled(req.cursor)
    };
    pull.extend(page.items);

    let response = SyncResponse {
        v: PROTOCOL_VERSION,
        results,
        pull,
        cursor: page.cursor,
        more: page.more,
        resume: page.resume,
        unsent,
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&response, &mut bytes)
        .map_err(|e| ApiError::Internal(format!("encoding a sync response: {e}")))?;
    let mut res = bytes.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CBOR));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_in_flight_are_bounded_per_user_and_released_however_a_request_ends() {
        let in_flight = Arc::new(InFlight::default());
        let held: Vec<Slot> = (0..MAX_SYNCS_PER_USER)
            .map(|_| in_flight.enter(1).expect("a slot"))
            .collect();
        assert!(in_flight.enter(1).is_none(), "one account past the limit");
        assert!(
            in_flight.enter(2).is_some(),
            "another account is not held up"
        );
        drop(held);
        assert!(in_flight.enter(1).is_some());
        assert!(
            in_flight.0.lock().expect("lock").get(&1).is_none(),
            "nothing kept for an idle account"
        );
    }
}
