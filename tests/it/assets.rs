//! The embedded PWA: cache headers, the app-route fallback, 404s, compression.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

fn a_hashed_asset() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../pwa/dist/assets");
    let name = std::fs::read_dir(&dir)
        .expect("the PWA is built")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".js"))
        .expect("a JS bundle");
    format!("/assets/{name}")
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_the_shell_revalidates() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    let get = |path: String| {
        let req = client.get(format!("{}{path}", app.url));
        async move { req.send().await.expect("send") }
    };

    let res = get(a_hashed_asset()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );

    for path in ["/", "/index.html", "/sw.js", "/manifest.webmanifest"] {
        let res = get(path.into()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-cache", "{path}");
    }

    // App routes without an extension get the shell; missing files with one are 404.
    let shell = get("/".into()).await.text().await.expect("text");
    for path in ["/records", "/records/abc-123", "/zh/home"] {
        let res = get(path.into()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-cache");
        assert_eq!(res.text().await.expect("text"), shell, "{path}");
    }
    for path in ["/missing.js", "/assets/gone-1234.css", "/icon-9999.png"] {
        assert_eq!(
            get(path.into()).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Unknown API paths are JSON 404s, never the shell.
    let res = get("/api/v1/nothing-here".into()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
}

#[tokio::test]
async fn text_is_compressed_and_etags_revalidate() {
    let app = spawn_app().await;
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    for encoding in ["gzip", "br"] {
        let res = raw
            .get(app.at("/"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .expect("send");
        assert_eq!(res.headers()[CONTENT_ENCODING], encoding);
    }
    let asset = a_hashed_asset();
    let res = raw
        .get(app.at(&asset))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("send");
    assert_eq!(res.headers()[CONTENT_ENCODING], "gzip");
    let etag = res.headers()[ETAG].clone();
    let res = raw
        .get(app.at(&asset))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

/// Every kind of response carries the hardening headers: the shell and its assets get the
/// app's policy (wasm allowed, nothing inline), API answers and photos a policy that allows
/// nothing at all, whatever their status.
#[tokio::test]
async fn security_headers_on_the_app_the_api_and_photos() {
    use sha2::{Digest, Sha256};
    let app = spawn_app().await;
    let lou = app.login("lou1").await.access;
    let mut photo = vec![0xff, 0xd8, 0xff, 0xe0];
    photo.extend((0..4000u32).map(|i| (i * 7) as u8));
    let sha = hex::encode(Sha256::digest(&photo));
    let res = app
        .client
        .put(app.at(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&lou)
        .body(photo)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);

    let check = |what: &str, res: &reqwest::Response, app_policy: bool| {
        let h = res.headers();
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what}: no {name} header"))
                .to_owned()
        };
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        if app_policy {
            assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
            assert!(
                csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
                "{what}: {csp}"
            );
            assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        } else {
            assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
        }
        assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(get("x-frame-options"), "DENY", "{what}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
        let permissions = get("permissions-policy");
        assert!(
            permissions.contains("camera=(self)") && permissions.contains("geolocation=(self)"),
            "{what}: {permissions}"
        );
    };

    for path in ["/", "/records/abc", &a_hashed_asset(), "/sw.js"] {
        let res = app.client.get(app.at(path)).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        check(path, &res, true);
    }
    let res = app
        .client
        .get(app.at("/api/v1/me"))
        .bearer_auth(&lou)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), StatusCode::OK);
    check("/api/v1/me", &res, false);
    let res = app
        .client
        .get(app.at("/api/v1/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    check("/api/v1/me without a token", &res, false);
    let res = app
        .client
        .get(app.at(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&lou)
        .send()
        .await
        .expect("photo");
    assert_eq!(res.status(), StatusCode::OK);
    check("a photo", &res, false);
}
