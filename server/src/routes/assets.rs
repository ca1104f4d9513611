//! The embedded PWA. Vite puts content-hashed files under `assets/`; they never change, so
//! they are cached for a year. Everything else (index.html, the service worker, the
//! manifest, icons) must be revalidated so a deploy reaches phones. A path without an
//! extension is an app route and gets index.html; a missing file with one is a 404.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../pwa/dist"]
struct Pwa;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub async fn serve_asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return crate::error::ApiError::not_found("no such API endpoint").into_response();
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let (name, file) = match Pwa::get(path) {
        Some(file) if !path.is_empty() => (path, file),
        _ if path.is_empty() || !last.contains('.') => match Pwa::get("index.html") {
            Some(file) => ("index.html", file),
            None => return (StatusCode::NOT_FOUND, "the PWA is not built").into_response(),
        },
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };

    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let mut res = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mime = file.metadata.mimetype().to_owned();
        let mut res = Body::from(file.data).into_response();
        if let Ok(v) = HeaderValue::from_str(&mime) {
            res.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        res
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if name == "sw.js" {
        // Lets the worker control the whole origin even if it is ever served from a subpath.
        h.insert("service-worker-allowed", HeaderValue::from_static("/"));
    }
    res
}
