//! Record documents: the change log, each document's state and projection, actor bindings,
//! moves (for evictions), and the category catalogue.
//!
//! A push is prepared on a reader (load the saved document, apply the changes to it,
//! validate, save) so that Automerge's work runs in parallel across the reader pool. The
//! writer then only checks that nothing changed underneath (the document's `seq` is still
//! the one the work was based on, and every actor is still unbound or bound to the caller)
//! and writes. A stale preparation is redone; a lost race on an actor is a refusal.

use super::{Db, DbError, now_ms};
use automerge::{ActorId, Automerge, ChangeHash};
use haitang_sync::catalogue::SEED;
use haitang_sync::ingest::{Applied, PushContext, Refusal, RefusalCode, apply_push};
use haitang_sync::protocol::PullItem;
use haitang_sync::record::Record;
use haitang_sync::scope::{Principal, Scope};
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
    applied: Applied,
    state: Vec<u8>,
    old: Option<Position>,
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

fn category_exists(c: &Connection, code: &str) -> bool {
    c.prepare_cached("SELECT 1 FROM categories WHERE code = ?1 AND active = 1")
        .and_then(|mut s| s.exists([code]))
        .unwrap_or(false)
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
                Some((seq, state)) => {
                    let doc = Automerge::load(&state).map_err(|e| {
                        DbError::Corrupt(format!("stored document {doc_id} does not load: {e}"))
                    })?;
                    (Some(seq), Some(doc))
                }
                None => (None, None),
            };
            let old = match &current {
                Some(doc) => haitang_sync::record::read_record(doc)
                    .ok()
                    .map(|r| Position::of(&r)),
                None => None,
            };
            let owner = |a: &ActorId| actor_owner(c, a).flatten();
            let exists = |code: &str| category_exists(c, code);
            let ctx = PushContext {
                principal: &principal,
                actor_owner: &owner,
                category_exists: &exists,
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
            let state = if applied.new_changes.is_empty() {
                Vec::new()
            } else {
                applied.doc.save()
            };
            Ok(Ok(Prepared {
                doc_id,
                base_seq,
                applied,
                state,
                old,
            }))
        })
        .await
    }

    /// Writes prepared pushes in one transaction, each document atomic on its own.
    pub async fn commit_push(
        &self,
        user_id: i64,
        batch: Vec<Prepared>,
    ) -> Result<Vec<Committed>, DbError> {
        self.write(move |c| {
            let mut out = Vec::with_capacity(batch.len());
            for p in batch {
                c.execute_batch("SAVEPOINT doc")?;
                match commit_one(c, user_id, p) {
                    Ok(Committed::Ok { heads }) => {
                        c.execute_batch("RELEASE doc")?;
                        out.push(Committed::Ok { heads });
                    }
                    Ok(other) => {
                        c.execute_batch("ROLLBACK TO doc; RELEASE doc")?;
                        out.push(other);
                    }
                    Err(e) => {
                        c.execute_batch("ROLLBACK TO doc; RELEASE doc")?;
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
        .await
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

    /// Saved documents of the named records the caller may see.
    pub async fn want(
        &self,
        principal: Principal,
        ids: Vec<String>,
    ) -> Result<Vec<PullItem>, DbError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT state, grid, sector, department FROM docs WHERE id = ?1")?;
            let mut items = Vec::new();
            for id in ids {
                let row: Option<(Vec<u8>, String, Option<String>, Option<String>)> = stmt
                    .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()?;
                if let Some((state, grid, sector, department)) = row {
                    let pos = haitang_sync::scope::Position {
                        grid: &grid,
                        sector: sector.as_deref(),
                        department: department.as_deref(),
                    };
                    if principal.can_see(pos) {
                        items.push(PullItem::Snapshot {
                            doc: id,
                            snapshot: state,
                        });
                    }
                }
            }
            Ok(items)
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

fn commit_one(c: &Connection, user_id: i64, p: Prepared) -> Result<Committed, DbError> {
    let now_seq: Option<i64> = c
        .prepare_cached("SELECT seq FROM docs WHERE id = ?1")?
        .query_row([&p.doc_id], |r| r.get(0))
        .optional()?;
    if now_seq != p.base_seq {
        return Ok(Committed::Stale);
    }
    if p.applied.new_changes.is_empty() {
        return Ok(Committed::Ok {
            heads: p.applied.heads,
        });
    }
    // Bind new actors to the caller; an actor someone else bound meanwhile is foreign.
    for change in &p.applied.new_changes {
        let actor = change.actor.to_bytes();
        c.prepare_cached("INSERT INTO actors(actor, user_id, first_seen) VALUES (?1, ?2, ?3) ON CONFLICT(actor) DO NOTHING")?
            .execute(params![actor, user_id, now_ms()])?;
        let owner: Option<i64> = c
            .prepare_cached("SELECT user_id FROM actors WHERE actor = ?1")?
            .query_row([actor], |r| r.get(0))?;
        if owner != Some(user_id) {
            return Ok(Committed::Refused(Refusal {
                code: RefusalCode::ForeignActor,
                message: format!(
                    "change {} was made by actor {} which belongs to another user",
                    change.hash, change.actor
                ),
            }));
        }
    }
    let now = now_ms();
    let mut insert = c.prepare_cached(
        "INSERT INTO changes(doc_id, hash, actor, user_id, bytes, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut last_seq = 0;
    for change in &p.applied.new_changes {
        insert.execute(params![
            p.doc_id,
            change.hash.0.as_slice(),
            change.actor.to_bytes(),
            user_id,
            change.bytes,
            now
        ])?;
        last_seq = c.last_insert_rowid();
    }
    let r = &p.applied.record;
    let new_pos = Position::of(r);
    let moved = p.old.as_ref().is_some_and(|old| *old != new_pos);
    let (lat, lng, acc) = match &r.location {
        Some(l) => (Some(l.lat), Some(l.lng), l.accuracy_m),
        None => (None, None, None),
    };
    let new_count = p.applied.new_changes.len() as i64;
    c.prepare_cached(
        "INSERT INTO docs(id, seq, created_seq, moved_seq, state, heads, change_count, kind, grid, sector, department, \
           category, status, urgency, title, reported_by, reported_at, updated_at, lat, lng, accuracy_m) \
         VALUES (?1, ?2, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) \
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, \
           moved_seq = CASE WHEN ?20 THEN excluded.seq ELSE docs.moved_seq END, \
           state = excluded.state, heads = excluded.heads, change_count = docs.change_count + excluded.change_count, \
           grid = excluded.grid, sector = excluded.sector, department = excluded.department, \
           category = excluded.category, status = excluded.status, urgency = excluded.urgency, \
           title = excluded.title, updated_at = excluded.updated_at, lat = excluded.lat, \
           lng = excluded.lng, accuracy_m = excluded.accuracy_m",
    )?
    .execute(params![
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
    ])?;
    if let (true, Some(old)) = (moved, &p.old) {
        c.prepare_cached(
            "INSERT INTO doc_moves(seq, doc_id, old_grid, old_sector, old_department) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![last_seq, p.doc_id, old.grid, old.sector, old.department])?;
    }
    Ok(Committed::Ok {
        heads: p.applied.heads,
    })
}

enum Entry {
    Doc {
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
        "SELECT id, seq, created_seq, moved_seq, state FROM docs WHERE {clause} AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![param, after, fetch], |r| {
        let created: i64 = r.get(2)?;
        let moved: i64 = r.get(3)?;
        Ok(Entry::Doc {
            id: r.get(0)?,
            seq: r.get(1)?,
            // A client at this cursor cannot have the document if it was made or moved
            // into view since: it gets it whole.
            fresh: cursor.is_none() || created > since || moved > since,
            state: r.get(4)?,
        })
    })?;
    for row in rows {
        entries.push(row?);
    }

    let (clause, param) = scope_sql(&scope, "m.old_");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT m.doc_id, m.seq, d.grid, d.sector, d.department FROM doc_moves m JOIN docs d ON d.id = m.doc_id \
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
        "SELECT bytes FROM changes WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    for entry in entries {
        if bytes > PAGE_BYTES {
            more = true;
            break;
        }
        last = entry.seq();
        match entry {
            Entry::Doc {
                id, fresh, state, ..
            } => {
                let changes: Vec<Vec<u8>> = if fresh {
                    Vec::new()
                } else {
                    changes_stmt
                        .query_map(params![id, since, SNAPSHOT_AFTER_CHANGES as i64 + 1], |r| {
                            r.get(0)
                        })?
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
