//! The one error type every handler returns, and its one rendering: `{code, message}` with
//! a 4xx for the caller's mistakes, and a bare 500 that hides internals for ours. Errors are
//! logged once, by `log_errors`, not where they are raised.

use crate::db::DbError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use haitang_sync::protocol::ErrorCode;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: ErrorCode,
        message: String,
        /// Extra structured detail, such as the bad rows of an import.
        details: Option<serde_json::Value>,
    },
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn client(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }
    pub fn with_details(mut self, value: serde_json::Value) -> Self {
        if let ApiError::Client { details, .. } = &mut self {
            *details = Some(value);
        }
        self
    }
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

/// What went wrong inside a 5xx, carried to the logging middleware and never to the client.
#[derive(Clone)]
struct InternalDetail(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Client {
                status,
                code,
                message,
                details,
            } => (
                status,
                axum::Json(Body {
                    code: code.as_str(),
                    message: &message,
                    details: details.as_ref(),
                }),
            )
                .into_response(),
            ApiError::RateLimited { retry_after } => {
                let mut res = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(Body {
                        code: ErrorCode::RateLimited.as_str(),
                        message: &format!("too many attempts; try again in {retry_after} seconds"),
                        details: None,
                    }),
                )
                    .into_response();
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                res
            }
            ApiError::Db(DbError::Closed) => {
                let mut res = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(Body {
                        code: ErrorCode::Unavailable.as_str(),
                        message: "the server is shutting down; try again shortly",
                        details: None,
                    }),
                )
                    .into_response();
                res.extensions_mut()
                    .insert(InternalDetail("database closed".into()));
                res
            }
            other => {
                let mut res = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(Body {
                        code: ErrorCode::Internal.as_str(),
                        message: "the server failed to handle this request; it has been logged",
                        details: None,
                    }),
                )
                    .into_response();
                res.extensions_mut()
                    .insert(InternalDetail(other.to_string()));
                res
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let (code, message) = match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => (
                ErrorCode::TooLarge,
                "the request body is too large".to_owned(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                ErrorCode::UnsupportedMediaType,
                "send JSON with `Content-Type: application/json`".to_owned(),
            ),
            _ => match &r {
                JsonRejection::JsonSyntaxError(_) => (ErrorCode::MalformedJson, r.body_text()),
                _ => (ErrorCode::InvalidBody, r.body_text()),
            },
        };
        Self::client(r.status(), code, message)
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(ErrorCode::InvalidPath, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(ErrorCode::InvalidQuery, r.body_text())
    }
}

/// `axum::Json`, but its rejections are `{code, message}` like every other error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with `{code, message}` rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` with `{code, message}` rejections.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Logs each failed request once: server faults as errors with their hidden detail, client
/// mistakes at debug level so a noisy client cannot flood the log.
pub async fn log_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if status.is_server_error() {
        let detail = res
            .extensions()
            .get::<InternalDetail>()
            .map_or("", |d| d.0.as_str());
        tracing::error!(%method, %path, status = status.as_u16(), detail, "request failed");
    } else if status.is_client_error() {
        tracing::debug!(%method, %path, status = status.as_u16(), "request refused");
    }
    res
}

/// JSON 404 for unknown API routes, so clients always get `{code, message}`.
pub async fn api_not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}
