//! Records damaged before ingest checked that every push loads back: finding them
//! (`haitang records check`) and rebuilding one from its change log
//! (`haitang records repair ID`).

use super::{Records, load_stored, server_change};
use crate::db::DbError;
use crate::db::changes::ChangeLog;
use crate::db::docs::{DocWrite, heads_text};
use automerge::{ActorId, Automerge, ReadDoc};

/// Records read at a time by the check.
const CHECK_PAGE: usize = 64;

/// What `haitang records repair` did to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Changes kept in the rebuilt record.
    pub kept: usize,
    /// Changes moved to `quarantined_changes`: (hash, why).
    pub dropped: Vec<(String, String)>,
}

/// A record rebuilt from its log, ready for the writer.
struct Rebuilt {
    write: DocWrite,
    kept: usize,
    /// `(seq, hash, why)` of each change set aside.
    dropped: Vec<(i64, String, String)>,
}

impl Records {
    /// Ids of records whose saved state does not load, or loads to other heads than the
    /// ones stored beside it. Reads every record: an operator's check, not a hot path.
    pub async fn damaged(&self) -> Result<Vec<String>, DbError> {
        let mut damaged = Vec::new();
        let mut after = 0;
        loop {
            let rows = self.db.states_after(after, CHECK_PAGE).await?;
            let Some(last) = rows.last() else {
                return Ok(damaged);
            };
            after = last.key;
            let bad = self
                .compute(move || {
                    rows.into_iter()
                        .filter(|row| {
                            load_stored(&row.state)
                                .is_none_or(|d| heads_text(&d.get_heads()) != row.heads)
                        })
                        .map(|row| row.id)
                        .collect::<Vec<_>>()
                })
                .await?;
            damaged.extend(bad);
        }
    }

    /// Rebuilds a damaged record from its change log: each change, in the order the server
    /// took them, is kept if it applies and the record still saves and loads back with it;
    /// a change that does not, and every change that depends on it, moves to
    /// `quarantined_changes`. The server then adds an empty change of its own, so every
    /// phone in scope pulls the rebuilt record as a whole. `None` if there is no such record.
    pub async fn repair(
        &self,
        server_actor: ActorId,
        doc_id: String,
    ) -> Result<Option<Repair>, DbError> {
        let Some(log) = self.db.change_log(doc_id.clone()).await? else {
            return Ok(None);
        };
        let key = log.key;
        let Some(rebuilt) = self
            .compute(move || rebuild(log, server_actor, doc_id))
            .await??
        else {
            return Ok(None);
        };
        let report = Repair {
            kept: rebuilt.kept,
            dropped: rebuilt
                .dropped
                .iter()
                .map(|(_, hash, why)| (hash.clone(), why.clone()))
                .collect(),
        };
        let dropped = rebuilt
            .dropped
            .into_iter()
            .map(|(seq, _, why)| (seq, why))
            .collect();
        self.db.commit_repair(key, dropped, rebuilt.write).await?;
        Ok(Some(report))
    }
}

fn rebuild(
    log: ChangeLog,
    server_actor: ActorId,
    doc_id: String,
) -> Result<Option<Rebuilt>, DbError> {
    let mut doc = Automerge::new();
    let mut kept = 0;
    let mut dropped = Vec::new();
    for (seq, bytes) in log.changes {
        let change = match automerge::Change::try_from(bytes.as_slice()) {
            Ok(change) => change,
            Err(e) => {
                dropped.push((seq, format!("seq {seq}"), format!("does not decode: {e}")));
                continue;
            }
        };
        let hash = change.hash().to_string();
        let trial = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut next = doc.clone();
            next.apply_changes([change])?;
            if !next.get_missing_deps(&[]).is_empty() {
                return Ok(Err("depends on a change that is not kept".to_owned()));
            }
            let loads = load_stored(&next.save_nocompress())
                .is_some_and(|l| l.get_heads() == next.get_heads());
            Ok::<_, automerge::AutomergeError>(if loads {
                Ok(next)
            } else {
                Err("the record does not load back with it".to_owned())
            })
        }));
        match trial {
            Ok(Ok(Ok(next))) => {
                doc = next;
                kept += 1;
            }
            Ok(Ok(Err(why))) => dropped.push((seq, hash, why)),
            Ok(Err(e)) => dropped.push((seq, hash, format!("does not apply: {e}"))),
            Err(_) => dropped.push((seq, hash, "does not apply".to_owned())),
        }
    }
    let mut doc = doc.with_actor(server_actor);
    doc.empty_commit(
        automerge::transaction::CommitOptions::default()
            .with_message("repaired: changes that left the record unreadable were set aside"),
    );
    Ok(
        server_change(doc, log.doc_type, doc_id, log.seq)?.map(|write| Rebuilt {
            write,
            kept,
            dropped,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::docs::tests::{projection, write};
    use crate::db::fixture;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[tokio::test]
    async fn a_record_whose_log_does_not_decode_is_found_and_rebuilt_without_it() {
        let (_dir, db) = fixture::open().await;
        let records = Records::new(db.clone(), 1);
        // A real record's one change, stored with a state that does not load and a second
        // logged change that is no change at all.
        let doc = haitang_sync::record::new_record(ActorId::random(), &fixture::record(ID, 1));
        let mut planted = write(ID, None, &ActorId::random(), 2, projection(ID));
        planted.changes[0].bytes = doc.get_changes(&[])[0].raw_bytes().to_vec();
        planted.changes[0].hash = doc.get_heads()[0];
        planted.state = vec![1, 2, 3];
        db.commit(None, vec![planted]).await.expect("plant");
        assert_eq!(records.damaged().await.expect("check"), [ID.to_owned()]);

        let report = records
            .repair(ActorId::random(), ID.into())
            .await
            .expect("repair")
            .expect("found");
        assert_eq!(report.kept, 1);
        assert_eq!(report.dropped.len(), 1, "{report:?}");
        assert!(
            report.dropped[0].1.starts_with("does not decode"),
            "{report:?}"
        );
        assert!(records.damaged().await.expect("check").is_empty());
        assert!(
            records
                .repair(
                    ActorId::random(),
                    "7c9e6679-7425-40de-944b-e07fc1f90ae7".into()
                )
                .await
                .expect("repair")
                .is_none()
        );
    }
}
