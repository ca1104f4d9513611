//! The closed loop against the real server: every action an Automerge change pushed through
//! sync, the inboxes and rates read from the projection, the escalation job.

use crate::helpers::{TestApp, spawn_app};
use crate::phone::{Phone, record};
use haitang_sync::protocol::SyncRequest;
use haitang_sync::record::{Status, read_record, set_text};
use haitang_sync::workflow::{Action, Facts, Params, due_at, perform, timeline};
use reqwest::StatusCode;
use serde_json::Value;

async fn phone(app: &TestApp, username: &str) -> (Phone, i64) {
    let s = app.login(username).await;
    (
        Phone::new(&app.url, &s.access),
        s.user["id"].as_i64().expect("id"),
    )
}

/// Takes an action on the phone's copy, the way the app does.
/// Acts now; an `accept` without a deadline gets the one the category gives (4 hours).
fn act(p: &mut Phone, id: &str, by: i64, action: Action, mut params: Params<'_>) {
    let doc = p.docs.get(id).expect("the phone has the record");
    let rec = read_record(doc).expect("valid");
    let facts = Facts::of(doc, &rec, true);
    let at = haitang_server::db::now_ms();
    if action == Action::Accept && params.due_at.is_none() {
        params.due_at = Some(due_at(at, 4, false));
    }
    p.edit(id, |tx| {
        perform(tx, &facts, action, by, at, &params).expect("perform")
    });
}

/// Fetches records by id (`want`) without pulling the scope, as a supervisor opening them
/// from the inbox.
async fn open(p: &mut Phone, ids: &[&str]) {
    let req = SyncRequest {
        v: 1,
        cursor: p.cursor,
        resume: None,
        pull: false,
        push: vec![],
        want: Some(ids.iter().map(|s| (*s).to_owned()).collect()),
        limit: None,
    };
    let (status, body) = p.send(&req).await;
    assert_eq!(status, StatusCode::OK);
    let res: haitang_sync::protocol::SyncResponse =
        ciborium::from_reader(&body[..]).expect("decode");
    assert_eq!(
        res.cursor,
        p.cursor.unwrap_or(0),
        "no pull: the cursor stays"
    );
    assert!(
        res.pull.iter().all(|i| ids.contains(&i.doc())),
        "only what was wanted"
    );
    p.absorb(&res);
}

