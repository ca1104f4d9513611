//! `kill -9` in the middle of a stream of pushes: everything the server acknowledged is
//! there after a restart, and the phones converge with it.

use crate::helpers::{login_at as login, start_binary as start};
use crate::phone::{Phone, record};
use automerge::ChangeHash;
use haitang_sync::record::set_text;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_pushes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let mut server = start(&db);

    // What the server acknowledged: doc -> heads it confirmed.
    let acked: Arc<Mutex<BTreeMap<String, Vec<ChangeHash>>>> = Arc::default();
    let progress = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for username in ["lou1", "xiang1", "grid1", "grid2"] {
        let (token, user_id) = login(&server.url, username).await;
        let url = server.url.clone();
        let acked = acked.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut phone = Phone::new(&url, &token);
            let mut fields = record(user_id);
            match username {
                "xiang1" => fields.sector = Some("/gusu/byw/ws1/jinzhu/g01/l1".into()),
                "grid2" => {
                    fields.grid = "/gusu/byw/ws1/jinzhu/g02".into();
                    fields.sector = None;
                }
                "grid1" => fields.sector = None,
                _ => {}
            }
            // Push until the server dies under us; each round adds a record and edits one.
            let mut stopped = None;
            for round in 0..10_000 {
                fields.id = crate::phone::uuid();
                let id = phone.create(&fields);
                phone.edit(&id, |tx| {
                    set_text(tx, "description", &format!("第{round}次巡查")).expect("edit")
                });
                match phone.try_sync_with(None).await {
                    Ok(_) => {
                        assert!(phone.refused.is_empty(), "{:?}", phone.refused);
                        let mut a = acked.lock().expect("lock");
                        for (doc, heads) in &phone.acked {
                            a.insert(doc.clone(), heads.clone());
                        }
                        progress.notify_one();
                    }
                    Err(e) => {
                        stopped = Some(e);
                        progress.notify_one();
                        break;
                    }
                }
            }
            (phone, stopped)
        }));
    }
    // Let a stream build up, then pull the plug with pushes in flight.
    let enough = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while acked.lock().expect("lock").len() < 40 {
            assert!(
                !tasks.iter().all(|t| t.is_finished()),
                "every phone stopped before the server was killed"
            );
            progress.notified().await;
        }
    })
    .await;
    assert!(enough.is_ok(), "fewer than 40 acknowledgements in 120 s");
    server.kill();
    let mut phones = Vec::new();
    for t in tasks {
        let (phone, stopped) = t.await.expect("phone task");
        assert!(
            stopped.is_some(),
            "a phone kept pushing after the server died"
        );
        phones.push(phone);
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 40);

    // Restart on the same file: every acknowledged change is there.
    let server = start(&db);
    let (token, _) = login(&server.url, "community1").await;
    let mut supervisor = Phone::new(&server.url, &token);
    supervisor.sync().await;
    for (doc, heads) in &acked {
        let d = supervisor
            .docs
            .get(doc)
            .unwrap_or_else(|| panic!("acknowledged record {doc} lost"));
        for h in heads {
            assert!(
                d.get_change_meta_by_hash(h).is_some(),
                "acknowledged change {h} of {doc} lost"
            );
        }
    }

    // The phones push what was never acknowledged; all converge.
    let usernames = ["lou1", "xiang1", "grid1", "grid2"];
    for (phone, username) in phones.iter_mut().zip(usernames) {
        phone.url = server.url.clone();
        phone.token = login(&server.url, username).await.0;
        phone.sync().await;
        assert!(phone.refused.is_empty(), "{:?}", phone.refused);
    }
    supervisor.sync().await;
    let mut total = 0;
    for phone in &mut phones {
        let ids: Vec<String> = phone.docs.keys().cloned().collect();
        for id in ids {
            let mut mine = phone.heads(&id);
            mine.sort();
            assert_eq!(mine, supervisor.heads(&id), "{id} did not converge");
            total += 1;
        }
    }
    assert!(total >= acked.len());
    let mut server = server;
    assert!(server.terminate().success());
}
