//! The change log (`changes`, append-only, ordered by `seq`) read for pulls, with the moves
//! (`doc_moves`) that evictions come from, and rewritten only by a repair, which sets
//! changes aside in `quarantined_changes`.

use super::docs::{Committed, DocWrite, commit_one};
use super::scope::scope_sql;
use super::{Db, DbError, now_ms};
use haitang_sync::doctype::DocType;
use haitang_sync::pull::{DocRow, MoveRow, Window};
use haitang_sync::scope::Scope;
use rusqlite::{Connection, OptionalExtension, params};

/// What a pull page is planned from, all read in one transaction (`sync::pull::page`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRows {
    pub docs: Vec<DocRow>,
    pub moves: Vec<MoveRow>,
    /// The latest seq in the log (quarantined changes aside).
    pub newest: u64,
}

/// A record's change log, as a repair rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLog {
    pub key: i64,
    /// The record's seq when the log was read; the rebuilt record is written on it.
    pub seq: i64,
    pub doc_type: DocType,
    /// `(seq, bytes)` in the order the server took them.
    pub changes: Vec<(i64, Vec<u8>)>,
}

impl Db {
    /// The rows `window` names in `scope`: documents in scope whose latest change is after
    /// `window.after`, with their changes after `window.since` when the phone may have them,
    /// and moves away from positions in scope after `window.after`; each in seq order, at
    /// most `window.rows` of each. One read transaction: the rows and `newest` come from the
    /// same snapshot, so a cursor never passes what the page did not see.
    pub async fn pull_rows(&self, scope: Scope, window: Window) -> Result<PullRows, DbError> {
        self.read(move |c| {
            c.execute_batch("BEGIN")?;
            let rows = read_pull_rows(c, &scope, &window);
            c.execute_batch("COMMIT")?;
            rows
        })
        .await
    }

    /// The change log of the record `id`, `None` if there is no such record.
    pub async fn change_log(&self, id: String) -> Result<Option<ChangeLog>, DbError> {
        self.read(move |c| {
            let Some((key, seq, doc_type)) = c
                .prepare_cached("SELECT key, seq, type FROM docs WHERE id = ?1")?
                .query_row([&id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, doc_type(r, 2)?))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt =
                c.prepare_cached("SELECT seq, bytes FROM changes WHERE doc = ?1 ORDER BY seq")?;
            let changes = stmt
                .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(Some(ChangeLog {
                key,
                seq,
                doc_type,
                changes,
            }))
        })
        .await
    }

    /// Writes a rebuilt record: the changes `dropped` names (`(seq, why)`) move from the log
    /// to `quarantined_changes`, then `write` (the server's change on the rebuilt record) is
    /// committed and the record marked as moved into every scope, so every phone pulls it
    /// whole. All of it or, if the record changed meanwhile, none of it.
    pub async fn commit_repair(
        &self,
        key: i64,
        dropped: Vec<(i64, String)>,
        write: DocWrite,
    ) -> Result<(), DbError> {
        self.write(move |c| {
            let now = now_ms();
            for (seq, why) in &dropped {
                c.execute(
                    "INSERT INTO quarantined_changes(seq, doc, hash, actor, user_id, bytes, received_at, reason, quarantined_at) \
                     SELECT seq, doc, hash, actor, user_id, bytes, received_at, ?2, ?3 FROM changes WHERE seq = ?1",
                    params![seq, why, now],
                )?;
                c.execute("DELETE FROM changes WHERE seq = ?1", [seq])?;
            }
            match commit_one(c, None, write)? {
                Committed::Ok { .. } => {
                    c.execute(
                        "UPDATE docs SET moved_seq = seq, change_count = (SELECT count(*) FROM changes WHERE doc = ?1) WHERE key = ?1",
                        [key],
                    )?;
                    Ok(())
                }
                // Failing the job rolls its savepoint back, the quarantine with it.
                Committed::Stale | Committed::ForeignActor { .. } => Err(DbError::Corrupt(
                    "the record changed while it was being rebuilt; run the repair again".into(),
                )),
            }
        })
        .await
    }
}

