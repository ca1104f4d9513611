//! `POST /api/v1/sync`: push Automerge changes, pull what changed in scope. CBOR both ways;
//! gzip bodies are accepted (RequestDecompressionLayer) and offered (CompressionLayer).
//! The contract is docs/PROTOCOL.md.

use crate::AppState;
use crate::auth::AuthUser;
use crate::db::records::Committed;
use crate::error::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use haitang_sync::ingest::{Refusal, RefusalCode};
use haitang_sync::protocol::{PROTOCOL_VERSION, PushResult, SyncRequest, SyncResponse};
use haitang_sync::scope::Principal;

/// Documents one request may push, and changes one document may carry: a phone that has
/// more sends them over several requests.
const MAX_PUSH_DOCS: usize = 500;
const MAX_CHANGES_PER_DOC: usize = 10_000;
const DEFAULT_LIMIT: u32 = 200;
const MAX_LIMIT: u32 = 1000;
const MAX_WANT: usize = 200;
/// A push that keeps losing races on the same document gives up after this many tries and
/// asks the client to send it again.
const MAX_ATTEMPTS: usize = 5;

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
            "unsupported_media_type",
            "send the sync request as CBOR with `Content-Type: application/cbor`",
        ));
    }
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the sync request is over {} bytes; push fewer documents at a time",
                    state.config.sync_body_limit
                ),
            )
        } else {
            ApiError::bad_request("invalid_body", r.body_text())
        }
    })?;
    let req: SyncRequest = ciborium::from_reader(&body[..]).map_err(|e| {
        ApiError::bad_request("malformed", format!("the body is not a sync request: {e}"))
    })?;
    if req.v != PROTOCOL_VERSION {
        return Err(ApiError::bad_request(
            "unsupported_version",
            format!(
                "this server speaks sync protocol v{PROTOCOL_VERSION}, not v{}",
                req.v
            ),
        ));
    }
    if req.push.len() > MAX_PUSH_DOCS {
        return Err(ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("push at most {MAX_PUSH_DOCS} documents per request"),
        ));
    }
    if req.want.as_ref().is_some_and(|w| w.len() > MAX_WANT) {
        return Err(ApiError::bad_request(
            "too_many_wanted",
            format!("ask for at most {MAX_WANT} documents per request"),
        ));
    }
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT) as usize;
    let principal = auth.user.principal();

    let results = push(&state, &principal, req.push).await?;
    let mut pull = match req.want {
        Some(ids) if !ids.is_empty() => state.db.want(principal.clone(), ids).await?,
        _ => Vec::new(),
    };
    if let (Some(resume), cursor) = (req.resume, req.cursor.unwrap_or(0))
        && resume < cursor
    {
        return Err(ApiError::bad_request(
            "invalid_resume",
            "`resume` comes from a response to a request with the same `cursor`; it cannot be before it",
        ));
    }
    let page = if req.pull {
        state
            .db
            .pull(principal, req.cursor, req.resume, limit)
            .await?
    } else {
        crate::db::records::PullPage {
            items: Vec::new(),
            cursor: req.cursor.unwrap_or(0),
            more: false,
            resume: None,
        }
    };
    pull.extend(page.items);

    let response = SyncResponse {
        v: PROTOCOL_VERSION,
        results,
        pull,
        cursor: page.cursor,
        more: page.more,
        resume: page.resume,
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&response, &mut bytes)
        .map_err(|e| ApiError::Internal(format!("encoding a sync response: {e}")))?;
    let mut res = bytes.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CBOR));
    Ok(res)
}

/// Pushes each document atomically; one refused document does not affect the others.
async fn push(
    state: &AppState,
    principal: &Principal,
    docs: Vec<haitang_sync::protocol::PushDoc>,
) -> Result<Vec<PushResult>, ApiError> {
    let mut results: Vec<Option<PushResult>> = vec![None; docs.len()];
    let docs: Vec<(String, Vec<Vec<u8>>)> = docs
        .into_iter()
        .map(|d| (d.doc, d.changes.into_iter().map(|c| c.into_vec()).collect()))
        .collect();
    let mut pending: Vec<usize> = Vec::new();
    for (i, (doc, changes)) in docs.iter().enumerate() {
        if changes.len() > MAX_CHANGES_PER_DOC {
            results[i] = Some(PushResult::refused(
                doc.clone(),
                &Refusal {
                    code: RefusalCode::TooLarge,
                    message: format!(
                        "push at most {MAX_CHANGES_PER_DOC} changes per document at a time"
                    ),
                },
            ));
        } else {
            pending.push(i);
        }
    }

    for _ in 0..MAX_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        let mut prepared = Vec::new();
        let mut order = Vec::new();
        for &i in &pending {
            let (doc, changes) = &docs[i];
            match state
                .db
                .prepare_push(principal.clone(), doc.clone(), changes.clone())
                .await?
            {
                Ok(p) => {
                    prepared.push(p);
                    order.push(i);
                }
                Err(refusal) => results[i] = Some(PushResult::refused(doc.clone(), &refusal)),
            }
        }
        let committed = state
            .db
            .commit_push(Some(principal.user_id), prepared)
            .await?;
        let mut stale = Vec::new();
        for (i, outcome) in order.into_iter().zip(committed) {
            let doc = docs[i].0.clone();
            match outcome {
                Committed::Ok { heads } => results[i] = Some(PushResult::accepted(doc, &heads)),
                Committed::Refused(refusal) => {
                    results[i] = Some(PushResult::refused(doc, &refusal))
                }
                Committed::Stale => stale.push(i),
            }
        }
        pending = stale;
    }
    for i in pending {
        results[i] = Some(PushResult {
            doc: docs[i].0.clone(),
            ok: false,
            heads: None,
            code: Some("busy".into()),
            message: Some(
                "others kept changing this record at the same moment; send it again".into(),
            ),
        });
    }
    Ok(results.into_iter().flatten().collect())
}
