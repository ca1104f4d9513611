//! Security headers on every response: the app's Content-Security-Policy on the PWA, a
//! policy that allows nothing on the API and photos, and the usual hardening headers.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// What the PWA needs and nothing more:
/// - `script-src 'wasm-unsafe-eval'`: Automerge is WebAssembly, compiled from its own file;
///   no other eval, and no inline script (Vite emits none).
/// - `style-src 'self'`: the stylesheets are files; Preact sets `style` through the CSSOM
///   (`element.style`), which a policy does not govern, so no `'unsafe-inline'`.
/// - `img-src blob:`: photos are shown from object URLs of bytes fetched with the bearer
///   token or kept in IndexedDB; nothing uses `data:` URLs.
/// - `connect-src 'self'`: the API, the wasm and the precache are all same-origin.
/// - `worker-src 'self'`: the service worker.
const APP_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' blob:; font-src 'self'; connect-src 'self'; \
    worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// API answers and photos are data, never documents: should one ever be opened as a page
/// (a photo link, a JSON error), it runs nothing and loads nothing.
const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Camera and location for the app itself (photos, a record's place); nothing else, and
/// nothing for any embedded origin.
const PERMISSIONS: &str = "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()";

pub async fn add(req: Request, next: Next) -> Response {
    let data = req.uri().path().starts_with("/api/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let csp = if data { DATA_CSP } else { APP_CSP };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    res
}
