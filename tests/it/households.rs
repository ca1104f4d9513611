//! The household registry and residents' personal data (PIPL) through the real server:
//! imports, the phone's cache, reveals and their log, erasure down to the database file,
//! the visit schedule, and households edited offline on two phones.

use crate::helpers::{assert_error, login_at, spawn_app, split};
use crate::phone::{Phone, record};
use automerge::ReadDoc;
use haitang_sync::doctype::DocType;
use haitang_sync::household::{
    NewHousehold, NewMember, add_member, new_household, set_household_text, set_member_status,
};
use haitang_sync::personal::{Relation, ResidentStatus};
use haitang_sync::record::Kind;
use reqwest::StatusCode;
use serde_json::{Value, json};

const G01: &str = "/gusu/byw/ws1/jinzhu/g01";
const B1: &str = "/gusu/byw/ws1/jinzhu/g01/b1";
/// Valid in form (GB 11643 check digit), made up.
const ID_WANG: &str = "320508194103120023";
const ID_LI: &str = "320508195606070034";

fn register() -> String {
    format!(
        "户号,网格,片区,地址,姓名,性别,出生年份,与户主关系,联系电话,身份证号,关爱标签\n\
         JZ-0301,金筑社区第一网格,金筑苑3幢,金筑苑3幢201室,王秀英,女,1941,户主,13812345678,{ID_WANG},独居老人、高龄老人\n\
         JZ-0302,{G01},{B1},金筑苑3幢202室,李建国,男,1956,户主,13900001111,{ID_LI},\n\
         JZ-0302,{G01},{B1},金筑苑3幢202室,李海燕,女,1982,子女,,,低保户\n"
    )
}