#[tokio::test]
async fn people_and_departments_of_the_district() {
    let app = spawn_app().await;
    let token = app.login("community1").await.access;
    let (status, body) = app.get("/api/v1/people", &token).await;
    assert_eq!(status, StatusCode::OK);
    let people = body["people"].as_array().expect("people");
    assert_eq!(people.len(), 10);
    assert!(
        people
            .iter()
            .any(|p| p["name"] == "赵警官" && p["department"] == "/gusu:police")
    );
    assert!(
        people
            .iter()
            .all(|p| p.get("password_hash").is_none() && p.get("active").is_none())
    );
    let (_, body) = app.get("/api/v1/departments", &token).await;
    let keys: Vec<&str> = body["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .filter_map(|d| d["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "/gusu:emergency",
            "/gusu:environment",
            "/gusu:fire",
            "/gusu:police",
            "/gusu:urban"
        ]
    );
    assert_eq!(
        app.client
            .get(app.at("/api/v1/people"))
            .send()
            .await
            .expect("send")
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

fn status(p: &Phone, id: &str) -> Status {
    read_record(&p.docs[id]).expect("valid").status
}

fn actions(p: &Phone, id: &str) -> Vec<String> {
    timeline(&p.docs[id])
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn inbox(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/cases?{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// An accept whose deadline `act` fills in from the category (city.garbage_exposed: 4 h).
fn accept_params() -> Params<'static> {
    Params::default()
}

#[tokio::test]
async fn the_whole_loop_from_report_to_close() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut sup, sup_id) = phone(&app, "community1").await;
    let (mut police, police_id) = phone(&app, "police1").await;
    let community = app.login("community1").await.access;
    let police_token = app.login("police1").await.access;

    // lou1 reports offline, then syncs.
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    assert!(lou.refused.is_empty(), "{:?}", lou.refused);

    // It waits in the community's "new" bucket.
    let page = inbox(&app, &community, "bucket=new").await;
    assert_eq!(ids(&page), vec![id.clone()]);
    assert_eq!(page["counts"]["new"], 1);

    // community1 accepts and dispatches to the police.
    open(&mut sup, &[&id]).await;
    act(&mut sup, &id, sup_id, Action::Accept, accept_params());
    act(
        &mut sup,
        &id,
        sup_id,
        Action::Dispatch,
        Params {
            department: Some("/gusu:police"),
            note: Some("占道堆物，请派出所协助"),
            ..Params::default()
        },
    );
    sup.sync().await;
    assert!(sup.refused.is_empty(), "{:?}", sup.refused);

    // police1 finds it in "mine", syncs it (its scope is what is dispatched to it).
    let page = inbox(&app, &police_token, "bucket=mine").await;
    assert_eq!(ids(&page), vec![id.clone()]);
    police.sync().await;
    assert!(
        police.docs.contains_key(&id),
        "dispatched records reach the handler"
    );
    act(
        &mut police,
        &id,
        police_id,
        Action::Start,
        Params::default(),
    );
    act(
        &mut police,
        &id,
        police_id,
        Action::ReportBack,
        Params {
            note: Some("已清理，现场恢复通行"),
            ..Params::default()
        },
    );
    police.sync().await;
    assert!(police.refused.is_empty(), "{:?}", police.refused);

    // community1 verifies and closes.
    let page = inbox(&app, &community, "bucket=awaiting_verification").await;
    assert_eq!(ids(&page), vec![id.clone()]);
    sup.sync().await;
    act(
        &mut sup,
        &id,
        sup_id,
        Action::Verify,
        Params {
            note: Some("现场核实"),
            ..Params::default()
        },
    );
    act(&mut sup, &id, sup_id, Action::Close, Params::default());
    sup.sync().await;
    assert!(sup.refused.is_empty(), "{:?}", sup.refused);

    // lou1 sees "closed" and the whole timeline on the phone.
    lou.sync().await;
    assert_eq!(status(&lou, &id), Status::Closed);
    assert_eq!(
        actions(&lou, &id),
        [
            "report",
            "accept",
            "dispatch",
            "start",
            "report_back",
            "verify",
            "close"
        ]
    );
    let (_, rates) = app.get("/api/v1/cases/rates", &community).await;
    assert_eq!(rates["closed"], 1);
    assert_eq!(rates["closure_rate"], 1.0);
    assert_eq!(rates["rework_rate"], 0.0);
}

#[tokio::test]
async fn return_for_correction_reaches_the_reporter() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut sup, sup_id) = phone(&app, "community1").await;
    let community = app.login("community1").await.access;
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    open(&mut sup, &[&id]).await;
    act(
        &mut sup,
        &id,
        sup_id,
        Action::Return,
        Params {
            note: Some("请补充具体位置（几号门）"),
            ..Params::default()
        },
    );
    sup.sync().await;
    assert!(sup.refused.is_empty(), "{:?}", sup.refused);

    lou.sync().await;
    assert_eq!(status(&lou, &id), Status::Returned);
    let last = timeline(&lou.docs[&id]).pop().expect("entry");
    assert_eq!(
        (last.action.as_str(), last.note.as_deref()),
        ("return", Some("请补充具体位置（几号门）"))
    );

    lou.edit(&id, |tx| {
        set_text(tx, "address", "金筑苑3幢东门（2号门）").expect("edit")
    });
    act(&mut lou, &id, lou_id, Action::Resubmit, Params::default());
    lou.sync().await;
    assert!(lou.refused.is_empty(), "{:?}", lou.refused);
    assert_eq!(
        ids(&inbox(&app, &community, "bucket=new").await),
        vec![id.clone()]
    );
    sup.sync().await;
    assert_eq!(status(&sup, &id), Status::Reported);
}

