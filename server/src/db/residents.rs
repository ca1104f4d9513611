//! Residents' personal information (`residents`, `resident_tags`) and the log of every look
//! at it (`access_log`). Never in a document: these rows are replaced on correction and
//! blanked on erasure, and the writer's `secure_delete` zeroes what they held from the
//! pages. A person's position (and so who may see them) is their household's, through
//! `members`.

use super::scope::scope_sql;
use super::{Db, DbError, households, now_ms};
use haitang_sync::personal::Gender;
use haitang_sync::scope::{Position, Principal};
use rusqlite::{Connection, OptionalExtension, params};

/// One person as stored, with their household's position and the care plan's dates.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentRow {
    pub pid: String,
    pub household: String,
    pub grid: String,
    pub sector: Option<String>,
    pub relation: String,
    pub status: String,
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_year: Option<i64>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub id_hash: Option<Vec<u8>>,
    pub tags: Vec<String>,
    pub erased: bool,
    pub interval_days: Option<i64>,
    pub last_visit_at: Option<i64>,
    pub due_at: Option<i64>,
}

/// A change to one person's personal fields, already validated and normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResidentEdit {
    pub pid: String,
    pub name: Option<String>,
    pub gender: Option<Option<Gender>>,
    pub birth_year: Option<Option<i64>>,
    pub phone: Option<Option<String>>,
    /// The clear number and its keyed hash.
    pub id_number: Option<Option<(String, Vec<u8>)>>,
    pub tags_add: Vec<String>,
    pub tags_remove: Vec<String>,
}

/// Why one edit was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditProblem {
    /// No household in the caller's scope lists the person.
    OutOfScope,
    Erased,
    /// The ID number is registered for this other person.
    DuplicateId(String),
    UnknownTag(String),
}

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub at: i64,
    pub user_id: i64,
    pub role: String,
    pub action: String,
    pub pid: Option<String>,
    pub fields: String,
    pub reason: String,
    /// `server`, or `phone` for a reveal made offline and uploaded.
    pub via: String,
    pub client: Option<String>,
}

/// An access-log entry with who made it, as administrators read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    pub id: i64,
    pub access: Access,
    pub user_name: String,
    pub logged_at: i64,
}

pub(super) const SELECT: &str = "SELECT m.pid, d.id, m.grid, m.sector, m.relation, m.status, r.name, r.gender, \
    r.birth_year, r.phone, r.id_number, r.id_hash, r.erased_at IS NOT NULL, m.interval_days, \
    m.last_visit_at, m.due_at, \
    (SELECT group_concat(tag) FROM resident_tags t WHERE t.pid = m.pid) \
    FROM members m JOIN docs d ON d.key = m.household LEFT JOIN residents r ON r.pid = m.pid";

pub(super) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ResidentRow> {
    let tags: Option<String> = r.get(16)?;
    Ok(ResidentRow {
        pid: r.get(0)?,
        household: r.get(1)?,
        grid: r.get(2)?,
        sector: r.get(3)?,
        relation: r.get(4)?,
        status: r.get(5)?,
        name: r.get(6)?,
        gender: r.get(7)?,
        birth_year: r.get(8)?,
        phone: r.get(9)?,
        id_number: r.get(10)?,
        id_hash: r.get(11)?,
        erased: r.get::<_, Option<bool>>(12)?.unwrap_or(false),
        interval_days: r.get(13)?,
        last_visit_at: r.get(14)?,
        due_at: r.get(15)?,
        tags: tags
            .map(|t| {
                let mut v: Vec<String> = t.split(',').map(str::to_owned).collect();
                v.sort();
                v
            })
            .unwrap_or_default(),
    })
}

fn visible(principal: &Principal, grid: &str, sector: Option<&str>) -> bool {
    principal.can_see(Position {
        grid,
        sector,
        department: None,
    })
}

