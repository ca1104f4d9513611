//! Documents as stored, of every type: `docs` (each document's type, saved state, heads and
//! position) and the rows written with it in one savepoint: its new `changes`, the `actors`
//! they bind, its type's projection (a record's: `records.rs`) and, when it moved, a
//! `doc_moves` row for evictions.
//!
//! The writer re-checks what a preparation assumed, on the connection that writes: the
//! document's `seq` is still the one the work started from (else `Stale`: prepare again),
//! and every actor is still unbound or the caller's (else `ForeignActor`).

use super::{Db, DbError, actors, households, now_ms, records};
use crate::records::projection::{Place, Projected};
use automerge::{ActorId, ChangeHash};
use haitang_sync::doctype::DocType;
use haitang_sync::ingest::NewChange;
use haitang_sync::scope::{Position, Scope};
use rusqlite::{Connection, OptionalExtension, params};

/// A document's saved state, as a push or the server's own change starts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    pub doc_type: DocType,
    /// The seq of its latest change; a write based on it is refused once it moved on.
    pub seq: i64,
    pub state: Vec<u8>,
}

/// One record's accepted changes, ready for the writer.
#[derive(Debug, Clone)]
pub struct DocWrite {
    pub doc_id: String,
    /// The `seq` of the stored record the work started from; `None` for a new one.
    pub base_seq: Option<i64>,
    /// In causal order; none at all for a push that brought nothing new (only the
    /// `base_seq` check then runs).
    pub changes: Vec<NewChange>,
    pub heads: Vec<ChangeHash>,
    /// The saved document.
    pub state: Vec<u8>,
    /// What the server keeps of the document beside its state; it says the type.
    pub projection: Projected,
    /// Where the stored document was, if the write may move it.
    pub old: Option<Place>,
}

/// What the writer made of a [`DocWrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    Ok {
        heads: Vec<ChangeHash>,
    },
    /// Another write to the same record landed first: nothing written, prepare again.
    Stale,
    /// `actor`, which made `change`, is bound to another user: nothing written.
    ForeignActor {
        actor: ActorId,
        change: ChangeHash,
    },
}

/// A record's id, saved state and the heads stored beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRow {
    pub key: i64,
    pub id: String,
    pub state: Vec<u8>,
    /// Comma-separated hex, as [`heads_text`] writes them.
    pub heads: String,
}

pub fn heads_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Db {
    pub async fn stored_doc(&self, id: String) -> Result<Option<StoredDoc>, DbError> {
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT seq, state, type FROM docs WHERE id = ?1")?
                    .query_row([&id], |r| {
                        Ok(StoredDoc {
                            seq: r.get(0)?,
                            state: r.get(1)?,
                            doc_type: super::changes::doc_type(r, 2)?,
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }

    /// Writes each record's changes, each atomic on its own; queued together, they usually
    /// share one commit. `user_id` is the pushing user, `None` for the server's own changes.
    pub async fn commit(
        &self,
        user_id: Option<i64>,
        writes: Vec<DocWrite>,
    ) -> Result<Vec<Committed>, DbError> {
        // A job per record: its savepoint makes it atomic on its own, and it keeps the
        // savepoint's journal to one record's pages (SQLite truncates an in-memory journal
        // by walking it, at every statement).
        let jobs: Vec<_> = writes
            .into_iter()
            .map(|w| move |c: &Connection| commit_one(c, user_id, w))
            .collect();
        self.write_each(jobs).await.into_iter().collect()
    }

    /// The saved states of the named documents in `scope`, with their types, in the order
    /// named, until they pass `budget` bytes; then the ids not read yet. Ids of documents
    /// that do not exist or lie outside `scope` are skipped without a word.
    pub async fn states_in_scope(
        &self,
        scope: Scope,
        ids: Vec<String>,
        budget: usize,
    ) -> Result<(Vec<(String, DocType, Vec<u8>)>, Vec<String>), DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT state, grid, sector, department, type FROM docs WHERE id = ?1",
            )?;
            let mut found = Vec::new();
            let mut bytes = 0usize;
            let mut ids = ids.into_iter();
            for id in ids.by_ref() {
                type Row = (Vec<u8>, String, [Option<String>; 2], DocType);
                let row: Option<Row> = stmt
                    .query_row([&id], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            [r.get(2)?, r.get(3)?],
                            super::changes::doc_type(r, 4)?,
                        ))
                    })
                    .optional()?;
                if let Some((state, grid, [sector, department], doc_type)) = row
                    && scope.contains(Position {
                        grid: &grid,
                        sector: sector.as_deref(),
                        department: department.as_deref(),
                    })
                {
                    bytes += state.len();
                    found.push((id, doc_type, state));
                }
                if bytes > budget {
                    break;
                }
            }
            Ok((found, ids.collect()))
        })
        .await
    }

    /// Up to `n` records after `key`, in key order, with their saved state and heads: an
    /// operator's walk over every record, a page at a time.
    pub async fn states_after(&self, key: i64, n: usize) -> Result<Vec<StateRow>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT key, id, state, heads FROM docs WHERE key > ?1 ORDER BY key LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![key, n as i64], |r| {
                Ok(StateRow {
                    key: r.get(0)?,
                    id: r.get(1)?,
                    state: r.get(2)?,
                    heads: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Counts for tests and the benchmark: (documents, changes).
    pub async fn record_counts(&self) -> Result<(i64, i64), DbError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM docs), (SELECT count(*) FROM changes)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }
}

