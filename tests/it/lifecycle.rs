//! Health checks, migrations on fresh and existing databases, restarts, graceful shutdown
//! (in-process and of the real binary on SIGTERM).

use crate::helpers::{spawn_app, spawn_in, spawn_with, tamper, test_config};
use haitang_server::AppState;
use haitang_server::db::latest_version;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.at("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .client
        .get(app.at("/readyz"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let info: serde_json::Value = app
        .client
        .get(app.at("/api/v1/info"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(info["demo"], true);
    // The login page's first-run list comes from the demo's own accounts.
    let accounts = info["demo_accounts"].as_array().expect("demo accounts");
    assert_eq!(accounts.len(), haitang_server::demo::ACCOUNTS.len());
    assert!(
        accounts
            .iter()
            .any(|a| a["username"] == "lou1" && a["role"] == "leader")
    );
    assert_eq!(info["demo_password"], haitang_server::demo::PASSWORD);
}

#[tokio::test]
async fn migrations_on_a_fresh_and_an_existing_database() {
    let app = spawn_app().await;
    assert_eq!(
        app.state.db.schema_version().await.expect("version"),
        latest_version()
    );
    let admin = app.login("admin").await;
    let (status, _) = app
        .post(
            "/api/v1/admin/users",
            Some(&admin.access),
            serde_json::json!({"username": "keeper", "name": "留存", "role": "grid_staff",
                "unit": "/gusu/pj/ws1/cangjie/g03", "password": "keep-me-please"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let dir = app.stop().await;

    // A second start reuses the database: same users, demo seeding changes nothing.
    let config = test_config(dir.path());
    let app = spawn_in(dir, config).await;
    assert_eq!(
        app.state.db.schema_version().await.expect("version"),
        latest_version()
    );
    assert_eq!(
        app.login_raw("keeper", "keep-me-please").await.status(),
        StatusCode::OK
    );
    let admin = app.login("admin").await;
    let (_, users) = app.get("/api/v1/admin/users", &admin.access).await;
    assert_eq!(users["users"].as_array().map(Vec::len), Some(11));
    let dir = app.stop().await;

    // A database from a newer binary is refused with a clear message.
    let path = dir.path().join("haitang.db");
    let next = latest_version() + 1;
    tamper(path, move |c| {
        c.execute_batch(&format!("PRAGMA user_version = {next}"))
    })
    .await;
    let err = match AppState::open(test_config(dir.path())).await {
        Ok(_) => panic!("a newer database must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("newer than this binary"), "{err}");
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let mut app = spawn_app().await;
    let (stop, handle) = app.shutdown_handle();
    let addr = app.url.trim_start_matches("http://").to_owned();
    let body = r#"{"username": "grid1", "password": "demo"}"#;
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut stream = BufReader::new(stream);
    stream
        .get_mut()
        .write_all(
            format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .expect("headers");
    // The server answers `100 Continue` when the handler starts reading the body: from
    // here on the request is provably in flight.
    let mut line = String::new();
    stream.read_line(&mut line).await.expect("100");
    assert!(line.starts_with("HTTP/1.1 100"), "{line}");
    stream.read_line(&mut line).await.expect("blank line");

    let _ = stop.send(());
    stream
        .get_mut()
        .write_all(body.as_bytes())
        .await
        .expect("body");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("access_token"), "{response}");

    handle.await.expect("join").expect("clean stop");
    // New connections are refused once stopped.
    assert!(app.client.get(app.at("/healthz")).send().await.is_err());
    // The writer checkpointed and closed the database: no WAL left with data in it.
    let wal = app.db_path().with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "WAL not checkpointed"
    );
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("h.db");
    let mut server = crate::helpers::start_binary(&db);
    let res = reqwest::get(format!("{}/readyz", server.url))
        .await
        .expect("ready");
    assert_eq!(res.status(), StatusCode::OK);
    let exit = server.terminate();
    assert!(exit.success(), "exit status {exit}");
    let wal = db.with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "WAL not checkpointed"
    );
}

/// Reads until the server closes the connection; `None` if it is still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn half_sent_requests_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_with(|c| {
        c.header_read_timeout_secs = 1;
        c.request_body_timeout_secs = 1;
    })
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();

    // Half a request head, then nothing.
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nAccept: */").as_bytes())
        .await
        .expect("half a head");
    assert!(
        closed_within(&mut stream, Duration::from_secs(5))
            .await
            .is_some(),
        "a half-sent head holds its connection open"
    );

    // A whole head and part of the body it announces.
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream
        .write_all(
            format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: 200\r\n\r\n{{\"username\": \"gr"
            )
            .as_bytes(),
        )
        .await
        .expect("part of a body");
    let answer = closed_within(&mut stream, Duration::from_secs(5))
        .await
        .expect("a half-sent body holds its connection open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    // A prompt client is unaffected.
    assert_eq!(
        app.client
            .get(app.at("/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn shutdown_ends_even_when_a_client_stops_reading() {
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mut app = spawn_with(|c| {
        c.shutdown_drain_secs = 1;
        c.max_blob_bytes = 32 * 1024 * 1024;
    })
    .await;
    // A photo far larger than the socket buffers on both sides can hold.
    let mut photo = vec![0xff, 0xd8, 0xff, 0xe0];
    photo.extend((0..24 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let sha = hex::encode(Sha256::digest(&photo));
    let lou = app.login("lou1").await.access;
    let res = app
        .client
        .put(app.at(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(&lou)
        .body(photo)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);

    let addr: std::net::SocketAddr = app.url.trim_start_matches("http://").parse().expect("addr");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut stream = BufReader::new(socket.connect(addr).await.expect("connect"));
    stream
        .get_mut()
        .write_all(
            format!(
                "GET /api/v1/blobs/{sha} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {lou}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    // The answer has begun; from here on the client reads nothing more.
    let mut line = String::new();
    stream.read_line(&mut line).await.expect("status line");
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");

    let (stop, handle) = app.shutdown_handle();
    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(10), handle).await;
    let result = stopped.expect("the server is still draining a client that stopped reading");
    result.expect("join").expect("clean stop");
    drop(stream);
}
