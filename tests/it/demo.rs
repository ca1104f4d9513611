//! The demo district's history (`--demo-history`): made through the real push path, it
//! leaves every inbox bucket and rate with something real in it, and a restart adds nothing.

use crate::helpers::{spawn_in, spawn_with, test_config};
use crate::phone::Phone;

#[tokio::test]
async fn the_demo_history_fills_every_bucket_and_rate_and_is_seeded_once() {
    let app = spawn_with(|c| c.demo_history = true).await;
    let (docs, changes) = app.state.db.record_counts().await.expect("counts");
    // Twenty stories, the register's households and a month of care visits.
    assert!(docs > 200, "{docs}");
    assert!(changes > 60, "each step its own change: {changes}");

    let community = app.login("community1").await.access;
    let (status, page) = app.get("/api/v1/cases?bucket=all", &community).await;
    assert!(status.is_success(), "{page}");
    let counts = &page["counts"];
    for bucket in ["new", "awaiting_verification", "overdue"] {
        assert!(counts[bucket].as_i64() > Some(0), "{bucket}: {counts}");
    }
    let (_, rates) = app.get("/api/v1/cases/rates", &community).await;
    assert!(rates["closed"].as_i64() >= Some(9), "{rates}");
    let on_time = rates["on_time_closure_rate"].as_f64().expect("a rate");
    assert!(
        on_time > 0.5 && on_time < 1.0,
        "one story closes late: {rates}"
    );
    assert!(
        rates["rework_rate"].as_f64() > Some(0.0),
        "one was returned: {rates}"
    );

    // The street above sees what the workstation escalated; the police what it was sent.
    let police = app.login("police1").await.access;
    let (_, sent) = app.get("/api/v1/cases?bucket=all", &police).await;
    assert_eq!(sent["total"], 2, "{sent}");

    // A phone in the grid pulls the history like any other.
    let (token, _) = crate::helpers::login_at(&app.url, "lou1").await;
    let mut lou = Phone::new(&app.url, &token);
    lou.sync().await;
    let households = lou.types.len();
    assert_eq!(households, 24, "the households of lou1's building");
    let records = lou.docs.len() - households;
    assert!(
        records > 6 + 20,
        "the six stories and the building's visits: {records}"
    );

    // The leader's schedule has people on it, some overdue; the street sees the sum.
    let leader = app.login("lou1").await.access;
    let (_, due) = app.get("/api/v1/visits/due", &leader).await;
    assert!(due["total"]["on_plan"].as_i64() > Some(10), "{due}");
    assert!(due["total"]["overdue"].as_i64() > Some(0), "{due}");
    let street = app.login("street1").await.access;
    let (_, street_due) = app.get("/api/v1/visits/due", &street).await;
    assert!(
        street_due["total"]["on_plan"].as_i64() > due["total"]["on_plan"].as_i64(),
        "{street_due}"
    );
    // Visits of the weeks before were reviewed and closed; the inbox is not flooded.
    let (_, waiting) = app
        .get("/api/v1/cases?bucket=awaiting_verification", &community)
        .await;
    assert!(waiting["total"].as_i64() < Some(60), "{waiting}");

    // A second start on the same database seeds nothing more.
    let dir = app.stop().await;
    let mut config = test_config(dir.path());
    config.demo_history = true;
    let again = spawn_in(dir, config).await;
    let (docs_again, changes_again) = again.state.db.record_counts().await.expect("counts");
    assert_eq!(docs_again, docs);
    // The escalation job may have urged the overdue ones meanwhile; a second history
    // would have added every step again.
    assert!(
        changes_again < changes + 10,
        "{changes} changes became {changes_again}"
    );
}
