//! `/api/v1/blobs/{sha256}`: photos, uploaded apart from document sync.
//! - `HEAD`: 200 if the caller may download the blob; else 404, with `Upload-Offset` when
//!   part of the caller's upload is held. Whether someone else's photo exists is never
//!   told: without access it is answered as absent.
//! - `PUT`: the whole photo, or a chunk with `Content-Range: bytes START-END/TOTAL` (END
//!   inclusive) to resume on a poor network. 201 stored, 200 already had it, 202 chunk
//!   taken (with `Upload-Offset`), 409 wrong offset (with `Upload-Offset`), 400 the bytes
//!   do not match the hash, 413 over a limit, 415 not an image by its content.
//! - `GET`: the photo, for users who may see a record that references it; 404 otherwise.

use crate::AppState;
use crate::auth::AuthUser;
use crate::blobstore::{BlobError, is_sha256, sniff};
use crate::db::blobs::BlobInfo;
use crate::db::now_ms;
use crate::error::{ApiError, Json, Path};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use haitang_sync::protocol::ErrorCode;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/blobs/{sha}", get(fetch).head(probe).put(upload))
        // A little over the file limit: a whole photo, or one chunk of one.
        .layer(DefaultBodyLimit::max(
            state.config.max_blob_bytes as usize + 64 * 1024,
        ))
}

const UPLOAD_OFFSET: &str = "upload-offset";

fn check_sha(sha: &str) -> Result<(), ApiError> {
    if is_sha256(sha) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ErrorCode::InvalidHash,
            "a blob is named by its SHA-256 as 64 lower-case hex digits",
        ))
    }
}

fn offset_response(status: StatusCode, offset: u64, body: Option<ApiError>) -> Response {
    let mut res = match body {
        Some(e) => e.into_response(),
        None => status.into_response(),
    };
    *res.status_mut() = status;
    res.headers_mut()
        .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    res
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("blob task: {e}")))
}

async fn probe(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    if let Some(info) = readable_blob(&state, &auth, &sha).await? {
        let mut res = StatusCode::OK.into_response();
        res.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(info.bytes));
        return Ok(res);
    }
    let store = state.blobs.clone();
    let user = auth.user.id;
    let offset = blocking(move || store.offset(&sha, user)).await?;
    Ok(if offset > 0 {
        offset_response(StatusCode::NOT_FOUND, offset, None)
    } else {
        StatusCode::NOT_FOUND.into_response()
    })
}

async fn fetch(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    let not_found = || ApiError::not_found("no such photo, or not one of a record you may see");
    let info = readable_blob(&state, &auth, &sha)
        .await?
        .ok_or_else(not_found)?;
    let store = state.blobs.clone();
    let bytes = blocking(move || store.read(&sha))
        .await?
        .map_err(|e| ApiError::Internal(format!("reading blob: {e}")))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Content-addressed: the bytes behind a name never change. Private: access is checked.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(res)
}

/// The blob, if the server has it complete and the caller may download it.
async fn readable_blob(
    state: &AppState,
    auth: &AuthUser,
    sha: &str,
) -> Result<Option<BlobInfo>, ApiError> {
    let Some(info) = state.db.blob(sha.to_owned()).await? else {
        return Ok(None);
    };
    let readable = state
        .db
        .blob_readable(auth.user.principal(), sha.to_owned())
        .await?;
    Ok(readable.then_some(info))
}

/// `bytes START-END/TOTAL` with END inclusive.
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64, u64)>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            ErrorCode::InvalidRange,
            "Content-Range must be `bytes START-END/TOTAL`",
        )
    };
    let s = v.to_str().map_err(|_| bad())?;
    let rest = s.strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let (start, end) = range.split_once('-').ok_or_else(bad)?;
    let (start, end, total): (u64, u64, u64) = (
        start.trim().parse().map_err(|_| bad())?,
        end.trim().parse().map_err(|_| bad())?,
        total.trim().parse().map_err(|_| bad())?,
    );
    if start > end || end >= total {
        return Err(bad());
    }
    Ok(Some((start, end, total)))
}

