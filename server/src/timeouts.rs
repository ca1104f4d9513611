//! How long a client may take to send a request body. A sync push may be 16 MiB over a
//! poor mobile link, so there is no fixed limit for the whole body: a request gets
//! `request_body_timeout_secs`, plus one second for every `request_body_min_bytes_per_sec`
//! bytes it has sent. A client trickling a few bytes at a time (holding a connection and
//! a task open for nothing) falls behind and is cut off; a slow but working phone is not.
//! Headers have their own, fixed limit in hyper (`header_read_timeout_secs`, see `serve`).

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use haitang_sync::protocol::ErrorCode;
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub base: Duration,
    pub min_bytes_per_sec: u64,
}

/// Wraps each request body in a [`PacedBody`]; a request whose body fell behind gets a
/// 408 and its connection closed, whatever the handler made of the failed read.
pub async fn pace_request_bodies(
    State(pace): State<BodyPace>,
    req: Request,
    next: Next,
) -> Response {
    let late = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| Body::new(PacedBody::new(body, pace, late.clone())));
    let res = next.run(req).await;
    if !late.load(Ordering::Relaxed) {
        return res;
    }
    let mut res = ApiError::client(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        "the request body arrived too slowly; send it again",
    )
    .into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

pub struct PacedBody {
    inner: Body,
    pace: BodyPace,
    start: Instant,
    received: u64,
    deadline: Pin<Box<Sleep>>,
    late: Arc<AtomicBool>,
}

impl PacedBody {
    fn new(inner: Body, pace: BodyPace, late: Arc<AtomicBool>) -> PacedBody {
        let start = Instant::now();
        PacedBody {
            inner,
            pace,
            start,
            received: 0,
            deadline: Box::pin(tokio::time::sleep_until(start + pace.base)),
            late,
        }
    }
}

impl http_body::Body for PacedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let earned = Duration::from_secs_f64(
                        this.received as f64 / this.pace.min_bytes_per_sec.max(1) as f64,
                    );
                    let deadline = this.start + this.pace.base + earned;
                    this.deadline.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.late.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(axum::Error::new(
                        "the request body arrived too slowly",
                    ))));
                }
                Poll::Pending
            }
            done => done,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
