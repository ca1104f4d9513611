//! The sync protocol against the real server: merging offline edits, every refusal, scope
//! for every role, evict and enter, paging, and bad input.

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::phone::{Phone, record, uuid};
use automerge::{ROOT, ReadDoc};
use haitang_sync::protocol::{PullItem, PushDoc, SyncRequest, SyncResponse};
use haitang_sync::record::{append_note, read_record, set_text};
use reqwest::StatusCode;
use serde_bytes::ByteBuf;

async fn phone(app: &TestApp, username: &str) -> (Phone, i64) {
    let s = app.login(username).await;
    let id = s.user["id"].as_i64().expect("id");
    (Phone::new(&app.url, &s.access), id)
}

fn text(doc: &automerge::Automerge, field: &str) -> String {
    let (_, id) = doc.get(ROOT, field).expect("get").expect("field");
    doc.text(&id).expect("text")
}

fn notes(doc: &automerge::Automerge) -> Vec<String> {
    let (_, list) = doc.get(ROOT, "notes").expect("get").expect("notes");
    (0..doc.length(&list))
        .map(|i| {
            let (_, note) = doc.get(&list, i).expect("get").expect("note");
            match doc.get(&note, "text").expect("get").expect("text") {
                (automerge::Value::Scalar(s), _) => s.as_str().unwrap_or_default().to_owned(),
                (_, t) => doc.text(&t).expect("text"),
            }
        })
        .collect()
}

/// Two phones edit the same record offline and sync in the given order.
async fn concurrent_edits(lou_first: bool) {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut grid, grid_id) = phone(&app, "grid1").await;
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    assert!(lou.refused.is_empty(), "{:?}", lou.refused);
    grid.sync().await;
    assert!(grid.docs.contains_key(&id), "grid1 pulled lou1's record");

    // Offline on both phones: the same Text field, different fields, notes on both.
    lou.edit(&id, |tx| {
        set_text(tx, "description", "垃圾袋堆在门口两天未清运，气味很大").expect("edit");
        set_text(tx, "address", "金筑苑3幢东门垃圾房旁").expect("edit");
        append_note(tx, lou_id, 1_763_800_100_000, "已提醒物业").expect("note");
    });
    grid.edit(&id, |tx| {
        set_text(tx, "description", "居民反映：垃圾袋堆在门口两天未清运").expect("edit");
        set_text(tx, "title", "金筑苑3幢暴露垃圾（复核）").expect("edit");
        append_note(tx, grid_id, 1_763_800_200_000, "网格员已到场查看").expect("note");
    });

    if lou_first {
        lou.sync().await;
        grid.sync().await;
        lou.sync().await;
    } else {
        grid.sync().await;
        lou.sync().await;
        grid.sync().await;
    }
    assert!(
        lou.refused.is_empty() && grid.refused.is_empty(),
        "{:?} {:?}",
        lou.refused,
        grid.refused
    );

    // The server's copy, as a supervisor sees it.
    let (mut sup, _) = phone(&app, "community1").await;
    sup.sync().await;

    let heads = lou.heads(&id);
    assert_eq!(heads, grid.heads(&id), "phones converge");
    assert_eq!(heads, sup.heads(&id), "the server has the same heads");
    for p in [&lou, &grid, &sup] {
        let doc = &p.docs[&id];
        let desc = text(doc, "description");
        assert!(
            desc.contains("气味很大") && desc.contains("居民反映"),
            "both edits kept: {desc}"
        );
        assert_eq!(text(doc, "address"), "金筑苑3幢东门垃圾房旁");
        assert_eq!(text(doc, "title"), "金筑苑3幢暴露垃圾（复核）");
        let mut n = notes(doc);
        n.sort();
        assert_eq!(
            n,
            vec!["已提醒物业".to_owned(), "网格员已到场查看".to_owned()]
        );
    }
}

#[tokio::test]
async fn offline_edits_on_two_phones_merge_lou_first() {
    concurrent_edits(true).await;
}

#[tokio::test]
async fn offline_edits_on_two_phones_merge_grid_first() {
    concurrent_edits(false).await;
}