pub(super) fn commit_one(
    c: &Connection,
    user_id: Option<i64>,
    w: DocWrite,
) -> Result<Committed, DbError> {
    let stored: Option<(i64, i64)> = c
        .prepare_cached("SELECT key, seq FROM docs WHERE id = ?1")?
        .query_row([&w.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if stored.map(|(_, seq)| seq) != w.base_seq {
        return Ok(Committed::Stale);
    }
    if w.changes.is_empty() {
        return Ok(Committed::Ok { heads: w.heads });
    }
    // An actor someone else bound meanwhile is foreign; checked before anything is written.
    // Each actor with the first of its changes, for the refusal to name.
    let mut bound: Vec<(&ActorId, ChangeHash)> =
        w.changes.iter().map(|c| (&c.actor, c.hash)).collect();
    bound.sort_by_key(|(actor, _)| *actor);
    bound.dedup_by_key(|(actor, _)| *actor);
    for (actor, change) in &bound {
        // The server's actor is bound to no user; nobody else may ever use it.
        if actors::owner(c, actor)?.is_some_and(|owner| owner != user_id) {
            return Ok(Committed::ForeignActor {
                actor: (*actor).clone(),
                change: *change,
            });
        }
    }
    for (actor, _) in bound {
        actors::bind(c, actor, user_id)?;
    }
    // The changes' seqs come next in the log (the writer is alone, so nothing else takes
    // them); the document row goes first because the changes name it by its key.
    // Past quarantined changes too: a seq a phone's cursor has passed is never used again.
    let first_seq: i64 = c
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(seq) FROM changes), 0), \
                        coalesce((SELECT max(seq) FROM quarantined_changes), 0)) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    let new_count = w.changes.len() as i64;
    let last_seq = first_seq + new_count - 1;
    let now = now_ms();
    let place = w.projection.place();
    let moved = w.old.as_ref().is_some_and(|old| *old != place);
    // A document's type is fixed at creation: the update leaves `type` as it was, and the
    // push path refuses a push naming another type before anything gets here.
    let key: i64 = c
        .prepare_cached(
            "INSERT INTO docs(id, type, seq, created_seq, moved_seq, state, heads, change_count, grid, sector, department) \
             VALUES (?1, ?2, ?3, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, \
               moved_seq = CASE WHEN ?10 THEN excluded.seq ELSE docs.moved_seq END, \
               state = excluded.state, heads = excluded.heads, change_count = docs.change_count + excluded.change_count, \
               grid = excluded.grid, sector = excluded.sector, department = excluded.department \
             RETURNING key",
        )?
        .query_row(
            params![
                w.doc_id,
                w.projection.doc_type().as_str(),
                last_seq,
                w.state,
                heads_text(&w.heads),
                new_count,
                place.grid,
                place.sector,
                place.department,
                moved,
            ],
            |row| row.get(0),
        )?;
    debug_assert!(stored.is_none_or(|(k, _)| k == key));
    match &w.projection {
        Projected::Record(p) => records::project(c, key, p, now)?,
        Projected::Household(h) => households::project(c, key, h)?,
    }
    let mut insert = c.prepare_cached(
        "INSERT INTO changes(seq, doc, hash, actor, user_id, bytes, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (seq, change) in (first_seq..).zip(&w.changes) {
        insert.execute(params![
            seq,
            key,
            change.hash.0.as_slice(),
            change.actor.to_bytes(),
            user_id,
            change.bytes,
            now
        ])?;
    }
    if let (true, Some(old)) = (moved, &w.old) {
        c.prepare_cached(
            "INSERT INTO doc_moves(seq, doc, old_grid, old_sector, old_department) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![last_seq, key, old.grid, old.sector, old.department])?;
    }
    Ok(Committed::Ok { heads: w.heads })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::fixture::{self, GRID, GRID2, SECTOR};
    use super::*;
    use crate::records::projection::{Projection, Times};
    use haitang_sync::record::{Kind, Level, Record, Status, Urgency};

    pub const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const OTHER: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    /// A record's projection in [`SECTOR`], written without a document: storage writes what
    /// it is given.
    pub fn projection(id: &str) -> Projection {
        Projection {
            record: Record {
                id: id.to_owned(),
                kind: Kind::Event,
                grid: GRID.to_owned(),
                sector: Some(SECTOR.to_owned()),
                category: "city.garbage_exposed".to_owned(),
                status: Status::Reported,
                department: None,
                reported_by: 1,
                reported_at: 1_000,
                urgency: Urgency::Normal,
                title: "门口暴露垃圾".to_owned(),
                location: None,
                level: Level::Community,
                assignee: None,
                due_at: None,
                urged: false,
                duplicate_of: None,
                conflict: false,
                attachments: Vec::new(),
                household: None,
                persons: Vec::new(),
                raised_from: None,
                checks: Default::default(),
            },
            times: Times::default(),
        }
    }

    /// A write of `n` made-up changes by `actor`.
    pub fn write(
        id: &str,
        base_seq: Option<i64>,
        actor: &ActorId,
        n: u8,
        projection: Projection,
    ) -> DocWrite {
        let changes = (0..n)
            .map(|i| NewChange {
                hash: ChangeHash([i.wrapping_add(base_seq.unwrap_or(0) as u8 * 16); 32]),
                bytes: vec![i; 4],
                actor: actor.clone(),
            })
            .collect();
        DocWrite {
            doc_id: id.to_owned(),
            base_seq,
            changes,
            heads: vec![ChangeHash([n; 32])],
            state: vec![n; 8],
            projection: projection.into(),
            old: None,
        }
    }

    #[tokio::test]
    async fn a_write_is_stored_and_read_back_and_a_stale_one_is_not() {
        let (_dir, db) = fixture::open().await;
        let actor = ActorId::random();
        assert_eq!(db.stored_doc(ID.into()).await.expect("read"), None);
        let done = db
            .commit(None, vec![write(ID, None, &actor, 3, projection(ID))])
            .await
            .expect("commit");
        assert!(matches!(done[..], [Committed::Ok { .. }]), "{done:?}");
        let stored = db
            .stored_doc(ID.into())
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.state, vec![3; 8]);
        assert_eq!(db.record_counts().await.expect("counts"), (1, 3));

        // Based on a seq that has moved on, or on no record where there is one: nothing.
        for base in [None, Some(stored.seq - 1)] {
            let done = db
                .commit(None, vec![write(ID, base, &actor, 1, projection(ID))])
                .await
                .expect("commit");
            assert_eq!(done, [Committed::Stale]);
        }
        assert_eq!(db.record_counts().await.expect("counts"), (1, 3));
        // Nothing new, on the current seq: the heads come back and nothing is written.
        let mut none = write(ID, Some(stored.seq), &actor, 0, projection(ID));
        none.heads = vec![ChangeHash([9; 32])];
        let done = db.commit(None, vec![none]).await.expect("commit");
        assert_eq!(
            done,
            [Committed::Ok {
                heads: vec![ChangeHash([9; 32])]
            }]
        );
        let rows = db.states_after(0, 10).await.expect("states");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].heads, heads_text(&[ChangeHash([3; 32])]));
    }

    #[tokio::test]
    async fn an_actor_bound_to_another_user_writes_nothing() {
        let (_dir, db) = fixture::open().await;
        let (a, b) = (
            fixture::grid_staff(&db, "staff_a").await,
            fixture::grid_staff(&db, "staff_b").await,
        );
        let actor = ActorId::random();
        let done = db
            .commit(Some(a), vec![write(ID, None, &actor, 1, projection(ID))])
            .await
            .expect("commit");
        assert!(matches!(done[..], [Committed::Ok { .. }]));
        assert_eq!(
            db.actor_users(vec![actor.clone()]).await.expect("owners")[&actor],
            a
        );
        let seq = db
            .stored_doc(ID.into())
            .await
            .expect("read")
            .expect("stored")
            .seq;
        let theirs = write(ID, Some(seq), &actor, 2, projection(ID));
        let change = theirs.changes[0].hash;
        // Nor may anyone use the server's actor, bound to no user.
        let servers = ActorId::random();
        let by_server = write(OTHER, None, &servers, 1, projection(OTHER));
        let done = db.commit(None, vec![by_server]).await.expect("commit");
        assert!(matches!(done[..], [Committed::Ok { .. }]));
        let done = db
            .commit(
                Some(b),
                vec![
                    theirs,
                    write(OTHER, Some(seq + 1), &servers, 1, projection(OTHER)),
                ],
            )
            .await
            .expect("commit");
        assert_eq!(
            done[0],
            Committed::ForeignActor {
                actor: actor.clone(),
                change
            }
        );
        assert!(
            matches!(done[1], Committed::ForeignActor { .. }),
            "{done:?}"
        );
        assert_eq!(db.record_counts().await.expect("counts"), (2, 2));
    }

    #[tokio::test]
    async fn only_records_in_scope_are_read_by_id_and_reading_stops_past_the_budget() {
        let (_dir, db) = fixture::open().await;
        let other = OTHER;
        let mut elsewhere = projection(other);
        elsewhere.record.grid = GRID2.to_owned();
        elsewhere.record.sector = None;
        let actor = ActorId::random();
        db.commit(
            None,
            vec![
                write(ID, None, &actor, 1, projection(ID)),
                write(other, None, &actor, 2, elsewhere),
            ],
        )
        .await
        .expect("commit");
        let grid = Scope::Subtree { path: GRID.into() };
        let unknown = "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a6b".to_owned();
        let (found, unsent) = db
            .states_in_scope(grid.clone(), vec![unknown, other.into(), ID.into()], 100)
            .await
            .expect("read");
        assert_eq!(found, [(ID.to_owned(), DocType::Record, vec![1; 8])]);
        assert!(unsent.is_empty());
        // Past the budget, the rest are named to ask for again.
        let street = Scope::Subtree {
            path: "/gusu".into(),
        };
        let (found, unsent) = db
            .states_in_scope(street, vec![ID.into(), other.into()], 4)
            .await
            .expect("read");
        assert_eq!(found.len(), 1);
        assert_eq!(unsent, [other.to_owned()]);
    }
}