async fn upload(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    let limit = state.config.max_blob_bytes;
    let too_large =
        |what: String| ApiError::client(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, what);
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(format!("a photo may be at most {limit} bytes"))
        } else {
            ApiError::bad_request(ErrorCode::InvalidBody, r.body_text())
        }
    })?;
    if let Some(info) = readable_blob(&state, &auth, &sha).await? {
        return Ok((StatusCode::OK, Json(info)).into_response());
    }
    let range = content_range(&headers)?;
    let total = range.map_or(body.len() as u64, |(_, _, t)| t);
    if total > limit {
        return Err(too_large(format!(
            "a photo may be at most {limit} bytes; this one is {total}"
        )));
    }
    let user = auth.user.id;
    let quota = state.config.blob_quota_bytes_per_day;
    let finished = state.db.uploaded_since(user, now_ms() - 86_400_000).await?;
    // Unfinished uploads count too, or bytes could be parked in them without limit.
    let (st, s) = (state.blobs.clone(), sha.clone());
    let unfinished = blocking(move || st.partial_bytes(user, &s))
        .await?
        .map_err(|e| ApiError::Internal(format!("measuring unfinished uploads: {e}")))?;
    let used = finished as u64 + unfinished;
    if used + total > quota {
        return Err(too_large(format!(
            "you have {used} bytes of photos uploaded or uploading today; the daily limit is {quota}"
        )));
    }
    let not_image = || {
        ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "only JPEG, PNG and WebP photos are accepted (judged by their content)",
        )
    };

    // One upload of a blob per user at a time: concurrent chunks would interleave.
    let key = format!("{sha}-{user}");
    let Some(_guard) = state.uploads.begin(key) else {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            ErrorCode::UploadInProgress,
            "another upload of this photo from your account is in progress",
        ));
    };

    let store = state.blobs.clone();
    let (mime, bytes) = match range {
        None => {
            let mime = sniff(&body).ok_or_else(not_image)?;
            let (s, b) = (sha.clone(), body.clone());
            match blocking(move || store.put(&s, &b)).await? {
                Ok(()) => (mime, body.len() as u64),
                Err(BlobError::HashMismatch { .. }) => return Err(hash_mismatch()),
                Err(e) => return Err(ApiError::Internal(format!("storing blob: {e}"))),
            }
        }
        Some((start, end, total)) => {
            if end - start + 1 != body.len() as u64 {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidRange,
                    format!(
                        "Content-Range says {} bytes but the body has {}",
                        end - start + 1,
                        body.len()
                    ),
                ));
            }
            if start == 0 && sniff(&body).is_none() {
                return Err(not_image());
            }
            let (s, b) = (sha.clone(), body.clone());
            let st = store.clone();
            match blocking(move || st.append(&s, user, start, &b)).await? {
                Ok(offset) if offset < total => {
                    return Ok(offset_response(StatusCode::ACCEPTED, offset, None));
                }
                Ok(_) => {}
                Err(BlobError::WrongOffset(offset)) => {
                    let e = ApiError::client(
                        StatusCode::CONFLICT,
                        ErrorCode::WrongOffset,
                        format!("the upload is at byte {offset}; resume from there"),
                    );
                    return Ok(offset_response(StatusCode::CONFLICT, offset, Some(e)));
                }
                Err(e) => return Err(ApiError::Internal(format!("storing chunk: {e}"))),
            }
            let (s, st) = (sha.clone(), store.clone());
            let head = blocking(move || st.partial_head(&s, user))
                .await?
                .unwrap_or_default();
            let Some(mime) = sniff(&head) else {
                let (s, st) = (sha.clone(), store.clone());
                blocking(move || st.discard(&s, user)).await?;
                return Err(not_image());
            };
            let s = sha.clone();
            match blocking(move || store.finish(&s, user)).await? {
                Ok(len) => (mime, len),
                Err(BlobError::HashMismatch { .. }) => return Err(hash_mismatch()),
                Err(e) => return Err(ApiError::Internal(format!("finishing blob: {e}"))),
            }
        }
    };
    let info = BlobInfo {
        sha256: sha,
        bytes: bytes as i64,
        mime: mime.to_owned(),
    };
    // The file is durable before the row says the blob exists, so a crash in between
    // leaves at worst an unlisted file, which a retry of the upload then lists.
    let stored = state.db.insert_blob(info.clone(), user).await?;
    let status = if stored.new_upload {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)).into_response())
}

fn hash_mismatch() -> ApiError {
    ApiError::bad_request(
        ErrorCode::HashMismatch,
        "the bytes do not match the SHA-256 in the address; nothing was stored, send the photo again",
    )
}