impl Db {
    /// Everyone the households in `principal`'s scope list, in household then pid order.
    /// Callers must not ask for department handlers (they see no residents).
    pub async fn residents_in_scope(
        &self,
        principal: Principal,
    ) -> Result<Vec<ResidentRow>, DbError> {
        self.read(move |c| {
            let (clause, param) = scope_sql(&principal.scope(), "m.");
            let mut stmt =
                c.prepare_cached(&format!("{SELECT} WHERE {clause} ORDER BY d.id, m.pid"))?;
            let rows = stmt.query_map([param], row)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// A validator for the residents in `principal`'s scope: changes whenever any of them
    /// might have (the latest `rev` and a count), without reading them.
    pub async fn residents_version(&self, principal: Principal) -> Result<String, DbError> {
        self.read(move |c| {
            let (clause, param) = scope_sql(&principal.scope(), "m.");
            let (count, rev, members): (i64, Option<i64>, Option<i64>) = c
                .prepare_cached(&format!(
                    "SELECT count(*), max(r.rev), max(d.seq) FROM members m \
                     JOIN docs d ON d.key = m.household LEFT JOIN residents r ON r.pid = m.pid \
                     WHERE {clause}"
                ))?
                .query_row([param], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(format!(
                "{count}-{}-{}",
                rev.unwrap_or(0),
                members.unwrap_or(0)
            ))
        })
        .await
    }

    /// One person, if a household in `principal`'s scope lists them.
    pub async fn resident(
        &self,
        principal: Principal,
        pid: String,
    ) -> Result<Option<ResidentRow>, DbError> {
        self.read(move |c| {
            let found = c
                .prepare_cached(&format!("{SELECT} WHERE m.pid = ?1"))?
                .query_row([&pid], row)
                .optional()?;
            Ok(found.filter(|r| visible(&principal, &r.grid, r.sector.as_deref())))
        })
        .await
    }

    /// The person whose ID number has this keyed hash, if in scope.
    pub async fn resident_by_id_hash(
        &self,
        principal: Principal,
        hash: Vec<u8>,
    ) -> Result<Option<ResidentRow>, DbError> {
        self.read(move |c| {
            let found = c
                .prepare_cached(&format!("{SELECT} WHERE r.id_hash = ?1"))?
                .query_row([&hash], row)
                .optional()?;
            Ok(found.filter(|r| visible(&principal, &r.grid, r.sector.as_deref())))
        })
        .await
    }

    /// Stores each edit on its own (one refused does not hold back the others), all in one
    /// transaction: the result per edit, in order.
    pub async fn edit_residents(
        &self,
        principal: Principal,
        edits: Vec<ResidentEdit>,
    ) -> Result<Vec<Result<(), EditProblem>>, DbError> {
        self.write(move |c| {
            let now = now_ms();
            edits
                .iter()
                .map(|e| edit_one(c, &principal, e, now))
                .collect()
        })
        .await
    }

    /// Blanks every personal field of `pid` and drops their care tags, and logs it in the
    /// same transaction. The person stays in their household's document under their pid,
    /// so records and visits that name them keep their history. `false` if not in scope.
    pub async fn erase_resident(
        &self,
        principal: Principal,
        pid: String,
        access: Access,
    ) -> Result<bool, DbError> {
        self.write(move |c| {
            let place: Option<(String, Option<String>)> = c
                .prepare_cached("SELECT grid, sector FROM members WHERE pid = ?1")?
                .query_row([&pid], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((grid, sector)) = place.filter(|(g, s)| visible(&principal, g, s.as_deref()))
            else {
                return Ok(false);
            };
            let _ = (grid, sector);
            let now = now_ms();
            c.prepare_cached("DELETE FROM resident_tags WHERE pid = ?1")?
                .execute([&pid])?;
            c.prepare_cached(
                "INSERT INTO residents(pid, updated_at, updated_by, rev) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(pid) DO NOTHING",
            )?
            .execute(params![pid, now, principal.user_id, next_rev(c)?])?;
            c.prepare_cached(
                "UPDATE residents SET name = NULL, gender = NULL, birth_year = NULL, phone = NULL, \
                 id_number = NULL, id_hash = NULL, erased_at = ?2, updated_at = ?2, updated_by = ?3, \
                 rev = ?4 WHERE pid = ?1",
            )?
            .execute(params![pid, now, principal.user_id, next_rev(c)?])?;
            households::refresh(c, &[pid.as_str()])?;
            insert_access(c, &access, now)?;
            Ok(true)
        })
        .await
    }

    pub async fn log_access(&self, entries: Vec<Access>) -> Result<(), DbError> {
        self.write(move |c| {
            let now = now_ms();
            for a in &entries {
                insert_access(c, a, now)?;
            }
            Ok(())
        })
        .await
    }

    /// The access log between `from` and `to` (ms, `to` exclusive), newest first, at most
    /// `limit` entries; `pid` narrows it to one person.
    pub async fn access_log(
        &self,
        from: i64,
        to: i64,
        pid: Option<String>,
        limit: i64,
    ) -> Result<Vec<AccessRow>, DbError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.id, a.at, a.user_id, a.role, a.action, a.pid, a.fields, a.reason, a.via, \
                   a.client, coalesce(u.name, ''), a.logged_at \
                 FROM access_log a LEFT JOIN users u ON u.id = a.user_id \
                 WHERE a.at >= ?1 AND a.at < ?2 AND (?3 IS NULL OR a.pid = ?3) \
                 ORDER BY a.at DESC, a.id DESC LIMIT ?4",
            )?;
            let rows = stmt
                .query_map(params![from, to, pid, limit], |r| {
                    Ok(AccessRow {
                        id: r.get(0)?,
                        access: Access {
                            at: r.get(1)?,
                            user_id: r.get(2)?,
                            role: r.get(3)?,
                            action: r.get(4)?,
                            pid: r.get(5)?,
                            fields: r.get(6)?,
                            reason: r.get(7)?,
                            via: r.get(8)?,
                            client: r.get(9)?,
                        },
                        user_name: r.get(10)?,
                        logged_at: r.get(11)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Care-tag codes and their default intervals, active ones.
    pub async fn care_tags(&self) -> Result<Vec<(String, String, String, Option<i64>)>, DbError> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT code, name_zh, name_en, interval_days FROM care_tags WHERE active = 1 ORDER BY rowid",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Adds the built-in care tags that are missing; never changes ones already there.
    pub async fn seed_care_tags(&self) -> Result<(), DbError> {
        self.write(|c| {
            let mut stmt = c.prepare_cached(
                "INSERT INTO care_tags(code, name_zh, name_en, interval_days) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(code) DO NOTHING",
            )?;
            for t in haitang_sync::care::TAGS {
                stmt.execute(params![t.code, t.name_zh, t.name_en, t.interval_days])?;
            }
            Ok(())
        })
        .await
    }
}

fn next_rev(c: &Connection) -> Result<i64, DbError> {
    Ok(
        c.prepare_cached("SELECT coalesce(max(rev), 0) + 1 FROM residents")?
            .query_row([], |r| r.get(0))?,
    )
}

fn insert_access(c: &Connection, a: &Access, now: i64) -> Result<(), DbError> {
    c.prepare_cached(
        "INSERT INTO access_log(at, user_id, role, action, pid, fields, reason, via, client, logged_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        a.at, a.user_id, a.role, a.action, a.pid, a.fields, a.reason, a.via, a.client, now
    ])?;
    Ok(())
}

fn edit_one(
    c: &Connection,
    principal: &Principal,
    e: &ResidentEdit,
    now: i64,
) -> Result<Result<(), EditProblem>, DbError> {
    c.execute_batch("SAVEPOINT resident_edit")?;
    let result = edit_inner(c, principal, e, now);
    match &result {
        Ok(Ok(())) => c.execute_batch("RELEASE resident_edit")?,
        _ => c.execute_batch("ROLLBACK TO resident_edit; RELEASE resident_edit")?,
    }
    result
}

fn edit_inner(
    c: &Connection,
    principal: &Principal,
    e: &ResidentEdit,
    now: i64,
) -> Result<Result<(), EditProblem>, DbError> {
    let place: Option<(String, Option<String>)> = c
        .prepare_cached("SELECT grid, sector FROM members WHERE pid = ?1")?
        .query_row([&e.pid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if !place.is_some_and(|(g, s)| visible(principal, &g, s.as_deref())) {
        return Ok(Err(EditProblem::OutOfScope));
    }
    let erased: Option<bool> = c
        .prepare_cached("SELECT erased_at IS NOT NULL FROM residents WHERE pid = ?1")?
        .query_row([&e.pid], |r| r.get(0))
        .optional()?;
    if erased == Some(true) {
        return Ok(Err(EditProblem::Erased));
    }
    if let Some(Some((_, hash))) = &e.id_number {
        let owner: Option<String> = c
            .prepare_cached("SELECT pid FROM residents WHERE id_hash = ?1")?
            .query_row([hash], |r| r.get(0))
            .optional()?;
        if let Some(owner) = owner.filter(|o| *o != e.pid) {
            return Ok(Err(EditProblem::DuplicateId(owner)));
        }
    }
    let rev = next_rev(c)?;
    c.prepare_cached(
        "INSERT INTO residents(pid, updated_at, updated_by, rev) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(pid) DO UPDATE SET updated_at = ?2, updated_by = ?3, rev = ?4",
    )?
    .execute(params![e.pid, now, principal.user_id, rev])?;
    if let Some(name) = &e.name {
        c.prepare_cached("UPDATE residents SET name = ?2 WHERE pid = ?1")?
            .execute(params![e.pid, name])?;
    }
    if let Some(gender) = &e.gender {
        c.prepare_cached("UPDATE residents SET gender = ?2 WHERE pid = ?1")?
            .execute(params![e.pid, gender.map(|g| g.as_str())])?;
    }
    if let Some(year) = &e.birth_year {
        c.prepare_cached("UPDATE residents SET birth_year = ?2 WHERE pid = ?1")?
            .execute(params![e.pid, year])?;
    }
    if let Some(phone) = &e.phone {
        c.prepare_cached("UPDATE residents SET phone = ?2 WHERE pid = ?1")?
            .execute(params![e.pid, phone])?;
    }
    if let Some(id) = &e.id_number {
        let (clear, hash) = match id {
            Some((clear, hash)) => (Some(clear.as_str()), Some(hash.as_slice())),
            None => (None, None),
        };
        c.prepare_cached("UPDATE residents SET id_number = ?2, id_hash = ?3 WHERE pid = ?1")?
            .execute(params![e.pid, clear, hash])?;
    }
    if !e.tags_add.is_empty() || !e.tags_remove.is_empty() {
        for tag in &e.tags_add {
            let known: bool = c
                .prepare_cached(
                    "SELECT count(*) > 0 FROM care_tags WHERE code = ?1 AND active = 1",
                )?
                .query_row([tag], |r| r.get(0))?;
            if !known {
                return Ok(Err(EditProblem::UnknownTag(tag.clone())));
            }
            c.prepare_cached("INSERT OR IGNORE INTO resident_tags(pid, tag) VALUES (?1, ?2)")?
                .execute(params![e.pid, tag])?;
        }
        for tag in &e.tags_remove {
            c.prepare_cached("DELETE FROM resident_tags WHERE pid = ?1 AND tag = ?2")?
                .execute(params![e.pid, tag])?;
        }
        households::refresh(c, &[e.pid.as_str()])?;
    }
    Ok(Ok(()))
}