#[tokio::test]
async fn forbidden_transitions_are_refused_with_their_reason() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let id = lou.create(&record(lou_id));
    lou.sync().await;

    // (who, action, params) that the rules refuse on a freshly reported record.
    let cases: Vec<(&str, Action, Params<'static>)> = vec![
        ("lou1", Action::Accept, accept_params()),
        (
            "grid1",
            Action::Dispatch,
            Params {
                department: Some("/gusu:police"),
                ..Params::default()
            },
        ),
        ("ws1", Action::Accept, accept_params()),
        (
            "street1",
            Action::Return,
            Params {
                note: Some("x"),
                ..Params::default()
            },
        ),
        ("community1", Action::Close, Params::default()),
        ("community1", Action::Return, Params::default()),
        (
            "community1",
            Action::Accept,
            Params {
                due_at: Some(1),
                ..Params::default()
            },
        ),
        ("xiang1", Action::Withdraw, Params::default()),
    ];
    for (username, action, params) in cases {
        let (mut p, by) = phone(&app, username).await;
        open(&mut p, &[&id]).await;
        if !p.docs.contains_key(&id) {
            // Out of scope for this user (xiang1's lane): nothing to act on.
            assert_eq!(username, "xiang1");
            continue;
        }
        act(&mut p, &id, by, action, params);
        p.sync().await;
        let (code, message) = p
            .refused
            .get(&id)
            .cloned()
            .unwrap_or_else(|| panic!("{username} {action} was accepted"));
        assert_eq!(
            code, "forbidden_transition",
            "{username} {action}: {message}"
        );
        assert!(
            message.len() > 20,
            "{username} {action}: a reason a person can read: {message}"
        );
    }
    // police1 never even sees an undispatched record.
    let (mut police, _) = phone(&app, "police1").await;
    open(&mut police, &[&id]).await;
    assert!(police.docs.is_empty());
    // Nothing refused changed the record.
    let (mut check, _) = phone(&app, "community1").await;
    check.sync().await;
    assert_eq!(actions(&check, &id), ["report"]);

    // The reporter may withdraw while it is still only reported; not after acceptance.
    let (mut sup, sup_id) = phone(&app, "community1").await;
    open(&mut sup, &[&id]).await;
    act(&mut sup, &id, sup_id, Action::Accept, accept_params());
    sup.sync().await;
    lou.sync().await;
    act(&mut lou, &id, lou_id, Action::Withdraw, Params::default());
    lou.sync().await;
    assert_eq!(
        lou.refused.get(&id).map(|r| r.0.as_str()),
        Some("forbidden_transition")
    );
}

#[tokio::test]
async fn escalation_by_hand_and_by_the_server_job() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut sup, sup_id) = phone(&app, "community1").await;
    let (mut ws, ws_id) = phone(&app, "ws1").await;
    let ws_token = app.login("ws1").await.access;
    let street_token = app.login("street1").await.access;
    let by_hand = lou.create(&record(lou_id));
    let by_job = lou.create(&record(lou_id));
    lou.sync().await;

    // By hand: community → workstation, which then accepts.
    open(&mut sup, &[&by_hand]).await;
    act(
        &mut sup,
        &by_hand,
        sup_id,
        Action::Escalate,
        Params {
            note: Some("涉及多部门"),
            ..Params::default()
        },
    );
    sup.sync().await;
    assert!(sup.refused.is_empty(), "{:?}", sup.refused);
    assert_eq!(
        ids(&inbox(&app, &ws_token, "bucket=escalated").await),
        vec![by_hand.clone()]
    );
    open(&mut ws, &[&by_hand]).await;
    act(&mut ws, &by_hand, ws_id, Action::Accept, accept_params());
    ws.sync().await;
    assert!(ws.refused.is_empty(), "{:?}", ws.refused);

    // By the job, at chosen moments: `by_hand` was accepted with a 4-hour deadline,
    // `by_job` waits for acceptance (24 hours allowed).
    let now = haitang_server::db::now_ms();
    let hour = 3_600_000;
    let run = |at: i64| {
        let state = app.state.clone();
        async move {
            haitang_server::jobs::escalate_once(&state, at)
                .await
                .expect("job")
        }
    };
    assert_eq!(run(now + 2 * hour).await, 0, "nothing is late yet");
    assert_eq!(
        run(now + 5 * hour).await,
        1,
        "by_hand is overdue: escalated and urged"
    );
    assert_eq!(run(now + 6 * hour).await, 0, "urged once only");
    assert_eq!(
        run(now + 25 * hour).await,
        1,
        "by_job was not accepted in a day"
    );
    let page = inbox(&app, &ws_token, "bucket=escalated").await;
    let item = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == by_job.as_str())
        .expect("by_job");
    assert_eq!(
        (item["urged"].as_bool(), item["level"].as_str()),
        (Some(true), Some("workstation"))
    );
    let page = inbox(&app, &street_token, "bucket=overdue").await;
    assert_eq!(
        ids(&page),
        Vec::<String>::new(),
        "overdue is judged by the real clock"
    );
    assert!(ids(&inbox(&app, &street_token, "bucket=escalated").await).contains(&by_hand));

    // The server's change reaches the phone, in the timeline, signed by the server (0).
    lou.sync().await;
    let last = timeline(&lou.docs[&by_job]).pop().expect("entry");
    assert_eq!((last.action.as_str(), last.by), ("urge", 0));
    assert!(actions(&lou, &by_job).contains(&"escalate".to_owned()));

    // Left alone, it keeps going up until the district, then stops.
    assert_eq!(run(now + 50 * hour).await, 1);
    assert_eq!(run(now + 75 * hour).await, 1);
    assert_eq!(run(now + 100 * hour).await, 0, "the district is the top");
    ws.sync().await;
    let rec = read_record(&ws.docs[&by_hand]).expect("valid");
    assert!(rec.urged);
    assert_eq!(rec.status, Status::Accepted);
}