#[tokio::test]
async fn pushing_again_is_harmless() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let id = lou.create(&record(lou_id));
    let push = lou.pending();
    for _ in 0..3 {
        let (status, body) = lou
            .send(&SyncRequest {
                v: 1,
                cursor: None,
                resume: None,
                pull: true,
                push: push.clone(),
                want: None,
                limit: None,
            })
            .await;
        assert_eq!(status, StatusCode::OK);
        let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode");
        assert!(res.results[0].ok, "{:?}", res.results[0]);
    }
    assert_eq!(app.state.db.record_counts().await.expect("counts"), (1, 1));
    let heads = lou.heads(&id);
    let (mut sup, _) = phone(&app, "community1").await;
    sup.sync().await;
    assert_eq!(sup.heads(&id), heads);
}

/// Pushes one document's raw changes and returns (ok, code, message).
async fn push_one(p: &Phone, doc: &str, changes: Vec<Vec<u8>>) -> (bool, String, String) {
    let req = SyncRequest {
        v: 1,
        cursor: None,
        resume: None,
        pull: true,
        push: vec![PushDoc {
            doc: doc.to_owned(),
            doc_type: None,
            changes: changes.into_iter().map(ByteBuf::from).collect(),
        }],
        want: None,
        limit: Some(1),
    };
    let (status, body) = p.send(&req).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode");
    let r = &res.results[0];
    (
        r.ok,
        r.code.clone().unwrap_or_default(),
        r.message.clone().unwrap_or_default(),
    )
}

fn all_changes(p: &Phone, id: &str) -> Vec<Vec<u8>> {
    p.docs[id]
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

#[tokio::test]
async fn every_refusal_code_and_nothing_stored() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut grid, grid_id) = phone(&app, "grid1").await;
    let (police, _) = phone(&app, "police1").await;

    let refuse = |got: (bool, String, String), code: &str| {
        assert!(!got.0, "expected {code}, got ok");
        assert_eq!(got.1, code, "message: {}", got.2);
        assert!(!got.2.is_empty(), "{code} without a message");
    };

    // out_of_scope: lou1 files a record in grid2's grid.
    let mut other = record(lou_id);
    other.grid = "/gusu/byw/ws1/jinzhu/g02".into();
    other.sector = Some("/gusu/byw/ws1/jinzhu/g02/c1".into());
    let id = lou.create(&other);
    refuse(
        push_one(&lou, &id, all_changes(&lou, &id)).await,
        "out_of_scope",
    );

    // forbidden: reporting in someone else's name.
    let id = lou.create(&record(grid_id));
    refuse(
        push_one(&lou, &id, all_changes(&lou, &id)).await,
        "forbidden",
    );

    // invalid_document: an unknown category.
    let mut bad = record(lou_id);
    bad.category = "city.no_such_thing".into();
    let id = lou.create(&bad);
    refuse(
        push_one(&lou, &id, all_changes(&lou, &id)).await,
        "invalid_document",
    );

    // invalid_document: a path inside grid1's scope, well formed, that the org tree lacks.
    let mut nowhere = record(grid_id);
    nowhere.sector = None;
    nowhere.grid = "/gusu/byw/ws1/jinzhu/g01/zz".into();
    let id = grid.create(&nowhere);
    refuse(
        push_one(&grid, &id, all_changes(&grid, &id)).await,
        "invalid_document",
    );
    grid.docs.remove(&id);

    // malformed: random bytes, a truncated change, a doc id that is not a UUID.
    let id = lou.create(&record(lou_id));
    let good = all_changes(&lou, &id);
    refuse(
        push_one(&lou, &id, vec![vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]]).await,
        "malformed",
    );
    refuse(
        push_one(&lou, &id, vec![good[0][..good[0].len() / 2].to_vec()]).await,
        "malformed",
    );
    refuse(
        push_one(&lou, "not-a-uuid", good.clone()).await,
        "malformed",
    );

    // missing_deps: the second change without the first.
    lou.edit(&id, |tx| set_text(tx, "title", "改过的标题").expect("edit"));
    let both = all_changes(&lou, &id);
    refuse(
        push_one(&lou, &id, vec![both[1].clone()]).await,
        "missing_deps",
    );

    // Nothing of any refusal was stored.
    assert_eq!(app.state.db.record_counts().await.expect("counts"), (0, 0));

    // The good document lands; then foreign_actor: grid1 pushes a change made with
    // lou1's actor id.
    let (ok, code, msg) = push_one(&lou, &id, both.clone()).await;
    assert!(ok, "{code}: {msg}");
    grid.sync().await;
    let mut stolen = grid.docs[&id].fork().with_actor(lou.actor.clone());
    {
        let mut tx = stolen.transaction();
        set_text(&mut tx, "title", "冒名修改").expect("edit");
        tx.commit();
    }
    let forged: Vec<Vec<u8>> = stolen
        .get_changes(&grid.docs[&id].get_heads())
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    refuse(push_one(&grid, &id, forged).await, "foreign_actor");

    // forbidden: a department handler may not create records; nor may anyone rewrite
    // who reported one.
    let mut police_phone = police;
    let id2 = police_phone.create(&record(lou_id));
    refuse(
        push_one(&police_phone, &id2, all_changes(&police_phone, &id2)).await,
        "out_of_scope",
    );
    grid.edit(&id, |tx| {
        automerge::transaction::Transactable::put(tx, ROOT, "reported_by", grid_id).expect("put");
    });
    let pending = grid.pending();
    let changes = pending[0].changes.iter().map(|c| c.to_vec()).collect();
    refuse(push_one(&grid, &id, changes).await, "forbidden");

    assert_eq!(app.state.db.record_counts().await.expect("counts"), (1, 2));
}

