//! The admin API: who may use it, and org import of good and bad files.

use crate::helpers::{assert_error, spawn_app, split};
use haitang_server::org_import::{Format, parse};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn only_district_admins_reach_the_admin_api() {
    let app = spawn_app().await;
    for username in ["street1", "ws1", "community1", "grid1", "lou1", "police1"] {
        let s = app.login(username).await;
        for path in ["/api/v1/admin/users", "/api/v1/admin/org"] {
            assert_error(
                &app.get(path, &s.access).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            );
        }
        let got = app
            .post(
                "/api/v1/admin/users/grid2/disable",
                Some(&s.access),
                json!({}),
            )
            .await;
        assert_error(&got, StatusCode::FORBIDDEN, "forbidden");
    }
    let admin = app.login("admin").await;
    let (status, body) = app.get("/api/v1/admin/users", &admin.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"].as_array().map(Vec::len), Some(10));
    let (status, body) = app.get("/api/v1/admin/org", &admin.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["units"].as_array().map(Vec::len), Some(57));
    assert_eq!(body["departments"].as_array().map(Vec::len), Some(5));
    // No token at all.
    let res = app
        .client
        .get(app.at("/api/v1/admin/users"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admin_adds_a_user_who_can_then_log_in() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let new = json!({
        "username": "13800000001", "name": "吴巷长", "role": "leader",
        "unit": "/gusu/pj/ws1/daru/g02/l1", "password": "lane-leader-1"
    });
    let (status, body) = app
        .post("/api/v1/admin/users", Some(&admin.access), new.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["unit_name"], "悬桥巷");
    let got = app
        .post("/api/v1/admin/users", Some(&admin.access), new)
        .await;
    assert_error(&got, StatusCode::CONFLICT, "username_taken");

    let res = app.login_raw("13800000001", "lane-leader-1").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Mismatched role and unit, unknown unit, handler without department, weak password.
    for (body, code) in [
        (
            json!({"username": "x1", "name": "X", "role": "grid_staff", "unit": "/gusu/byw", "password": "long-enough"}),
            "invalid_user",
        ),
        (
            json!({"username": "x2", "name": "X", "role": "grid_staff", "unit": "/gusu/byw/ws1/none/g01", "password": "long-enough"}),
            "invalid_user",
        ),
        (
            json!({"username": "x3", "name": "X", "role": "department_handler", "unit": "/gusu", "password": "long-enough"}),
            "invalid_user",
        ),
        (
            json!({"username": "x4", "name": "X", "role": "leader", "unit": "/gusu/byw/ws1/jinzhu/g01/b1", "password": "short"}),
            "weak_password",
        ),
    ] {
        let got = app
            .post("/api/v1/admin/users", Some(&admin.access), body)
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let got = app
        .post(
            "/api/v1/admin/users",
            Some(&admin.access),
            json!({"username": "x5", "name": "X", "role": "king", "unit": "/gusu", "password": "long-enough"}),
        )
        .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let (_, body) = app.get("/api/v1/admin/users", &admin.access).await;
    assert_eq!(
        body["users"].as_array().map(Vec::len),
        Some(11),
        "nothing stored by the refusals"
    );
}

#[tokio::test]
async fn reset_password_and_enable_disable() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let grid1 = app.login("grid1").await;
    let (status, _) = app
        .post(
            "/api/v1/admin/users/grid1/reset-password",
            Some(&admin.access),
            json!({"password": "new-password-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &grid1.access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_raw("grid1", "demo").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_raw("grid1", "new-password-1").await.status(),
        StatusCode::OK
    );

    let got = app
        .post(
            "/api/v1/admin/users/admin/disable",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "cannot_disable_self");
    let got = app
        .post(
            "/api/v1/admin/users/ghost/disable",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_error(&got, StatusCode::NOT_FOUND, "not_found");
    let (_, body) = app
        .post(
            "/api/v1/admin/users/lou1/disable",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(body["active"], false);
    assert_eq!(
        app.login_raw("lou1", "demo").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, body) = app
        .post(
            "/api/v1/admin/users/lou1/enable",
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_eq!(body["active"], true);
    assert_eq!(app.login_raw("lou1", "demo").await.status(), StatusCode::OK);
}

fn error_lines(body: &Value) -> Vec<u64> {
    body["details"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["line"].as_u64().expect("line"))
        .collect()
}

async fn import(
    app: &crate::helpers::TestApp,
    token: &str,
    ct: &str,
    body: &str,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.at("/api/v1/admin/org/import"))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    split(res).await
}

const GOOD_CSV: &str = "kind,path,name
street,/gusu/sj,石路街道
workstation,/gusu/sj/ws1,石路街道第一联动工作站
community,/gusu/sj/ws1/shantang,山塘社区
grid,/gusu/sj/ws1/shantang/g01,山塘社区第一网格
courtyard,/gusu/sj/ws1/shantang/g01/c1,汪宅
department,/gusu/sj:urban,石路城管中队
";

#[tokio::test]
async fn org_import_is_all_or_nothing_and_idempotent() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;

    let (status, report) = import(&app, &admin.access, "text/csv", GOOD_CSV).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report,
        json!({"units_created": 5, "units_updated": 0, "departments_created": 1, "departments_updated": 0})
    );
    let (_, report) = import(&app, &admin.access, "text/csv", GOOD_CSV).await;
    assert_eq!(
        report,
        json!({"units_created": 0, "units_updated": 0, "departments_created": 0, "departments_updated": 0})
    );

    // JSON, renaming one unit and adding one.
    let json_file = r#"[
  {"kind": "grid", "path": "/gusu/sj/ws1/shantang/g01", "name": "山塘街网格"},
  {"kind": "grid", "path": "/gusu/sj/ws1/shantang/g02", "name": "山塘社区第二网格"}
]"#;
    let (status, report) = import(&app, &admin.access, "application/json", json_file).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["units_created"], 1);
    assert_eq!(report["units_updated"], 1);

    // A row that is wrong on its own (a community at a grid's depth) is caught first...
    let malformed = "kind,path,name\ngrid,/gusu/sj/ws1/shantang/g03,第三网格\ncommunity,/gusu/sj/ws1/shantang/g01,错层\n";
    let got = import(&app, &admin.access, "text/csv", malformed).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_rows");
    assert_eq!(error_lines(&got.1), vec![3]);
    // ...and rows that do not fit the tree are all reported; the good rows do not land.
    let misfit = "kind,path,name
grid,/gusu/sj/ws1/shantang/g03,第三网格
grid,/gusu/sj/ws1/nowhere/g01,无主网格
department,/gusu/byw/ws1:police,错部门
";
    let got = import(&app, &admin.access, "text/csv", misfit).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_rows");
    assert_eq!(error_lines(&got.1), vec![3, 4]);
    let (_, org) = app.get("/api/v1/admin/org", &admin.access).await;
    let paths: Vec<&str> = org["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter_map(|u| u["path"].as_str())
        .collect();
    assert!(paths.contains(&"/gusu/sj/ws1/shantang/g02"));
    assert!(
        !paths.contains(&"/gusu/sj/ws1/shantang/g03"),
        "a good row of a bad file landed"
    );

    // Outside the admin's district.
    let got = import(
        &app,
        &admin.access,
        "text/csv",
        "kind,path,name\ndistrict,/wuzhong,吴中区\n",
    )
    .await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_rows");
    // Broken JSON, wrong content type.
    let got = import(&app, &admin.access, "application/json", "[{\"kind\": ").await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "bad_rows");
    let got = import(&app, &admin.access, "text/plain", GOOD_CSV).await;
    assert_error(
        &got,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn org_import_from_the_command_line() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("org.csv");
    std::fs::write(&good, GOOD_CSV).expect("write");
    haitang_server::commands::org_import(&app.state.db, &good)
        .await
        .expect("good file imports");
    let unit = app
        .state
        .db
        .unit("/gusu/sj/ws1/shantang/g01/c1".into())
        .await
        .expect("db");
    assert_eq!(unit.map(|u| u.name), Some("汪宅".to_owned()));

    let bad = dir.path().join("org.json");
    std::fs::write(&bad, "[\n{\"kind\": \"grid\", \"path\": \"/gusu/sj/ws1/shantang/g09\", \"name\": \"九\"},\n{\"kind\": \"grid\", \"path\": \"/gusu/x/y/z/g1\", \"name\": \"孤\"}\n]").expect("write");
    let err = haitang_server::commands::org_import(&app.state.db, &bad)
        .await
        .expect_err("bad file");
    let msg = err.to_string();
    assert!(msg.contains("org.json:line 3"), "{msg}");
    assert!(
        app.state
            .db
            .unit("/gusu/sj/ws1/shantang/g09".into())
            .await
            .expect("db")
            .is_none()
    );

    // The same parse function reads both formats identically.
    let rows_csv = parse(Format::Csv, GOOD_CSV).expect("csv");
    assert_eq!(rows_csv.len(), 6);
}