#[tokio::test]
async fn a_concurrent_close_and_return_converge_and_are_flagged() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut desk, sup_id) = phone(&app, "community1").await;
    let (mut police, police_id) = phone(&app, "police1").await;
    let community = app.login("community1").await.access;
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    open(&mut desk, &[&id]).await;
    act(&mut desk, &id, sup_id, Action::Accept, accept_params());
    act(
        &mut desk,
        &id,
        sup_id,
        Action::Dispatch,
        Params {
            department: Some("/gusu:police"),
            ..Params::default()
        },
    );
    desk.sync().await;
    police.sync().await;
    act(
        &mut police,
        &id,
        police_id,
        Action::ReportBack,
        Params {
            note: Some("已处置"),
            ..Params::default()
        },
    );
    police.sync().await;
    desk.sync().await;

    // The same supervisor on a tablet, both offline: one verifies and closes, the other
    // returns.
    let mut tablet = Phone::new(&app.url, &desk.token);
    open(&mut tablet, &[&id]).await;
    act(&mut desk, &id, sup_id, Action::Verify, Params::default());
    act(&mut desk, &id, sup_id, Action::Close, Params::default());
    act(
        &mut tablet,
        &id,
        sup_id,
        Action::Return,
        Params {
            note: Some("整改不到位"),
            ..Params::default()
        },
    );
    desk.sync().await;
    tablet.sync().await;
    assert!(
        desk.refused.is_empty() && tablet.refused.is_empty(),
        "{:?} {:?}",
        desk.refused,
        tablet.refused
    );
    desk.sync().await;
    lou.sync().await;

    // Everyone converges on the same document, flagged, with both events kept.
    let heads = desk.heads(&id);
    assert_eq!(heads, tablet.heads(&id));
    assert_eq!(heads, lou.heads(&id));
    for p in [&desk, &tablet, &lou] {
        let rec = read_record(&p.docs[&id]).expect("valid");
        assert!(rec.conflict, "flagged on every replica");
        let a = actions(p, &id);
        assert!(
            a.contains(&"close".to_owned()) && a.contains(&"return".to_owned()),
            "{a:?}"
        );
    }
    assert_eq!(
        ids(&inbox(&app, &community, "bucket=conflicting").await),
        vec![id.clone()]
    );

    // A supervisor action settles it.
    act(
        &mut desk,
        &id,
        sup_id,
        Action::Reopen,
        Params {
            note: Some("重新派遣处置"),
            ..Params::default()
        },
    );
    desk.sync().await;
    assert!(desk.refused.is_empty(), "{:?}", desk.refused);
    let rec = read_record(&desk.docs[&id]).expect("valid");
    assert!(!rec.conflict);
    assert_eq!(rec.status, Status::Accepted);
    assert!(ids(&inbox(&app, &community, "bucket=conflicting").await).is_empty());
}

