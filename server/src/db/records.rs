//! The record projection's table, `records`: one row per record document, beside its
//! `docs` row, written in the same savepoint (`docs::commit_one`), with the record's photo
//! references (`blob_refs`). Inboxes, rates and the escalation job read it (`cases.rs`).

use super::DbError;
use crate::records::projection::Projection;
use rusqlite::{Connection, params};

/// The rows a case query reads: every record with its document's position. Only records
/// have a `records` row, so documents of other types never show up in a case query.
pub(super) const CASES: &str = "docs JOIN records ON records.doc = docs.key";

/// Writes the projection of the record whose `docs` key is `key`; `now` is its
/// `updated_at`.
pub(super) fn project(c: &Connection, key: i64, p: &Projection, now: i64) -> Result<(), DbError> {
    let (r, t) = (&p.record, &p.times);
    let (lat, lng, acc) = match &r.location {
        Some(l) => (Some(l.lat), Some(l.lng), l.accuracy_m),
        None => (None, None, None),
    };
    c.prepare_cached(
        "INSERT INTO records(doc, kind, category, status, urgency, title, reported_by, reported_at, \
           updated_at, lat, lng, accuracy_m, level, assignee, due_at, urged, duplicate_of, conflict, \
           accepted_at, closed_at, ever_returned, household) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) \
         ON CONFLICT(doc) DO UPDATE SET \
           category = excluded.category, status = excluded.status, urgency = excluded.urgency, \
           title = excluded.title, updated_at = excluded.updated_at, lat = excluded.lat, \
           lng = excluded.lng, accuracy_m = excluded.accuracy_m, level = excluded.level, \
           assignee = excluded.assignee, due_at = excluded.due_at, urged = excluded.urged, \
           duplicate_of = excluded.duplicate_of, conflict = excluded.conflict, \
           accepted_at = excluded.accepted_at, closed_at = excluded.closed_at, \
           ever_returned = excluded.ever_returned, household = excluded.household",
    )?
    .execute(params![
        key,
        r.kind.as_str(),
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
        r.level.as_str(),
        r.assignee,
        r.due_at,
        r.urged,
        r.duplicate_of,
        r.conflict,
        t.accepted_at,
        t.closed_at,
        t.ever_returned,
        r.household,
    ])?;
    if r.household.is_some() || !r.persons.is_empty() {
        super::households::project_visit(c, key, r.kind, r.household.as_deref(), &r.persons)?;
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
    Ok(())
}
