//! Photos: upload whole and in chunks, every refusal, who may fetch, pending references,
//! a server killed mid-upload, and collection of photos nobody references.

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::helpers::{login_at, start_binary};
use crate::phone::{Phone, record};
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

/// A small but real JPEG-looking payload (JPEG magic, then noise), unique per `seed`.
fn jpeg(seed: u8, len: usize) -> (String, Vec<u8>) {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0];
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    (hex::encode(Sha256::digest(&bytes)), bytes)
}

async fn put(
    app_url: &str,
    token: &str,
    sha: &str,
    body: Vec<u8>,
    range: Option<String>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .put(format!("{app_url}/api/v1/blobs/{sha}"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(body);
    if let Some(r) = range {
        req = req.header("content-range", r);
    }
    req.send().await.expect("send")
}

async fn head(app_url: &str, token: &str, sha: &str) -> (StatusCode, Option<u64>) {
    let res = reqwest::Client::new()
        .head(format!("{app_url}/api/v1/blobs/{sha}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let offset = res
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (res.status(), offset)
}

async fn code(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

/// Attaches a photo reference to a record on the phone, as the app does.
fn attach(p: &mut Phone, id: &str, sha: &str, bytes: usize, by: i64) {
    p.edit(id, |tx| {
        let (_, list) = tx
            .get(ROOT, "attachments")
            .expect("get")
            .expect("attachments");
        let end = tx.length(&list);
        let a = tx.insert_object(&list, end, ObjType::Map).expect("insert");
        tx.put(&a, "sha256", sha).expect("put");
        tx.put(&a, "mime", "image/jpeg").expect("put");
        tx.put(&a, "bytes", bytes as i64).expect("put");
        tx.put(&a, "width", 1600_i64).expect("put");
        tx.put(&a, "height", 1200_i64).expect("put");
        tx.put(&a, "taken_at", 1_763_900_000_000_i64).expect("put");
        tx.put(&a, "by", by).expect("put");
    });
}

async fn get_photo(app: &TestApp, token: &str, sha: &str) -> (StatusCode, Vec<u8>) {
    let res = app
        .client
        .get(app.at(&format!("/api/v1/blobs/{sha}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    (res.status(), res.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn upload_fetch_and_who_may_see_it() {
    let app = spawn_app().await;
    let lou = app.login("lou1").await;
    let lou_id = lou.user["id"].as_i64().expect("id");
    let (sha, bytes) = jpeg(1, 50_000);

    // A record references the photo before it is uploaded: the photo is pending.
    let mut phone = Phone::new(&app.url, &lou.access);
    let id = phone.create(&record(lou_id));
    attach(&mut phone, &id, &sha, bytes.len(), lou_id);
    phone.sync().await;
    assert!(phone.refused.is_empty(), "{:?}", phone.refused);
    let community = app.login("community1").await.access;
    assert_eq!(
        head(&app.url, &community, &sha).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_photo(&app, &community, &sha).await.0,
        StatusCode::NOT_FOUND,
        "pending"
    );

    let res = put(&app.url, &lou.access, &sha, bytes.clone(), None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(
        (body["mime"].as_str(), body["bytes"].as_u64()),
        (Some("image/jpeg"), Some(bytes.len() as u64))
    );
    assert_eq!(
        put(&app.url, &lou.access, &sha, bytes.clone(), None)
            .await
            .status(),
        StatusCode::OK,
        "idempotent"
    );
    assert_eq!(head(&app.url, &lou.access, &sha).await.0, StatusCode::OK);

    // Those who may see the record see the photo; others get a 404.
    for who in ["lou1", "grid1", "community1", "street1", "admin"] {
        let token = app.login(who).await.access;
        let (status, got) = get_photo(&app, &token, &sha).await;
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(got, bytes, "{who}");
    }
    for who in ["yuan1", "grid2", "police1", "xiang1"] {
        let token = app.login(who).await.access;
        assert_eq!(
            get_photo(&app, &token, &sha).await.0,
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    let res = app
        .client
        .get(app.at(&format!("/api/v1/blobs/{sha}")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_refusal_stores_nothing() {
    let app = spawn_with(|c| {
        c.max_blob_bytes = 100_000;
        c.blob_quota_bytes_per_day = 150_000;
    })
    .await;
    let lou = app.login("lou1").await.access;
    let (sha, bytes) = jpeg(2, 1000);

    // Wrong hash.
    let (other, _) = jpeg(3, 1000);
    assert_eq!(
        code(put(&app.url, &lou, &other, bytes.clone(), None).await).await,
        (StatusCode::BAD_REQUEST, "hash_mismatch".into())
    );
    assert_eq!(
        head(&app.url, &lou, &other).await,
        (StatusCode::NOT_FOUND, None)
    );
    // Not an image, whatever the header says.
    let text = b"<svg onload=alert(1)>".repeat(10);
    let text_sha = hex::encode(Sha256::digest(&text));
    assert_eq!(
        code(put(&app.url, &lou, &text_sha, text, None).await).await,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type".into()
        )
    );
    // A malformed name.
    assert_eq!(
        code(put(&app.url, &lou, "ABC", bytes.clone(), None).await).await,
        (StatusCode::BAD_REQUEST, "invalid_hash".into())
    );
    // Over the file limit, declared or sent.
    let (big_sha, big) = jpeg(4, 120_000);
    assert_eq!(
        code(put(&app.url, &lou, &big_sha, big, None).await).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        code(
            put(
                &app.url,
                &lou,
                &big_sha,
                vec![0xff, 0xd8, 0xff, 0],
                Some("bytes 0-3/200000".into())
            )
            .await
        )
        .await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    // Over the daily quota: two photos fit, the third does not.
    for seed in [5, 6] {
        let (s, b) = jpeg(seed, 70_000);
        assert_eq!(
            put(&app.url, &lou, &s, b, None).await.status(),
            StatusCode::CREATED
        );
    }
    let (s, b) = jpeg(7, 70_000);
    assert_eq!(
        code(put(&app.url, &lou, &s, b, None).await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    // Another user has their own quota.
    let grid = app.login("grid1").await.access;
    assert_eq!(
        put(&app.url, &grid, &sha, bytes, None).await.status(),
        StatusCode::CREATED
    );
    // Nothing of the refused ones is on disk.
    let blobs_dir = app.dir.path().join("blobs");
    for refused in [&other, &text_sha, &big_sha, &s] {
        assert!(
            !blobs_dir
                .join(&refused[0..2])
                .join(&refused[2..4])
                .join(refused)
                .exists()
        );
    }
}

#[tokio::test]
async fn chunked_uploads_resume_from_the_servers_offset() {
    let app = spawn_app().await;
    let lou = app.login("lou1").await.access;
    let (sha, bytes) = jpeg(8, 300_000);
    let total = bytes.len();
    let chunk = |a: usize, b: usize| {
        (
            bytes[a..b].to_vec(),
            Some(format!("bytes {a}-{}/{total}", b - 1)),
        )
    };

    let (body, range) = chunk(0, 100_000);
    let res = put(&app.url, &lou, &sha, body, range).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(res.headers()["upload-offset"], "100000");
    assert_eq!(
        head(&app.url, &lou, &sha).await,
        (StatusCode::NOT_FOUND, Some(100_000))
    );
    // A chunk from the wrong place says where to resume.
    let (body, range) = chunk(150_000, 200_000);
    let res = put(&app.url, &lou, &sha, body, range).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers()["upload-offset"], "100000");
    let (body, range) = chunk(100_000, 200_000);
    assert_eq!(
        put(&app.url, &lou, &sha, body, range).await.status(),
        StatusCode::ACCEPTED
    );
    let (body, range) = chunk(200_000, total);
    assert_eq!(
        put(&app.url, &lou, &sha, body, range).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(head(&app.url, &lou, &sha).await.0, StatusCode::OK);

    // A chunked upload whose bytes turn out wrong is discarded whole.
    let (sha2, mut bad) = jpeg(9, 2000);
    let n = bad.len();
    bad[1500] ^= 1;
    assert_eq!(
        put(
            &app.url,
            &lou,
            &sha2,
            bad[..1000].to_vec(),
            Some(format!("bytes 0-999/{n}"))
        )
        .await
        .status(),
        StatusCode::ACCEPTED
    );
    let res = put(
        &app.url,
        &lou,
        &sha2,
        bad[1000..].to_vec(),
        Some(format!("bytes 1000-{}/{n}", n - 1)),
    )
    .await;
    assert_eq!(
        code(res).await,
        (StatusCode::BAD_REQUEST, "hash_mismatch".into())
    );
    assert_eq!(
        head(&app.url, &lou, &sha2).await,
        (StatusCode::NOT_FOUND, None)
    );
}

#[tokio::test]
async fn a_server_killed_mid_upload_never_serves_a_partial_photo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("blobs.db");
    let mut server = start_binary(&db);
    let url = server.url.clone();
    let (token, lou_id) = login_at(&url, "lou1").await;
    let (sha, bytes) = jpeg(10, 400_000);
    let total = bytes.len();
    let mut phone = Phone::new(&url, &token);
    let id = phone.create(&record(lou_id));
    attach(&mut phone, &id, &sha, total, lou_id);
    phone.sync().await;
    let res = put(
        &url,
        &token,
        &sha,
        bytes[..150_000].to_vec(),
        Some(format!("bytes 0-149999/{total}")),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Killed with the next chunk in flight.
    let inflight = {
        let (url, token, sha) = (url.clone(), token.clone(), sha.clone());
        let body = bytes[150_000..300_000].to_vec();
        tokio::spawn(async move {
            put(
                &url,
                &token,
                &sha,
                body,
                Some(format!("bytes 150000-299999/{total}")),
            )
            .await
        })
    };
    server.kill();
    let _ = inflight.await;

    let mut server = start_binary(&db);
    let url = server.url.clone();
    let (token, _) = login_at(&url, "lou1").await;
    let (community, _) = login_at(&url, "community1").await;
    let res = reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{sha}"))
        .bearer_auth(&community)
        .send()
        .await
        .expect("get");
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a partial photo is never served"
    );
    // The client asks where to resume and finishes.
    let (status, offset) = head(&url, &token, &sha).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let offset = offset.unwrap_or(0) as usize;
    assert!(offset == 150_000 || offset == 300_000, "offset {offset}");
    let res = put(
        &url,
        &token,
        &sha,
        bytes[offset..].to_vec(),
        Some(format!("bytes {offset}-{}/{total}", total - 1)),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let got = reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{sha}"))
        .bearer_auth(&community)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.to_vec(), bytes);
    assert!(server.terminate().success());
}

#[tokio::test]
async fn photos_nobody_references_are_collected_after_the_grace_period() {
    let app = spawn_app().await;
    let lou = app.login("lou1").await;
    let lou_id = lou.user["id"].as_i64().expect("id");
    let (kept, kept_bytes) = jpeg(11, 5000);
    let (orphan, orphan_bytes) = jpeg(12, 5000);
    for (s, b) in [(&kept, kept_bytes.clone()), (&orphan, orphan_bytes)] {
        assert_eq!(
            put(&app.url, &lou.access, s, b, None).await.status(),
            StatusCode::CREATED
        );
    }
    let mut phone = Phone::new(&app.url, &lou.access);
    let id = phone.create(&record(lou_id));
    attach(&mut phone, &id, &kept, kept_bytes.len(), lou_id);
    phone.sync().await;

    let now = haitang_server::db::now_ms();
    assert_eq!(
        haitang_server::jobs::collect_blobs_once(&app.state, now)
            .await
            .expect("gc"),
        0,
        "within the grace period"
    );
    let later = now + (7 * 24 + 1) * 3_600_000;
    assert_eq!(
        haitang_server::jobs::collect_blobs_once(&app.state, later)
            .await
            .expect("gc"),
        1
    );
    assert_eq!(
        head(&app.url, &lou.access, &orphan).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(head(&app.url, &lou.access, &kept).await.0, StatusCode::OK);
}

/// A record in `sector` of `grid` (under 金筑社区) reported by `by`.
fn record_in(by: i64, grid: &str, sector: Option<&str>) -> haitang_sync::record::NewRecord {
    let base = "/gusu/byw/ws1/jinzhu";
    haitang_sync::record::NewRecord {
        grid: format!("{base}/{grid}"),
        sector: sector.map(|s| format!("{base}/{grid}/{s}")),
        ..record(by)
    }
}

#[tokio::test]
async fn knowing_a_hash_gives_no_access_to_a_photo() {
    let app = spawn_app().await;
    let grid1 = app.login("grid1").await;
    let grid1_id = grid1.user["id"].as_i64().expect("id");
    let (sha, bytes) = jpeg(20, 20_000);
    // grid1's photo of the building, which the lane's leader and grid2 may not see.
    let mut g1 = Phone::new(&app.url, &grid1.access);
    let building = g1.create(&record(grid1_id));
    attach(&mut g1, &building, &sha, bytes.len(), grid1_id);
    g1.sync().await;
    assert!(g1.refused.is_empty(), "{:?}", g1.refused);
    assert_eq!(
        put(&app.url, &grid1.access, &sha, bytes.clone(), None)
            .await
            .status(),
        StatusCode::CREATED
    );

    // grid2 names it in a record of its own grid, claiming grid1 took it.
    let grid2 = app.login("grid2").await;
    let grid2_id = grid2.user["id"].as_i64().expect("id");
    let mut g2 = Phone::new(&app.url, &grid2.access);
    let theirs = g2.create(&record_in(grid2_id, "g02", Some("c1")));
    attach(&mut g2, &theirs, &sha, bytes.len(), grid1_id);
    g2.sync().await;
    // The push path refuses to store the reference at all.
    assert_eq!(
        g2.refused.get(&theirs).map(|(code, _)| code.as_str()),
        Some("forbidden"),
        "{:?}",
        g2.refused
    );
    let yuan = app.login("yuan1").await.access;
    for token in [&grid2.access, &yuan] {
        assert_eq!(get_photo(&app, token, &sha).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            head(&app.url, token, &sha).await,
            (StatusCode::NOT_FOUND, None)
        );
    }
    // A PUT answers as for a photo the server does not have: the bytes are checked.
    let (_, other_bytes) = jpeg(21, 20_000);
    assert_eq!(
        code(put(&app.url, &grid2.access, &sha, other_bytes, None).await).await,
        (StatusCode::BAD_REQUEST, "hash_mismatch".into())
    );

    // The lane's leader names it in a lane record that grid1 itself then edits: who else
    // edited the record does not matter, only who wrote the reference.
    let xiang = app.login("xiang1").await;
    let xiang_id = xiang.user["id"].as_i64().expect("id");
    let mut x = Phone::new(&app.url, &xiang.access);
    let lane = x.create(&record_in(xiang_id, "g01", Some("l1")));
    attach(&mut x, &lane, &sha, bytes.len(), grid1_id);
    x.sync().await;
    assert_eq!(
        x.refused.get(&lane).map(|(code, _)| code.as_str()),
        Some("forbidden")
    );
    let (own, own_bytes) = jpeg(22, 20_000);
    assert_eq!(
        put(&app.url, &grid1.access, &own, own_bytes.clone(), None)
            .await
            .status(),
        StatusCode::CREATED
    );
    g1.sync().await;
    if g1.docs.contains_key(&lane) {
        attach(&mut g1, &lane, &own, own_bytes.len(), grid1_id);
        g1.sync().await;
        assert!(g1.refused.is_empty(), "{:?}", g1.refused);
        assert_eq!(
            get_photo(&app, &xiang.access, &own).await,
            (StatusCode::OK, own_bytes),
            "grid1's own photo on the lane record"
        );
    }
    assert_eq!(
        get_photo(&app, &xiang.access, &sha).await.0,
        StatusCode::NOT_FOUND
    );

    // What the push path may ask: grid2 may not name it, a photo still to come it may.
    let db = &app.state.db;
    let grid2_principal = db
        .user_by_username("grid2".into())
        .await
        .expect("db")
        .expect("grid2")
        .principal();
    let may = |sha: &str| db.may_reference_blob(grid2_principal.clone(), sha.to_owned());
    assert!(!may(&sha).await.expect("db"));
    assert!(may(&jpeg(23, 10).0).await.expect("db"), "not uploaded yet");

    // Sending the bytes proves having them: grid2 is then an uploader like any other.
    assert_eq!(
        put(&app.url, &grid2.access, &sha, bytes.clone(), None)
            .await
            .status(),
        StatusCode::CREATED
    );
    assert_eq!(
        put(&app.url, &grid2.access, &sha, bytes.clone(), None)
            .await
            .status(),
        StatusCode::OK,
        "idempotent"
    );
    assert_eq!(head(&app.url, &grid2.access, &sha).await.0, StatusCode::OK);
    assert!(may(&sha).await.expect("db"));
    assert_eq!(
        get_photo(&app, &grid2.access, &sha).await,
        (StatusCode::OK, bytes.clone())
    );
    // Those who may see grid1's record see it as before.
    let community = app.login("community1").await.access;
    assert_eq!(
        get_photo(&app, &community, &sha).await,
        (StatusCode::OK, bytes)
    );
}

#[tokio::test]
async fn unfinished_uploads_count_against_the_quota_and_expire_within_the_hour() {
    let app = spawn_with(|c| c.blob_quota_bytes_per_day = 150_000).await;
    let lou = app.login("lou1").await.access;
    // Names no photo will ever have: the bytes are only parked.
    let fake = |n: u8| format!("{n:02x}").repeat(32);
    let mut chunk = vec![0xff, 0xd8, 0xff, 0xe0];
    chunk.resize(60_000, 7);
    let park = |sha: String| {
        let (url, token, body) = (app.url.clone(), lou.clone(), chunk.clone());
        async move {
            put(
                &url,
                &token,
                &sha,
                body,
                Some("bytes 0-59999/100000".into()),
            )
            .await
        }
    };
    assert_eq!(park(fake(1)).await.status(), StatusCode::ACCEPTED);
    // 60,000 held plus another 100,000 announced is over the day's 150,000.
    assert_eq!(
        code(park(fake(2)).await).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into())
    );
    // Resuming the one already held is not double-counted.
    assert_eq!(
        put(
            &app.url,
            &lou,
            &fake(1),
            vec![7; 10_000],
            Some("bytes 60000-69999/100000".into()),
        )
        .await
        .status(),
        StatusCode::ACCEPTED
    );

    let now = haitang_server::db::now_ms();
    haitang_server::jobs::collect_blobs_once(&app.state, now + 30 * 60_000)
        .await
        .expect("gc");
    assert_eq!(
        head(&app.url, &lou, &fake(1)).await,
        (StatusCode::NOT_FOUND, Some(70_000)),
        "kept while a phone may still resume it"
    );
    haitang_server::jobs::collect_blobs_once(&app.state, now + 61 * 60_000)
        .await
        .expect("gc");
    assert_eq!(
        head(&app.url, &lou, &fake(1)).await,
        (StatusCode::NOT_FOUND, None),
        "gone an hour after its last chunk"
    );
    assert_eq!(park(fake(2)).await.status(), StatusCode::ACCEPTED);
}