async fn import(app: &crate::helpers::TestApp, token: &str, body: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.at("/api/v1/admin/households/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    split(res).await
}

/// The pid of the person called `name` on `token`'s phone list (lou1's patch).
async fn pid_of(app: &crate::helpers::TestApp, token: &str, name: &str) -> (String, String) {
    let (status, body) = app.get("/api/v1/residents", token).await;
    assert!(status.is_success(), "{body}");
    let p = body["residents"]
        .as_array()
        .expect("residents")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .clone();
    (
        p["pid"].as_str().expect("pid").to_owned(),
        p["household"].as_str().expect("household").to_owned(),
    )
}

#[tokio::test]
async fn a_register_imports_all_or_nothing_and_a_second_import_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("admin").await.access;
    let bad = format!(
        "{}JZ-0303,{G01},{B1},金筑苑3幢203室,张三,X,1950,户主,,,\nJZ-0304,不存在的网格,,某地,李四,男,1950,户主,,,\n",
        register()
    );
    let got = import(&app, &admin, &bad).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_rows");
    let lines: Vec<i64> = got.1["details"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["line"].as_i64().expect("line"))
        .collect();
    assert_eq!(lines, [5, 6], "{}", got.1);
    let (_, found) = app.get("/api/v1/households", &admin).await;
    assert_eq!(found["households"], json!([]), "nothing imported");

    let (status, report) = import(&app, &admin, &register()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["households_created"], 2, "{report}");
    assert_eq!(report["people_added"], 3, "{report}");
    // GBK, as Excel on a Chinese Windows saves it: the same register, nothing new.
    let text = register();
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let res = app
        .client
        .post(app.at("/api/v1/admin/households/import"))
        .bearer_auth(&admin)
        .body(gbk.into_owned())
        .send()
        .await
        .expect("send");
    let (status, again) = split(res).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again,
        json!({"households_created": 0, "households_updated": 0, "people_added": 0, "people_updated": 0, "people_unchanged": 3})
    );
    let (_, found) = app.get("/api/v1/households?q=王秀英", &admin).await;
    assert_eq!(found["households"][0]["number"], "JZ-0301", "{found}");
    assert_eq!(found["households"][0]["on_plan"], 1, "{found}");

    // The export is masked unless a reason is given, and then it is logged.
    let res = app
        .client
        .get(app.at("/api/v1/admin/households/export"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    let masked = res.text().await.expect("csv");
    assert!(
        masked.contains("王*英") && !masked.contains(ID_WANG),
        "{masked}"
    );
    assert!(masked.contains("3205**********0023"), "{masked}");
    let (status, body) = app
        .get("/api/v1/admin/households/export?reveal=true", &admin)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!("reason_required"))
    );
    let res = app
        .client
        .get(app.at("/api/v1/admin/households/export?reveal=true&reason=民政年审"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    let clear = res.text().await.expect("csv");
    assert!(
        clear.contains(ID_WANG) && clear.contains("王秀英"),
        "{clear}"
    );
    // The clear export is itself a register the import takes back unchanged.
    let (status, round) = import(&app, &admin, clear.trim_start_matches('\u{feff}')).await;
    assert_eq!(status, StatusCode::OK, "{round}");
    assert_eq!(round["people_unchanged"], 3, "{round}");
    let (_, log) = app.get("/api/v1/admin/access-log", &admin).await;
    assert_eq!(log["entries"][0]["action"], "export", "{log}");
    assert_eq!(log["entries"][0]["reason"], "民政年审", "{log}");

    // The same as a workbook, which the import takes back too.
    let res = app
        .client
        .get(app.at("/api/v1/admin/households/export?reveal=true&reason=民政年审&format=xlsx"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let xlsx = res.bytes().await.expect("xlsx");
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let res = app
        .client
        .post(app.at("/api/v1/admin/households/import"))
        .bearer_auth(&admin)
        .body(xlsx.to_vec())
        .send()
        .await
        .expect("send");
    let (status, round) = split(res).await;
    assert_eq!(status, StatusCode::OK, "{round}");
    assert_eq!(round["people_unchanged"], 3, "{round}");
    let (status, body) = app
        .get("/api/v1/admin/households/export?format=pdf", &admin)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_query"))
    );
}

#[tokio::test]
async fn no_clear_id_number_reaches_a_field_phone_and_every_reveal_is_logged() {
    let app = spawn_app().await;
    let admin = app.login("admin").await.access;
    assert_eq!(import(&app, &admin, &register()).await.0, StatusCode::OK);

    let lou = app.login("lou1").await.access;
    let (status, list) = app.get("/api/v1/residents", &lou).await;
    assert!(status.is_success(), "{list}");
    let text = list.to_string();
    for id in [ID_WANG, ID_LI] {
        assert!(!text.contains(id), "a clear ID number in {text}");
    }
    assert!(text.contains("3205**********0023"), "{text}");
    // The sync responses carry the households, which hold no personal data at all.
    let (token, _) = login_at(&app.url, "lou1").await;
    let mut phone = Phone::new(&app.url, &token);
    let mut raw = Vec::new();
    for res in phone.sync().await {
        raw.extend(serde_json::to_vec(&res).expect("json"));
    }
    assert_eq!(
        phone
            .types
            .values()
            .filter(|t| **t == DocType::Household)
            .count(),
        2
    );
    let raw = String::from_utf8_lossy(&raw);
    for secret in [ID_WANG, ID_LI, "王秀英", "13812345678"] {
        assert!(!raw.contains(secret), "{secret} in a sync response");
    }
    // A person is found by their ID number through the keyed hash, and answered masked.
    let community = app.login("community1").await.access;
    let (status, found) = app
        .post(
            "/api/v1/residents/lookup",
            Some(&community),
            json!({ "id_number": ID_WANG }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["resident"]["name_masked"], "王*英", "{found}");
    assert!(!found.to_string().contains(ID_WANG), "{found}");
    let (_, none) = app
        .post(
            "/api/v1/residents/lookup",
            Some(&community),
            json!({ "id_number": "11010519491231002X" }),
        )
        .await;
    assert_eq!(none["resident"], Value::Null, "{none}");
    let (status, bad) = app
        .post(
            "/api/v1/residents/lookup",
            Some(&community),
            json!({ "id_number": "320508194103120024" }),
        )
        .await;
    assert_eq!(
        (status, &bad["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_body")),
        "a wrong check digit: {bad}"
    );
    for doc in phone.docs.values() {
        let saved = doc.save();
        let bytes = String::from_utf8_lossy(&saved);
        assert!(!bytes.contains("王秀英") && !bytes.contains(ID_WANG));
    }

    let (pid, _) = pid_of(&app, &lou, "王秀英").await;
    let reveal = |who: String, fields: Value, reason: &'static str| {
        let app = &app;
        let pid = pid.clone();
        async move {
            app.post(
                &format!("/api/v1/residents/{pid}/reveal"),
                Some(&who),
                json!({"fields": fields, "reason": reason}),
            )
            .await
        }
    };
    let got = reveal(lou.clone(), json!(["id_number"]), "核对").await;
    assert_error(&got, StatusCode::FORBIDDEN, "forbidden");
    let got = reveal(lou.clone(), json!(["phone"]), "  ").await;
    assert_error(&got, StatusCode::BAD_REQUEST, "reason_required");
    let (status, shown) = reveal(lou.clone(), json!(["phone"]), "电话问候").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["phone"], "13812345678");
    assert!(shown.get("id_number").is_none(), "{shown}");
    let community = app.login("community1").await.access;
    let (status, shown) = reveal(community, json!(["id_number", "name"]), "低保复核").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["id_number"], ID_WANG);
    let police = app.login("police1").await.access;
    assert_error(
        &reveal(police.clone(), json!(["name"]), "查").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.get("/api/v1/residents", &police).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // A call made offline, logged on the phone and uploaded with the next sync.
    let (status, body) = app
        .post(
            "/api/v1/access-log",
            Some(&lou),
            json!({"entries": [{"pid": pid, "fields": ["phone"], "reason": "天冷问候", "at": 1_700_000_000_000i64, "call": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post(
            "/api/v1/access-log",
            Some(&lou),
            json!({"entries": [{"pid": pid, "fields": ["id_number"], "reason": "x", "at": 1_700_000_000_000i64}]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a leader never had the ID number to reveal"
    );

    let (_, log) = app
        .get(&format!("/api/v1/admin/access-log?pid={pid}"), &admin)
        .await;
    let entries = log["entries"].as_array().expect("entries");
    let summary: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["fields"].as_str().unwrap_or_default().to_owned(),
                e["via"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("reveal".into(), "name,id_number".into(), "server".into()),
            ("reveal".into(), "phone".into(), "server".into()),
            ("call".into(), "phone".into(), "phone".into()),
        ],
        "newest first, refused ones absent: {log}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["client"].as_str().is_some_and(|c| c.starts_with("127.")))
    );
    let (status, csv) = {
        let res = app
            .client
            .get(app.at("/api/v1/admin/access-log?format=csv"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("send");
        (res.status(), res.text().await.expect("text"))
    };
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.lines().count() >= 4 && csv.contains("低保复核"),
        "{csv}"
    );
}

#[tokio::test]
async fn bad_edits_are_refused_one_by_one_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.login("admin").await.access;
    assert_eq!(import(&app, &admin, &register()).await.0, StatusCode::OK);
    let lou = app.login("lou1").await.access;
    let (pid, _) = pid_of(&app, &lou, "王秀英").await;
    let (status, body) = app
        .post(
            "/api/v1/residents",
            Some(&lou),
            json!({"edits": [
                {"pid": pid, "phone": "12345"},
                {"pid": pid, "id_number": ID_LI},
                {"pid": "00000000-0000-4000-8000-000000000000", "name": "某人"},
                {"pid": pid, "tags_add": ["no_such_tag"]},
                {"pid": pid, "phone": "0512-6512 3456"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "invalid_resident",
            "duplicate_id_number",
            "not_found",
            "invalid_resident",
            "ok"
        ],
        "{body}"
    );
    let (_, list) = app.get("/api/v1/residents", &lou).await;
    let wang = list["residents"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["pid"] == pid.as_str())
        .expect("wang")
        .clone();
    assert_eq!(wang["phone"], "051265123456");
    assert_eq!(wang["tags"], json!(["living_alone", "very_old"]));
    let (status, body) = app
        .post("/api/v1/residents", Some(&lou), json!({"edits": "x"}))
        .await;
    assert!(
        status.is_client_error() && body["code"].is_string(),
        "{status} {body}"
    );
}

#[tokio::test]
async fn a_visit_moves_the_schedule_and_an_erased_person_leaves_the_file_but_not_the_history() {
    let app = spawn_app().await;
    let admin = app.login("admin").await.access;
    assert_eq!(import(&app, &admin, &register()).await.0, StatusCode::OK);
    let lou = app.login("lou1").await.access;
    let (pid, household) = pid_of(&app, &lou, "王秀英").await;
    let due = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/visits/due", &token).await.1 }
    };
    let before = due(lou.clone()).await;
    assert_eq!(before["total"]["on_plan"], 2, "{before}");
    assert_eq!(before["total"]["never_visited"], 2, "{before}");

    // A visit twenty days ago leaves her (weekly) overdue; today's clears it.
    let (token, user_id) = login_at(&app.url, "lou1").await;
    let mut phone = Phone::new(&app.url, &token);
    let now = haitang_server::db::now_ms();
    for days_ago in [20, 0] {
        let mut visit = record(user_id);
        visit.kind = Kind::Visit;
        visit.category = "visit.elderly_alone".into();
        visit.title = "王阿婆入户走访".into();
        visit.household = Some(household.clone());
        visit.persons = vec![pid.clone()];
        visit.reported_at = now - days_ago * 86_400_000;
        phone.create(&visit);
        phone.sync().await;
        assert!(phone.refused.is_empty(), "{:?}", phone.refused);
        let counts = due(lou.clone()).await;
        let overdue = counts["total"]["overdue"].as_i64();
        assert_eq!(overdue, Some(if days_ago > 0 { 1 } else { 0 }), "{counts}");
    }
    let community = app.login("community1").await.access;
    let (_, page) = app
        .get(&format!("/api/v1/households/{household}"), &community)
        .await;
    assert_eq!(page["records"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(page["records"][0]["persons"], json!([pid]), "{page}");
    assert!(
        page["members"][0].get("name").is_none(),
        "masked for the console: {page}"
    );
    // Who visited: lou1, twice, one household, one person; the first visit came before
    // she was even due (she was registered today), today's thirteen days after the weekly
    // visit that the one twenty days ago made due: late. A week back only today's counts.
    let (status, visitors) = app.get("/api/v1/visits/by-visitor", &community).await;
    assert_eq!(status, StatusCode::OK, "{visitors}");
    assert_eq!(
        visitors["visitors"],
        json!([{ "user_id": user_id, "visits": 2, "households": 1, "people": 1, "on_time": 1, "late": 1 }]),
        "{visitors}"
    );
    let (_, week) = app
        .get("/api/v1/visits/by-visitor?days=7", &community)
        .await;
    assert_eq!(week["visitors"][0]["visits"], 1, "{week}");
    let (status, body) = app
        .get("/api/v1/visits/by-visitor?days=0", &community)
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_query"))
    );
    let (status, _) = app
        .get("/api/v1/visits/by-visitor?unit=/gusu/pj", &community)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another street is outside the community"
    );

    // Erasure: the person stays in the household and the visits under her pid.
    let (status, _) = app
        .post(
            &format!("/api/v1/admin/residents/{pid}/erase"),
            Some(&admin),
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(
            &format!("/api/v1/admin/residents/{pid}/erase"),
            Some(&admin),
            json!({"reason": "本人申请删除（PIPL 第47条）"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = app
        .get(&format!("/api/v1/households/{household}"), &community)
        .await;
    let erased = page["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["pid"] == pid.as_str())
        .expect("still a member")
        .clone();
    assert_eq!(
        (erased["erased"].clone(), erased["name_masked"].clone()),
        (json!(true), json!(""))
    );
    assert_eq!(page["records"][0]["persons"], json!([pid]));
    let got = app
        .post(
            &format!("/api/v1/residents/{pid}/reveal"),
            Some(&community),
            json!({"fields": ["name"], "reason": "核对"}),
        )
        .await;
    assert_error(&got, StatusCode::GONE, "erased");
    let (_, refill) = app
        .post(
            "/api/v1/residents",
            Some(&lou),
            json!({"edits": [{"pid": pid, "name": "王秀英"}]}),
        )
        .await;
    assert_eq!(refill["results"][0]["code"], "erased", "{refill}");

    let dir = app.stop().await;
    let mut file = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().contains("haitang.db") {
            file.extend(std::fs::read(&path).expect("read"));
        }
    }
    let find = |needle: &str| file.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        find("李建国"),
        "the reading works: other people are still there"
    );
    for gone in ["王秀英", ID_WANG, "13812345678"] {
        assert!(!find(gone), "{gone} is still in the database file");
    }
}

#[tokio::test]
async fn two_phones_editing_one_household_offline_keep_both_facts() {
    let app = spawn_app().await;
    let (lou_token, lou_id) = login_at(&app.url, "lou1").await;
    let (grid_token, _) = login_at(&app.url, "grid1").await;
    let mut lou = Phone::new(&app.url, &lou_token);
    let mut grid = Phone::new(&app.url, &grid_token);
    let id = "5a1c2c1e-7b0e-4d55-9a3e-3f1b2d3c4e5f".to_owned();
    let (p1, p2) = (
        "11111111-2222-4333-8444-555555555555",
        "66666666-7777-4888-8999-aaaaaaaaaaaa",
    );
    let doc = new_household(
        lou.actor.clone(),
        &NewHousehold {
            id: id.clone(),
            grid: G01.into(),
            sector: Some(B1.into()),
            number: "JZ-0399".into(),
            address: "金筑苑3幢399室".into(),
            created_by: lou_id,
            created_at: haitang_server::db::now_ms(),
            members: vec![NewMember {
                pid: p1.into(),
                relation: Relation::Head,
            }],
        },
    );
    lou.docs.insert(id.clone(), doc);
    lou.types.insert(id.clone(), DocType::Household);
    lou.sync().await;
    assert!(lou.refused.is_empty(), "{:?}", lou.refused);
    grid.sync().await;
    assert!(grid.docs.contains_key(&id));

    lou.edit(&id, |tx| {
        set_member_status(tx, p1, ResidentStatus::MovedOut).expect("status")
    });
    grid.edit(&id, |tx| {
        add_member(tx, p2, Relation::Tenant, 1).expect("add");
        set_household_text(tx, "address", "金筑苑3幢399室（后门）").expect("text");
    });
    lou.sync().await;
    grid.sync().await;
    lou.sync().await;
    assert!(lou.refused.is_empty() && grid.refused.is_empty());
    for phone in [&lou, &grid] {
        let h = haitang_sync::household::read_household(&phone.docs[&id]).expect("valid");
        assert_eq!(
            h.member(p1).map(|m| m.status),
            Some(ResidentStatus::MovedOut)
        );
        assert_eq!(h.member(p2).map(|m| m.relation), Some(Relation::Tenant));
        assert_eq!(h.address, "金筑苑3幢399室（后门）");
    }
    // A leader may not remove a person, nor set the care plan.
    lou.edit(&id, |tx| {
        let members = match tx.get(automerge::ROOT, "members").expect("get") {
            Some((_, m)) => m,
            None => panic!("members"),
        };
        automerge::transaction::Transactable::delete(tx, &members, p2).expect("delete");
    });
    lou.sync().await;
    let (code, message) = lou.refused.get(&id).cloned().expect("refused");
    assert_eq!(code, "forbidden", "{message}");
    assert!(message.contains("cannot be removed"), "{message}");
}
