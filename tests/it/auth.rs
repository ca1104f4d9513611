//! Login, refresh rotation and reuse detection, logout, revocation, bad tokens, rate limits,
//! and `/api/v1/me` for every demo role.

use crate::helpers::{TEST_SECRET, assert_error, spawn_app, spawn_with, tamper};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haitang_server::auth::{AuthKeys, Claims};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn login_returns_tokens_user_and_scope() {
    let app = spawn_app().await;
    let s = app.login("lou1").await;
    assert_eq!(s.user["username"], "lou1");
    assert_eq!(s.user["role"], "leader");
    assert_eq!(s.user["unit"], "/gusu/byw/ws1/jinzhu/g01/b1");
    assert_eq!(s.user["unit_name"], "金筑苑3幢");
    assert_eq!(
        s.user["scope"],
        json!({"kind": "sector", "path": "/gusu/byw/ws1/jinzhu/g01/b1"})
    );
    let (status, me) = app.get("/api/v1/me", &s.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"], s.user);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_disabled_user_are_401() {
    let app = spawn_app().await;
    for (user, pass) in [("grid1", "wrong"), ("nobody", "demo"), ("grid1", "")] {
        let res = app.login_raw(user, pass).await;
        let got = crate::helpers::split(res).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let admin = app.login("admin").await;
    let got = app
        .post(
            "/api/v1/admin/users/grid2/disable",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let got = crate::helpers::split(app.login_raw("grid2", "demo").await).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "bad_credentials");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_chain() {
    let app = spawn_app().await;
    let first = app.login("grid1").await;

    let (status, second) = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().expect("refresh");
    let second_access = second["access_token"].as_str().expect("access");
    assert_ne!(second_refresh, first.refresh);
    assert_eq!(app.get("/api/v1/me", second_access).await.0, StatusCode::OK);

    // The old token again: a thief or a replay. The whole session dies.
    let got = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first.refresh}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    let got = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second_refresh}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let got = app.get("/api/v1/me", second_access).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "unauthorized");

    // Other sessions of the same user are untouched.
    let other = app.login("grid1").await;
    assert_eq!(app.get("/api/v1/me", &other.access).await.0, StatusCode::OK);

    let got = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": "made-up"}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let s = app.login("grid1").await;
    // Age the token in the database itself: the server must read expiry from there.
    let hash = haitang_server::auth::refresh_hash(&s.refresh);
    age_refresh_token(app.db_path(), hash).await;
    let got = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

async fn age_refresh_token(db: std::path::PathBuf, hash: Vec<u8>) {
    let n = tamper(db, move |c| {
        c.execute(
            "UPDATE refresh_tokens SET expires_at = 1 WHERE hash = ?1",
            [hash],
        )
    })
    .await;
    assert_eq!(n, 1);
}

/// Two refreshes with the same token (two requests that each saw the access token
/// expire, or a retry after a lost answer) both get the same new pair; the session lives.
/// Reuse is still caught once the client has used the new pair, or after the grace.
#[tokio::test]
async fn a_refresh_retried_at_once_gets_the_same_answer() {
    let app = spawn_app().await;
    let first = app.login("grid1").await;
    let body = json!({"refresh_token": first.refresh});
    let (a, b) = tokio::join!(
        app.post("/api/v1/auth/refresh", None, body.clone()),
        app.post("/api/v1/auth/refresh", None, body.clone()),
    );
    assert_eq!(a.0, StatusCode::OK, "{}", a.1);
    assert_eq!(b.0, StatusCode::OK, "{}", b.1);
    let next = a.1["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(next, first.refresh);
    assert_eq!(b.1["refresh_token"], next.as_str(), "the same successor");
    for pair in [&a.1, &b.1] {
        let access = pair["access_token"].as_str().expect("access");
        assert_eq!(app.get("/api/v1/me", access).await.0, StatusCode::OK);
    }
    // The client has shown it holds the new pair: the old token now is a replay.
    let got = app.post("/api/v1/auth/refresh", None, body.clone()).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "refresh_token_reused");
    let got = app
        .post("/api/v1/auth/refresh", None, json!({"refresh_token": next}))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");

    // A retry after the grace is reuse too, even with the new pair never used.
    let s = app.login("grid1").await;
    let body = json!({"refresh_token": s.refresh});
    let got = app.post("/api/v1/auth/refresh", None, body.clone()).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    let hash = haitang_server::auth::refresh_hash(&s.refresh);
    let n = tamper(app.db_path(), move |c| {
        c.execute(
            "UPDATE refresh_tokens SET used_at = used_at - 31000 WHERE hash = ?1",
            [hash],
        )
    })
    .await;
    assert_eq!(n, 1, "age the rotation");
    let got = app.post("/api/v1/auth/refresh", None, body).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "refresh_token_reused");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let s = app.login("grid1").await;
    let (status, _) = app
        .post(
            "/api/v1/auth/logout",
            Some(&s.access),
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &app.get("/api/v1/me", &s.access).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let got = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn admin_revokes_every_session_of_a_lost_phone() {
    let app = spawn_app().await;
    let phone = app.login("xiang1").await;
    let tablet = app.login("xiang1").await;
    let admin = app.login("admin").await;
    let (status, body) = app
        .post(
            "/api/v1/admin/users/xiang1/revoke-sessions",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["revoked"], 2);
    for s in [&phone, &tablet] {
        assert_error(
            &app.get("/api/v1/me", &s.access).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        let got = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": s.refresh}),
            )
            .await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    }
    // A fresh login works again.
    let again = app.login("xiang1").await;
    assert_eq!(app.get("/api/v1/me", &again.access).await.0, StatusCode::OK);
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn hmac_token(header: serde_json::Value, claims: serde_json::Value, key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(signing_input.as_bytes());
    let sig = mac.finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn every_kind_of_bad_token_is_401() {
    let app = spawn_app().await;
    let s = app.login("grid1").await;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let sid = {
        let payload = s.access.split('.').nth(1).expect("payload");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        claims["sid"].as_i64().expect("sid")
    };
    let good_claims =
        json!({"sub": s.user["id"].to_string(), "sid": sid, "iat": now, "exp": now + 600});
    let keys = AuthKeys::from_secret(TEST_SECRET.as_bytes());

    // Our own forging works with the right key, so the refusals below are for their reason.
    let forged = keys
        .sign(&serde_json::from_value::<Claims>(good_claims.clone()).expect("claims"))
        .expect("sign");
    assert_eq!(app.get("/api/v1/me", &forged).await.0, StatusCode::OK);

    let expired = keys
        .sign(&Claims {
            sub: s.user["id"].to_string(),
            sid,
            iat: now - 7200,
            exp: now - 3600,
        })
        .expect("sign");
    let wrong_key = AuthKeys::from_secret(b"another-secret-another-secret-!!")
        .sign(&serde_json::from_value::<Claims>(good_claims.clone()).expect("claims"))
        .expect("sign");
    // Claim to be user 1 (the admin) under the original signature.
    let tampered = {
        let parts: Vec<&str> = s.access.split('.').collect();
        let evil = json!({"sub": "1", "sid": sid, "iat": now, "exp": now + 600});
        format!("{}.{}.{}", parts[0], b64(&evil), parts[2])
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good_claims)
    );
    // Algorithm confusion: a different algorithm named in the header, signed with our key.
    let hs384_header = hmac_token(
        json!({"alg": "HS384", "typ": "JWT"}),
        good_claims.clone(),
        TEST_SECRET.as_bytes(),
    );
    let rs256_header = hmac_token(
        json!({"alg": "RS256", "typ": "JWT"}),
        good_claims.clone(),
        TEST_SECRET.as_bytes(),
    );
    let no_exp = hmac_token(
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"sub": s.user["id"].to_string(), "sid": sid, "iat": now}),
        TEST_SECRET.as_bytes(),
    );
    let other_session = keys
        .sign(&Claims {
            sub: s.user["id"].to_string(),
            sid: sid + 1000,
            iat: now,
            exp: now + 600,
        })
        .expect("sign");

    for (name, token) in [
        ("expired", expired.as_str()),
        ("wrong key", &wrong_key),
        ("tampered", &tampered),
        ("alg none", &alg_none),
        ("HS384 header", &hs384_header),
        ("RS256 header", &rs256_header),
        ("no exp", &no_exp),
        ("unknown session", &other_session),
        ("garbage", "not.a.token"),
        ("empty", ""),
    ] {
        let got = app.get("/api/v1/me", token).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{name}: {}", got.1);
        assert_eq!(got.1["code"], "unauthorized", "{name}");
    }

    let res = app
        .client
        .get(app.at("/api/v1/me"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .client
        .get(app.at("/api/v1/me"))
        .header("authorization", format!("Basic {}", s.access))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_is_rate_limited_per_username() {
    let app = spawn_with(|c| {
        c.login_per_minute_user = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            app.login_raw("grid1", "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login_raw("grid1", "demo").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    let got = crate::helpers::split(res).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another username is not affected.
    assert_eq!(
        app.login_raw("grid2", "demo").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_client_address() {
    let app = spawn_with(|c| {
        c.login_per_minute_ip = 4;
    })
    .await;
    for user in ["a", "b", "c", "d"] {
        assert_eq!(
            app.login_raw(user, "x").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login_raw("grid1", "demo").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A client on its own loopback address (the whole of 127.0.0.0/8 is local on Linux), to
/// sign in from somewhere else than the test's other requests.
fn client_from(addr: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(addr))
        .build()
        .expect("client")
}

async fn login_from(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> StatusCode {
    let mut req = client
        .post(app.at("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.expect("send").status()
}

#[tokio::test]
async fn bad_attempts_from_elsewhere_do_not_lock_the_owner_out() {
    let app = spawn_with(|c| {
        c.login_per_minute_user = 3;
        c.login_per_minute_user_total = 6;
    })
    .await;
    let attacker = client_from([127, 0, 0, 2]);
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, &attacker, "grid1", "wrong", None).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, &attacker, "grid1", "demo", None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The owner, from their own address, still signs in.
    let owner = client_from([127, 0, 0, 1]);
    assert_eq!(
        login_from(&app, &owner, "grid1", "demo", None).await,
        StatusCode::OK
    );
    // Guessing from many addresses meets the username's ceiling (six attempts so far).
    let other = client_from([127, 0, 0, 3]);
    assert_eq!(
        login_from(&app, &other, "grid1", "wrong", None).await,
        StatusCode::UNAUTHORIZED
    );
    let last = client_from([127, 0, 0, 4]);
    assert_eq!(
        login_from(&app, &last, "grid1", "wrong", None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(&app, &client_from([127, 0, 0, 5]), "grid1", "demo", None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // Not trusted (the default): the header is the client's to make up, and ignored.
    let app = spawn_with(|c| c.login_per_minute_ip = 2).await;
    let client = reqwest::Client::new();
    for (i, f) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        assert_eq!(
            login_from(&app, &client, &format!("nobody{i}"), "x", Some(f)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, &client, "grid1", "demo", Some("198.51.100.3")).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Behind a trusted proxy: each client has its own limit, named by the proxy.
    let app = spawn_with(|c| {
        c.login_per_minute_ip = 2;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().expect("cidr")];
    })
    .await;
    for i in 0..2 {
        assert_eq!(
            login_from(
                &app,
                &client,
                &format!("nobody{i}"),
                "x",
                Some("203.0.113.1")
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, &client, "grid1", "demo", Some("203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // What the client itself put in front of the proxy's entry changes nothing.
    assert_eq!(
        login_from(
            &app,
            &client,
            "grid1",
            "demo",
            Some("192.0.2.50, 203.0.113.1")
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, &client, "grid1", "demo", Some("203.0.113.2")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn me_shows_each_role_its_scope() {
    let app = spawn_app().await;
    let cases = [
        (
            "admin",
            "district_admin",
            json!({"kind": "subtree", "path": "/gusu"}),
        ),
        (
            "street1",
            "street_supervisor",
            json!({"kind": "subtree", "path": "/gusu/byw"}),
        ),
        (
            "ws1",
            "workstation_supervisor",
            json!({"kind": "subtree", "path": "/gusu/byw/ws1"}),
        ),
        (
            "community1",
            "community_supervisor",
            json!({"kind": "subtree", "path": "/gusu/byw/ws1/jinzhu"}),
        ),
        (
            "grid1",
            "grid_staff",
            json!({"kind": "subtree", "path": "/gusu/byw/ws1/jinzhu/g01"}),
        ),
        (
            "grid2",
            "grid_staff",
            json!({"kind": "subtree", "path": "/gusu/byw/ws1/jinzhu/g02"}),
        ),
        (
            "lou1",
            "leader",
            json!({"kind": "sector", "path": "/gusu/byw/ws1/jinzhu/g01/b1"}),
        ),
        (
            "xiang1",
            "leader",
            json!({"kind": "sector", "path": "/gusu/byw/ws1/jinzhu/g01/l1"}),
        ),
        (
            "yuan1",
            "leader",
            json!({"kind": "sector", "path": "/gusu/byw/ws1/jinzhu/g02/c1"}),
        ),
        (
            "police1",
            "department_handler",
            json!({"kind": "department", "department": "/gusu:police"}),
        ),
    ];
    for (username, role, scope) in cases {
        let s = app.login(username).await;
        let (status, me) = app.get("/api/v1/me", &s.access).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["user"]["role"], role, "{username}");
        assert_eq!(me["user"]["scope"], scope, "{username}");
    }
}

#[tokio::test]
async fn bad_login_bodies_get_clear_errors() {
    let app = spawn_app().await;
    let send = |body: &'static str, ct: &'static str| {
        let req = app
            .client
            .post(app.at("/api/v1/auth/login"))
            .header("content-type", ct)
            .body(body);
        async move { crate::helpers::split(req.send().await.expect("send")).await }
    };
    let got = send("{\"username\": \"grid1\", ", "application/json").await;
    assert_error(&got, StatusCode::BAD_REQUEST, "malformed_json");
    let got = send(
        "{\"username\": 5, \"password\": \"demo\"}",
        "application/json",
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let got = send("{\"username\": \"grid1\"}", "application/json").await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let got = send(
        "{\"username\": \"grid1\", \"password\": \"demo\", \"admin\": true}",
        "application/json",
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let got = send("username=grid1", "application/x-www-form-urlencoded").await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let res = app
        .client
        .post(app.at("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    let got = crate::helpers::split(res).await;
    assert_error(&got, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    // The server is still fine.
    app.login("grid1").await;
}

#[tokio::test]
async fn units_show_each_user_where_they_may_file_records() {
    let app = spawn_app().await;
    let paths = |body: &serde_json::Value| -> Vec<String> {
        body["units"]
            .as_array()
            .expect("units")
            .iter()
            .map(|u| u["path"].as_str().expect("path").to_owned())
            .collect()
    };
    let lou = app.login("lou1").await;
    let (status, body) = app.get("/api/v1/units", &lou.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        paths(&body),
        vec!["/gusu/byw/ws1/jinzhu/g01", "/gusu/byw/ws1/jinzhu/g01/b1"]
    );
    let grid = app.login("grid1").await;
    let (_, body) = app.get("/api/v1/units", &grid.access).await;
    assert_eq!(
        paths(&body),
        vec![
            "/gusu/byw/ws1/jinzhu/g01",
            "/gusu/byw/ws1/jinzhu/g01/b1",
            "/gusu/byw/ws1/jinzhu/g01/c1",
            "/gusu/byw/ws1/jinzhu/g01/l1",
        ]
    );
    let community = app.login("community1").await;
    let (_, body) = app.get("/api/v1/units", &community.access).await;
    assert_eq!(paths(&body).len(), 1 + 3 + 9);
    // A department handler names the units of the whole area its department serves
    // (/gusu:police serves the district), so a dispatched record shows names, not codes.
    let police = app.login("police1").await;
    let (_, body) = app.get("/api/v1/units", &police.access).await;
    let admin = app.login("admin").await;
    let (_, all) = app.get("/api/v1/units", &admin.access).await;
    assert_eq!(paths(&body), paths(&all));
    assert!(paths(&body).contains(&"/gusu/byw/ws1/jinzhu/g01/b1".to_owned()));
}