#[tokio::test]
async fn malformed_bodies_and_limits() {
    let app = spawn_with(|c| c.sync_body_limit = 64 * 1024).await;
    let (lou, _) = phone(&app, "lou1").await;
    for body in [
        vec![],
        vec![0xff, 0x00],
        b"{\"v\": 1}".to_vec(),
        vec![0xa1, 0x61, 0x76, 0x02],
    ] {
        let (status, bytes) = lou.send_raw(body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
        let err: serde_json::Value = serde_json::from_slice(&bytes).expect("json error");
        assert!(
            err["code"] == "malformed" || err["code"] == "unsupported_version",
            "{err}"
        );
    }
    // Too large.
    let big = SyncRequest {
        v: 1,
        cursor: None,
        resume: None,
        pull: true,
        push: vec![PushDoc {
            doc: uuid(),
            doc_type: None,
            changes: vec![ByteBuf::from(vec![7u8; 100 * 1024])],
        }],
        want: None,
        limit: None,
    };
    let (status, bytes) = lou.send(&big).await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    // Wrong content type, no token.
    let res = app
        .client
        .post(app.at("/api/v1/sync"))
        .bearer_auth(&lou.token)
        .json(&serde_json::json!({"v": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .client
        .post(app.at("/api/v1/sync"))
        .body(vec![0xa0])
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Still serving.
    let (status, _) = lou
        .send(&SyncRequest {
            v: 1,
            cursor: None,
            resume: None,
            pull: true,
            push: vec![],
            want: None,
            limit: None,
        })
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.state.db.record_counts().await.expect("counts"), (0, 0));
}

#[tokio::test]
async fn gzip_bodies_are_accepted_and_offered() {
    use std::io::Write;
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    lou.create(&record(lou_id));
    let req = SyncRequest {
        v: 1,
        cursor: None,
        resume: None,
        pull: true,
        push: lou.pending(),
        want: None,
        limit: None,
    };
    let mut cbor = Vec::new();
    ciborium::into_writer(&req, &mut cbor).expect("encode");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&cbor).expect("gzip");
    let raw = reqwest::Client::builder()
        .no_gzip()
        .build()
        .expect("client");
    let res = raw
        .post(app.at("/api/v1/sync"))
        .bearer_auth(&lou.token)
        .header("content-type", "application/cbor")
        .header("content-encoding", "gzip")
        .header("accept-encoding", "gzip")
        .body(gz.finish().expect("finish"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let bytes = res.bytes().await.expect("body");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
        .expect("gunzip");
    let res: SyncResponse = ciborium::from_reader(&plain[..]).expect("decode");
    assert!(res.results[0].ok);
}

/// Which demo users see a record at each position: the scope rule end to end.
#[tokio::test]
async fn pulls_never_leave_scope_for_any_role() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut xiang, xiang_id) = phone(&app, "xiang1").await;
    let (mut yuan, yuan_id) = phone(&app, "yuan1").await;
    let in_b1 = lou.create(&record(lou_id));
    let mut lane = record(xiang_id);
    lane.sector = Some("/gusu/byw/ws1/jinzhu/g01/l1".into());
    let in_l1 = xiang.create(&lane);
    let mut court = record(yuan_id);
    court.grid = "/gusu/byw/ws1/jinzhu/g02".into();
    court.sector = Some("/gusu/byw/ws1/jinzhu/g02/c1".into());
    let in_c1 = yuan.create(&court);
    for p in [&mut lou, &mut xiang, &mut yuan] {
        p.sync().await;
        assert!(p.refused.is_empty(), "{:?}", p.refused);
    }

    let cases: [(&str, &[&String]); 9] = [
        ("lou1", &[&in_b1]),
        ("xiang1", &[&in_l1]),
        ("yuan1", &[&in_c1]),
        ("grid1", &[&in_b1, &in_l1]),
        ("grid2", &[&in_c1]),
        ("community1", &[&in_b1, &in_l1, &in_c1]),
        ("ws1", &[&in_b1, &in_l1, &in_c1]),
        ("street1", &[&in_b1, &in_l1, &in_c1]),
        ("police1", &[]),
    ];
    for (username, expected) in cases {
        let (mut p, _) = phone(&app, username).await;
        p.sync().await;
        let mut got: Vec<&String> = p.docs.keys().collect();
        got.sort();
        let mut want: Vec<&String> = expected.to_vec();
        want.sort();
        assert_eq!(got, want, "{username}");
        // `want` cannot reach out of scope either.
        let (status, body) = p
            .send(&SyncRequest {
                v: 1,
                cursor: p.cursor,
                resume: None,
                pull: true,
                push: vec![],
                want: Some(vec![in_b1.clone(), in_c1.clone()]),
                limit: None,
            })
            .await;
        assert_eq!(status, StatusCode::OK);
        let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode");
        for item in &res.pull {
            assert!(
                expected.iter().any(|d| *d == item.doc()),
                "{username} was handed {}",
                item.doc()
            );
        }
    }
}

#[tokio::test]
async fn a_moved_record_is_evicted_and_enters_whole() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut grid1, _) = phone(&app, "grid1").await;
    let (mut grid2, _) = phone(&app, "grid2").await;
    let (mut sup, _) = phone(&app, "community1").await;
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    for p in [&mut grid1, &mut grid2, &mut sup] {
        p.sync().await;
    }
    assert!(grid1.docs.contains_key(&id) && !grid2.docs.contains_key(&id));

    // The community moves it to grid 2 (the courtyard there).
    sup.edit(&id, |tx| {
        use automerge::transaction::Transactable;
        tx.put(ROOT, "grid", "/gusu/byw/ws1/jinzhu/g02")
            .expect("put");
        tx.put(ROOT, "sector", "/gusu/byw/ws1/jinzhu/g02/c1")
            .expect("put");
    });
    sup.sync().await;
    assert!(sup.refused.is_empty(), "{:?}", sup.refused);

    let responses = grid1.sync().await;
    assert!(grid1.evicted.contains(&id), "grid1 is told to evict");
    assert!(!grid1.docs.contains_key(&id));
    assert!(
        responses
            .iter()
            .flat_map(|r| &r.pull)
            .any(|i| matches!(i, PullItem::Evict { doc, .. } if *doc == id))
    );
    lou.sync().await;
    assert!(
        lou.evicted.contains(&id),
        "the leader of the old sector is told too"
    );

    let responses = grid2.sync().await;
    assert!(
        responses
            .iter()
            .flat_map(|r| &r.pull)
            .any(|i| matches!(i, PullItem::Snapshot { doc, .. } if *doc == id)),
        "grid2 gets it whole"
    );
    let rec = read_record(&grid2.docs[&id]).expect("valid");
    assert_eq!(rec.grid, "/gusu/byw/ws1/jinzhu/g02");
    assert_eq!(grid2.heads(&id), sup.heads(&id));
}