/// A stored `type`. Migrations refuse a database newer than the binary, so every stored
/// type is one this binary knows; anything else is a damaged row.
pub(super) fn doc_type(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<DocType> {
    let name: String = r.get(i)?;
    name.parse().map_err(|e: haitang_sync::names::UnknownName| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn read_pull_rows(c: &Connection, scope: &Scope, window: &Window) -> Result<PullRows, DbError> {
    let (since, after, fetch) = (window.since as i64, window.after as i64, window.rows as i64);

    let (clause, param) = scope_sql(scope, "");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT key, id, seq, created_seq, moved_seq, state, type FROM docs WHERE {clause} AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![param, after, fetch], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            DocRow {
                doc_type: doc_type(r, 6)?,
                id: r.get(1)?,
                seq: r.get::<_, i64>(2)? as u64,
                created_seq: r.get::<_, i64>(3)? as u64,
                moved_seq: r.get::<_, i64>(4)? as u64,
                state: r.get(5)?,
                changes: Vec::new(),
            },
        ))
    })?;
    let mut changes_stmt = c.prepare_cached(
        "SELECT bytes FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut docs = Vec::new();
    for row in rows {
        let (key, mut doc) = row?;
        if window.may_have(doc.created_seq, doc.moved_seq) {
            doc.changes = changes_stmt
                .query_map(params![key, since, Window::CHANGES_TO_READ as i64], |r| {
                    r.get(0)
                })?
                .collect::<Result<_, _>>()?;
        }
        docs.push(doc);
    }

    let (clause, param) = scope_sql(scope, "m.old_");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT d.id, m.seq, d.grid, d.sector, d.department FROM doc_moves m JOIN docs d ON d.key = m.doc \
         WHERE {clause} AND m.seq > ?2 ORDER BY m.seq LIMIT ?3"
    ))?;
    let moves = stmt
        .query_map(params![param, after, fetch], |r| {
            Ok(MoveRow {
                id: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
                grid: r.get(2)?,
                sector: r.get(3)?,
                department: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let newest: Option<i64> = c.query_row("SELECT max(seq) FROM changes", [], |r| r.get(0))?;
    Ok(PullRows {
        docs,
        moves,
        newest: newest.unwrap_or(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::super::docs::tests::{ID, projection, write};
    use super::super::fixture::{self, GRID, GRID2};
    use super::*;
    use crate::records::projection::Place;
    use automerge::ActorId;

    const OTHER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    fn grid() -> Scope {
        Scope::Subtree { path: GRID.into() }
    }

    #[tokio::test]
    async fn a_pull_reads_documents_after_its_start_and_changes_only_of_those_the_phone_has() {
        let (_dir, db) = fixture::open().await;
        let actor = ActorId::random();
        db.commit(None, vec![write(ID, None, &actor, 2, projection(ID))])
            .await
            .expect("commit");
        let first = db
            .pull_rows(grid(), Window::new(None, None, 10))
            .await
            .expect("rows");
        assert_eq!(first.newest, 2);
        assert_eq!(first.docs.len(), 1);
        assert!(
            first.docs[0].changes.is_empty(),
            "a first pull reads no changes"
        );

        db.commit(None, vec![write(ID, Some(2), &actor, 1, projection(ID))])
            .await
            .expect("commit");
        let next = db
            .pull_rows(grid(), Window::new(Some(2), None, 10))
            .await
            .expect("rows");
        assert_eq!(next.docs[0].seq, 3);
        assert_eq!(
            next.docs[0].changes,
            [vec![0u8; 4]],
            "the change after the cursor"
        );
        let done = db
            .pull_rows(grid(), Window::new(Some(3), None, 10))
            .await
            .expect("rows");
        assert!(done.docs.is_empty() && done.moves.is_empty());
        // Another grid's scope does not see it.
        let elsewhere = Scope::Subtree { path: GRID2.into() };
        let rows = db
            .pull_rows(elsewhere, Window::new(None, None, 10))
            .await
            .expect("rows");
        assert!(rows.docs.is_empty());
    }

    #[tokio::test]
    async fn a_move_is_read_by_the_scope_it_left_with_where_the_record_is_now() {
        let (_dir, db) = fixture::open().await;
        let actor = ActorId::random();
        db.commit(None, vec![write(ID, None, &actor, 1, projection(ID))])
            .await
            .expect("commit");
        let mut moved = projection(ID);
        moved.record.grid = GRID2.into();
        moved.record.sector = None;
        let mut w = write(ID, Some(1), &actor, 1, moved);
        w.old = Some(Place::of(&projection(ID).record));
        db.commit(None, vec![w]).await.expect("commit");
        let rows = db
            .pull_rows(grid(), Window::new(Some(1), None, 10))
            .await
            .expect("rows");
        assert!(rows.docs.is_empty(), "no longer in the grid");
        assert_eq!(rows.moves.len(), 1);
        assert_eq!((rows.moves[0].seq, rows.moves[0].grid.as_str()), (2, GRID2));
        // A write that keeps the place records no move.
        let mut moved = projection(ID);
        moved.record.grid = GRID2.into();
        moved.record.sector = None;
        let mut w = write(ID, Some(2), &actor, 1, moved);
        w.old = Some(w.projection.place());
        db.commit(None, vec![w]).await.expect("commit");
        let rows = db
            .pull_rows(grid(), Window::new(Some(2), None, 10))
            .await
            .expect("rows");
        assert!(rows.moves.is_empty());
    }

    #[tokio::test]
    async fn a_repair_sets_changes_aside_and_their_seqs_are_never_used_again() {
        let (_dir, db) = fixture::open().await;
        let actor = ActorId::random();
        db.commit(
            None,
            vec![
                write(ID, None, &actor, 3, projection(ID)),
                write(OTHER, None, &actor, 1, projection(OTHER)),
            ],
        )
        .await
        .expect("commit");
        let log = db.change_log(ID.into()).await.expect("log").expect("found");
        assert_eq!(log.changes.len(), 3);
        assert_eq!(log.seq, 3);
        let rebuilt = write(ID, Some(log.seq), &ActorId::random(), 1, projection(ID));
        db.commit_repair(log.key, vec![(2, "does not apply".into())], rebuilt)
            .await
            .expect("repair");
        let log = db.change_log(ID.into()).await.expect("log").expect("found");
        let seqs: Vec<i64> = log.changes.iter().map(|(s, _)| *s).collect();
        // The server's change comes after every seq ever given, the quarantined one too.
        assert_eq!(seqs, [1, 3, 5]);
        // Everyone gets the rebuilt record whole: it counts as moved into view.
        let rows = db
            .pull_rows(grid(), Window::new(Some(4), None, 10))
            .await
            .expect("rows");
        assert_eq!(rows.docs[0].moved_seq, 5);
        // A repair based on a seq that moved on writes nothing, the quarantine included.
        let stale = write(ID, Some(1), &ActorId::random(), 1, projection(ID));
        assert!(
            db.commit_repair(log.key, vec![(1, "x".into())], stale)
                .await
                .is_err()
        );
        assert_eq!(
            db.change_log(ID.into())
                .await
                .expect("log")
                .expect("found")
                .changes
                .len(),
            3
        );
        assert_eq!(
            db.change_log("3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b".into())
                .await
                .expect("log"),
            None
        );
    }
}