#[tokio::test]
async fn inbox_filters_sorting_and_bad_queries() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    for i in 0..5 {
        let mut r = record(lou_id);
        r.reported_at += i * 1000;
        r.title = format!("第{i}处暴露垃圾");
        lou.create(&r);
    }
    lou.sync().await;
    let community = app.login("community1").await.access;
    let page = inbox(&app, &community, "limit=2&offset=1").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["items"][0]["title"], "第3处暴露垃圾", "newest first");
    let page = inbox(&app, &community, &format!("q={}", "第2处")).await;
    assert_eq!(page["total"], 1);
    let page = inbox(
        &app,
        &community,
        "category=city.environment&under=/gusu/byw/ws1/jinzhu/g01",
    )
    .await;
    assert_eq!(page["total"], 5, "a class matches its subclasses");
    let page = inbox(&app, &community, "under=/gusu/byw/ws1/jinzhu/g02").await;
    assert_eq!(page["total"], 0);
    // Out of scope: another street's supervisor sees nothing.
    let (mut pj, _) = phone(&app, "admin").await;
    pj.sync().await;
    let (status, body) = app.get("/api/v1/cases?bucket=nonsense", &community).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_query");
    let (status, _) = app.get("/api/v1/cases?under=not-a-path", &community).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/api/v1/cases?sneaky=1", &community).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn title_search_is_bounded_and_literal() {
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    for title in ["100%满的垃圾桶", "1000 满的垃圾桶", "a_b 路灯", "axb 路灯"] {
        let mut r = record(lou_id);
        r.title = title.into();
        lou.create(&r);
    }
    lou.sync().await;
    let community = app.login("community1").await.access;
    let got = app
        .get(
            &format!("/api/v1/cases?q={}", "x".repeat(50_000)),
            &community,
        )
        .await;
    crate::helpers::assert_error(&got, StatusCode::BAD_REQUEST, "invalid_query");
    let got = app
        .get(&format!("/api/v1/cases?q={}", "x".repeat(201)), &community)
        .await;
    crate::helpers::assert_error(&got, StatusCode::BAD_REQUEST, "invalid_query");
    let page = inbox(&app, &community, &format!("q={}", "垃".repeat(200))).await;
    assert_eq!(page["total"], 0);
    // `%` and `_` are letters here, not wildcards.
    let page = inbox(&app, &community, "q=100%25").await;
    assert_eq!(page["total"], 1);
    let page = inbox(&app, &community, "q=a_b").await;
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn two_supervisors_who_both_accept_offline_make_no_conflict() {
    // The drift the redesign fixed: Automerge keeps both `status` writes, but they hold the
    // same value, so neither the record, the inbox nor the console calls it a conflict.
    use automerge::ReadDoc;
    let app = spawn_app().await;
    let (mut lou, lou_id) = phone(&app, "lou1").await;
    let (mut desk, sup_id) = phone(&app, "community1").await;
    let community = app.login("community1").await.access;
    let id = lou.create(&record(lou_id));
    lou.sync().await;
    open(&mut desk, &[&id]).await;
    let mut tablet = Phone::new(&app.url, &desk.token);
    open(&mut tablet, &[&id]).await;
    act(&mut desk, &id, sup_id, Action::Accept, accept_params());
    act(&mut tablet, &id, sup_id, Action::Accept, accept_params());
    desk.sync().await;
    tablet.sync().await;
    desk.sync().await;
    assert!(
        desk.refused.is_empty() && tablet.refused.is_empty(),
        "{:?} {:?}",
        desk.refused,
        tablet.refused
    );
    assert_eq!(desk.heads(&id), tablet.heads(&id));
    assert!(
        desk.docs[&id]
            .get_all(automerge::ROOT, "status")
            .expect("status")
            .len()
            > 1,
        "Automerge keeps both writes"
    );
    let rec = read_record(&desk.docs[&id]).expect("valid");
    assert!(!rec.conflict);
    assert_eq!(rec.status, Status::Accepted);
    assert!(ids(&inbox(&app, &community, "bucket=conflicting").await).is_empty());
}
