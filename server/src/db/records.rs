//! Record documents: the change log, each document's state and projection, actor bindings,
//! moves (for evictions), and the category catalogue.
//!
//! A push is prepared on a reader (load the saved document, apply the changes to it,
//! validate, save) so that Automerge's work runs in parallel across the reader pool. The
//! writer then only checks that nothing changed underneath (the document's `seq` is still
//! the one the work was based on, and every actor is still unbound or bound to the caller)
//! and writes. A stale preparation is redone; a lost race on an actor is a refusal.

use super::{Db, DbError, now_ms};
use automerge::{ActorId, Automerge, ChangeHash, ReadDoc};
use haitang_sync::catalogue::SEED;
use haitang_sync::ingest::{Applied, PushContext, Refusal, RefusalCode, apply_push};
use haitang_sync::protocol::PullItem;
use haitang_sync::record::Record;
use haitang_sync::scope::{Principal, Scope};
use haitang_sync::workflow::{self, CategoryRules};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_bytes::ByteBuf;

/// A pull hands out changes for a document unless it has more than this many since the
/// cursor; then the saved document is smaller and cheaper to apply.
const SNAPSHOT_AFTER_CHANGES: usize = 16;

/// A pull page stops growing past this many bytes of documents and changes, whatever the
/// limit, so one response never holds a street's history in memory.
const PAGE_BYTES: usize = 4 * 1024 * 1024;

/// A push made ready on a reader, waiting for the writer.
pub struct Prepared {
    pub doc_id: String,
    /// The `seq` of the stored document the work started from; `None` for a new one.
    base_seq: Option<i64>,
    /// The push's result without its Automerge document: a live document costs many
    /// times its saved size, and a request may hold dozens while it waits for the writer.
    applied: Outcome,
    state: Vec<u8>,
    old: Option<Position>,
    times: Times,
}

/// What the writer needs of an accepted push.
struct Outcome {
    record: Record,
    new_changes: Vec<haitang_sync::ingest::NewChange>,
    heads: Vec<ChangeHash>,
}

impl Outcome {
    /// Saves the document and lets it go.
    fn of(applied: Applied) -> (Outcome, Vec<u8>, Times) {
        let Applied {
            doc,
            record,
            new_changes,
            heads,
            state,
            ..
        } = applied;
        // The state is saved undeflated by ingest: it goes to phones as a pull snapshot
        // inside a gzipped response, and a phone loads it about a tenth faster undeflated.
        let times = if new_changes.is_empty() {
            Times::default()
        } else {
            Times::of(&doc, record.status)
        };
        (
            Outcome {
                record,
                new_changes,
                heads,
            },
            state,
            times,
        )
    }
}

/// What the projection keeps from a record's timeline.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Times {
    accepted_at: Option<i64>,
    closed_at: Option<i64>,
    ever_returned: bool,
}

impl Times {
    pub(crate) fn of(doc: &Automerge, status: haitang_sync::record::Status) -> Times {
        let mut t = Times::default();
        for e in workflow::timeline(doc) {
            match e.action.as_str() {
                "accept" if t.accepted_at.is_none() => t.accepted_at = Some(e.at),
                "close" | "close_duplicate" => t.closed_at = Some(e.at),
                "return" => t.ever_returned = true,
                _ => {}
            }
        }
        // A reopened record is not closed, whatever its timeline once said.
        if status != haitang_sync::record::Status::Closed {
            t.closed_at = None;
        }
        t
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    grid: String,
    sector: Option<String>,
    department: Option<String>,
}

impl Position {
    fn of(r: &Record) -> Position {
        Position {
            grid: r.grid.clone(),
            sector: r.sector.clone(),
            department: r.department.clone(),
        }
    }
}

/// What the writer made of a prepared push.
pub enum Committed {
    Ok {
        heads: Vec<ChangeHash>,
    },
    /// Someone else's push to the same document landed first: prepare again.
    Stale,
    Refused(Refusal),
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryRow {
    pub code: String,
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    pub kinds: Vec<String>,
    pub handling_hours: i64,
    pub field_resolvable: bool,
}

/// One page of a pull.
pub struct PullPage {
    pub items: Vec<PullItem>,
    /// The cursor to store: the pull's start while `more`, the new position after.
    pub cursor: u64,
    pub more: bool,
    /// Where the next page starts, when `more`.
    pub resume: Option<u64>,
}

fn heads_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn category_rules(c: &Connection, code: &str) -> Option<CategoryRules> {
    c.prepare_cached(
        "SELECT handling_hours, field_resolvable FROM categories WHERE code = ?1 AND active = 1",
    )
    .and_then(|mut s| {
        s.query_row([code], |r| {
            Ok(CategoryRules {
                handling_hours: r.get::<_, i64>(0)?.clamp(1, 24 * 365) as u32,
                field_resolvable: r.get(1)?,
            })
        })
        .optional()
    })
    .ok()
    .flatten()
}

fn actor_owner(c: &Connection, actor: &ActorId) -> Option<Option<i64>> {
    c.prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")
        .and_then(|mut s| {
            s.query_row([actor.to_bytes()], |r| r.get::<_, Option<i64>>(0))
                .optional()
        })
        .ok()
        .flatten()
}

/// `(clause, parameter)` selecting rows whose position columns (`grid`, `sector`,
/// `department`, each with `prefix`) lie in `scope`. The subtree form is a range on the
/// path, so it uses the `(grid, seq)` index.
fn scope_sql(scope: &Scope, prefix: &str) -> (String, String) {
    match scope {
        Scope::Subtree { path } => (
            format!(
                "({prefix}grid = ?1 OR ({prefix}grid >= ?1 || '/' AND {prefix}grid < ?1 || '0'))"
            ),
            path.clone(),
        ),
        Scope::Sector { path } => (format!("{prefix}sector = ?1"), path.clone()),
        Scope::Department { department } => {
            (format!("{prefix}department = ?1"), department.clone())
        }
    }
}

impl Db {
    /// Adds the built-in categories that are missing; never changes ones already there,
    /// which administrators may have edited.
    pub async fn seed_catalogue(&self) -> Result<(), DbError> {
        self.write(|c| {
            let mut stmt = c.prepare_cached(
                "INSERT INTO categories(code, parent, name_zh, name_en, kinds, handling_hours, field_resolvable) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(code) DO NOTHING",
            )?;
            // Parents first, so the foreign key holds row by row.
            let mut seed: Vec<_> = SEED.iter().collect();
            seed.sort_by_key(|cat| cat.parent.is_some());
            for cat in seed {
                let kinds = cat.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",");
                stmt.execute(params![
                    cat.code,
                    cat.parent,
                    cat.name_zh,
                    cat.name_en,
                    kinds,
                    cat.handling_hours,
                    cat.field_resolvable
                ])?;
            }
            Ok(())
        })
        .await
    }