#[tokio::test]
async fn a_small_limit_walks_the_whole_scope_exactly_once() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let mut ids: Vec<String> = (0..23).map(|_| lou.create(&record(lou_id))).collect();
    lou.sync().await;
    // Edit a few again so some documents have several changes.
    for id in ids.iter().take(5) {
        lou.edit(id, |tx| set_text(tx, "title", "再次编辑").expect("edit"));
    }
    lou.sync().await;

    let (mut grid, _) = phone(&app, "grid1").await;
    let responses = grid.sync_with(Some(4)).await;
    assert!(responses.len() >= 6, "paged: {} pages", responses.len());
    let mut seen: Vec<String> = responses
        .iter()
        .flat_map(|r| r.pull.iter().map(|i| i.doc().to_owned()))
        .collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every record exactly once");
    // The stored cursor stays put until the pull completes; the resume point advances.
    let (last, pages) = responses.split_last().expect("pages");
    assert!(
        pages.iter().all(|r| r.more && r.cursor == 0),
        "cursor moves only at the end"
    );
    let resumes: Vec<u64> = pages.iter().map(|r| r.resume.expect("resume")).collect();
    assert!(
        resumes.windows(2).all(|w| w[0] < w[1]),
        "resume advances: {resumes:?}"
    );
    assert!(!last.more && last.resume.is_none() && last.cursor > *resumes.last().expect("one"));
    for id in &ids {
        assert_eq!(
            grid.heads(id),
            lou.heads(id),
            "{id}: pages {:?}",
            responses
                .iter()
                .map(|r| r
                    .pull
                    .iter()
                    .map(|i| match i {
                        PullItem::Changes { doc, changes, .. } =>
                            format!("{doc} c{}", changes.len()),
                        PullItem::Snapshot { doc, .. } => format!("{doc} s"),
                        PullItem::Evict { doc, .. } => format!("{doc} e"),
                    })
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
    }
    // Nothing new: an empty page at the same cursor.
    let again = grid.sync_with(Some(4)).await;
    assert!(again.iter().all(|r| r.pull.is_empty()));
    // A later edit comes as changes, not a snapshot.
    lou.edit(&ids[0], |tx| set_text(tx, "title", "第三次").expect("edit"));
    lou.sync().await;
    let res = grid.sync().await;
    assert!(
        matches!(&res[0].pull[..], [PullItem::Changes { .. }]),
        "{:?}",
        res[0].pull
    );
    assert_eq!(grid.heads(&ids[0]), lou.heads(&ids[0]));
}

/// Over HTTP: a document pushed as a type the server does not know is refused for itself
/// alone, and a record pushed with its type named is the same as one pushed without it; its
/// pull items leave the type out.
#[tokio::test]
async fn a_document_type_is_judged_per_document() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let unknown = lou.create(&record(lou_id));
    let named = lou.create(&record(lou_id));
    let push = |doc: &str, doc_type: &str| PushDoc {
        doc: doc.to_owned(),
        doc_type: Some(doc_type.to_owned()),
        changes: all_changes(&lou, doc)
            .into_iter()
            .map(ByteBuf::from)
            .collect(),
    };
    let req = SyncRequest {
        push: vec![push(&unknown, "houshold"), push(&named, "record")],
        ..SyncRequest::new(None)
    };
    let (status, body) = lou.send(&req).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode");
    assert_eq!(res.results[0].code.as_deref(), Some("malformed"));
    assert!(
        res.results[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("houshold")),
        "{:?}",
        res.results[0]
    );
    assert!(res.results[1].ok, "{:?}", res.results[1]);
    assert_eq!(app.state.db.record_counts().await.expect("counts"), (1, 1));
    // Pulled back by another phone: a record, type left out on the wire.
    let (sup, _) = phone(&app, "community1").await;
    let (_, body) = sup.send(&SyncRequest::new(None)).await;
    let res: SyncResponse = ciborium::from_reader(&body[..]).expect("decode");
    let item = res
        .pull
        .iter()
        .find(|i| i.doc() == named)
        .expect("the record is pulled");
    assert_eq!(
        item.doc_type(),
        Some(haitang_sync::doctype::DocType::Record)
    );
    let raw: ciborium::Value = ciborium::from_reader(&body[..]).expect("cbor");
    let text = format!("{raw:?}");
    assert!(
        !text.contains("\"type\""),
        "records leave `type` out: {text:.200}"
    );
}