    pub async fn categories(&self) -> Result<Vec<CategoryRow>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT code, parent, name_zh, name_en, kinds, handling_hours, field_resolvable \
                 FROM categories WHERE active = 1 ORDER BY parent IS NOT NULL, code",
            )?;
            let rows = stmt.query_map([], |r| {
                let kinds: String = r.get(4)?;
                Ok(CategoryRow {
                    code: r.get(0)?,
                    parent: r.get(1)?,
                    name_zh: r.get(2)?,
                    name_en: r.get(3)?,
                    kinds: kinds
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    handling_hours: r.get(5)?,
                    field_resolvable: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Applies and validates a push for one document on a reader. `Ok(Err(_))` is a
    /// refusal to send back; nothing is stored either way.
    pub async fn prepare_push(
        &self,
        principal: Principal,
        doc_id: String,
        changes: Vec<Vec<u8>>,
    ) -> Result<Result<Prepared, Refusal>, DbError> {
        self.read(move |c| {
            let stored: Option<(i64, Vec<u8>)> = c
                .prepare_cached("SELECT seq, state FROM docs WHERE id = ?1")?
                .query_row([&doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (base_seq, current) = match stored {
                Some((seq, state)) => match load_stored(&state) {
                    Some(doc) => (Some(seq), Some(doc)),
                    None => {
                        tracing::error!(record = %doc_id, "stored document does not load; run `haitang records check`");
                        return Ok(Err(damaged(&doc_id)));
                    }
                },
                None => (None, None),
            };
            let stored_record = current
                .as_ref()
                .and_then(|doc| haitang_sync::record::read_record(doc).ok());
            let old = stored_record.as_ref().map(Position::of);
            let old_assignee = stored_record.as_ref().and_then(|r| r.assignee);
            let old_photos: Vec<String> = stored_record.map(|r| r.attachments).unwrap_or_default();
            let owner = |a: &ActorId| actor_owner(c, a).flatten();
            let rules = |code: &str| category_rules(c, code);
            let ctx = PushContext {
                principal: &principal,
                actor_owner: &owner,
                category: &rules,
                now: now_ms(),
            };
            let applied = match apply_push(&doc_id, current, &changes, &ctx) {
                Ok(a) => a,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if !applied.new_changes.is_empty()
                && let Some(problem) = position_problem(c, &applied.record)?
            {
                return Ok(Err(Refusal {
                    code: RefusalCode::InvalidDocument,
                    message: problem,
                }));
            }
            if let Some(assignee) = applied.record.assignee
                && old_assignee != Some(assignee)
                && let Some(problem) = assignee_problem(c, assignee, &applied.record)?
            {
                return Ok(Err(Refusal {
                    code: RefusalCode::ForbiddenTransition,
                    message: format!("record {doc_id}: {problem}"),
                }));
            }
            // A photo named for the first time must be one the pusher sent or may see:
            // knowing a hash is no right to a photo (`blobs::readable`).
            for sha in &applied.record.attachments {
                if !old_photos.contains(sha) && !super::blobs::may_reference(c, &principal, sha)? {
                    return Ok(Err(Refusal {
                        code: RefusalCode::Forbidden,
                        message: format!(
                            "record {doc_id} names photo {sha}, which you did not upload and may not see; attach photos from this phone"
                        ),
                    }));
                }
            }
            let (applied, state, times) = Outcome::of(applied);
            Ok(Ok(Prepared {
                doc_id,
                base_seq,
                applied,
                state,
                old,
                times,
            }))
        })
        .await
    }

    /// Writes prepared pushes, each document atomic on its own; queued together, they
    /// usually share one commit.
    pub async fn commit_push(
        &self,
        user_id: Option<i64>,
        batch: Vec<Prepared>,
    ) -> Result<Vec<Committed>, DbError> {
        // A job per document: its savepoint makes it atomic on its own, and it keeps the
        // savepoint's journal to one document's pages (SQLite truncates an in-memory
        // journal by walking it, at every statement).
        let jobs: Vec<_> = batch
            .into_iter()
            .map(|p| move |c: &Connection| commit_one(c, user_id, p))
            .collect();
        self.write_each(jobs).await.into_iter().collect()
    }

    /// One page of everything in scope that changed after `cursor`, in commit order;
    /// `resume` continues a pull that answered `more`.
    pub async fn pull(
        &self,
        principal: Principal,
        cursor: Option<u64>,
        resume: Option<u64>,
        limit: usize,
    ) -> Result<PullPage, DbError> {
        self.read(move |c| {
            // One read transaction: the page and the cursor come from the same snapshot.
            c.execute_batch("BEGIN")?;
            let page = pull_page(c, &principal, cursor, resume, limit);
            c.execute_batch("COMMIT")?;
            page
        })
        .await
    }

    /// Saved documents of the named records the caller may see, up to about [`PAGE_BYTES`]
    /// in all, and the ids left for another request past that.
    pub async fn want(
        &self,
        principal: Principal,
        ids: Vec<String>,
    ) -> Result<(Vec<PullItem>, Vec<String>), DbError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT state, grid, sector, department FROM docs WHERE id = ?1")?;
            let mut items = Vec::new();
            let mut bytes = 0usize;
            let mut ids = ids.into_iter();
            for id in ids.by_ref() {
                let row: Option<(Vec<u8>, String, [Option<String>; 2])> = stmt
                    .query_row([&id], |r| {
                        Ok((r.get(0)?, r.get(1)?, [r.get(2)?, r.get(3)?]))
                    })
                    .optional()?;
                if let Some((state, grid, [sector, department])) = row {
                    let pos = haitang_sync::scope::Position {
                        grid: &grid,
                        sector: sector.as_deref(),
                        department: department.as_deref(),
                    };
                    if principal.can_see(pos) {
                        bytes += state.len();
                        items.push(PullItem::Snapshot {
                            doc: id,
                            snapshot: state,
                        });
                    }
                }
                if bytes > PAGE_BYTES {
                    break;
                }
            }
            Ok((items, ids.collect()))
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

/// Why the escalation job looks at a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neglect {
    /// Reported and not accepted for too long.
    Unaccepted,
    /// Past its handling deadline and not urged yet.
    Overdue,
}

impl Db {
    /// Records the escalation job should act on: open and unaccepted since before
    /// `unaccepted_before`, or past their deadline before `overdue_before` and not urged.
    pub async fn neglected(
        &self,
        unaccepted_before: i64,
        overdue_before: i64,
        limit: usize,
    ) -> Result<Vec<(String, Neglect)>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, status = 'reported' FROM docs \
                 WHERE (status = 'reported' AND level != 'district' AND updated_at < ?1) \
                    OR ({} AND due_at IS NOT NULL AND due_at < ?2 AND urged = 0) \
                 ORDER BY updated_at LIMIT ?3",
                status_in(workflow::DEADLINE_RUNS)
            ))?;
            let rows = stmt.query_map(
                params![unaccepted_before, overdue_before, limit as i64],
                |r| {
                    let unaccepted: bool = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        if unaccepted {
                            Neglect::Unaccepted
                        } else {
                            Neglect::Overdue
                        },
                    ))
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Escalates and urges one neglected record with the server's own actor. Returns the
    /// actions taken (none if the record moved on meanwhile).
    pub async fn escalate(
        &self,
        server_actor: ActorId,
        doc_id: String,
        why: Neglect,
        now: i64,
    ) -> Result<Vec<workflow::Action>, DbError> {
        let prepared = self
            .read(move |c| {
                let Some((seq, state)) = c
                    .prepare_cached("SELECT seq, state FROM docs WHERE id = ?1")?
                    .query_row([&doc_id], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                    })
                    .optional()?
                else {
                    return Ok(None);
                };
                let Some(doc) = load_stored(&state) else {
                    return Err(DbError::Corrupt(format!(
                        "stored document {doc_id} does not load; run `haitang records check`"
                    )));
                };
                let mut doc = doc.with_actor(server_actor.clone());
                let record = haitang_sync::record::read_record(&doc).map_err(|e| {
                    DbError::Corrupt(format!("stored record {doc_id} is invalid: {e}"))
                })?;
                let facts = workflow::Facts::of(&doc, &record, false);
                let mut actions = Vec::new();
                for action in [workflow::Action::Escalate, workflow::Action::Urge] {
                    // Escalate whenever the rules allow it; urge once.
                    let wanted = action != workflow::Action::Urge || !record.urged;
                    if wanted && workflow::check(workflow::Who::Server, &facts, action).is_ok() {
                        actions.push(action);
                    }
                }
                if actions.is_empty() {
                    return Ok(None);
                }
                let note = match why {
                    Neglect::Unaccepted => {
                        "超时未受理，系统自动升级督办 (not accepted in time: escalated and urged)"
                    }
                    Neglect::Overdue => {
                        "超过处置时限，系统自动督办 (past the handling deadline: urged)"
                    }
                };
                let mut tx = doc.transaction();
                for action in &actions {
                    // Each action sees the facts as the previous one left them.
                    let params = workflow::Params {
                        note: Some(note),
                        ..Default::default()
                    };
                    workflow::perform(&mut tx, &facts, *action, 0, now, &params)
                        .map_err(|e| DbError::Corrupt(format!("escalating {doc_id}: {e}")))?;
                }
                tx.commit();
                Ok(server_change(doc, doc_id, seq)?.map(|p| (p, actions)))
            })
            .await?;
        let Some((prepared, actions)) = prepared else {
            return Ok(Vec::new());
        };
        match self.commit_push(None, vec![prepared]).await?.pop() {
            Some(Committed::Ok { .. }) => Ok(actions),
            // Someone acted on the record meanwhile: the next run looks again.
            Some(Committed::Stale | Committed::Refused(_)) | None => Ok(Vec::new()),
        }
    }
}

/// What `haitang records repair` did to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Changes kept in the rebuilt record.
    pub kept: usize,
    /// Changes moved to `quarantined_changes`: (hash, why).
    pub dropped: Vec<(String, String)>,
}

impl Db {
    /// Ids of records whose saved state does not load, or loads to other heads than the
    /// ones stored beside it. Reads every record: an operator's check, not a hot path.
    pub async fn damaged_records(&self) -> Result<Vec<String>, DbError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, state, heads FROM docs ORDER BY key")?;
            let mut rows = stmt.query([])?;
            let mut damaged = Vec::new();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let state: Vec<u8> = row.get(1)?;
                let heads: String = row.get(2)?;
                let ok = load_stored(&state).is_some_and(|d| heads_text(&d.get_heads()) == heads);
                if !ok {
                    damaged.push(id);
                }
            }
            Ok(damaged)
        })
        .await
    }

    /// Rebuilds a damaged record from its change log: each change, in the order the server
    /// took them, is kept if it applies and the record still saves and loads back with it;
    /// a change that does not, and every change that depends on it, moves to
    /// `quarantined_changes`. The server then adds an empty change of its own, so every
    /// phone in scope pulls the rebuilt record as a whole. `None` if there is no such record.
    pub async fn repair_record(
        &self,
        server_actor: ActorId,
        doc_id: String,
    ) -> Result<Option<Repair>, DbError> {
        let rebuilt = self
            .read(move |c| {
                let Some((key, seq)) = c
                    .prepare_cached("SELECT key, seq FROM docs WHERE id = ?1")?
                    .query_row([&doc_id], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                    })
                    .optional()?
                else {
                    return Ok(None);
                };
                let mut stmt =
                    c.prepare("SELECT seq, bytes FROM changes WHERE doc = ?1 ORDER BY seq")?;
                let log: Vec<(i64, Vec<u8>)> = stmt
                    .query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                let mut doc = Automerge::new();
                let mut kept = 0;
                let mut dropped = Vec::new();
                for (seq, bytes) in log {
                    let change = match automerge::Change::try_from(bytes.as_slice()) {
                        Ok(change) => change,
                        Err(e) => {
                            dropped.push((
                                seq,
                                format!("seq {seq}"),
                                format!("does not decode: {e}"),
                            ));
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
                let mut doc = doc.with_actor(server_actor.clone());
                doc.empty_commit(
                    automerge::transaction::CommitOptions::default().with_message(
                        "repaired: changes that left the record unreadable were set aside",
                    ),
                );
                Ok(server_change(doc, doc_id, seq)?.map(|p| (key, p, kept, dropped)))
            })
            .await?;
        let Some((key, prepared, kept, dropped)) = rebuilt else {
            return Ok(None);
        };
        let report = Repair {
            kept,
            dropped: dropped
                .iter()
                .map(|(_, hash, why)| (hash.clone(), why.clone()))
                .collect(),
        };
        let committed = self
            .write(move |c| {
                let now = now_ms();
                for (seq, _, why) in &dropped {
                    c.execute(
                        "INSERT INTO quarantined_changes(seq, doc, hash, actor, user_id, bytes, received_at, reason, quarantined_at) \
                         SELECT seq, doc, hash, actor, user_id, bytes, received_at, ?2, ?3 FROM changes WHERE seq = ?1",
                        params![seq, why, now],
                    )?;
                    c.execute("DELETE FROM changes WHERE seq = ?1", [seq])?;
                }
                let outcome = commit_one(c, None, prepared)?;
                if matches!(outcome, Committed::Ok { .. }) {
                    // Everyone gets the rebuilt record whole, whatever their cursor.
                    c.execute(
                        "UPDATE docs SET moved_seq = seq, change_count = (SELECT count(*) FROM changes WHERE doc = ?1) WHERE key = ?1",
                        [key],
                    )?;
                    Ok(true)
                } else {
                    // Stale: rolled back with the savepoint by the error below.
                    Err(DbError::Corrupt(
                        "the record changed while it was being rebuilt; run the repair again".into(),
                    ))
                }
            })
            .await?;
        debug_assert!(committed);
        Ok(Some(report))
    }
}

/// The server's own last change to a stored record (the escalation job's, a repair's), made
/// ready for the writer like a push; `seq` is the stored document's. The server is trusted,
/// so only the schema is checked. `None` if it made no change.
fn server_change(doc: Automerge, doc_id: String, seq: i64) -> Result<Option<Prepared>, DbError> {
    let Some(change) = doc.get_last_local_change() else {
        return Ok(None);
    };
    let new_change = haitang_sync::ingest::NewChange {
        hash: change.hash(),
        bytes: change.raw_bytes().to_vec(),
        actor: change.actor_id().clone(),
    };
    let record = haitang_sync::record::read_record(&doc)
        .map_err(|e| DbError::Corrupt(format!("record {doc_id} would be invalid: {e}")))?;
    let (applied, state, times) = Outcome::of(Applied {
        state: doc.save_nocompress(),
        heads: doc.get_heads(),
        new_changes: vec![new_change],
        new_actors: Vec::new(),
        record,
        doc,
    });
    Ok(Some(Prepared {
        doc_id,
        base_seq: Some(seq),
        applied,
        state,
        old: None,
        times,
    }))
}

/// A stored document, loaded; `None` when it does not load (a record damaged before
/// ingest checked that every push loads back). Automerge may panic on such bytes.
pub(crate) fn load_stored(state: &[u8]) -> Option<Automerge> {
    std::panic::catch_unwind(|| Automerge::load(state).ok())
        .ok()
        .flatten()
}

pub(crate) fn damaged(doc_id: &str) -> Refusal {
    Refusal {
        code: RefusalCode::Damaged,
        message: format!(
            "the server's copy of record {doc_id} is damaged and takes no changes until an administrator repairs it; keep your copy, nothing of yours is lost"
        ),
    }
}

/// The sans-IO check knows paths only by their shape; this one asks the org tree whether
/// the grid, sector and department a record names exist and fit together.
fn position_problem(c: &Connection, r: &Record) -> Result<Option<String>, DbError> {
    let kind_of = |path: &str| -> Result<Option<String>, DbError> {
        Ok(c.prepare_cached("SELECT kind FROM units WHERE path = ?1")?
            .query_row([path], |row| row.get(0))
            .optional()?)
    };
    if kind_of(&r.grid)?.as_deref() != Some("grid") {
        return Ok(Some(format!(
            "field `grid`: `{}` is not a grid of the org tree",
            r.grid
        )));
    }
    if let Some(sector) = &r.sector
        && (kind_of(sector)?.as_deref() != Some("sector")
            || haitang_sync::scope::parent_path(sector) != Some(r.grid.as_str()))
    {
        return Ok(Some(format!(
            "field `sector`: `{sector}` is not a sector of grid `{}`",
            r.grid
        )));
    }
    if let Some(department) = &r.department
        && super::org::department_by_key(c, department)?.is_none()
    {
        return Ok(Some(format!(
            "field `department`: no department `{department}`"
        )));
    }
    Ok(None)
}

/// A record is assigned only to an active grid staff member of its own grid: the one
/// person who can then start and report back on it (`workflow::is_handler`).
fn assignee_problem(c: &Connection, user: i64, r: &Record) -> Result<Option<String>, DbError> {
    let found: Option<(String, String, bool)> = c
        .prepare_cached(
            "SELECT u.role, n.path, u.active FROM users u JOIN units n ON n.id = u.unit_id WHERE u.id = ?1",
        )?
        .query_row([user], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    Ok(match found {
        Some((role, unit, true))
            if role == haitang_sync::scope::Role::GridStaff.as_str() && unit == r.grid =>
        {
            None
        }
        _ => Some(format!(
            "assign names user {user}, who is not an active grid staff member of grid {}",
            r.grid
        )),
    })
}

/// `user_id` is the pushing user, or `None` for the server's own changes.
fn commit_one(c: &Connection, user_id: Option<i64>, p: Prepared) -> Result<Committed, DbError> {
    let stored: Option<(i64, i64)> = c
        .prepare_cached("SELECT key, seq FROM docs WHERE id = ?1")?
        .query_row([&p.doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if stored.map(|(_, seq)| seq) != p.base_seq {
        return Ok(Committed::Stale);
    }
    if p.applied.new_changes.is_empty() {
        return Ok(Committed::Ok {
            heads: p.applied.heads,
        });
    }
    // An actor someone else bound meanwhile is foreign; checked before anything is written.
    let mut actors: Vec<&ActorId> = p.applied.new_changes.iter().map(|c| &c.actor).collect();
    actors.sort();
    actors.dedup();
    for actor in &actors {
        let owner: Option<Option<i64>> = c
            .prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?
            .query_row([actor.to_bytes()], |r| r.get(0))
            .optional()?;
        // The server's actor is bound to no user; nobody else may ever use it.
        if owner.is_some_and(|owner| owner != user_id) {
            let change = p
                .applied
                .new_changes
                .iter()
                .find(|c| &c.actor == *actor)
                .map_or(String::new(), |c| c.hash.to_string());
            return Ok(Committed::Refused(Refusal {
                code: RefusalCode::ForeignActor,
                message: format!(
                    "change {change} was made by actor {actor} which belongs to another user"
                ),
            }));
        }
    }
    for actor in actors {
        c.prepare_cached(
            "INSERT INTO actors(actor, user_id, first_seen) VALUES (?1, ?2, ?3) ON CONFLICT(actor) DO NOTHING",
        )?
        .execute(params![actor.to_bytes(), user_id, now_ms()])?;
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
    let new_count = p.applied.new_changes.len() as i64;
    let last_seq = first_seq + new_count - 1;
    let now = now_ms();
    let r = &p.applied.record;
    let new_pos = Position::of(r);
    let moved = p.old.as_ref().is_some_and(|old| *old != new_pos);
    let (lat, lng, acc) = match &r.location {
        Some(l) => (Some(l.lat), Some(l.lng), l.accuracy_m),
        None => (None, None, None),
    };
    let key: i64 = c.prepare_cached(
        "INSERT INTO docs(id, seq, created_seq, moved_seq, state, heads, change_count, kind, grid, sector, department, \
           category, status, urgency, title, reported_by, reported_at, updated_at, lat, lng, accuracy_m, \
           level, assignee, due_at, urged, duplicate_of, conflict, accepted_at, closed_at, ever_returned) \
         VALUES (?1, ?2, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
           ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29) \
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, \
           moved_seq = CASE WHEN ?20 THEN excluded.seq ELSE docs.moved_seq END, \
           state = excluded.state, heads = excluded.heads, change_count = docs.change_count + excluded.change_count, \
           grid = excluded.grid, sector = excluded.sector, department = excluded.department, \
           category = excluded.category, status = excluded.status, urgency = excluded.urgency, \
           title = excluded.title, updated_at = excluded.updated_at, lat = excluded.lat, \
           lng = excluded.lng, accuracy_m = excluded.accuracy_m, level = excluded.level, \
           assignee = excluded.assignee, due_at = excluded.due_at, urged = excluded.urged, \
           duplicate_of = excluded.duplicate_of, conflict = excluded.conflict, \
           accepted_at = excluded.accepted_at, closed_at = excluded.closed_at, \
           ever_returned = excluded.ever_returned \
         RETURNING key",
    )?
    .query_row(params![
        p.doc_id,
        last_seq,
        p.state,
        heads_text(&p.applied.heads),
        new_count,
        r.kind.as_str(),
        r.grid,
        r.sector,
        r.department,
        r.category,
        r.status.as_str(),
        r.urgency.as_str(),
        r.title,
        r.reported_by,
        r.reported_at,
        now,
        lat,
        lng,
        acc,
        moved,
        r.level.as_str(),
        r.assignee,
        r.due_at,
        r.urged,
        r.duplicate_of,
        r.conflict,
        p.times.accepted_at,
        p.times.closed_at,
        p.times.ever_returned,
    ], |row| row.get(0))?;
    debug_assert!(stored.is_none_or(|(k, _)| k == key));
    let mut insert = c.prepare_cached(
        "INSERT INTO changes(seq, doc, hash, actor, user_id, bytes, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (seq, change) in (first_seq..).zip(&p.applied.new_changes) {
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
    // The photo references of the record's current state; a blob may not be uploaded yet.
    c.prepare_cached("DELETE FROM blob_refs WHERE doc = ?1")?
        .execute([key])?;
    for sha in &r.attachments {
        c.prepare_cached(
            "INSERT INTO blob_refs(sha256, doc) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![sha, key])?;
    }
    if let (true, Some(old)) = (moved, &p.old) {
        c.prepare_cached(
            "INSERT INTO doc_moves(seq, doc, old_grid, old_sector, old_department) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![last_seq, key, old.grid, old.sector, old.department])?;
    }
    Ok(Committed::Ok {
        heads: p.applied.heads,
    })
}

enum Entry {
    Doc {
        key: i64,
        id: String,
        seq: i64,
        fresh: bool,
        state: Vec<u8>,
    },
    Move {
        id: String,
        seq: i64,
        now_visible: bool,
    },
}

impl Entry {
    fn seq(&self) -> i64 {
        match self {
            Entry::Doc { seq, .. } | Entry::Move { seq, .. } => *seq,
        }
    }
}

/// Documents come in the order of their latest change. A document edited again while a
/// pull pages through its scope therefore moves to a later page, so what the phone lacks is
/// judged against `since`, where the whole pull started, never against the page position
/// `after`: a phone at `since` has every change up to `since` and nothing after it.
fn pull_page(
    c: &Connection,
    principal: &Principal,
    cursor: Option<u64>,
    resume: Option<u64>,
    limit: usize,
) -> Result<PullPage, DbError> {
    let since = cursor.unwrap_or(0) as i64;
    let after = resume.map_or(since, |r| (r as i64).max(since));
    let scope = principal.scope();
    let fetch = limit as i64 + 1;
    let mut entries = Vec::new();

    let (clause, param) = scope_sql(&scope, "");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT key, id, seq, created_seq, moved_seq, state FROM docs WHERE {clause} AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![param, after, fetch], |r| {
        let created: i64 = r.get(3)?;
        let moved: i64 = r.get(4)?;
        Ok(Entry::Doc {
            key: r.get(0)?,
            id: r.get(1)?,
            seq: r.get(2)?,
            // A client at this cursor cannot have the document if it was made or moved
            // into view since: it gets it whole.
            fresh: cursor.is_none() || created > since || moved > since,
            state: r.get(5)?,
        })
    })?;
    for row in rows {
        entries.push(row?);
    }

    let (clause, param) = scope_sql(&scope, "m.old_");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT d.id, m.seq, d.grid, d.sector, d.department FROM doc_moves m JOIN docs d ON d.key = m.doc \
         WHERE {clause} AND m.seq > ?2 ORDER BY m.seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![param, after, fetch], |r| {
        let grid: String = r.get(2)?;
        let sector: Option<String> = r.get(3)?;
        let department: Option<String> = r.get(4)?;
        let now_visible = scope.contains(haitang_sync::scope::Position {
            grid: &grid,
            sector: sector.as_deref(),
            department: department.as_deref(),
        });
        Ok(Entry::Move {
            id: r.get(0)?,
            seq: r.get(1)?,
            now_visible,
        })
    })?;
    for row in rows {
        entries.push(row?);
    }
    entries.sort_by_key(Entry::seq);

    let mut more = entries.len() > limit;
    entries.truncate(limit);
    let mut items = Vec::with_capacity(entries.len());
    let mut bytes = 0usize;
    let mut last = after;
    let mut changes_stmt = c.prepare_cached(
        "SELECT bytes FROM changes WHERE doc = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    for entry in entries {
        if bytes > PAGE_BYTES {
            more = true;
            break;
        }
        last = entry.seq();
        match entry {
            Entry::Doc {
                key,
                id,
                fresh,
                state,
                ..
            } => {
                let changes: Vec<Vec<u8>> = if fresh {
                    Vec::new()
                } else {
                    changes_stmt
                        .query_map(
                            params![key, since, SNAPSHOT_AFTER_CHANGES as i64 + 1],
                            |r| r.get(0),
                        )?
                        .collect::<Result<_, _>>()?
                };
                if fresh || changes.len() > SNAPSHOT_AFTER_CHANGES {
                    bytes += state.len();
                    items.push(PullItem::Snapshot {
                        doc: id,
                        snapshot: state,
                    });
                } else {
                    bytes += changes.iter().map(Vec::len).sum::<usize>();
                    items.push(PullItem::Changes {
                        doc: id,
                        changes: changes.into_iter().map(ByteBuf::from).collect(),
                    });
                }
            }
            Entry::Move {
                id, now_visible, ..
            } => {
                if !now_visible {
                    items.push(PullItem::evict(id));
                }
            }
        }
    }
    if more {
        return Ok(PullPage {
            items,
            cursor: since as u64,
            more,
            resume: Some(last as u64),
        });
    }
    // The pull is complete: the phone has everything in scope up to the newest change in
    // this snapshot, in scope or not, so the next pull starts there.
    let max: Option<i64> = c.query_row("SELECT max(seq) FROM changes", [], |r| r.get(0))?;
    Ok(PullPage {
        items,
        cursor: max.unwrap_or(0).max(last) as u64,
        more,
        resume: None,
    })
}

/// Which inbox bucket to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Everything in scope that matches the filters.
    All,
    /// Reported and waiting at the caller's level.
    New,
    /// Escalated to the caller's level and still open.
    Escalated,
    /// Reported back and waiting for the caller to verify.
    AwaitingVerification,
    /// Past the handling deadline and still open.
    Overdue,
    /// Concurrent actions left different statuses.
    Conflicting,
    /// Dispatched to the caller (handlers, assigned grid staff) and not yet reported back.
    Mine,
}

impl Bucket {
    pub const COUNTED: [Bucket; 6] = [
        Bucket::New,
        Bucket::Escalated,
        Bucket::AwaitingVerification,
        Bucket::Overdue,
        Bucket::Conflicting,
        Bucket::Mine,
    ];
}

/// Filters of an inbox query; every one optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    pub bucket: Option<Bucket>,
    pub level: Option<String>,
    /// A grid path, or any unit path: records under it.
    pub under: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub urgency: Option<String>,
    pub kind: Option<String>,
    /// Reported at or after (ms).
    pub from: Option<i64>,
    /// Reported before (ms).
    pub to: Option<i64>,
    /// Words in the title.
    pub q: Option<String>,
    /// `reported_at` (newest first, the default), `due_at` (soonest first) or `updated_at`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub level: String,
    pub urgency: String,
    pub grid: String,
    pub sector: Option<String>,
    pub department: Option<String>,
    pub assignee: Option<i64>,
    pub reported_by: i64,
    pub reported_at: i64,
    pub updated_at: i64,
    pub due_at: Option<i64>,
    pub overdue: bool,
    pub urged: bool,
    pub conflict: bool,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CasePage {
    pub total: i64,
    pub items: Vec<CaseSummary>,
    /// How many records each bucket holds for the caller, whatever the filters.
    pub counts: std::collections::BTreeMap<&'static str, i64>,
}

/// `status IN (…)` for a set of statuses from the rule table, so the SQL never spells its
/// own copy of which statuses are open, running a deadline or with the handler.
fn status_in(set: &[haitang_sync::record::Status]) -> String {
    let names: Vec<String> = set.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("status IN ({})", names.join(","))
}

fn bucket_sql(
    bucket: Bucket,
    principal: &Principal,
    params: &mut Vec<rusqlite::types::Value>,
) -> String {
    use rusqlite::types::Value as V;
    let level = workflow::role_level(principal.role)
        .map(|l| l.as_str())
        .unwrap_or("");
    let mut with_level = |sql: &str| {
        params.push(V::Text(level.to_owned()));
        sql.replace("?L", &format!("?{}", params.len()))
    };
    match bucket {
        Bucket::All => "1".into(),
        Bucket::New => with_level("(status = 'reported' AND level = ?L)"),
        Bucket::Escalated => with_level(&format!(
            "(level = ?L AND level != 'community' AND {})",
            status_in(workflow::OPEN)
        )),
        Bucket::AwaitingVerification => with_level("(status = 'resolved' AND level = ?L)"),
        Bucket::Overdue => {
            params.push(V::Integer(now_ms()));
            format!(
                "(due_at IS NOT NULL AND due_at < ?{} AND {})",
                params.len(),
                status_in(workflow::DEADLINE_RUNS)
            )
        }
        Bucket::Conflicting => "(conflict = 1)".into(),
        Bucket::Mine => {
            params.push(V::Integer(principal.user_id));
            format!(
                "({} AND (assignee = ?{}",
                status_in(workflow::WITH_HANDLER),
                params.len()
            ) + &match &principal.department {
                Some(d) => {
                    params.push(V::Text(d.clone()));
                    format!(" OR department = ?{}))", params.len())
                }
                None => "))".into(),
            }
        }
    }
}

impl Db {
    /// One page of an inbox: records in the caller's scope in `query.bucket`, filtered,
    /// sorted and paged in SQL over the projection, with the count of every bucket.
    pub async fn cases(&self, principal: Principal, query: CaseQuery) -> Result<CasePage, DbError> {
        use rusqlite::types::Value as V;
        self.read(move |c| {
            let scope = principal.scope();
            let (scope_clause, scope_param) = scope_sql(&scope, "");
            // scope_sql numbers its parameter ?1; everything else follows it.
            let mut params: Vec<V> = vec![V::Text(scope_param)];
            let mut filters = vec![scope_clause];
            let push = |params: &mut Vec<V>, sql: &str, v: V| {
                params.push(v);
                sql.replace('?', &format!("?{}", params.len()))
            };
            if let Some(level) = &query.level {
                filters.push(push(&mut params, "level = ?", V::Text(level.clone())));
            }
            if let Some(under) = &query.under {
                params.push(V::Text(under.clone()));
                let n = params.len();
                filters.push(format!("(grid = ?{n} OR (grid >= ?{n} || '/' AND grid < ?{n} || '0'))"));
            }
            if let Some(v) = &query.category {
                // A class matches its subclasses too.
                params.push(V::Text(v.clone()));
                let n = params.len();
                filters.push(format!("(category = ?{n} OR category IN (SELECT code FROM categories WHERE parent = ?{n}))"));
            }
            for (col, v) in [("status", &query.status), ("urgency", &query.urgency), ("kind", &query.kind)] {
                if let Some(v) = v {
                    filters.push(push(&mut params, &format!("{col} = ?"), V::Text(v.clone())));
                }
            }
            if let Some(v) = query.from {
                filters.push(push(&mut params, "reported_at >= ?", V::Integer(v)));
            }
            if let Some(v) = query.to {
                filters.push(push(&mut params, "reported_at < ?", V::Integer(v)));
            }
            if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let escaped = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                filters.push(push(&mut params, "title LIKE ? ESCAPE '\\'", V::Text(format!("%{escaped}%"))));
            }
            let base_where = filters.join(" AND ");

            // Counts per bucket over the scope alone, so the tabs show what waits.
            let mut counts = std::collections::BTreeMap::new();
            for bucket in Bucket::COUNTED {
                let mut p = vec![params[0].clone()];
                let clause = bucket_sql(bucket, &principal, &mut p);
                let (scope_clause, _) = scope_sql(&scope, "");
                let n: i64 = c.query_row(
                    &format!("SELECT count(*) FROM docs WHERE {scope_clause} AND {clause}"),
                    rusqlite::params_from_iter(p.iter()),
                    |r| r.get(0),
                )?;
                let name = match bucket {
                    Bucket::New => "new",
                    Bucket::Escalated => "escalated",
                    Bucket::AwaitingVerification => "awaiting_verification",
                    Bucket::Overdue => "overdue",
                    Bucket::Conflicting => "conflicting",
                    Bucket::Mine => "mine",
                    Bucket::All => "all",
                };
                counts.insert(name, n);
            }

            let bucket_clause = bucket_sql(query.bucket.unwrap_or(Bucket::All), &principal, &mut params);
            let where_sql = format!("{base_where} AND {bucket_clause}");
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM docs WHERE {where_sql}"),
                rusqlite::params_from_iter(params.iter()),
                |r| r.get(0),
            )?;
            let order = match query.sort.as_deref() {
                Some("due_at") => "due_at IS NULL, due_at ASC, reported_at DESC",
                Some("updated_at") => "updated_at DESC",
                _ => "reported_at DESC",
            };
            let limit = query.limit.unwrap_or(50).clamp(1, 500);
            let offset = query.offset.unwrap_or(0);
            params.push(V::Integer(now_ms()));
            let now_n = params.len();
            let running = status_in(workflow::DEADLINE_RUNS);
            let sql = format!(
                "SELECT id, kind, title, category, status, level, urgency, grid, sector, department, assignee, \
                 reported_by, reported_at, updated_at, due_at, \
                 (due_at IS NOT NULL AND due_at < ?{now_n} AND {running}), \
                 urged, conflict, lat, lng \
                 FROM docs WHERE {where_sql} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            );
            let mut stmt = c.prepare(&sql)?;
            let items = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    Ok(CaseSummary {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        title: r.get(2)?,
                        category: r.get(3)?,
                        status: r.get(4)?,
                        level: r.get(5)?,
                        urgency: r.get(6)?,
                        grid: r.get(7)?,
                        sector: r.get(8)?,
                        department: r.get(9)?,
                        assignee: r.get(10)?,
                        reported_by: r.get(11)?,
                        reported_at: r.get(12)?,
                        updated_at: r.get(13)?,
                        due_at: r.get(14)?,
                        overdue: r.get(15)?,
                        urged: r.get(16)?,
                        conflict: r.get(17)?,
                        lat: r.get(18)?,
                        lng: r.get(19)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(CasePage { total, items, counts })
        })
        .await
    }
}

/// The rates the districts are judged on, for the caller's scope.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    pub reported: i64,
    pub open: i64,
    pub overdue: i64,
    pub closed: i64,
    /// Rectified (resolved or closed, not as a duplicate) ÷ patrol events that needed it.
    pub rectification_rate: Option<f64>,
    /// Closed ÷ cases due to be closed (closed, or past their deadline).
    pub closure_rate: Option<f64>,
    /// Closed by the deadline ÷ cases due to be closed.
    pub on_time_closure_rate: Option<f64>,
    /// Mean hours from report to close.
    pub average_completion_hours: Option<f64>,
    /// Returned at least once ÷ closed.
    pub rework_rate: Option<f64>,
}

impl Db {
    /// Rates over records in scope reported in `[from, to)` (ms; either may be open).
    pub async fn rates(
        &self,
        principal: Principal,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Rates, DbError> {
        self.read(move |c| {
            let (clause, param) = scope_sql(&principal.scope(), "");
            let now = now_ms();
            let (open, running) = (
                status_in(workflow::OPEN),
                status_in(workflow::DEADLINE_RUNS),
            );
            let sql = format!(
                "SELECT count(*), \
                   coalesce(sum({open}), 0), \
                   coalesce(sum(due_at IS NOT NULL AND due_at < ?2 AND {running}), 0), \
                   coalesce(sum(status = 'closed'), 0), \
                   coalesce(sum(kind = 'event' AND status NOT IN ('withdrawn') AND duplicate_of IS NULL), 0), \
                   coalesce(sum(kind = 'event' AND status IN ('resolved','closed') AND duplicate_of IS NULL), 0), \
                   coalesce(sum(status = 'closed' OR (due_at IS NOT NULL AND due_at < ?2 AND status NOT IN ('withdrawn'))), 0), \
                   coalesce(sum(status = 'closed' AND (due_at IS NULL OR closed_at <= due_at)), 0), \
                   avg(CASE WHEN status = 'closed' AND closed_at IS NOT NULL THEN (closed_at - reported_at) / 3600000.0 END), \
                   coalesce(sum(status = 'closed' AND ever_returned = 1), 0) \
                 FROM docs WHERE {clause} AND reported_at >= ?3 AND reported_at < ?4"
            );
            let row = c.query_row(
                &sql,
                params![param, now, from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<f64>>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                },
            )?;
            let (reported, open, overdue, closed, needing, rectified, due, on_time, avg_hours, reworked) = row;
            let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
            Ok(Rates {
                reported,
                open,
                overdue,
                closed,
                rectification_rate: ratio(rectified, needing),
                closure_rate: ratio(closed, due),
                on_time_closure_rate: ratio(on_time, due),
                average_completion_hours: avg_hours,
                rework_rate: ratio(reworked, closed),
            })
        })
        .await
    }
}
